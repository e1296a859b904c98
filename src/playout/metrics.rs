//! Counters and gauges the core updates and every view (status line, JSON, reports) reads.
//!
//! One struct of atomics, written with `Relaxed` stores and read without locks: each value is
//! independent, and a view that sees one counter a packet ahead of another is harmless. The
//! core's components keep their own plain counters ([`JitterStats`], [`PlayoutStatus`]) and the
//! thread that owns them publishes absolute values here; events that happen in the shell (parse
//! failures, unexpected payload types, output underruns, concealment in the decoder) are added
//! directly. Each dropped packet is counted once, under one reason: no counter here includes
//! another (the network task's drops, such as datagrams from foreign addresses, are its own).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::receive_counts::{ReceiveCells, ReceiveCounts};
use super::recovery_metrics::{RecoveryMetrics, RecoverySnapshot};
use super::PlayoutStatus;
use crate::counters::{counter_table, Kind::*, Series};
use crate::jitter::JitterStats;

/// `Metrics::ssrc` before the jitter buffer has locked onto a source (not a valid SSRC).
const NO_SSRC: u64 = u64::MAX;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

counter_table! {
    /// The stream's cells, one per field of [`MetricsSnapshot`].
    cells StreamCells;
    /// A plain copy of every metric at one moment, ready to print or serialise.
    snapshot MetricsSnapshot {
        /// Packets handed to the jitter buffer.
        received: u64 = Count => Series::new(Counter, "packets_received", "Packets handed to the jitter buffer"),
        /// Packets played.
        played: u64 = Count => Series::new(Counter, "packets_played", "Packets played"),
        /// Packets lost (their turn passed without them).
        lost: u64 = Count => Series::new(Counter, "packets_lost", "Packets whose turn passed without them"),
        /// Packets that arrived after their turn.
        late: u64 = Count => Series::drop("late"),
        /// Duplicate packets.
        duplicate: u64 = Count => Series::drop("duplicate"),
        /// Packets that arrived out of order but in time.
        reordered: u64 = Count => Series::new(Counter, "packets_reordered", "Packets that arrived out of order but in time"),
        /// Packets evicted by the overflow policy.
        overflow: u64 = Count => Series::drop("overflow"),
        /// Datagrams that are not valid RTP.
        malformed: u64 = Count => Series::drop("malformed"),
        /// Packets of a payload type the stream does not carry.
        unexpected_pt: u64 = Count => Series::drop("unexpected_pt"),
        /// Packets the jitter buffer refused as too large.
        too_large: u64 = Count => Series::drop("too_large"),
        /// Sequence or timestamp jumps that no following packet confirmed (dropped).
        stray: u64 = Count => Series::drop("stray"),
        /// Packets of another SSRC from the accepted sender that never became the stream.
        foreign_ssrc: u64 = Count => Series::drop("foreign_ssrc"),
        /// Milliseconds of audio concealed.
        concealed_ms: f64 = Micros => Series::new(SecondsCounter, "concealed", "Audio concealed"),
        /// Lost packets decoded from the next packet's in-band FEC (Opus).
        fec_recovered: u64 = Count => Series::new(Counter, "fec_recovered", "Lost packets decoded from the next packet's in-band FEC (Opus)"),
        /// Milliseconds of audio made by the codec's own packet loss concealment (Opus PLC, also
        /// across DTX pauses).
        plc_ms: f64 = Micros => Series::new(SecondsCounter, "plc", "Audio made by the codec's packet loss concealment (Opus PLC)"),
        /// RFC 4733 DTMF events played (as tones, or as silence with `--dtmf silence`).
        dtmf_events: u64 = Count => Series::new(Counter, "dtmf_events", "RFC 4733 DTMF events played (as tones, or silence with --dtmf silence)"),
        /// Milliseconds of audio those events took.
        dtmf_ms: f64 = Micros => Series::new(SecondsCounter, "dtmf", "Audio taken by DTMF events"),
        /// Milliseconds of RFC 3389 comfort noise synthesised.
        cn_ms: f64 = Micros => Series::new(SecondsCounter, "comfort_noise", "RFC 3389 comfort noise synthesised"),
        /// Of which: replicated pitch periods (including their attenuation).
        concealed_pitch_ms: f64 = Micros => Series::new(SecondsCounter, "concealed_pitch", "Audio concealed by replicating pitch periods"),
        /// Of which: a faded repeat (audio without a pitch).
        concealed_fade_ms: f64 = Micros => Series::new(SecondsCounter, "concealed_fade", "Audio concealed by a faded repeat (no pitch found)"),
        /// Of which: comfort noise or silence after the fade.
        concealed_noise_ms: f64 = Micros => Series::new(SecondsCounter, "concealed_noise", "Audio concealed by comfort noise or silence after the fade"),
        /// Milliseconds added or removed by pitch-preserving time-stretch (level moves).
        stretched_ms: f64 = Micros => Series::new(SecondsCounter, "stretched", "Audio added or removed by time-stretch"),
        /// Milliseconds of silence (pauses, silent audio) added or removed (level moves).
        silence_adjusted_ms: f64 = Micros => Series::new(SecondsCounter, "silence_adjusted", "Silence added or removed"),
        /// Milliseconds of queued audio dropped because the buffer overflowed.
        dropped_ms: f64 = Micros => Series::new(SecondsCounter, "overflow_dropped", "Queued audio dropped because the buffer overflowed"),
        /// Times the output ran dry.
        underruns: u64 = Count => Series::new(Counter, "underruns", "Times the output ran dry"),
        /// Times playout stopped to rebuffer.
        rebuffers: u64 = Count => Series::new(Counter, "rebuffers", "Times playout stopped to rebuffer"),
        /// Stream restarts (new SSRC, sequence or timestamp jump).
        resets: u64 = Count => Series::new(Counter, "stream_resets", "Stream restarts (new SSRC, sequence or timestamp jump)"),
        /// Queued packets discarded as stale by restarts.
        discarded: u64 = Count => Series::drop("discarded"),
        /// Audio buffered (jitter buffer + ring), ms.
        depth_ms: f64 = Gauge => Series::new(SecondsGauge, "buffer_depth", "Audio buffered (jitter buffer and ring)"),
        /// Target delay, ms.
        target_ms: f64 = Gauge => Series::new(SecondsGauge, "buffer_target", "Target delay"),
        /// `depth_ms / target_ms` (0 when there is no target).
        buffer_fill_ratio: f64 = Gauge => Series::new(Gauge, "buffer_fill_ratio", "Buffer depth over target (0 without a target)"),
        /// Largest depth seen, ms.
        max_buffer_depth_ms: f64 = Gauge => Series::new(SecondsGauge, "max_buffer_depth", "Largest buffer depth seen"),
        /// Age of the oldest queued packet, ms.
        message_age_ms: f64 = Gauge => Series::new(SecondsGauge, "message_age", "Age of the oldest queued packet"),
        /// Arrival-to-playout time of the last packet played, ms.
        flush_latency_ms: f64 = Gauge => Series::new(SecondsGauge, "flush_latency", "Arrival-to-playout time of the last packet played"),
        /// RFC 3550 A.8 interarrival jitter, ms.
        jitter_ms: f64 = Gauge => Series::new(SecondsGauge, "interarrival_jitter", "RFC 3550 A.8 interarrival jitter"),
        /// Estimated clock drift, ppm (positive: the sender runs fast); `null` while unknown
        /// (under a minute of evidence: not corrected).
        drift_ppm: Option<f64> = OptGauge => Series::new(PpmRatio, "clock_drift_ratio", "Estimated sender clock drift (positive: sender fast)"),
        /// Resample ratio in use.
        ratio: f64 = Gauge => Series::new(Gauge, "resample_ratio", "Resample ratio in use (drift correction)"),
        /// RFC 7273 (`a=mediaclk:direct=`): the sender's RTP time against the reference clock
        /// plus the announced offset, in samples, less the smallest network delay; `null`
        /// without a media clock in the SDP.
        mediaclk_offset_samples: Option<f64> = OptGauge => Series::new(Gauge, "media_clock_offset_samples", "Sender's RTP time against the reference clock and announced media clock offset (samples, less the network delay)"),
        /// RFC 7273: how fast the sender's media clock runs against the reference clock, ppm
        /// (positive: fast), after ten seconds.
        mediaclk_drift_ppm: Option<f64> = OptGauge => Series::new(PpmRatio, "media_clock_drift_ratio", "Sender's media clock drift against the reference clock (positive: fast)"),
    }
    nested {
        /// RTCP: NACK recovery, RTX, round trip, drift from sender reports.
        recovery: RecoveryMetrics => RecoverySnapshot,
    }
}

