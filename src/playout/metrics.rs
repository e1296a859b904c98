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

use super::recovery_metrics::{RecoveryMetrics, RecoverySnapshot};
use super::{PlayoutStatus, ReceiveCounts};
use crate::jitter::JitterStats;

/// `Metrics::ssrc` before the jitter buffer has locked onto a source (not a valid SSRC).
const NO_SSRC: u64 = u64::MAX;

/// An `f64` gauge stored as its bits in an `AtomicU64`.
#[derive(Debug, Default)]
struct AtomicF64(AtomicU64);

impl AtomicF64 {
    fn load(&self) -> f64 {
        f64::from_bits(self.0.load(Relaxed))
    }

    fn store(&self, v: f64) {
        self.0.store(v.to_bits(), Relaxed);
    }

    /// Raises the gauge to `v` if larger; valid for non-negative values, whose bit patterns
    /// order like the numbers.
    fn store_max(&self, v: f64) {
        self.0.fetch_max(v.max(0.0).to_bits(), Relaxed);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Shared, lock-free metrics of one stream.
#[derive(Debug, Default)]
pub struct Metrics {
    core: [AtomicU64; 12],
    malformed: AtomicU64,
    unexpected_pt: AtomicU64,
    underruns: AtomicU64,
    concealed_us: AtomicU64,
    fec_recovered: AtomicU64,
    plc_us: AtomicU64,
    dtmf_events: AtomicU64,
    dtmf_us: AtomicU64,
    cn_us: AtomicU64,
    concealed_pitch_us: AtomicU64,
    concealed_fade_us: AtomicU64,
    concealed_noise_us: AtomicU64,
    stretched_us: AtomicU64,
    silence_adjusted_us: AtomicU64,
    dropped_us: AtomicU64,
    rebuffers: AtomicU64,
    depth_ms: AtomicF64,
    target_ms: AtomicF64,
    max_depth_ms: AtomicF64,
    message_age_ms: AtomicF64,
    flush_latency_ms: AtomicF64,
    jitter_ms: AtomicF64,
    drift_ppm: AtomicF64,
    drift_known: std::sync::atomic::AtomicBool,
    ratio: AtomicF64,
    /// The receive core's [`ReceiveCounts`] that are not already counted above, for views on
    /// other threads (`--metrics-listen`): comfort noise, telephone events, decode errors and
    /// non-audio gaps.
    receive_counts: [AtomicU64; 4],
    /// The SSRC the jitter buffer is locked to, or [`NO_SSRC`].
    ssrc: AtomicU64,
    /// The RTCP session's figures.
    pub recovery: RecoveryMetrics,
}

/// Indices into `Metrics::core`, the counters published from [`JitterStats`].
mod core_idx {
    pub const RECEIVED: usize = 0;
    pub const PLAYED: usize = 1;
    pub const LOST: usize = 2;
    pub const LATE: usize = 3;
    pub const DUPLICATE: usize = 4;
    pub const REORDERED: usize = 5;
    pub const OVERFLOW: usize = 6;
    pub const TOO_LARGE: usize = 7;
    pub const STRAY: usize = 8;
    pub const FOREIGN_SSRC: usize = 9;
    pub const RESETS: usize = 10;
    pub const DISCARDED: usize = 11;
}

impl MetricsSnapshot {
    /// The drift for people: `+300 ppm`, or `unknown` while there is no estimate.
    pub fn drift_text(&self) -> String {
        self.drift_ppm
            .map_or_else(|| "unknown".to_string(), |d| format!("{d:+.0} ppm"))
    }
}

/// A plain copy of every metric at one moment, ready to print or serialise.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct MetricsSnapshot {
    /// Packets handed to the jitter buffer.
    pub received: u64,
    /// Packets played.
    pub played: u64,
    /// Packets lost (their turn passed without them).
    pub lost: u64,
    /// Packets that arrived after their turn.
    pub late: u64,
    /// Duplicate packets.
    pub duplicate: u64,
    /// Packets that arrived out of order but in time.
    pub reordered: u64,
    /// Packets evicted by the overflow policy.
    pub overflow: u64,
    /// Datagrams that are not valid RTP.
    pub malformed: u64,
    /// Packets of a payload type the stream does not carry.
    pub unexpected_pt: u64,
    /// Packets the jitter buffer refused as too large.
    pub too_large: u64,
    /// Sequence or timestamp jumps that no following packet confirmed (dropped).
    pub stray: u64,
    /// Packets of another SSRC from the accepted sender that never became the stream.
    pub foreign_ssrc: u64,
    /// Milliseconds of audio concealed.
    pub concealed_ms: f64,
    /// Lost packets decoded from the next packet's in-band FEC (Opus).
    pub fec_recovered: u64,
    /// Milliseconds of audio made by the codec's own packet loss concealment (Opus PLC, also
    /// across DTX pauses).
    pub plc_ms: f64,
    /// RFC 4733 DTMF events played (as tones, or as silence with `--dtmf silence`).
    pub dtmf_events: u64,
    /// Milliseconds of audio those events took.
    pub dtmf_ms: f64,
    /// Milliseconds of RFC 3389 comfort noise synthesised.
    pub cn_ms: f64,
    /// Of which: replicated pitch periods (including their attenuation).
    pub concealed_pitch_ms: f64,
    /// Of which: a faded repeat (audio without a pitch).
    pub concealed_fade_ms: f64,
    /// Of which: comfort noise or silence after the fade.
    pub concealed_noise_ms: f64,
    /// Milliseconds added or removed by pitch-preserving time-stretch (level moves).
    pub stretched_ms: f64,
    /// Milliseconds of silence (pauses, silent audio) added or removed (level moves).
    pub silence_adjusted_ms: f64,
    /// Milliseconds of queued audio dropped because the buffer overflowed.
    pub dropped_ms: f64,
    /// Times the output ran dry.
    pub underruns: u64,
    /// Times playout stopped to rebuffer.
    pub rebuffers: u64,
    /// Stream restarts (new SSRC, sequence or timestamp jump).
    pub resets: u64,
    /// Queued packets discarded as stale by restarts.
    pub discarded: u64,
    /// Audio buffered (jitter buffer + ring), ms.
    pub depth_ms: f64,
    /// Target delay, ms.
    pub target_ms: f64,
    /// `depth_ms / target_ms` (0 when there is no target).
    pub buffer_fill_ratio: f64,
    /// Largest depth seen, ms.
    pub max_buffer_depth_ms: f64,
    /// Age of the oldest queued packet, ms.
    pub message_age_ms: f64,
    /// Arrival-to-playout time of the last packet played, ms.
    pub flush_latency_ms: f64,
    /// RFC 3550 A.8 interarrival jitter, ms.
    pub jitter_ms: f64,
    /// Estimated clock drift, ppm (positive: the sender runs fast); `null` while unknown
    /// (under a minute of evidence: not corrected).
    pub drift_ppm: Option<f64>,
    /// Resample ratio in use.
    pub ratio: f64,
    /// RTCP: NACK recovery, RTX, round trip, drift from sender reports.
    #[serde(flatten)]
    pub recovery: RecoverySnapshot,
}

impl Metrics {
    /// All zero (ratio 1).
    pub fn new() -> Self {
        let m = Self::default();
        m.ratio.store(1.0);
        m.ssrc.store(NO_SSRC, Relaxed);
        m
    }

