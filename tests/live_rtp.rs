//! `jitterplay send --impair` → `jitterplay play rtp://…` over real loopback sockets, for every
//! payload format: the output is the source (bit-exact for L16/L24, an independent decode of the
//! sent bytes for G.711, ffmpeg's decode for MPEG audio) except where the player reports it
//! concealed lost packets, and the player's counters match what the sender's impairment did.
//! Then the protections and the edges: a foreign sender, garbage datagrams, end of stream on
//! `--idle-timeout`, a dynamic payload type nobody described, an SDP from `send --sdp-out`, and
//! `--stats-json -`.
//!
//! The player is always bound before anything is sent (its port is watched in /proc/net/udp).

mod common;
mod net_support;

use std::collections::HashMap;
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use net_support::*;
use serde_json::Value;

const SPEECH: &str = "speech-48k-mono.wav";

/// The jitter buffer window where the window itself is not under test. The floor is 200 ms, not
/// 100 ms: the target counts the output ring too (its high-water mark is 60 ms for a WAV sink),
/// and `--impair` below holds a reordered packet back by up to 65 ms plus 10 ms of jitter, so at
/// 100 ms most reordered packets come late (see `reordering_well_inside_the_target_makes_nothing_late`)
/// and the counters stop being exact.
const WINDOW: [&str; 4] = ["--target-min", "200ms", "--target-max", "500ms"];
/// How long the player waits for more packets after the last one.
const IDLE: Duration = Duration::from_millis(500);
/// The concealer's fade-in of resumed audio after a loss (`ConcealConfig::default().fade_in`).
const FADE_IN: Duration = Duration::from_millis(5);
/// Far more than any run here needs; a player still running then has hung.
const PLAYER_LIMIT: Duration = Duration::from_secs(40);

/// Runs `jitterplay send INPUT --to 127.0.0.1:PORT ARGS…` to completion.
/// `send` as before RTCP (`--no-rtcp`): these tests are about what the player does with the
/// packets alone (losses concealed, idle timeouts, counts); `nack_live` tests recovery.
fn send(input: &Path, port: u16, args: &[&str]) -> Output {
    jitterplay()
        .arg("send")
        .arg(input)
        .args(["--to", &format!("127.0.0.1:{port}"), "--no-rtcp"])
        .args(args)
        .stdin(Stdio::null())
        .bounded_output()
        .expect("run jitterplay send")
}

/// One loopback run: what the sender reported, the player's final stats and its output.
struct LiveRun {
    sent: HashMap<String, String>,
    /// The periodic stats lines, then the final one.
    lines: Vec<Value>,
    stats: Value,
    out: Vec<f32>,
    rate: u32,
    channels: usize,
}

/// Starts the player on a free port with `play_args`, sends `input` with `send_args` once it is
/// bound, and collects everything after the player ends on `--idle-timeout`.
fn live_run(dir: &Path, input: &Path, send_args: &[&str], play_args: &[&str]) -> LiveRun {
    let port = free_port();
    let stats_path = dir.join("stats.jsonl");
    let mut args = vec![
        "--stats-json",
        stats_path.to_str().expect("utf-8 path"),
        "--idle-timeout",
        "500ms",
    ];
    args.extend_from_slice(play_args);
    let player = spawn_player(dir, &format!("rtp://127.0.0.1:{port}"), &args);
    wait_until_bound(port);
    let sent = summary(&send(input, port, send_args));
    let wav = player.wav.clone();
    let played = player.wait(PLAYER_LIMIT);
    played.assert_success();
    let (lines, stats) = read_stats(&stats_path);
    let (out, rate, channels) = read_wav(&wav);
    eprintln!("sender: {sent:?}\nplayer: {}", stats["metrics"]);
    LiveRun {
        sent,
        lines,
        stats,
        out,
        rate,
        channels: usize::from(channels),
    }
}

/// The impairment every format test applies: jitter, reordering, duplicates and loss. The seeds
/// are chosen so that neither the first nor the last packet is dropped (a packet missing before
/// the first or after the last one that arrives is never "lost" to the receiver).
fn impairment(seed: u32) -> String {
    format!("delay=20ms,jitter=10ms,reorder=5%,dup=3%,loss=3%,seed={seed}")
}