impl MetricsSnapshot {
    /// The drift for people: `+300 ppm`, or `unknown` while there is no estimate.
    pub fn drift_text(&self) -> String {
        self.drift_ppm
            .map_or_else(|| "unknown".to_string(), |d| format!("{d:+.0} ppm"))
    }
}

/// Shared, lock-free metrics of one stream.
#[derive(Debug)]
pub struct Metrics {
    cells: StreamCells,
    /// The receive core's [`ReceiveCounts`] that are not already counted above, for views on
    /// other threads (`--metrics-listen`): comfort noise, telephone events, decode errors and
    /// non-audio gaps.
    receive: ReceiveCells,
    /// The SSRC the jitter buffer is locked to, or [`NO_SSRC`].
    ssrc: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All zero (ratio 1).
    pub fn new() -> Self {
        let m = Metrics {
            cells: StreamCells::default(),
            receive: ReceiveCells::default(),
            ssrc: AtomicU64::new(NO_SSRC),
        };
        m.cells.ratio.set(1.0);
        m
    }

    /// Publishes the media clock measurement (RFC 7273).
    pub fn publish_media_clock(&self, offset_samples: f64, drift_ppm: Option<f64>) {
        self.cells.mediaclk_offset_samples.set(Some(offset_samples));
        self.cells.mediaclk_drift_ppm.set(drift_ppm);
    }