    /// Publishes the receive core's own counters and the SSRC it is locked to (absolute values).
    pub fn publish_receive(&self, counts: &ReceiveCounts, ssrc: Option<u32>) {
        let values = [
            counts.comfort_noise,
            counts.telephone_events,
            counts.decode_errors,
            counts.non_audio_gaps,
        ];
        for (a, v) in self.receive_counts.iter().zip(values) {
            a.store(v, Relaxed);
        }
        self.ssrc.store(ssrc.map_or(NO_SSRC, u64::from), Relaxed);
    }

    /// The receive core's counters as last published; `malformed` and `unexpected_pt` come
    /// from this struct's own counters, which count the same datagrams.
    pub fn receive_counts(&self) -> ReceiveCounts {
        let c = |i: usize| self.receive_counts.get(i).map_or(0, |a| a.load(Relaxed));
        ReceiveCounts {
            malformed: self.malformed.load(Relaxed),
            unexpected_pt: self.unexpected_pt.load(Relaxed),
            comfort_noise: c(0),
            telephone_events: c(1),
            decode_errors: c(2),
            non_audio_gaps: c(3),
        }
    }

    /// The SSRC the stream's jitter buffer is locked to, once it is.
    pub fn ssrc(&self) -> Option<u32> {
        u32::try_from(self.ssrc.load(Relaxed)).ok()
    }

