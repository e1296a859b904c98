//! When the output ran dry, so that a sender's pause found out afterwards is not an underrun.
//!
//! The output cannot tell a network freeze (packets held up, to arrive in a burst) from a sender
//! pause (nothing sent, timestamps running on) while it waits. When the stream comes back as a
//! pause, the silence already waited belongs to it: the receive core plays only the rest of the
//! pause, resumes at once, and takes back the rebuffer and underruns of the wait.
//!
//! "The rest" is what keeps the level where it was: the level when the output ran dry (the
//! playout delay behind the sender's clock) less the time since the stream came back. Counting
//! the rest from the pause's length instead would go wrong on long pauses, whose timeline the
//! buffer compresses to `max_pause`.

use std::time::Duration;

use crate::jitter::JitterBuffer;

/// The wait in progress since the output ran dry.
#[derive(Debug, Clone, Copy, Default)]
pub struct DryWait {
    since: Option<Duration>,
    level: Duration,
    underruns_before: u64,
}

impl DryWait {
    /// The output ran dry at `now`, `level` behind the sender, with `underruns` counted so far
    /// (keeps the first of an episode).
    pub fn begin(&mut self, now: Duration, level: Duration, underruns: u64) {
        if self.since.is_none() {
            self.since = Some(now);
            self.level = level;
            self.underruns_before = underruns;
        }
    }

    /// Underruns counted before the wait in progress began (`None`: no wait).
    pub fn underruns_before(&self) -> Option<u64> {
        self.since.map(|_| self.underruns_before)
    }

    /// Playback resumed (or the stream ended): the wait is over.
    pub fn end(&mut self) {
        self.since = None;
    }

    /// If the buffer now shows the wait was inside a sender's pause that is not over yet at
    /// `now`, resumes the buffer in it and returns the underruns counted since the wait began
    /// (to take back). `None`: a real underrun, or no wait.
    pub fn resume_in_pause(&mut self, buffer: &mut JitterBuffer, now: Duration) -> Option<u64> {
        self.since?;
        let pause = buffer.pause_after_starving()?;
        let back = buffer.oldest_arrival()?;
        let rest = buffer.ticks_of(self.level.saturating_sub(now.saturating_sub(back)));
        if rest == 0 {
            // The stream came back too late to keep the level: a real underrun.
            return None;
        }
        tracing::debug!(pause, rest, "the output waited inside a sender pause");
        buffer.resume_in_pause(rest.min(pause));
        self.since = None;
        Some(self.underruns_before)
    }
}
