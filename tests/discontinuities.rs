//! Discontinuities in a live stream lose no audio. `jitterplay play rtp://…` on loopback is fed
//! by a test-side sender (`net_support::stream_sender`) with 12 s of 48 kHz stereo L16 noise in
//! 5 ms packets, through a sender restart, a sequence-number jump, packets sent 8 s late, and
//! packet-time changes. Every sent packet is searched bit for bit in the WAV output: the packets
//! that arrived in time play (≥ 99.5 % of them), none twice, in order, and the output is as long
//! as the stream (within 1 %). Each test prints a one-line summary of what it measured.
//!
//! They run in real time (about 20–30 s each) on their own ports, so they can run concurrently.

mod common;
mod net_support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::*;
use net_support::stream_sender::*;
use net_support::*;
use serde_json::Value;

/// The stream's packet time (240 frames, 960-byte payloads).
const PTIME: Duration = Duration::from_millis(5);
/// The stream's length.
const STREAM: Duration = Duration::from_secs(12);
/// Where the discontinuity is.
const HALF: Duration = Duration::from_secs(6);
/// Share of the packets that arrived in time which must be found bit-exact.
const MIN_BIT_EXACT: f64 = 0.995;
/// How far the played audio's length may be off the expected length.
const LENGTH_TOLERANCE: f64 = 0.01;

/// One live run: the plan sent, what the player wrote and said.
struct Outcome {
    plan: Plan,
    log: SendLog,
    found: Found,
    /// The final `--stats-json` line.
    stats: Value,
    /// Every `--stats-json` line.
    lines: Vec<Value>,
    /// Frames of the WAV output.
    out_frames: usize,
    /// First and one-past-last frame of the output that is not silence.
    span: (usize, usize),
}

/// Plays `plan` through `jitterplay play rtp://127.0.0.1:PORT --format l16/48000/2
/// --output wav:… --idle-timeout IDLE --stats-json … --quiet` and searches the output.
fn play(name: &str, plan: Plan, idle: &str) -> Outcome {
    let dir = scratch(name);
    let port = free_port();
    let stats_path = dir.join("stats.jsonl");
    let player = PlayerArgs::rtp(port)
        .format("l16/48000/2")
        .idle_timeout(idle)
        .stats_json(&stats_path)
        .spawn(&dir);
    wait_until_bound(port);
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind sender");
    socket.connect(("127.0.0.1", port)).expect("connect");
    let log = send_plan(&socket, &plan, Instant::now());
    let wav = player.wav.clone();
    let limit = plan.wire_end() + Duration::from_secs(60);
    let played = player.wait(limit);
    played.assert_success();
    let (lines, stats) = read_stats(&stats_path);
    let (out, rate, channels) = read_wav(&wav);
    assert_eq!(
        (rate, usize::from(channels)),
        (RATE, CHANNELS),
        "output format"
    );
    let found = find_packets(&plan, &out);
    Outcome {
        out_frames: out.len() / CHANNELS,
        span: audio_span(&out),
        plan,
        log,
        found,
        stats,
        lines,
    }
}

impl Outcome {
    /// A counter of the final stats line.
    fn n(&self, pointer: &str) -> u64 {
        stat(&self.stats, pointer) as u64
    }

    /// Packets sent in their slot, and how many of them were found bit-exact.
    fn in_time(&self) -> (usize, usize) {
        let in_time: Vec<usize> = (0..self.plan.packets.len())
            .filter(|&i| !self.plan.packets[i].held_back())
            .collect();
        let found = in_time
            .iter()
            .filter(|&&i| !self.found.at[i].is_empty())
            .count();
        (in_time.len(), found)
    }

    /// Packets held back whose audio is not in the output (it had played, concealed, when
    /// they arrived), of all held back.
    fn held_back_missing(&self) -> (usize, usize) {
        let held: Vec<usize> = (0..self.plan.packets.len())
            .filter(|&i| self.plan.packets[i].held_back())
            .collect();
        let missing = held
            .iter()
            .filter(|&&i| self.found.at[i].is_empty())
            .count();
        (held.len(), missing)
    }

    /// In-time packets not found whose predecessor is not in the output either: the audio that
    /// resumes after a concealed packet (a concealer fading it in alters it).
    fn missing_after_a_gap(&self) -> usize {
        (1..self.plan.packets.len())
            .filter(|&i| {
                !self.plan.packets[i].held_back()
                    && self.found.at[i].is_empty()
                    && self.found.at[i - 1].is_empty()
            })
            .count()
    }

    /// Seconds of played audio (the output without the idle wait's trailing silence).
    fn length(&self) -> f64 {
        seconds(self.span.1 - self.span.0)
    }

