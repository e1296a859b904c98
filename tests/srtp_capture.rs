//! A SIP call with SDES-keyed SRTP, encrypted by libsrtp through PyPI's pylibsrtp (a build
//! independent of the one jitterplay links; `scripts/make_srtp_call.py` made
//! `assets/srtp-call.pcap`): `streams` finds each side's key in its own SDP and lists the
//! streams with their real figures, `play` decrypts the caller's audio bit for bit, and the
//! replayed and forged packets the script added are refused and counted.

mod common;

use std::process::Command;

use common::*;

fn streams_json() -> serde_json::Value {
    let out = run_ok(
        jitterplay()
            .args(["streams", "--json"])
            .arg(asset("srtp-call.pcap")),
    );
    serde_json::from_slice(&out.stdout).expect("streams --json")
}

#[test]
fn streams_lists_both_sides_decrypted_with_the_keys_their_sdp_offered() {
    let report = streams_json();
    let streams = report["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 2, "{report}");
    let (a, b) = (&streams[0], &streams[1]);
    assert_eq!(a["ssrc"], 0x1111_1111, "{a}");
    assert_eq!(a["codec"], "PCMU/8000", "{a}");
    assert_eq!(a["stats"]["packets"], 100, "{a}");
    assert_eq!(a["stats"]["lost"], 0, "{a}");
    let srtp = &a["srtp"];
    // The offer's first a=crypto line is a suite nobody speaks; the second one is used.
    assert_eq!(srtp["suite"], "AES_CM_128_HMAC_SHA1_80", "{srtp}");
    assert_eq!(srtp["key"], "sender_sdp", "{srtp}");
    assert_eq!(
        (
            &srtp["srtp_decrypted"],
            &srtp["srtp_auth_failed"],
            &srtp["srtp_replayed"]
        ),
        (&100.into(), &1.into(), &1.into()),
        "{srtp}"
    );
    assert_eq!(b["srtp"]["suite"], "AEAD_AES_128_GCM", "{b}");
    assert_eq!(b["srtp"]["srtp_decrypted"], 100, "{b}");
    assert_eq!(b["stats"]["packets"], 100, "{b}");
    // The sender reports are SRTCP: decrypted, they read as reports.
    let rtcp = report["rtcp"].as_array().expect("rtcp");
    assert!(
        rtcp.iter().all(|f| f["counts"]["malformed"] == 0),
        "{rtcp:?}"
    );
    let text =
        String::from_utf8(run_ok(jitterplay().arg("streams").arg(asset("srtp-call.pcap"))).stdout)
            .unwrap();
    assert!(
        text.contains("stream 1: SRTP AES_CM_128_HMAC_SHA1_80, key from its sender's SDP"),
        "{text}"
    );
    assert!(!text.contains("AQIDBAUG"), "a key was printed: {text}");
}

#[test]
fn play_decrypts_the_callers_audio_bit_exact() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("srtp_capture_play");
    let wav = dir.join("a.wav");
    run_ok(
        jitterplay()
            .arg("play")
            .arg(asset("srtp-call.pcap"))
            .args(["--stream", "1", "--quiet", "--fast", "--output"])
            .arg(format!("wav:{}", wav.display())),
    );
    let reference = run_ok(
        Command::new("ffmpeg")
            .args([
                "-v", "error", "-f", "mulaw", "-ar", "8000", "-ac", "1", "-i",
            ])
            .arg(asset("srtp-call-a.ulaw"))
            .args(["-f", "f32le", "-"]),
    );
    let reference: Vec<f32> = reference
        .stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let (out, rate, channels) = read_wav(&wav);
    assert_eq!((rate, channels), (8_000, 1));
    assert_eq!(reference.len(), 16_000);
    assert!(out.len() >= reference.len(), "{} samples", out.len());
    assert!(
        out[..reference.len()] == reference[..],
        "the output is not the caller's audio"
    );
}

#[test]
fn simulate_replays_the_decrypted_callee() {
    let dir = scratch("srtp_capture_simulate");
    let report = dir.join("report.json");
    run_ok(
        jitterplay()
            .arg("simulate")
            .arg(asset("srtp-call.pcap"))
            .args(["--stream", "2", "--report"])
            .arg(&report),
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
    let m = &report["metrics"];
    assert_eq!(
        (&m["received"], &m["played"], &m["lost"]),
        (&100.into(), &100.into(), &0.into()),
        "{m}"
    );
}

/// `monitor` streams a plain capture but, once the call's SIP offers SRTP, reads it whole to
/// find each flow's key: both sides are measured decrypted, as `streams` lists them.
#[test]
fn monitor_measures_both_sides_of_an_srtp_call_decrypted() {
    let dir = scratch("srtp_capture_monitor");
    let summary = dir.join("summary.json");
    run_ok(
        jitterplay()
            .arg("monitor")
            .arg(asset("srtp-call.pcap"))
            .args(["--quiet", "--summary"])
            .arg(&summary),
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).expect("summary")).expect("json");
    let mut rows: Vec<&serde_json::Value> =
        report["ended"].as_array().expect("ended").iter().collect();
    rows.sort_by_key(|r| r["ssrc"].as_str().map(str::to_owned));
    assert_eq!(rows.len(), 2, "{report}");
    for (row, ssrc) in rows.iter().zip(["0x11111111", "0x22222222"]) {
        assert_eq!(row["ssrc"], ssrc, "{row}");
        assert_eq!(row["codec"], "PCMU/8000", "{row}");
        assert_eq!(row["packets"], 100, "{row}");
        assert_eq!(row["lost"], 0, "{row}");
        // Decrypted audio has a level; ciphertext through a G.711 table would read as noise
        // near full scale.
        let level = row["level_dbfs"].as_f64().expect("a level");
        assert!(level < -3.0, "{row}");
    }
}
