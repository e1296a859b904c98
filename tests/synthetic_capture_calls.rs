//! Calls one after another in one capture, between the same two endpoints, each mapping
//! dynamic payload type 99 to another L16 format in its offer and answer, and a re-INVITE that
//! changes the format mid-call: every stream must be named by the SDP in force for its own
//! endpoints, timed with its own clock, and play at its own rate and channel count, bit-exact.

mod common;
#[path = "synthetic/mod.rs"]
mod synthetic;

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
