//! The receiver's RTCP session (sans-IO): receiver reports with SDES CNAME at RFC 3550
//! intervals, generic NACKs for missing packets, RTX unwrapping, sender reports (clock drift,
//! LSR/DLSR, the sender's counts and CNAME) and BYE.
//!
//! The playout engine drives it beside the jitter buffer: every media packet goes through
//! [`RtcpReceiver::on_media`], every RTCP datagram through [`RtcpReceiver::on_rtcp`], and
//! [`RtcpReceiver::poll`] fills an outbox the shell sends.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::interval::ReportSchedule;
use super::nack::{Arrival, NackConfig, NackCounts, NackScheduler, ReceivedPacket};
use super::ntp;
use super::reception::ReceptionStats;
use super::sr_clock::SenderClock;
use super::wire::{self, Event, NackRequest, Outgoing, ReceptionBlock, MAX_RTCP_LEN};
use crate::rtp::header::RtpHeader;

/// Most datagrams waiting in the outbox (a shell that stops sending must not grow it).
const OUTBOX_LIMIT: usize = 16;

/// Settings of the receiver's session.
#[derive(Debug, Clone)]
pub struct RtcpReceiverConfig {
    /// Our SSRC in reports.
    pub ssrc: u32,
    /// Our canonical name (`user@host`).
    pub cname: String,
    /// The media's RTP clock rate.
    pub clock_rate: u32,
    /// NACK recovery, or `None` (`--no-nack`).
    pub nack: Option<NackConfig>,
    /// The RTX payload type and the media payload type it repairs (`apt`), if announced.
    pub rtx: Option<(u8, u8)>,
    /// Send NACKs as reduced-size RTCP (`a=rtcp-rsize`).
    pub reduced_size: bool,
    /// The media's bandwidth in octets per second, until measured.
    pub session_octets_per_s: f64,
    /// Seed of the report-interval randomisation.
    pub seed: u64,
    /// Send the first report at once rather than after RFC 3550's initial wait, as §6.2
    /// allows in unicast sessions: the sender's answer (its report) then tells the edges of
    /// the stream while the first packets can still be asked for.
    pub first_report_at_once: bool,
}

/// What the receiver session has learnt and done, for stats and metrics (a plain copy, so
/// the engine can publish it at every poll; the sender's CNAME is [`RtcpReceiver::sender_cname`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct RtcpReceiverStatus {
    /// Packets the sender says it sent (last SR).
    pub sender_packets: Option<u32>,
    /// Payload octets the sender says it sent (last SR).
    pub sender_octets: Option<u32>,
    /// Sender reports received.
    pub sender_reports: u64,
    /// Receiver reports sent.
    pub reports_sent: u64,
    /// The sender's media clock against wall-clock time from its SRs, ppm.
    pub sr_drift_ppm: Option<f64>,
    /// Round-trip time from NACK to retransmission, ms.
    pub rtt_ms: Option<f64>,
    /// RTX packets received.
    pub rtx_received: u64,
    /// RTX packets that could not be used (too short, before the source was known).
    pub rtx_unusable: u64,
    /// RTCP datagrams that did not parse.
    pub rtcp_malformed: u64,
    /// NACK recovery counters.
    pub nack: NackCounts,
    /// The locked source said BYE.
    pub bye_received: bool,
}

/// What to do with a datagram that is not RTCP.
#[derive(Debug, PartialEq, Eq)]
pub enum MediaKind {
    /// An ordinary media packet.
    Media,
    /// An RTX packet, rewritten as its original into [`RtcpReceiver::unwrapped`]; the
    /// original's header.
    Rtx(RtpHeader),
    /// An RTX packet that cannot be used (counted).
    UnusableRtx,
}

/// The receiver's RTCP session for one stream.
#[derive(Debug)]
pub struct RtcpReceiver {
    cfg: RtcpReceiverConfig,
    schedule: ReportSchedule,
    rng: ChaCha8Rng,
    reception: ReceptionStats,
    nack: Option<NackScheduler>,
    clock: SenderClock,
    /// The source reported on.
    media_ssrc: Option<u32>,
    /// Middle 32 bits of the last SR's NTP time and when it arrived.
    last_sr: Option<(u32, Duration)>,
    status: RtcpReceiverStatus,
    /// The sender's CNAME (SDES), once received.
    sender_cname: Option<String>,
    outbox: Vec<Vec<u8>>,
    outbox_len: usize,
    seqs: Vec<u16>,
    unwrapped: Vec<u8>,
    bye_sent: bool,
}

