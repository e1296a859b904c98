//! Hostile web clients change nothing. While `jitterplay play rtp://… --web ADDR` plays 20 s of
//! 48 kHz stereo L16 noise in 5 ms packets to `wav:`, the web server gets, all at once: 1,000
//! idle connections, 20 clients sending a byte every 4 s, a WebSocket client and a `/listen.wav`
//! client that never read, 64 KiB header lines and pipelined garbage. Meanwhile:
//! - every scrape of `/metrics` answers, each in under 1 s;
//! - the stream stays bit-exact (every packet found once in the output);
//! - the player's RSS grows by less than 20 MiB;
//! - every refusal is counted: connections closed for a bad or late head, the stalled
//!   WebSocket client disconnected and its dropped updates, the stalled listener dropped;
//! - a second, fast WebSocket client receives every update (their numbers have no gap).

mod common;
mod net_support;
mod web_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use net_support::stream_sender::*;
use net_support::*;
use web_support::*;

const PTIME: Duration = Duration::from_millis(5);
const STREAM: Duration = Duration::from_secs(20);
/// When the hostile clients arrive, and how long they stay.
const HOSTILE_FROM: Duration = Duration::from_secs(1);
const HOSTILE_FOR: Duration = Duration::from_secs(17);
const IDLE_CONNECTIONS: usize = 1_000;
const SLOW_CLIENTS: usize = 20;
const BIG_HEADERS: usize = 10;
const GARBAGE_CLIENTS: usize = 10;
const SCRAPE_LIMIT: Duration = Duration::from_secs(1);
const RSS_MARGIN_KIB: u64 = 20 * 1024;

/// What the fast WebSocket client saw.
#[derive(Debug, Default)]
struct FastClient {
    updates: u64,
    gaps: Vec<(u64, u64)>,
}

fn fast_client(addr: SocketAddr, stop: Arc<AtomicBool>) -> FastClient {
    let (mut ws, _) =
        tungstenite::connect(format!("ws://{addr}/ws")).expect("the fast client connects");
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_secs(2))).ok();
    }
    let mut seen = FastClient::default();
    let mut last = None;
    while !stop.load(Ordering::Acquire) {
        let Ok(message) = ws.read() else { break };
        let Ok(text) = message.to_text() else {
            continue;
        };
        let value: serde_json::Value = serde_json::from_str(text).expect("updates are JSON");
        let Some(seq) = value["seq"].as_u64() else {
            continue; // the history
        };
        if let Some(prev) = last {
            if seq != prev + 1 {
                seen.gaps.push((prev, seq));
            }
        }
        last = Some(seq);
        seen.updates += 1;
    }
    seen
}

/// Starts every kind of hostile client; they are held until the returned values drop.
fn hostile(addr: SocketAddr, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    let mut threads = Vec::new();
    // Idle connections: connect, say nothing.
    let stop_idle = Arc::clone(&stop);
    threads.push(std::thread::spawn(move || {
        let idle: Vec<TcpStream> = (0..IDLE_CONNECTIONS)
            .filter_map(|_| TcpStream::connect(addr).ok())
            .collect();
        assert!(
            idle.len() >= IDLE_CONNECTIONS * 9 / 10,
            "{} connected",
            idle.len()
        );
        while !stop_idle.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }));
    // Slow clients: a request head one byte every 4 s.
    let stop_slow = Arc::clone(&stop);
    threads.push(std::thread::spawn(move || {
        let head = b"GET /metrics HTTP/1.1\r\nHost: slow\r\nX-Slow: yes\r\n\r\n";
        let mut slow: Vec<TcpStream> = (0..SLOW_CLIENTS)
            .filter_map(|_| TcpStream::connect(addr).ok())
            .collect();
        let mut at = 0;
        while !stop_slow.load(Ordering::Acquire) {
            for s in &mut slow {
                let _ = s.write_all(&head[at % head.len()..][..1]);
            }
            at += 1;
            let until = Instant::now() + Duration::from_secs(4);
            while Instant::now() < until && !stop_slow.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }));
    // A WebSocket client and a listener that never read.
    let stop_stalled = Arc::clone(&stop);
    threads.push(std::thread::spawn(move || {
        let mut ws = tiny_window_connect(addr);
        raw_ws_request(&mut ws);
        let mut listener = tiny_window_connect(addr);
        let _ = write!(listener, "GET /listen.wav HTTP/1.1\r\nHost: test\r\n\r\n");
        while !stop_stalled.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(100));
        }
        drop((ws, listener));
    }));
    // 64 KiB header lines, and pipelined garbage after a valid request.
    threads.push(std::thread::spawn(move || {
        for _ in 0..BIG_HEADERS {
            let Ok(mut s) = TcpStream::connect(addr) else {
                continue;
            };
            s.set_read_timeout(Some(Duration::from_secs(10))).ok();
            let line = format!("X-Big: {}\r\n", "a".repeat(64 * 1024));
            let _ = write!(s, "GET /metrics HTTP/1.1\r\nHost: big\r\n{line}\r\n");
            let mut answer = Vec::new();
            let _ = s.read_to_end(&mut answer);
        }
        let mut rng = Rng::new(3);
        for _ in 0..GARBAGE_CLIENTS {
            let Ok(mut s) = TcpStream::connect(addr) else {
                continue;
            };
            s.set_read_timeout(Some(Duration::from_secs(10))).ok();
            let mut bytes = b"GET /healthz HTTP/1.1\r\nHost: g\r\n\r\n".to_vec();
            bytes.extend(rng.bytes(8192));
            bytes.extend(b"\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n");
            let _ = s.write_all(&bytes);
            let mut answer = Vec::new();
            let _ = s.read_to_end(&mut answer);
        }
    }));
    threads
}