    /// The RTCP session's figures.
    pub fn recovery(&self) -> &RecoveryMetrics {
        &self.cells.recovery
    }

    /// Publishes the receive core's own counters and the SSRC it is locked to (absolute values).
    pub fn publish_receive(&self, counts: &ReceiveCounts, ssrc: Option<u32>) {
        self.receive.write_all(counts);
        self.ssrc.store(ssrc.map_or(NO_SSRC, u64::from), Relaxed);
    }

    /// The receive core's counters as last published; `malformed` and `unexpected_pt` come
    /// from this struct's own counters, which count the same datagrams.
    pub fn receive_counts(&self) -> ReceiveCounts {
        ReceiveCounts {
            malformed: self.cells.malformed.get(),
            unexpected_pt: self.cells.unexpected_pt.get(),
            ..self.receive.snapshot()
        }
    }

    /// The SSRC the stream's jitter buffer is locked to, once it is.
    pub fn ssrc(&self) -> Option<u32> {
        u32::try_from(self.ssrc.load(Relaxed)).ok()
    }

    /// Publishes the jitter buffer's counters (absolute values).
    pub fn publish_jitter(&self, s: &JitterStats) {
        let c = &self.cells;
        for (cell, v) in [
            (&c.received, s.received),
            (&c.played, s.played),
            (&c.lost, s.lost),
            (&c.late, s.late),
            (&c.duplicate, s.duplicate),
            (&c.reordered, s.reordered),
            (&c.overflow, s.overflow),
            (&c.too_large, s.too_large),
            (&c.stray, s.stray),
            (&c.foreign_ssrc, s.foreign),
            (&c.resets, s.resets),
            (&c.discarded, s.discarded),
        ] {
            cell.set(v);
        }
    }

    /// Publishes the buffer gauges: total buffered audio (jitter + ring), target, ages, jitter.
    pub fn publish_buffer(
        &self,
        buffered: Duration,
        target: Duration,
        message_age: Option<Duration>,
        flush_latency: Option<Duration>,
        interarrival_jitter: Duration,
    ) {
        let c = &self.cells;
        c.depth_ms.set(ms(buffered));
        c.max_buffer_depth_ms.set_max(ms(buffered));
        c.target_ms.set(ms(target));
        let fill = if target.is_zero() {
            0.0
        } else {
            ms(buffered) / ms(target)
        };
        c.buffer_fill_ratio.set(fill);
        c.message_age_ms.set(message_age.map_or(0.0, ms));
        if let Some(f) = flush_latency {
            c.flush_latency_ms.set(ms(f));
        }
        c.jitter_ms.set(ms(interarrival_jitter));
    }

    /// Publishes the playout controller's state (ratio, drift, rebuffers).
    pub fn publish_playout(&self, s: &PlayoutStatus) {
        let c = &self.cells;
        c.ratio.set(s.ratio);
        c.drift_ppm.set(s.drift_known.then_some(s.drift_ppm));
        c.rebuffers.set(s.rebuffers);
    }

    /// Counts packets the shell could not parse or refused as malformed.
    pub fn add_malformed(&self, n: u64) {
        self.cells.malformed.add(n);
    }

    /// Counts packets of a payload type the stream does not carry.
    pub fn add_unexpected_pt(&self, n: u64) {
        self.cells.unexpected_pt.add(n);
    }

    /// Counts one output underrun (the callback had to fill silence).
    pub fn add_underrun(&self) {
        self.cells.underruns.add(1);
    }

    /// Takes back `n` underruns that turned out to be part of a sender's pause (see
    /// `JitterBuffer::pause_after_starving`): the output waited in the silence the sender left.
    pub fn retract_underruns(&self, n: u64) {
        let _ = self
            .cells
            .underruns
            .fetch_update(Relaxed, Relaxed, |u| Some(u.saturating_sub(n)));
    }

    /// Adds concealed audio (from the decoder's loss concealment).
    pub fn add_concealed(&self, d: Duration) {
        self.cells.concealed_ms.add(d);
    }

    /// Counts a lost packet recovered from in-band FEC.
    pub fn add_fec_recovered(&self) {
        self.cells.fec_recovered.add(1);
    }

    /// Adds audio made by the codec's packet loss concealment.
    pub fn add_plc(&self, d: Duration) {
        self.cells.plc_ms.add(d);
    }

