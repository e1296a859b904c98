//! NTP timestamps as RTCP carries them: 64-bit (SR) and the middle 32 bits (LSR, DLSR).

use std::time::Duration;

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;

/// A 64-bit NTP timestamp: seconds since 1900 in the high word, the fraction in the low word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// The NTP time of a wall-clock instant given as time since the Unix epoch.
    pub fn from_unix(since_epoch: Duration) -> Self {
        let secs = since_epoch.as_secs() + NTP_UNIX_OFFSET_S;
        let frac = (u64::from(since_epoch.subsec_nanos()) << 32) / 1_000_000_000;
        NtpTime((secs << 32) | frac)
    }

    /// The middle 32 bits (16.16 fixed point), as LSR and the RFC 5506 timestamps use.
    pub fn middle32(self) -> u32 {
        (self.0 >> 16) as u32
    }

    /// The time from `earlier` to `self` (zero if `earlier` is later).
    pub fn since(self, earlier: NtpTime) -> Duration {
        let diff = self.0.saturating_sub(earlier.0);
        let secs = diff >> 32;
        let nanos = ((diff & 0xffff_ffff) * 1_000_000_000) >> 32;
        Duration::new(secs, nanos as u32)
    }
}

/// A duration in RTCP's 16.16 fixed-point seconds (DLSR), saturating at about 18 hours.
pub fn to_short(d: Duration) -> u32 {
    let units = d.as_secs_f64() * 65536.0;
    units.clamp(0.0, f64::from(u32::MAX)) as u32
}

/// A 16.16 fixed-point span of seconds (DLSR, or a difference of middle-32 timestamps).
pub fn from_short(units: u32) -> Duration {
    Duration::from_secs_f64(f64::from(units) / 65536.0)
}

/// Round-trip time from a report block (RFC 3550 §6.4.1): `arrival − LSR − DLSR`, all in
/// middle-32 units; `None` when the block has no LSR or the result is negative (clock skew, or a
/// block about an older report).
pub fn round_trip(arrival: NtpTime, lsr: u32, dlsr: u32) -> Option<Duration> {
    if lsr == 0 {
        return None;
    }
    let elapsed = arrival.middle32().wrapping_sub(lsr);
    let rtt = elapsed.checked_sub(dlsr)?;
    // A wrapped subtraction reads as more than half the 16.16 range: an older block, not an RTT.
    (rtt < 1 << 31).then(|| from_short(rtt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_epoch_is_ntp_1970() {
        let t = NtpTime::from_unix(Duration::from_millis(1500));
        assert_eq!(t.0 >> 32, NTP_UNIX_OFFSET_S + 1);
        assert_eq!(t.0 & 0xffff_ffff, 1 << 31);
    }

    #[test]
    fn round_trip_subtracts_the_receivers_hold_time() {
        let sent = NtpTime::from_unix(Duration::from_secs(100));
        let arrival = NtpTime::from_unix(Duration::from_millis(100_250));
        let dlsr = to_short(Duration::from_millis(200));
        let rtt = round_trip(arrival, sent.middle32(), dlsr).unwrap();
        assert!((rtt.as_secs_f64() - 0.05).abs() < 1e-3, "{rtt:?}");
        assert_eq!(round_trip(arrival, 0, dlsr), None);
        // A hold time longer than the elapsed time (clock trouble) gives no RTT.
        assert_eq!(
            round_trip(arrival, sent.middle32(), to_short(Duration::from_secs(1))),
            None
        );
    }

    #[test]
    fn since_measures_the_gap() {
        let a = NtpTime::from_unix(Duration::from_millis(1_000));
        let b = NtpTime::from_unix(Duration::from_millis(11_500));
        assert!((b.since(a).as_secs_f64() - 10.5).abs() < 1e-6);
        assert_eq!(a.since(b), Duration::ZERO);
    }
}
