//! The delay estimator: turns packet arrival times against RTP time into a target buffer delay.
//!
//! For each packet the relative delay is `d = arrival - rtp_ts / clock_rate` (seconds, against an
//! arbitrary reference). Its minimum over a short window (`base_window`, default 10 s) is the
//! fastest path through the network; keeping it windowed rather than all-time lets it follow a
//! sender/receiver clock drift (1 % drift moves `d` by 10 ms per second) and a route change.
//! The excess `d - base` is how much later than the fastest a packet came, which is what the
//! buffer must cover. Excesses are kept as per-second maxima in a ring covering `window`
//! (default 60 s), so spikes of many seconds are measured exactly with 60 numbers of memory
//! (a histogram capped at 2 s, as in NetEq, would saturate). The target is the `quantile` of those
//! maxima (with the default 0.99 and 60 bins: the largest) plus a margin, clamped to
//! `[target_min, target_max]`. It rises at once when a larger excess arrives, and falls only when
//! the spike has left the window, then exponentially with time constant `decay` (20 s), so it
//! settles back to calm levels roughly 60 s + 3 × 20 s after the last spike.

use std::time::Duration;

use super::trend::DelayTrend;

/// Seconds to a `Duration`, saturating instead of panicking on out-of-range values.
fn secs(v: f64) -> Duration {
    Duration::try_from_secs_f64(v.max(0.0)).unwrap_or(Duration::MAX)
}

/// Parameters of the [`DelayEstimator`].
#[derive(Debug, Clone, PartialEq)]
pub struct EstimatorConfig {
    /// Smallest target (default 3 s; tens of ms for low-latency use).
    pub target_min: Duration,
    /// Largest target (default 5 s).
    pub target_max: Duration,
    /// How long a delay spike is remembered (default 60 s; one bin per second, at most 3600).
    pub window: Duration,
    /// Window of the fastest-path minimum (default 10 s, at most 600).
    pub base_window: Duration,
    /// Quantile of the per-second maxima used as the jitter to cover (default 0.99).
    pub quantile: f64,
    /// Proportional safety margin added to the quantile (default 0.1 = 10 %).
    pub margin_ratio: f64,
    /// Absolute safety margin (default 40 ms: a packet plus the decoder's ring).
    pub margin: Duration,
    /// Time constant of the target's fall once calm (default 20 s).
    pub decay: Duration,
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        Self {
            target_min: Duration::from_secs(3),
            target_max: Duration::from_secs(5),
            window: Duration::from_secs(60),
            base_window: Duration::from_secs(10),
            quantile: 0.99,
            margin_ratio: 0.1,
            margin: Duration::from_millis(40),
            decay: Duration::from_secs(20),
        }
    }
}

/// A ring of one value per second of arrival time.
#[derive(Debug, Clone)]
struct SecondRing {
    values: Vec<f64>,
    stamps: Vec<u64>,
    /// (second, its bin) of the last record: packets come many to a second, and the bin of a
    /// second costs a division.
    last_bin: (u64, usize),
}

impl SecondRing {
    fn new(seconds: u64) -> Self {
        let n = seconds.max(1) as usize;
        Self {
            values: vec![0.0; n],
            stamps: vec![u64::MAX; n],
            last_bin: (0, 0),
        }
    }

    fn len(&self) -> u64 {
        self.values.len() as u64
    }

    /// Folds `v` into the bin of second `sec` with `keep` (min or max); a stale bin is
    /// overwritten. Returns whether any bin changed.
    fn record(&mut self, sec: u64, v: f64, keep: fn(f64, f64) -> f64) -> bool {
        if self.last_bin.0 != sec {
            self.last_bin = (sec, (sec % self.len()) as usize);
        }
        let i = self.last_bin.1;
        let (Some(val), Some(stamp)) = (self.values.get_mut(i), self.stamps.get_mut(i)) else {
            return false;
        };
        if *stamp == sec {
            let kept = keep(*val, v);
            let changed = kept.to_bits() != val.to_bits();
            *val = kept;
            changed
        } else {
            *val = v;
            *stamp = sec;
            true
        }
    }