    /// Publishes the jitter buffer's counters (absolute values).
    pub fn publish_jitter(&self, s: &JitterStats) {
        use core_idx::*;
        let values = [
            (RECEIVED, s.received),
            (PLAYED, s.played),
            (LOST, s.lost),
            (LATE, s.late),
            (DUPLICATE, s.duplicate),
            (REORDERED, s.reordered),
            (OVERFLOW, s.overflow),
            (TOO_LARGE, s.too_large),
            (STRAY, s.stray),
            (FOREIGN_SSRC, s.foreign),
            (RESETS, s.resets),
            (DISCARDED, s.discarded),
        ];
        for (i, v) in values {
            if let Some(a) = self.core.get(i) {
                a.store(v, Relaxed);
            }
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
        self.depth_ms.store(ms(buffered));
        self.max_depth_ms.store_max(ms(buffered));
        self.target_ms.store(ms(target));
        self.message_age_ms.store(message_age.map_or(0.0, ms));
        if let Some(f) = flush_latency {
            self.flush_latency_ms.store(ms(f));
        }
        self.jitter_ms.store(ms(interarrival_jitter));
    }

    /// Publishes the playout controller's state (ratio, drift, rebuffers).
    pub fn publish_playout(&self, s: &PlayoutStatus) {
        self.ratio.store(s.ratio);
        self.drift_ppm.store(s.drift_ppm);
        self.drift_known.store(s.drift_known, Relaxed);
        self.rebuffers.store(s.rebuffers, Relaxed);
    }

    /// Counts packets the shell could not parse or refused as malformed.
    pub fn add_malformed(&self, n: u64) {
        self.malformed.fetch_add(n, Relaxed);
    }

    /// Counts packets of a payload type the stream does not carry.
    pub fn add_unexpected_pt(&self, n: u64) {
        self.unexpected_pt.fetch_add(n, Relaxed);
    }

    /// Counts one output underrun (the callback had to fill silence).
    pub fn add_underrun(&self) {
        self.underruns.fetch_add(1, Relaxed);
    }

    /// Takes back `n` underruns that turned out to be part of a sender's pause (see
    /// `JitterBuffer::pause_after_starving`): the output waited in the silence the sender left.
    pub fn retract_underruns(&self, n: u64) {
        let _ = self
            .underruns
            .fetch_update(Relaxed, Relaxed, |u| Some(u.saturating_sub(n)));
    }

    /// Adds concealed audio (from the decoder's loss concealment).
    pub fn add_concealed(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.concealed_us.fetch_add(us, Relaxed);
    }

    /// Counts a lost packet recovered from in-band FEC.
    pub fn add_fec_recovered(&self) {
        self.fec_recovered.fetch_add(1, Relaxed);
    }

    /// Adds audio made by the codec's packet loss concealment.
    pub fn add_plc(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.plc_us.fetch_add(us, Relaxed);
    }

    /// Counts DTMF events that began to play and the audio they took.
    pub fn add_dtmf(&self, events: u64, d: Duration) {
        self.dtmf_events.fetch_add(events, Relaxed);
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.dtmf_us.fetch_add(us, Relaxed);
    }

    /// Adds synthesised comfort noise.
    pub fn add_comfort_noise(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.cn_us.fetch_add(us, Relaxed);
    }

    /// Adds concealed audio by method: pitch replication, faded repeat, noise or silence.
    pub fn add_concealed_by_method(&self, pitch: Duration, fade: Duration, noise: Duration) {
        for (d, a) in [
            (pitch, &self.concealed_pitch_us),
            (fade, &self.concealed_fade_us),
            (noise, &self.concealed_noise_us),
        ] {
            a.fetch_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), Relaxed);
        }
    }

