//! Captures built byte by byte with known timing, loss, reordering and duplication, read back by
//! `jitterplay streams --json` and replayed by `jitterplay play`: every counter must come out
//! exactly as the capture was made.

mod common;

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use etherparse::{IpFragOffset, IpNumber, Ipv4Header, PacketBuilder, UdpHeader};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, TsResolution};
use serde_json::{json, Value};

/// Wall-clock time of every capture's first record (real captures carry epoch timestamps, and
/// times must survive being that large).
const EPOCH: Duration = Duration::from_secs(1_700_000_000);

/// One nanosecond, in seconds and in milliseconds: the tolerance of every time these tests
/// check. Captures state times to the µs (pcap) or ns (pcapng with `if_tsresol` 9), so a
/// stream's times are exact up to float rounding, which is far below a nanosecond here.
const NS_IN_S: f64 = 1e-9;
const NS_IN_MS: f64 = 1e-6;

/// Samples (and RTP clock ticks) in 20 ms of 8 kHz audio.
const G711_FRAME: usize = 160;

// ---------------------------------------------------------------------------------------------
// RTP, RTCP and G.711
// ---------------------------------------------------------------------------------------------

/// An RTP packet: the 12-byte fixed header (V=2, no padding, extension or CSRC) and `payload`.
fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, (u8::from(marker) << 7) | pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// An RTCP sender report without report blocks (RFC 3550 §6.4.1).
fn rtcp_sr(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 200, 0, 6];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0x11; 20]); // NTP and RTP timestamps, packet and octet counts
    p
}

/// An RTCP receiver report with one report block about `about` (RFC 3550 §6.4.2).
fn rtcp_rr(ssrc: u32, about: u32) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0, 7];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&about.to_be_bytes());
    p.extend_from_slice(&[0x22; 20]); // loss, highest seq, jitter, LSR, DLSR
    p
}

