//! When to send the next regular report (RFC 3550 §6.3 and appendix A.7): at least 5 s apart
//! (2.5 s before the first), within 5 % of the session bandwidth, randomised over 0.5–1.5× to
//! keep participants from synchronising.

use std::time::Duration;

/// RFC 3550's minimum report interval.
const MIN_INTERVAL: Duration = Duration::from_secs(5);

/// IPv4 + UDP header bytes, counted in the average RTCP packet size (RFC 3550 §6.2).
const LOWER_LAYER_OVERHEAD: f64 = 28.0;

/// `e − 3/2`: compensates the reconsideration algorithm's tendency to undershoot (A.7).
const COMPENSATION: f64 = std::f64::consts::E - 1.5;

/// The schedule of one participant's regular reports.
#[derive(Debug, Clone)]
pub struct ReportSchedule {
    /// Session bandwidth in octets per second (the media stream's rate).
    session_octets_per_s: f64,
    /// Smoothed size of the RTCP packets seen and sent, lower layers included.
    avg_rtcp_size: f64,
    /// Whether the first report is still to go.
    initial: bool,
    /// When the next report is due.
    next: Duration,
}

impl ReportSchedule {
    /// A schedule starting at `now`, for a session carrying `session_octets_per_s` of media.
    pub fn new(now: Duration, session_octets_per_s: f64, random: f64) -> Self {
        let mut s = ReportSchedule {
            session_octets_per_s: session_octets_per_s.max(1.0),
            avg_rtcp_size: 100.0,
            initial: true,
            next: now,
        };
        s.next = now + s.interval(2, 1, false, random);
        s
    }

    /// When the next report is due.
    pub fn next_due(&self) -> Duration {
        self.next
    }

    /// Makes the next report due by `at` at the latest (a first report sent at once, or an
    /// early answer to a new participant).
    pub fn bring_forward(&mut self, at: Duration) {
        self.next = self.next.min(at);
    }

    /// Updates the session bandwidth (once the stream's real rate is known).
    pub fn set_session_rate(&mut self, octets_per_s: f64) {
        self.session_octets_per_s = octets_per_s.max(1.0);
    }

    /// Counts an RTCP datagram of `len` bytes, sent or received, in the average size.
    pub fn count_packet(&mut self, len: usize) {
        let size = len as f64 + LOWER_LAYER_OVERHEAD;
        self.avg_rtcp_size += (size - self.avg_rtcp_size) / 16.0;
    }

    /// Records that a report went out at `now` and schedules the next one; `random` is uniform
    /// in [0, 1). Two members (sender and us) with `senders` of them sending.
    pub fn sent(&mut self, now: Duration, senders: u32, we_sent: bool, random: f64) {
        self.initial = false;
        self.next = now + self.interval(2, senders, we_sent, random);
    }

    /// The deterministic interval times the randomisation factor (A.7 `rtcp_interval`).
    fn interval(&self, members: u32, senders: u32, we_sent: bool, random: f64) -> Duration {
        let mut bw = self.session_octets_per_s * 0.05;
        let mut n = f64::from(members.max(1));
        if f64::from(senders) <= f64::from(members) * 0.25 {
            if we_sent {
                bw *= 0.25;
                n = f64::from(senders.max(1));
            } else {
                bw *= 0.75;
                n = f64::from(members.saturating_sub(senders).max(1));
            }
        }
        let min = if self.initial {
            MIN_INTERVAL / 2
        } else {
            MIN_INTERVAL
        };
        let t = (self.avg_rtcp_size * n / bw).max(min.as_secs_f64());
        let factor = random.clamp(0.0, 1.0) + 0.5;
        Duration::from_secs_f64(t * factor / COMPENSATION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_average_about_four_seconds_apart_on_a_fast_stream() {
        // L16 stereo at 48 kHz: the 5 s minimum rules; mean factor 1.0 / 1.218.
        let mut s = ReportSchedule::new(Duration::ZERO, 192_000.0, 0.5);
        assert!((s.next_due().as_secs_f64() - 2.5 / COMPENSATION).abs() < 1e-9);
        s.sent(Duration::from_secs(10), 1, false, 0.5);
        let gap = s.next_due() - Duration::from_secs(10);
        assert!(
            (gap.as_secs_f64() - 5.0 / COMPENSATION).abs() < 1e-9,
            "{gap:?}"
        );
        s.sent(Duration::ZERO, 1, false, 0.0);
        assert!(s.next_due() < Duration::from_secs(3));
        s.sent(Duration::ZERO, 1, false, 1.0);
        assert!(s.next_due() > Duration::from_secs(6));
    }

    #[test]
    fn a_slow_stream_stretches_the_interval_to_keep_rtcp_within_five_percent() {
        // 500 B/s of media: 5 % is 25 B/s shared by two members (one of two sends, more than
        // a quarter, so no sender/receiver split); 128-byte reports.
        let mut s = ReportSchedule::new(Duration::ZERO, 500.0, 0.5);
        for _ in 0..200 {
            s.count_packet(100);
        }
        s.sent(Duration::ZERO, 1, false, 0.5);
        let expected = 128.0 * 2.0 / 25.0 / COMPENSATION;
        assert!(
            (s.next_due().as_secs_f64() - expected).abs() < 0.01,
            "{:?}",
            s.next_due()
        );
    }
}
