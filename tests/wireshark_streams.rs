//! `jitterplay streams` against Wireshark itself: for every capture in tests/data (the
//! workplace's shared collection, copied with provenance), for the synthetic four-call capture
//! and an impaired one (duplicates, reordering, loss, markers, comfort noise, an unnamed
//! dynamic payload type), and for any capture in the directories `JITTERPLAY_WIRESHARK_CAPTURES` lists (`:`-separated),
//! `tshark -q -o rtp.heuristic_rtp:TRUE -z rtp,streams` and `jitterplay streams --json` must
//! list the same streams one to one, with the same packets and lost, and Wireshark's max delta,
//! mean and max jitter within tshark's rounding. Our own figures differ where README says so.
//! tshark cannot read rtpdump files: those are written out as pcap for it, unchanged otherwise.
//! Without tshark the test fails under CI and skips elsewhere.

mod common;
#[path = "synthetic/mod.rs"]
mod synthetic;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;
use synthetic::calls::four_calls;
use synthetic::{pcmu_payload, rtp, us, Capture, Link};

/// tshark prints times in ms with three decimals.
const ROUNDING_MS: f64 = 0.0005 + 1e-9;

/// One row of tshark's RTP Streams table.
#[derive(Debug, Clone, PartialEq)]
struct TsharkStream {
    src: String,
    dst: String,
    ssrc: u32,
    payload: String,
    packets: u64,
    lost: i64,
    max_delta_ms: f64,
    mean_jitter_ms: f64,
    max_jitter_ms: f64,
}

/// Parses `tshark -z rtp,streams` output. Its row is: start and end time, source address and
/// port, destination address and port, SSRC, payload (which may hold spaces: "g711U, rtpevent"),
/// packets, lost as "N (P%)", min/mean/max delta, min/mean/max jitter, and "X" for a problem.
fn parse_tshark(text: &str) -> Vec<TsharkStream> {
    let mut lines = text.lines().skip_while(|l| !l.contains("RTP Streams"));
    lines.next();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.contains("Max Delta(ms)") && header.contains("Mean Jitter(ms)"),
        "unexpected tshark header: {header:?}\n{text}"
    );
    lines
        .take_while(|l| !l.starts_with("====="))
        .map(|line| {
            let mut t: Vec<&str> = line.split_whitespace().collect();
            if t.last() == Some(&"X") {
                t.pop();
            }
            let n = t.len();
            assert!(n >= 17, "short tshark row: {line:?}");
            let f = |i: usize| -> f64 {
                t[i].parse()
                    .unwrap_or_else(|_| panic!("column {i} of {line:?}"))
            };
            TsharkStream {
                src: format!("{}:{}", t[2], t[3]),
                dst: format!("{}:{}", t[4], t[5]),
                ssrc: u32::from_str_radix(t[6].trim_start_matches("0x"), 16).expect("SSRC"),
                payload: t[7..n - 9].join(" "),
                packets: t[n - 9].parse().expect("packets"),
                lost: t[n - 8].parse().expect("lost"),
                max_delta_ms: f(n - 4),
                mean_jitter_ms: f(n - 2),
                max_jitter_ms: f(n - 1),
            }
        })
        .collect()
}

fn tshark_streams(path: &Path) -> Vec<TsharkStream> {
    let out = run_ok(
        Command::new("tshark")
            .args([
                "-q",
                "-o",
                "rtp.heuristic_rtp:TRUE",
                "-z",
                "rtp,streams",
                "-r",
            ])
            .arg(path),
    );
    parse_tshark(&String::from_utf8_lossy(&out.stdout))
}

/// `jitterplay monitor --json` on a capture: its streams' final rows (one idle timeout for the
/// whole capture, as `streams` sees it).
fn monitor_rows(path: &Path) -> Vec<Value> {
    let out = run_ok(
        jitterplay()
            .args(["monitor", "--json", "--idle", "1h", "--no-level"])
            .arg(path),
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("monitor --json lines are JSON"))
        .filter(|v| v["type"] == "ended")
        .collect()
}

fn streams_json(path: &Path) -> Value {
    let out = run_ok(jitterplay().args(["streams", "--json"]).arg(path));
    serde_json::from_slice(&out.stdout).expect("streams --json is JSON")
}

