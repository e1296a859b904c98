//! Captures whose clock jumps (one record's time thrown days or a million years ahead or an
//! hour back, as a flipped bit does; the clock stepped forward for good): the jump is a pause
//! that takes no time. `streams`, `play` (to WAV and to null) and `simulate` name it by record
//! number, and a replay walks through the capture in time proportional to its packets: the
//! output is the packets' audio, not days of silence.

mod common;
#[path = "synthetic/mod.rs"]
mod synthetic;

use std::path::Path;
use std::time::Duration;

use common::*;
use pcap_file::pcap::{PcapPacket, PcapReader, PcapWriter};
use serde_json::Value;
use synthetic::*;

const SSRC: u32 = 0x7153_0001;
/// Packets of the synthetic stream, 20 ms apart.
const PACKETS: usize = 300;
/// The record (1-based) whose time is moved.
const RECORD: usize = 151;
const HOUR: Duration = Duration::from_secs(3600);
const THREE_DAYS: Duration = Duration::from_secs(3 * 86_400);
const MILLION_YEARS: Duration = Duration::from_secs(1_000_000 * 365 * 86_400);
/// Packet spacing.
const PTIME: Duration = Duration::from_millis(20);

/// How record [`RECORD`]'s time is moved.
#[derive(Debug, Clone, Copy)]
enum Move {
    /// That record alone, ahead by this much.
    Ahead(Duration),
    /// That record alone, back by this much.
    Back(Duration),
    /// That record and every one after it, ahead by this much.
    StepAhead(Duration),
}

impl Move {
    /// The jumps the reader must report: (record, nanoseconds, negative backwards), exact.
    fn jumps_ns(self) -> Vec<(u64, i128)> {
        let r = RECORD as u64;
        let ptime = PTIME.as_nanos() as i128;
        match self {
            Move::Ahead(d) => {
                let d = d.as_nanos() as i128;
                vec![(r, d + ptime), (r + 1, -(d - ptime))]
            }
            Move::Back(d) => {
                let d = d.as_nanos() as i128;
                vec![(r, -(d - ptime)), (r + 1, d + ptime)]
            }
            Move::StepAhead(d) => vec![(r, d.as_nanos() as i128 + ptime)],
        }
    }

    /// The jumps in seconds, as reported.
    fn jumps(self) -> Vec<(u64, f64)> {
        self.jumps_ns()
            .into_iter()
            .map(|(r, ns)| (r, ns as f64 / 1e9))
            .collect()
    }

    /// First to last record by the capture's clock, ns.
    fn captured_span_ns(self) -> i128 {
        let span = (PACKETS as i128 - 1) * PTIME.as_nanos() as i128;
        match self {
            Move::StepAhead(d) => span + d.as_nanos() as i128,
            _ => span,
        }
    }

    /// First to last record by the capture's clock, s.
    fn captured_span_s(self) -> f64 {
        self.captured_span_ns() as f64 / 1e9
    }

    /// The stream's duration on the arrival timeline: its captured span less every jump
    /// skipped in it, s.
    fn arrival_span_s(self) -> f64 {
        let skipped: i128 = self.jumps_ns().iter().map(|(_, j)| j).sum();
        (self.captured_span_ns() - skipped) as f64 / 1e9
    }
}

/// A 6 s PCMU stream with [`RECORD`]'s time moved by `how`.
fn moved_capture(how: Move) -> Capture {
    let mut cap = Capture::new(Link::Ethernet(&[]));
    for k in 0..PACKETS {
        // Every record sits an hour after the capture's epoch, so that one can move back.
        let on_time = HOUR + PTIME * k as u32;
        let record = k + 1;
        let at = match how {
            Move::Ahead(d) if record == RECORD => on_time + d,
            Move::Back(d) if record == RECORD => on_time - d,
            Move::StepAhead(d) if record >= RECORD => on_time + d,
            _ => on_time,
        };
        let packet = rtp(
            0,
            k == 0,
            k as u16,
            (k * G711_FRAME) as u32,
            SSRC,
            &pcmu_payload(k),
        );
        cap.udp(at, "10.0.0.1:4000", "10.0.0.2:6000", &packet);
    }
    cap
}

