//! Estimates the sender/device clock drift from the buffer level and the correction applied.
//!
//! With a correction `c` applied (ratio `1 / (1 + c)`), the level moves as `dL/dt = drift - c`,
//! so `U(t) = L(t) + ∫c dt` rises with slope `drift` whatever the controller does. One sample of
//! `U` per second goes into a ring covering `window` (default 10 min). The drift is the median of
//! the slopes between every sample and the ones a baseline later, for baselines from a tenth of
//! the span (4 to 60 s) to twice that. A delay step, a freeze or a restart moves `U` once: only
//! the pairs that straddle it (about a fifth of them) see it, so the median hardly moves, where a
//! mean or a least-squares fit would. Before [`MIN_SPAN`] of samples there is no estimate at all:
//! a short stream's level moves for many reasons, and its drift moves it by almost nothing.

use std::time::Duration;

use crate::jitter::slope::{fill_slopes, quartiles};

/// Span of samples needed before the drift is known.
pub const MIN_SPAN: Duration = Duration::from_secs(60);
/// Fewest samples (seconds) before a provisional estimate is made.
const MIN_SAMPLES: usize = 8;
/// Bounds of the shortest baseline between the two samples of a slope, in samples (seconds).
const BASELINE: (usize, usize) = (4, 60);
/// Baselines used, from the shortest to twice it: several, so that a periodic wobble in the
/// level cannot line up with one of them.
const LAGS: usize = 8;

/// Robust slope of the uncorrected level over a sliding window.
#[derive(Debug, Clone)]
pub struct DriftEstimator {
    times: Vec<f64>,
    values: Vec<f64>,
    len: usize,
    head: usize,
    scratch: Vec<f64>,
    estimate: f64,
    spread: f64,
    span: f64,
    next_sample: Option<Duration>,
}

impl DriftEstimator {
    /// An estimator over `window` (one sample per second, 8..=3600 samples).
    pub fn new(window: Duration) -> Self {
        let n = (window.as_secs() as usize).clamp(MIN_SAMPLES, 3600);
        Self {
            times: vec![0.0; n],
            values: vec![0.0; n],
            len: 0,
            head: 0,
            scratch: Vec::with_capacity(n * (LAGS + 1)),
            estimate: 0.0,
            spread: f64::INFINITY,
            span: 0.0,
            next_sample: None,
        }
    }

    /// Offers the uncorrected level at `now`; a sample is taken at most once per second.
    pub fn observe(&mut self, now: Duration, uncorrected_level: f64) {
        if self.next_sample.is_some_and(|t| now < t) {
            return;
        }
        self.next_sample = Some(now + Duration::from_secs(1));
        let n = self.times.len();
        if let (Some(t), Some(v)) = (
            self.times.get_mut(self.head),
            self.values.get_mut(self.head),
        ) {
            *t = now.as_secs_f64();
            *v = uncorrected_level;
        }
        self.head = (self.head + 1) % n;
        self.len = (self.len + 1).min(n);
        if self.len >= MIN_SAMPLES {
            self.estimate = self.slope();
        }
    }

    fn slope(&mut self) -> f64 {
        let n = self.times.len();
        let start = (self.head + n - self.len) % n;
        let idx = |k: usize| (start + k) % n;
        self.span = self.times.get(idx(self.len - 1)).copied().unwrap_or(0.0)
            - self.times.get(idx(0)).copied().unwrap_or(0.0);
        let lag = (self.len / 10).clamp(BASELINE.0, BASELINE.1);
        let stride = (lag / LAGS).max(1);
        let (times, values, len) = (&self.times, &self.values, self.len);
        let point = |k: usize| (times[idx(k)], values[idx(k)]);
        let pairs = (lag..=2 * lag)
            .step_by(stride)
            .flat_map(|l| (0..len.saturating_sub(l)).map(move |a| (a, a + l)))
            .map(|(a, b)| (point(a), point(b)));
        fill_slopes(&mut self.scratch, pairs);
        let Some((q1, median, q3)) = quartiles(&mut self.scratch) else {
            return self.estimate;
        };
        // Overlapping pairs are far from independent: about span / (1.5 × lag) slopes are.
        let independent = (self.len as f64 / (1.5 * lag as f64)).max(1.0);
        self.spread = (q3 - q1) / 1.35 * 1.25 / independent.sqrt();
        median
    }

    /// Standard error of the drift estimate (from the spread of the slopes), as a fraction.
    pub fn confidence(&self) -> f64 {
        self.spread
    }

    /// Provisional drift as a fraction (positive: the sender's clock is faster than the
    /// device's), available after a few seconds; use it only to keep the level safe.
    pub fn provisional(&self) -> f64 {
        self.estimate
    }

    /// The drift, once [`MIN_SPAN`] of samples back it; `None` before (unknown).
    pub fn drift(&self) -> Option<f64> {
        (self.span >= MIN_SPAN.as_secs_f64()).then_some(self.estimate)
    }

    /// Whether enough samples have been seen for a provisional estimate.
    pub fn is_ready(&self) -> bool {
        self.len >= MIN_SAMPLES
    }

    /// Drops the samples (the level's meaning changed) but keeps the estimate.
    pub fn restart(&mut self) {
        self.len = 0;
        self.next_sample = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_slope_through_outliers() {
        let mut rng = crate::jitter::test_rng::TestRng::new(3);
        let mut d = DriftEstimator::new(Duration::from_secs(600));
        for s in 0..200u64 {
            let t = s as f64;
            // 300 ppm drift, +-5 ms wobble, and a 2 s dip every 30 s (an outage).
            let mut u = 3.0 + 300e-6 * t + 0.005 * (2.0 * rng.unit() - 1.0);
            if s % 30 < 2 {
                u -= 1.5;
            }
            d.observe(Duration::from_secs(s), u);
        }
        let drift = d.drift().expect("known after 200 s");
        assert!((drift - 300e-6).abs() < 20e-6, "{drift}");
        assert!(d.confidence() < 100e-6, "{}", d.confidence());
    }

    #[test]
    fn samples_at_most_once_per_second() {
        let mut d = DriftEstimator::new(Duration::from_secs(16));
        for ms in 0..5000u64 {
            d.observe(Duration::from_millis(ms), ms as f64 * 0.01 / 1000.0);
        }
        assert!(!d.is_ready(), "5 samples only");
        for s in 5..20u64 {
            d.observe(Duration::from_secs(s), s as f64 * 0.01);
        }
        assert!((d.provisional() - 0.01).abs() < 1e-9);
        assert_eq!(d.drift(), None, "unknown under a minute");
        d.restart();
        assert!(!d.is_ready());
        assert!((d.provisional() - 0.01).abs() < 1e-9, "estimate kept");
    }

    #[test]
    fn one_delay_step_moves_the_estimate_by_less_than_100_ppm() {
        for (step_at, drift) in [(1u64, 0.0), (60, 0.0), (150, 300e-6), (30, -300e-6)] {
            let mut d = DriftEstimator::new(Duration::from_secs(600));
            for s in 0..300u64 {
                let wobble = 0.002 * ((s * 7919 % 13) as f64 / 6.0 - 1.0);
                let step = if s >= step_at { 0.030 } else { 0.0 };
                d.observe(
                    Duration::from_secs(s),
                    3.0 + drift * s as f64 + wobble + step,
                );
                if s >= 120 {
                    let est = d.drift().expect("known after a minute");
                    assert!(
                        (est - drift).abs() < 100e-6,
                        "step at {step_at} s, drift {drift}, at {s} s: {est}"
                    );
                }
            }
        }
    }
}
