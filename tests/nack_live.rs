//! NACK recovery live over loopback: `send` (or a GStreamer sender with rtprtxsend) →
//! `relay` (25 ms each way, loss both ways) → `play`, with the default 3–5 s window.

mod common;
mod nack_support;
mod net_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{asset, read_wav, require_tool, scratch, BoundedOutput};
use nack_support::*;
use net_support::{free_port, read_stats, spawn_player, stat, wait_until_bound};

/// The way back in these tests: 25 ms, 5 % of reports and NACKs lost.
const REVERSE: &str = "delay=25ms,loss=5%,seed=11";

/// `send` through a relay impairing the way there with `forward` (5 % lost on the way back);
/// the player's final stats, the frames played bit-exact, and the sender's summary line.
fn send_through_relay(
    test: &str,
    forward: &str,
    play_args: &[&str],
) -> (serde_json::Value, usize, String) {
    let run = play_through_relay(test, forward, REVERSE, play_args, &[]);
    (run.stats, exact_frames(&source(), &run.out), run.summary)
}

fn summary_value(summary: &str, key: &str) -> f64 {
    summary
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {summary}"))
}

#[test]
fn five_percent_loss_each_way_plays_every_packet_bit_exact_and_bye_ends_it() {
    let (stats, exact, summary) =
        send_through_relay("nack_live_5pct", "delay=25ms,loss=5%,seed=3", &[]);
    let frames = source().len() / 2;
    // A lost first or last packet is known from the sender's reports and asked for; only if
    // the reports about it were lost too can it go missing, and it is then counted.
    let sent = summary_value(&summary, "packets");
    let played = stat(&stats, "/metrics/played");
    let edges =
        stat(&stats, "/metrics/lost_before_first") + stat(&stats, "/metrics/lost_after_last");
    assert_eq!(played + edges, sent, "{stats}");
    assert!(
        exact + EDGE_FRAMES / 2 * edges as usize >= frames,
        "{exact} of {frames} bit-exact; stats {stats}"
    );
    assert_eq!(stat(&stats, "/metrics/lost"), 0.0, "{stats}");
    assert_eq!(stat(&stats, "/metrics/concealed_ms"), 0.0, "{stats}");
    let recovered = stat(&stats, "/metrics/recovered");
    assert!(recovered >= 20.0, "{stats}");
    assert!(stat(&stats, "/rtcp/sender_reports") >= 1.0, "{stats}");
    // The closing SR (with the BYE) counts every packet sent.
    assert_eq!(
        stat(&stats, "/rtcp/sender_packets"),
        summary_value(&summary, "packets")
    );
    assert!(
        stats["rtcp"]["sender_cname"]
            .as_str()
            .is_some_and(|c| c.contains('@')),
        "{stats}"
    );
    assert_eq!(stats["rtcp"]["bye_received"], true, "{stats}");
    let rtt = stat(&stats, "/metrics/rtt_ms");
    assert!((45.0..200.0).contains(&rtt), "RTT {rtt}");
    // NACK and retransmission bytes against the bytes of the packets that were lost.
    let packet = stat(&stats, "/net/bytes") / stat(&stats, "/net/datagrams");
    let spent =
        summary_value(&summary, "retransmitted_bytes") + stat(&stats, "/metrics/nack_bytes");
    let ratio = spent / (recovered * packet);
    assert!(ratio <= 1.3, "{ratio:.2}× ({summary})");
}

