//! The stream's edges, live over loopback: packets lost before the first one received or
//! after the last are found from the sender's RTCP reports and asked for again, and a stream
//! whose BYE never arrives still ends once drained.

mod common;
mod nack_support;
mod net_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{asset, read_wav, scratch};
use nack_support::{play_through_relay, source, Killed};
use net_support::{free_port, read_stats, spawn_player, stat};

/// Checks that `out` is the source sample for sample, with nothing but silence around it.
fn assert_is_the_source(out: &[f32], stats: &serde_json::Value) {
    let src = source();
    let lead = src.iter().position(|&s| s != 0.0).expect("audio") & !1;
    let at = out
        .chunks_exact(2)
        .position(|f| f == &src[lead..lead + 2])
        .map(|frame| 2 * frame)
        .unwrap_or_else(|| panic!("the source's first frame is not in the output; {stats}"));
    assert!(at >= lead, "the output starts inside the source; {stats}");
    let start = at - lead;
    let end = start + src.len();
    assert!(
        end <= out.len(),
        "the output is shorter than the source; {stats}"
    );
    let differing = out[start..end]
        .iter()
        .zip(&src)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differing, 0, "samples differ from the source; {stats}");
    let noise = out[..start].iter().chain(&out[end..]).any(|&s| s != 0.0);
    assert!(!noise, "audio outside the source's span; {stats}");
}

#[test]
fn the_first_and_last_packets_lost_on_the_way_are_asked_for_and_play_bit_exact() {
    let run = play_through_relay(
        "edge_recovery_drop",
        "delay=25ms,drop-first=3,drop-last=3",
        "delay=25ms",
        &[],
        &[],
    );
    let stats = &run.stats;
    for (counter, expected) in [
        ("/metrics/recovered", 6.0),
        ("/metrics/lost", 0.0),
        ("/metrics/lost_before_first", 0.0),
        ("/metrics/lost_after_last", 0.0),
        ("/metrics/concealed_ms", 0.0),
    ] {
        assert_eq!(stat(stats, counter), expected, "{counter}: {stats}");
    }
    assert_eq!(stats["rtcp"]["bye_received"], true, "{stats}");
    assert_is_the_source(&run.out, stats);
}

#[test]
fn when_every_bye_is_lost_the_senders_last_report_ends_the_stream_once_drained() {
    // No --idle-timeout: without the final report's verdict it would wait forever.
    let run = play_through_relay(
        "edge_recovery_no_bye",
        "delay=25ms,drop-bye=yes",
        "delay=25ms",
        &["--target-min", "1s", "--target-max", "2s"],
        &[],
    );
    let stats = &run.stats;
    assert_eq!(
        stats["rtcp"]["bye_received"], false,
        "a BYE got through: {stats}"
    );
    assert_eq!(
        stat(stats, "/metrics/played"),
        stat(stats, "/rtcp/sender_packets"),
        "{stats}"
    );
    // The buffer (1–2 s) plays out, then the stream ends: not an idle wait of any length.
    assert!(
        run.player_outlived_sender < Duration::from_secs(8),
        "ended {:?} after the sender",
        run.player_outlived_sender
    );
    assert_is_the_source(&run.out, stats);
}

/// Waits until `path` exists (the sender writes its SDP before its first packet).
fn wait_for_file(path: &Path, limit: Duration) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < limit, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `send` (with `extra` options) writes the SDP and starts at once; `play` starts from that
/// SDP. The output must be the source bit for bit; the player's final stats.
fn play_from_the_senders_sdp(name: &str, extra: &[&str]) -> serde_json::Value {
    let dir = scratch(name);
    let (play_port, send_port) = (free_port(), free_port());
    let sdp = dir.join("s.sdp");
    let stats_path = dir.join("stats.jsonl");
    let stats_arg = stats_path.display().to_string();
    let send = Command::new(env!("CARGO_BIN_EXE_jitterplay"))
        .arg("send")
        .arg(asset("music-48k-stereo.flac"))
        .args(["--to", &format!("127.0.0.1:{play_port}")])
        .args(["--local-port", &send_port.to_string(), "--quiet"])
        .args(["--impair", "delay=25ms,loss=5%,seed=5", "--sdp-out"])
        .arg(&sdp)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn send");
    let send = Killed(send);
    wait_for_file(&sdp, Duration::from_secs(10));
    let player = spawn_player(
        &dir,
        &sdp.display().to_string(),
        &["--stats-json", &stats_arg],
    );
    let played = player.wait(Duration::from_secs(40));
    let mut send = send;
    let status = send.0.wait().expect("send");
    assert!(status.success(), "send failed");
    played.assert_success();
    let (_, stats) = read_stats(&stats_path);
    assert_eq!(
        stat(&stats, "/metrics/played"),
        stat(&stats, "/rtcp/sender_packets"),
        "{stats}"
    );
    assert_eq!(stat(&stats, "/metrics/lost_before_first"), 0.0, "{stats}");
    let (out, _, _) = read_wav(&dir.join("out.wav"));
    assert_is_the_source(&out, &stats);
    stats
}

#[test]
fn a_player_started_from_the_senders_sdp_still_gets_the_first_packets() {
    // The order docs/usage.md gives: `send` writes the SDP and starts at once; `play` can only start
    // once the SDP exists, so the first packets go out before anyone listens.
    play_from_the_senders_sdp("edge_recovery_sdp", &[]);
}

#[test]
fn the_same_over_srtp_recovers_through_encrypted_nacks_and_retransmissions() {
    // The key travels in the SDP's a=crypto; RTP, RTX, reports and NACKs are all encrypted.
    let stats = play_from_the_senders_sdp("edge_recovery_srtp", &["--srtp", "AEAD_AES_128_GCM"]);
    assert!(stat(&stats, "/metrics/recovered") >= 20.0, "{stats}");
    assert!(
        stat(&stats, "/net/srtp_decrypted") >= stat(&stats, "/metrics/played"),
        "{stats}"
    );
    for refused in ["/net/srtp_auth_failed", "/net/srtp_replayed"] {
        assert_eq!(stat(&stats, refused), 0.0, "{refused}: {stats}");
    }
}

#[test]
fn an_srtp_key_with_an_mki_travels_in_the_sdp_and_every_packet_carries_it() {
    // A key with a lifetime and a 2-byte MKI: the SDP offers them as given, and the player
    // finds the key by the MKI in each packet, SRTCP (reports, NACKs, BYE) included.
    const KEY: &str =
        "AES_256_CM_HMAC_SHA1_80:inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLQ==|2^31|7:2";
    let stats = play_from_the_senders_sdp("edge_recovery_srtp_mki", &["--srtp", KEY]);
    assert!(
        stat(&stats, "/net/srtp_decrypted") >= stat(&stats, "/metrics/played"),
        "{stats}"
    );
    for refused in ["/net/srtp_auth_failed", "/net/srtp_unknown_mki"] {
        assert_eq!(stat(&stats, refused), 0.0, "{refused}: {stats}");
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("edge_recovery_srtp_mki");
    let sdp = std::fs::read_to_string(dir.join("s.sdp")).expect("the SDP");
    assert!(sdp.contains("|2^31|7:2"), "{sdp}");
}
