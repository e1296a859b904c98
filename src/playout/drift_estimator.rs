//! Estimates the sender/device clock drift from the buffer level and the correction applied.
//!
//! With a correction `c` applied (ratio `1 / (1 + c)`), the level moves as `dL/dt = drift - c`,
//! so `U(t) = L(t) + ∫c dt` rises with slope `drift` whatever the controller does. One sample of
//! `U` per second goes into a ring covering `window`; the drift is the Theil–Sen slope (median of
//! pairwise slopes over baselines of at least a quarter of the window), which shrugs off the
//! level dips and bursts that jitter and outages put into `L`.

use std::time::Duration;

/// Fewest samples (seconds) before an estimate is made.
const MIN_SAMPLES: usize = 8;

/// Robust slope of the uncorrected level over a sliding window.
#[derive(Debug, Clone)]
pub struct DriftEstimator {
    times: Vec<f64>,
    values: Vec<f64>,
    len: usize,
    head: usize,
    scratch: Vec<f64>,
    estimate: f64,
    next_sample: Option<Duration>,
}

impl DriftEstimator {
    /// An estimator over `window` (one sample per second, 8..=256 samples).
    pub fn new(window: Duration) -> Self {
        let n = (window.as_secs() as usize).clamp(MIN_SAMPLES, 256);
        Self {
            times: vec![0.0; n],
            values: vec![0.0; n],
            len: 0,
            head: 0,
            scratch: Vec::with_capacity(n * (n - 1) / 2),
            estimate: 0.0,
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
        let span = self.times.get(idx(self.len - 1)).copied().unwrap_or(0.0)
            - self.times.get(idx(0)).copied().unwrap_or(0.0);
        let min_base = span / 4.0;
        self.scratch.clear();
        for a in 0..self.len {
            for b in a + 1..self.len {
                let (ta, tb) = (self.times[idx(a)], self.times[idx(b)]);
                if tb - ta >= min_base && tb > ta {
                    // Capacity n(n-1)/2 covers every pair, so this never reallocates.
                    self.scratch
                        .push((self.values[idx(b)] - self.values[idx(a)]) / (tb - ta));
                }
            }
        }
        if self.scratch.is_empty() {
            return self.estimate;
        }
        let mid = self.scratch.len() / 2;
        let (_, m, _) = self.scratch.select_nth_unstable_by(mid, f64::total_cmp);
        *m
    }

    /// Estimated drift as a fraction (positive: the sender's clock is faster than the device's).
    pub fn drift(&self) -> f64 {
        self.estimate
    }

    /// Whether enough samples have been seen for [`DriftEstimator::drift`] to mean something.
    pub fn is_ready(&self) -> bool {
        self.len >= MIN_SAMPLES
    }

    /// Drops the samples (the level jumped for reasons other than drift) but keeps the estimate.
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
        let mut d = DriftEstimator::new(Duration::from_secs(64));
        for s in 0..200u64 {
            let t = s as f64;
            // 300 ppm drift, +-5 ms wobble, and a 2 s dip every 30 s (an outage).
            let mut u = 3.0 + 300e-6 * t + 0.005 * ((s * 7919 % 11) as f64 / 5.0 - 1.0);
            if s % 30 < 2 {
                u -= 1.5;
            }
            d.observe(Duration::from_secs(s), u);
        }
        assert!((d.drift() - 300e-6).abs() < 60e-6, "{}", d.drift());
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
        assert!((d.drift() - 0.01).abs() < 1e-9);
        d.restart();
        assert!(!d.is_ready());
        assert!((d.drift() - 0.01).abs() < 1e-9, "estimate kept");
    }
}