#[test]
fn twenty_percent_loss_in_bursts_of_three_plays_999_per_mille() {
    let (stats, exact, summary) =
        // A burst can take all three copies of the BYE (the 5 % test checks BYE): the idle
        // timeout ends this one then.
        send_through_relay(
            "nack_live_burst",
            "delay=25ms,loss=20%,burst=3,seed=5",
            &["--idle-timeout", "3s"],
        );
    let frames = source().len() / 2;
    // What we control is asking: a packet whose every request or retransmission the bursty
    // path also lost (ten tries, more likely when a loaded machine delays them) is given up,
    // counted, and may be missing; nothing else may be.
    let given_up = stat(&stats, "/metrics/nack_given_up");
    let per_packet = frames as f64 / summary_value(&summary, "packets");
    assert!(given_up <= 2.0, "{stats}");
    assert!(
        exact as f64 >= 0.999 * frames as f64 - given_up * per_packet,
        "{exact} of {frames}; {stats}"
    );
    assert!(
        stat(&stats, "/metrics/lost") <= given_up,
        "only given-up packets may be lost: {stats}"
    );
    assert!(stat(&stats, "/metrics/recovered") >= 100.0, "{stats}");
}

#[test]
fn without_nack_losses_are_concealed_as_before() {
    let (stats, exact, summary) = send_through_relay(
        "nack_live_off",
        "delay=25ms,loss=5%,seed=3",
        &["--no-nack", "--idle-timeout", "2s"],
    );
    assert!(stat(&stats, "/metrics/lost") >= 20.0, "{stats}");
    assert!(stat(&stats, "/metrics/concealed_ms") > 0.0, "{stats}");
    assert_eq!(stat(&stats, "/metrics/nack_sent"), 0.0, "{stats}");
    assert_eq!(summary_value(&summary, "retransmitted"), 0.0, "{summary}");
    assert!(exact < source().len() / 2);
    // Reports still go back.
    assert!(stat(&stats, "/net/rtcp_sent") >= 1.0, "{stats}");
}

