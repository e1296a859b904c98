//! Tests of the delay estimator on synthetic traffic in virtual time.

use super::*;
use crate::jitter::test_rng::TestRng;

const RATE: u32 = 48_000;
const PTIME_MS: u64 = 20;
const TICKS: u64 = RATE as u64 * PTIME_MS / 1000;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Feeds packets `from..to` sent every 20 ms with `delay(i)` (seconds) of network delay, in
/// arrival order, and returns the estimator's target after each second of arrival time.
fn feed(
    est: &mut DelayEstimator,
    from: u64,
    to: u64,
    mut delay: impl FnMut(u64) -> f64,
) -> Vec<(f64, f64)> {
    let mut pkts: Vec<(f64, u64)> = (from..to)
        .map(|i| (1000.0 + (i * PTIME_MS) as f64 / 1000.0 + delay(i), i))
        .collect();
    pkts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Vec::new();
    let mut next_report = pkts.first().map_or(0.0, |p| p.0.floor() + 1.0);
    for (arrival, i) in pkts {
        while arrival >= next_report {
            let t = est.update(Duration::from_secs_f64(next_report));
            out.push((next_report, t.as_secs_f64()));
            next_report += 1.0;
        }
        est.observe((1u64 << 32) + i * TICKS, Duration::from_secs_f64(arrival));
    }
    out
}

fn target_at(series: &[(f64, f64)], t: f64) -> f64 {
    series
        .iter()
        .find(|(at, _)| *at >= t + 1000.0)
        .map_or(f64::NAN, |p| p.1)
}

#[test]
fn low_jitter_sits_at_the_floor() {
    let mut est = DelayEstimator::new(RATE, EstimatorConfig::default());
    let mut rng = TestRng::new(1);
    let s = feed(&mut est, 0, 50 * 120, |_| 0.030 + 0.020 * rng.unit());
    assert!(s.iter().all(|(_, t)| (*t - 3.0).abs() < 1e-9), "{s:?}");
    assert!(est.peak_excess() < ms(25));
}

#[test]
fn low_latency_window_tracks_small_jitter() {
    let cfg = EstimatorConfig {
        target_min: ms(20),
        ..EstimatorConfig::default()
    };
    let mut est = DelayEstimator::new(RATE, cfg);
    let mut rng = TestRng::new(2);
    feed(&mut est, 0, 50 * 90, |_| 0.010 + 0.030 * rng.unit());
    let t = est.target();
    assert!(t > ms(60) && t < ms(90), "target {t:?}");
}

#[test]
fn multi_second_spike_rises_fast_and_decays_slowly() {
    let mut est = DelayEstimator::new(RATE, EstimatorConfig::default());
    let mut rng = TestRng::new(3);
    // 100 s calm, then a 4 s freeze: everything sent in [100, 104) s arrives in a burst at 104 s.
    let s = feed(&mut est, 0, 50 * 400, |i| {
        let sent = (i * PTIME_MS) as f64 / 1000.0;
        let jitter = 0.03 + 0.02 * rng.unit();
        if (100.0..104.0).contains(&sent) {
            104.0 - sent + jitter + (sent - 100.0) * 0.001
        } else {
            jitter
        }
    });
    assert!((target_at(&s, 99.0) - 3.0).abs() < 1e-9);
    // Measured as soon as the burst lands: the target jumps within a second of it.
    let after = target_at(&s, 105.0);
    assert!(after > 4.3 && after <= 5.0, "target after spike {after}");
    // Still high half a minute later, and after the window it decays over tens of seconds.
    assert!(target_at(&s, 140.0) > 4.3);
    let t170 = target_at(&s, 170.0);
    assert!(t170 > 3.3 && t170 < after, "mid-decay {t170}");
    assert!((target_at(&s, 300.0) - 3.0).abs() < 0.01, "back to floor");
    // Monotone: no jumps down during the decay.
    let decay: Vec<f64> = s.iter().filter(|(t, _)| *t > 1105.0).map(|p| p.1).collect();
    assert!(decay.windows(2).all(|w| w[1] <= w[0] + 1e-12));
}

