//! The reference clock that RFC 7273 media clocks are measured against: the host's TAI clock
//! (which equals UTC until linuxptp or chrony set the kernel's TAI offset; both sides of a
//! measurement on one host read the same clock either way).

use std::time::Duration;

/// The reference clock's time since its epoch, now.
pub fn reference_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only the struct passed.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_TAI, &mut ts) } == 0;
    if ok && ts.tv_sec >= 0 {
        Duration::new(ts.tv_sec as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
    }
}

/// Seconds the kernel's TAI clock is ahead of UTC (37 when linuxptp or chrony set it, 0 when
/// nothing did: then the reference is UTC, as an NTP-disciplined host keeps it).
pub fn tai_offset_s() -> i64 {
    let utc = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (reference_now().as_secs_f64() - utc.as_secs_f64()).round() as i64
}