#[test]
fn a_gstreamer_sender_with_rtprtxsend_has_its_losses_recovered() {
    if !require_tool("gst-launch-1.0") || !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("nack_live_gst");
    let wav = dir.join("src.wav");
    let conv = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(asset("music-48k-stereo.flac"))
        .args(["-c:a", "pcm_s16le"])
        .arg(&wav)
        .status()
        .expect("ffmpeg");
    assert!(conv.success());
    let (play_port, relay_port, relay_out, gst_rtcp) =
        (free_port(), free_port(), free_port(), free_port());
    let stats = dir.join("stats.jsonl");
    let stats_arg = stats.display().to_string();
    let player = spawn_player(
        &dir,
        &format!("rtp://@:{play_port}"),
        &[
            "--format",
            "l16/48000/2",
            "--rtx-pt",
            "97",
            "--idle-timeout",
            "3s",
            "--stats-json",
            &stats_arg,
        ],
    );
    wait_until_bound(play_port);
    let _relay = relay(
        relay_port,
        play_port,
        relay_out,
        "delay=25ms,loss=5%,seed=3",
        REVERSE,
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/gst_rtx_sender.py");
    let gst = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(&wav)
        .args(["127.0.0.1", &relay_port.to_string(), &gst_rtcp.to_string()])
        .bounded_output()
        .expect("run the GStreamer sender");
    let gst_out = String::from_utf8_lossy(&gst.stdout).into_owned();
    assert!(
        gst.status.success(),
        "{gst_out}{}",
        String::from_utf8_lossy(&gst.stderr)
    );
    let counts: serde_json::Value =
        serde_json::from_str(gst_out.lines().last().unwrap_or("{}")).expect("sender's counters");
    let played = player.wait(Duration::from_secs(40));
    played.assert_success();
    let (_, last) = read_stats(&stats);
    let recovered = stat(&last, "/metrics/recovered");
    assert!(recovered >= 20.0, "{last}\nGStreamer: {counts}");
    assert!(stat(&last, "/metrics/rtx_received") >= recovered, "{last}");
    assert!(
        counts["num-rtx-packets"].as_u64().unwrap_or(0) >= 20,
        "{counts}"
    );
    // What we control: every packet concealed as lost was asked for as long as a
    // retransmission could still arrive in time, then given up (a loaded machine may slow the
    // GStreamer sender's answers; those are its share, reported, not ours).
    let lost = stat(&last, "/metrics/lost");
    let given_up = stat(&last, "/metrics/nack_given_up");
    let requests = counts["num-rtx-requests"].as_u64().unwrap_or(0);
    let answered = counts["num-rtx-packets"].as_u64().unwrap_or(0);
    eprintln!(
        "lost {lost}, given up {given_up}, recovered {recovered}; GStreamer answered {answered} \
         of {requests} requests ({} unanswered)",
        requests.saturating_sub(answered)
    );
    assert!(
        lost <= given_up,
        "lost {lost} but gave up on {given_up}: a loss was not asked for: {last}"
    );
    // Every retransmission that came is accounted for: it played, came too late for its
    // turn, or repeated a packet that was there.
    let used = recovered
        + stat(&last, "/metrics/recovered_too_late")
        + stat(&last, "/metrics/late")
        + stat(&last, "/metrics/duplicate");
    assert!(stat(&last, "/metrics/rtx_received") <= used, "{last}");
    let (out, _, _) = read_wav(&dir.join("out.wav"));
    let frames = source().len() / 2;
    let exact = exact_frames(&source(), &out);
    assert!(exact as f64 >= 0.99 * frames as f64, "{exact} of {frames}");
}

#[test]
fn rtcp_muxed_on_the_rtp_port_is_found_and_answered_there() {
    let dir = scratch("nack_live_mux");
    let (play_port, send_port) = (free_port(), free_port());
    let stats = dir.join("stats.jsonl");
    let stats_arg = stats.display().to_string();
    // `--rtcp auto` (the default) also listens on port + 1; muxed RTCP must be noticed.
    let player = spawn_player(
        &dir,
        &format!("rtp://@:{play_port}"),
        &["--format", "l16/48000/2", "--stats-json", &stats_arg],
    );
    wait_until_bound(play_port);
    let send = run_send(play_port, send_port, &["--rtcp-mux"]);
    let summary = String::from_utf8_lossy(&send.stdout).into_owned();
    player.wait(Duration::from_secs(30)).assert_success();
    let (_, last) = read_stats(&stats);
    assert!(stat(&last, "/rtcp/sender_reports") >= 1.0, "{last}");
    assert_eq!(last["rtcp"]["bye_received"], true, "{last}");
    assert!(summary_value(&summary, "rx_reports") >= 1.0, "{summary}");
    assert_eq!(stat(&last, "/metrics/lost"), 0.0);
}

#[test]
fn srtp_through_a_relay_that_duplicates_reorders_and_loses_plays_bit_exact() {
    // The relay cannot read SRTP and forwards it as it is: its duplicates reach the player as
    // replays (refused and counted), its reordering stays inside the replay window, and its
    // losses are recovered by encrypted NACK and RTX.
    const KEY: &str =
        "AEAD_AES_256_GCM:inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKis=";
    let run = play_through_relay(
        "nack_live_srtp",
        "delay=25ms,jitter=5ms,loss=5%,dup=10%,reorder=5%,seed=3",
        REVERSE,
        &["--srtp", KEY],
        &["--srtp", KEY],
    );
    let stats = &run.stats;
    let frames = source().len() / 2;
    let edges = stat(stats, "/metrics/lost_before_first") + stat(stats, "/metrics/lost_after_last");
    let exact = exact_frames(&source(), &run.out);
    assert!(
        exact + EDGE_FRAMES / 2 * edges as usize >= frames,
        "{exact} of {frames} bit-exact; stats {stats}"
    );
    assert_eq!(stat(stats, "/metrics/lost"), 0.0, "{stats}");
    assert!(stat(stats, "/metrics/recovered") >= 20.0, "{stats}");
    // About one datagram in ten is duplicated on the way.
    let replayed = stat(stats, "/net/srtp_replayed");
    let decrypted = stat(stats, "/net/srtp_decrypted");
    assert!(
        (0.05..=0.15).contains(&(replayed / decrypted)),
        "{replayed} replays for {decrypted} packets: {stats}"
    );
    assert_eq!(stat(stats, "/net/srtp_auth_failed"), 0.0, "{stats}");
    assert!(run.summary.contains("srtcp_refused=0"), "{}", run.summary);
}
