//! What [`super::PlayoutEngine::poll`] hands its driver, one output at a time.

use std::time::Duration;

use crate::playout::PlayoutDecision;

/// One output of a poll. Drivers call `poll` until it returns [`Output::Timeout`].
#[derive(Debug)]
pub enum Output<'a> {
    /// The step of this poll ran: the output's playout decision and what it produced.
    Playout(Playout),
    /// An RTCP datagram (report, NACK, BYE) to send back to the sender.
    Transmit(&'a [u8]),
    /// Something happened to the stream.
    Event(Event),
    /// The stream is over and everything it produced is in the ring (said once).
    Ended(EndReason),
    /// Poll again by then at the latest; `None`: when a datagram arrives.
    Timeout(Option<Duration>),
}

/// What one step did for the output.
#[derive(Debug, Clone, Copy)]
pub struct Playout {
    /// The controller's decision: while `playing` the output consumes the ring; otherwise it
    /// pauses (plays silence) and the core keeps buffering.
    pub decision: PlayoutDecision,
    /// Audio waiting for the device when the step began (ring plus backlog).
    pub waiting: Duration,
    /// Whether new audio was produced ([`super::PlayoutEngine::produced`] holds it).
    pub produced: bool,
}

/// A stream event and when it happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// When: a datagram's arrival, or the poll that saw it.
    pub at: Duration,
    /// What.
    pub kind: EventKind,
}

/// The kinds of [`Event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A packet arrived after its turn.
    Late,
    /// The buffer overflowed and dropped audio.
    Overflow,
    /// A packet asked for by NACK arrived in time to play.
    Recovered,
    /// The stream restarted (new SSRC, sequence or timestamp jump).
    Restart,
    /// Playout stopped to rebuffer.
    Rebuffer,
}

/// Why the stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The sender said BYE.
    Bye,
    /// Every BYE was lost, but the sender's last report counted all that came.
    LastReport,
    /// Nothing usable arrived for the idle timeout.
    Idle,
    /// The driver said no more datagrams will come.
    EndOfInput,
    /// The stream did not drain within the drain limit after it ended (the rest is dropped).
    DrainLimit,
}

impl EndReason {
    /// Whether the sender said it had left (BYE, or its last report).
    pub fn sender_left(self) -> bool {
        matches!(self, EndReason::Bye | EndReason::LastReport)
    }
}