/// An RTCP SDES with one chunk carrying a CNAME (RFC 3550 §6.5), padded to 32 bits.
fn rtcp_sdes(ssrc: u32, cname: &str) -> Vec<u8> {
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
fn rtcp_bye(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x81, 203, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

/// ITU-T G.711 µ-law expansion of one code to a 16-bit linear sample (independent of the
/// decoder under test, so the WAV output can be checked sample by sample).
fn ulaw_to_linear(code: u8) -> i16 {
    let u = !code;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i32::from(u & 0x0F);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    (if u & 0x80 != 0 { -magnitude } else { magnitude }) as i16
}

/// The reference expansion agrees with the G.711 table (so a decoder bug cannot hide in it).
#[test]
fn reference_ulaw_expansion_matches_g711() {
    // Codes and values from ITU-T G.711 table 2a: 0xFF and 0x7F are the two zeros, 0x80 and
    // 0x00 the extremes, 0xEF and 0x6F the ends of the smallest steps.
    for (code, linear) in [
        (0xFF, 0),
        (0x7F, 0),
        (0x80, 32_124),
        (0x00, -32_124),
        (0xFE, 8),
        (0xEF, 132),
        (0x6F, -132),
        (0x8F, 16_764),
    ] {
        assert_eq!(ulaw_to_linear(code), linear, "µ-law code {code:#04x}");
    }
}

/// The float a decoder outputs for a 16-bit sample.
fn to_f32(sample: i16) -> f32 {
    f32::from(sample) / 32768.0
}

/// Payload of PCMU packet `k`: every byte known and different from its neighbours, and no two
/// packets alike, so a sample in the output says which packet (and which byte) it came from.
fn pcmu_payload(k: usize) -> Vec<u8> {
    (0..G711_FRAME)
        .map(|j| ((k * 37 + j * 11 + 1) % 256) as u8)
        .collect()
}

/// Sample `j` of L16 packet `k` (any i16 pattern that differs from packet to packet).
fn l16_sample(k: usize, j: usize) -> i16 {
    (((k * 1009 + j * 37) % 60_000) as i32 - 30_000) as i16
}

/// Payload of L16 mono packet `k` with `samples` samples, big-endian as RFC 3551 says.
fn l16_payload(k: usize, samples: usize) -> Vec<u8> {
    (0..samples)
        .flat_map(|j| l16_sample(k, j).to_be_bytes())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Network and link layers
// ---------------------------------------------------------------------------------------------

/// A socket address from text.
fn addr(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

/// An IPv4 or IPv6 packet carrying a UDP datagram from `src` to `dst`.
fn ip_udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
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
fn ip_tcp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
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
fn ipv4_udp_fragments(
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
enum Link {
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
    fn datalink(self) -> DataLink {
        match self {
            Link::Ethernet(_) => DataLink::ETHERNET,
            Link::LinuxSll => DataLink::LINUX_SLL,
            Link::LinuxSll2 => DataLink::LINUX_SLL2,
            Link::Null => DataLink::NULL,
            Link::Raw(dl) => dl,
        }
    }

    /// `ip` (an IPv4 or IPv6 packet) framed for this link.
    fn frame(self, ip: &[u8]) -> Vec<u8> {
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
fn us(micros: u64) -> Duration {
    Duration::from_micros(micros)
}

/// A capture being built: frames on one link, each with its time after the first record.
struct Capture {
    link: Link,
    frames: Vec<(Duration, Vec<u8>)>,
}

impl Capture {
    fn new(link: Link) -> Self {
        Capture {
            link,
            frames: Vec::new(),
        }
    }

    /// Adds an IP packet (framed for the link) captured at `at`.
    fn ip(&mut self, at: Duration, ip: Vec<u8>) -> &mut Self {
        let frame = self.link.frame(&ip);
        self.frames.push((at, frame));
        self
    }

    /// Adds a UDP datagram from `src` to `dst` captured at `at`.
    fn udp(&mut self, at: Duration, src: &str, dst: &str, payload: &[u8]) -> &mut Self {
        self.ip(at, ip_udp(addr(src), addr(dst), payload))
    }

    /// Writes a classic libpcap file (microsecond timestamps from [`EPOCH`]).
    fn write_pcap(&self, path: &Path) {
        self.write_pcap_in(path, TsResolution::MicroSecond);
    }

    /// Writes a classic libpcap file with timestamps in `resolution`.
    fn write_pcap_in(&self, path: &Path, resolution: TsResolution) {
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

    /// Writes a pcapng file with one interface. With `Some(9)` its `if_tsresol` says
    /// nanoseconds and timestamps are written as such; with `None` the option is absent, so
    /// the raw counts must be microseconds (pcap-file writes a `Duration`'s nanosecond count
    /// raw, whatever the unit: a count of µs goes in as `Duration::from_nanos(µs)`).
    fn write_pcapng(&self, path: &Path, tsresol: Option<u8>) {
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
fn streams_json(path: &Path) -> Value {
    let out = run_ok(jitterplay().args(["streams", "--json"]).arg(path));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "streams --json is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// What one `play` of a capture produced.
struct Replay {
    /// The final --stats-json line.
    stats: Value,
    /// The WAV output (8 kHz G.711 or the L16 rate), mono f32.
    samples: Vec<f32>,
    /// The WAV's sample rate.
    rate: u32,
    /// The command's stderr.
    stderr: String,
}

/// `jitterplay play FILE --output wav:… --fast --stats-json …` with `extra` arguments; `quiet`
/// adds --quiet. RUST_LOG is cleared so warnings show as users see them.
fn play(path: &Path, dir: &Path, extra: &[&str], quiet: bool) -> Replay {
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
    assert_eq!(channels, 1, "mono output");
    Replay {
        stats,
        samples,
        rate,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `jitterplay play FILE` (to null) expected to fail with exit code 1; returns its stderr.
fn play_fails(path: &Path, extra: &[&str]) -> String {
    let out = jitterplay()
        .env_remove("RUST_LOG")
        .args(["play", "--fast", "--quiet", "--output", "null"])
        .args(extra)
        .arg(path)
        .output()
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
fn pick<const N: usize>(v: &Value, keys: [&str; N]) -> Value {
    Value::Array(keys.iter().map(|k| v[*k].clone()).collect())
}

/// A JSON number, or a panic naming what was missing.
fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

/// Asserts a JSON number is within `tol` of `expected`.
fn assert_near(v: &Value, expected: f64, tol: f64, what: &str) {
    let got = num(v, what);
    assert!(
        (got - expected).abs() <= tol,
        "{what}: expected {expected} ± {tol}, got {got} (off by {:e})",
        got - expected
    );
}

/// The integer counters of a stream's stats: packets, expected, lost, duplicated, out_of_order.
fn counters(stream: &Value) -> [u64; 5] {
    let s = &stream["stats"];
    ["packets", "expected", "lost", "duplicated", "out_of_order"].map(|k| {
        s[k].as_u64()
            .unwrap_or_else(|| panic!("stats.{k} missing: {s}"))
    })
}

/// The receive core's counters of a replay: received, played, lost, late, duplicate.
fn metrics(stats: &Value) -> [u64; 5] {
    let m = &stats["metrics"];
    ["received", "played", "lost", "late", "duplicate"].map(|k| {
        m[k].as_u64()
            .unwrap_or_else(|| panic!("metrics.{k} missing: {m}"))
    })
}

/// RFC 3550 §6.4.1 interarrival jitter of (arrival s, RTP time s) points in arrival order:
/// the final J, the mean of the running J after each packet, and its largest value.
fn rfc3550_jitter(points: &[(f64, f64)]) -> (f64, f64, f64) {
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
fn skew_ppm(points: &[(f64, f64)]) -> f64 {
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
fn assert_packet_samples(samples: &[f32], k: usize, expected: &[f32], what: &str) {
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
fn scratch_file(test: &str, name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(&format!("synthetic_{test}"));
    let file = dir.join(name);
    (dir, file)
}

// ---------------------------------------------------------------------------------------------
// 1. Loss, reordering, duplication and a late packet across a sequence wrap
// ---------------------------------------------------------------------------------------------

/// Capture order of the impaired PCMU stream of test 1 as (arrival µs, packet index k): packet
/// k is sent at 20·k ms; 30 is lost, 51 overtakes 50, 70 comes twice, 100 arrives 100 ms late
/// (right after 105), and 120–122 are held back and arrive together 70 ms after 119.
fn impaired_schedule() -> Vec<(u64, usize)> {
    let mut order = Vec::new();
    for k in 0..200usize {
        let on_time = 20_000 * k as u64;
        match k {
            30 | 50 | 100 => {} // lost; sent after 51; sent after 105
            51 => order.extend([(on_time, 51), (1_020_000, 50)]),
            70 => order.extend([(on_time, 70), (on_time + 5_000, 70)]),
            105 => order.extend([(on_time, 105), (2_100_000, 100)]),
            120..=122 => order.push((2_450_000, k)),
            _ => order.push((on_time, k)),
        }
    }
    order
}

#[test]
fn pcap_over_vlan_counts_loss_reordering_duplicates_and_gaps_across_a_wrap() {
    let (dir, path) = scratch_file("impaired", "impaired.pcap");
    const SSRC: u32 = 0x5EED_0001;
    // Sequence numbers and timestamps both start close to their wrap.
    let seq = |k: usize| 65_500u16.wrapping_add(k as u16);
    let ts = |k: usize| 0xFFFF_F000u32.wrapping_add((k * G711_FRAME) as u32);
    let schedule = impaired_schedule();
    let mut cap = Capture::new(Link::Ethernet(&[42]));
    for &(at, k) in &schedule {
        let packet = rtp(0, k == 0, seq(k), ts(k), SSRC, &pcmu_payload(k));
        cap.udp(us(at), "10.0.0.1:4000", "10.0.0.2:6000", &packet);
    }
    cap.write_pcap(&path);

    let report = streams_json(&path);
    assert_eq!(report["kind"], "pcap");
    assert_eq!(report["records"], 200, "{report}");
    assert_eq!(report["udp"], 200);
    assert_eq!(report["other_udp"], 0);
    assert_eq!(report["frames"]["other"], 0, "VLAN-tagged frames are read");
    assert_eq!(report["truncated"], Value::Null);
    let streams = report["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 1, "{report}");
    let s = &streams[0];
    assert_eq!(s["index"], 1);
    assert_eq!(s["src"], "10.0.0.1:4000");
    assert_eq!(s["dst"], "10.0.0.2:6000");
    assert_eq!(s["ssrc"], u64::from(SSRC));
    assert_eq!(
        pick(s, ["kind", "pt", "codec"]),
        json!(["audio", 0, "PCMU/8000"])
    );
    // 199 distinct packets + 1 duplicate; 200 expected across 65500..=65535, 0..=163; seq 65530
    // lost; 50 (after 51) and 100 (after 105) out of order.
    assert_eq!(counters(s), [200, 200, 1, 1, 2], "{}", s["stats"]);
    let st = &s["stats"];
    assert_near(&st["start_s"], 0.0, NS_IN_S, "start_s");
    assert_near(&st["duration_s"], 3.98, NS_IN_S, "duration_s");
    // The held-back burst leaves the largest gap: 70 ms, ending at 2.45 s (the loss and the late
    // packet leave only 40 ms gaps).
    assert_near(&st["max_delta_ms"], 70.0, NS_IN_MS, "max_delta_ms");
    assert_near(&st["max_delta_at_s"], 2.45, NS_IN_S, "max_delta_at_s");
    // Jitter and skew as RFC 3550 and a least-squares fit define them, over every packet (all
    // PT 0, duplicate included) in arrival order.
    let points: Vec<(f64, f64)> = schedule
        .iter()
        .map(|&(at, k)| (at as f64 / 1e6, k as f64 * 0.02))
        .collect();
    let (j, mean, max) = rfc3550_jitter(&points);
    assert!(
        max > 0.001,
        "the impairments must give visible jitter ({max} s)"
    );
    assert_near(&st["jitter_ms"], j * 1000.0, NS_IN_MS, "jitter_ms");
    assert_near(
        &st["mean_jitter_ms"],
        mean * 1000.0,
        NS_IN_MS,
        "mean_jitter_ms",
    );
    assert_near(
        &st["max_jitter_ms"],
        max * 1000.0,
        NS_IN_MS,
        "max_jitter_ms",
    );
    // The last packet (199 at 3.98 s) is exactly where the first and the RTP clock put it.
    assert_near(&st["skew_ms"], 0.0, NS_IN_MS, "skew_ms");
    assert_near(&st["skew_ppm"], skew_ppm(&points), 1e-3, "skew_ppm");

    let r = play(&path, &dir, &[], true);
    assert_eq!(r.stats["format"], "pcmu");
    assert_eq!(r.stats["stream"]["ssrc"], u64::from(SSRC));
    let [received, played, lost, late, duplicate] = metrics(&r.stats);
    // Every captured datagram reaches the receiver, in capture order, so it sees the same
    // loss, duplicate and reordering as the analysis (and the 100 ms late packet is in time).
    assert_eq!(received, 200, "{}", r.stats["metrics"]);
    assert_eq!((lost, late, duplicate), (1, 0, 1), "{}", r.stats["metrics"]);
    assert_eq!(r.stats["metrics"]["reordered"], 2, "{}", r.stats["metrics"]);
    assert_eq!(
        played,
        200 - 1,
        "played = expected − lost: {}",
        r.stats["metrics"]
    );
    assert_eq!(r.rate, 8000);
    // Every sequence number from the first to the last has its 20 ms (the lost one concealed).
    assert_eq!(r.samples.len(), 200 * G711_FRAME, "output length");
    assert_eq!(
        r.stats["output"]["frames_played"],
        (200 * G711_FRAME) as u64
    );
    // Each packet's audio is its payload decoded, at its place in sequence order: the swapped,
    // duplicated, late and bunched-up packets all play in order and untouched. The lost packet
    // and the one after it (where concealment hands back to real audio) are left out.
    for k in (0..200).filter(|&k| k != 30 && k != 31) {
        let expected: Vec<f32> = pcmu_payload(k)
            .into_iter()
            .map(|c| to_f32(ulaw_to_linear(c)))
            .collect();
        assert_packet_samples(&r.samples, k, &expected, "PCMU replay");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. pcapng timestamp units
// ---------------------------------------------------------------------------------------------

/// A capture of a 200-packet PCMA stream at exactly 20 ms between [2001:db8::1]:5004 and
/// [2001:db8::2]:5006, preceded 250 ms earlier by an unrelated TCP frame on IPv4, so the
/// stream starts at 0.25 s after the capture's first record.
fn steady_ipv6_stream(link: Link) -> Capture {
    let mut cap = Capture::new(link);
    cap.ip(
        us(0),
        ip_tcp(addr("192.0.2.1:40000"), addr("192.0.2.2:443"), b"tls"),
    );
    for k in 0..200usize {
        let packet = rtp(
            8,
            false,
            k as u16,
            (k * G711_FRAME) as u32,
            0xACE0_0006,
            &[0xD5; G711_FRAME],
        );
        cap.udp(
            us(250_000 + 20_000 * k as u64),
            "[2001:db8::1]:5004",
            "[2001:db8::2]:5006",
            &packet,
        );
    }
    cap
}

/// The stream of [`steady_ipv6_stream`] as read back: found, timed to the nanosecond.
fn assert_steady_ipv6_stream(report: &Value, kind: &str) {
    assert_eq!(report["kind"], kind);
    assert_eq!(report["records"], 201, "{report}");
    assert_eq!(report["frames"]["other"], 1, "the TCP frame");
    let streams = report["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 1, "{report}");
    let s = &streams[0];
    assert_eq!(s["src"], "[2001:db8::1]:5004");
    assert_eq!(s["dst"], "[2001:db8::2]:5006");
    assert_eq!(s["codec"], "PCMA/8000");
    assert_eq!(counters(s), [200, 200, 0, 0, 0], "{}", s["stats"]);
    let st = &s["stats"];
    assert_near(&st["start_s"], 0.25, NS_IN_S, "start_s");
    assert_near(&st["duration_s"], 3.98, NS_IN_S, "duration_s");
    assert_near(&st["max_delta_ms"], 20.0, NS_IN_MS, "max_delta_ms");
    assert_near(&st["jitter_ms"], 0.0, NS_IN_MS, "jitter_ms");
    assert_near(&st["skew_ms"], 0.0, NS_IN_MS, "skew_ms");
}

#[test]
fn pcapng_with_nanosecond_tsresol_over_linux_sll2_and_ipv6() {
    let (dir, path) = scratch_file("pcapng_ns", "sll2-v6.pcapng");
    steady_ipv6_stream(Link::LinuxSll2).write_pcapng(&path, Some(9));
    assert_steady_ipv6_stream(&streams_json(&path), "pcapng");
    // And it replays cleanly.
    let r = play(&path, &dir, &[], true);
    assert_eq!(r.stats["format"], "pcma");
    assert_eq!(
        metrics(&r.stats),
        [200, 200, 0, 0, 0],
        "{}",
        r.stats["metrics"]
    );
    assert_eq!(r.samples.len(), 200 * G711_FRAME);
}

#[test]
fn pcapng_without_tsresol_counts_microseconds() {
    let (_dir, path) = scratch_file("pcapng_us", "eth-v6.pcapng");
    steady_ipv6_stream(Link::Ethernet(&[])).write_pcapng(&path, None);
    assert_steady_ipv6_stream(&streams_json(&path), "pcapng");
}

#[test]
fn pcap_with_nanosecond_timestamps_is_read_exactly() {
    // The same stream in classic pcap's nanosecond variant (magic 0xA1B23C4D), on raw IP.
    let (_dir, path) = scratch_file("pcap_ns", "raw-v6.pcap");
    steady_ipv6_stream(Link::Raw(DataLink::RAW)).write_pcap_in(&path, TsResolution::NanoSecond);
    assert_steady_ipv6_stream(&streams_json(&path), "pcap");
}

// ---------------------------------------------------------------------------------------------
// 3. Link types
// ---------------------------------------------------------------------------------------------

#[test]
fn every_link_type_yields_the_one_stream() {
    let cases: [(&str, Link, &str, &str); 7] = [
        ("sll", Link::LinuxSll, "10.1.0.1:4000", "10.1.0.2:6000"),
        ("null", Link::Null, "127.0.0.1:4000", "127.0.0.1:6000"),
        (
            "raw_v4",
            Link::Raw(DataLink::RAW),
            "10.1.0.1:4000",
            "10.1.0.2:6000",
        ),
        (
            "raw_v6",
            Link::Raw(DataLink::RAW),
            "[fd00::1]:4000",
            "[fd00::2]:6000",
        ),
        (
            "ipv4",
            Link::Raw(DataLink::IPV4),
            "10.1.0.1:4000",
            "10.1.0.2:6000",
        ),
        (
            "ipv6",
            Link::Raw(DataLink::IPV6),
            "[fd00::1]:4000",
            "[fd00::2]:6000",
        ),
        (
            "qinq",
            Link::Ethernet(&[100, 200]),
            "10.1.0.1:4000",
            "10.1.0.2:6000",
        ),
    ];
    for (name, link, src, dst) in cases {
        let (_dir, path) = scratch_file(&format!("link_{name}"), "capture.pcap");
        let mut cap = Capture::new(link);
        for k in 0..25usize {
            let packet = rtp(
                0,
                false,
                1000 + k as u16,
                (k * G711_FRAME) as u32,
                0x0000_0777,
                &[0xFF; G711_FRAME],
            );
            cap.udp(us(20_000 * k as u64), src, dst, &packet);
        }
        cap.write_pcap(&path);
        let report = streams_json(&path);
        assert_eq!(
            pick(&report, ["records", "udp", "unsupported_link"]),
            json!([25, 25, 0]),
            "{name}: {report}"
        );
        assert_eq!(
            pick(&report["frames"], ["other", "malformed"]),
            json!([0, 0]),
            "{name}: {report}"
        );
        let streams = report["streams"].as_array().expect("streams");
        assert_eq!(streams.len(), 1, "{name}: {report}");
        let s = &streams[0];
        assert_eq!(
            (s["src"].as_str(), s["dst"].as_str()),
            (Some(src), Some(dst)),
            "{name}"
        );
        assert_eq!(s["ssrc"], 0x777, "{name}");
        assert_eq!(counters(s), [25, 25, 0, 0, 0], "{name}: {}", s["stats"]);
        assert_near(&s["stats"]["duration_s"], 0.48, NS_IN_S, name);
    }
}

// ---------------------------------------------------------------------------------------------
// 4. A two-way call with RTCP and other traffic
// ---------------------------------------------------------------------------------------------

const CALLER_SSRC: u32 = 0x1A2B_3C4D;
const CALLEE_SSRC: u32 = 0x5E6F_7081;

/// A call: 10.0.0.1:4000 sends 150 PCMU packets to 10.0.0.2:6000 from 10 ms on, 10.0.0.2:6000
/// answers with 100 PCMA packets from 15 ms on; the caller's RTCP port sends three SR+SDES, the
/// callee's two RR+SDES and finally a BYE; one stray UDP datagram and one TCP segment too.
fn two_way_call() -> Capture {
    let mut cap = Capture::new(Link::Ethernet(&[]));
    // First record: TCP, not part of any stream (so the streams start after 0).
    cap.ip(
        us(0),
        ip_tcp(
            addr("10.0.0.1:5061"),
            addr("10.0.0.2:5061"),
            b"sip over tls",
        ),
    );
    let mut timeline: Vec<(u64, &str, &str, Vec<u8>)> = Vec::new();
    for k in 0..150usize {
        let p = rtp(
            0,
            false,
            7_000 + k as u16,
            (k * G711_FRAME) as u32,
            CALLER_SSRC,
            &[0xFF; G711_FRAME],
        );
        timeline.push((
            10_000 + 20_000 * k as u64,
            "10.0.0.1:4000",
            "10.0.0.2:6000",
            p,
        ));
    }
    for k in 0..100usize {
        let p = rtp(
            8,
            false,
            300 + k as u16,
            9_000 + (k * G711_FRAME) as u32,
            CALLEE_SSRC,
            &[0xD5; G711_FRAME],
        );
        timeline.push((
            15_000 + 20_000 * k as u64,
            "10.0.0.2:6000",
            "10.0.0.1:4000",
            p,
        ));
    }
    for i in 0..3u64 {
        let mut p = rtcp_sr(CALLER_SSRC);
        p.extend(rtcp_sdes(CALLER_SSRC, "alice@10.0.0.1"));
        timeline.push((500_000 + 1_000_000 * i, "10.0.0.1:4001", "10.0.0.2:6001", p));
    }
    for i in 0..2u64 {
        let mut p = rtcp_rr(CALLEE_SSRC, CALLER_SSRC);
        p.extend(rtcp_sdes(CALLEE_SSRC, "bob"));
        if i == 1 {
            p.extend(rtcp_bye(CALLEE_SSRC));
        }
        timeline.push((700_000 + 1_000_000 * i, "10.0.0.2:6001", "10.0.0.1:4001", p));
    }
    // Version 1 in its first byte: neither RTP nor RTCP.
    timeline.push((
        1_234_000,
        "10.0.0.1:53000",
        "10.0.0.53:53",
        b"\x4a\x01 some DNS query".to_vec(),
    ));
    timeline.sort_by_key(|(at, ..)| *at);
    for (at, src, dst, payload) in timeline {
        cap.udp(us(at), src, dst, &payload);
    }
    cap
}

#[test]
fn a_two_way_call_with_rtcp_and_other_traffic() {
    let (dir, path) = scratch_file("call", "call.pcap");
    two_way_call().write_pcap(&path);
    let report = streams_json(&path);
    // 1 TCP + 150 + 100 RTP + 5 RTCP + 1 stray datagram.
    assert_eq!(report["records"], 257, "{report}");
    assert_eq!(report["udp"], 256);
    assert_eq!(report["other_udp"], 1);
    assert_eq!(report["frames"]["other"], 1, "the TCP segment");
    assert_eq!(report["sip_messages"], 0);

    let streams = report["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 2, "{report}");
    let (a, b) = (&streams[0], &streams[1]);
    let route = ["index", "src", "dst", "ssrc", "codec"];
    assert_eq!(
        pick(a, route),
        json!([
            1,
            "10.0.0.1:4000",
            "10.0.0.2:6000",
            CALLER_SSRC,
            "PCMU/8000"
        ])
    );
    assert_eq!(
        pick(b, route),
        json!([
            2,
            "10.0.0.2:6000",
            "10.0.0.1:4000",
            CALLEE_SSRC,
            "PCMA/8000"
        ])
    );
    assert_eq!(counters(a), [150, 150, 0, 0, 0]);
    assert_eq!(counters(b), [100, 100, 0, 0, 0]);
    assert_near(&a["stats"]["start_s"], 0.010, NS_IN_S, "caller start_s");
    assert_near(&b["stats"]["start_s"], 0.015, NS_IN_S, "callee start_s");
    assert_near(
        &a["stats"]["duration_s"],
        2.98,
        NS_IN_S,
        "caller duration_s",
    );
    assert_near(
        &b["stats"]["duration_s"],
        1.98,
        NS_IN_S,
        "callee duration_s",
    );

    let rtcp = report["rtcp"].as_array().expect("rtcp");
    assert_eq!(rtcp.len(), 2, "{report}");
    let (ra, rb) = (&rtcp[0], &rtcp[1]);
    assert_eq!(
        pick(ra, ["src", "dst"]),
        json!(["10.0.0.1:4001", "10.0.0.2:6001"])
    );
    assert_eq!(
        pick(rb, ["src", "dst"]),
        json!(["10.0.0.2:6001", "10.0.0.1:4001"])
    );
    let counts = |f: &Value| {
        let c = &f["counts"];
        [
            "datagrams",
            "sender_reports",
            "receiver_reports",
            "sdes",
            "bye",
            "app",
            "other",
            "malformed",
        ]
        .map(|k| c[k].as_u64().unwrap_or_else(|| panic!("counts.{k}: {c}")))
    };
    assert_eq!(counts(ra), [3, 3, 0, 3, 0, 0, 0, 0], "{ra}");
    assert_eq!(counts(rb), [2, 0, 2, 2, 1, 0, 0, 0], "{rb}");
    assert_eq!(ra["counts"]["ssrcs"], json!([CALLER_SSRC]));
    assert_eq!(rb["counts"]["ssrcs"], json!([CALLEE_SSRC]));

    // Two audio streams: play must be told which.
    let err = play_fails(&path, &[]);
    assert!(err.contains("choose one with --stream"), "{err}");
    let by_index = play(&path, &dir, &["--stream", "2"], true);
    assert_eq!(by_index.stats["format"], "pcma");
    assert_eq!(by_index.stats["stream"]["index"], 2);
    assert_eq!(
        metrics(&by_index.stats),
        [100, 100, 0, 0, 0],
        "{}",
        by_index.stats["metrics"]
    );
    assert_eq!(by_index.samples.len(), 100 * G711_FRAME);
    let by_ssrc = play(
        &path,
        &dir,
        &["--ssrc", &format!("0x{CALLER_SSRC:08x}")],
        true,
    );
    assert_eq!(by_ssrc.stats["format"], "pcmu");
    assert_eq!(by_ssrc.stats["stream"]["index"], 1);
    assert_eq!(
        metrics(&by_ssrc.stats),
        [150, 150, 0, 0, 0],
        "{}",
        by_ssrc.stats["metrics"]
    );
    assert_eq!(by_ssrc.samples.len(), 150 * G711_FRAME);
}

// ---------------------------------------------------------------------------------------------
// 5. IPv4 fragments
// ---------------------------------------------------------------------------------------------

/// Samples in 20 ms of static PT 11 (L16/44100/1): a 1764-byte payload, a 1784-byte UDP
/// datagram that a 1500-byte MTU splits after 1480 bytes.
const L16_44K_FRAME: usize = 882;

/// 25 L16/44100/1 packets at 20 ms, each sent as two IPv4 fragments; the fragments of packet
/// 10 arrive in reverse order and the second fragment of packet 20 is lost.
fn fragmented_stream(path: &Path) {
    const SAMPLES: usize = L16_44K_FRAME;
    let (src, dst) = (addr("10.0.0.1:4000"), addr("10.0.0.2:6000"));
    let mut cap = Capture::new(Link::Ethernet(&[]));
    for k in 0..25usize {
        let packet = rtp(
            11,
            false,
            k as u16,
            (k * SAMPLES) as u32,
            0xF4A6_0005,
            &l16_payload(k, SAMPLES),
        );
        let [first, second] = ipv4_udp_fragments(src, dst, 0x4000 + k as u16, &packet, 1480);
        let at = us(20_000 * k as u64);
        match k {
            // The fragments of packet 10 arrive in reverse order.
            10 => cap.ip(at, second).ip(at, first),
            // The second fragment of packet 20 is lost: the datagram never completes.
            20 => cap.ip(at, first),
            _ => cap.ip(at, first).ip(at, second),
        };
    }
    cap.write_pcap(path);
}

#[test]
fn fragmented_datagrams_are_reassembled_and_counted() {
    let (_dir, path) = scratch_file("fragments", "fragments.pcap");
    fragmented_stream(&path);
    let report = streams_json(&path);
    let f = &report["frames"];
    assert_eq!(report["records"], 49, "{report}");
    assert_eq!(
        pick(
            f,
            [
                "fragments",
                "reassembled",
                "incomplete",
                "other",
                "malformed"
            ]
        ),
        json!([49, 24, 1, 0, 0]),
        "{f}"
    );
    assert_eq!(report["udp"], 24);
    let streams = report["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 1, "{report}");
    let s = &streams[0];
    assert_eq!(s["codec"], "L16/44100/1");
    assert_eq!(counters(s), [24, 25, 1, 0, 0], "{}", s["stats"]);
    assert_near(
        &s["stats"]["max_delta_ms"],
        40.0,
        NS_IN_MS,
        "max_delta_ms (around the lost one)",
    );
}

#[test]
fn reassembled_datagrams_play_bit_exact() {
    const SAMPLES: usize = L16_44K_FRAME;
    let (dir, path) = scratch_file("fragments_play", "fragments.pcap");
    fragmented_stream(&path);
    // The reassembled payloads are intact: the replay is the L16 samples bit for bit, the
    // incomplete datagram concealed.
    let r = play(&path, &dir, &[], true);
    assert_eq!(r.stats["format"], "l16/44100/1");
    let [received, played, lost, late, _] = metrics(&r.stats);
    assert_eq!(
        (received, played, lost, late),
        (24, 24, 1, 0),
        "{}",
        r.stats["metrics"]
    );
    assert_eq!(r.rate, 44_100);
    assert_eq!(r.samples.len(), 25 * SAMPLES);
    for k in (0..25).filter(|&k| k != 20 && k != 21) {
        let expected: Vec<f32> = (0..SAMPLES).map(|j| to_f32(l16_sample(k, j))).collect();
        assert_packet_samples(&r.samples, k, &expected, "L16 replay");
    }
}

// ---------------------------------------------------------------------------------------------
// 6. SDP in SIP names a dynamic payload type
// ---------------------------------------------------------------------------------------------

/// An INVITE from 10.0.0.1 offering to receive PT 96 = L16/8000/1 on 10.0.0.1:4000.
fn invite_with_sdp() -> Vec<u8> {
    let sdp = "v=0\r\no=alice 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
               m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 L16/8000/1\r\n";
    format!(
        "INVITE sip:bob@10.0.0.2 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n\
         From: <sip:alice@10.0.0.1>;tag=1928301774\r\n\
         To: <sip:bob@10.0.0.2>\r\n\
         Call-ID: a84b4c76e66710@10.0.0.1\r\n\
         CSeq: 314159 INVITE\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

/// 100 packets of L16/8000/1 (PT 96) from 10.0.0.2:6000 to 10.0.0.1:4000, from 0.5 s on; the
/// INVITE first when `with_sip`.
fn dynamic_l16_call(with_sip: bool) -> Capture {
    let mut cap = Capture::new(Link::Ethernet(&[]));
    if with_sip {
        cap.udp(us(0), "10.0.0.1:5060", "10.0.0.2:5060", &invite_with_sdp());
    }
    for k in 0..100usize {
        let packet = rtp(
            96,
            false,
            k as u16,
            (k * G711_FRAME) as u32,
            0x00D1_9A96,
            &l16_payload(k, G711_FRAME),
        );
        cap.udp(
            us(500_000 + 20_000 * k as u64),
            "10.0.0.2:6000",
            "10.0.0.1:4000",
            &packet,
        );
    }
    cap
}

/// The exact output of [`dynamic_l16_call`]'s stream.
fn assert_dynamic_l16_output(r: &Replay) {
    assert_eq!(r.stats["format"], "l16/8000/1");
    assert_eq!(
        metrics(&r.stats),
        [100, 100, 0, 0, 0],
        "{}",
        r.stats["metrics"]
    );
    assert_eq!(r.rate, 8000);
    assert_eq!(r.samples.len(), 100 * G711_FRAME);
    for k in 0..100 {
        let expected: Vec<f32> = (0..G711_FRAME).map(|j| to_f32(l16_sample(k, j))).collect();
        assert_packet_samples(&r.samples, k, &expected, "L16/8000 replay");
    }
}

#[test]
fn sdp_in_a_sip_invite_names_a_dynamic_payload_type() {
    let (dir, path) = scratch_file("sdp", "call.pcap");
    dynamic_l16_call(true).write_pcap(&path);
    let report = streams_json(&path);
    assert_eq!(
        pick(&report, ["sip_messages", "sdp_bodies"]),
        json!([1, 1]),
        "{report}"
    );
    assert_eq!(report["other_udp"], 1, "the INVITE is not RTP");
    let streams = report["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 1, "{report}");
    let s = &streams[0];
    assert_eq!(
        pick(s, ["kind", "pt", "codec"]),
        json!(["audio", 96, "L16/8000/1"])
    );
    let p = &s["payloads"][0];
    assert_eq!(
        pick(p, ["pt", "role", "named_by", "packets", "clock_rate"]),
        json!([96, "audio", "sdp", 100, 8000]),
        "{p}"
    );
    assert_near(&s["stats"]["start_s"], 0.5, NS_IN_S, "start_s");
    // Named, so timed: the perfectly regular stream has no jitter.
    assert_near(&s["stats"]["jitter_ms"], 0.0, NS_IN_MS, "jitter_ms");
    assert_dynamic_l16_output(&play(&path, &dir, &[], true));
}

#[test]
fn a_dynamic_payload_type_without_sdp_needs_format() {
    let (dir, path) = scratch_file("no_sdp", "call.pcap");
    dynamic_l16_call(false).write_pcap(&path);
    let report = streams_json(&path);
    assert_eq!(pick(&report, ["sip_messages", "sdp_bodies"]), json!([0, 0]));
    let s = &report["streams"][0];
    assert_eq!(
        pick(s, ["kind", "codec"]),
        json!(["unknown", "dynamic 96"]),
        "{s}"
    );
    let p = &s["payloads"][0];
    assert_eq!(
        pick(p, ["role", "named_by", "clock_rate"]),
        json!(["unknown", "nothing", null]),
        "{p}"
    );
    // Without a clock rate there is no jitter to compute.
    assert_eq!(s["stats"]["jitter_ms"], Value::Null);
    assert_eq!(counters(s), [100, 100, 0, 0, 0]);

    let err = play_fails(&path, &[]);
    assert!(err.contains("--format"), "{err}");
    assert_dynamic_l16_output(&play(&path, &dir, &["--format", "l16/8000/1"], true));
}

// ---------------------------------------------------------------------------------------------
// 7. Telephone events inside an audio stream
// ---------------------------------------------------------------------------------------------

#[test]
fn telephone_events_are_recognised_and_not_played() {
    let (dir, path) = scratch_file("dtmf", "dtmf.pcap");
    const AUDIO: usize = 150;
    // After audio packets 30, 70 and 110 an RFC 4733 event (digits 1, 5, 9) is sent as three
    // packets 5 ms apart, all with the timestamp of the audio it starts at, the last with the
    // end bit; events share the stream's sequence numbers.
    let event_after = [(30usize, 1u8), (70, 5), (110, 9)];
    let mut cap = Capture::new(Link::Ethernet(&[]));
    let mut seq = 0u16;
    let mut next = |cap: &mut Capture, at: u64, pt: u8, ts: u32, payload: &[u8]| {
        let p = rtp(pt, false, seq, ts, 0x7E1E_0101, payload);
        seq += 1;
        cap.udp(us(at), "10.0.0.1:4000", "10.0.0.2:6000", &p);
    };
    for k in 0..AUDIO {
        let (at, ts) = (20_000 * k as u64, (k * G711_FRAME) as u32);
        next(&mut cap, at, 0, ts, &pcmu_payload(k));
        if let Some(&(_, digit)) = event_after.iter().find(|(after, _)| *after == k) {
            for i in 1..=3u16 {
                let end = if i == 3 { 0x80 } else { 0 };
                let duration = (i * 160).to_be_bytes();
                let payload = [digit, end | 10, duration[0], duration[1]];
                next(&mut cap, at + 5_000 * u64::from(i), 101, ts, &payload);
            }
        }
    }
    cap.write_pcap(&path);

    let report = streams_json(&path);
    let streams = report["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 1, "{report}");
    let s = &streams[0];
    assert_eq!(
        pick(s, ["kind", "pt", "codec"]),
        json!(["audio", 0, "PCMU/8000"])
    );
    assert_eq!(s["telephone_events"], 3);
    assert_eq!(counters(s), [159, 159, 0, 0, 0], "{}", s["stats"]);
    let payloads = s["payloads"].as_array().expect("payloads");
    assert_eq!(payloads.len(), 2, "{s}");
    let (audio, events) = (&payloads[0], &payloads[1]);
    let columns = ["pt", "name", "role", "named_by", "packets"];
    assert_eq!(
        pick(audio, columns),
        json!([0, "PCMU/8000", "audio", "static", 150])
    );
    assert_eq!(
        pick(events, columns),
        json!([101, "telephone-event/8000", "telephone-event", "guess", 9])
    );
    // Jitter is measured on the audio alone, which is perfectly regular.
    assert_near(&s["stats"]["jitter_ms"], 0.0, NS_IN_MS, "jitter_ms");
    assert_near(&s["stats"]["max_delta_ms"], 20.0, NS_IN_MS, "max_delta_ms");

    let r = play(&path, &dir, &[], true);
    let [received, played, lost, late, duplicate] = metrics(&r.stats);
    assert_eq!(
        received, AUDIO as u64,
        "only audio packets are received as audio: {}",
        r.stats["metrics"]
    );
    assert_eq!(
        (played, lost, late, duplicate),
        (150, 0, 0, 0),
        "{}",
        r.stats["metrics"]
    );
    // The events take no time: the output is the audio, packet after packet.
    assert_eq!(r.samples.len(), AUDIO * G711_FRAME);
    for k in 0..AUDIO {
        let expected: Vec<f32> = pcmu_payload(k)
            .into_iter()
            .map(|c| to_f32(ulaw_to_linear(c)))
            .collect();
        assert_packet_samples(&r.samples, k, &expected, "PCMU with events");
    }
}

// ---------------------------------------------------------------------------------------------
// 8. A capture cut short
// ---------------------------------------------------------------------------------------------

/// 50 PCMU packets at 20 ms.
fn short_stream() -> Capture {
    let mut cap = Capture::new(Link::Ethernet(&[]));
    for k in 0..50usize {
        let p = rtp(
            0,
            false,
            k as u16,
            (k * G711_FRAME) as u32,
            0xC0FF_EE00,
            &pcmu_payload(k),
        );
        cap.udp(us(20_000 * k as u64), "10.0.0.1:4000", "10.0.0.2:6000", &p);
    }
    cap
}

/// Cuts `path` `bytes` bytes short.
fn cut_short(path: &Path, bytes: u64) {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open");
    let len = file.metadata().expect("metadata").len();
    file.set_len(len - bytes).expect("truncate");
}

/// What `streams` and `play` say of [`short_stream`] missing the end of its last record.
fn assert_cut_short(path: &Path, dir: &Path) {
    let report = streams_json(path);
    let t = &report["truncated"];
    assert_eq!(t["records"], 49, "{report}");
    assert_near(&t["at_s"], 0.98 - 0.02, NS_IN_S, "truncated.at_s");
    assert!(t["reason"].as_str().is_some_and(|r| !r.is_empty()), "{t}");
    assert_eq!(report["records"], 49);
    assert_eq!(counters(&report["streams"][0]), [49, 49, 0, 0, 0]);
    // Not quiet, no RUST_LOG: the warning is what a user sees.
    let r = play(path, dir, &[], false);
    assert!(r.stderr.contains("cut short"), "stderr: {}", r.stderr);
    assert_eq!(
        metrics(&r.stats),
        [49, 49, 0, 0, 0],
        "{}",
        r.stats["metrics"]
    );
    assert_eq!(r.samples.len(), 49 * G711_FRAME);
}

#[test]
fn a_pcap_cut_in_its_last_record_is_read_up_to_it() {
    let (dir, path) = scratch_file("cut_pcap", "cut.pcap");
    short_stream().write_pcap(&path);
    // The last record is 16 bytes of header and 214 of frame: keep half of its frame.
    cut_short(&path, 107);
    assert_cut_short(&path, &dir);
}

#[test]
fn a_pcapng_cut_in_its_last_block_is_read_up_to_it() {
    let (dir, path) = scratch_file("cut_pcapng", "cut.pcapng");
    short_stream().write_pcapng(&path, Some(9));
    cut_short(&path, 107);
    assert_cut_short(&path, &dir);
}

// ---------------------------------------------------------------------------------------------
// 9. Nothing to play
// ---------------------------------------------------------------------------------------------

#[test]
fn a_capture_without_rtp_has_nothing_to_play() {
    let (_dir, path) = scratch_file("no_rtp", "dns.pcap");
    let mut cap = Capture::new(Link::Ethernet(&[]));
    for i in 0..10u64 {
        cap.udp(
            us(i * 100_000),
            "10.0.0.1:53000",
            "10.0.0.53:53",
            b"\x12\x34\x01\x00 query",
        );
        cap.udp(
            us(i * 100_000 + 3_000),
            "10.0.0.53:53",
            "10.0.0.1:53000",
            b"\x12\x34\x81\x80 answer",
        );
    }
    // One datagram that parses as RTP is not a stream on its own.
    cap.udp(
        us(2_000_000),
        "10.0.0.1:4000",
        "10.0.0.2:6000",
        &rtp(0, false, 1, 0, 1, &[0xFF; 160]),
    );
    cap.write_pcap(&path);
    let report = streams_json(&path);
    assert_eq!(
        pick(&report, ["udp", "other_udp"]),
        json!([21, 21]),
        "{report}"
    );
    assert_eq!(report["streams"], json!([]));
    let err = play_fails(&path, &[]);
    assert!(err.contains("no RTP streams found"), "{err}");
}

#[test]
fn a_file_that_is_not_a_capture_is_refused() {
    let (_dir, path) = scratch_file("junk", "junk.pcap");
    std::fs::write(&path, b"GIF89a, certainly not a capture").unwrap();
    let err = play_fails(&path, &[]);
    assert!(err.contains("not a capture"), "{err}");
}
