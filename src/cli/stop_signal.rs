//! One way of stopping for every command: Ctrl-C (SIGINT), SIGTERM (`systemctl stop`,
//! `docker stop`) and SIGHUP (a closed terminal) all end a run gracefully: the final stats
//! line, complete recordings, a BYE, exit code 0. A second signal exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use tokio::sync::Notify;

/// Set by the first signal; players look at it at their next step.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// Exit status of a run cut short by a second signal (128 + SIGINT, as shells report it).
const SECOND_SIGNAL_EXIT: i32 = 130;

/// Wakes the async commands (send, relay) when the first signal comes.
fn notify() -> &'static Notify {
    static NOTIFY: OnceLock<Notify> = OnceLock::new();
    NOTIFY.get_or_init(Notify::new)
}

/// Installs the handler (once; later calls do nothing). Without it, the signals keep their
/// default action, which is said once.
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // The `termination` feature adds SIGTERM and SIGHUP to SIGINT; the handler runs on a
        // thread of its own, not in signal context, so it may do anything.
        let installed = ctrlc::set_handler(|| {
            if STOP.swap(true, Ordering::AcqRel) {
                tracing::warn!("second signal: exiting at once");
                std::process::exit(SECOND_SIGNAL_EXIT);
            }
            tracing::info!("stopping (a second signal exits at once)");
            notify().notify_waiters();
        });
        if let Err(error) = installed {
            tracing::warn!(%error, "cannot catch Ctrl-C/SIGTERM/SIGHUP; they will end the process at once");
        }
    });
}

/// Whether a stop signal has come.
pub fn stopped() -> bool {
    STOP.load(Ordering::Acquire)
}

/// Resolves when the first stop signal comes (at once if it already has).
pub async fn signalled() {
    loop {
        let notified = notify().notified();
        tokio::pin!(notified);
        // Registered before the check, so a signal between the two is not missed.
        notified.as_mut().enable();
        if stopped() {
            return;
        }
        notified.await;
    }
}
