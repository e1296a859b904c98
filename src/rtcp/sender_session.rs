//! The sender's RTCP session (sans-IO): sender reports with SDES CNAME at the RFC 3550 interval,
//! NACKs answered from the [`SentHistory`] (RFC 4588 RTX or plain retransmission), what the
//! receiver reports (loss, jitter, RTT from LSR/DLSR), and the closing BYE.
//!
//! Time is an argument: `now` is the driver's monotonic clock (the same one it passes to
//! [`RtcpSenderSession::on_rtp_sent`]), `wallclock` the NTP time of the same instant. The driver
//! sends what [`RtcpSenderSession::poll_transmit`] writes and comes back at
//! [`RtcpSenderSession::next_timer`]; `send` and the simulator both drive it this way.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::interval::ReportSchedule;
use super::ntp::{round_trip, NtpTime};
use super::retransmit::Retransmitter;
pub use super::retransmit::RtxConfig;
pub use super::sender_counts::SenderRtcpCounts;
use super::wire::{self, Event, Outgoing, ReceptionBlock, SenderInfo, MAX_RTCP_LEN};
use crate::rtp::header::RtpHeader;

/// SDES items carry at most 255 bytes.
const MAX_CNAME: usize = 255;

/// How the sender's session is set up.
#[derive(Debug, Clone)]
pub struct SenderSessionConfig {
    /// The media SSRC.
    pub ssrc: u32,
    /// Our canonical name (SDES CNAME), at most 255 bytes are sent.
    pub cname: String,
    /// The media's RTP clock rate (Hz).
    pub clock_rate: u32,
    /// Retransmit as RTX on this payload type and SSRC; `None` resends the packet as it was.
    pub rtx: Option<RtxConfig>,
    /// How long sent packets are kept for retransmission; zero keeps none (NACKs unanswered).
    pub history: Duration,
    /// Reduced-size RTCP was negotiated (`a=rtcp-rsize`); reports stay compound anyway.
    pub reduced_size: bool,
    /// The media stream's rate in octets per second (the RTCP and retransmission budgets).
    pub session_octets_per_s: f64,
    /// Seed of the report-interval randomisation and the first RTX sequence number.
    pub seed: u64,
}

impl Default for SenderSessionConfig {
    /// SSRC 0, CNAME `jitterplay`, 48 kHz, plain retransmission, 5 s history, 192 kB/s.
    fn default() -> Self {
        SenderSessionConfig {
            ssrc: 0,
            cname: "jitterplay".to_owned(),
            clock_rate: 48_000,
            rtx: None,
            history: Duration::from_secs(5),
            reduced_size: false,
            session_octets_per_s: 192_000.0,
            seed: 0,
        }
    }
}

/// What [`RtcpSenderSession::poll_transmit`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transmit {
    /// A retransmission: send it where RTP goes.
    Rtp,
    /// A report: send it where RTCP goes.
    Rtcp,
}

/// What the receiver last reported about our stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReceiverView {
    /// The reporter's SSRC.
    pub reporter: u32,
    /// Fraction lost since its previous report (0..=1).
    pub fraction_lost: f64,
    /// Packets lost since the start (negative with duplicates).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_highest_seq: u32,
    /// Interarrival jitter in milliseconds.
    pub jitter_ms: f64,
    /// Round-trip time from the latest block with an LSR, if any had one.
    pub rtt: Option<Duration>,
    /// Report blocks about our stream seen so far.
    pub reports: u64,
}

/// The sender side of an RTP session's RTCP; see the module docs.
#[derive(Debug)]
pub struct RtcpSenderSession {
    cfg: SenderSessionConfig,
    retransmitter: Retransmitter,
    schedule: ReportSchedule,
    rng: ChaCha8Rng,
    packets: u32,
    octets: u32,
    /// RTP timestamp and send time of the latest packet (the SR's clock mapping).
    last_sent: Option<(u32, Duration)>,
    view: Option<ReceiverView>,
    srtt: Option<Duration>,
    counts: SenderRtcpCounts,
    /// Receivers whose reports were seen (a few; more are not remembered).
    reporters: Vec<u32>,
}

/// Most receivers remembered, to answer each new one with an early report.
const MAX_REPORTERS: usize = 16;