#[test]
fn spike_larger_than_ceiling_is_clamped() {
    let mut est = DelayEstimator::new(RATE, EstimatorConfig::default());
    feed(&mut est, 0, 50 * 30, |i| if i == 600 { 8.0 } else { 0.02 });
    assert!(est.peak_excess() > Duration::from_secs(7));
    assert_eq!(est.target(), Duration::from_secs(5));
}

#[test]
fn delay_step_adapts_within_seconds() {
    let cfg = EstimatorConfig {
        target_min: ms(20),
        ..EstimatorConfig::default()
    };
    let mut est = DelayEstimator::new(RATE, cfg);
    // A route change at 60 s adds 500 ms for 1.5 s, then a sustained 300 ms more.
    let s = feed(&mut est, 0, 50 * 120, |i| {
        let sent = (i * PTIME_MS) as f64 / 1000.0;
        if (60.0..61.5).contains(&sent) {
            0.52
        } else if sent >= 61.5 {
            0.32
        } else {
            0.02
        }
    });
    assert!(target_at(&s, 59.0) < 0.1);
    assert!(target_at(&s, 63.0) > 0.5, "{:?}", target_at(&s, 63.0));
}

#[test]
fn clock_drift_does_not_inflate_the_target() {
    let cfg = EstimatorConfig {
        target_min: ms(20),
        ..EstimatorConfig::default()
    };
    let mut est = DelayEstimator::new(RATE, cfg);
    // The sender's clock runs 1 % slow: relative delay grows 10 ms every second, forever.
    feed(&mut est, 0, 50 * 600, |i| {
        0.02 + (i * PTIME_MS) as f64 / 1000.0 * 0.01
    });
    let t = est.target();
    assert!(t < ms(200), "target {t:?}");
}

#[test]
fn rebase_keeps_spike_history() {
    let mut est = DelayEstimator::new(RATE, EstimatorConfig::default());
    feed(&mut est, 0, 50 * 20, |i| if i == 500 { 4.5 } else { 0.02 });
    let before = est.target();
    est.rebase();
    // A restarted stream with a completely different timestamp base.
    est.observe(12_345, Duration::from_secs(1021));
    assert_eq!(est.last_excess(), Some(Duration::ZERO));
    assert!(est.target() >= before.min(Duration::from_secs(5)) - ms(1));
}

/// `base_at` keeps the completed seconds' best between packets; whatever arrives (a drifting
/// clock, jitter, arrivals filed under an earlier second, a restart), it must give what a search
/// of the whole window gives.
#[test]
fn the_kept_fastest_path_equals_a_search_of_the_whole_window() {
    let mut rng = TestRng::new(26);
    let mut est = DelayEstimator::new(RATE, EstimatorConfig::default());
    let whole_window = |est: &DelayEstimator, t: f64| {
        let slope = est.trend.slope();
        let end = est.latest_sec.max(t as u64);
        est.base
            .valid_stamped(end)
            .map(|(v, sec)| v + slope * (t - (sec as f64 + 0.5)).max(0.0))
            .fold(f64::INFINITY, f64::min)
    };
    let mut arrival = Duration::ZERO;
    for i in 0..20_000u64 {
        // A 0.2 % drift, up to 30 ms of jitter, now and then an arrival stamped 1.5 s early.
        arrival += Duration::from_micros(20_040 + rng.below(200));
        let stamped = if rng.below(500) == 0 {
            arrival.saturating_sub(ms(1_500))
        } else {
            arrival + Duration::from_micros(rng.below(30_000))
        };
        if i == 12_000 {
            est.rebase();
        }
        est.observe(i * TICKS, stamped);
        for t in [stamped.as_secs_f64(), arrival.as_secs_f64() + 0.3] {
            let kept = est.base_at(t);
            let searched = whole_window(&est, t);
            assert!(
                kept == searched || (kept - searched).abs() <= 1e-12,
                "packet {i} at {t}: {kept} != {searched}"
            );
        }
    }
}