    /// Adds audio lengthened or shortened by time-stretch.
    pub fn add_stretched(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.stretched_us.fetch_add(us, Relaxed);
    }

    /// Adds silence lengthened or shortened.
    pub fn add_silence_adjusted(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.silence_adjusted_us.fetch_add(us, Relaxed);
    }

    /// Publishes the total audio dropped on overflow.
    pub fn publish_dropped(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.dropped_us.store(us, Relaxed);
    }

    /// Underruns counted so far.
    pub fn underruns(&self) -> u64 {
        self.underruns.load(Relaxed)
    }

    /// Copies every metric out.
    pub fn snapshot(&self) -> MetricsSnapshot {
        use core_idx::*;
        let c = |i: usize| self.core.get(i).map_or(0, |a| a.load(Relaxed));
        let depth_ms = self.depth_ms.load();
        let target_ms = self.target_ms.load();
        MetricsSnapshot {
            received: c(RECEIVED),
            played: c(PLAYED),
            lost: c(LOST),
            late: c(LATE),
            duplicate: c(DUPLICATE),
            reordered: c(REORDERED),
            overflow: c(OVERFLOW),
            malformed: self.malformed.load(Relaxed),
            unexpected_pt: self.unexpected_pt.load(Relaxed),
            too_large: c(TOO_LARGE),
            stray: c(STRAY),
            foreign_ssrc: c(FOREIGN_SSRC),
            concealed_ms: self.concealed_us.load(Relaxed) as f64 / 1e3,
            fec_recovered: self.fec_recovered.load(Relaxed),
            plc_ms: self.plc_us.load(Relaxed) as f64 / 1e3,
            dtmf_events: self.dtmf_events.load(Relaxed),
            dtmf_ms: self.dtmf_us.load(Relaxed) as f64 / 1e3,
            cn_ms: self.cn_us.load(Relaxed) as f64 / 1e3,
            concealed_pitch_ms: self.concealed_pitch_us.load(Relaxed) as f64 / 1e3,
            concealed_fade_ms: self.concealed_fade_us.load(Relaxed) as f64 / 1e3,
            concealed_noise_ms: self.concealed_noise_us.load(Relaxed) as f64 / 1e3,
            stretched_ms: self.stretched_us.load(Relaxed) as f64 / 1e3,
            silence_adjusted_ms: self.silence_adjusted_us.load(Relaxed) as f64 / 1e3,
            dropped_ms: self.dropped_us.load(Relaxed) as f64 / 1e3,
            underruns: self.underruns.load(Relaxed),
            rebuffers: self.rebuffers.load(Relaxed),
            resets: c(RESETS),
            discarded: c(DISCARDED),
            depth_ms,
            target_ms,
            buffer_fill_ratio: if target_ms > 0.0 {
                depth_ms / target_ms
            } else {
                0.0
            },
            max_buffer_depth_ms: self.max_depth_ms.load(),
            message_age_ms: self.message_age_ms.load(),
            flush_latency_ms: self.flush_latency_ms.load(),
            jitter_ms: self.jitter_ms.load(),
            drift_ppm: self
                .drift_known
                .load(Relaxed)
                .then(|| self.drift_ppm.load()),
            ratio: self.ratio.load(),
            recovery: self.recovery.snapshot(),
        }
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
