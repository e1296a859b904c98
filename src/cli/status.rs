//! The live status line: one redrawn line on a terminal, nothing otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A one-line status display on stderr, silent when not on a terminal or when quiet.
pub struct StatusLine {
    bar: ProgressBar,
}

impl StatusLine {
    /// Creates the line; it draws only if both stdout and stderr are terminals and not `quiet`.
    pub fn new(quiet: bool) -> Self {
        let bar = if Self::would_draw(quiet) {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10))
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        StatusLine { bar }
    }

    /// Whether a line made with `quiet` would be drawn (so that nobody formats one for nothing).
    pub fn would_draw(quiet: bool) -> bool {
        !quiet && std::io::stderr().is_terminal() && std::io::stdout().is_terminal()
    }

    /// Whether this line is drawn.
    pub fn is_visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Replaces the line's text.
    pub fn set(&self, text: String) {
        self.bar.set_message(text);
    }

    /// Removes the line.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// `m:ss.t` for status displays.
pub fn clock(d: Duration) -> String {
    let tenths = d.as_millis() / 100;
    format!("{}:{:02}.{}", tenths / 600, (tenths / 10) % 60, tenths % 10)
}
