//! RFC 7273 media clocks: a sender stamps packets from the host clock (as an AES67 sender does
//! from PTP: `tests/support/mediaclk_sender.py`, which sends on time to tens of microseconds),
//! and `play` measures its media clock against the same reference:
//! - a sender whose timestamps run a known number of samples ahead of what its SDP announces is
//!   reported at that offset;
//! - a sender whose clock runs 50 ppm fast is reported at +50 ppm within 40 s.

mod common;
mod net_support;

use std::time::Duration;

use common::*;
use net_support::*;

/// The SDP of the test sender's stream, announcing `announced` as its media clock offset.
fn sdp(port: u16, announced: u32) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=clocked\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 96\r\na=rtpmap:96 L16/48000/2\r\na=ptime:5\r\n\
         a=ts-refclk:ptp=IEEE1588-2008:00-1D-C1-FF-FE-12-34-56:0\r\na=mediaclk:direct={announced}\r\n"
    )
}

/// Plays the test sender's stream (timestamps `offset` samples ahead of the host clock, which
/// runs `ppm` fast) from an SDP announcing `announced`; returns the final stats line.
fn measure(test: &str, announced: u32, offset: u32, ppm: f64, seconds: u32) -> serde_json::Value {
    if !require_tool("python3") {
        return serde_json::Value::Null;
    }
    let dir = scratch(test);
    let port = free_port();
    let sdp_path = dir.join("s.sdp");
    std::fs::write(&sdp_path, sdp(port, announced)).expect("write sdp");
    let stats = dir.join("stats.jsonl");
    let player = PlayerArgs::input(&sdp_path.display().to_string())
        .target("1s", "2s")
        .idle_timeout("2s")
        .stats_json(&stats)
        .spawn(&dir);
    wait_until_bound(port);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/mediaclk_sender.py");
    run_ok_within(
        std::process::Command::new("python3").arg(script).args([
            "127.0.0.1".to_string(),
            port.to_string(),
            offset.to_string(),
            ppm.to_string(),
            seconds.to_string(),
        ]),
        Duration::from_secs(u64::from(seconds) + 60),
    );
    player
        .wait(Duration::from_secs(u64::from(seconds) + 60))
        .assert_success();
    final_stats(&std::fs::read_to_string(&stats).expect("stats"))
}

#[test]
fn a_sender_ahead_of_its_announced_media_clock_is_reported_at_its_offset() {
    let last = measure("mediaclk_offset", 1_000, 1_480, 0.0, 6);
    if last.is_null() {
        return;
    }
    let offset = stat(&last, "/metrics/mediaclk_offset_samples");
    eprintln!("announced 1000, stamped 1480: measured {offset:.2} samples");
    // The least-delayed packets carry the sender's scheduling and the loopback's delay: tens of
    // microseconds on a loaded machine (a sample is 21 µs).
    assert!((offset - 480.0).abs() <= 3.0, "measured {offset} samples");
    assert!(
        last["ts_refclk"]
            .as_str()
            .is_some_and(|r| r.starts_with("ptp=IEEE1588-2008:00-1D-C1")),
        "{last}"
    );
    assert!(
        last["reference_clock"]
            .as_str()
            .is_some_and(|c| c.starts_with("host ")),
        "{last}"
    );
}

#[test]
fn a_sender_fast_by_50_ppm_is_reported_at_50_ppm() {
    let last = measure("mediaclk_drift", 0, 0, 50.0, 40);
    if last.is_null() {
        return;
    }
    let drift = stat(&last, "/metrics/mediaclk_drift_ppm");
    eprintln!("sender +50 ppm: measured {drift:+.2} ppm");
    assert!((drift - 50.0).abs() <= 2.0, "measured {drift} ppm");
}

#[test]
fn send_stamps_from_the_host_clock_and_announces_it() {
    let dir = scratch("mediaclk_send");
    let sdp = dir.join("s.sdp");
    run_ok(
        jitterplay()
            .arg("send")
            .arg(asset("speech-48k-mono.wav"))
            .args([
                "--to",
                "127.0.0.1:9",
                "--mediaclk-offset",
                "1000",
                "--duration",
                "0s",
                "--sdp-out",
            ])
            .arg(&sdp),
    );
    let text = std::fs::read_to_string(&sdp).expect("sdp");
    assert!(text.contains("a=mediaclk:direct=1000\r\n"), "{text}");
    assert!(text.contains("a=ts-refclk:ntp=/traceable/\r\n"), "{text}");
}
