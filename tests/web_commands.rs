//! `--web` on every command, not only a live player: `send` shows what it sends, `relay` what its
//! impairment did to each leg, `play FILE` and `play CAPTURE` their status and the audio played.

mod common;
mod net_support;
mod web_support;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use net_support::*;
use serde_json::Value;
use web_support::*;

fn spawn(args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_jitterplay"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn jitterplay")
}

/// Kills the child when the test ends, whatever happens.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `/stats.json` at `addr` until `ok` holds (the last object is returned either way).
fn stats_until(addr: std::net::SocketAddr, limit: Duration, ok: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    let mut last = Value::Null;
    while start.elapsed() < limit {
        if let Ok((200, body)) = get(addr, "/stats.json", Duration::from_secs(2)) {
            last = serde_json::from_str(&body).expect("stats.json is JSON");
            if ok(&last) {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    last
}

#[test]
fn send_and_relay_show_their_traffic_and_the_relays_impairment() {
    let relay_port = free_port();
    let sink = receiver();
    let sink_addr = sink.local_addr().expect("sink addr");
    let relay_web = free_tcp_addr();
    let _relay = Killed(spawn(&[
        "relay".into(),
        "--listen".into(),
        format!("127.0.0.1:{relay_port}"),
        "--to".into(),
        sink_addr.to_string(),
        "--impair".into(),
        "loss=20%,seed=3".into(),
        "--web".into(),
        relay_web.to_string(),
    ]));
    wait_for_web(relay_web, Duration::from_secs(20));
    let send_web = free_tcp_addr();
    let _send = Killed(spawn(&[
        "send".into(),
        asset("speech-48k-mono.wav").display().to_string(),
        "--to".into(),
        format!("127.0.0.1:{relay_port}"),
        "--web".into(),
        send_web.to_string(),
    ]));
    wait_for_web(send_web, Duration::from_secs(20));
    let drain = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let until = Instant::now() + Duration::from_secs(4);
        while Instant::now() < until {
            let _ = sink.recv(&mut buf);
        }
    });
    let sent = stats_until(send_web, Duration::from_secs(10), |s| {
        s["packets"].as_u64().unwrap_or(0) >= 100
    });
    assert_eq!(sent["state"], "sending", "{sent}");
    assert!(sent["packets"].as_u64().unwrap_or(0) >= 100, "{sent}");
    assert!(
        sent["info"]["ssrc"]
            .as_str()
            .is_some_and(|s| s.starts_with("0x")),
        "{sent}"
    );
    let relayed = stats_until(relay_web, Duration::from_secs(10), |s| {
        s.pointer("/forward/impairment/dropped")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            >= 10
    });
    assert_eq!(relayed["state"], "relaying", "{relayed}");
    let offered = relayed
        .pointer("/forward/impairment/offered")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let dropped = relayed
        .pointer("/forward/impairment/dropped")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    assert!(offered >= 50 && dropped >= 10, "{relayed}");
    assert!(
        (dropped as f64 / offered as f64 - 0.2).abs() < 0.1,
        "a 20 % loss: {dropped}/{offered}"
    );
    // The relay's feed carries its role and the drops as events.
    let (mut ws, _) = tungstenite::connect(format!("ws://{relay_web}/ws")).expect("connect");
    let mut events = 0;
    let mut role = String::new();
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until && (events == 0 || role.is_empty()) {
        let Ok(message) = ws.read() else { break };
        let update: Value =
            serde_json::from_str(message.to_text().unwrap_or("{}")).unwrap_or_default();
        if let Some(r) = update["role"].as_str() {
            role = r.to_string();
        }
        let history = update["history"].as_array().cloned().unwrap_or_default();
        for point in history.iter().chain(std::iter::once(&update["point"])) {
            events += point["events"]
                .as_array()
                .map_or(0, |e| e.iter().filter(|e| e[1] == "dropped").count());
        }
    }
    assert!(events > 0, "the relay's drops reach the event lane");
    assert_eq!(role, "relay");
    drain.join().expect("drain");
}

#[test]
fn a_file_and_a_capture_show_their_status_and_stream_their_audio() {
    let dir = scratch("web_commands_file");
    let wav = dir.join("tone.wav");
    tone(&wav, 440.0, 30);
    let web = free_tcp_addr();
    let _file = Killed(spawn(&[
        "play".into(),
        wav.display().to_string(),
        "--output".into(),
        "null".into(),
        "--web".into(),
        web.to_string(),
    ]));
    wait_for_web(web, Duration::from_secs(20));
    let status = stats_until(web, Duration::from_secs(5), |s| {
        s["position_s"].as_f64().unwrap_or(0.0) > 0.2
    });
    assert!(
        status["duration_s"].as_f64().unwrap_or(0.0) > 6.0,
        "{status}"
    );
    // /listen.wav: headers at once, then the audio as it plays.
    let mut s = std::net::TcpStream::connect(web).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    use std::io::Write;
    write!(s, "GET /listen.wav HTTP/1.1\r\nHost: t\r\n\r\n").expect("ask");
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    let start = Instant::now();
    while got.len() < 200_000 && start.elapsed() < Duration::from_secs(5) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        &text[..text.len().min(300)]
    );
    assert!(text.contains("content-type: audio/wav"), "{}", &text[..300]);
    assert!(
        text.contains("transfer-encoding: chunked"),
        "{}",
        &text[..300]
    );
    assert!(got.windows(4).any(|w| w == b"RIFF"), "a WAV header");
    assert!(
        got.len() >= 150_000,
        "{} bytes of 48 kHz stereo in under 5 s",
        got.len()
    );

    // ffmpeg (and so ffplay) plays each of the three streams.
    if require_tool("ffmpeg") {
        for path in ["/listen", "/listen.flac", "/listen.wav"] {
            let out = Command::new("ffmpeg")
                .args(["-v", "error", "-t", "1", "-i"])
                .arg(format!("http://{web}{path}"))
                .args(["-f", "s16le", "-ac", "1", "-ar", "8000", "-"])
                .bounded_output()
                .expect("ffmpeg");
            assert!(
                out.status.success(),
                "{path}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let samples: Vec<i16> = out
                .stdout
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
            let loud = samples.iter().filter(|s| s.unsigned_abs() > 300).count();
            assert!(
                samples.len() >= 7_000 && loud > samples.len() / 4,
                "{path}: {} samples, {loud} of them audible",
                samples.len()
            );
        }
    }

    let capture_web = free_tcp_addr();
    let _capture = Killed(spawn(&[
        "play".into(),
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/g711a.pcap")
            .display()
            .to_string(),
        "--output".into(),
        "null".into(),
        "--web".into(),
        capture_web.to_string(),
    ]));
    wait_for_web(capture_web, Duration::from_secs(20));
    let status = stats_until(capture_web, Duration::from_secs(10), |s| {
        s.pointer("/metrics/received")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            > 10
    });
    assert!(
        status
            .pointer("/metrics/received")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            > 10,
        "{status}"
    );
    assert!(status["format"].as_str().is_some(), "{status}");
}
