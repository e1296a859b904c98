//! RFC 3550 A.8 interarrival jitter: the smoothed mean deviation of packet transit times.

use std::time::Duration;

/// RFC 3550 A.8 interarrival jitter estimator (`J += (|D| - J) / 16`), in RTP clock ticks.
#[derive(Debug, Clone)]
pub struct InterarrivalJitter {
    clock_rate: u32,
    /// Previous transit: whole ticks modulo 2^32, and the fraction of a tick.
    prev_transit: Option<(u32, f64)>,
    jitter: f64,
}

impl InterarrivalJitter {
    /// An estimator for a stream whose RTP clock runs at `clock_rate` Hz.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            prev_transit: None,
            jitter: 0.0,
        }
    }

    /// Records one packet (in arrival order): its wire timestamp and arrival time.
    pub fn observe(&mut self, ts: u32, arrival: Duration) {
        // Arrival in RTP ticks, reduced modulo 2^32 like the timestamp, so that the transit
        // difference below is a wrapping difference and timestamp wraps cost nothing; the
        // fraction of a tick is kept apart, so the jitter is exact however slow the clock.
        // Whole seconds are whole ticks, so only the sub-second part needs dividing (in 64
        // bits: under 10^9 × 2^32); the same ticks and fraction as from the whole product.
        let rate = u64::from(self.clock_rate);
        let sub = u64::from(arrival.subsec_nanos()) * rate;
        let ticks = arrival
            .as_secs()
            .wrapping_mul(rate)
            .wrapping_add(sub / 1_000_000_000);
        let frac = (sub % 1_000_000_000) as f64 / 1e9;
        let transit = (ticks as u32).wrapping_sub(ts);
        if let Some((prev, prev_frac)) = self.prev_transit {
            let d = f64::from(transit.wrapping_sub(prev) as i32) + (frac - prev_frac);
            self.jitter += (d.abs() - self.jitter) / 16.0;
        }
        self.prev_transit = Some((transit, frac));
    }

    /// The jitter in RTP ticks (the value RTCP receiver reports carry, before rounding).
    pub fn ticks(&self) -> f64 {
        self.jitter
    }

    /// The jitter as a duration.
    pub fn jitter(&self) -> Duration {
        Duration::try_from_secs_f64(self.jitter / f64::from(self.clock_rate))
            .unwrap_or(Duration::MAX)
    }

    /// Forgets the previous transit (after a stream restart), keeping the smoothed value.
    pub fn rebase(&mut self) {
        self.prev_transit = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_delay_has_no_jitter() {
        let mut j = InterarrivalJitter::new(8000);
        for i in 0..100u32 {
            let ts = (u32::MAX - 8000).wrapping_add(i * 160); // crosses the timestamp wrap
            j.observe(ts, Duration::from_millis(500 + u64::from(i) * 20));
        }
        assert!(j.ticks() < 1e-9);
    }

    #[test]
    fn alternating_delay_converges_to_its_deviation() {
        let mut j = InterarrivalJitter::new(8000);
        for i in 0..2000u32 {
            let extra = if i % 2 == 0 { 0 } else { 10 }; // +-10 ms every other packet
            j.observe(i * 160, Duration::from_millis(u64::from(i) * 20 + extra));
        }
        // |D| is always 10 ms = 80 ticks, so J converges to 80.
        assert!((j.ticks() - 80.0).abs() < 0.5, "{}", j.ticks());
        assert!((j.jitter().as_secs_f64() - 0.010).abs() < 1e-4);
    }
}
