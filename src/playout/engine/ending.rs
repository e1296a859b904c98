//! When a stream ends: BYE, the sender's last report, the idle timeout or the end of input,
//! and then when it has drained, or given up draining.

use std::time::Duration;

use super::output::EndReason;
use crate::jitter::InsertOutcome;
use crate::playout::Verdict;

/// The end-of-stream state of one engine.
#[derive(Debug, Default)]
pub(super) struct Ending {
    /// End once nothing has fed the stream for this long.
    pub idle_timeout: Option<Duration>,
    /// Give up draining this long after the end.
    pub drain_limit: Option<Duration>,
    /// When the last datagram that fed the stream arrived.
    last_fed: Option<Duration>,
    /// Why and when the stream ended (the first reason wins).
    reason: Option<(EndReason, Duration)>,
    /// The end was handed to the driver.
    said: bool,
}

impl Ending {
    /// Notes a datagram's verdict: only what the stream can use keeps it alive (late packets,
    /// duplicates and strays arriving after its end do not hold off the idle timeout).
    pub fn on_verdict(&mut self, verdict: Verdict, at: Duration) {
        if feeds_the_stream(verdict) {
            self.last_fed = Some(self.last_fed.map_or(at, |l| l.max(at)));
        }
    }

    /// The stream ended at `at` for `reason`, unless it already had.
    pub fn end(&mut self, reason: EndReason, at: Duration) {
        if self.reason.is_none() {
            self.reason = Some((reason, at));
        }
    }

    /// Why the stream ended, once it has.
    pub fn reason(&self) -> Option<EndReason> {
        self.reason.map(|(r, _)| r)
    }

    /// Whether the idle timeout has run out at `now` (the stream has not ended otherwise).
    pub fn idle(&mut self, now: Duration) -> bool {
        self.idle_at(now).is_some_and(|at| now >= at)
    }

    /// When the idle timeout runs out; counting from `now` if nothing has fed the stream yet.
    fn idle_at(&mut self, now: Duration) -> Option<Duration> {
        let timeout = self.idle_timeout.filter(|_| self.reason.is_none())?;
        Some(*self.last_fed.get_or_insert(now) + timeout)
    }

    /// The end to hand the driver at `now`, once: the reason when `drained`, or
    /// [`EndReason::DrainLimit`] once draining has taken too long.
    pub fn ended(&mut self, now: Duration, drained: bool) -> Option<EndReason> {
        let (reason, at) = self.reason.filter(|_| !self.said)?;
        let given_up = self.drain_limit.is_some_and(|limit| now > at + limit);
        let end = if drained {
            reason
        } else if given_up {
            EndReason::DrainLimit
        } else {
            return None;
        };
        self.said = true;
        Some(end)
    }

    /// The step's deadline, brought forward to the idle timeout or the drain limit.
    pub fn deadline(&mut self, step: Option<Duration>, now: Duration) -> Option<Duration> {
        let limit = self
            .reason
            .filter(|_| !self.said)
            .and_then(|(_, at)| Some(at + self.drain_limit?));
        [step, self.idle_at(now), limit].into_iter().flatten().min()
    }
}

/// Whether a datagram was part of the stream (buffered, or held as a possible restart).
fn feeds_the_stream(verdict: Verdict) -> bool {
    matches!(
        verdict,
        Verdict::Buffered(
            InsertOutcome::Queued { .. }
                | InsertOutcome::Reset(_)
                | InsertOutcome::Held
                | InsertOutcome::Overflow { .. }
        ) | Verdict::ComfortNoise
            | Verdict::TelephoneEvent
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn queued() -> Verdict {
        Verdict::Buffered(InsertOutcome::Queued { reordered: false })
    }

    #[test]
    fn idle_counts_from_the_last_datagram_that_fed_the_stream() {
        let mut e = Ending {
            idle_timeout: Some(2 * S),
            ..Ending::default()
        };
        e.on_verdict(queued(), S);
        e.on_verdict(Verdict::Buffered(InsertOutcome::Late), 2 * S);
        assert!(!e.idle(2 * S));
        assert_eq!(e.deadline(None, 2 * S), Some(3 * S));
        assert!(e.idle(3 * S));
        e.end(EndReason::Idle, 3 * S);
        assert!(!e.idle(10 * S), "ended streams are not idle again");
    }

    #[test]
    fn the_end_is_said_once_when_drained_or_at_the_drain_limit() {
        let mut e = Ending {
            drain_limit: Some(5 * S),
            ..Ending::default()
        };
        assert_eq!(e.ended(S, true), None, "not ended yet");
        e.end(EndReason::Bye, S);
        e.end(EndReason::EndOfInput, 2 * S);
        assert_eq!(e.reason(), Some(EndReason::Bye), "the first reason wins");
        assert_eq!(e.deadline(None, 2 * S), Some(6 * S));
        assert_eq!(e.ended(2 * S, false), None);
        assert_eq!(e.ended(7 * S, false), Some(EndReason::DrainLimit));
        assert_eq!(e.ended(8 * S, true), None, "said once");

        let mut drained = Ending::default();
        drained.end(EndReason::LastReport, S);
        assert_eq!(drained.ended(S, true), Some(EndReason::LastReport));
    }
}