/// The counters of the final stats line against what the sender's summary says its impairment
/// did: nothing arrives late inside [`WINDOW`], so every dropped packet is lost and every other
/// packet plays; each extra copy is a duplicate; every datagram sent is received.
fn check_counters(run: &LiveRun) {
    let s = &run.stats;
    let n = |p: &str| stat(s, p) as u64;
    let (packets, datagrams) = (count(&run.sent, "packets"), count(&run.sent, "datagrams"));
    let (dropped, duplicated) = (count(&run.sent, "dropped"), count(&run.sent, "duplicated"));
    assert_eq!(
        count(&run.sent, "overflow"),
        0,
        "sender overflow: {:?}",
        run.sent
    );
    assert_eq!(
        n("/metrics/late"),
        0,
        "late packets (window too small?): {s}"
    );
    assert_eq!(n("/metrics/lost"), dropped, "lost vs dropped: {s}");
    assert_eq!(n("/metrics/played"), packets - dropped, "played: {s}");
    assert_eq!(n("/metrics/duplicate"), duplicated, "duplicates: {s}");
    assert_eq!(n("/metrics/received"), datagrams, "received: {s}");
    assert_eq!(n("/net/datagrams"), datagrams, "net datagrams: {s}");
    assert_eq!(n("/net/accepted"), datagrams, "net accepted: {s}");
    for quiet in [
        "/metrics/malformed",
        "/metrics/unexpected_pt",
        "/metrics/too_large",
        "/metrics/stray",
        "/metrics/foreign_ssrc",
        "/metrics/overflow",
        "/metrics/resets",
        "/net/foreign",
        "/net/oversize",
        "/net/queue_full",
        "/net/kernel_drops",
    ] {
        assert_eq!(n(quiet), 0, "{quiet}: {s}");
    }
    // Output equal to the source needs the resampler out of the way all along (the level never
    // left the band around the target); the final line alone would not show it.
    for line in &run.lines {
        let ratio = stat(line, "/metrics/ratio");
        assert!(
            ratio == 1.0 || stat(line, "/metrics/played") == 0.0,
            "resample ratio {ratio} at t={:.1} s: the output is resampled, not the sent audio \
             (depth {:.0} ms, target {:.0} ms)",
            stat(line, "/t"),
            stat(line, "/metrics/depth_ms"),
            stat(line, "/metrics/target_ms")
        );
    }
}

/// How the aligned output compares with the reference.
#[derive(Debug)]
struct Comparison {
    /// Frames compared.
    compared: usize,
    /// Frames where some channel differs by more than the tolerance.
    mismatched: usize,
    /// Runs of mismatching frames (first, last) separated by more than `gap` matching ones.
    runs: Vec<(usize, usize)>,
    /// When the longest run ends in the output running early or late against the reference:
    /// where, and by how many frames (a concealment of the wrong length does that).
    shift: Option<(usize, isize)>,
}

/// Compares `out` with `reference` frame by frame from the first of each; a sample matches
/// within `tolerance` (0: bit for bit). Mismatches closer than `gap` frames form one run.
fn compare(
    reference: &[f32],
    out: &[f32],
    channels: usize,
    tolerance: f32,
    gap: usize,
) -> Comparison {
    let frames = |s: &[f32]| s.len() / channels;
    let differs = |i: usize, j: usize| {
        let (r, o) = (
            &reference[i * channels..(i + 1) * channels],
            &out[j * channels..(j + 1) * channels],
        );
        r.iter().zip(o).any(|(a, b)| {
            if tolerance == 0.0 {
                a.to_bits() != b.to_bits()
            } else {
                (a - b).abs() > tolerance
            }
        })
    };
    let compared = frames(reference).min(frames(out));
    let mut mismatched = 0;
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for i in (0..compared).filter(|&i| differs(i, i)) {
        mismatched += 1;
        match runs.last_mut() {
            Some((_, last)) if i - *last <= gap => *last = i,
            _ => runs.push((i, i)),
        }
    }
    // Does the output run early or late somewhere in the longest run? Look for a 50 ms window
    // that a small shift makes match (nearly) everywhere.
    let shift = runs
        .iter()
        .max_by_key(|(a, b)| b - a)
        .and_then(|&(start, end)| {
            let width = 2_400;
            let misses = |from: usize, lag: isize| {
                (from..from + width)
                    .filter(|&i| differs(i, (i as isize + lag) as usize))
                    .count()
            };
            (start.max(8)..end.min(compared.saturating_sub(width + 8)))
                .step_by(width)
                .find_map(|from| {
                    let aligned =
                        (-8isize..=8).find(|&lag| lag != 0 && misses(from, lag) <= width / 100);
                    aligned
                        .filter(|_| misses(from, 0) > width / 10)
                        .map(|lag| (from, lag))
                })
        });
    Comparison {
        compared,
        mismatched,
        runs,
        shift,
    }
}