    /// Prints the one-line summary of the case.
    fn print_summary(&self, case: &str, expected: Duration) {
        let (in_time, found) = self.in_time();
        let (held, held_missing) = self.held_back_missing();
        let (largest_gap, total_gaps) = self.found.gaps(&self.plan);
        let resampled = self
            .lines
            .iter()
            .filter(|l| stat(l, "/metrics/played") > 0.0 && stat(l, "/metrics/ratio") != 1.0)
            .count();
        eprintln!(
            "{case}: {found}/{in_time} in-time packets bit-exact ({:.2} %; {} of the others follow a \
             missing packet), {} found twice, {} out of order; held back {held} ({held_missing} not in the output); stats late {} resets {} \
             lost {} overflow {} discarded {} concealed {:.0} ms rebuffers {} underruns {}; audio \
             {:.3} s (expected {:.3} s, {:+.2} %), leading silence {:.3} s, output {:.3} s; gaps \
             between found packets {:.1} ms total, {:.1} ms largest; {resampled}/{} stats lines \
             resampled while playing; send lag ≤ {:?}; first missing {:?}",
            100.0 * found as f64 / in_time.max(1) as f64,
            self.missing_after_a_gap(),
            self.found.repeated(),
            self.found.out_of_order(),
            self.n("/metrics/late"),
            self.n("/metrics/resets"),
            self.n("/metrics/lost"),
            self.n("/metrics/overflow"),
            self.n("/metrics/discarded"),
            stat(&self.stats, "/metrics/concealed_ms"),
            self.n("/metrics/rebuffers"),
            self.n("/metrics/underruns"),
            self.length(),
            expected.as_secs_f64(),
            100.0 * (self.length() / expected.as_secs_f64() - 1.0),
            seconds(self.span.0),
            seconds(self.out_frames),
            seconds(total_gaps) * 1e3,
            seconds(largest_gap) * 1e3,
            self.lines.len(),
            self.log.max_lag,
            self.found.missing(8),
        );
    }

    /// The checks every case makes: in-time packets bit-exact, none twice, in order, and the
    /// played audio `expected` long.
    fn check(&self, case: &str, expected: Duration) {
        self.print_summary(case, expected);
        assert_eq!(
            self.found.repeated(),
            0,
            "{case}: audio of some packets played twice: {:?}",
            (0..self.found.at.len())
                .filter(|&i| self.found.at[i].len() > 1)
                .take(8)
                .map(|i| (i, &self.found.at[i]))
                .collect::<Vec<_>>()
        );
        let (in_time, found) = self.in_time();
        let share = found as f64 / in_time as f64;
        assert!(
            share >= MIN_BIT_EXACT,
            "{case}: {found} of {in_time} packets that arrived in time are in the output bit for \
             bit ({:.2} %, at least {:.1} % must be); missing: {:?}; {}",
            share * 100.0,
            MIN_BIT_EXACT * 100.0,
            self.found.missing(20),
            self.stats["metrics"]
        );
        assert_eq!(
            self.found.out_of_order(),
            0,
            "{case}: some audio plays before audio that was sent ahead of it"
        );
        let off = self.length() / expected.as_secs_f64() - 1.0;
        assert!(
            off.abs() <= LENGTH_TOLERANCE,
            "{case}: {:.3} s of audio played, {:.3} s expected ({:+.2} %)",
            self.length(),
            expected.as_secs_f64(),
            off * 100.0
        );
        // The file itself: no prebuffering before the stream, no idle wait after it.
        let file_off = seconds(self.out_frames) / expected.as_secs_f64() - 1.0;
        assert!(
            file_off.abs() <= LENGTH_TOLERANCE,
            "{case}: the WAV holds {:.3} s for {:.3} s of stream ({:+.2} %)",
            seconds(self.out_frames),
            expected.as_secs_f64(),
            file_off * 100.0
        );
    }
}

/// A seeded random SSRC, sequence number and timestamp (as a restarted sender picks them).
fn random_ids(rng: &mut Rng) -> (u32, u16, u32) {
    (
        rng.next_u64() as u32,
        rng.next_u64() as u16,
        rng.next_u64() as u32,
    )
}

#[test]
fn a_sender_restart_after_a_pause_loses_nothing() {
    let mut rng = Rng::new(0xA);
    let (ssrc, seq, ts) = random_ids(&mut rng);
    let (new_ssrc, new_seq, new_ts) = random_ids(&mut rng);
    assert_ne!(ssrc, new_ssrc);
    let pause = Duration::from_millis(200);
    // The restarted sender uses the same socket (address and port), as the rule in docs/usage.md for
    // restarts ("a new SSRC from the locked address") requires.
    let plan = PlanBuilder::new(1, ssrc, seq, ts)
        .packets(PTIME, HALF)
        .pause(pause)
        .restart(new_ssrc, new_seq, new_ts)
        .packets(PTIME, STREAM - HALF)
        .build();
    let run = play("disc_restart", plan, "6s");
    run.check("restart", STREAM + pause);
    assert!(
        run.n("/metrics/resets") >= 1,
        "restart: the new SSRC did not reset the stream: {}",
        run.stats["metrics"]
    );
}

