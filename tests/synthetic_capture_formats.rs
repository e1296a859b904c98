//! Synthetic captures in every container, link type and timestamp resolution jitterplay reads,
//! with IP fragments and truncated files: each must be read exactly.

mod common;
#[path = "synthetic/mod.rs"]
mod synthetic;

use std::path::Path;

use serde_json::{json, Value};
use synthetic::*;

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
