//! The one event-driven type every driver runs: the receive core plus the producer end of the
//! playback ring (sans-IO).
//!
//! The contract is that of str0m, quinn-proto or rtpbin2: the driver hands in what happened
//! ([`PlayoutEngine::handle_datagram`], [`PlayoutEngine::handle_output`],
//! [`PlayoutEngine::end_of_stream`]) and calls [`PlayoutEngine::poll`] at the deadline the last
//! poll gave, or when a datagram arrives while it gave none. A poll runs the controller, tops the
//! ring up and says whether the output plays or pauses. The live decoder thread sleeps until
//! then; the simulator and capture replay jump virtual time there. Nothing here reads a clock.

use std::time::Duration;

use super::feeder::RingFeeder;
use super::receive_core::{ReceiveCore, ReceiveCoreConfig, ReceiveCoreError, Verdict};
use super::PlayoutDecision;
use crate::jitter::InsertOutcome;
use crate::playback::ring::RingProducer;
use crate::rtcp::nack::Arrival;
use crate::rtcp::receiver::{MediaKind, RtcpReceiver};
use crate::rtcp::wire::looks_like_rtcp;
use crate::rtp::header::RtpHeader;

/// What one poll did, and when the driver must poll again.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// The controller's decision: while `playing` the output consumes the ring; otherwise it
    /// pauses (plays silence) and the core keeps buffering.
    pub decision: PlayoutDecision,
    /// Audio waiting for the device when the poll began (ring plus backlog).
    pub waiting: Duration,
    /// Whether new audio was produced ([`PlayoutEngine::produced`] holds it).
    pub produced: bool,
    /// Poll again by then at the latest; `None`: when a datagram arrives.
    pub deadline: Option<Duration>,
}

/// The receive core feeding a playback ring.
pub struct PlayoutEngine {
    core: ReceiveCore,
    feeder: RingFeeder,
    underruns_seen: u64,
    rtcp: Option<RtcpReceiver>,
    /// The sender's last report, not a BYE, ended the stream.
    ended_by_report: bool,
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
            ended_by_report: false,
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

    /// A datagram arrived at `arrival`.
    pub fn handle_datagram(&mut self, datagram: &[u8], arrival: Duration) -> Verdict {
        let Some(rtcp) = self.rtcp.as_mut() else {
            return self.core.on_datagram(datagram, arrival);
        };
        if looks_like_rtcp(datagram) {
            if rtcp.on_rtcp(datagram, arrival) {
                // The source left: what is buffered plays out, with no idle wait.
                tracing::info!("the sender said BYE");
                self.core.finish();
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
        let rtx = kind == MediaKind::Rtx;
        let (packet, header, retransmission) = match kind {
            MediaKind::Media => {
                // Retransmissions come as RTX when RTX is in use: a requested packet on the
                // media SSRC is then the original, late, and its delay is real evidence.
                let asked = locked == Some(header.ssrc)
                    && !rtcp.uses_rtx()
                    && rtcp.was_requested(header.sequence);
                (datagram, header, asked)
            }
            MediaKind::Rtx => match RtpHeader::parse(rtcp.unwrapped()) {
                Ok(original) => (rtcp.unwrapped(), original, true),
                Err(_) => return Verdict::UnusableRtx,
            },
            MediaKind::UnusableRtx => return Verdict::UnusableRtx,
        };
        let verdict = self.core.on_packet(packet, arrival, retransmission);
        let Verdict::Buffered(outcome) = verdict else {
            return verdict;
        };
        if self.core.buffer().ssrc() != Some(header.ssrc) {
            return verdict;
        }
        let len = packet.len();
        let time_to_play = self.core.time_to_play();
        let in_time = !matches!(
            outcome,
            InsertOutcome::Late | InsertOutcome::Duplicate | InsertOutcome::TooLarge
        );
        let arrived = rtcp.on_media(&header, len, arrival, time_to_play, rtx, in_time);
        if arrived == Some(Arrival::Requested) {
            rtcp.count_recovery(in_time);
        }
        verdict
    }

    /// The output's progress: how many underruns it has counted since it started.
    pub fn handle_output(&mut self, underruns: u64) {
        for _ in self.underruns_seen..underruns {
            self.core.underrun();
        }
        self.underruns_seen = self.underruns_seen.max(underruns);
    }

    /// No more datagrams will come: everything buffered plays out.
    pub fn end_of_stream(&mut self) {
        self.core.finish();
    }

    /// Runs the core at `now`: control, top the ring up, RTCP, and the next deadline.
    pub fn poll(&mut self, now: Duration) -> Result<Output, ReceiveCoreError> {
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
                self.ended_by_report = true;
            }
            self.core.publish_rtcp(&rtcp.status());
            let due = rtcp.next_due();
            deadline = Some(deadline.map_or(due, |d| d.min(due)));
        }
        Ok(Output {
            decision: top.decision,
            waiting: top.waiting,
            produced: top.produced,
            deadline,
        })
    }

    /// True once the stream ended and every sample produced is in the ring (and no packet the
    /// sender's reports counted beyond the received ones is still asked for).
    pub fn is_drained(&self) -> bool {
        self.core.is_drained()
            && self.feeder.is_flushed()
            && !self.rtcp.as_ref().is_some_and(RtcpReceiver::awaits_edges)
    }

    /// The audio the last producing poll made (in the ring, or still in the backlog).
    pub fn produced(&self) -> &[f32] {
        self.feeder.produced()
    }

    /// The receive core (metrics, counters, controller).
    pub fn core(&self) -> &ReceiveCore {
        &self.core
    }

    /// The receive core, to count what the shell saw or collect traced segments.
    pub fn core_mut(&mut self) -> &mut ReceiveCore {
        &mut self.core
    }

    /// Whether the source said BYE, or its last report showed it had finished (the stream then
    /// ends once drained).
    pub fn sender_left(&self) -> bool {
        self.ended_by_report || self.rtcp.as_ref().is_some_and(RtcpReceiver::bye_received)
    }

    /// The RTCP session, if one runs.
    pub fn rtcp(&self) -> Option<&RtcpReceiver> {
        self.rtcp.as_ref()
    }

    /// Hands each RTCP datagram waiting to go out to `send`.
    pub fn drain_rtcp(&mut self, send: impl FnMut(&[u8])) {
        if let Some(rtcp) = self.rtcp.as_mut() {
            rtcp.drain_outbox(send);
        }
    }

    /// Ends the session: the final report with BYE goes to the outbox.
    pub fn leave(&mut self, now: Duration) {
        let jitter = self.core.buffer().interarrival_jitter();
        if let Some(rtcp) = self.rtcp.as_mut() {
            rtcp.bye(now, jitter);
        }
    }

    /// The ring's producer end (to wait for the device to drain it).
    pub fn producer(&self) -> &RingProducer {
        self.feeder.producer()
    }
}
