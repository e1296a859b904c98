//! One monitored stream: the same per-packet statistics `streams` computes for a capture
//! (ours and Wireshark's), the settled loss record, the payload-free player model, the level
//! meter and what the far end's RTCP says, turned into a report row (sans-IO).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::counts::StreamCounts;
use super::emodel::{self, EModelInput, Score};
use super::level::{LevelFigures, LevelMeter};
use super::loss::{BurstHistogram, LossRecord};
use super::playout_account::{PlayoutAccount, PlayoutFigures};
use super::MonitorConfig;
use crate::capture::stats::{StatsBuilder, StreamStats};
use crate::capture::types::{PayloadRole, PayloadUse};
use crate::capture::wireshark::{WiresharkBuilder, WiresharkFigures};
use crate::rtcp::wire::{ReceptionBlock, SenderInfo};
use crate::rtp::header::RtpHeader;

/// What a packet of the main payload type gives the level meter.
#[derive(Debug, Clone, Copy)]
pub enum LevelInput<'a> {
    /// The payload, to decode.
    Payload(&'a [u8]),
    /// Its G.711 samples' sum of squares and their number, taken already (see
    /// [`level::g711_squares`](super::level::g711_squares)).
    Energy {
        /// Sum of the squared samples.
        energy: f64,
        /// Samples.
        samples: usize,
    },
    /// Nothing (not the main payload type).
    None,
}

/// Whether payload type `p` can be a stream's main one (the first such named is): audio, or
/// something nothing names.
pub fn can_be_main(p: &PayloadUse) -> bool {
    matches!(
        p.role,
        PayloadRole::Audio | PayloadRole::UnsupportedAudio | PayloadRole::Unknown
    )
}

/// What identifies a stream: sender, receiver, SSRC.
pub type StreamKey = (Option<SocketAddr>, Option<SocketAddr>, u32);

/// What the far end said about the stream in RTCP, kept apart from what we measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct FarEnd {
    /// Receiver report blocks about the stream.
    pub reports: u64,
    /// The last block's fraction lost (0–1).
    pub fraction_lost: Option<f64>,
    /// The last block's cumulative loss.
    pub cumulative_lost: Option<i64>,
    /// The last block's jitter, ms.
    pub jitter_ms: Option<f64>,
    /// Round trip from the last block that answered a sender report we saw, ms.
    pub rtt_ms: Option<f64>,
    /// Sender reports from the stream's own source.
    pub sender_reports: u64,
    /// Packets the sender's last report says it sent.
    pub sender_packets: Option<u32>,
}

/// One stream's report: who it is, its figures, and everything behind them.
#[derive(Debug, Clone, Serialize)]
pub struct StreamRow {
    /// The monitor's number for it (stable while it lives).
    pub id: u64,
    /// Sender.
    pub src: Option<SocketAddr>,
    /// Receiver.
    pub dst: Option<SocketAddr>,
    /// SSRC, as Wireshark prints it.
    pub ssrc: String,
    /// The main payload type.
    pub pt: Option<u8>,
    /// Its name (`PCMU/8000`, `opus/48000/2`, `dynamic 96`).
    pub codec: String,
    /// The SIP call it belongs to, when its SDP was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// Seconds since the monitor started, of its first and last packet.
    pub first_s: f64,
    /// See `first_s`.
    pub last_s: f64,
    /// The headline figures (the same values Prometheus gets).
    #[serde(flatten)]
    pub counts: StreamCounts,
    /// Loss bursts by length.
    pub loss_bursts: BurstHistogram,
    /// G.107 BurstR of the network's loss (1: random).
    pub burst_ratio: f64,
    /// The E-model's score (None for a codec it has no figures for).
    pub score: Option<Score>,
    /// The modelled player.
    pub playout: Option<PlayoutFigures>,
    /// What the far end reported.
    pub far_end: FarEnd,
    /// Level, silence and loudness.
    pub level: Option<LevelFigures>,
    /// The statistics `streams` reports for the same packets.
    pub stats: StreamStats,
    /// Wireshark's RTP Streams figures for the same packets.
    pub wireshark: WiresharkFigures,
}

/// A stream being watched.
#[derive(Debug)]
pub struct MonitoredStream {
    /// The monitor's number for it.
    pub id: u64,
    /// Sender, receiver, SSRC.
    pub key: StreamKey,
    /// The socket (input) it arrives on.
    pub socket: usize,
    /// Its payload types, named on first use.
    pub payloads: Vec<PayloadUse>,
    /// The main (audio) payload type, once one came.
    main: Option<usize>,
    /// The SIP call, when known.
    pub call_id: Option<Arc<str>>,
    stats: StatsBuilder,
    wireshark: WiresharkBuilder,
    loss: LossRecord,
    playout: Option<PlayoutAccount>,
    level: Option<LevelMeter>,
    far_end: FarEnd,
    /// The middle 32 bits of the NTP time of our source's last sender report, and when it came.
    last_sr: Option<(u32, Duration)>,
    first_at: Duration,
    /// When the last packet came.
    pub last_at: Duration,
}