/// An rtpdump file as a pcap tshark can read: each record a UDP datagram at its offset, RTP
/// from 192.0.2.1:5004 to the file's address and port (RTCP to the next port).
fn rtpdump_as_pcap(path: &Path, out: &Path) {
    let d = std::fs::read(path).expect("read rtpdump");
    let line_end = d
        .iter()
        .position(|&b| b == b'\n')
        .expect("rtpdump first line");
    let first = String::from_utf8_lossy(&d[..line_end]);
    let dest = first.split_whitespace().nth(1).expect("address/port");
    let (ip, port) = dest.split_once('/').expect("address/port");
    let port: u16 = port.parse().expect("port");
    // 0.0.0.0 is the file's "unknown"; tshark wants a real destination.
    let ip = if ip == "0.0.0.0" { "127.0.0.1" } else { ip };
    let mut cap = Capture::new(Link::Ethernet(&[]));
    let mut at = line_end + 1 + 16;
    while at + 8 <= d.len() {
        let len = usize::from(u16::from_be_bytes([d[at], d[at + 1]]));
        let plen = usize::from(u16::from_be_bytes([d[at + 2], d[at + 3]]));
        let offset_ms = u32::from_be_bytes([d[at + 4], d[at + 5], d[at + 6], d[at + 7]]);
        let (body, dport) = if plen == 0 {
            (&d[at + 8..at + len], port + 1)
        } else {
            (&d[at + 8..at + 8 + plen], port)
        };
        cap.udp(
            Duration::from_millis(u64::from(offset_ms)),
            "192.0.2.1:5004",
            &format!("{ip}:{dport}"),
            body,
        );
        at += len.max(8);
    }
    cap.write_pcap(out);
}

/// PCMU with arrival jitter, a duplicate, two packets swapped, a loss, a talkspurt after a
/// pause (marker) and comfort noise; and a dynamic payload type no SDP names (no clock).
fn impaired_capture() -> Capture {
    let mut cap = Capture::new(Link::Ethernet(&[]));
    let mut timeline: Vec<(u64, &str, Vec<u8>)> = Vec::new();
    let mut seq = 500u16;
    for k in 0..150u64 {
        // A 400 ms pause after packet 80: comfort noise at 81, then a talkspurt with marker.
        let pause = if k > 80 { 400_000 } else { 0 };
        let ts = (k * 160) as u32 + if k > 80 { 3200 } else { 0 };
        let at = 20_000 * k + (k * 7919 % 11) * 1_000 + pause;
        let (pt, payload) = if k == 81 {
            (13, vec![0x40])
        } else {
            (0, pcmu_payload(k as usize))
        };
        let p = rtp(pt, k == 82, seq, ts, 0xA11CE, &payload);
        seq = seq.wrapping_add(1);
        match k {
            30 => {}                                                             // lost
            10 => timeline.extend([(at, "a", p.clone()), (at + 3_000, "a", p)]), // duplicated
            20 => timeline.push((at + 25_000, "a", p)),                          // overtaken by 21
            _ => timeline.push((at, "a", p)),
        }
    }
    for k in 0..60u64 {
        let at = 10_000 + 20_000 * k + (k * 31 % 7) * 1_000;
        let p = rtp(96, false, k as u16, (k * 320) as u32, 0xB0B, &[0x11; 640]);
        timeline.push((at, "b", p));
    }
    timeline.sort_by_key(|(at, ..)| *at);
    for (at, which, p) in timeline {
        let (src, dst) = match which {
            "a" => ("10.0.0.1:4000", "10.0.0.2:6000"),
            _ => ("10.0.0.3:5000", "10.0.0.4:7000"),
        };
        cap.udp(us(at), src, dst, &p);
    }
    cap
}

/// Every capture the comparison covers.
fn captures(dir: &Path) -> Vec<PathBuf> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut dirs = vec![data];
    if let Some(extra) = std::env::var_os("JITTERPLAY_WIRESHARK_CAPTURES") {
        dirs.extend(std::env::split_paths(&extra));
    }
    let mut files: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap_or_else(|e| panic!("{}: {e}", d.display())))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng" | "rtp" | "rtpdump")
            )
        })
        .collect();
    files.sort();
    let calls = dir.join("four-calls.pcap");
    four_calls().0.write_pcap(&calls);
    files.push(calls);
    let impaired = dir.join("impaired.pcap");
    impaired_capture().write_pcap(&impaired);
    files.push(impaired);
    files
}

fn near(ours: f64, theirs: f64) -> bool {
    (ours - theirs).abs() <= ROUNDING_MS
}

