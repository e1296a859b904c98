//! What a simulation measured: metrics, bit-exactness, latency, drift, and time series to plot.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::recovery::RecoveryReport;
use super::scenario::Scenario;
use crate::capture::TimeJumps;
use crate::netem::model::NetworkCounts;
use crate::playout::metrics::MetricsSnapshot;
use crate::playout::ReceiveCounts;

/// Something that happened at a moment of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// The network dropped a packet (at its send time).
    NetworkLoss,
    /// A packet arrived after its turn.
    Late,
    /// The output ran dry.
    Underrun,
    /// Playback stopped to rebuffer.
    Rebuffer,
    /// The stream restarted (new SSRC or numbering).
    Reset,
    /// The buffer evicted packets to stay bounded.
    Overflow,
    /// A lost packet's retransmission (answering a NACK) arrived in time to play.
    Recovered,
}

/// One event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Event {
    /// Time in seconds.
    pub t: f64,
    /// What happened.
    pub kind: EventKind,
}

/// One sample of the buffer's state over time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimelinePoint {
    /// Time in seconds.
    pub t: f64,
    /// Audio buffered (jitter buffer + ring) in ms.
    pub depth_ms: f64,
    /// The delay estimator's target in ms.
    pub target_ms: f64,
    /// Whether the device was playing.
    pub playing: bool,
    /// Resample ratio.
    pub ratio: f64,
    /// Estimated clock drift, ppm (0 while unknown: under a minute of evidence).
    pub drift_ppm: f64,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct SimReport {
    /// Scenario name.
    pub scenario: String,
    /// What it models.
    pub description: String,
    /// Seed used.
    pub seed: u64,
    /// Stream length sent, in seconds.
    pub duration_s: f64,
    /// True when the packets came from a capture: there is no source to compare the output
    /// with (bit-exactness is not measured) and the true drift is unknown.
    pub captured: bool,
    /// Captures: the pauses skipped in the stream's span (jumps of the capture clock longer
    /// than the idle timeout, or backwards), which took no time in the replay; None otherwise.
    pub time_jumps: Option<TimeJumps>,
    /// True when the sender encoded a lossy codec (Opus): `bit_exact_*` then count frames
    /// equal to the lossless decode of the sent packets, not to the source.
    pub lossy: bool,
    /// Lossy codecs: SNR in dB of the played packets' audio against the lossless decode.
    pub lossless_snr_db: Option<f64>,
    /// Virtual time the run took until everything played, in seconds.
    pub simulated_s: f64,
    /// Whether everything received was played out before the run ended.
    pub drained: bool,
    /// Packets the sender sent.
    pub packets_sent: u64,
    /// Audio frames the sender sent.
    pub frames_sent: u64,
    /// Frames that came out identical to the source, at the right place.
    pub bit_exact_frames: u64,
    /// `bit_exact_frames / frames_sent`.
    pub bit_exact_share: f64,
    /// Frames of packets played after audio that was sent later (stale audio; should be 0).
    pub out_of_order_frames: u64,
    /// Late packets as a share of packets sent.
    pub late_share: f64,
    /// Mean sender-to-speaker latency in ms.
    pub latency_mean_ms: f64,
    /// 95th percentile sender-to-speaker latency in ms.
    pub latency_p95_ms: f64,
    /// The drift the scenario put in (sender minus device), ppm.
    pub true_drift_ppm: f64,
    /// The controller's estimate when the sender stopped (the drain after it says nothing of
    /// drift), ppm; `None` (null) while unknown: under a minute of evidence.
    pub estimated_drift_ppm: Option<f64>,
    /// Largest |depth − target| while playing, over the second half of the run until the
    /// sender stopped (the drain at the end empties the buffer on purpose), in ms.
    pub level_error_max_ms: f64,
    /// The receiver's metrics at the end.
    pub metrics: MetricsSnapshot,
    /// Packets that never reached the buffer.
    pub receiver: ReceiveCounts,
    /// What the network model did.
    pub network: NetworkCounts,
    /// What NACK recovery cost and brought (scenarios with RTCP).
    pub recovery: Option<RecoveryReport>,
    /// Buffer state every 100 ms.
    pub timeline: Vec<TimelinePoint>,
    /// (send time s, one-way delay ms) of every delivered packet.
    pub delays: Vec<(f32, f32)>,
    /// Losses, late packets, underruns, rebuffers, resets, overflows.
    pub events: Vec<Event>,
}

