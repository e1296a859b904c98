//! `jitterplay monitor` on 200 live streams from this process, each with its own seeded loss,
//! bursts, duplicates, reordering, jitter, silence, a delay spike or RTCP: every stream's
//! figures must be what the sent schedule implies, burst histograms exactly; the MOS must fall
//! as the impairment grows; and when the monitor is driven past what it can read, its own drop
//! counters rise while no stream's network loss does.

mod common;
mod monitor_support;

use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::*;
use monitor_support::*;
use serde_json::Value;

/// A running monitor whose output is read as it comes (a reader that waits would stall it).
struct Watch {
    child: Child,
    stdout: std::thread::JoinHandle<String>,
}

/// Runs the monitor over `count` streams from `base` for `seconds` with `args`.
fn watch(base: u16, count: u16, seconds: u64, args: &[&str]) -> Watch {
    let range = format!("rtp://127.0.0.1:{base}-{}", base + 2 * count - 2);
    let mut child = jitterplay()
        .args(["monitor", &range, "--json", "--duration"])
        .arg(format!("{seconds}s"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the monitor");
    let mut pipe = child.stdout.take().expect("stdout");
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut pipe, &mut text).expect("read the monitor");
        text
    });
    Watch { child, stdout }
}

/// Waits until every port of the range is bound (the monitor is listening).
fn wait_bound(base: u16, count: u16) {
    let start = std::time::Instant::now();
    while (base..base + 2 * count).any(|p| std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok()) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "monitor never bound its ports"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The final lines: `ended` rows by destination port, and the last `monitor` line.
fn finish(watch: Watch) -> (BTreeMap<u16, Value>, Value) {
    let stdout = watch.stdout.join().expect("reader");
    let out = watch.child.wait_with_output().expect("monitor output");
    assert!(
        out.status.success(),
        "monitor failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ended = BTreeMap::new();
    let mut health = Value::Null;
    for line in stdout.lines() {
        let v: Value = serde_json::from_str(line).expect("JSON line");
        match v["type"].as_str() {
            Some("ended") => {
                let port: u16 = v["dst"]
                    .as_str()
                    .and_then(|d| d.rsplit_once(':'))
                    .and_then(|(_, p)| p.parse().ok())
                    .expect("destination port");
                assert!(ended.insert(port, v).is_none(), "a stream ended twice");
            }
            Some("monitor") => health = v,
            _ => {}
        }
    }
    (ended, health)
}

fn u(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn f(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{pointer} in {v}"))
}

#[test]
fn two_hundred_streams_have_the_figures_their_schedules_imply() {
    const STREAMS: u16 = 200;
    let base = free_range(STREAMS);
    let plans: Vec<Planned> = (0..STREAMS)
        .map(|i| plan(usize::from(i), base + 2 * i))
        .collect();
    let child = watch(
        base,
        STREAMS,
        13,
        &[
            "--idle",
            "30s",
            "--target-min",
            "300ms",
            "--target-max",
            "600ms",
            "--silence-after",
            "3s",
        ],
    );
    wait_bound(base, STREAMS);
    send_all(&plans, Duration::from_millis(5));
    let (ended, health) = finish(child);
    assert_eq!(ended.len(), usize::from(STREAMS), "{health}");
    assert_eq!(u(&health, "kernel_drops"), 0, "{health}");
    assert_eq!(u(&health, "untracked_streams"), 0, "{health}");
    let mut by_kind: BTreeMap<String, Vec<(&Planned, &Value)>> = BTreeMap::new();
    for p in &plans {
        let row = &ended[&p.port];
        let e = expected(p);
        let what = format!("stream {} ({:?})", p.index, p.impairment);
        assert_eq!(row["ssrc"], format!("0x{:08X}", p.ssrc), "{what}");
        assert_eq!(
            (u(row, "packets"), u(row, "expected"), u(row, "lost")),
            (e.packets, e.expected, e.lost),
            "{what}: {row}"
        );
        assert_eq!(
            (
                u(row, "duplicated"),
                u(row, "out_of_order"),
                u(row, "monitor_dropped")
            ),
            (e.duplicated, e.out_of_order, 0),
            "{what}: {row}"
        );
        let bursts: BTreeMap<u64, u64> = row["loss_bursts"]
            .as_object()
            .expect("bursts")
            .iter()
            .map(|(k, v)| {
                (
                    k.trim_end_matches('+').parse().unwrap(),
                    v.as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(bursts, e.bursts, "{what}: burst histogram");
        // A player with a 300–600 ms buffer: only the held packets come too late.
        let late = if p.impairment == Impairment::Spike {
            10
        } else {
            0
        };
        assert_eq!(u(row, "late"), late, "{what}: {row}");
        let silences = u64::from(p.impairment == Impairment::Silence);
        assert_eq!(u(row, "silences"), silences, "{what}: {row}");
        if p.impairment == Impairment::Rtcp {
            // The far end's 25 % is its own, kept apart from the loss we measured (none).
            assert_eq!(f(row, "/far_loss_fraction"), 0.25, "{what}: {row}");
            assert_eq!(u(row, "lost"), 0, "{what}");
            let rtt = f(row, "/rtt_ms");
            assert!((90.0..130.0).contains(&rtt), "{what}: round trip {rtt}");
        }
        let kind = format!("{:?}", p.impairment)
            .split('(')
            .next()
            .unwrap()
            .to_owned();
        by_kind.entry(kind).or_default().push((p, row));
    }
    // The E-model: the more lost (periodic: one in n), the lower the MOS; at a fixed spacing
    // the longer the bursts, the lower; a clean stream scores above every impaired one.
    let mos = |row: &Value| f(row, "/mos");
    let ladder = |kind: &str| -> Vec<(f64, f64)> {
        let mut v: Vec<(f64, f64)> = by_kind[kind]
            .iter()
            .map(|(_, row)| (u(row, "lost") as f64 / u(row, "expected") as f64, mos(row)))
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v
    };
    for kind in ["Periodic", "Bursts"] {
        let l = ladder(kind);
        for w in l.windows(2) {
            if w[1].0 > w[0].0 {
                assert!(w[1].1 < w[0].1, "{kind}: MOS must fall with loss: {l:?}");
            }
        }
    }
    let clean = by_kind["Clean"]
        .iter()
        .map(|(_, r)| mos(r))
        .fold(f64::INFINITY, f64::min);
    for kind in ["Periodic", "Bursts", "Mixed"] {
        for (p, row) in &by_kind[kind] {
            assert!(
                mos(row) < clean,
                "stream {} {kind} scores {} ≥ clean {clean}",
                p.index,
                mos(row)
            );
        }
    }
    let jitters: Vec<f64> = by_kind["Jitter"]
        .iter()
        .map(|(_, r)| f(r, "/jitter_ms"))
        .collect();
    assert!(
        jitters.iter().all(|&j| j > 1.0),
        "jitter streams: {jitters:?}"
    );
    eprintln!(
        "200 streams: clean MOS {clean:.2}; periodic ladder {:?}",
        ladder("Periodic")
    );
}

/// Large L16 packets to a few streams, faster than a monitor measuring loudness can read:
/// the kernel drops datagrams on its sockets, and those gaps are the monitor's, not the network's.
#[test]
fn an_overloaded_monitor_counts_its_own_drops_and_blames_no_stream() {
    const STREAMS: u16 = 4;
    let base = free_range(STREAMS);
    let child = watch(
        base,
        STREAMS,
        8,
        &["--format", "l16/48000/2", "--loudness", "--idle", "30s"],
    );
    wait_bound(base, STREAMS);
    // Two senders, each sending two streams of 20 ms L16 stereo (3,840 bytes) at 15,000
    // packets a second each: 60,000 a second, far more than the monitor measures with loudness.
    let senders: Vec<_> = (0..2u16)
        .map(|s| {
            std::thread::spawn(move || {
                let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                let mut packet = vec![0u8; 12 + 3840];
                packet[0] = 0x80;
                packet[1] = 96;
                for (i, b) in packet[12..].iter_mut().enumerate() {
                    *b = (i * 7) as u8;
                }
                let stop = std::time::Instant::now() + Duration::from_secs(4);
                let mut n = 0u32;
                while std::time::Instant::now() < stop {
                    for k in 0..2u16 {
                        let stream = s * 2 + k;
                        packet[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                        packet[4..8].copy_from_slice(&(n * 960).to_be_bytes());
                        packet[8..12].copy_from_slice(&(0xF100D + u32::from(stream)).to_be_bytes());
                        socket
                            .send_to(&packet, ("127.0.0.1", base + 2 * stream))
                            .unwrap();
                    }
                    n += 1;
                    if n % 150 == 0 {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                n
            })
        })
        .collect();
    let sent: Vec<u32> = senders.into_iter().map(|h| h.join().unwrap()).collect();
    let (ended, health) = finish(child);
    let drops = u(&health, "kernel_drops");
    assert!(
        drops > 0,
        "the monitor kept up: send faster ({sent:?}): {health}"
    );
    let mut blamed_on_us = 0;
    for row in ended.values() {
        assert_eq!(u(row, "lost"), 0, "the network lost nothing: {row}");
        blamed_on_us += u(row, "monitor_dropped");
    }
    // Every drop is one stream's gap, except drops after a stream's last packet read.
    assert!(
        blamed_on_us > 0 && blamed_on_us <= drops,
        "{blamed_on_us} of {drops}: {health}"
    );
    assert_eq!(
        blamed_on_us + u(&health, "unattributed_drops"),
        drops,
        "{health}"
    );
    eprintln!(
        "overload: sent {sent:?} per stream pair, kernel drops {drops}, attributed {blamed_on_us}"
    );
}

/// `monitor --interface lo`: a live capture (libpcap) of two calls set up by SIP, which give
/// the same dynamic payload type two meanings: each stream is named by its own call's SDP and
/// carries its Call-ID. Capturing needs root (or CAP_NET_RAW): without it the test fails under
/// CI and says why elsewhere.
#[test]
fn a_live_capture_names_each_calls_payload_type_from_its_own_sip() {
    // SAFETY: geteuid only reads the process's credentials.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var_os("CI").is_none(),
            "capturing on lo needs root in CI"
        );
        eprintln!("skipped: capturing on lo needs root");
        return;
    }
    let base = free_range(3);
    let (sip, one, two) = (base, base + 2, base + 4);
    let filter = format!("udp and portrange {base}-{}", base + 5);
    let mut child = jitterplay()
        .args([
            "monitor",
            "--interface",
            "lo",
            "--filter",
            &filter,
            "--json",
        ])
        .args(["--duration", "6s", "--idle", "30s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the monitor");
    // The first report says the capture runs: then send.
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let first = lines.next().expect("a first report").expect("read");
    assert!(first.contains("\"type\":\"monitor\""), "{first}");
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let invite = |call: &str, port: u16, rtpmap: &str| {
        let sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 96\r\na=rtpmap:96 {rtpmap}\r\n"
        );
        format!(
            "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1\r\nCall-ID: {call}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
    };
    for (call, port, rtpmap) in [
        ("call-one@test", one, "L16/8000/1"),
        ("call-two@test", two, "PCMA/8000"),
    ] {
        socket
            .send_to(invite(call, port, rtpmap).as_bytes(), ("127.0.0.1", sip))
            .unwrap();
    }
    let origin = std::time::Instant::now();
    for n in 0..100u16 {
        for (port, ssrc, len) in [(one, 0x0A11_u32, 320), (two, 0x0B22, 160)] {
            let mut p = vec![0x80, 96];
            p.extend_from_slice(&n.to_be_bytes());
            p.extend_from_slice(&(u32::from(n) * 160).to_be_bytes());
            p.extend_from_slice(&ssrc.to_be_bytes());
            p.resize(12 + len, 0x55);
            socket.send_to(&p, ("127.0.0.1", port)).unwrap();
        }
        if let Some(wait) = (PTIME * u32::from(n + 1)).checked_sub(origin.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let mut rows = BTreeMap::new();
    for line in lines {
        let v: Value = serde_json::from_str(&line.expect("read")).expect("JSON line");
        if v["type"] == "ended" {
            rows.insert(v["ssrc"].as_str().unwrap().to_owned(), v);
        }
    }
    let out = child.wait_with_output().expect("monitor");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = &rows["0x00000A11"];
    assert_eq!(
        (a["codec"].as_str(), a["call_id"].as_str()),
        (Some("L16/8000/1"), Some("call-one@test")),
        "{a}"
    );
    let b = &rows["0x00000B22"];
    assert_eq!(
        (b["codec"].as_str(), b["call_id"].as_str()),
        (Some("PCMA/8000"), Some("call-two@test")),
        "{b}"
    );
    for r in [a, b] {
        assert_eq!((u(r, "packets"), u(r, "lost")), (100, 0), "{r}");
        // Named by SDP: the clock is known, so the jitter is measured.
        assert!(r["jitter_ms"].as_f64().is_some_and(|j| j < 5.0), "{r}");
    }
}