    /// Values of the bins within the window that ends at second `now_sec`.
    fn valid(&self, now_sec: u64) -> impl Iterator<Item = f64> + '_ {
        self.valid_stamped(now_sec).map(|(v, _)| v)
    }

    /// (value, second) of the bins within the window that ends at second `now_sec`.
    fn valid_stamped(&self, now_sec: u64) -> impl Iterator<Item = (f64, u64)> + '_ {
        let oldest = now_sec.saturating_sub(self.len() - 1);
        self.values
            .iter()
            .zip(&self.stamps)
            .filter(move |(_, s)| **s != u64::MAX && **s >= oldest && **s <= now_sec)
            .map(|(v, s)| (*v, *s))
    }

    /// The value recorded for `sec`, if it is still in the ring.
    fn at(&self, sec: u64) -> Option<f64> {
        let i = (sec % self.len()) as usize;
        (self.stamps.get(i) == Some(&sec))
            .then(|| self.values.get(i).copied())
            .flatten()
    }

    fn clear(&mut self) {
        self.stamps.iter_mut().for_each(|s| *s = u64::MAX);
    }
}

/// Which completed second gives the fastest path, kept while the window's newest second, the
/// drift slope and the completed seconds' minima stay as they were.
///
/// Every completed second's term in `base_at` is `v + slope × (t − s − ½)`: they all move with
/// `t` alike, so the smallest stays the smallest through the newest second, and only its term
/// and the newest second's need computing per packet (instead of the whole window).
#[derive(Debug, Clone, Copy)]
struct SettledBase {
    end: u64,
    slope_bits: u64,
    version: u64,
    pick: Option<(f64, u64)>,
}

/// Estimates the network's delay variation and derives the playout target from it.
#[derive(Debug, Clone)]
pub struct DelayEstimator {
    cfg: EstimatorConfig,
    clock_rate: f64,
    ts_ref: Option<u64>,
    latest_sec: u64,
    base: SecondRing,
    trend: DelayTrend,
    peaks: SecondRing,
    scratch: Vec<f64>,
    last_excess: Option<f64>,
    peak_excess: f64,
    /// The second `peak_excess` was taken at, `None` when a bin changed since: the quantile is
    /// taken again only then (a few times a second instead of once per packet).
    peak_excess_at: Option<u64>,
    target: f64,
    target_at: Option<Duration>,
    /// Bumped whenever a completed second's minimum may have changed (or all were forgotten).
    base_version: u64,
    settled: std::cell::Cell<Option<SettledBase>>,
}

