//! Support for the synthetic capture tests: RTP/RTCP and G.711 building blocks, link-layer
//! framing, pcap/pcapng writers, and running `jitterplay streams`/`play` on what they write.
#![allow(dead_code)]

pub mod calls;

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::*;
use etherparse::{IpFragOffset, IpNumber, Ipv4Header, PacketBuilder, UdpHeader};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
pub use pcap_file::{DataLink, TsResolution};
use serde_json::Value;

/// Wall-clock time of every capture's first record (real captures carry epoch timestamps, and
/// times must survive being that large).
pub const EPOCH: Duration = Duration::from_secs(1_700_000_000);

/// One nanosecond, in seconds and in milliseconds: the tolerance of every time these tests
/// check. Captures state times to the µs (pcap) or ns (pcapng with `if_tsresol` 9), so a
/// stream's times are exact up to float rounding, which is far below a nanosecond here.
pub const NS_IN_S: f64 = 1e-9;
pub const NS_IN_MS: f64 = 1e-6;

/// Samples (and RTP clock ticks) in 20 ms of 8 kHz audio.
pub const G711_FRAME: usize = 160;

// ---------------------------------------------------------------------------------------------
// RTP, RTCP and G.711
// ---------------------------------------------------------------------------------------------

/// An RTP packet: the 12-byte fixed header (V=2, no padding, extension or CSRC) and `payload`.
pub fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, (u8::from(marker) << 7) | pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// An RTCP sender report without report blocks (RFC 3550 §6.4.1).
pub fn rtcp_sr(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 200, 0, 6];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0x11; 20]); // NTP and RTP timestamps, packet and octet counts
    p
}

/// An RTCP receiver report with one report block about `about` (RFC 3550 §6.4.2).
pub fn rtcp_rr(ssrc: u32, about: u32) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0, 7];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&about.to_be_bytes());
    p.extend_from_slice(&[0x22; 20]); // loss, highest seq, jitter, LSR, DLSR
    p
}

/// An RTCP SDES with one chunk carrying a CNAME (RFC 3550 §6.5), padded to 32 bits.
pub fn rtcp_sdes(ssrc: u32, cname: &str) -> Vec<u8> {
    let mut chunk = ssrc.to_be_bytes().to_vec();
    chunk.extend_from_slice(&[1, cname.len() as u8]);
    chunk.extend_from_slice(cname.as_bytes());
    chunk.push(0); // end of the item list
    while chunk.len() % 4 != 0 {
        chunk.push(0);
    }
    let mut p = vec![0x81, 202];
    p.extend_from_slice(&((chunk.len() / 4) as u16).to_be_bytes());
    p.extend_from_slice(&chunk);
    p
}

/// An RTCP BYE for one source (RFC 3550 §6.6).
pub fn rtcp_bye(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x81, 203, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

/// ITU-T G.711 µ-law expansion of one code to a 16-bit linear sample (independent of the
/// decoder under test, so the WAV output can be checked sample by sample).
pub fn ulaw_to_linear(code: u8) -> i16 {
    let u = !code;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i32::from(u & 0x0F);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    (if u & 0x80 != 0 { -magnitude } else { magnitude }) as i16
}

/// The float a decoder outputs for a 16-bit sample.
pub fn to_f32(sample: i16) -> f32 {
    f32::from(sample) / 32768.0
}

/// Payload of PCMU packet `k`: every byte known and different from its neighbours, and no two
/// packets alike, so a sample in the output says which packet (and which byte) it came from.
pub fn pcmu_payload(k: usize) -> Vec<u8> {
    (0..G711_FRAME)
        .map(|j| ((k * 37 + j * 11 + 1) % 256) as u8)
        .collect()
}

/// Sample `j` of L16 packet `k` (any i16 pattern that differs from packet to packet).
pub fn l16_sample(k: usize, j: usize) -> i16 {
    (((k * 1009 + j * 37) % 60_000) as i32 - 30_000) as i16
}

/// Payload of L16 mono packet `k` with `samples` samples, big-endian as RFC 3551 says.
pub fn l16_payload(k: usize, samples: usize) -> Vec<u8> {
    (0..samples)
        .flat_map(|j| l16_sample(k, j).to_be_bytes())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Network and link layers
// ---------------------------------------------------------------------------------------------

/// A socket address from text.
pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

/// An IPv4 or IPv6 packet carrying a UDP datagram from `src` to `dst`.
pub fn ip_udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64)
            .udp(src.port(), dst.port())
            .write(&mut out, payload)
            .expect("IPv4/UDP"),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64)
            .udp(src.port(), dst.port())
            .write(&mut out, payload)
            .expect("IPv6/UDP"),
        _ => panic!("mixed address families"),
    }
    out
}

