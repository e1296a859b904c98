//! A sender's media clock against the reference clock (RFC 7273): with
//! `a=mediaclk:direct=OFFSET`, a packet's RTP timestamp is the reference clock's time (PTP's,
//! in AES67) in samples plus OFFSET, modulo 2^32. Comparing each arrival's timestamp with the
//! reference clock at arrival gives the sender's offset (less the network delay) and, over
//! time, its drift. Sans-IO: arrivals come with their time, and the reference clock's reading
//! at time zero is given once.

use std::collections::VecDeque;
use std::time::Duration;

/// Seconds of per-second figures kept for the drift fit.
const WINDOW_SECONDS: usize = 120;
/// Seconds needed before a drift is reported.
const MIN_SECONDS: usize = 10;

/// The `OFFSET` of `a=mediaclk:direct=OFFSET` (RFC 7273 §5.2), ignoring a `rate=` parameter.
pub fn direct_offset(mediaclk: &str) -> Option<u32> {
    let value = mediaclk.trim().strip_prefix("direct=")?;
    let number = value.split([' ', ';']).next()?;
    // The offset is a 64-bit number in RFC 7273; timestamps use its value modulo 2^32.
    number.parse::<u64>().ok().map(|v| v as u32)
}

/// What the media clock measurement says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MediaClockReport {
    /// RTP time against the reference clock plus the announced offset, in samples, at the
    /// packets that arrived soonest in the last second: the sender's offset less the
    /// smallest network delay (positive: the sender's timestamps run ahead).
    pub offset_samples: f64,
    /// How fast the sender's media clock runs against the reference clock, in ppm (positive:
    /// fast), once ten seconds are known.
    pub drift_ppm: Option<f64>,
}

/// The measurement for one stream.
#[derive(Debug, Clone)]
pub struct MediaClock {
    rate: u64,
    offset: u32,
    epoch: Duration,
    current: Option<(u64, f64)>,
    seconds: VecDeque<(u64, f64)>,
}

impl MediaClock {
    /// A stream at `rate` Hz announced with `offset`, where the reference clock read `epoch`
    /// (time since its epoch) at arrival time zero.
    pub fn new(rate: u32, offset: u32, epoch: Duration) -> Self {
        MediaClock {
            rate: u64::from(rate.max(1)),
            offset,
            epoch,
            current: None,
            seconds: VecDeque::with_capacity(WINDOW_SECONDS + 1),
        }
    }

    /// A packet with RTP timestamp `ts` arrived at `arrival`.
    pub fn observe(&mut self, ts: u32, arrival: Duration) {
        let nanos = (self.epoch + arrival).as_nanos();
        let product = nanos * u128::from(self.rate);
        let whole = (product / 1_000_000_000) as u64;
        let fraction = (product % 1_000_000_000) as f64 / 1e9;
        let expected = whole.wrapping_add(u64::from(self.offset)) as u32;
        let d = f64::from(ts.wrapping_sub(expected) as i32) - fraction;
        let sec = arrival.as_secs();
        match self.current {
            Some((s, best)) if s == sec => self.current = Some((s, best.max(d))),
            Some(done) => {
                self.seconds.push_back(done);
                if self.seconds.len() > WINDOW_SECONDS {
                    self.seconds.pop_front();
                }
                self.current = Some((sec, d));
            }
            None => self.current = Some((sec, d)),
        }
    }

    /// The offset and drift so far (`None` before a whole second has passed).
    pub fn report(&self) -> Option<MediaClockReport> {
        let &(_, offset) = self.seconds.back()?;
        Some(MediaClockReport {
            offset_samples: offset,
            drift_ppm: self.drift_ppm(),
        })
    }

    /// The least-squares slope of the per-second figures, in ppm of the rate.
    fn drift_ppm(&self) -> Option<f64> {
        let n = self.seconds.len();
        if n < MIN_SECONDS {
            return None;
        }
        let x0 = self.seconds.front()?.0 as f64;
        let mean_x = self
            .seconds
            .iter()
            .map(|(s, _)| *s as f64 - x0)
            .sum::<f64>()
            / n as f64;
        let mean_y = self.seconds.iter().map(|(_, d)| d).sum::<f64>() / n as f64;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for &(s, d) in &self.seconds {
            let x = s as f64 - x0 - mean_x;
            sxy += x * (d - mean_y);
            sxx += x * x;
        }
        (sxx > 0.0).then(|| sxy / sxx / self.rate as f64 * 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_direct_offset_is_read() {
        assert_eq!(direct_offset("direct=0"), Some(0));
        assert_eq!(direct_offset("direct=963214424"), Some(963_214_424));
        assert_eq!(direct_offset("direct=5 rate=48000/1"), Some(5));
        assert_eq!(direct_offset("sender"), None);
    }

    /// A sender whose clock runs `ppm` fast and whose timestamps are `offset` samples ahead of
    /// what it announces, over a network adding 0.5–1.5 ms; the receiver's reference clock reads
    /// `epoch` at its time zero.
    fn measure(ppm: f64, offset: i64, seconds: u64) -> MediaClockReport {
        let epoch = Duration::from_secs(1_733_000_000) + Duration::from_nanos(123_456_789);
        let announced = 4_000_000_000u32;
        let mut clock = MediaClock::new(48_000, announced, epoch);
        let mut seed = 9u64;
        for k in 0..seconds * 1000 {
            // A 1 ms packet, sent when its samples are due by the sender's clock.
            let sent = Duration::from_secs_f64(k as f64 / 1000.0 / (1.0 + ppm * 1e-6));
            let ticks = ((epoch + Duration::from_secs(2)).as_nanos() * 48_000 / 1_000_000_000)
                as i64
                + k as i64 * 48
                + i64::from(announced)
                + offset;
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let delay = Duration::from_micros(500 + (seed >> 33) % 1000);
            clock.observe(ticks as u32, Duration::from_secs(2) + sent + delay);
        }
        clock.report().expect("a report")
    }

    #[test]
    fn an_offset_sender_is_reported_at_its_offset() {
        let r = measure(0.0, 480, 5);
        // Less the smallest network delay (0.5 ms = 24 samples), within a sample.
        assert!((r.offset_samples - (480.0 - 24.0)).abs() <= 1.0, "{r:?}");
        assert_eq!(r.drift_ppm, None, "not yet: five seconds");
    }

    #[test]
    fn a_fast_sender_is_reported_at_its_drift() {
        let r = measure(50.0, 0, 60);
        let drift = r.drift_ppm.expect("drift");
        assert!((drift - 50.0).abs() < 1.0, "{r:?}");
        let r = measure(-20.0, 0, 60);
        assert!((r.drift_ppm.expect("drift") + 20.0).abs() < 1.0, "{r:?}");
    }
}
