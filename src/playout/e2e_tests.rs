//! End-to-end check of the core's pieces together: network model → JitterBuffer (with its
//! estimator) → decoder loop filling a ring → PlayoutController pacing a virtual device.

use std::time::Duration;

use crate::jitter::test_rng::TestRng;
use crate::jitter::{JitterBuffer, JitterConfig, PopOutcome};
use crate::playout::{ControllerConfig, PlayoutController, PlayoutState};
use crate::rtp::header::RtpHeader;

const RATE: u32 = 48_000;
const PKT_TICKS: u32 = 960;
const TICK: f64 = 0.005;
const RING_HIGH: f64 = 0.040;

#[derive(Debug, Default)]
struct Report {
    played: Vec<u16>,
    lost: u64,
    underruns: u64,
    rebuffers: u64,
    non_unit_ratio_ticks: u64,
    max_target: f64,
    final_target: f64,
}

/// Streams `secs` of 20 ms packets; `delay(k, sent)` gives packet k's network delay (None: lost).
fn simulate(
    secs: f64,
    drift: f64,
    mut delay: impl FnMut(u64, f64) -> Option<f64>,
) -> (Report, JitterBuffer) {
    let mut arrivals: Vec<(f64, u64)> = Vec::new();
    let n = (secs / 0.020) as u64;
    for k in 0..n {
        let sent = k as f64 * 0.020 / (1.0 + drift);
        if let Some(d) = delay(k, sent) {
            arrivals.push((sent + d, k));
        }
    }
    arrivals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut buf = JitterBuffer::new(JitterConfig::new(RATE));
    let mut ctl = PlayoutController::new(ControllerConfig::default());
    let mut rep = Report::default();
    let (mut ring, mut now, mut next) = (0.0f64, 0.0f64, 0usize);
    let end = arrivals.last().map_or(0.0, |a| a.0) + 10.0;
    while now < end {
        now += TICK;
        let at = Duration::from_secs_f64(now);
        while let Some((t, k)) = arrivals.get(next).copied().filter(|a| a.0 <= now) {
            let seq = (k as u16).wrapping_add(65000);
            let ts = (k as u32)
                .wrapping_mul(PKT_TICKS)
                .wrapping_add(u32::MAX - 100_000);
            let h = RtpHeader::synthetic(96, seq, ts, 7, false);
            buf.insert(&h, &seq.to_be_bytes(), Duration::from_secs_f64(t));
            next += 1;
        }
        let target = buf.update_target(at);
        let ring_d = Duration::from_secs_f64(ring);
        let level = buf.depth() + ring_d;
        let delay = buf.playout_delay(at).map(|d| d + ring_d);
        let d = ctl.tick(at, level, delay, target);
        // Decoder: keep the ring topped up to its high-water mark, once playout has begun
        // (popping earlier would fix the start before reordered first packets are in).
        while ring < RING_HIGH && d.state != PlayoutState::Prebuffering {
            match buf.pop(at) {
                PopOutcome::Frame { payload, .. } => {
                    rep.played
                        .push(u16::from_be_bytes([payload[0], payload[1]]));
                    ring += 0.020;
                }
                PopOutcome::Lost { ticks, .. } => {
                    rep.lost += 1;
                    ring += ticks as f64 / f64::from(RATE);
                }
                PopOutcome::Silence { ticks } => ring += ticks as f64 / f64::from(RATE),
                PopOutcome::Empty => break,
            }
        }
        if next == arrivals.len() {
            // End of stream: what is buffered simply plays out.
            buf.set_draining(true);
            ctl.set_draining(true);
        }
        if d.playing {
            if d.ratio != 1.0 {
                rep.non_unit_ratio_ticks += 1;
            }
            ring -= TICK / d.ratio;
            if ring < 0.0 {
                ring = 0.0;
                if next == arrivals.len() && buf.is_empty() {
                    break; // end of stream: everything received has played
                }
                rep.underruns += 1;
                ctl.underrun();
            }
        }
        rep.max_target = rep.max_target.max(target.as_secs_f64());
        rep.final_target = target.as_secs_f64();
    }
    rep.rebuffers = ctl.rebuffers();
    (rep, buf)
}

fn in_order(played: &[u16]) -> bool {
    played.windows(2).all(|w| w[1] == w[0].wrapping_add(1))
}

#[test]
fn wifi_jitter_plays_everything_bit_exact() {
    let mut rng = TestRng::new(11);
    let (rep, buf) = simulate(300.0, 0.0, |_, _| Some(0.005 + 0.080 * rng.unit().powi(3)));
    assert_eq!(
        rep.played.len(),
        15_000,
        "every packet played (end of stream drains)"
    );
    assert!(in_order(&rep.played));
    assert_eq!((rep.lost, rep.underruns, buf.stats().late), (0, 0, 0));
    assert_eq!(rep.rebuffers, 0);
    assert!(buf.stats().reordered > 0, "jitter this large reorders");
    assert_eq!(rep.non_unit_ratio_ticks, 0, "ratio exactly 1.0 throughout");
    assert!((rep.max_target - 3.0).abs() < 1e-9);
}

#[test]
fn freeze_longer_than_buffer_rebuffers_once_without_loss() {
    let mut rng = TestRng::new(12);
    let (rep, buf) = simulate(200.0, 0.0, |_, sent| {
        let base = 0.02 + 0.01 * rng.unit();
        Some(if (60.0..64.0).contains(&sent) {
            64.0 - sent + base
        } else {
            base
        })
    });
    assert_eq!(rep.rebuffers, 1);
    assert_eq!((rep.lost, buf.stats().late), (0, 0));
    assert_eq!(rep.played.len(), 10_000);
    assert!(in_order(&rep.played));
    assert!(
        rep.max_target > 4.3,
        "the spike raised the target: {}",
        rep.max_target
    );
}

#[test]
fn one_percent_drift_without_underrun() {
    let mut rng = TestRng::new(13);
    let (rep, buf) = simulate(900.0, 0.01, |_, _| Some(0.02 + 0.03 * rng.unit()));
    assert_eq!((rep.underruns, rep.lost, buf.stats().late), (0, 0, 0));
    assert!(in_order(&rep.played));
    assert_eq!(buf.stats().overflow, 0);
    assert_eq!(rep.final_target, 3.0);
}

#[test]
fn blackout_shorter_than_buffer_is_concealed_without_rebuffering() {
    let mut rng = TestRng::new(14);
    let (rep, buf) = simulate(200.0, 0.0, |_, sent| {
        (!(60.0..62.0).contains(&sent)).then(|| 0.02 + 0.02 * rng.unit())
    });
    assert_eq!((rep.lost, rep.underruns, buf.stats().late), (100, 0, 0));
    assert_eq!(rep.played.len(), 9_900);
}

#[test]
fn heavy_reordering_is_absorbed() {
    let mut rng = TestRng::new(15);
    let (rep, buf) = simulate(300.0, 0.0, |_, _| Some(0.02 + 0.5 * rng.unit()));
    assert!(buf.stats().reordered > 5_000);
    assert_eq!((rep.lost, rep.underruns, buf.stats().late), (0, 0, 0));
    assert!(in_order(&rep.played));
    assert_eq!(rep.played.len(), 15_000);
    assert_eq!(rep.non_unit_ratio_ticks, 0);
}
