//! The receive core's one public face, run by every driver (sans-IO).
//!
//! The contract is that of str0m, quinn-proto or rtpbin2: the driver hands in what happened
//! ([`PlayoutEngine::handle_datagram`], [`PlayoutEngine::handle_output`],
//! [`PlayoutEngine::end_of_stream`]) and calls [`PlayoutEngine::poll`] until it returns
//! [`Output::Timeout`], then again at that deadline, or when a datagram arrives while it gave
//! none. A poll round runs the controller, tops the ring up, runs the RTCP session and decides
//! whether the stream has ended; its outputs are the playout decision, the RTCP datagrams to
//! send, stream events and the end. The live decoder thread sleeps until the deadline; the
//! simulator and capture replay jump virtual time there. Nothing here reads a clock.

mod ending;
mod output;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use self::ending::Ending;
pub use self::output::{EndReason, Event, EventKind, Output, Playout};
use super::feeder::RingFeeder;
use super::metrics::Metrics;
use super::receive_core::{ReceiveCore, ReceiveCoreConfig, ReceiveCoreError, Segment, Verdict};
use super::{PlayoutState, ReceiveCounts};
use crate::jitter::InsertOutcome;
use crate::playback::ring::RingProducer;
use crate::rtcp::nack::Arrival;
use crate::rtcp::receiver::{MediaKind, RtcpReceiver};
use crate::rtcp::wire::looks_like_rtcp;
use crate::rtp::header::RtpHeader;

/// Events kept between two polls; past this the oldest are dropped (memory stays bounded
/// whatever arrives between polls).
const EVENT_QUEUE: usize = 4096;

/// Where a poll round stands.
#[derive(Debug, Clone, Copy)]
enum Round {
    /// The next poll runs a step.
    Idle,
    /// The step ran; its outputs are being handed out, then this deadline.
    Stepped(Option<Duration>),
}

/// The receive core feeding a playback ring, with its RTCP session and end-of-stream rules.
pub struct PlayoutEngine {
    core: ReceiveCore,
    feeder: RingFeeder,
    underruns_seen: u64,
    rtcp: Option<RtcpReceiver>,
    ending: Ending,
    events: VecDeque<Event>,
    events_dropped: u64,
    round: Round,
    /// RTCP datagrams handed out in this round.
    transmitted: usize,
    /// Counters at the last poll, to turn their changes into events.
    resets_seen: u64,
    rebuffers_seen: u64,
    left: bool,
    /// RFC 7273: the sender's media clock measured against the reference clock.
    media_clock: Option<crate::rtp::media_clock::MediaClock>,
}

impl PlayoutEngine {
    /// A core built from `cfg` that keeps `high_water` of audio in the ring behind `producer`.
    pub fn new(
        mut cfg: ReceiveCoreConfig,
        producer: RingProducer,
        high_water: Duration,
    ) -> Result<Self, ReceiveCoreError> {
        let (rate, channels) = (cfg.output_rate, usize::from(cfg.output_channels));
        cfg.add_output_ring(high_water);
        Ok(Self {
            core: ReceiveCore::new(cfg)?,
            feeder: RingFeeder::new(producer, high_water, rate, channels),
            underruns_seen: 0,
            rtcp: None,
            ending: Ending::default(),
            events: VecDeque::with_capacity(EVENT_QUEUE),
            events_dropped: 0,
            round: Round::Idle,
            transmitted: 0,
            resets_seen: 0,
            rebuffers_seen: 0,
            left: false,
            media_clock: None,
        })
    }

    /// Runs an RTCP session beside the core: reports, NACK recovery, RTX, SR drift, BYE.
    pub fn with_rtcp(mut self, rtcp: RtcpReceiver) -> Self {
        self.attach_rtcp(rtcp);
        self
    }

    /// Runs an RTCP session beside the core from now on.
    pub fn attach_rtcp(&mut self, rtcp: RtcpReceiver) {
        self.rtcp = Some(rtcp);
    }

