//! Real-time pacing of a stream by its media time: an absolute schedule that never drifts.
//!
//! Sans-IO: every packet's send time is computed from its RTP timestamp offset as an offset
//! from the start of sending (`ticks / clock_rate`, scaled by the simulated sender clock error),
//! never by adding up sleeps, so sleep overshoot does not accumulate over hours. A sender that
//! falls far behind (it was suspended, the machine stalled) does not burst stale audio: the
//! schedule moves on and the RTP timestamps jump by the pause, as a live source would send after
//! a gap, with the marker bit set on the first packet after it.

use std::time::Duration;

/// Lateness beyond which the sender treats the gap as a pause rather than catching up.
pub const MAX_CATCH_UP: Duration = Duration::from_secs(1);

/// Maps media time (RTP clock ticks from the start of the stream) to send times.
#[derive(Debug, Clone, PartialEq)]
pub struct Pacer {
    clock_rate: u64,
    /// Wall seconds per media second: 1 / (1 + drift), below 1 for a fast sender clock.
    wall_per_media: f64,
    /// Ticks added by pauses; they shift both the schedule and the RTP timestamps.
    pause_ticks: u64,
}

impl Pacer {
    /// A pacer for a stream with RTP clock `clock_rate` Hz whose clock runs `drift_ppm` fast (negative: slow).
    pub fn new(clock_rate: u32, drift_ppm: f64) -> Self {
        Pacer {
            clock_rate: u64::from(clock_rate.max(1)),
            wall_per_media: 1.0 / (1.0 + drift_ppm * 1e-6),
            pause_ticks: 0,
        }
    }

    /// The RTP timestamp offset of media position `ticks`, including pauses so far.
    pub fn rtp_ticks(&self, ticks: u64) -> u64 {
        ticks + self.pause_ticks
    }

    /// When the packet at media position `ticks` is due, as an offset from the start of sending.
    pub fn due(&self, ticks: u64) -> Duration {
        let nanos = u128::from(self.rtp_ticks(ticks)) * 1_000_000_000 / u128::from(self.clock_rate);
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
        if self.wall_per_media == 1.0 {
            Duration::from_nanos(nanos)
        } else {
            Duration::from_nanos((nanos as f64 * self.wall_per_media) as u64)
        }
    }

    /// Checks the packet at `ticks` against the time `now`; returns true if it starts after a pause.
    ///
    /// When the packet is more than [`MAX_CATCH_UP`] late, the lateness becomes a pause: the
    /// schedule (and the RTP timestamps) move forward so that the packet is due now.
    pub fn resync_if_late(&mut self, ticks: u64, now: Duration) -> bool {
        let late = now.saturating_sub(self.due(ticks));
        if late <= MAX_CATCH_UP {
            return false;
        }
        let media_late = late.as_secs_f64() / self.wall_per_media;
        self.pause_ticks += (media_late * self.clock_rate as f64).round() as u64;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_exact_over_long_runs() {
        let p = Pacer::new(48_000, 0.0);
        assert_eq!(p.due(960), Duration::from_millis(20));
        // Ten hours of 20 ms packets: still exact to the nanosecond.
        let ticks = 960 * 50 * 3600 * 10;
        assert_eq!(p.due(ticks), Duration::from_secs(36_000));
        let mpa = Pacer::new(90_000, 0.0);
        assert_eq!(mpa.due(2160), Duration::from_millis(24));
    }

    #[test]
    fn a_fast_clock_sends_sooner() {
        let fast = Pacer::new(8_000, 1000.0);
        let due = fast.due(8_000 * 1000).as_secs_f64();
        assert!((due - 1000.0 / 1.001).abs() < 1e-6, "{due}");
        let slow = Pacer::new(8_000, -500.0);
        assert!(slow.due(8_000) > Duration::from_secs(1));
    }

    #[test]
    fn a_long_stall_becomes_a_pause() {
        let mut p = Pacer::new(8_000, 0.0);
        assert!(!p.resync_if_late(160, Duration::from_millis(500)));
        assert!(p.resync_if_late(160, Duration::from_millis(3020)));
        assert_eq!(p.due(160), Duration::from_millis(3020));
        assert_eq!(p.rtp_ticks(160), 160 + 8 * 3000);
        // Later packets follow the new schedule.
        assert_eq!(p.due(320), Duration::from_millis(3040));
    }
}