impl MonitoredStream {
    /// A stream whose first packet came at `at`.
    pub fn new(id: u64, key: StreamKey, socket: usize, at: Duration) -> Self {
        MonitoredStream {
            id,
            key,
            socket,
            payloads: Vec::new(),
            main: None,
            call_id: None,
            // The clock is set once the main payload type is known (see `set_main`).
            stats: StatsBuilder::new(None),
            wireshark: WiresharkBuilder::new(),
            loss: LossRecord::new(),
            playout: None,
            level: None,
            far_end: FarEnd::default(),
            last_sr: None,
            first_at: at,
            last_at: at,
        }
    }

    /// The index in `payloads` of `pt`, if named already.
    pub fn payload_index(&self, pt: u8) -> Option<usize> {
        self.payloads.iter().position(|p| p.pt == pt)
    }

    /// Adds a newly named payload type; the first audio one becomes the main one, which times
    /// the stream, feeds the player model and the level meter.
    pub fn add_payload(&mut self, p: PayloadUse, cfg: &MonitorConfig) {
        let audio = can_be_main(&p);
        self.payloads.push(p);
        if audio && self.main.is_none() {
            let p = self.payloads.last().expect("just pushed");
            self.main = Some(self.payloads.len() - 1);
            if self.stats.finish().packets == 0 {
                self.stats = StatsBuilder::new(p.timing_clock());
            }
            if let Some(clock) = p.timing_clock() {
                self.playout = Some(PlayoutAccount::new(
                    cfg.jitter.clone(),
                    cfg.controller.clone(),
                    clock,
                ));
            }
            if cfg.level_enabled {
                self.level = p.format.and_then(|f| LevelMeter::new(f, cfg.level));
            }
        }
    }

    /// Takes one RTP packet (`header`) that arrived at `now` (the payload type is already
    /// named); `level` is what its payload gives the level meter. `credit`: packets the
    /// stream's socket dropped just before this one; what its gap accounts for is taken off.
    /// `scratch` holds decoded samples.
    pub fn on_rtp(
        &mut self,
        now: Duration,
        header: &RtpHeader,
        level: LevelInput<'_>,
        credit: &mut u64,
        scratch: &mut Vec<f32>,
    ) {
        self.last_at = now;
        let Some(i) = self.payload_index(header.payload_type) else {
            return;
        };
        self.payloads[i].packets += 1;
        let main = self.main == Some(i);
        let prev_highest = self.stats.seen().highest();
        let note = self.stats.add(now, header.sequence, header.timestamp, main);
        self.wireshark.add(
            now,
            header.sequence,
            header.timestamp,
            header.payload_type,
            header.marker,
            self.payloads[i].timing_clock(),
        );
        let new = !matches!(note.seq, crate::capture::stats::SeqStatus::Duplicate);
        self.loss
            .on_packet(note.ext_seq, prev_highest, credit, self.stats.seen(), new);
        if main {
            if let Some(p) = self.playout.as_mut() {
                p.on_packet(header, now);
            }
            if let Some(l) = self.level.as_mut() {
                match level {
                    LevelInput::Payload(payload) => l.on_payload(now, payload, scratch),
                    LevelInput::Energy { energy, samples } => l.on_energy(now, energy, samples),
                    LevelInput::None => {}
                }
            }
        }
    }

    /// A sender report from the stream's source, arriving at `now`.
    pub fn on_sender_report(&mut self, now: Duration, info: &SenderInfo) {
        self.far_end.sender_reports += 1;
        self.far_end.sender_packets = Some(info.packets);
        self.last_sr = Some((info.ntp.middle32(), now));
    }

    /// A report block about the stream, arriving at `now`.
    pub fn on_reception_report(&mut self, now: Duration, block: &ReceptionBlock) {
        let f = &mut self.far_end;
        f.reports += 1;
        f.fraction_lost = Some(f64::from(block.fraction_lost) / 256.0);
        f.cumulative_lost = Some(i64::from(block.cumulative_lost));
        let clock = self.main.and_then(|i| self.payloads[i].timing_clock());
        f.jitter_ms = clock.map(|c| f64::from(block.jitter) / f64::from(c) * 1e3);
        let answered = self
            .last_sr
            .filter(|(m, _)| block.lsr != 0 && *m == block.lsr);
        if let Some((_, at)) = answered {
            let held = crate::rtcp::ntp::from_short(block.dlsr);
            if let Some(rtt) = now.checked_sub(at).and_then(|d| d.checked_sub(held)) {
                f.rtt_ms = Some(rtt.as_secs_f64() * 1e3);
            }
        }
    }

