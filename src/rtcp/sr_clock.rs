//! The sender's media clock against wall-clock time, from its sender reports.
//!
//! Each SR pairs an NTP time with the RTP timestamp of the same instant. When the sender's
//! wall clock is NTP-disciplined (as ours is assumed to be), the rate of RTP time against NTP
//! time is its media clock's rate against ours: no network delay enters it, so ten seconds of
//! reports say more than minutes of arrival times. The slope is the median over every pair of
//! reports at least [`MIN_SPAN`] apart (Theil–Sen, as the arrival-based estimator), so one
//! report with a stepped clock moves it little.

use std::time::Duration;

use super::ntp::NtpTime;
use crate::jitter::slope::median_slope;

/// Shortest span between two reports whose slope is used.
pub const MIN_SPAN: Duration = Duration::from_secs(10);

/// Reports kept (at 5 s intervals, over 5 minutes).
const KEPT: usize = 64;

/// Largest drift believed: a rate further off than this means the NTP field is not a clock
/// (some senders put uptime or zero there), not that a crystal is that far off.
const MAX_DRIFT: f64 = 0.01;

/// Sender reports of one source, and the drift they give.
#[derive(Debug, Clone)]
pub struct SenderClock {
    clock_rate: u32,
    /// (NTP seconds since the first report, RTP ticks since the first report, unwrapped).
    points: Vec<(f64, f64)>,
    first: Option<(NtpTime, u32)>,
    last_rtp: u32,
    unwrapped: i64,
    scratch: Vec<f64>,
    drift: Option<f64>,
}

impl SenderClock {
    /// A clock for an RTP stream at `clock_rate` Hz.
    pub fn new(clock_rate: u32) -> Self {
        SenderClock {
            clock_rate: clock_rate.max(1),
            points: Vec::with_capacity(KEPT),
            first: None,
            last_rtp: 0,
            unwrapped: 0,
            scratch: Vec::with_capacity(KEPT * KEPT / 2),
            drift: None,
        }
    }

    /// Takes one sender report's NTP and RTP times.
    pub fn on_report(&mut self, ntp: NtpTime, rtp: u32) {
        let Some((ntp0, _)) = self.first else {
            self.first = Some((ntp, rtp));
            self.last_rtp = rtp;
            self.points.push((0.0, 0.0));
            return;
        };
        if ntp <= self.points_last_ntp(ntp0) {
            // A report older than the last (reordered or a stepped clock) adds nothing.
            return;
        }
        self.unwrapped += i64::from(rtp.wrapping_sub(self.last_rtp) as i32);
        self.last_rtp = rtp;
        if self.points.len() == KEPT {
            self.points.remove(0);
        }
        self.points
            .push((ntp.since(ntp0).as_secs_f64(), self.unwrapped as f64));
        self.update();
    }

    fn points_last_ntp(&self, ntp0: NtpTime) -> NtpTime {
        let secs = self.points.last().map_or(0.0, |p| p.0);
        NtpTime(ntp0.0 + (secs * 4_294_967_296.0) as u64)
    }

    fn update(&mut self) {
        let rate = f64::from(self.clock_rate);
        let span = MIN_SPAN.as_secs_f64();
        let pts = &self.points;
        let pairs = pts.iter().enumerate().flat_map(|(i, a)| {
            pts[i + 1..]
                .iter()
                .filter(move |b| b.0 - a.0 >= span)
                .map(move |b| ((a.0, a.1 / rate), (b.0, b.1 / rate)))
        });
        self.drift = median_slope(&mut self.scratch, pairs)
            .map(|slope| slope - 1.0)
            .filter(|d| d.abs() <= MAX_DRIFT);
    }

    /// How much faster the sender's media clock runs than wall-clock time (0.0001 = 100 ppm),
    /// once two reports at least [`MIN_SPAN`] apart agree with a real clock.
    pub fn drift(&self) -> Option<f64> {
        self.drift
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ntp(secs: f64) -> NtpTime {
        NtpTime::from_unix(Duration::from_secs_f64(1_700_000_000.0 + secs))
    }

    #[test]
    fn two_reports_ten_seconds_apart_give_the_drift() {
        let mut c = SenderClock::new(48_000);
        let rtp = |t: f64| (4_000_000_000u64 + (t * 48_000.0 * (1.0 + 150e-6)) as u64) as u32;
        c.on_report(ntp(0.0), rtp(0.0));
        c.on_report(ntp(5.0), rtp(5.0));
        assert_eq!(c.drift(), None, "5 s is too short");
        c.on_report(ntp(10.0), rtp(10.0));
        let d = c.drift().unwrap();
        assert!((d - 150e-6).abs() < 1e-6, "{d}");
        // Across the RTP wrap (4e9 + 48 kHz × 10 s passes 2^32 after ~6 s).
        for k in 3..20 {
            c.on_report(ntp(5.0 * f64::from(k)), rtp(5.0 * f64::from(k)));
        }
        assert!((c.drift().unwrap() - 150e-6).abs() < 1e-6);
    }

    #[test]
    fn one_stepped_report_hardly_moves_it_and_a_fake_clock_gives_nothing() {
        let mut c = SenderClock::new(8_000);
        for k in 0..12 {
            let t = 5.0 * f64::from(k);
            // One report 200 ms off (a wall-clock step).
            let step = if k == 6 { 0.2 } else { 0.0 };
            c.on_report(ntp(t + step), (t * 8_000.0 * (1.0 - 40e-6)) as u32);
        }
        let d = c.drift().unwrap();
        assert!((d + 40e-6).abs() < 5e-6, "{d}");
        // NTP that does not advance with the media (uptime in ms, say): refused.
        let mut fake = SenderClock::new(8_000);
        for k in 0..5 {
            fake.on_report(
                ntp(f64::from(k) * 20.0),
                (f64::from(k) * 5.0 * 8_000.0) as u32,
            );
        }
        assert_eq!(fake.drift(), None);
    }
}