/// An IPv4 packet carrying a TCP segment (something that is not UDP).
pub fn ip_tcp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src.ip(), dst.ip()) else {
        panic!("IPv4 only");
    };
    let mut out = Vec::new();
    PacketBuilder::ipv4(s.octets(), d.octets(), 64)
        .tcp(src.port(), dst.port(), 1000, 65_000)
        .write(&mut out, payload)
        .expect("IPv4/TCP");
    out
}

/// A UDP datagram over IPv4 split into two fragments (identification `id`), the first carrying
/// `first_len` bytes of the UDP header and payload (a multiple of 8, as IP requires).
pub fn ipv4_udp_fragments(
    src: SocketAddr,
    dst: SocketAddr,
    id: u16,
    payload: &[u8],
    first_len: usize,
) -> [Vec<u8>; 2] {
    assert_eq!(first_len % 8, 0, "fragment offsets count 8-byte units");
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src.ip(), dst.ip()) else {
        panic!("IPv4 only");
    };
    let whole = Ipv4Header::new(
        (UdpHeader::LEN + payload.len()) as u16,
        64,
        IpNumber::UDP,
        s.octets(),
        d.octets(),
    )
    .expect("IPv4 header");
    let udp =
        UdpHeader::with_ipv4_checksum(src.port(), dst.port(), &whole, payload).expect("UDP header");
    let mut datagram = udp.to_bytes().to_vec();
    datagram.extend_from_slice(payload);
    assert!(
        first_len < datagram.len(),
        "the datagram must need two fragments"
    );
    let fragment = |offset: usize, data: &[u8], more: bool| {
        let mut h = Ipv4Header::new(data.len() as u16, 64, IpNumber::UDP, s.octets(), d.octets())
            .expect("IPv4 header");
        h.identification = id;
        h.dont_fragment = false;
        h.more_fragments = more;
        h.fragment_offset = IpFragOffset::try_new((offset / 8) as u16).expect("offset");
        h.header_checksum = h.calc_header_checksum();
        let mut bytes = h.to_bytes().to_vec();
        bytes.extend_from_slice(data);
        bytes
    };
    [
        fragment(0, &datagram[..first_len], true),
        fragment(first_len, &datagram[first_len..], false),
    ]
}

/// The link layer of a synthetic capture.
#[derive(Debug, Clone, Copy)]
pub enum Link {
    /// Ethernet II with these 802.1Q/802.1ad tags (outermost first).
    Ethernet(&'static [u16]),
    /// Linux cooked capture v1.
    LinuxSll,
    /// Linux cooked capture v2.
    LinuxSll2,
    /// BSD loopback: the address family in host byte order.
    Null,
    /// Bare IP packets under the given link type (RAW, IPV4 or IPV6).
    Raw(DataLink),
}

impl Link {
    /// The capture file's link type.
    pub fn datalink(self) -> DataLink {
        match self {
            Link::Ethernet(_) => DataLink::ETHERNET,
            Link::LinuxSll => DataLink::LINUX_SLL,
            Link::LinuxSll2 => DataLink::LINUX_SLL2,
            Link::Null => DataLink::NULL,
            Link::Raw(dl) => dl,
        }
    }

