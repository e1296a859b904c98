//! The batched drain's periodic tick, waking the network thread once per period.
//!
//! tokio keeps timers in a wheel of 1 ms slots grouped in levels of 64: a deadline further away
//! than the current level's span waits in a coarser slot and is moved down when that slot comes,
//! so a 40 ms interval often wakes the thread twice per tick, and re-arming it from inside the
//! task also writes the runtime's eventfd (one more system call pair). For a stream that is most
//! of what the network thread does between packets. On Linux the tick is a kernel timerfd polled
//! by the reactor instead: one readiness per period and nothing to re-arm. Elsewhere, or if the
//! timerfd cannot be made, it is a tokio interval.

use std::time::Duration;

/// A periodic tick.
pub(super) struct Ticker {
    inner: Inner,
}

enum Inner {
    #[cfg(target_os = "linux")]
    Kernel(tokio::io::unix::AsyncFd<linux::TimerFd>),
    Tokio(tokio::time::Interval),
}

impl Ticker {
    /// Ticks every `period`, the first one `period` from now.
    pub fn new(period: Duration) -> Self {
        #[cfg(target_os = "linux")]
        match linux::TimerFd::periodic(period) {
            // SAFETY: the TimerFd owns its descriptor and returns the same one from every
            // as_raw_fd call; it is closed only when the AsyncFd drops it.
            Ok(timer) => match unsafe { tokio::io::unix::AsyncFd::register(timer) } {
                Ok(fd) => {
                    return Self {
                        inner: Inner::Kernel(fd),
                    }
                }
                Err(e) => {
                    let (_, error) = e.into_parts();
                    tracing::debug!(%error, "timerfd not registered: the tick is tokio's timer");
                }
            },
            Err(error) => tracing::debug!(%error, "no timerfd: the tick is tokio's timer"),
        }
        Self {
            inner: Inner::Tokio(tokio_interval(period)),
        }
    }

    /// Waits for the next tick; returns how many periods ended since the last one (at least 1).
    pub async fn tick(&mut self) -> u64 {
        match &mut self.inner {
            #[cfg(target_os = "linux")]
            Inner::Kernel(fd) => {
                let period = fd.get_ref().period();
                match Self::kernel_tick(fd).await {
                    Ok(n) => n,
                    // Only a broken descriptor or reactor gets here: from now on wait as tokio
                    // would, rather than return at once and have the caller spin.
                    Err(error) => {
                        tracing::warn!(%error, "timerfd failed: the tick is tokio's timer");
                        self.inner = Inner::Tokio(tokio_interval(period));
                        1
                    }
                }
            }
            Inner::Tokio(interval) => {
                interval.tick().await;
                1
            }
        }
    }

    #[cfg(target_os = "linux")]
    async fn kernel_tick(fd: &tokio::io::unix::AsyncFd<linux::TimerFd>) -> std::io::Result<u64> {
        loop {
            let mut guard = fd.readable().await?;
            // The read takes every expiration so far, so readiness is cleared after a
            // successful read too: the next tick goes straight to the reactor. (tokio keeps
            // readiness that arrived after this guard was made.)
            match guard.get_inner().expirations() {
                Ok(n) => {
                    guard.clear_ready();
                    return Ok(n.max(1));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => guard.clear_ready(),
                Err(e) => return Err(e),
            }
        }
    }
}

fn tokio_interval(period: Duration) -> tokio::time::Interval {
    let start = tokio::time::Instant::now() + period;
    let mut interval = tokio::time::interval_at(start, period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::time::Duration;

    /// A non-blocking CLOCK_MONOTONIC timerfd armed to expire every period.
    pub struct TimerFd {
        fd: OwnedFd,
        period: Duration,
    }

    impl TimerFd {
        pub fn periodic(period: Duration) -> io::Result<Self> {
            let period = period.max(Duration::from_micros(1));
            // SAFETY: timerfd_create takes no pointers; a non-negative result is a new
            // descriptor that nothing else owns.
            let raw = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` was just returned by timerfd_create and is owned by nobody else.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            let spec = libc::timespec {
                tv_sec: period.as_secs() as libc::time_t,
                tv_nsec: period.subsec_nanos() as libc::c_long,
            };
            let value = libc::itimerspec {
                it_interval: spec,
                it_value: spec,
            };
            // SAFETY: the descriptor is a live timerfd; `value` is a valid itimerspec and the
            // old value is not asked for.
            let rc =
                unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &value, std::ptr::null_mut()) };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Self { fd, period })
        }

        pub fn period(&self) -> Duration {
            self.period
        }

        /// Expirations since the last read; `WouldBlock` if there were none.
        pub fn expirations(&self) -> io::Result<u64> {
            let mut count = [0u8; 8];
            // SAFETY: reads at most 8 bytes into a live 8-byte buffer from a descriptor we own.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), count.as_mut_ptr().cast(), 8) };
            match n {
                8 => Ok(u64::from_ne_bytes(count)),
                n if n < 0 => Err(io::Error::last_os_error()),
                _ => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "short timerfd read",
                )),
            }
        }
    }

    impl AsRawFd for TimerFd {
        fn as_raw_fd(&self) -> RawFd {
            self.fd.as_raw_fd()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn missed_periods_are_counted_in_one_tick() {
        // The test blocks the runtime thread for longer than several periods: the timerfd
        // counts each period that ended meanwhile, and a tokio interval (elsewhere) reports
        // one tick, so the count is at least 1 and, on Linux, covers the blocked time.
        runtime().block_on(async {
            let mut ticker = Ticker::new(Duration::from_millis(2));
            ticker.tick().await;
            let blocked = std::time::Instant::now();
            while blocked.elapsed() < Duration::from_millis(20) {
                std::hint::spin_loop();
            }
            let n = ticker.tick().await;
            if cfg!(target_os = "linux") {
                assert!(n >= 8, "{n} periods counted over 20 ms of 2 ms periods");
            } else {
                assert!(n >= 1);
            }
        });
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn on_linux_the_tick_is_a_timerfd() {
        runtime().block_on(async {
            let ticker = Ticker::new(Duration::from_millis(40));
            assert!(matches!(ticker.inner, Inner::Kernel(_)));
        });
    }
}