    /// Counts DTMF events that began to play and the audio they took.
    pub fn add_dtmf(&self, events: u64, d: Duration) {
        self.cells.dtmf_events.add(events);
        self.cells.dtmf_ms.add(d);
    }

    /// Adds synthesised comfort noise.
    pub fn add_comfort_noise(&self, d: Duration) {
        self.cells.cn_ms.add(d);
    }

    /// Adds concealed audio by method: pitch replication, faded repeat, noise or silence.
    pub fn add_concealed_by_method(&self, pitch: Duration, fade: Duration, noise: Duration) {
        let c = &self.cells;
        c.concealed_pitch_ms.add(pitch);
        c.concealed_fade_ms.add(fade);
        c.concealed_noise_ms.add(noise);
    }

    /// Adds audio lengthened or shortened by time-stretch.
    pub fn add_stretched(&self, d: Duration) {
        self.cells.stretched_ms.add(d);
    }

    /// Adds silence lengthened or shortened.
    pub fn add_silence_adjusted(&self, d: Duration) {
        self.cells.silence_adjusted_ms.add(d);
    }

    /// Publishes the total audio dropped on overflow.
    pub fn publish_dropped(&self, d: Duration) {
        self.cells.dropped_ms.set(d);
    }

    /// Underruns counted so far.
    pub fn underruns(&self) -> u64 {
        self.cells.underruns.get()
    }

    /// Copies every metric out.
    pub fn snapshot(&self) -> MetricsSnapshot {
        self.cells.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playout::PlayoutState;

    #[test]
    fn publishes_and_snapshots() {
        let m = Metrics::new();
        let stats = JitterStats {
            received: 10,
            played: 7,
            lost: 1,
            too_large: 1,
            stray: 1,
            foreign: 2,
            ..JitterStats::default()
        };
        m.publish_jitter(&stats);
        m.add_malformed(3);
        m.add_unexpected_pt(1);
        m.add_underrun();
        m.add_concealed(Duration::from_millis(40));
        let ms = Duration::from_millis;
        m.add_concealed_by_method(ms(25), ms(5), ms(10));
        m.add_concealed_by_method(ms(1), ms(0), ms(0));
        let sec = Duration::from_secs(1);
        m.publish_buffer(3 * sec, 2 * sec, Some(sec), None, Duration::from_millis(5));
        m.publish_buffer(sec, 2 * sec, None, Some(sec / 2), Duration::from_millis(5));
        m.publish_playout(&PlayoutStatus {
            state: PlayoutState::Playing,
            ratio: 0.999,
            drift_ppm: 120.0,
            drift_known: true,
            rebuffers: 2,
            level_ms: 1000.0,
            target_ms: 2000.0,
        });
        let s = m.snapshot();
        assert_eq!((s.received, s.played, s.lost), (10, 7, 1));
        // Each reason under its own name; none includes another.
        assert_eq!(
            (
                s.malformed,
                s.unexpected_pt,
                s.too_large,
                s.stray,
                s.foreign_ssrc
            ),
            (3, 1, 1, 1, 2)
        );
        assert_eq!((s.underruns, s.rebuffers), (1, 2));
        assert_eq!(s.concealed_ms, 40.0);
        assert_eq!(
            (
                s.concealed_pitch_ms,
                s.concealed_fade_ms,
                s.concealed_noise_ms
            ),
            (26.0, 5.0, 10.0)
        );
        assert_eq!(
            (s.depth_ms, s.max_buffer_depth_ms, s.buffer_fill_ratio),
            (1000.0, 3000.0, 0.5)
        );
        assert_eq!((s.message_age_ms, s.flush_latency_ms), (0.0, 500.0));
        assert_eq!((s.ratio, s.drift_ppm), (0.999, Some(120.0)));
        let json = serde_json::to_string(&s).unwrap_or_default();
        assert!(json.contains("\"buffer_fill_ratio\":0.5"), "{json}");
    }

    #[test]
    fn fresh_metrics_have_unit_ratio() {
        assert_eq!(Metrics::new().snapshot().ratio, 1.0);
    }

    #[test]
    fn publishes_receive_counts_and_ssrc() {
        let m = Metrics::new();
        assert_eq!(m.ssrc(), None);
        m.add_malformed(2);
        let counts = ReceiveCounts {
            malformed: 2,
            unexpected_pt: 0,
            comfort_noise: 3,
            telephone_events: 4,
            decode_errors: 5,
            non_audio_gaps: 6,
        };
        m.publish_receive(&counts, Some(0xDEAD_BEEF));
        assert_eq!(m.receive_counts(), counts);
        assert_eq!(m.ssrc(), Some(0xDEAD_BEEF));
        m.publish_receive(&counts, None);
        assert_eq!(m.ssrc(), None);
    }
}