/// Compares one capture; returns a line for the summary printed at the end.
fn compare(path: &Path, dir: &Path) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let rtpdump = path
        .extension()
        .is_some_and(|e| e == "rtp" || e == "rtpdump");
    let for_tshark = if rtpdump {
        let converted = dir.join(format!("{name}.pcap"));
        rtpdump_as_pcap(path, &converted);
        converted
    } else {
        path.to_owned()
    };
    let theirs = tshark_streams(&for_tshark);
    let report = streams_json(path);
    let ours = report["streams"].as_array().expect("streams");
    assert_eq!(
        ours.len(),
        theirs.len(),
        "{name}: stream count\ntshark: {theirs:#?}\nours: {report:#}"
    );
    // `monitor` measures each packet as it comes, with the same arithmetic: its figures for
    // every stream `streams` lists are the same, to the bit.
    let watched = monitor_rows(path);
    for s in ours {
        let key = |v: &Value| {
            (
                v["src"].clone(),
                v["dst"].clone(),
                v["ssrc"].as_str().map(str::to_owned),
            )
        };
        let ssrc = format!("0x{:08X}", s["ssrc"].as_u64().expect("ssrc"));
        let row = watched
            .iter()
            .find(|w| key(w) == (s["src"].clone(), s["dst"].clone(), Some(ssrc.clone())))
            .unwrap_or_else(|| panic!("{name}: monitor has no stream {ssrc}: {watched:#?}"));
        assert_eq!(row["stats"], s["stats"], "{name} {ssrc}: monitor's stats");
        assert_eq!(
            row["wireshark"], s["wireshark"],
            "{name} {ssrc}: monitor's Wireshark figures"
        );
    }
    let mut summary = Vec::new();
    for t in &theirs {
        // rtpdump files record no sender, and we keep their destination as written.
        let matching: Vec<&Value> = ours
            .iter()
            .filter(|s| {
                s["ssrc"] == t.ssrc && (rtpdump || (s["src"] == *t.src && s["dst"] == *t.dst))
            })
            .collect();
        let [s] = matching.as_slice() else {
            panic!(
                "{name}: tshark's {t:?} matches {} of our streams",
                matching.len()
            );
        };
        let what = format!("{name} SSRC {:#010x}", t.ssrc);
        let (st, ws) = (&s["stats"], &s["wireshark"]);
        assert_eq!(st["packets"], t.packets, "{what}: packets");
        assert_eq!(ws["lost"], t.lost, "{what}: Wireshark's lost");
        if st["duplicated"] == 0 && st["out_of_order"] == 0 {
            // Our loss counts distinct sequence numbers; without duplicates or reordering it
            // is Wireshark's.
            assert_eq!(st["lost"], t.lost, "{what}: lost");
        }
        let f = |v: &Value| v.as_f64();
        let max_delta = f(&ws["max_delta_ms"]).expect("max delta");
        assert!(
            near(max_delta, t.max_delta_ms),
            "{what}: max delta {max_delta} vs tshark {}",
            t.max_delta_ms
        );
        match (f(&ws["mean_jitter_ms"]), f(&ws["max_jitter_ms"])) {
            (Some(mean), Some(max)) => assert!(
                near(mean, t.mean_jitter_ms) && near(max, t.max_jitter_ms),
                "{what}: jitter mean/max {mean}/{max} vs tshark {}/{}",
                t.mean_jitter_ms,
                t.max_jitter_ms
            ),
            // No clock known to us: Wireshark did not know one either, and shows zeros.
            (None, None) => assert!(
                t.mean_jitter_ms == 0.0 && t.max_jitter_ms == 0.0,
                "{what}: we know no clock but tshark measured {t:?}"
            ),
            other => panic!("{what}: mean and max jitter disagree: {other:?}"),
        }
        // Our own figures: the largest gap is over every packet (Wireshark leaves marker and
        // comfort-noise packets out), so it is never smaller.
        let our_max_delta = f(&st["max_delta_ms"]).expect("our max delta");
        assert!(our_max_delta + ROUNDING_MS >= t.max_delta_ms, "{what}");
        summary.push(format!(
            "{what} {}: pkts {} lost {} max Δ {:.3} (ours {our_max_delta:.3}) jitter {:.3}/{:.3} (ours {})",
            t.payload,
            t.packets,
            t.lost,
            t.max_delta_ms,
            t.mean_jitter_ms,
            t.max_jitter_ms,
            match (f(&st["mean_jitter_ms"]), f(&st["max_jitter_ms"])) {
                (Some(a), Some(b)) => format!("{a:.3}/{b:.3}"),
                _ => "unknown".into(),
            }
        ));
    }
    summary.join("\n")
}

#[test]
fn streams_match_wiresharks_rtp_streams_for_every_capture() {
    if !require_tool("tshark") {
        return;
    }
    let dir = scratch("wireshark_streams");
    let files = captures(&dir);
    assert!(files.len() >= 8, "{files:?}");
    let mut summary = Vec::new();
    for path in &files {
        summary.push(compare(path, &dir));
    }
    // Shown with --nocapture: the per-stream figures docs/benchmarks.md quotes.
    println!("{}", summary.join("\n"));
}

#[test]
fn tshark_rows_are_parsed_with_spaces_in_the_payload_and_a_problem_flag() {
    let text = "========================= RTP Streams ========================\n   Start time      End time     Src IP addr  Port    Dest IP addr  Port       SSRC          Payload  Pkts         Lost   Min Delta(ms)  Mean Delta(ms)   Max Delta(ms)  Min Jitter(ms) Mean Jitter(ms)  Max Jitter(ms) Problems?\n     0.000000     19.459764       10.0.0.51  4000       10.0.0.45 10866 0x34D01D16  g711U, rtpevent   974    -2 (-0.2%)           8.779          19.992          29.721           0.191           6.475          23.397 X\n==============================================================\n";
    let rows = parse_tshark(text);
    assert_eq!(
        rows,
        [TsharkStream {
            src: "10.0.0.51:4000".into(),
            dst: "10.0.0.45:10866".into(),
            ssrc: 0x34D0_1D16,
            payload: "g711U, rtpevent".into(),
            packets: 974,
            lost: -2,
            max_delta_ms: 29.721,
            mean_jitter_ms: 6.475,
            max_jitter_ms: 23.397,
        }]
    );
}