/// The bound on what may differ: every concealed frame, plus, per loss event, the fade-in of the
/// audio that resumes after it (`extra` frames more per event for decoders that need the lost
/// data to decode what follows). A loss event is a run of consecutive lost packets, so there are
/// at most `lost` of them. Nothing may differ when nothing was lost.
fn check_only_concealment_differs(c: &Comparison, run: &LiveRun, extra: usize) {
    let lost = stat(&run.stats, "/metrics/lost") as usize;
    let concealed_ms = stat(&run.stats, "/metrics/concealed_ms");
    let concealed = (concealed_ms * f64::from(run.rate) / 1e3).round() as usize;
    let fade = (FADE_IN.as_secs_f64() * f64::from(run.rate)) as usize;
    let bound = concealed + lost * (fade + extra);
    eprintln!(
        "{c:?}: lost {lost}, concealed {concealed_ms} ms = {concealed} frames, bound {bound} frames"
    );
    let shifted = c.shift.map_or(String::new(), |(at, by)| {
        format!("; from frame {at} on the output runs {by} frames off the reference")
    });
    assert!(
        c.mismatched <= bound,
        "{} frames differ from the reference; concealment of {lost} lost packets explains at most \
         {bound} ({concealed} concealed + {lost} × {} fade-in/recovery){shifted}; runs {:?}",
        c.mismatched,
        fade + extra,
        &c.runs[..c.runs.len().min(8)]
    );
    assert!(
        c.runs.len() <= lost,
        "{} separate places differ but only {lost} packets were lost: {:?}",
        c.runs.len(),
        c.runs
    );
}

/// The output covers the whole reference (drained at the end) and then only the paced sink's
/// silence while the player waited for `--idle-timeout`.
fn check_whole_stream_then_silence(stream: usize, run: &LiveRun) {
    let out_frames = run.out.len() / run.channels;
    assert!(
        out_frames >= stream,
        "output has {out_frames} frames, the stream {stream}: its end was cut off"
    );
    let tail = &run.out[stream * run.channels..];
    assert!(
        tail.iter().all(|&s| s == 0.0),
        "something other than silence after the stream"
    );
    // The wait for the idle timeout is not written: the file ends with the stream.
    let tail_ms = tail.len() as f64 / run.channels as f64 * 1e3 / f64::from(run.rate);
    assert!(
        tail_ms <= 30.0,
        "{tail_ms:.0} ms of silence after the stream (idle timeout {} ms)",
        IDLE.as_millis()
    );
}

/// Frames per packet of a PCM stream of `frames` frames sent as `packets` packets (all full
/// but the last).
fn packet_frames(frames: usize, packets: u64) -> usize {
    let p = frames.div_ceil(packets as usize);
    assert!(
        p * (packets as usize - 1) < frames && frames <= p * packets as usize,
        "{frames} frames do not make {packets} packets of equal size"
    );
    p
}

/// Runs a PCM format end to end and checks the output against `reference` (interleaved at the
/// stream's rate and channels), which must be exactly what was sent.
fn pcm_end_to_end(
    dir: &Path,
    input: &Path,
    send_args: &[&str],
    play_args: &[&str],
    reference: &[f32],
    (rate, channels): (u32, usize),
) {
    let run = live_run(dir, input, send_args, play_args);
    assert_eq!((run.rate, run.channels), (rate, channels), "output format");
    check_counters(&run);
    let frames = reference.len() / channels;
    let p = packet_frames(frames, count(&run.sent, "packets"));
    let (lag, score) = best_lag(reference, &run.out, channels, 3 * p as isize);
    assert_eq!(
        lag, 0,
        "output starts {lag} frames off the first packet (correlation {score:.4})"
    );
    let fade = (FADE_IN.as_secs_f64() * f64::from(rate)) as usize;
    let c = compare(reference, &run.out, channels, 0.0, fade);
    assert_eq!(c.compared, frames, "compared {c:?} of {frames} frames");
    check_only_concealment_differs(&c, &run, 0);
    // concealed_ms is kept in whole microseconds, so compare in frames.
    let concealed_ms = stat(&run.stats, "/metrics/concealed_ms");
    let lost = stat(&run.stats, "/metrics/lost") as usize;
    assert_eq!(
        (concealed_ms * f64::from(rate) / 1e3).round() as usize,
        lost * p,
        "{concealed_ms} ms concealed for {lost} lost packets of {p} frames each"
    );
    check_whole_stream_then_silence(frames, &run);
}

#[test]
fn l16_stereo_is_bit_exact_except_concealed_packets() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("live_l16");
    let input = asset("music-48k-stereo.flac");
    // 5 ms packets (a 20 ms stereo packet would not fit 1460 bytes); 2 s → 400 packets.
    let reference = &ffmpeg_decode(&input)[..96_000 * 2];
    let impair = impairment(11);
    let send_args = ["--ptime", "5ms", "--duration", "2s", "--impair", &impair];
    let play_args = [&["--format", "l16/48000/2"], &WINDOW[..]].concat();
    pcm_end_to_end(&dir, &input, &send_args, &play_args, reference, (48_000, 2));
}

#[test]
fn l24_is_bit_exact_except_concealed_packets() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("live_l24");
    let input = asset("music-44k-stereo-24bit.flac");
    // 1.5 s of 24-bit samples, which f32 holds exactly; 221-frame packets fit 1460 bytes.
    let reference = ffmpeg_decode(&input);
    let impair = impairment(5);
    let send_args = ["--format", "l24", "--impair", &impair];
    let play_args = [&["--format", "l24/44100/2"], &WINDOW[..]].concat();
    pcm_end_to_end(
        &dir,
        &input,
        &send_args,
        &play_args,
        &reference,
        (44_100, 2),
    );
}