/// The tolerance of a time of magnitude `s`: a nanosecond, or f64's rounding of a value that
/// large (a million years in seconds keeps only milliseconds).
fn tolerance(s: f64) -> f64 {
    1e-6 + s.abs() * 1e-15
}

/// Asserts `jumps` (a `time_jumps` object) lists exactly `expected`.
fn assert_jumps(jumps: &Value, expected: &[(u64, f64)], what: &str) {
    assert_eq!(
        jumps["skipped"].as_u64(),
        Some(expected.len() as u64),
        "{what}: {jumps}"
    );
    let listed = jumps["listed"].as_array().expect("listed jumps");
    assert_eq!(listed.len(), expected.len(), "{what}: {jumps}");
    for (got, &(record, jump_s)) in listed.iter().zip(expected) {
        assert_eq!(got["record"], record, "{what}: {jumps}");
        assert_near(&got["jump_s"], jump_s, tolerance(jump_s), what);
    }
}

/// `streams --json` names the jumps, and the stream's figures leave them out.
fn check_streams(path: &Path, how: Move) {
    let what = format!("streams {how:?}");
    let report = streams_json(path);
    assert_jumps(&report["time_jumps"], &how.jumps(), &what);
    assert_eq!(report["time_jumps"]["idle_timeout_s"], 10.0, "{report}");
    let s = &report["streams"][0];
    assert_eq!(
        counters(s),
        [PACKETS as u64, PACKETS as u64, 0, 0, 0],
        "{s}"
    );
    let stats = &s["stats"];
    assert_eq!(stats["skipped_pauses"], how.jumps().len() as u64, "{what}");
    let span = how.arrival_span_s();
    assert_near(&stats["duration_s"], span, tolerance(span), &what);
    // The pause adds no gap, no jitter and no skew: the stream is on time throughout.
    assert_near(&stats["max_delta_ms"], 20.0, NS_IN_MS, &what);
    assert_near(&stats["max_jitter_ms"], 0.0, NS_IN_MS, &what);
    assert_near(&stats["skew_ms"], 0.0, NS_IN_MS, &what);
    assert_near(&s["wireshark"]["max_delta_ms"], 20.0, NS_IN_MS, &what);
    assert_near(&s["wireshark"]["max_jitter_ms"], 0.0, NS_IN_MS, &what);
}

/// `play --output wav: --fast`: every packet plays, bit-exact, and nothing else; the final
/// stats line and the warnings name the jumps.
fn check_play_wav(path: &Path, dir: &Path, how: Move) {
    let what = format!("play {how:?}");
    let r = play(path, dir, &[], false);
    assert_eq!(metrics(&r.stats), [PACKETS as u64, PACKETS as u64, 0, 0, 0]);
    assert_jumps(&r.stats["time_jumps"], &how.jumps(), &what);
    assert_eq!(
        r.samples.len(),
        PACKETS * G711_FRAME,
        "{what}: output length"
    );
    for k in 0..PACKETS {
        let expected: Vec<f32> = pcmu_payload(k)
            .iter()
            .map(|&c| to_f32(ulaw_to_linear(c)))
            .collect();
        assert_packet_samples(&r.samples, k, &expected, &what);
    }
    for (record, _) in how.jumps() {
        assert!(
            r.stderr.contains(&format!("at record {record} (")),
            "{what}: no warning for record {record}:\n{}",
            r.stderr
        );
    }
    assert!(
        r.stderr.contains(&format!(
            "capture time jumps skipped as pauses {}",
            how.jumps().len()
        )),
        "{what}: the summary counts the skips:\n{}",
        r.stderr
    );
}

