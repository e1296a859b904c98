//! `--metrics-listen` on `play` (live and capture), `send` and `relay`, scraped over HTTP by the
//! test: series and labels, values equal to `--stats-json` and the summaries, a stream scraped
//! hard that still plays without loss or underrun, and one-line errors.
//!
//! The scrape loops poll another process with a deadline; no sleep stands in for an event
//! this process could wait on.

mod common;
mod metrics_support;
mod net_support;

use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;
use metrics_support::*;
use net_support::*;

/// Starts `jitterplay send ASSET --to TO ARGS…` with its stdout piped (the summary), without
/// RTCP: these tests compare the last scrape with the final stats, so the player must end on
/// its idle timeout, not at once on a BYE (nack_live and rtcp_send_interop test RTCP).
fn send(asset_name: &str, to: SocketAddr, args: &[&str]) -> Child {
    jitterplay()
        .arg("send")
        .arg(asset(asset_name))
        .args(["--to", &to.to_string(), "--no-rtcp"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jitterplay send")
}

/// Scrapes `addr` every few ms while `alive` says the process runs; returns every body read.
fn scrape_while(addr: SocketAddr, limit: Duration, mut alive: impl FnMut() -> bool) -> Vec<String> {
    let start = Instant::now();
    let mut bodies = Vec::new();
    while alive() {
        assert!(start.elapsed() < limit, "still running after {limit:?}");
        if let Some((200, body)) = http_get(addr, "/metrics") {
            bodies.push(body);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    bodies
}

#[test]
fn live_play_and_send_serve_their_series_while_scraped_hard() {
    let dir = scratch("metrics_live");
    let rtp_port = free_port();
    let (play_metrics, send_metrics) = (free_tcp_addr(), free_tcp_addr());
    let stats = dir.join("stats.jsonl");
    let player = PlayerArgs::rtp(rtp_port)
        .format("l16/48000/1")
        .target("200ms", "1s")
        .idle_timeout("1500ms")
        .stats_json(&stats)
        .metrics_listen(play_metrics)
        .spawn(&dir);
    wait_until_bound(rtp_port);
    let to: SocketAddr = format!("127.0.0.1:{rtp_port}").parse().expect("addr");
    let sender = send(
        "speech-48k-mono.wav",
        to,
        &[
            "--ssrc",
            "0x5EED0013",
            "--duration",
            "2s",
            "--metrics-listen",
            &send_metrics.to_string(),
        ],
    );
    let alive = |pid: u32| std::path::Path::new(&format!("/proc/{pid}")).exists();
    // Scrape the player as fast as it answers while the stream plays, and the sender too.
    let mut sender_bodies = Vec::new();
    let player_pid = player.pid();
    let bodies = scrape_while(play_metrics, Duration::from_secs(30), || {
        if let Some((200, b)) = http_get(send_metrics, "/metrics") {
            sender_bodies.push(b);
        }
        alive(player_pid)
            && std::fs::read_to_string(format!("/proc/{player_pid}/stat"))
                .is_ok_and(|s| !s.contains(") Z "))
    });
    let sent = sender.wait_with_output().expect("send exits");
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let player_wav = player.wav.clone();
    let played = player.wait(Duration::from_secs(30));
    played.assert_success();
    let (_, last) = read_stats(&stats);
    let packets = count(&summary(&sent), "packets");

    assert!(bodies.len() >= 100, "only {} scrapes", bodies.len());
    let received: Vec<f64> = bodies
        .iter()
        .filter_map(|b| {
            samples(b, "jitterplay_packets_received_total")
                .first()
                .map(|s| s.value)
        })
        .collect();
    assert!(
        received.windows(2).all(|w| w[0] <= w[1]),
        "counters only grow: {received:?}"
    );
    let final_body = bodies.last().expect("a scrape");
    let got = samples(final_body, "jitterplay_packets_received_total");
    assert_eq!(got.len(), 1, "{final_body}");
    let labels = &got[0].labels;
    assert_eq!(labels.get("ssrc").map(String::as_str), Some("0x5EED0013"));
    assert_eq!(
        labels.get("format").map(String::as_str),
        last["format"].as_str()
    );
    assert_eq!(
        labels.get("source").map(String::as_str),
        last["source"].as_str()
    );
    // The stream arrived whole and played without trouble while it was scraped.
    assert_eq!(got[0].value as u64, packets);
    assert_eq!(stat(&last, "/metrics/received") as u64, packets);
    for key in ["lost", "late", "rebuffers", "concealed_ms"] {
        assert_eq!(
            stat(&last, &format!("/metrics/{key}")),
            0.0,
            "{key}: {last}"
        );
    }
    // The output runs dry once as the stream ends (so it does unscraped, too); never before.
    assert!(stat(&last, "/metrics/underruns") <= 1.0, "{last}");
    // What was heard is what was sent, sample for sample.
    let (source, _, _) = read_wav(&asset("speech-48k-mono.wav"));
    let (heard, _, _) = read_wav(&player_wav);
    let frames = (stat(&last, "/net/bytes") as usize - 12 * packets as usize) / 2;
    assert!(heard.len() >= frames, "{} < {frames}", heard.len());
    assert!(
        heard[..frames] == source[..frames],
        "the played audio differs from the sent audio"
    );
    for (series, key) in [
        ("jitterplay_packets_lost_total", "/metrics/lost"),
        ("jitterplay_underruns_total", "/metrics/underruns"),
        (
            "jitterplay_max_buffer_depth_seconds",
            "/metrics/max_buffer_depth_ms",
        ),
        ("jitterplay_datagrams_received_total", "/net/datagrams"),
    ] {
        let scraped = value(final_body, series, None);
        let json = stat(&last, key) / if key.ends_with("_ms") { 1e3 } else { 1.0 };
        // The last scrape precedes the final publish by at most the drain: depth maxima and
        // counters are settled by then.
        assert!(
            (scraped - json).abs() < 1e-9,
            "{series} {scraped} vs {key} {json}"
        );
    }
    let drops = samples(final_body, "jitterplay_drop_count_total");
    assert_eq!(drops.len(), 14, "{final_body}");
    assert!(drops.iter().all(|s| s.value == 0.0), "{drops:?}");

    let sender_body = sender_bodies.last().expect("sender scraped");
    let sent_packets = value(sender_body, "jitterplay_sent_packets_total", None);
    assert!(
        sent_packets > 0.0 && sent_packets <= packets as f64,
        "{sender_body}"
    );
    let s = &samples(sender_body, "jitterplay_sent_packets_total")[0].labels;
    assert_eq!(s.get("ssrc").map(String::as_str), Some("0x5EED0013"));
    assert_eq!(s.get("destination"), Some(&to.to_string()));
}

#[test]
fn capture_replay_serves_the_final_values_until_scraped() {
    let dir = scratch("metrics_capture");
    let addr = free_tcp_addr();
    let stats = dir.join("stats.jsonl");
    let mut child = jitterplay()
        .args([
            "play",
            "--quiet",
            "--fast",
            "--output",
            "null",
            "--metrics-listen",
        ])
        .arg(addr.to_string())
        .arg("--stats-json")
        .arg(&stats)
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/g711a.pcap"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn play");
    let start = Instant::now();
    let bodies = scrape_while(addr, Duration::from_secs(20), || {
        child.try_wait().expect("try_wait").is_none()
    });
    let status = child.wait().expect("wait");
    assert!(status.success());
    // It ended because it was scraped after the replay, not at the 30 s bound.
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    let (_, last) = read_stats(&stats);
    let body = bodies.last().expect("a scrape");
    let played = samples(body, "jitterplay_packets_played_total");
    assert_eq!(played.len(), 1, "{body}");
    assert_eq!(played[0].value, stat(&last, "/metrics/played"));
    assert!(played[0].value >= 236.0, "{body}");
    let labels = &played[0].labels;
    assert_eq!(labels.get("ssrc").map(String::as_str), Some("0xDEE0EE8F"));
    assert_eq!(
        labels.get("format").map(String::as_str),
        last["format"].as_str()
    );
    assert_eq!(
        labels.get("source").map(String::as_str),
        last["source"].as_str()
    );
    assert_eq!(
        value(body, "jitterplay_packets_lost_total", None),
        stat(&last, "/metrics/lost")
    );
    // A capture has no socket: no network series.
    assert!(samples(body, "jitterplay_datagrams_received_total").is_empty());
}

#[test]
fn relay_serves_what_its_summary_says() {
    let rx = receiver();
    let metrics = free_tcp_addr();
    let mut relay = jitterplay()
        .args(["relay", "--listen", "127.0.0.1:0", "--to"])
        .arg(rx.local_addr().expect("addr").to_string())
        .args([
            "--impair",
            "loss=10%,seed=3",
            "--idle-timeout",
            "1s",
            "--metrics-listen",
        ])
        .arg(metrics.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn relay");
    let mut out = std::io::BufReader::new(relay.stdout.take().expect("stdout"));
    let mut first = String::new();
    std::io::BufRead::read_line(&mut out, &mut first).expect("first line");
    let listen: SocketAddr = first
        .split_whitespace()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("relaying ADDR -> ADDR: {first:?}"));
    let sender = send("speech-48k-mono.wav", listen, &["--duration", "1s"]);
    let bodies = scrape_while(metrics, Duration::from_secs(30), || {
        relay.try_wait().expect("try_wait").is_none()
    });
    assert!(sender.wait_with_output().expect("send").status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).expect("summary");
    let summary: std::collections::HashMap<String, u64> = rest
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect();
    let body = bodies.last().expect("a scrape");
    for (series, key) in [
        ("jitterplay_relay_received_datagrams_total", "received"),
        ("jitterplay_relay_forwarded_datagrams_total", "forwarded"),
    ] {
        assert_eq!(
            value(body, series, None) as u64,
            summary[key],
            "{series}: {rest}"
        );
    }
    let dropped = value(
        body,
        "jitterplay_impaired_datagrams_total",
        Some(("effect", "dropped")),
    );
    assert_eq!(dropped as u64, summary["dropped"], "{rest}");
    assert!(dropped > 0.0, "10% loss dropped something");
    let labels = &samples(body, "jitterplay_relay_received_datagrams_total")[0].labels;
    assert_eq!(labels.get("listen"), Some(&listen.to_string()));
    assert!(labels.contains_key("source"), "{labels:?}");
}

#[test]
fn a_busy_metrics_port_and_a_file_are_one_line_errors() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    for args in [
        vec![
            "send".to_string(),
            asset("speech-48k-mono.wav").display().to_string(),
            "--to".into(),
            "127.0.0.1:9".into(),
        ],
        vec![
            "play".to_string(),
            format!("rtp://127.0.0.1:{}", free_port()),
            "--format".into(),
            "pcmu".into(),
        ],
        vec![
            "relay".to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--to".into(),
            "127.0.0.1:9".into(),
        ],
    ] {
        for (flag, what) in [("--metrics-listen", "metrics"), ("--web", "the web view")] {
            let out = jitterplay()
                .args(&args)
                .args([flag, &addr.to_string()])
                .bounded_output()
                .expect("run");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
            assert!(
                stderr.starts_with(&format!("error: cannot listen for {what} on {addr}: ")),
                "{args:?}: {stderr}"
            );
        }
    }
    let out = jitterplay()
        .args(["play", "--output", "null"])
        .arg(asset("speech-48k-mono.wav"))
        .args(["--metrics-listen", "127.0.0.1:0"])
        .bounded_output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--metrics-listen serves the metrics of RTP streams and captures"));
}

#[test]
fn a_live_player_serves_its_final_values_after_the_stream_until_scraped() {
    let dir = scratch("metrics_linger");
    let rtp_port = free_port();
    let addr = free_tcp_addr();
    let stats = dir.join("stats.jsonl");
    let player = PlayerArgs::rtp(rtp_port)
        .format("l16/48000/1")
        .target("200ms", "1s")
        .idle_timeout("500ms")
        .metrics_listen(addr)
        .stats_json(&stats)
        .spawn(&dir);
    wait_until_bound(rtp_port);
    let sender = send(
        "speech-48k-mono.flac",
        format!("127.0.0.1:{rtp_port}").parse().expect("addr"),
        &["--duration", "2s"],
    );
    let _ = sender.wait_with_output().expect("send");
    // Not scraped while it played: the first scrape comes once the final line is written.
    let start = Instant::now();
    while !std::fs::read_to_string(&stats)
        .unwrap_or_default()
        .contains("\"final\":true")
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no final stats line"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, last) = read_stats(&stats);
    let (code, body) = http_get(addr, "/metrics").expect("the endpoint outlives the stream");
    assert_eq!(code, 200);
    assert_eq!(
        value(&body, "jitterplay_packets_played_total", None),
        stat(&last, "/metrics/played"),
        "{body}"
    );
    // That scrape read the final values: the player goes, long before the 15 s linger.
    let played = player.wait(Duration::from_secs(10));
    played.assert_success();
}