    /// `ip` (an IPv4 or IPv6 packet) framed for this link.
    pub fn frame(self, ip: &[u8]) -> Vec<u8> {
        let v6 = ip[0] >> 4 == 6;
        let ether_type: u16 = if v6 { 0x86DD } else { 0x0800 };
        let mut f = Vec::new();
        match self {
            Link::Ethernet(tags) => {
                f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]); // destination MAC
                f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]); // source MAC
                for (i, vlan) in tags.iter().enumerate() {
                    // An outer tag of a stack is 802.1ad (0x88A8), the innermost 802.1Q.
                    let tpid: u16 = if i + 1 < tags.len() { 0x88A8 } else { 0x8100 };
                    f.extend_from_slice(&tpid.to_be_bytes());
                    f.extend_from_slice(&vlan.to_be_bytes());
                }
                f.extend_from_slice(&ether_type.to_be_bytes());
            }
            Link::LinuxSll => {
                f.extend_from_slice(&0u16.to_be_bytes()); // packet type: to us
                f.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
                f.extend_from_slice(&6u16.to_be_bytes()); // address length
                f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 0, 0]); // address, padded to 8
                f.extend_from_slice(&ether_type.to_be_bytes());
            }
            Link::LinuxSll2 => {
                f.extend_from_slice(&ether_type.to_be_bytes());
                f.extend_from_slice(&[0, 0]); // reserved
                f.extend_from_slice(&3u32.to_be_bytes()); // interface index
                f.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
                f.push(0); // packet type: to us
                f.push(6); // address length
                f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 0, 0]);
            }
            Link::Null => {
                // AF_INET is 2 everywhere; AF_INET6 differs between systems (30 on macOS).
                let family: u32 = if v6 { 30 } else { 2 };
                f.extend_from_slice(&family.to_ne_bytes());
            }
            Link::Raw(_) => {}
        }
        f.extend_from_slice(ip);
        f
    }
}

// ---------------------------------------------------------------------------------------------
// Capture files
// ---------------------------------------------------------------------------------------------

/// Microseconds, the unit all schedules in these tests are written in.
pub fn us(micros: u64) -> Duration {
    Duration::from_micros(micros)
}

/// A capture being built: frames on one link, each with its time after the first record.
pub struct Capture {
    pub link: Link,
    pub frames: Vec<(Duration, Vec<u8>)>,
}

impl Capture {
    pub fn new(link: Link) -> Self {
        Capture {
            link,
            frames: Vec::new(),
        }
    }

    /// Adds an IP packet (framed for the link) captured at `at`.
    pub fn ip(&mut self, at: Duration, ip: Vec<u8>) -> &mut Self {
        let frame = self.link.frame(&ip);
        self.frames.push((at, frame));
        self
    }

    /// Adds a UDP datagram from `src` to `dst` captured at `at`.
    pub fn udp(&mut self, at: Duration, src: &str, dst: &str, payload: &[u8]) -> &mut Self {
        self.ip(at, ip_udp(addr(src), addr(dst), payload))
    }

    /// Writes a classic libpcap file (microsecond timestamps from [`EPOCH`]).
    pub fn write_pcap(&self, path: &Path) {
        self.write_pcap_in(path, TsResolution::MicroSecond);
    }

    /// Writes a classic libpcap file with timestamps in `resolution`.
    pub fn write_pcap_in(&self, path: &Path, resolution: TsResolution) {
        let header = PcapHeader {
            datalink: self.link.datalink(),
            ts_resolution: resolution,
            ..PcapHeader::default()
        };
        let file = std::fs::File::create(path).expect("create pcap");
        let mut w = PcapWriter::with_header(file, header).expect("pcap header");
        for (at, data) in &self.frames {
            w.write_packet(&PcapPacket::new(EPOCH + *at, data.len() as u32, data))
                .expect("pcap record");
        }
    }

