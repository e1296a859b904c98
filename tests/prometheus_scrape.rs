//! `--metrics-listen` scraped by a real Prometheus server (Debian's `prometheus`, 2.42):
//! `send` → `relay` (5 % loss) → `play`, each serving its metrics; the server scrapes all three
//! every second, and its query API must return our series, with their labels, holding the
//! values the stream produced (the summaries and `--stats-json`).
//!
//! Fails when `CI` is set and `prometheus` is missing; skips with a reason otherwise.

mod common;
mod metrics_support;
mod monitor_support;
mod net_support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use metrics_support::*;
use net_support::*;

const SSRC: &str = "0x5EED0042";

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Percent-encodes a PromQL query for a URL.
fn encode(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The instant vector Prometheus returns for `query` (empty while it has no such series).
fn query(web: SocketAddr, query: &str) -> Vec<serde_json::Value> {
    let Some((200, body)) = http_get(web, &format!("/api/v1/query?query={}", encode(query))) else {
        return Vec::new();
    };
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    json["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The one value of `query`, waiting (up to the deadline) for Prometheus to have it.
fn one_value(web: SocketAddr, q: &str, deadline: Instant) -> (f64, serde_json::Value) {
    loop {
        let result = query(web, q);
        if let [only] = result.as_slice() {
            let value = only["value"][1]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN);
            return (value, only["metric"].clone());
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus has no single series for {q}: {result:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn last(series: &str) -> String {
    format!("last_over_time({series}[5m])")
}

/// A Prometheus server scraping `targets` every second, ready and scraping all of them (as
/// down until they start); its API address.
fn start_prometheus(dir: &std::path::Path, targets: &[SocketAddr]) -> (Killed, SocketAddr) {
    let web = free_tcp_addr();
    let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: jitterplay\n    static_configs:\n      - targets: [{}]\n",
            list.join(", ")
        ),
    )
    .expect("write config");
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("log");
    let prometheus = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus"),
    );
    let start = Instant::now();
    while !matches!(http_get(web, "/-/ready"), Some((200, _))) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "prometheus not ready: {}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Service discovery hands targets to the scrapers in batches (every 5 s): go on once all
    // are being scraped (down, until the commands start).
    while query(web, "up").len() < targets.len() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "prometheus never scraped the targets"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (prometheus, web)
}

#[test]
fn prometheus_scrapes_send_relay_and_play() {
    if !require_tool("prometheus") {
        return;
    }
    let dir = scratch("prometheus_scrape");
    let rtp_port = free_port();
    let (m_play, m_relay, m_send) = (free_tcp_addr(), free_tcp_addr(), free_tcp_addr());
    let (_prometheus, web) = start_prometheus(&dir, &[m_play, m_relay, m_send]);
    let start = Instant::now();

    let stats = dir.join("stats.jsonl");
    // Idle long enough after the stream for a few scrapes of the final values.
    let player = PlayerArgs::rtp(rtp_port)
        .format("l16/48000/1")
        .target("200ms", "1s")
        .idle_timeout("4s")
        .stats_json(&stats)
        .metrics_listen(m_play)
        .spawn(&dir);
    wait_until_bound(rtp_port);
    let mut relay = Killed(
        jitterplay()
            .args(["relay", "--listen", "127.0.0.1:0", "--to"])
            .arg(format!("127.0.0.1:{rtp_port}"))
            .args(["--impair", "loss=5%,seed=11", "--idle-timeout", "4s"])
            .args(["--metrics-listen", &m_relay.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn relay"),
    );
    let mut relay_out = std::io::BufReader::new(relay.0.stdout.take().expect("stdout"));
    let mut first = String::new();
    std::io::BufRead::read_line(&mut relay_out, &mut first).expect("relay's first line");
    let listen = first.split_whitespace().nth(1).expect("relaying ADDR");
    let sent = run_ok(
        jitterplay()
            .args(["send"])
            .arg(asset("speech-48k-mono.wav"))
            // Without RTCP: the player then ends on its idle timeout, which leaves Prometheus
            // time to scrape the final values (a BYE would end it at once), and no
            // retransmission makes the relay forward more than the stream (nack_live tests those).
            .args([
                "--to",
                listen,
                "--ssrc",
                SSRC,
                "--duration",
                "3s",
                "--no-rtcp",
            ])
            .args(["--metrics-listen", &m_send.to_string()]),
    );
    let sent_packets = count(&summary(&sent), "packets") as f64;
    let mut relay_summary = String::new();
    std::io::Read::read_to_string(&mut relay_out, &mut relay_summary).expect("relay summary");
    assert!(relay.0.wait().expect("relay exits").success());
    let relay_count = |key: &str| -> f64 {
        relay_summary
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {relay_summary:?}"))
    };
    player.wait(Duration::from_secs(30)).assert_success();
    let (_, fin) = read_stats(&stats);

    // Every target was scraped, through the OpenMetrics parser, at least once successfully.
    let deadline = Instant::now() + Duration::from_secs(15);
    for target in [m_play, m_relay, m_send] {
        let (up, _) = one_value(
            web,
            &format!("max_over_time(up{{instance=\"{target}\"}}[5m])"),
            deadline,
        );
        assert_eq!(up, 1.0, "{target} was never scraped successfully");
    }
    // The player's series hold what --stats-json says, labelled with the stream.
    let sel = format!("{{ssrc=\"{SSRC}\"}}");
    let (received, labels) = one_value(
        web,
        &last(&format!("jitterplay_packets_received_total{sel}")),
        deadline,
    );
    assert_eq!(received, stat(&fin, "/metrics/received"));
    assert_eq!(labels["format"], fin["format"], "{labels}");
    assert_eq!(labels["source"], fin["source"], "{labels}");
    assert_eq!(labels["job"], "jitterplay", "{labels}");
    for (series, key, scale) in [
        ("jitterplay_packets_lost_total", "/metrics/lost", 1.0),
        ("jitterplay_packets_played_total", "/metrics/played", 1.0),
        (
            "jitterplay_max_buffer_depth_seconds",
            "/metrics/max_buffer_depth_ms",
            1e-3,
        ),
        ("jitterplay_datagrams_received_total", "/net/datagrams", 1.0),
    ] {
        let (v, _) = one_value(web, &last(&format!("{series}{sel}")), deadline);
        let want = stat(&fin, key) * scale;
        assert!(
            (v - want).abs() < 1e-9,
            "{series} = {v}, --stats-json {key} {want}"
        );
    }
    let (late, _) = one_value(
        web,
        &last(&format!(
            "jitterplay_drop_count_total{{ssrc=\"{SSRC}\",reason=\"late\"}}"
        )),
        deadline,
    );
    assert_eq!(late, stat(&fin, "/metrics/late"));
    // The relay's series hold its summary, and the player received what it forwarded.
    let (forwarded, _) = one_value(
        web,
        &last("jitterplay_relay_forwarded_datagrams_total"),
        deadline,
    );
    assert_eq!(forwarded, relay_count("forwarded"));
    assert_eq!(forwarded, received);
    let (dropped, _) = one_value(
        web,
        &last("jitterplay_impaired_datagrams_total{effect=\"dropped\"}"),
        deadline,
    );
    assert_eq!(dropped, relay_count("dropped"));
    assert!(dropped > 0.0, "5% loss dropped nothing: {relay_summary}");
    let (relayed, _) = one_value(
        web,
        &last("jitterplay_relay_received_datagrams_total"),
        deadline,
    );
    assert_eq!(relayed, sent_packets);
    // The sender exits right after its last packet: its last scrape holds a value on the way.
    let (sent_scraped, send_labels) = one_value(
        web,
        &last(&format!("jitterplay_sent_packets_total{sel}")),
        deadline,
    );
    assert!(
        sent_scraped > 0.0 && sent_scraped <= sent_packets,
        "{sent_scraped} of {sent_packets}"
    );
    assert_eq!(send_labels["format"], "l16/48000/1", "{send_labels}");
    eprintln!(
        "prometheus: sent {sent_packets} (scraped {sent_scraped}), relay dropped {dropped}, player received {received} lost {} in {:.1} s",
        stat(&fin, "/metrics/lost"),
        start.elapsed().as_secs_f64()
    );
}

/// `monitor` over 200 live streams with `--max-streams 150`: Prometheus holds a series per
/// tracked stream with its labels, and the monitor says it left 50 untracked.
#[test]
fn prometheus_scrapes_per_stream_series_of_a_monitor_bounded_by_max_streams() {
    if !require_tool("prometheus") {
        return;
    }
    let dir = scratch("prometheus_monitor");
    let metrics = free_tcp_addr();
    let (_prometheus, web) = start_prometheus(&dir, &[metrics]);
    let base = monitor_support::free_range(200);
    let plans: Vec<monitor_support::Planned> = (0..200u16)
        .map(|i| monitor_support::plan(usize::from(i), base + 2 * i))
        .collect();
    let mut monitor = Killed(
        jitterplay()
            .args(["monitor", &format!("rtp://127.0.0.1:{base}-{}", base + 398)])
            .args([
                "--max-streams",
                "150",
                "--idle",
                "30s",
                "--duration",
                "13s",
                "--quiet",
            ])
            .args([
                "--metrics-listen",
                &metrics.to_string(),
                "--metrics-linger",
                "10s",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the monitor"),
    );
    let start = Instant::now();
    while (base..base + 400).any(|p| std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok()) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "monitor never bound"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    monitor_support::send_all(&plans, Duration::from_millis(5));
    let status = monitor.0.wait().expect("monitor exit");
    assert!(status.success(), "monitor failed");
    let deadline = Instant::now() + Duration::from_secs(10);
    let series = query(web, &last("jitterplay_monitor_stream_packets_total"));
    assert_eq!(
        series.len(),
        150,
        "one series per tracked stream: {series:?}"
    );
    let (untracked, _) = one_value(
        web,
        &last("jitterplay_monitor_streams_untracked_total"),
        deadline,
    );
    assert_eq!(untracked, 50.0);
    let (bound, _) = one_value(web, &last("jitterplay_monitor_max_streams"), deadline);
    assert_eq!(bound, 150.0);
    // A stream's final figures, under its labels: the streams first heard are the tracked ones.
    for index in [0usize, 21, 37, 149] {
        let p = &plans[index];
        let e = monitor_support::expected(p);
        let ssrc = format!("0x{:08X}", p.ssrc);
        let q = |name: &str| {
            last(&format!(
                "jitterplay_monitor_stream_{name}{{ssrc=\"{ssrc}\"}}"
            ))
        };
        let (packets, labels) = one_value(web, &q("packets_total"), deadline);
        assert_eq!(packets, e.packets as f64, "{ssrc}: {labels}");
        assert_eq!(labels["codec"], "PCMU/8000", "{labels}");
        assert_eq!(
            labels["destination"],
            format!("127.0.0.1:{}", p.port),
            "{labels}"
        );
        let (lost, _) = one_value(web, &q("network_lost_total"), deadline);
        assert_eq!(lost, e.lost as f64, "{ssrc}");
        let (bursts, _) = one_value(web, &q("loss_burst_length_count"), deadline);
        assert_eq!(bursts, e.bursts.values().sum::<u64>() as f64, "{ssrc}");
        let (mos, _) = one_value(web, &q("mos"), deadline);
        assert!((1.0..=4.5).contains(&mos), "{ssrc}: MOS {mos}");
    }
    eprintln!("prometheus: 150 of 200 streams exported, {untracked} untracked");
}