#[test]
fn hostile_web_clients_change_nothing_and_are_counted() {
    raise_descriptor_limit();
    let dir = scratch("web_hostile");
    let port = free_port();
    let web = free_tcp_addr();
    let player = PlayerArgs::rtp(port)
        .format("l16/48000/2")
        .target("1s", "2s")
        .idle_timeout("2s")
        .args(&["--web", &web.to_string(), "--metrics-linger", "30s"])
        .spawn(&dir);
    wait_until_bound(port);
    wait_for_web(web, Duration::from_secs(20));
    let pid = player.pid();
    let stop_fast = Arc::new(AtomicBool::new(false));
    let fast = {
        let stop = Arc::clone(&stop_fast);
        std::thread::spawn(move || fast_client(web, stop))
    };
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind sender");
    socket.connect(("127.0.0.1", port)).expect("connect");
    let plan = PlanBuilder::new(11, 0x00C0_FFEE, 100, 1_000)
        .packets(PTIME, STREAM)
        .build();
    let start = Instant::now();
    let sender = {
        let plan = plan.clone();
        std::thread::spawn(move || {
            send_plan(&socket, &plan, start);
        })
    };
    std::thread::sleep(HOSTILE_FROM);
    let baseline_kib = rss_kib(pid).expect("the player's RSS");
    let stop = Arc::new(AtomicBool::new(false));
    let attackers = hostile(web, Arc::clone(&stop));
    let mut slowest = Duration::ZERO;
    let mut failed_scrapes = Vec::new();
    let mut max_kib = baseline_kib;
    let mut scrapes = 0;
    while start.elapsed() < HOSTILE_FROM + HOSTILE_FOR {
        let asked = Instant::now();
        match get(web, "/metrics", Duration::from_secs(5)) {
            Ok((200, body)) if body.contains("# EOF") => slowest = slowest.max(asked.elapsed()),
            other => failed_scrapes.push(format!("{other:?}")),
        }
        scrapes += 1;
        max_kib = max_kib.max(rss_kib(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(250));
    }
    stop.store(true, Ordering::Release);
    for a in attackers {
        a.join().expect("a hostile client panicked");
    }
    sender.join().expect("sender");
    // The stream has ended (idle 2 s): the last scrape reads the final counters and lets the
    // player go.
    let mut last = String::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut played = None;
    let mut player = Some(player);
    while Instant::now() < deadline {
        if let Ok((200, body)) = get(web, "/metrics", Duration::from_secs(5)) {
            last = body;
        }
        if let Some(p) = player.as_mut() {
            if p.has_exited() {
                played = player.take().map(|p| p.wait(Duration::from_secs(5)));
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let played = played.expect("the player ends after the stream");
    played.assert_success();
    stop_fast.store(true, Ordering::Release);
    let fast = fast.join().expect("fast client");

    let (out, _, _) = read_wav(&dir.join("out.wav"));
    let found = find_packets(&plan, &out);
    let counter = |name: &str| metric(&last, &format!("jitterplay_{name}_total")).unwrap_or(-1.0);
    eprintln!(
        "scrapes {scrapes}, slowest {slowest:?}, failed {failed_scrapes:?}; RSS {baseline_kib} → \
         {max_kib} KiB; packets {}/{} found, {} twice; fast client {} updates, gaps {:?}; \
         closed bad {}, closed stalled {}, refused {}, ws slow {}, ws dropped {}, listen slow {}, \
         client errors {}",
        found.found(),
        plan.packets.len(),
        found.repeated(),
        fast.updates,
        fast.gaps,
        counter("http_closed_bad"),
        counter("http_closed_stalled"),
        counter("http_refused_connections"),
        counter("ws_disconnected_slow"),
        counter("ws_dropped_updates"),
        counter("listen_dropped_slow"),
        counter("http_client_errors"),
    );
    assert!(
        failed_scrapes.is_empty(),
        "scrapes failed: {failed_scrapes:?}"
    );
    assert!(slowest < SCRAPE_LIMIT, "a scrape took {slowest:?}");
    assert_eq!(found.found(), plan.packets.len(), "every packet played");
    assert_eq!(found.repeated(), 0, "no packet played twice");
    assert!(
        max_kib < baseline_kib + RSS_MARGIN_KIB,
        "RSS grew from {baseline_kib} to {max_kib} KiB"
    );
    let heads = (IDLE_CONNECTIONS + SLOW_CLIENTS + BIG_HEADERS) as f64;
    assert!(
        counter("http_closed_bad") >= heads * 0.9,
        "bad or late heads counted"
    );
    assert!(
        counter("ws_disconnected_slow") >= 1.0,
        "the stalled WebSocket client"
    );
    assert!(counter("ws_dropped_updates") >= 1.0, "its dropped updates");
    assert!(
        counter("listen_dropped_slow") >= 1.0,
        "the stalled listener"
    );
    assert!(
        counter("http_closed_stalled") >= 1.0,
        "a connection closed for not reading"
    );
    assert!(
        fast.gaps.is_empty(),
        "the fast client missed updates: {:?}",
        fast.gaps
    );
    let expected = (HOSTILE_FOR.as_secs_f64() / 0.05) as u64;
    assert!(
        fast.updates >= expected,
        "the fast client got {} updates (at least {expected} expected)",
        fast.updates
    );
}