impl RtcpSenderSession {
    /// A session starting at `now`; the first report is due after RFC 3550's initial interval.
    pub fn new(mut cfg: SenderSessionConfig, now: Duration) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        if let Some(rtx) = cfg.rtx.as_mut() {
            if rtx.ssrc == cfg.ssrc {
                // One SSRC for both would make the RTX packets look like the media stream.
                rtx.ssrc = cfg.ssrc ^ 0x5a5a_5a5a;
                tracing::warn!(ssrc = rtx.ssrc, "RTX SSRC equal to the media SSRC; changed");
            }
            rtx.pt &= 0x7f;
        }
        if cfg.cname.len() > MAX_CNAME {
            let mut end = MAX_CNAME;
            while !cfg.cname.is_char_boundary(end) {
                end -= 1;
            }
            cfg.cname.truncate(end);
        }
        let rate = cfg.session_octets_per_s.max(1.0);
        let schedule = ReportSchedule::new(now, rate, rng.random());
        let retransmitter = Retransmitter::new(cfg.history, cfg.rtx, rng.random(), rate, now);
        RtcpSenderSession {
            retransmitter,
            schedule,
            rng,
            packets: 0,
            octets: 0,
            last_sent: None,
            view: None,
            srtt: None,
            counts: SenderRtcpCounts::default(),
            reporters: Vec::new(),
            cfg,
        }
    }

    /// Every RTP packet as it is sent (original, not retransmissions): history + SR counts.
    pub fn on_rtp_sent(&mut self, packet: &[u8], now: Duration) {
        let Ok(h) = RtpHeader::parse(packet) else {
            self.counts.not_rtp += 1;
            return;
        };
        // SR counters are modular 32-bit fields.
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(h.payload_len as u32);
        self.last_sent = Some((h.timestamp, now));
        self.retransmitter.record(h.sequence, packet, now);
    }

    /// An RTCP datagram from the receiver: NACKs queue retransmissions; report blocks update
    /// the receiver view (loss, jitter, RTT from LSR/DLSR).
    pub fn on_rtcp(&mut self, datagram: &[u8], now: Duration, wallclock: NtpTime) {
        self.counts.rtcp_received += 1;
        self.schedule.count_packet(datagram.len());
        if wire::parse(datagram, |e| self.on_event(e, now, wallclock)).is_err() {
            self.counts.malformed += 1;
        }
    }

    /// Next datagram to send now, if any: a retransmission (RTX-wrapped or plain, per config)
    /// or a report (SR + SDES CNAME) when due. Writes into `out`.
    pub fn poll_transmit(
        &mut self,
        now: Duration,
        wallclock: NtpTime,
        out: &mut Vec<u8>,
    ) -> Option<Transmit> {
        if self
            .retransmitter
            .poll(now, self.srtt, out, &mut self.counts)
        {
            return Some(Transmit::Rtp);
        }
        if now < self.schedule.next_due() {
            return None;
        }
        let written = self.write_report(now, wallclock, None, out);
        let we_sent = self.packets > 0;
        let random = self.rng.random();
        self.schedule.sent(now, 1, we_sent, random);
        written.then_some(Transmit::Rtcp)
    }

    /// Makes a report due at `now` (the media ended: its count is final).
    pub fn report_now(&mut self, now: Duration) {
        self.schedule.bring_forward(now);
    }

    /// When to call poll_transmit next.
    pub fn next_timer(&self) -> Duration {
        let report = self.schedule.next_due();
        // A waiting NACK is due at once (at its arrival time, which has passed).
        self.retransmitter
            .waiting_since()
            .map_or(report, |at| at.min(report))
    }

    /// The final SR + SDES + BYE.
    pub fn bye(&mut self, now: Duration, wallclock: NtpTime, out: &mut Vec<u8>) {
        if !self.write_report(now, wallclock, Some(""), out) {
            out.clear();
        }
    }

    /// What the receiver reports about our stream, once it has.
    pub fn receiver_view(&self) -> Option<ReceiverView> {
        self.view
    }

    /// What the session did so far.
    pub fn counts(&self) -> SenderRtcpCounts {
        self.counts
    }

    /// The smoothed round-trip time, once a report carried one.
    pub fn smoothed_rtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// Packets held for retransmission now.
    pub fn history_len(&self) -> usize {
        self.retransmitter.history_len()
    }

    /// The RTP timestamp of instant `now` on the stream's clock: the latest packet's timestamp
    /// moved on at the nominal rate (what an SR says); `None` before the first packet.
    pub fn rtp_time_at(&self, now: Duration) -> Option<u32> {
        let (ts, at) = self.last_sent?;
        let rate = i128::from(self.cfg.clock_rate);
        let dt = now.as_nanos() as i128 - at.as_nanos() as i128;
        // Modular arithmetic on purpose: RTP timestamps wrap.
        Some(ts.wrapping_add((dt * rate / 1_000_000_000) as i64 as u32))
    }

    /// Updates the media rate (once measured): the report interval and retransmission budget.
    pub fn set_session_rate(&mut self, octets_per_s: f64, now: Duration) {
        let rate = octets_per_s.max(1.0);
        self.cfg.session_octets_per_s = rate;
        self.schedule.set_session_rate(rate);
        self.retransmitter.set_session_rate(rate, now);
    }

    fn on_event(&mut self, event: Event<'_>, now: Duration, wallclock: NtpTime) {
        match event {
            Event::Nack {
                media_ssrc, seq, ..
            } if media_ssrc == self.cfg.ssrc => {
                self.counts.nacks_received += 1;
                self.retransmitter.queue(seq, now, &mut self.counts);
            }
            Event::Nack { .. } => self.counts.foreign_nacks += 1,
            Event::Reception { reporter, block } if block.ssrc == self.cfg.ssrc => {
                if !self.reporters.contains(&reporter) && self.reporters.len() < MAX_REPORTERS {
                    // A receiver that just joined learns from our report how many packets it
                    // missed before its first, while it can still ask for them.
                    self.reporters.push(reporter);
                    if self.packets > 0 {
                        self.schedule.bring_forward(now);
                    }
                }
                self.on_report_block(reporter, block, wallclock);
            }
            Event::Reception { .. } => self.counts.foreign_reports += 1,
            Event::Bye { ssrc } if ssrc != self.cfg.ssrc => self.counts.receiver_byes += 1,
            _ => {}
        }
    }

    fn on_report_block(&mut self, reporter: u32, block: ReceptionBlock, wallclock: NtpTime) {
        let rtt = round_trip(wallclock, block.lsr, block.dlsr);
        if let Some(sample) = rtt {
            // RFC 6298-style smoothing: one late report does not swing the repeat window.
            self.srtt = Some(match self.srtt {
                Some(s) => (s * 7 + sample) / 8,
                None => sample,
            });
        }
        let reports = self.view.map_or(0, |v| v.reports) + 1;
        let previous_rtt = self.view.and_then(|v| v.rtt);
        self.view = Some(ReceiverView {
            reporter,
            fraction_lost: f64::from(block.fraction_lost) / 256.0,
            cumulative_lost: block.cumulative_lost,
            extended_highest_seq: block.extended_highest_seq,
            jitter_ms: f64::from(block.jitter) * 1000.0 / f64::from(self.cfg.clock_rate.max(1)),
            rtt: rtt.or(previous_rtt),
            reports,
        });
    }

    /// Writes SR (RR before the first packet) + SDES, and BYE if `bye` is given, into `out`.
    fn write_report(
        &mut self,
        now: Duration,
        wallclock: NtpTime,
        bye: Option<&str>,
        out: &mut Vec<u8>,
    ) -> bool {
        let sender = self.rtp_time_at(now).map(|rtp_timestamp| SenderInfo {
            ntp: wallclock,
            rtp_timestamp,
            packets: self.packets,
            octets: self.octets,
        });
        let report = Outgoing {
            ssrc: self.cfg.ssrc,
            sender,
            block: None,
            cname: Some(&self.cfg.cname),
            nack: None,
            bye,
            reduced_size: false,
        };
        out.clear();
        out.resize(MAX_RTCP_LEN, 0);
        match report.write(out) {
            Ok(n) => {
                out.truncate(n);
                self.schedule.count_packet(n);
                self.counts.reports_sent += 1;
                true
            }
            Err(error) => {
                out.clear();
                self.counts.write_errors += 1;
                tracing::debug!(%error, "cannot write the sender report");
                false
            }
        }
    }
}

#[cfg(test)]
#[path = "sender_session_tests.rs"]
mod tests;
