//! The drift of the fastest-path delay: how fast sender and receiver clocks walk apart.
//!
//! With a 1 % clock difference the relative delay of every packet moves 10 ms per second, so a
//! windowed minimum lags the true fastest path by up to window × drift (100 ms for 10 s at 1 %).
//! The Theil–Sen slope (median of pairwise slopes) of the per-second minima over 30 s measures
//! that walk while ignoring delay spikes that cover less than about a quarter of the window.

use super::slope::median_slope;

/// Seconds of per-second minima the slope is fitted over.
const TREND_SECONDS: usize = 30;
/// Fewer valid seconds than this and the slope is taken as 0.
const MIN_POINTS: usize = 8;
/// Clock differences beyond this are not believed (±5 %).
const MAX_SLOPE: f64 = 0.05;

/// Robust slope of per-second minimum delays, in seconds of delay per second.
#[derive(Debug, Clone)]
pub(crate) struct DelayTrend {
    mins: [f64; TREND_SECONDS],
    stamps: [u64; TREND_SECONDS],
    slopes: Vec<f64>,
    slope: f64,
    fitted_at: Option<u64>,
}

impl DelayTrend {
    /// An empty trend (slope 0).
    pub(crate) fn new() -> Self {
        Self {
            mins: [0.0; TREND_SECONDS],
            stamps: [u64::MAX; TREND_SECONDS],
            slopes: Vec::with_capacity(TREND_SECONDS * (TREND_SECONDS - 1) / 2),
            slope: 0.0,
            fitted_at: None,
        }
    }

    /// Folds the relative delay `d` of a packet that arrived in second `sec` into its minimum.
    pub(crate) fn record(&mut self, sec: u64, d: f64) {
        // A constant divisor: the compiler multiplies instead of dividing.
        let i = (sec % TREND_SECONDS as u64) as usize;
        if self.stamps[i] == sec {
            self.mins[i] = self.mins[i].min(d);
        } else {
            self.mins[i] = d;
            self.stamps[i] = sec;
        }
    }

    /// Refits the slope once per second of `now_sec`, over completed seconds only.
    pub(crate) fn update(&mut self, now_sec: u64) {
        if self.fitted_at == Some(now_sec) {
            return;
        }
        self.fitted_at = Some(now_sec);
        let oldest = now_sec.saturating_sub(TREND_SECONDS as u64);
        let valid = |s: u64| s != u64::MAX && s >= oldest && s < now_sec;
        // The valid seconds first, then every pair of them (each unordered pair once, in the
        // order that gives it a positive span, as the median needs).
        let mut points = [(0.0, 0.0); TREND_SECONDS];
        let mut n = 0;
        for (&stamp, &min) in self.stamps.iter().zip(&self.mins) {
            if valid(stamp) {
                points[n] = (stamp as f64, min);
                n += 1;
            }
        }
        let points = &points[..n];
        let pairs = points.iter().enumerate().flat_map(|(i, &a)| {
            points[i + 1..]
                .iter()
                .map(move |&b| if a.0 < b.0 { (a, b) } else { (b, a) })
        });
        self.slope = match median_slope(&mut self.slopes, pairs) {
            Some(median) if n >= MIN_POINTS => median.clamp(-MAX_SLOPE, MAX_SLOPE),
            _ => 0.0,
        };
    }

    /// The fitted slope: seconds of extra delay per second (positive: the sender's clock is slow).
    pub(crate) fn slope(&self) -> f64 {
        self.slope
    }

    /// Forgets everything (a new stream).
    pub(crate) fn clear(&mut self) {
        self.stamps = [u64::MAX; TREND_SECONDS];
        self.slope = 0.0;
        self.fitted_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_steady_walk() {
        let mut t = DelayTrend::new();
        for sec in 0..40u64 {
            t.record(sec, 0.050 + 0.01 * sec as f64);
            t.update(sec + 1);
        }
        assert!((t.slope() - 0.01).abs() < 1e-9, "{}", t.slope());
    }

    #[test]
    fn a_multi_second_spike_does_not_bend_it() {
        let mut t = DelayTrend::new();
        for sec in 0..40u64 {
            let spike = if (20..25).contains(&sec) { 3.0 } else { 0.0 };
            t.record(sec, 0.050 - 0.001 * sec as f64 + spike);
            t.update(sec + 1);
        }
        assert!((t.slope() + 0.001).abs() < 2e-4, "{}", t.slope());
    }

    #[test]
    fn too_little_history_means_no_slope() {
        let mut t = DelayTrend::new();
        for sec in 0..5u64 {
            t.record(sec, sec as f64);
            t.update(sec + 1);
        }
        assert_eq!(t.slope(), 0.0);
    }
}