/// `play --output null --fast --stats-json`: the final line of a replay to nowhere.
fn play_null(path: &Path, dir: &Path, extra: &[&str]) -> Value {
    let stats = dir.join("null.jsonl");
    let _ = std::fs::remove_file(&stats);
    run_ok(
        jitterplay()
            .args([
                "play",
                "--fast",
                "--quiet",
                "--output",
                "null",
                "--stats-json",
            ])
            .arg(&stats)
            .args(extra)
            .arg(path),
    );
    let text = std::fs::read_to_string(&stats).expect("stats written");
    serde_json::from_str(text.lines().last().expect("a final line")).expect("JSON")
}

/// `simulate FILE --report`: the virtual run lasts the packets' time, not the capture clock's.
fn check_simulate(path: &Path, dir: &Path, how: Move) {
    let what = format!("simulate {how:?}");
    let report = dir.join("sim.json");
    let out = run_ok(
        jitterplay()
            .arg("simulate")
            .arg(path)
            .arg("--report")
            .arg(&report),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "capture time jumps skipped as pauses {}",
            how.jumps().len()
        )),
        "{what}:\n{stdout}"
    );
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("JSON");
    assert_jumps(&r["time_jumps"], &how.jumps(), &what);
    assert_eq!(r["drained"], true, "{what}");
    assert_eq!(r["metrics"]["played"], PACKETS as u64, "{what}");
    // Prebuffering to the target (3 s by default, at most the 5 s ceiling) and then the
    // packets' 6 s: the days the capture clock jumped are not in it.
    let simulated = num(&r["simulated_s"], "simulated_s");
    let packets_s = PACKETS as f64 * PTIME.as_secs_f64();
    assert!(
        simulated > packets_s && simulated < packets_s + 5.0 + 1.0,
        "{what}: {simulated} s simulated"
    );
}

fn check_all(name: &str, how: Move, write: impl Fn(&Capture, &Path)) {
    let (dir, path) = scratch_file(&format!("time_jump_{name}"), name);
    write(&moved_capture(how), &path);
    check_streams(&path, how);
    check_play_wav(&path, &dir, how);
    let null = play_null(&path, &dir, &[]);
    assert_jumps(&null["time_jumps"], &how.jumps(), &format!("null {how:?}"));
    assert_eq!(
        null["output"]["frames_played"],
        (PACKETS * G711_FRAME) as u64
    );
    check_simulate(&path, &dir, how);
}

#[test]
fn a_record_thrown_three_days_ahead_is_two_skipped_pauses() {
    check_all("ahead-3d.pcap", Move::Ahead(THREE_DAYS), |c, p| {
        c.write_pcap(p)
    });
}

#[test]
fn a_record_thrown_a_million_years_ahead_is_two_skipped_pauses() {
    // Classic pcap's 32-bit seconds end in 2106: a pcapng in milliseconds reaches that far.
    check_all("ahead-1My.pcapng", Move::Ahead(MILLION_YEARS), |c, p| {
        c.write_pcapng(p, Some(3))
    });
}

#[test]
fn a_record_an_hour_back_is_two_skipped_pauses() {
    check_all("back-1h.pcap", Move::Back(HOUR), |c, p| c.write_pcap(p));
}

#[test]
fn a_clock_stepped_three_days_ahead_is_one_skipped_pause() {
    check_all("step-3d.pcapng", Move::StepAhead(THREE_DAYS), |c, p| {
        c.write_pcapng(p, Some(9))
    });
}

