//! Calls one after another in one capture, between the same two endpoints, each mapping
//! dynamic payload type 99 to another L16 format in its offer and answer, and a re-INVITE that
//! changes the format mid-call: every stream must be named by the SDP in force for its own
//! endpoints, timed with its own clock, and play at its own rate and channel count, bit-exact.

mod common;
#[path = "synthetic/mod.rs"]
mod synthetic;

use common::jitterplay;
use common::run_ok;
use serde_json::{json, Value};
use synthetic::calls::*;
use synthetic::*;

#[test]
fn each_call_names_and_times_its_streams_by_its_own_sdp() {
    let (_dir, path) = scratch_file("calls_streams", "calls.pcap");
    let (cap, legs) = four_calls();
    cap.write_pcap(&path);
    let report = streams_json(&path);
    // 5 INVITEs and 5 answers, 4 of each over UDP and 1 over TCP.
    assert_eq!(report["sip_messages"], 10, "{report:#}");
    assert_eq!(report["sdp_bodies"], 10);
    let streams = report["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), legs.len(), "{report:#}");
    for (s, l) in streams.iter().zip(&legs) {
        let what = format!("stream {} ({})", s["index"], l.rtpmap());
        assert_eq!(
            pick(s, ["src", "dst", "ssrc", "kind", "pt", "codec"]),
            json!([l.src, l.dst, l.ssrc, "audio", 99, l.rtpmap()]),
            "{what}"
        );
        let p = &s["payloads"][0];
        assert_eq!(
            pick(p, ["named_by", "clock_rate", "packets"]),
            json!(["sdp", l.rate, l.packets]),
            "{what}"
        );
        let st = &s["stats"];
        assert_eq!(
            counters(s),
            [l.packets as u64, l.packets as u64, 0, 0, 0],
            "{what}"
        );
        let duration = (l.packets - 1) as f64 * l.ptime_ms as f64 / 1000.0;
        assert_near(&st["duration_s"], duration, NS_IN_S, &what);
        // Packets exactly on their own clock: no jitter, no skew. Timed with any other call's
        // clock, every step would be off by a fraction of the packet time.
        assert_near(&st["jitter_ms"], 0.0, NS_IN_MS, &what);
        assert_near(&st["max_jitter_ms"], 0.0, NS_IN_MS, &what);
        assert_near(&st["skew_ms"], 0.0, NS_IN_MS, &what);
        let ws = &s["wireshark"];
        assert_eq!(ws["lost"], 0, "{what}");
        assert_near(&ws["max_delta_ms"], l.ptime_ms as f64, NS_IN_MS, &what);
        // Wireshark counts 22050 Hz as 22 ticks per ms and 11025 Hz as 11: only there its
        // jitter is not 0.
        if l.rate % 1000 == 0 {
            assert_near(&ws["max_jitter_ms"], 0.0, NS_IN_MS, &what);
        } else {
            assert!(num(&ws["max_jitter_ms"], &what) > 0.0, "{what}: {ws}");
        }
    }
}

#[test]
fn each_stream_plays_at_its_own_rate_and_channel_count_bit_exact() {
    let (dir, path) = scratch_file("calls_play", "calls.pcap");
    let (cap, legs) = four_calls();
    cap.write_pcap(&path);
    for (i, l) in legs.iter().enumerate() {
        let index = (i + 1).to_string();
        let r = play_any(&path, &dir, &["--stream", &index], true);
        let what = format!("stream {index} ({})", l.rtpmap());
        assert_eq!(r.stats["format"], Value::from(l.format()), "{what}");
        assert_eq!((r.rate, r.channels), (l.rate, l.channels), "{what}");
        assert_eq!(
            metrics(&r.stats),
            [l.packets as u64, l.packets as u64, 0, 0, 0],
            "{what}: {}",
            r.stats["metrics"]
        );
        assert_eq!(
            r.samples.len(),
            l.packets * l.samples_per_packet(),
            "{what}: output length"
        );
        for k in 0..l.packets {
            let expected: Vec<f32> = (0..l.samples_per_packet())
                .map(|i| to_f32(l.sample(k, i)))
                .collect();
            assert_packet_samples(&r.samples, k, &expected, &what);
        }
    }
}

#[test]
fn a_stream_no_sdp_in_force_names_is_a_marked_guess_without_jitter() {
    let (dir, path) = scratch_file("calls_guess", "calls.pcap");
    let (mut cap, legs) = four_calls();
    // After the last call, L16/48000 mono from and to ports no SDP mentions (say, behind NAT).
    let stray = Leg {
        src: "192.0.2.9:7000",
        dst: "198.51.100.8:8000",
        ssrc: 0xD0,
        start_us: 7_000_000,
        ..legs[5]
    };
    for k in 0..stray.packets {
        let ts = (k * stray.frames_per_packet()) as u32;
        let p = rtp(99, false, k as u16, ts, stray.ssrc, &stray.payload(k));
        cap.udp(
            us(stray.start_us + 20_000 * k as u64),
            stray.src,
            stray.dst,
            &p,
        );
    }
    cap.write_pcap(&path);
    let report = streams_json(&path);
    let s = &report["streams"][legs.len()];
    assert_eq!(
        pick(s, ["ssrc", "kind", "codec"]),
        json!([stray.ssrc, "audio", "L16/48000"]),
        "{report:#}"
    );
    assert_eq!(
        pick(&s["payloads"][0], ["named_by", "clock_rate"]),
        json!(["guess", 48_000])
    );
    // A guessed mapping gives no clock to time the stream by.
    for k in [
        "jitter_ms",
        "mean_jitter_ms",
        "max_jitter_ms",
        "skew_ms",
        "skew_ppm",
    ] {
        assert_eq!(s["stats"][k], Value::Null, "{k}: {}", s["stats"]);
    }
    assert_eq!(s["wireshark"]["max_jitter_ms"], Value::Null);
    // The calls' own streams are still named by their SDP.
    assert_eq!(report["streams"][0]["payloads"][0]["named_by"], "sdp");

    let table = run_ok(jitterplay().arg("streams").arg(&path));
    let text = String::from_utf8_lossy(&table.stdout);
    let row = text
        .lines()
        .find(|l| l.contains("0x000000D0"))
        .unwrap_or_else(|| panic!("no row for the stray stream:\n{text}"));
    assert!(
        row.contains("L16/48000 (guess)") && row.contains("unknown"),
        "{row}"
    );

    let index = (legs.len() + 1).to_string();
    let r = play_any(&path, &dir, &["--stream", &index], false);
    assert!(
        r.stderr.contains("no SDP in force") && r.stderr.contains("--format"),
        "{}",
        r.stderr
    );
    assert_eq!((r.rate, r.channels), (48_000, 1));
    for k in 0..stray.packets {
        let expected: Vec<f32> = (0..stray.samples_per_packet())
            .map(|i| to_f32(stray.sample(k, i)))
            .collect();
        assert_packet_samples(&r.samples, k, &expected, "guessed stream");
    }
}