    /// Measures the sender's media clock (RFC 7273 `a=mediaclk:direct=`) from now on.
    pub fn measure_media_clock(&mut self, clock: crate::rtp::media_clock::MediaClock) {
        self.media_clock = Some(clock);
    }

    /// Ends the stream once nothing that feeds it has arrived for `timeout` (the buffered
    /// audio still plays out).
    pub fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.ending.idle_timeout = timeout;
        self
    }

    /// Gives up draining `limit` after the stream ended ([`EndReason::DrainLimit`]).
    pub fn with_drain_limit(mut self, limit: Option<Duration>) -> Self {
        self.ending.drain_limit = limit;
        self
    }

    /// A datagram arrived at `arrival`. It is parsed once, here.
    pub fn handle_datagram(&mut self, datagram: &[u8], arrival: Duration) -> Verdict {
        let recovered = self.rtcp.as_ref().map_or(0, RtcpReceiver::recovered);
        let verdict = self.take_datagram(datagram, arrival);
        self.ending.on_verdict(verdict, arrival);
        if let (Some(clock), Verdict::Buffered(_)) = (self.media_clock.as_mut(), verdict) {
            // The stream's own packets only (RTX packets have an SSRC of their own).
            if let Ok(h) = RtpHeader::parse(datagram) {
                if self.core.buffer().ssrc() == Some(h.ssrc) {
                    clock.observe(h.timestamp, arrival);
                    if let Some(r) = clock.report() {
                        self.core
                            .metrics()
                            .publish_media_clock(r.offset_samples, r.drift_ppm);
                    }
                }
            }
        }
        let kind = match verdict {
            _ if self.rtcp.as_ref().map_or(0, RtcpReceiver::recovered) > recovered => {
                Some(EventKind::Recovered)
            }
            Verdict::Buffered(InsertOutcome::Late) => Some(EventKind::Late),
            Verdict::Buffered(InsertOutcome::Overflow { .. }) => Some(EventKind::Overflow),
            _ => None,
        };
        if let Some(kind) = kind {
            self.push_event(arrival, kind);
        }
        verdict
    }

    fn take_datagram(&mut self, datagram: &[u8], arrival: Duration) -> Verdict {
        let Some(rtcp) = self.rtcp.as_mut() else {
            return self.core.on_datagram(datagram, arrival);
        };
        if looks_like_rtcp(datagram) {
            if rtcp.on_rtcp(datagram, arrival) {
                // The source left: what is buffered plays out, with no idle wait.
                tracing::info!("the sender said BYE");
                self.core.finish();
                self.ending.end(EndReason::Bye, arrival);
            }
            self.core.set_sr_drift(rtcp.sr_drift());
            return Verdict::Rtcp;
        }
        let Ok(header) = RtpHeader::parse(datagram) else {
            return self.core.on_datagram(datagram, arrival);
        };
        let locked = self.core.buffer().ssrc();
        let media_pt = self.core.payload_type();
        let kind = rtcp.classify(&header, datagram, locked, media_pt);
        let (packet, header, retransmission, rtx) = match kind {
            MediaKind::Media => {
                // Retransmissions come as RTX when RTX is in use: a requested packet on the
                // media SSRC is then the original, late, and its delay is real evidence.
                let asked = locked == Some(header.ssrc)
                    && !rtcp.uses_rtx()
                    && rtcp.was_requested(header.sequence);
                (datagram, header, asked, false)
            }
            MediaKind::Rtx(original) => (rtcp.unwrapped(), original, true, true),
            MediaKind::UnusableRtx => return Verdict::UnusableRtx,
        };
        let verdict = self
            .core
            .on_packet(&header, packet, arrival, retransmission);
        let Verdict::Buffered(outcome) = verdict else {
            return verdict;
        };
        if self.core.buffer().ssrc() != Some(header.ssrc) {
            return verdict;
        }
        let time_to_play = self.core.time_to_play();
        let in_time = !matches!(
            outcome,
            InsertOutcome::Late | InsertOutcome::Duplicate | InsertOutcome::TooLarge
        );
        let arrived = rtcp.on_media(&header, packet.len(), arrival, time_to_play, rtx, in_time);
        if arrived == Some(Arrival::Requested) {
            rtcp.count_recovery(in_time);
        }
        verdict
    }

    /// The output's progress at `now`: how many underruns it has counted since it started.
    pub fn handle_output(&mut self, underruns: u64, now: Duration) {
        for _ in self.underruns_seen..underruns {
            self.core.underrun();
        }
        self.underruns_seen = self.underruns_seen.max(underruns);
        // An underrun may stop playout to rebuffer: that is an event of this moment.
        self.note_counter_events(now);
    }

    /// No more datagrams will come at `now`: everything buffered plays out.
    pub fn end_of_stream(&mut self, now: Duration) {
        self.core.finish();
        self.ending.end(EndReason::EndOfInput, now);
    }

    /// Datagrams the driver found malformed before this engine existed (counted as such).
    pub fn count_malformed(&mut self, n: u64) {
        self.core.count_malformed(n);
    }

    /// The next output at `now`; call until it returns [`Output::Timeout`].
    pub fn poll(&mut self, now: Duration) -> Result<Output<'_>, ReceiveCoreError> {
        if let Some(rtcp) = self.rtcp.as_mut() {
            if rtcp.outgoing(self.transmitted).is_none() {
                self.transmitted = 0;
                rtcp.clear_outbox();
            } else {
                let i = self.transmitted;
                self.transmitted += 1;
                let datagram = self.rtcp.as_ref().and_then(|r| r.outgoing(i));
                return Ok(Output::Transmit(datagram.unwrap_or_default()));
            }
        }
        if let Some(event) = self.events.pop_front() {
            return Ok(Output::Event(event));
        }
        match self.round {
            Round::Idle if self.left => Ok(Output::Timeout(None)),
            Round::Idle => {
                let (playout, deadline) = self.step(now)?;
                self.round = Round::Stepped(deadline);
                Ok(Output::Playout(playout))
            }
            Round::Stepped(deadline) => {
                self.round = Round::Idle;
                let drained = self.is_drained();
                if let Some(reason) = self.ending.ended(now, drained) {
                    return Ok(Output::Ended(reason));
                }
                Ok(Output::Timeout(self.ending.deadline(deadline, now)))
            }
        }
    }

    /// One step: control, top the ring up, RTCP, end of stream, and the next deadline.
    fn step(&mut self, now: Duration) -> Result<(Playout, Option<Duration>), ReceiveCoreError> {
        if self.ending.idle(now) {
            tracing::info!("nothing usable arrived for the idle timeout: the stream ended");
            self.core.finish();
            self.ending.end(EndReason::Idle, now);
        }
        let top = self.feeder.top_up(&mut self.core, now)?;
        let mut deadline = self.feeder.next_deadline(&self.core, &top, now);
        if let Some(rtcp) = self.rtcp.as_mut() {
            let time_to_play = self.core.time_to_play();
            rtcp.poll(now, self.core.buffer().interarrival_jitter(), time_to_play);
            if !self.core.is_finished()
                && self.core.buffer().is_empty()
                && rtcp.report_says_finished()
            {
                // Every BYE lost: the sender's last report counted what came, and the buffer
                // ran dry waiting for more.
                tracing::info!("the sender's last report counted all it sent: the stream ended");
                self.core.finish();
                self.ending.end(EndReason::LastReport, now);
            }
            self.core.publish_rtcp(&rtcp.status());
            let due = rtcp.next_due();
            deadline = Some(deadline.map_or(due, |d| d.min(due)));
        }
        self.note_counter_events(now);
        let playout = Playout {
            decision: top.decision,
            waiting: top.waiting,
            produced: top.produced,
        };
        Ok((playout, deadline))
    }

    fn note_counter_events(&mut self, now: Duration) {
        let resets = self.core.buffer().stats().resets;
        if resets > self.resets_seen {
            self.resets_seen = resets;
            self.push_event(now, EventKind::Restart);
        }
        let rebuffers = self.core.controller().rebuffers();
        if rebuffers > self.rebuffers_seen {
            self.rebuffers_seen = rebuffers;
            self.push_event(now, EventKind::Rebuffer);
        }
    }

    fn push_event(&mut self, at: Duration, kind: EventKind) {
        if self.events.len() == EVENT_QUEUE {
            self.events.pop_front();
            self.events_dropped += 1;
        }
        self.events.push_back(Event { at, kind });
    }

    /// The one-way delay of the last packet the delay estimator took, above the smallest seen
    /// lately (what the adaptive target is made from).
    pub fn last_delay(&self) -> Option<Duration> {
        self.core.buffer().estimator().last_excess()
    }

    /// Takes the events no poll has handed out yet (at the end of a run, when no more polls
    /// will come).
    pub fn take_events(&mut self) -> impl Iterator<Item = Event> + '_ {
        self.events.drain(..)
    }

    /// Events dropped because the driver did not poll for a long time.
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped
    }

    /// True once the stream ended and every sample produced is in the ring (and no packet the
    /// sender's reports counted beyond the received ones is still asked for).
    pub fn is_drained(&self) -> bool {
        self.core.is_drained()
            && self.feeder.is_flushed()
            && !self.rtcp.as_ref().is_some_and(RtcpReceiver::awaits_edges)
    }

    /// The audio the last producing step made (in the ring, or still in the backlog).
    pub fn produced(&self) -> &[f32] {
        self.feeder.produced()
    }

    /// Where the last produced audio came from, packet by packet (when tracing is on).
    pub fn drain_segments(&mut self, into: &mut Vec<Segment>) {
        self.core.drain_segments(into);
    }

    /// The shared metrics the views read.
    pub fn metrics(&self) -> &Arc<Metrics> {
        self.core.metrics()
    }

    /// Counts of datagrams that never reached the buffer.
    pub fn counts(&self) -> ReceiveCounts {
        self.core.counts()
    }

    /// The playout state, and the progress towards the level a (re)start waits for.
    pub fn state(&self) -> (PlayoutState, f64) {
        let c = self.core.controller();
        (c.state(), c.progress())
    }

    /// The drift the controller estimates, ppm, once it has enough evidence.
    pub fn drift_ppm(&self) -> Option<f64> {
        self.core.controller().drift_ppm()
    }

    /// Whether the source said BYE, or its last report showed it had finished (the stream then
    /// ends once drained).
    pub fn sender_left(&self) -> bool {
        self.ending.reason().is_some_and(EndReason::sender_left)
            || self.rtcp.as_ref().is_some_and(RtcpReceiver::bye_received)
    }

    /// Whether the stream has ended (it may still be draining).
    pub fn has_ended(&self) -> bool {
        self.ending.reason().is_some()
    }

    /// The RTCP session, if one runs.
    pub fn rtcp(&self) -> Option<&RtcpReceiver> {
        self.rtcp.as_ref()
    }

    /// Leaves the session at `now`: the final report with BYE is the next poll's
    /// [`Output::Transmit`], and polls run no more steps. The final counts are published.
    pub fn leave(&mut self, now: Duration) {
        self.core.tick(now, Duration::ZERO);
        let jitter = self.core.buffer().interarrival_jitter();
        if let Some(rtcp) = self.rtcp.as_mut() {
            rtcp.bye(now, jitter);
        }
        self.left = true;
        self.round = Round::Idle;
    }

    /// The ring's producer end (to wait for the device to drain it).
    pub fn producer(&self) -> &RingProducer {
        self.feeder.producer()
    }
}