#[test]
fn a_sequence_number_jump_loses_nothing() {
    let (ssrc, seq, ts) = random_ids(&mut Rng::new(0xB));
    let plan = PlanBuilder::new(2, ssrc, seq, ts)
        .packets(PTIME, HALF)
        .seq_jump(5_000)
        .packets(PTIME, STREAM - HALF)
        .build();
    let run = play("disc_seq_jump", plan, "6s");
    run.check("seq jump", STREAM);
}

#[test]
fn packets_8_s_late_are_counted_late_and_nothing_else_is_lost() {
    let (ssrc, seq, ts) = random_ids(&mut Rng::new(0xC));
    let mut plan = PlanBuilder::new(3, ssrc, seq, ts)
        .packets(PTIME, STREAM)
        .build();
    // 1 % of the packets, seeded, away from the first and last 100 ms (where a missing packet
    // would move the stream's start or end rather than leave a hole).
    let n = plan.packets.len();
    let mut rng = Rng::new(0xC1);
    let mut late: Vec<usize> = Vec::new();
    while late.len() < n / 100 {
        let i = 20 + rng.below((n - 40) as u64) as usize;
        if !late.contains(&i) {
            late.push(i);
        }
    }
    late.sort_unstable();
    plan.hold_back(&late, Duration::from_secs(8));
    // The last late packets go out 8 s after the stream's end: the idle timeout outlasts that gap.
    let run = play("disc_late", plan, "10s");
    run.check("8 s late", STREAM);
    let (held, missing) = run.held_back_missing();
    assert_eq!(held, late.len());
    assert_eq!(
        run.n("/metrics/late"),
        missing as u64,
        "8 s late: {held} packets sent 8 s late, {missing} of them arrived after their audio had \
         played (not in the output), but the player counted {} late: {}",
        run.n("/metrics/late"),
        run.stats["metrics"]
    );
}

#[test]
fn packet_time_growing_from_5_to_10_ms_loses_nothing() {
    let (ssrc, seq, ts) = random_ids(&mut Rng::new(0xD));
    // 10 ms packets: 1920-byte payloads, 1932-byte datagrams.
    let plan = PlanBuilder::new(4, ssrc, seq, ts)
        .packets(PTIME, HALF)
        .packets(Duration::from_millis(10), STREAM - HALF)
        .build();
    assert_eq!(plan.datagram(plan.packets.len() - 1).len(), 1_932);
    let run = play("disc_ptime_10", plan, "6s");
    run.check("ptime 5→10 ms", STREAM);
}

#[test]
fn packet_time_5_10_20_40_and_back_to_5_ms_loses_nothing() {
    let (ssrc, seq, ts) = random_ids(&mut Rng::new(0xE));
    let ms = Duration::from_millis;
    let plan = PlanBuilder::new(5, ssrc, seq, ts)
        .packets(ms(5), ms(3_000))
        .packets(ms(10), ms(2_000))
        .packets(ms(20), ms(2_000))
        // 40 ms: 7680-byte payloads.
        .packets(ms(40), ms(2_000))
        .packets(ms(5), ms(3_000))
        .build();
    assert_eq!(plan.frames(), frames_of(STREAM));
    assert!(plan
        .packets
        .iter()
        .any(|p| p.frames * CHANNELS * 2 == 7_680));
    let run = play("disc_ptime_40", plan, "6s");
    run.check("ptime 5→10→20→40→5 ms", STREAM);
}

#[test]
fn the_output_search_finds_packets_bit_exact_and_counts_repeats() {
    // The search itself, on an output built by hand: packet 3 concealed (zeros), packet 5
    // played twice, packet 7 one LSB off in its last sample, 100 frames of silence after 8.
    let plan = PlanBuilder::new(9, 1, 65_530, 0)
        .packets(PTIME, Duration::from_millis(50))
        .build();
    let mut out: Vec<f32> = Vec::new();
    for i in 0..plan.packets.len() {
        let mut samples: Vec<f32> = plan.samples(i).iter().map(|&s| float_of(s)).collect();
        match i {
            3 => samples.iter_mut().for_each(|s| *s = 0.0),
            7 => {
                let last = samples.len() - 1;
                samples[last] += 1.0 / 32_768.0;
            }
            _ => {}
        }
        out.extend_from_slice(&samples);
        if i == 5 {
            out.extend_from_slice(&samples);
        }
        if i == 8 {
            out.extend(std::iter::repeat_n(0.0, 100 * CHANNELS));
        }
    }
    let found = find_packets(&plan, &out);
    assert_eq!(found.found(), 8);
    assert_eq!(found.missing(10), vec![3, 7]);
    assert_eq!(found.repeated(), 1);
    assert_eq!(found.at[5], vec![5 * 240, 6 * 240]);
    assert_eq!(found.out_of_order(), 0);
    assert_eq!(found.gaps(&plan), (100, 100));
    assert_eq!(
        audio_span(&out),
        (0, out.len() / CHANNELS),
        "the stream's noise has no zero sample, so only concealment-as-zeros is silent"
    );
    // Sequence numbers wrap inside the plan.
    assert_eq!(plan.packets[6].seq, 0);
}
