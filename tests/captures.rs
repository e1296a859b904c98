//! Replaying real captures (pcap, rtpdump) with their original timing through the live player.

mod common;

use std::path::Path;

use common::*;

fn final_stats(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("stats written");
    let last = text.lines().last().expect("a final line");
    let value: serde_json::Value = serde_json::from_str(last).expect("JSON");
    assert_eq!(value["final"], true);
    value
}

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn a_real_jittery_pcma_call_replays_without_loss() {
    let dir = scratch("capture_nb6");
    let wav = dir.join("out.wav");
    let stats = dir.join("stats.jsonl");
    run_ok(
        jitterplay()
            .args([
                "play",
                "--quiet",
                "--target-min",
                "200ms",
                "--target-max",
                "1s",
                "--output",
            ])
            .arg(format!("wav:{}", wav.display()))
            .arg("--stats-json")
            .arg(&stats)
            .arg(data("nb6-telephone.pcap")),
    );
    let s = final_stats(&stats);
    let m = &s["metrics"];
    let received = m["received"].as_u64().unwrap();
    assert!(received > 200, "{s}");
    assert_eq!(m["played"].as_u64(), Some(received), "{s}");
    assert_eq!(m["lost"].as_u64(), Some(0), "{s}");
    assert_eq!(m["late"].as_u64(), Some(0), "{s}");
    assert_eq!(m["underruns"].as_u64(), Some(0), "{s}");
    assert_eq!(s["format"], "pcma");
    // The capture's real jitter is measured (RFC 3550), not invented.
    let jitter = m["jitter_ms"].as_f64().unwrap();
    assert!(jitter > 0.5 && jitter < 20.0, "jitter {jitter}");
    // Every packet's 20 ms of 8 kHz audio is in the output, which starts at the first sample.
    let (samples, rate, channels) = read_wav(&wav);
    assert_eq!((rate, channels), (8000, 1));
    assert!(
        samples.len() >= received as usize * 160,
        "{} samples for {received} packets",
        samples.len()
    );
    assert!(
        samples.iter().any(|s| s.abs() > 0.01),
        "the call is not silent"
    );
}

#[test]
fn an_rtpdump_file_replays() {
    let dir = scratch("capture_rtpdump");
    let stats = dir.join("stats.jsonl");
    run_ok(
        jitterplay()
            .args([
                "play",
                "--quiet",
                "--target-min",
                "100ms",
                "--target-max",
                "300ms",
                "--output",
                "null",
                "--stats-json",
            ])
            .arg(&stats)
            .arg(data("bark.rtp")),
    );
    let s = final_stats(&stats);
    assert_eq!(s["metrics"]["received"].as_u64(), Some(15), "{s}");
    assert_eq!(s["metrics"]["played"].as_u64(), Some(15), "{s}");
    assert_eq!(s["format"], "pcmu");
}

#[test]
fn a_file_that_is_not_a_capture_is_refused_clearly() {
    let dir = scratch("capture_bad");
    let path = dir.join("junk.pcap");
    std::fs::write(&path, b"this is not a capture at all").unwrap();
    let out = jitterplay()
        .args(["play", "--output", "null"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a readable pcap, pcapng or rtpdump file"),
        "{err}"
    );
}