#[test]
fn the_idle_timeout_decides_what_is_a_pause() {
    // The clock steps 4 s ahead: within the default 10 s a gap (a network freeze), beyond a
    // 2 s idle timeout a pause.
    let how = Move::StepAhead(Duration::from_secs(4));
    let (dir, path) = scratch_file("time_jump_idle", "step-4s.pcap");
    moved_capture(how).write_pcap(&path);
    let report = streams_json(&path);
    assert_eq!(report["time_jumps"]["skipped"], 0, "{report}");
    let stats = &report["streams"][0]["stats"];
    let captured = how.captured_span_s();
    assert_near(&stats["duration_s"], captured, NS_IN_S, "default");
    assert_near(&stats["max_delta_ms"], 4020.0, NS_IN_MS, "default");

    let out = run_ok(
        jitterplay()
            .args(["streams", "--json", "--idle-timeout", "2s"])
            .arg(&path),
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_jumps(&report["time_jumps"], &how.jumps(), "--idle-timeout 2s");
    assert_eq!(report["time_jumps"]["idle_timeout_s"], 2.0);
    let stats = &report["streams"][0]["stats"];
    assert_near(&stats["duration_s"], how.arrival_span_s(), NS_IN_S, "2s");

    let null = play_null(&path, &dir, &["--idle-timeout", "2s"]);
    assert_jumps(&null["time_jumps"], &how.jumps(), "play --idle-timeout 2s");
    assert_eq!(null["metrics"]["played"], PACKETS as u64, "{null}");
    let null = play_null(&path, &dir, &[]);
    assert_eq!(null["time_jumps"]["skipped"], 0, "{null}");
}

#[test]
fn the_per_packet_analysis_marks_the_packet_after_a_pause() {
    let how = Move::Ahead(THREE_DAYS);
    let (_dir, path) = scratch_file("time_jump_rows", "ahead-3d.pcap");
    moved_capture(how).write_pcap(&path);
    let out = run_ok(
        jitterplay()
            .args(["streams", "--json", "--stream", "1"])
            .arg(&path),
    );
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let rows = json["packets"].as_array().expect("rows");
    let marked: Vec<(usize, &str)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let status = r["status"].as_str()?;
            status.contains("skipped pause").then_some((i, status))
        })
        .collect();
    assert_eq!(marked.len(), 2, "{marked:?}");
    assert_eq!(marked[0].0, RECORD - 1);
    assert!(
        marked[0].1.contains(&format!("at record {RECORD}")),
        "{marked:?}"
    );
    assert_eq!(marked[1].0, RECORD);
    for r in rows {
        assert_near(&r["skew_ms"], 0.0, NS_IN_MS, "skew");
    }
}

/// Copies the pcap at `src` to `dst`, record `record` (1-based) moved ahead by `by`.
fn move_record(src: &Path, dst: &Path, record: usize, by: Duration) {
    let mut reader = PcapReader::new(std::fs::File::open(src).expect("open")).expect("pcap");
    let file = std::fs::File::create(dst).expect("create");
    let mut writer = PcapWriter::with_header(file, reader.header()).expect("header");
    let mut n = 0;
    while let Some(packet) = reader.next_packet() {
        let p = packet.expect("record");
        n += 1;
        let timestamp = if n == record {
            p.timestamp + by
        } else {
            p.timestamp
        };
        let moved = PcapPacket::new(timestamp, p.orig_len, &p.data);
        writer.write_packet(&moved).expect("write");
    }
    assert!(n > record, "the capture has record {record}");
}

#[test]
fn the_real_opus_call_with_a_record_three_days_ahead_plays_as_the_original() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sip-rtp-opus.pcap");
    let dir = scratch("time_jump_opus");
    let moved = dir.join("opus-3d.pcap");
    move_record(&src, &moved, 200, THREE_DAYS);
    let original = play_null(&src, &dir, &[]);
    let replay = play_null(&moved, &dir, &[]);
    let records: Vec<&Value> = replay["time_jumps"]["listed"]
        .as_array()
        .expect("listed")
        .iter()
        .map(|j| &j["record"])
        .collect();
    assert_eq!(records, [200, 201], "{}", replay["time_jumps"]);
    for key in ["received", "played", "lost", "late"] {
        assert_eq!(
            replay["metrics"][key], original["metrics"][key],
            "{key}: {replay}"
        );
    }
    assert_eq!(replay["output"], original["output"], "output length");
    assert_eq!(original["time_jumps"]["skipped"], 0);
}