impl DelayEstimator {
    /// An estimator for a stream whose RTP clock runs at `clock_rate` Hz.
    pub fn new(clock_rate: u32, cfg: EstimatorConfig) -> Self {
        let window = cfg.window.as_secs().clamp(1, 3600);
        let base_window = cfg.base_window.as_secs().clamp(1, 600);
        let target = cfg.target_min.as_secs_f64();
        Self {
            clock_rate: f64::from(clock_rate.max(1)),
            ts_ref: None,
            latest_sec: 0,
            base: SecondRing::new(base_window),
            trend: DelayTrend::new(),
            peaks: SecondRing::new(window),
            scratch: Vec::with_capacity(window as usize),
            last_excess: None,
            peak_excess: 0.0,
            peak_excess_at: None,
            target,
            target_at: None,
            base_version: 0,
            settled: std::cell::Cell::new(None),
            cfg,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &EstimatorConfig {
        &self.cfg
    }

    /// Records one packet: its extended RTP timestamp and when it arrived.
    pub fn observe(&mut self, ext_ts: u64, arrival: Duration) {
        let ts_ref = *self.ts_ref.get_or_insert(ext_ts);
        // Extended timestamps stay far below 2^63, so the difference is exact in an i64.
        let rel_ts = (ext_ts.wrapping_sub(ts_ref) as i64) as f64 / self.clock_rate;
        let d = arrival.as_secs_f64() - rel_ts;
        let sec = arrival.as_secs();
        if sec < self.latest_sec {
            self.base_version += 1;
        }
        self.latest_sec = self.latest_sec.max(sec);
        self.base.record(sec, d, f64::min);
        self.trend.record(sec, d);
        self.trend.update(self.latest_sec);
        let base = self.base_at(arrival.as_secs_f64()).min(d);
        let excess = (d - base).max(0.0);
        self.last_excess = Some(excess);
        if self.peaks.record(sec, excess, f64::max) {
            self.peak_excess_at = None;
        }
        self.refresh(arrival);
    }

    /// Advances the target's decay to `now` and returns the target delay.
    pub fn update(&mut self, now: Duration) -> Duration {
        self.refresh(now);
        secs(self.target)
    }

    /// Advances the target's decay to `now`.
    fn refresh(&mut self, now: Duration) {
        self.latest_sec = self.latest_sec.max(now.as_secs());
        if self.peak_excess_at != Some(self.latest_sec) {
            self.scratch.clear();
            // `scratch` has the ring's capacity, so this never reallocates.
            self.scratch.extend(self.peaks.valid(self.latest_sec));
            self.peak_excess = quantile(&mut self.scratch, self.cfg.quantile);
            self.peak_excess_at = Some(self.latest_sec);
        }
        let lo = self.cfg.target_min.as_secs_f64();
        let hi = self.cfg.target_max.as_secs_f64().max(lo);
        let raw = (self.peak_excess * (1.0 + self.cfg.margin_ratio.max(0.0))
            + self.cfg.margin.as_secs_f64())
        .clamp(lo, hi);
        match self.target_at {
            None => self.target = raw,
            Some(at) if raw < self.target => {
                let dt = now.saturating_sub(at).as_secs_f64();
                let tau = self.cfg.decay.as_secs_f64().max(1e-3);
                self.target = raw + (self.target - raw) * (-dt / tau).exp();
            }
            Some(_) => self.target = raw,
        }
        self.target = self.target.clamp(lo, hi);
        self.target_at = Some(self.target_at.map_or(now, |at| at.max(now)));
    }

    /// The target delay as of the last `observe`/`update`.
    pub fn target(&self) -> Duration {
        secs(self.target)
    }

    /// The measured delay variation the target covers (the quantile, before margin and clamping).
    pub fn peak_excess(&self) -> Duration {
        secs(self.peak_excess)
    }

    /// How much later than the fastest path the last packet arrived.
    pub fn last_excess(&self) -> Option<Duration> {
        self.last_excess.map(secs)
    }

    /// The extended RTP timestamp a packet on the fastest path would carry if it arrived at `now`
    /// (the sender's clock as seen through the network); `None` without recent packets.
    pub fn expected_ts(&self, now: Duration) -> Option<u64> {
        let ts_ref = self.ts_ref?;
        let base = self.base_at(now.as_secs_f64());
        if !base.is_finite() {
            return None;
        }
        let ts = ts_ref as f64 + (now.as_secs_f64() - base) * self.clock_rate;
        // Saturating float-to-int conversion: negative values become 0.
        Some(ts as u64)
    }

    /// Forgets the timestamp reference and the fastest path (the stream restarted); keeps spike history.
    pub fn rebase(&mut self) {
        self.ts_ref = None;
        self.base.clear();
        self.base_version += 1;
        self.trend.clear();
    }

    /// The fastest-path delay at time `t` (seconds): each second's minimum carried forward along
    /// the measured clock-drift slope, so a drifting clock does not bias it by window × drift.
    fn base_at(&self, t: f64) -> f64 {
        let slope = self.trend.slope();
        let end = self.latest_sec.max(t as u64);
        let term = |v: f64, sec: u64| v + slope * (t - (sec as f64 + 0.5)).max(0.0);
        if (t as u64) < end {
            // A time before the newest second: rare (only `expected_ts` asks), so the window
            // is searched whole.
            return self
                .base
                .valid_stamped(end)
                .fold(f64::INFINITY, |m, (v, sec)| m.min(term(v, sec)));
        }
        let settled = self
            .settled_pick(end, slope)
            .map_or(f64::INFINITY, |(v, sec)| term(v, sec));
        match self.base.at(end) {
            Some(v) => settled.min(term(v, end)),
            None => settled,
        }
    }

    /// The completed second (before `end`) whose minimum, carried along `slope`, is smallest.
    fn settled_pick(&self, end: u64, slope: f64) -> Option<(f64, u64)> {
        let key = (end, slope.to_bits(), self.base_version);
        if let Some(c) = self.settled.get() {
            if (c.end, c.slope_bits, c.version) == key {
                return c.pick;
            }
        }
        let pick = self
            .base
            .valid_stamped(end)
            .filter(|&(_, sec)| sec < end)
            .map(|(v, sec)| (v - slope * (sec as f64 + 0.5), v, sec))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, v, sec)| (v, sec));
        self.settled.set(Some(SettledBase {
            end,
            slope_bits: key.1,
            version: key.2,
            pick,
        }));
        pick
    }

    /// Forgets everything, the target included.
    pub fn reset(&mut self) {
        *self = Self::new(self.clock_rate as u32, self.cfg.clone());
    }
}

/// The `q` quantile of `values` (reordered in place); 0 when empty.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let n = values.len();
    let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as usize).clamp(1, n) - 1;
    let (_, v, _) = values.select_nth_unstable_by(rank, f64::total_cmp);
    *v
}

#[cfg(test)]
#[path = "estimator_tests.rs"]
mod tests;