    /// Plays the model out to `now` (the output keeps running between packets).
    pub fn advance(&mut self, now: Duration) {
        if let Some(p) = self.playout.as_mut() {
            p.advance(now);
        }
    }

    /// Takes up to `budget` of the monitor's capture drops against this stream's unsettled gaps;
    /// returns how many it took.
    pub fn credit_recent(&mut self, budget: u64) -> u64 {
        self.loss.credit_recent(budget, self.stats.seen())
    }

    /// Settles the whole loss record: the stream ended.
    pub fn settle(&mut self) {
        self.loss.settle_all(self.stats.seen());
    }

    /// The stream's row as of `now` (`origin`: the monitor's start, for the times).
    pub fn row(&mut self, now: Duration, cfg: &MonitorConfig) -> StreamRow {
        let stats = self.stats.finish();
        let wireshark = self.wireshark.finish();
        let playout = self.playout.as_ref().map(PlayoutAccount::figures);
        let level = self.level.as_mut().map(|l| l.report(now));
        let main = self.main.map(|i| &self.payloads[i]);
        let t = &self.loss.transitions;
        let burst_ratio = emodel::burst_ratio(
            t.received_after_received,
            t.lost_after_received,
            t.received_after_lost,
            t.lost_after_lost,
        );
        // What a listener misses: the network's loss, less what the monitor dropped, plus
        // what came too late for the configured buffer.
        let network_lost = stats.lost.saturating_sub(self.loss.monitor_dropped);
        let late = playout.map_or(0, |p| p.late);
        let expected = stats.expected.max(1);
        let loss_percent = (network_lost + late) as f64 / expected as f64 * 100.0;
        let packet_ms = self.packet_ms();
        let one_way_ms = self
            .far_end
            .rtt_ms
            .map_or(cfg.assumed_delay.as_secs_f64() * 1e3, |r| r / 2.0);
        let jitter_ms = stats.jitter_ms.unwrap_or(0.0);
        let score = main.and_then(|m| {
            let name = m.name.split('/').next().unwrap_or(&m.name);
            let codec = emodel::codec_impairment(name, m.clock_rate.unwrap_or(8000))?;
            Some(emodel::score(&EModelInput {
                codec,
                loss_percent,
                burst_ratio,
                // A conversational adaptive buffer holds about twice the jitter.
                mouth_to_ear_ms: one_way_ms + packet_ms + 2.0 * jitter_ms,
            }))
        });
        let level_or = |f: fn(&LevelFigures) -> Option<f64>| level.as_ref().and_then(f);
        let counts = StreamCounts {
            packets: stats.packets,
            expected: stats.expected,
            lost: network_lost,
            monitor_dropped: self.loss.monitor_dropped,
            duplicated: stats.duplicated,
            out_of_order: stats.out_of_order,
            late,
            lost_after_buffer: playout.map_or(network_lost, |p| p.lost),
            underruns: playout.map_or(0, |p| p.underruns),
            silences: level.as_ref().map_or(0, |l| l.silences),
            jitter_ms,
            max_delta_ms: stats.max_delta_ms,
            target_ms: playout.map_or(0.0, |p| p.target_ms),
            far_loss_fraction: self.far_end.fraction_lost,
            far_jitter_ms: self.far_end.jitter_ms,
            rtt_ms: self.far_end.rtt_ms,
            r_factor: score.map(|s| s.r),
            mos: score.map(|s| s.mos),
            level_dbfs: level_or(|l| l.level_dbfs),
            silent: if level.as_ref().is_some_and(|l| l.silent) {
                1.0
            } else {
                0.0
            },
            momentary_lufs: level_or(|l| l.momentary_lufs),
            short_term_lufs: level_or(|l| l.short_term_lufs),
        };
        StreamRow {
            id: self.id,
            src: self.key.0,
            dst: self.key.1,
            ssrc: format!("0x{:08X}", self.key.2),
            pt: main.map(|m| m.pt),
            codec: main.map_or_else(|| "-".to_owned(), |m| m.name.clone()),
            call_id: self.call_id.as_deref().map(str::to_owned),
            first_s: self.first_at.as_secs_f64(),
            last_s: self.last_at.as_secs_f64(),
            counts,
            loss_bursts: self.loss.bursts,
            burst_ratio,
            score,
            playout,
            far_end: self.far_end,
            level,
            stats,
            wireshark,
        }
    }

    /// The main payload's packet duration, ms (20 when not known yet).
    fn packet_ms(&self) -> f64 {
        self.playout
            .as_ref()
            .and_then(PlayoutAccount::packet_duration)
            .map_or(20.0, |d| d.as_secs_f64() * 1e3)
    }
}