#[test]
fn reordering_well_inside_the_target_makes_nothing_late() {
    // `--impair reorder` holds a packet back by 25–65 ms behind its successors; the estimator
    // sets a target of at least 100 ms. Every held packet must still be in time.
    let dir = scratch("live_reorder_in_target");
    let input = asset(SPEECH);
    let run = live_run(
        &dir,
        &input,
        &[
            "--ptime",
            "10ms",
            "--duration",
            "2s",
            "--impair",
            "reorder=10%,seed=3",
        ],
        &[
            "--format",
            "l16/48000/1",
            "--target-min",
            "100ms",
            "--target-max",
            "500ms",
        ],
    );
    let s = &run.stats;
    assert!(count(&run.sent, "reordered") > 5, "{:?}", run.sent);
    assert_eq!(
        (stat(s, "/metrics/late"), stat(s, "/metrics/lost")),
        (0.0, 0.0),
        "packets held back at most 65 ms came late with a {:.0} ms target (the output ring's \
         high-water mark is part of the target, leaving less for the network): {s}",
        stat(s, "/metrics/target_ms")
    );
    assert_bit_exact(&run.out, &speech(96_000));
}

/// ITU-T G.711 μ-law expansion to 16-bit linear (the textbook bias-and-shift form).
fn ulaw_to_linear(code: u8) -> i16 {
    let u = !code;
    let magnitude = ((i32::from(u & 0x0F) << 3) + 0x84) << ((u >> 4) & 0x07);
    let value = magnitude - 0x84;
    (if u & 0x80 != 0 { -value } else { value }) as i16
}

/// ITU-T G.711 A-law expansion to 16-bit linear.
fn alaw_to_linear(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mantissa = i32::from(a & 0x0F) << 4;
    let segment = (a >> 4) & 0x07;
    let magnitude = match segment {
        0 => mantissa + 8,
        s => (mantissa + 0x108) << (s - 1),
    };
    (if a & 0x80 != 0 { magnitude } else { -magnitude }) as i16
}

#[test]
fn g711_tables_match_known_values() {
    // Values from the G.711 tables: silence, the extremes, and a mid-segment code.
    assert_eq!(ulaw_to_linear(0xFF), 0);
    assert_eq!(ulaw_to_linear(0x7F), 0);
    assert_eq!(ulaw_to_linear(0x80), 32_124);
    assert_eq!(ulaw_to_linear(0x00), -32_124);
    assert_eq!(ulaw_to_linear(0xEF), 132);
    assert_eq!(alaw_to_linear(0xD5), 8);
    assert_eq!(alaw_to_linear(0x55), -8);
    assert_eq!(alaw_to_linear(0xAA), 32_256);
    assert_eq!(alaw_to_linear(0x2A), -32_256);
}