impl RtcpReceiver {
    /// A session starting at `now`.
    pub fn new(cfg: RtcpReceiverConfig, now: Duration) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut schedule = ReportSchedule::new(now, cfg.session_octets_per_s, rng.random());
        if cfg.first_report_at_once {
            schedule.bring_forward(now);
        }
        RtcpReceiver {
            nack: cfg.nack.clone().map(NackScheduler::new),
            clock: SenderClock::new(cfg.clock_rate),
            schedule,
            rng,
            reception: ReceptionStats::default(),
            media_ssrc: None,
            last_sr: None,
            status: RtcpReceiverStatus::default(),
            sender_cname: None,
            outbox: (0..OUTBOX_LIMIT).map(|_| vec![0; MAX_RTCP_LEN]).collect(),
            outbox_len: 0,
            seqs: Vec::with_capacity(256),
            unwrapped: Vec::with_capacity(2048),
            bye_sent: false,
            cfg,
        }
    }

    /// The status so far.
    pub fn status(&self) -> RtcpReceiverStatus {
        let mut s = self.status;
        s.sr_drift_ppm = self.clock.drift().map(|d| d * 1e6);
        if let Some(n) = &self.nack {
            s.nack = n.counts();
            s.rtt_ms = n.measured_rtt().map(|r| r.as_secs_f64() * 1e3);
        }
        s
    }

    /// The sender's canonical name (SDES CNAME), once received.
    pub fn sender_cname(&self) -> Option<&str> {
        self.sender_cname.as_deref()
    }

    /// Whether the locked source said BYE.
    pub fn bye_received(&self) -> bool {
        self.status.bye_received
    }

    /// Requested packets that arrived in time so far (cheap, for per-packet callers).
    pub fn recovered(&self) -> u64 {
        self.nack.as_ref().map_or(0, |n| n.counts().recovered)
    }

    /// The sender's clock drift from its reports (fraction, not ppm), when known.
    pub fn sr_drift(&self) -> Option<f64> {
        self.clock.drift()
    }

    /// Whether packets before the first or after the last one received are still being asked
    /// for: the stream must not end before they come or are given up.
    pub fn awaits_edges(&self) -> bool {
        self.nack.as_ref().is_some_and(NackScheduler::awaits_edges)
    }

    /// Whether the sender's latest report looks like its last, everything it counted having
    /// come (see [`NackScheduler::report_says_finished`]): the stream can end once drained,
    /// even if its BYE was lost.
    pub fn report_says_finished(&self) -> bool {
        self.nack
            .as_ref()
            .is_some_and(NackScheduler::report_says_finished)
    }

    /// Whether NACK recovery is on.
    pub fn recovers(&self) -> bool {
        self.nack.is_some()
    }

    /// Sorts a non-RTCP datagram: RTX packets are rewritten as their original (for the source
    /// `media_ssrc` the buffer is locked to, whose payload type is `media_pt`).
    ///
    /// The RTX payload type is the announced one (SDP `apt=`, `--rtx-pt`); without one it is
    /// learnt from the first packet that can only be a retransmission: another SSRC, a dynamic
    /// payload type other than the media's, and an original sequence number we asked for.
    pub fn classify(
        &mut self,
        header: &RtpHeader,
        datagram: &[u8],
        media_ssrc: Option<u32>,
        media_pt: Option<u8>,
    ) -> MediaKind {
        if self.cfg.rtx.is_none() {
            self.learn_rtx(header, datagram, media_ssrc, media_pt);
        }
        let Some((rtx_pt, apt)) = self.cfg.rtx else {
            return MediaKind::Media;
        };
        if header.payload_type != rtx_pt || Some(header.ssrc) == media_ssrc {
            return MediaKind::Media;
        }
        self.status.rtx_received += 1;
        let rewritten = media_ssrc.and_then(|ssrc| {
            super::rtx::unwrap_parsed(header, datagram, apt, ssrc, &mut self.unwrapped)
        });
        if let Some(original) = rewritten {
            MediaKind::Rtx(original)
        } else {
            self.status.rtx_unusable += 1;
            MediaKind::UnusableRtx
        }
    }

    fn learn_rtx(
        &mut self,
        header: &RtpHeader,
        datagram: &[u8],
        media_ssrc: Option<u32>,
        media_pt: Option<u8>,
    ) {
        let (Some(ssrc), Some(pt)) = (media_ssrc, media_pt) else {
            return;
        };
        let payload = header.payload(datagram);
        let candidate = header.ssrc != ssrc
            && header.payload_type != pt
            && header.payload_type >= 96
            && payload.len() >= 2;
        if candidate && self.was_requested(u16::from_be_bytes([payload[0], payload[1]])) {
            tracing::info!(
                pt = header.payload_type,
                "retransmissions (RTX) found on this payload type"
            );
            self.cfg.rtx = Some((header.payload_type, pt));
        }
    }

    /// Whether retransmissions come as RTX (announced, or learnt).
    pub fn uses_rtx(&self) -> bool {
        self.cfg.rtx.is_some()
    }

    /// The original packet the last [`MediaKind::Rtx`] datagram carried.
    pub fn unwrapped(&self) -> &[u8] {
        &self.unwrapped
    }

    /// Whether a packet with `seq` now would answer a NACK (a retransmission on the media SSRC).
    pub fn was_requested(&self, seq: u16) -> bool {
        self.nack.as_ref().is_some_and(|n| n.was_requested(seq))
    }

    /// Takes a media packet of the locked source `ssrc` (originals and retransmissions alike):
    /// `len` bytes at `arrival`, with the newest audio playing `time_to_play` later; `rtx` if it
    /// came as RTX; `in_time` if the jitter buffer took it to play.
    pub fn on_media(
        &mut self,
        header: &RtpHeader,
        len: usize,
        arrival: Duration,
        time_to_play: Duration,
        rtx: bool,
        in_time: bool,
    ) -> Option<Arrival> {
        // With RTX in use, a packet on the media SSRC is the original; without, either.
        let original = if rtx {
            Some(false)
        } else {
            self.cfg.rtx.map(|_| true)
        };
        if self.media_ssrc != Some(header.ssrc) {
            // A new source: its numbering, losses and clock start over.
            self.media_ssrc = Some(header.ssrc);
            self.reception.reset();
            self.clock = SenderClock::new(self.cfg.clock_rate);
            self.last_sr = None;
            if let Some(n) = self.nack.as_mut() {
                n.reset();
            }
        }
        self.reception.on_packet(header.sequence);
        let rate = self.cfg.clock_rate;
        let packet = ReceivedPacket {
            seq: header.sequence,
            ts: header.timestamp,
            len,
            arrival,
            original,
        };
        self.nack
            .as_mut()
            .map(|n| n.on_packet(packet, time_to_play, rate, in_time))
    }

    /// Counts a requested packet's fate in the jitter buffer.
    pub fn count_recovery(&mut self, in_time: bool) {
        if let Some(n) = self.nack.as_mut() {
            n.count_recovery(in_time);
        }
    }

    /// Takes an RTCP datagram that arrived at `arrival`; true if the locked source said BYE.
    pub fn on_rtcp(&mut self, datagram: &[u8], arrival: Duration) -> bool {
        self.schedule.count_packet(datagram.len());
        let media = self.media_ssrc;
        let mut bye = false;
        let status = &mut self.status;
        let cname = &mut self.sender_cname;
        let clock = &mut self.clock;
        let last_sr = &mut self.last_sr;
        let mut counted = None;
        let parsed = wire::parse(datagram, |event| match event {
            Event::SenderReport { ssrc, info } if Some(ssrc) == media => {
                status.sender_reports += 1;
                status.sender_packets = Some(info.packets);
                status.sender_octets = Some(info.octets);
                clock.on_report(info.ntp, info.rtp_timestamp);
                *last_sr = Some((info.ntp.middle32(), arrival));
                counted = Some((info.packets, info.rtp_timestamp));
            }
            Event::Cname { ssrc, name }
                if Some(ssrc) == media && cname.as_deref().map(str::as_bytes) != Some(name) =>
            {
                *cname = Some(String::from_utf8_lossy(name).into_owned());
            }
            Event::Bye { ssrc } if Some(ssrc) == media => bye = true,
            _ => {}
        });
        if parsed.is_err() {
            self.status.rtcp_malformed += 1;
        }
        if let (Some((packets, rtp_ts)), Some(n)) = (counted, self.nack.as_mut()) {
            n.on_sender_report(packets, rtp_ts, arrival);
        }
        if bye {
            self.status.bye_received = true;
        }
        bye
    }

    /// When [`RtcpReceiver::poll`] has something to do next.
    pub fn next_due(&self) -> Duration {
        let report = self.schedule.next_due();
        match self.nack.as_ref().and_then(NackScheduler::next_due) {
            Some(n) => n.min(report),
            None => report,
        }
    }

    /// Runs the session at `now` with the stream's interarrival `jitter`, while the newest
    /// audio plays `time_to_play` later: NACKs that are due (a tail the sender's report counted
    /// among them) and a receiver report when its time has come go to the outbox.
    pub fn poll(&mut self, now: Duration, jitter: Duration, time_to_play: Duration) {
        if self.bye_sent {
            return;
        }
        let (rate, ended) = (self.cfg.clock_rate, self.status.bye_received);
        if let Some(n) = self.nack.as_mut() {
            n.ask_for_tail(now, time_to_play, rate, ended);
            // Reordering shows up as jitter: wait out about twice it before asking.
            let wait = (jitter * 2).clamp(Duration::from_millis(5), Duration::from_millis(100));
            n.set_reorder_wait(wait);
            let mut seqs = std::mem::take(&mut self.seqs);
            n.poll(now, &mut seqs);
            if !seqs.is_empty() {
                let with_report = !self.cfg.reduced_size;
                if let Some(len) = self.write(now, jitter, Some(&seqs), None, with_report) {
                    if let Some(n) = self.nack.as_mut() {
                        n.count_sent_bytes(len);
                    }
                }
            }
            self.seqs = seqs;
        }
        if now >= self.schedule.next_due() {
            let random = self.rng.random();
            self.write(now, jitter, None, None, true);
            self.schedule.sent(now, 1, false, random);
        }
    }

    /// Puts the final report with BYE in the outbox (once).
    pub fn bye(&mut self, now: Duration, jitter: Duration) {
        if !self.bye_sent {
            self.write(now, jitter, None, Some(""), true);
            self.bye_sent = true;
        }
    }

    /// Writes one datagram into the outbox; its length, or `None` if the outbox is full.
    fn write(
        &mut self,
        now: Duration,
        jitter: Duration,
        nack: Option<&[u16]>,
        bye: Option<&str>,
        with_report: bool,
    ) -> Option<usize> {
        if self.outbox_len == OUTBOX_LIMIT {
            return None;
        }
        let block = with_report.then(|| self.block(now, jitter)).flatten();
        let out = Outgoing {
            ssrc: self.cfg.ssrc,
            sender: None,
            block,
            cname: with_report.then_some(self.cfg.cname.as_str()),
            nack: nack
                .zip(self.media_ssrc)
                .map(|(seqs, media_ssrc)| NackRequest { media_ssrc, seqs }),
            bye,
            reduced_size: !with_report,
        };
        let buf = &mut self.outbox[self.outbox_len];
        buf.resize(MAX_RTCP_LEN, 0);
        match out.write(buf) {
            Ok(len) => {
                buf.truncate(len);
                self.outbox_len += 1;
                self.schedule.count_packet(len);
                if with_report {
                    self.status.reports_sent += 1;
                }
                Some(len)
            }
            Err(e) => {
                tracing::debug!(error = %e, "RTCP report not written");
                None
            }
        }
    }

    /// The report block about the source, if one is known.
    fn block(&mut self, now: Duration, jitter: Duration) -> Option<ReceptionBlock> {
        let ssrc = self.media_ssrc?;
        let loss = self.reception.report()?;
        let (lsr, dlsr) = self.last_sr.map_or((0, 0), |(lsr, at)| {
            (lsr, ntp::to_short(now.saturating_sub(at)))
        });
        let ticks = jitter.as_secs_f64() * f64::from(self.cfg.clock_rate);
        Some(ReceptionBlock {
            ssrc,
            fraction_lost: loss.fraction_lost,
            cumulative_lost: loss
                .cumulative_lost
                .clamp(i64::from(i32::MIN), i64::from(i32::MAX))
                as i32,
            extended_highest_seq: loss.extended_highest_seq as u32,
            jitter: ticks.min(f64::from(u32::MAX)) as u32,
            lsr,
            dlsr,
        })
    }

    /// The `i`th datagram waiting to go out, if any.
    pub fn outgoing(&self, i: usize) -> Option<&[u8]> {
        self.outbox[..self.outbox_len].get(i).map(Vec::as_slice)
    }

    /// Forgets the datagrams waiting to go out (they were sent).
    pub fn clear_outbox(&mut self) {
        self.outbox_len = 0;
    }

    /// Hands each waiting datagram to `send`, emptying the outbox.
    pub fn drain_outbox(&mut self, mut send: impl FnMut(&[u8])) {
        for buf in &self.outbox[..self.outbox_len] {
            send(buf);
        }
        self.outbox_len = 0;
    }
}

#[cfg(test)]
#[path = "receiver_tests.rs"]
mod tests;