    /// Writes a pcapng file with one interface. With `Some(n)` (n ≤ 9) its `if_tsresol` says
    /// units of 10^-n s and timestamps are written in them; with `None` the option is absent, so
    /// the raw counts must be microseconds (pcap-file writes a `Duration`'s nanosecond count
    /// raw, whatever the unit: a count of µs goes in as `Duration::from_nanos(µs)`).
    pub fn write_pcapng(&self, path: &Path, tsresol: Option<u8>) {
        let file = std::fs::File::create(path).expect("create pcapng");
        let mut w = PcapNgWriter::new(file).expect("section header");
        let options = match tsresol {
            Some(r) => vec![InterfaceDescriptionOption::IfTsResol(r)],
            None => Vec::new(),
        };
        w.write_pcapng_block(InterfaceDescriptionBlock {
            linktype: self.link.datalink(),
            snaplen: 0xFFFF,
            options,
        })
        .expect("interface");
        for (at, data) in &self.frames {
            let real = EPOCH + *at;
            let timestamp = match tsresol {
                Some(9) => real,
                None => Duration::from_nanos(real.as_micros() as u64),
                // Coarser decimal units (3: milliseconds) reach further: 2^64 ms is 584 My.
                Some(r @ 0..=8) => {
                    let ticks = real.as_nanos() / 10u128.pow(9 - u32::from(r));
                    Duration::from_nanos(u64::try_from(ticks).expect("ticks fit 64 bits"))
                }
                Some(other) => panic!("tsresol {other} not supported by this helper"),
            };
            w.write_pcapng_block(EnhancedPacketBlock {
                interface_id: 0,
                timestamp,
                original_len: data.len() as u32,
                data: Cow::Borrowed(data),
                options: Vec::new(),
            })
            .expect("packet block");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running jitterplay
// ---------------------------------------------------------------------------------------------

/// `jitterplay streams --json FILE`.
pub fn streams_json(path: &Path) -> Value {
    let out = run_ok(jitterplay().args(["streams", "--json"]).arg(path));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "streams --json is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// What one `play` of a capture produced.
pub struct Replay {
    /// The final --stats-json line.
    pub stats: Value,
    /// The WAV output (8 kHz G.711 or the L16 rate), interleaved f32.
    pub samples: Vec<f32>,
    /// The WAV's sample rate.
    pub rate: u32,
    /// The WAV's channel count.
    pub channels: u16,
    /// The command's stderr.
    pub stderr: String,
}

/// `jitterplay play FILE --output wav:… --fast --stats-json …` with `extra` arguments; `quiet`
/// adds --quiet. RUST_LOG is cleared so warnings show as users see them. The output is mono.
pub fn play(path: &Path, dir: &Path, extra: &[&str], quiet: bool) -> Replay {
    let replay = play_any(path, dir, extra, quiet);
    assert_eq!(replay.channels, 1, "mono output");
    replay
}

/// [`play`] for a stream of any channel count.
pub fn play_any(path: &Path, dir: &Path, extra: &[&str], quiet: bool) -> Replay {
    let wav = dir.join("out.wav");
    let stats = dir.join("stats.jsonl");
    let _ = std::fs::remove_file(&wav);
    let _ = std::fs::remove_file(&stats);
    let mut cmd = jitterplay();
    cmd.env_remove("RUST_LOG")
        .args(["play", "--fast", "--output"]);
    cmd.arg(format!("wav:{}", wav.display()))
        .arg("--stats-json")
        .arg(&stats)
        .args(extra)
        .arg(path);
    if quiet {
        cmd.arg("--quiet");
    }
    let out = run_ok(&mut cmd);
    let text = std::fs::read_to_string(&stats).expect("stats written");
    let last = text.lines().last().expect("a final stats line");
    let stats: Value = serde_json::from_str(last).expect("stats line is JSON");
    assert_eq!(stats["final"], true, "{stats}");
    let (samples, rate, channels) = read_wav(&wav);
    Replay {
        stats,
        samples,
        rate,
        channels,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `jitterplay play FILE` (to null) expected to fail with exit code 1; returns its stderr.
pub fn play_fails(path: &Path, extra: &[&str]) -> String {
    let out = jitterplay()
        .env_remove("RUST_LOG")
        .args(["play", "--fast", "--quiet", "--output", "null"])
        .args(extra)
        .arg(path)
        .bounded_output()
        .expect("spawn jitterplay");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected failure, got:\n{stderr}"
    );
    stderr
}

/// The values of `keys` in object `v` as one JSON array, to compare several fields at once.
pub fn pick<const N: usize>(v: &Value, keys: [&str; N]) -> Value {
    Value::Array(keys.iter().map(|k| v[*k].clone()).collect())
}

/// A JSON number, or a panic naming what was missing.
pub fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

/// Asserts a JSON number is within `tol` of `expected`.
pub fn assert_near(v: &Value, expected: f64, tol: f64, what: &str) {
    let got = num(v, what);
    assert!(
        (got - expected).abs() <= tol,
        "{what}: expected {expected} ± {tol}, got {got} (off by {:e})",
        got - expected
    );
}

/// The integer counters of a stream's stats: packets, expected, lost, duplicated, out_of_order.
pub fn counters(stream: &Value) -> [u64; 5] {
    let s = &stream["stats"];
    ["packets", "expected", "lost", "duplicated", "out_of_order"].map(|k| {
        s[k].as_u64()
            .unwrap_or_else(|| panic!("stats.{k} missing: {s}"))
    })
}

/// The receive core's counters of a replay: received, played, lost, late, duplicate.
pub fn metrics(stats: &Value) -> [u64; 5] {
    let m = &stats["metrics"];
    ["received", "played", "lost", "late", "duplicate"].map(|k| {
        m[k].as_u64()
            .unwrap_or_else(|| panic!("metrics.{k} missing: {m}"))
    })
}

/// RFC 3550 §6.4.1 interarrival jitter of (arrival s, RTP time s) points in arrival order:
/// the final J, the mean of the running J after each packet, and its largest value.
pub fn rfc3550_jitter(points: &[(f64, f64)]) -> (f64, f64, f64) {
    let (mut j, mut sum, mut max) = (0.0f64, 0.0f64, 0.0f64);
    for (i, &(a, r)) in points.iter().enumerate() {
        if i > 0 {
            let (pa, pr) = points[i - 1];
            let d = (a - pa) - (r - pr);
            j += (d.abs() - j) / 16.0;
        }
        sum += j;
        max = max.max(j);
    }
    (j, sum / points.len() as f64, max)
}

/// Sender clock against capture clock in ppm, from the least-squares slope of arrival time on
/// RTP time (1/slope − 1).
pub fn skew_ppm(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (a0, r0) = points[0];
    let (mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0);
    for &(a, r) in points {
        let (x, y) = (r - r0, a - a0);
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    let slope = (sxy - sx * sy / n) / (sxx - sx * sx / n);
    (1.0 / slope - 1.0) * 1e6
}

/// Asserts that the samples of packet `k` (at `k × len` in the output) are exactly `expected`.
pub fn assert_packet_samples(samples: &[f32], k: usize, expected: &[f32], what: &str) {
    let len = expected.len();
    let got = samples
        .get(k * len..(k + 1) * len)
        .unwrap_or_else(|| panic!("{what}: output too short for packet {k}"));
    if let Some(j) = (0..len).find(|&j| got[j] != expected[j]) {
        panic!(
            "{what}: packet {k} sample {j}: expected {}, got {} (first of {} differing samples)",
            expected[j],
            got[j],
            (0..len).filter(|&j| got[j] != expected[j]).count()
        );
    }
}

/// A fresh scratch directory and the path of a capture file in it.
pub fn scratch_file(test: &str, name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(&format!("synthetic_{test}"));
    let file = dir.join(name);
    (dir, file)
}