/// What `send` emits for `args` (no impairment), captured on a test socket: the payload bytes in
/// sequence order.
fn capture_payloads(input: &Path, args: &[&str]) -> Vec<u8> {
    let rx = receiver();
    let child = jitterplay()
        .arg("send")
        .arg(input)
        .args([
            "--to",
            &rx.local_addr().expect("addr").to_string(),
            "--no-rtcp",
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jitterplay send");
    let (arrivals, output) = receive_until_exit(&rx, child);
    let packets = count(&summary(&output), "packets");
    assert_eq!(arrivals.len() as u64, packets, "capture lost datagrams");
    let mut payloads = Vec::new();
    let mut expected_seq = None;
    for a in &arrivals {
        let r = rtp_rs::RtpReader::new(&a.bytes).expect("valid RTP");
        let seq = u16::from(r.sequence_number());
        assert!(
            expected_seq.is_none_or(|e| e == seq),
            "capture out of order at sequence number {seq}"
        );
        expected_seq = Some(seq.wrapping_add(1));
        payloads.extend_from_slice(r.payload());
    }
    payloads
}

/// G.711 end to end: the reference is an independent decode of the bytes `send` emits for the
/// same input and format (impairment drops, reorders and duplicates packets, never changes them).
fn g711_end_to_end(name: &str, format: &str, expand: fn(u8) -> i16, seed: u32) {
    let dir = scratch(name);
    let input = asset(SPEECH);
    let base = ["--format", format, "--duration", "2s"];
    let bytes = capture_payloads(&input, &base);
    assert_eq!(bytes.len(), 16_000, "2 s of 8 kHz G.711");
    let reference: Vec<f32> = bytes
        .iter()
        .map(|&b| f32::from(expand(b)) / 32_768.0)
        .collect();
    let impair = impairment(seed);
    let send_args = [&base[..], &["--impair", &impair]].concat();
    // No --format: PT 0 and 8 are static.
    pcm_end_to_end(&dir, &input, &send_args, &WINDOW, &reference, (8_000, 1));
}

#[test]
fn pcmu_equals_an_independent_decode_of_the_sent_bytes() {
    g711_end_to_end("live_pcmu", "pcmu", ulaw_to_linear, 7);
}

#[test]
fn pcma_equals_an_independent_decode_of_the_sent_bytes() {
    g711_end_to_end("live_pcma", "pcma", alaw_to_linear, 9);
}

/// symphonia and ffmpeg decode MP3 independently; tests/reference_decode.rs measured them within
/// this per-sample error on the bundled files.
const LOSSY_MAX_ABS_ERROR: f32 = 1e-5;
/// What may decode differently after a lost MP3 packet: a layer III frame's main data starts up
/// to 511 bytes back (the bit reservoir), 2.5 frames of this 64 kbit/s file, so the three 1152-
/// sample frames after a loss may lack part of theirs.
const MP3_RECOVERY: usize = 3 * 1152;

/// MPEG audio end to end with `send_args`: the output is ffmpeg's decode of the same file, after
/// the encoder delay that ffmpeg trims (a decoder fed raw frames cannot know it), except where
/// packets were lost.
fn mpa_end_to_end(name: &str, send_args: &[&str], seed: u32) {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch(name);
    let input = asset("speech-44k-mono.mp3");
    let reference = ffmpeg_decode(&input);
    let impair = impairment(seed);
    let send_args = [&["--format", "mpa", "--impair", &impair], send_args].concat();
    let run = live_run(&dir, &input, &send_args, &WINDOW);
    assert_eq!((run.rate, run.channels), (44_100, 1), "output format");
    check_counters(&run);
    let (lag, score) = best_lag(&reference, &run.out, 1, 4_000);
    assert!(
        (0..4_000).contains(&lag) && score > 0.999,
        "no alignment with ffmpeg's decode: lag {lag}, correlation {score:.4}"
    );
    let out = &run.out[lag as usize..];
    let fade = (FADE_IN.as_secs_f64() * 44_100.0) as usize;
    let c = compare(&reference, out, 1, LOSSY_MAX_ABS_ERROR, fade + MP3_RECOVERY);
    assert_eq!(
        c.compared,
        reference.len(),
        "the output lacks the end of ffmpeg's decode"
    );
    check_only_concealment_differs(&c, &run, MP3_RECOVERY);
}

#[test]
fn mpa_one_frame_per_packet_matches_ffmpeg_except_concealed_frames() {
    // 300 bytes hold one 64 kbit/s frame (209 bytes): 26 ms packets.
    mpa_end_to_end("live_mpa_one_frame", &["--max-payload", "300"], 2);
}

#[test]
fn mpa_full_packets_match_ffmpeg_except_concealed_frames() {
    // The default 1460 bytes hold six frames (157 ms), as ffmpeg's RTP muxer also packs them.
    mpa_end_to_end("live_mpa_full", &[], 4);
}

/// A player on a free port reporting `--stats-json -` to stdout, and its port.
fn stats_player(dir: &Path, idle: &str, more: &[&str]) -> (Player, u16) {
    let port = free_port();
    let args = [
        &["--stats-json", "-", "--idle-timeout", idle],
        &WINDOW[..],
        more,
    ]
    .concat();
    let player = spawn_player(dir, &format!("rtp://127.0.0.1:{port}"), &args);
    wait_until_bound(port);
    (player, port)
}

/// The speech source cut to `frames` frames.
fn speech(frames: usize) -> Vec<f32> {
    let (samples, rate, channels) = read_wav(&asset(SPEECH));
    assert_eq!((rate, channels), (48_000, 1));
    samples[..frames].to_vec()
}

/// The output from its first frame equals `reference` bit for bit, up to its length.
fn assert_bit_exact(out: &[f32], reference: &[f32]) {
    assert!(
        out.len() >= reference.len(),
        "output has {} samples, the stream {}",
        out.len(),
        reference.len()
    );
    let first = out.iter().zip(reference).position(|(a, b)| a != b);
    assert_eq!(first, None, "output differs from the source at this sample");
}

#[test]
fn a_foreign_sender_is_ignored_and_counted() {
    let dir = scratch("live_foreign");
    let (mut player, port) = stats_player(&dir, "500ms", &["--format", "l16/48000/1"]);
    let input = asset(SPEECH);
    let legit = jitterplay()
        .arg("send")
        .arg(&input)
        .args(["--to", &format!("127.0.0.1:{port}"), "--no-rtcp"])
        .args(["--ptime", "10ms", "--duration", "2s", "--ssrc", "0x1111"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jitterplay send");
    // The stats lines name the sender once it is locked.
    player.wait_for_line("a locked sender", Duration::from_secs(10), |l| {
        serde_json::from_str::<Value>(l).is_ok_and(|v| v["source"].is_string())
    });
    let intruder = summary(&send(
        &input,
        port,
        &["--ptime", "10ms", "--duration", "500ms", "--ssrc", "0x2222"],
    ));
    let legit = summary(&legit.wait_with_output().expect("legit sender"));
    let wav = player.wav.clone();
    let played = player.wait(PLAYER_LIMIT);
    played.assert_success();
    let stats = final_stats(&played.stdout);
    let n = |p: &str| stat(&stats, p) as u64;
    assert_eq!(
        n("/net/foreign"),
        count(&intruder, "datagrams"),
        "the intruder's datagrams are counted foreign: {stats}"
    );
    assert_eq!(n("/net/datagrams"), 200 + n("/net/foreign"), "{stats}");
    assert_eq!(count(&legit, "datagrams"), 200);
    assert_eq!(
        (
            n("/metrics/received"),
            n("/metrics/played"),
            n("/metrics/lost")
        ),
        (200, 200, 0),
        "{stats}"
    );
    assert_eq!(n("/metrics/resets"), 0, "the intruder restarted the stream");
    assert_bit_exact(&read_wav(&wav).0, &speech(96_000));
}

/// A 10 ms L16 packet of `samples` (mono) as `send` would make it.
fn l16_packet(seq: u16, ts: u32, ssrc: u32, samples: &[f32]) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend(l16_bytes(samples));
    p
}

/// Datagrams that are not valid RTP, which the receive core counts as malformed. (Any size up to
/// 65,507 bytes is valid input, so none is junk for its size alone.)
fn junk() -> Vec<Vec<u8>> {
    // Seeded bytes (an LCG); the first byte says version 0, so they cannot pass for RTP.
    let mut x = 0x2545_f491_u32;
    let mut random: Vec<u8> = (0..200)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect();
    random[0] = 0x3F;
    // 2000 bytes whose header claims a 256 KiB extension.
    let mut long = l16_packet(1, 0, 0x1234, &[]);
    long[0] = 0x90;
    long.extend_from_slice(&[0xBE, 0xDE, 0xFF, 0xFF]);
    long.resize(2_000, 0x55);
    vec![
        random,
        // Half a header.
        vec![0x80, 96, 0x12],
        // Claims 15 CSRCs but ends after the fixed header.
        vec![0x8F, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0x12, 0x34],
        // Claims a header extension that is not there.
        vec![0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0xBE],
        long,
    ]
}

#[test]
fn garbage_from_the_sender_is_counted_and_playback_stays_bit_exact() {
    let dir = scratch("live_garbage");
    let (player, port) = stats_player(&dir, "500ms", &["--format", "l16/48000/1"]);
    let source = speech(72_000);
    let tx = UdpSocket::bind("127.0.0.1:0").expect("bind sender");
    tx.connect(("127.0.0.1", port)).expect("connect");
    let junk = junk();
    // Valid RTP of the stream's SSRC but a payload type it does not carry (PCMU), numbered far
    // from the stream.
    let mut other_pt = l16_packet(40_000, 0, 0x5eed, &[0.0; 80]);
    other_pt[1] = 0;
    let start = Instant::now();
    // 150 packets of 10 ms; after the stream has settled, junk from the locked sender's own
    // socket between packets (every tenth one, from the twentieth), and one packet of another
    // payload type.
    let mut junk_left = junk.iter();
    for (i, chunk) in source.chunks(480).enumerate() {
        let at = start + Duration::from_millis(10 * i as u64);
        // Pacing like a real sender, not synchronisation.
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        let packet = l16_packet(1000 + i as u16, 480 * i as u32, 0x5eed, chunk);
        tx.send(&packet).expect("send packet");
        if i >= 20 && i % 10 == 0 {
            if let Some(bytes) = junk_left.next() {
                tx.send(bytes).expect("send junk");
            }
        }
        if i == 75 {
            tx.send(&other_pt).expect("send another payload type");
        }
    }
    assert!(junk_left.next().is_none(), "all junk sent");
    let wav = player.wav.clone();
    let played = player.wait(PLAYER_LIMIT);
    played.assert_success();
    let stats = final_stats(&played.stdout);
    let n = |p: &str| stat(&stats, p) as u64;
    let malformed = junk.len() as u64;
    assert_eq!(n("/receiver/malformed"), malformed, "{stats}");
    assert_eq!(n("/metrics/malformed"), malformed, "{stats}");
    assert_eq!(n("/receiver/unexpected_pt"), 1, "{stats}");
    assert_eq!(n("/metrics/unexpected_pt"), 1, "{stats}");
    assert_eq!(n("/net/oversize"), 0, "{stats}");
    // All of it came from the locked sender, so all of it reached the core.
    assert_eq!(n("/net/datagrams"), 150 + malformed + 1, "{stats}");
    assert_eq!(n("/net/accepted"), n("/net/datagrams"), "{stats}");
    assert_eq!(
        (
            n("/metrics/received"),
            n("/metrics/played"),
            n("/metrics/lost")
        ),
        (150, 150, 0),
        "{stats}"
    );
    assert_bit_exact(&read_wav(&wav).0, &source);
}

#[test]
fn junk_before_the_stream_is_counted() {
    let dir = scratch("live_junk_first");
    // Junk resets the idle timer until the stream settles: 2 s leaves time for the stream.
    let (player, port) = stats_player(&dir, "2s", &["--format", "l16/48000/1"]);
    // Another socket sends junk before any sender is locked.
    let junk = junk();
    let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for j in &junk {
        tx.send_to(j, ("127.0.0.1", port)).expect("send junk");
    }
    wait_until_drained(port);
    let sent = summary(&send(
        &asset(SPEECH),
        port,
        &["--ptime", "10ms", "--duration", "500ms"],
    ));
    let played = player.wait(PLAYER_LIMIT);
    played.assert_success();
    let stats = final_stats(&played.stdout);
    let n = |p: &str| stat(&stats, p) as u64;
    assert_eq!(count(&sent, "datagrams"), 50);
    assert_eq!(n("/net/datagrams"), 50 + junk.len() as u64, "{stats}");
    assert_eq!(
        n("/metrics/played"),
        50,
        "the real stream did not play (locked source {}, the junk came from {}): {stats}",
        stats["source"],
        tx.local_addr().expect("junk address")
    );
    // Every datagram that did not play is counted once, under one reason: read = accepted +
    // the network task's drops, accepted = buffered + the core's drops.
    let net_drops =
        n("/net/foreign") + n("/net/oversize") + n("/net/rate_limited") + n("/net/queue_full");
    assert_eq!(
        n("/net/datagrams"),
        n("/net/accepted") + net_drops,
        "{stats}"
    );
    let core_drops = n("/metrics/malformed") + n("/metrics/unexpected_pt");
    assert_eq!(
        n("/net/accepted"),
        n("/metrics/received") + core_drops,
        "{stats}"
    );
    let counted = net_drops + core_drops + n("/metrics/foreign_ssrc") + n("/metrics/stray");
    assert_eq!(
        counted,
        junk.len() as u64,
        "{} junk datagrams sent before the stream, {counted} counted as dropped: {stats}",
        junk.len()
    );
}

#[test]
fn idle_timeout_drains_everything_and_exits_0() {
    let dir = scratch("live_idle");
    let port = free_port();
    let stats_path = dir.join("stats.jsonl");
    // A 1 s buffer and a 2 s stream: when the idle timeout fires, about half a second is still
    // buffered, and it must all play.
    let player = PlayerArgs::rtp(port)
        .format("l16/48000/1")
        .target("1s", "1s")
        .idle_timeout("500ms")
        .stats_json(&stats_path)
        .spawn(&dir);
    wait_until_bound(port);
    let input = asset(SPEECH);
    let sent = summary(&send(
        &input,
        port,
        &["--ptime", "10ms", "--duration", "2s"],
    ));
    let sender_done = Instant::now();
    let wav = player.wav.clone();
    let played = player.wait(PLAYER_LIMIT);
    let after_sender = sender_done.elapsed();
    played.assert_success();
    // Playback goes on while the player waits for the idle timeout, so the 1 s buffered at the
    // sender's end takes about 1 s to play; stopping at the idle timeout would take 0.5 s.
    assert!(
        after_sender >= Duration::from_millis(900) && after_sender < Duration::from_millis(2_500),
        "exited {after_sender:?} after the sender (1 s buffered, idle timeout 500 ms)"
    );
    let (out, _, _) = read_wav(&wav);
    let reference = speech(96_000);
    assert_bit_exact(&out, &reference);
    let tail = &out[reference.len()..];
    assert!(tail.iter().all(|&s| s == 0.0), "not silence after the end");
    assert!(
        tail.len() <= 48_000,
        "{} ms of silence after the stream",
        tail.len() / 48
    );
    let stats = final_stats(&std::fs::read_to_string(&stats_path).expect("stats"));
    assert_eq!(stats["state"], "finished", "{stats}");
    assert_eq!(
        (
            stat(&stats, "/metrics/played"),
            stat(&stats, "/metrics/lost")
        ),
        (count(&sent, "packets") as f64, 0.0),
        "the final stats line miscounts what the output shows played in full: {stats}"
    );
}

#[test]
fn a_dynamic_payload_type_without_a_format_fails_in_one_line() {
    let dir = scratch("live_dynamic_pt");
    let port = free_port();
    let player = spawn_player(
        &dir,
        &format!("rtp://127.0.0.1:{port}"),
        &["--idle-timeout", "3s", "--duration", "10s"],
    );
    wait_until_bound(port);
    let sender = jitterplay()
        .arg("send")
        .arg(asset(SPEECH))
        .args([
            "--to",
            &format!("127.0.0.1:{port}"),
            "--duration",
            "2s",
            "--no-rtcp",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn jitterplay send");
    let sent_at = Instant::now();
    let played = player.wait(Duration::from_secs(15));
    let took = sent_at.elapsed();
    let mut sender = sender;
    let _ = sender.kill();
    let _ = sender.wait();
    assert_eq!(played.status.code(), Some(1), "stderr: {}", played.stderr);
    // Decided at the first packet, not at the idle timeout or --duration.
    assert!(took < Duration::from_secs(2), "took {took:?} to give up");
    let lines: Vec<&str> = played.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "not one line: {:?}", played.stderr);
    assert!(
        lines[0].starts_with("error:")
            && lines[0].contains("96")
            && lines[0].contains("--format")
            && lines[0].contains("SDP"),
        "unclear error: {}",
        lines[0]
    );
}

#[test]
fn send_sdp_out_plays_as_is() {
    let dir = scratch("live_sdp");
    let port = free_port();
    let sdp = dir.join("stream.sdp");
    let input = asset(SPEECH);
    let args = ["--ptime", "10ms", "--pt", "101", "--duration", "1s"];
    // The SDP of the stream, written without sending anything, so the player can be up first.
    let sdp_arg = sdp.to_str().expect("utf-8 path");
    let zero = [&args[..4], &["--duration", "0s", "--sdp-out", sdp_arg]].concat();
    summary(&send(&input, port, &zero));
    let player = spawn_player(
        &dir,
        sdp_arg,
        &[
            &["--idle-timeout", "500ms", "--stats-json", "-"],
            &WINDOW[..],
        ]
        .concat(),
    );
    wait_until_bound(port);
    let sent = summary(&send(&input, port, &args));
    assert_eq!(count(&sent, "datagrams"), 100);
    let wav = player.wav.clone();
    let played = player.wait(PLAYER_LIMIT);
    played.assert_success();
    let stats = final_stats(&played.stdout);
    assert_eq!(stats["format"], "l16/48000/1", "{stats}");
    assert_eq!(stat(&stats, "/metrics/played"), 100.0, "{stats}");
    assert_bit_exact(&read_wav(&wav).0, &speech(48_000));
}

#[test]
fn stats_json_to_stdout_is_a_line_a_second_and_a_final_line() {
    let dir = scratch("live_stats_stdout");
    let (player, port) = stats_player(&dir, "500ms", &["--format", "l16/48000/1"]);
    let sent = summary(&send(
        &asset(SPEECH),
        port,
        &["--ptime", "10ms", "--duration", "3s"],
    ));
    assert_eq!(count(&sent, "datagrams"), 300);
    let played = player.wait(PLAYER_LIMIT);
    played.assert_success();
    let lines: Vec<Value> = played
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let (last, periodic) = lines.split_last().expect("some stats lines");
    assert_eq!(last["final"], true, "{last}");
    assert!(periodic.iter().all(|l| l.get("final").is_none()));
    let times: Vec<f64> = periodic.iter().map(|l| stat(l, "/t")).collect();
    // One line per second of the run: from the start until the player finished.
    let run_s = stat(last, "/t");
    assert!(
        (times.len() as f64 - run_s).abs() <= 1.5,
        "{} lines over {run_s:.1} s: {times:?}",
        times.len()
    );
    assert!(
        times
            .windows(2)
            .all(|w| (0.8..=1.5).contains(&(w[1] - w[0]))),
        "lines not a second apart: {times:?}"
    );
    for key in [
        "received",
        "played",
        "lost",
        "late",
        "duplicate",
        "reordered",
        "overflow",
        "malformed",
        "unexpected_pt",
        "too_large",
        "stray",
        "foreign_ssrc",
        "concealed_ms",
        "concealed_pitch_ms",
        "concealed_fade_ms",
        "concealed_noise_ms",
        "underruns",
        "rebuffers",
        "depth_ms",
        "target_ms",
        "buffer_fill_ratio",
        "max_buffer_depth_ms",
        "message_age_ms",
        "flush_latency_ms",
        "jitter_ms",
        "ratio",
        "stretched_ms",
        "silence_adjusted_ms",
        "dropped_ms",
    ] {
        assert!(last["metrics"][key].is_number(), "no metrics.{key}: {last}");
    }
    assert!(
        last["metrics"]["drift_ppm"].is_null(),
        "a stream of seconds has no drift estimate (unknown, not a number): {last}"
    );
    for key in [
        "datagrams",
        "accepted",
        "foreign",
        "oversize",
        "rate_limited",
        "queue_full",
        "kernel_drops",
        "recv_buffer",
    ] {
        assert!(last["net"][key].is_number(), "no net.{key}: {last}");
    }
    assert_eq!(stat(last, "/metrics/played"), 300.0, "{last}");
    assert!(stat(last, "/net/recv_buffer") > 0.0, "{last}");
    // The periodic lines watch the stream: something playing, counts that only grow.
    assert!(
        periodic.iter().any(|l| l["state"] == "playing"),
        "never playing"
    );
    let played_counts: Vec<f64> = periodic
        .iter()
        .map(|l| stat(l, "/metrics/played"))
        .collect();
    assert!(
        played_counts.windows(2).all(|w| w[0] <= w[1]),
        "{played_counts:?}"
    );
}
