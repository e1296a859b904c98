//! Keeps alsa-lib's own stderr chatter ("ALSA lib ... cannot find card '0'") off the terminal.
//!
//! alsa-lib prints straight to file descriptor 2 while devices are probed, which buries the one
//! clear line a user needs. While a guard lives, fd 2 points at /dev/null; with `RUST_LOG` set
//! the chatter stays visible for debugging.

/// Redirects stderr to /dev/null until dropped.
pub struct QuietStderr {
    saved: Option<i32>,
}

impl QuietStderr {
    /// Silences stderr unless the user asked for logs.
    pub fn new() -> Self {
        if std::env::var_os("RUST_LOG").is_some() {
            return QuietStderr { saved: None };
        }
        // SAFETY: plain fd juggling on descriptors we own; failure leaves stderr untouched.
        let saved = unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
            if null < 0 {
                return QuietStderr { saved: None };
            }
            let saved = libc::dup(2);
            if saved < 0 || libc::dup2(null, 2) < 0 {
                libc::close(null);
                if saved >= 0 {
                    libc::close(saved);
                }
                return QuietStderr { saved: None };
            }
            libc::close(null);
            saved
        };
        QuietStderr { saved: Some(saved) }
    }
}

impl Default for QuietStderr {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for QuietStderr {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            // SAFETY: `saved` is the duplicate of the original stderr made in `new`.
            unsafe {
                libc::dup2(saved, 2);
                libc::close(saved);
            }
        }
    }
}