impl SimReport {
    /// An empty report for `scenario`.
    pub fn new(scenario: &Scenario, seed: u64, duration: Duration) -> Self {
        SimReport {
            scenario: scenario.name.clone(),
            description: scenario.description.clone(),
            seed,
            duration_s: duration.as_secs_f64(),
            captured: false,
            time_jumps: None,
            simulated_s: 0.0,
            drained: true,
            packets_sent: 0,
            frames_sent: 0,
            lossy: false,
            lossless_snr_db: None,
            bit_exact_frames: 0,
            bit_exact_share: 0.0,
            out_of_order_frames: 0,
            late_share: 0.0,
            latency_mean_ms: 0.0,
            latency_p95_ms: 0.0,
            true_drift_ppm: 0.0,
            estimated_drift_ppm: None,
            level_error_max_ms: 0.0,
            metrics: MetricsSnapshot::default(),
            receiver: ReceiveCounts::default(),
            network: NetworkCounts::default(),
            recovery: None,
            timeline: Vec::new(),
            delays: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Derives the totals at the end of the run (set `metrics`, `receiver`, `network` and
    /// `true_drift_ppm` first).
    pub fn finish(&mut self, latencies: &mut [f32], end: Duration, sender_done: Duration) {
        self.simulated_s = end.as_secs_f64();
        self.bit_exact_share = ratio(self.bit_exact_frames, self.frames_sent);
        self.late_share = ratio(self.metrics.late, self.packets_sent);
        latencies.sort_by(f32::total_cmp);
        if !latencies.is_empty() {
            self.latency_mean_ms =
                latencies.iter().map(|&l| f64::from(l)).sum::<f64>() / latencies.len() as f64;
            let idx = ((latencies.len() as f64 * 0.95) as usize).min(latencies.len() - 1);
            self.latency_p95_ms = f64::from(latencies[idx]);
        }
        let half = self.simulated_s / 2.0;
        self.level_error_max_ms = self
            .timeline
            .iter()
            .filter(|p| p.t >= half && p.t < sender_done.as_secs_f64() && p.playing)
            .map(|p| (p.depth_ms - p.target_ms).abs())
            .fold(0.0, f64::max);
    }

    /// Number of events of `kind`.
    pub fn count(&self, kind: EventKind) -> usize {
        self.events.iter().filter(|e| e.kind == kind).count()
    }
}

/// How a replay reports the capture clock's jumps it skipped.
pub fn time_jumps_line(j: &TimeJumps) -> String {
    format!(
        "capture time jumps skipped as pauses {} (longer than the {} s idle timeout, or backwards: {})",
        j.skipped,
        j.idle_timeout_s,
        j.describe()
    )
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.metrics;
        writeln!(
            f,
            "scenario {} (seed {}): {}",
            self.scenario, self.seed, self.description
        )?;
        if self.captured {
            writeln!(
                f,
                "  captured  {} packets, {:.1} s; the capture shows lost {}, duplicated {}, out of order {}",
                self.packets_sent,
                self.duration_s,
                self.network.dropped,
                self.network.duplicated,
                self.network.reordered
            )?;
            if let Some(j) = self.time_jumps.as_ref().filter(|j| j.skipped > 0) {
                writeln!(f, "  {}", time_jumps_line(j))?;
            }
        } else {
            writeln!(
                f,
                "  sent      {} packets, {:.1} s of audio; network dropped {}, duplicated {}, reordered {}, froze {}",
                self.packets_sent,
                self.duration_s,
                self.network.dropped,
                self.network.duplicated,
                self.network.reordered,
                self.network.frozen
            )?;
        }
        writeln!(
            f,
            "  received  {} (played {}, lost {}, late {}, duplicate {}, reordered {}, overflow {}, malformed {}, foreign SSRC {})",
            m.received, m.played, m.lost, m.late, m.duplicate, m.reordered, m.overflow, m.malformed, m.foreign_ssrc
        )?;
        let exact = if self.captured {
            "bit-exact n/a (no source)".to_string()
        } else if self.lossy {
            format!(
                "{:.3} % equal to the lossless decode (SNR {:.1} dB)",
                self.bit_exact_share * 100.0,
                self.lossless_snr_db.unwrap_or(f64::NAN)
            )
        } else {
            format!("{:.3} % bit-exact", self.bit_exact_share * 100.0)
        };
        writeln!(
            f,
            "  output    {exact}, concealed {:.0} ms (pitch {:.0}, fade {:.0}, noise {:.0}), underruns {}, rebuffers {}, resets {}{}",
            m.concealed_ms,
            m.concealed_pitch_ms,
            m.concealed_fade_ms,
            m.concealed_noise_ms,
            m.underruns,
            m.rebuffers,
            m.resets,
            if self.drained {
                ""
            } else {
                ", NOT fully drained"
            }
        )?;
        writeln!(
            f,
            "  level     moved by time-stretch {:.0} ms, by silence {:.0} ms; dropped on overflow {:.0} ms",
            m.stretched_ms, m.silence_adjusted_ms, m.dropped_ms
        )?;
        let latency_from = if self.captured {
            " above the fastest packet"
        } else {
            ""
        };
        writeln!(
            f,
            "  latency{latency_from}   mean {:.0} ms, p95 {:.0} ms; target {:.0} ms, max depth {:.0} ms, level error ≤ {:.0} ms (2nd half)",
            self.latency_mean_ms, self.latency_p95_ms, m.target_ms, m.max_buffer_depth_ms, self.level_error_max_ms
        )?;
        if let Some(r) = &self.recovery {
            let k = &m.recovery;
            let rtt = k
                .rtt_ms
                .map_or("unmeasured".to_string(), |v| format!("{v:.0} ms"));
            writeln!(
                f,
                "  recovery  {} packets asked for in {} NACKs; recovered {} (too late {}, given up {}); {} retransmissions; NACK + retransmission bytes {:.2}× the lost bytes; RTT {rtt}; back-channel lost {} of {}",
                k.nack_packets,
                k.nack_sent,
                k.recovered,
                k.recovered_too_late,
                k.nack_given_up,
                r.retransmissions,
                r.overhead,
                r.reverse.dropped,
                r.reverse.sent
            )?;
        }
        let true_drift = if self.captured {
            "true unknown".to_string()
        } else {
            format!("true {:+.0} ppm", self.true_drift_ppm)
        };
        let estimated = match self.estimated_drift_ppm {
            Some(ppm) => format!("{ppm:+.0} ppm"),
            None => "unknown (under a minute of evidence: not corrected)".to_string(),
        };
        write!(
            f,
            "  drift     {true_drift}, estimated {estimated}, ratio {:.6}; jitter (RFC 3550) {:.1} ms",
            m.ratio, m.jitter_ms
        )
    }
}
