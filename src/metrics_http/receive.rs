//! What a receiving player (`play` of a live stream, an SDP or a capture) serves at `/metrics`:
//! every counter and gauge of `--stats-json`, read at scrape time from the same lock-free
//! [`Metrics`] and [`NetStats`] the status line reads.
//!
//! Names follow Prometheus conventions (base units, `_total` on counters) and keep the seed's
//! five by name: `buffer_fill_ratio`, `drop_count{reason}`, `flush_latency_seconds`,
//! `message_age_seconds`, `max_buffer_depth_seconds`. Every drop is under `drop_count` with the
//! `--stats-json` key as its reason (the network task's under `foreign_address`, `oversize`,
//! `rate_limited`, `queue_full`, `kernel`), so no series includes another. `drift_ppm` is a
//! ratio here (`clock_drift_ratio`, absent while unknown). Series carry the stream's labels as
//! far as known: `source` (the accepted sender), `ssrc` and `format`. The live state and
//! prebuffer progress are not counters or gauges of the core and are not exported.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Unit;

use super::exposition::{ssrc_label, Exposition, Labels};
use crate::net::receive::{NetSnapshot, NetStats};
use crate::playout::metrics::{Metrics, MetricsSnapshot};
use crate::playout::ReceiveCounts;

/// The stream part, known once the format has settled.
#[derive(Debug)]
struct StreamParts {
    metrics: Arc<Metrics>,
    format: String,
    source: Option<SocketAddr>,
}

/// A receiving player's metrics as they become known; registered as a [`Collector`].
#[derive(Debug, Default)]
pub struct ReceiveView {
    net: OnceLock<Arc<NetStats>>,
    stream: OnceLock<StreamParts>,
}

impl ReceiveView {
    /// An empty view: serves nothing until a part is attached.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Attaches the network task's counters (live streams); later calls are ignored.
    pub fn attach_net(&self, net: &Arc<NetStats>) {
        let _ = self.net.set(Arc::clone(net));
    }

    /// Attaches the receive core's metrics once the stream's format is settled; `source` is
    /// the sender when the network task does not say it (captures). Later calls are ignored.
    pub fn attach_stream(
        &self,
        metrics: &Arc<Metrics>,
        format: String,
        source: Option<SocketAddr>,
    ) {
        let _ = self.stream.set(StreamParts {
            metrics: Arc::clone(metrics),
            format,
            source,
        });
    }

    fn labels(&self) -> Labels {
        let mut labels = Labels::new();
        let stream = self.stream.get();
        let source = self
            .net
            .get()
            .and_then(|n| n.source.get().copied())
            .or_else(|| stream.and_then(|s| s.source));
        if let Some(source) = source {
            labels.push(("source", source.to_string()));
        }
        if let Some(s) = stream {
            if let Some(ssrc) = s.metrics.ssrc() {
                labels.push(("ssrc", ssrc_label(ssrc)));
            }
            labels.push(("format", s.format.clone()));
        }
        labels
    }
}

impl Collector for ReceiveView {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let labels = self.labels();
        let mut out = Exposition::new(&mut encoder, &labels);
        let net = self.net.get().map(|n| n.snapshot());
        let stream = self
            .stream
            .get()
            .map(|s| (s.metrics.snapshot(), s.metrics.receive_counts()));
        if let Some((m, counts)) = &stream {
            encode_core(&mut out, m, counts)?;
            super::recovery::encode_recovery(&mut out, &m.recovery)?;
        }
        let m = stream.map(|(m, _)| m).unwrap_or_default();
        encode_drops(&mut out, &m, net.as_ref())?;
        if let Some(n) = &net {
            encode_net(&mut out, n)?;
            super::recovery::encode_rtcp_net(&mut out, &n.rtcp)?;
        }
        Ok(())
    }
}

fn seconds(ms: f64) -> f64 {
    ms / 1e3
}

fn encode_core(
    out: &mut Exposition<'_, '_>,
    m: &MetricsSnapshot,
    counts: &ReceiveCounts,
) -> std::fmt::Result {
    let s = Some(Unit::Seconds);
    out.counter(
        "packets_received",
        "Packets handed to the jitter buffer",
        None,
        m.received,
    )?;
    out.counter("packets_played", "Packets played", None, m.played)?;
    out.counter(
        "packets_lost",
        "Packets whose turn passed without them",
        None,
        m.lost,
    )?;
    out.counter(
        "packets_reordered",
        "Packets that arrived out of order but in time",
        None,
        m.reordered,
    )?;
    out.counter(
        "comfort_noise_packets",
        "Comfort noise packets",
        None,
        counts.comfort_noise,
    )?;
    out.counter(
        "telephone_event_packets",
        "Telephone event packets",
        None,
        counts.telephone_events,
    )?;
    out.counter(
        "decode_errors",
        "Payloads the decoder rejected (concealed instead)",
        None,
        counts.decode_errors,
    )?;
    out.counter(
        "non_audio_gaps",
        "Sequence gaps taken by non-audio packets (not losses)",
        None,
        counts.non_audio_gaps,
    )?;
    out.counter(
        "stream_resets",
        "Stream restarts (new SSRC, sequence or timestamp jump)",
        None,
        m.resets,
    )?;
    out.counter("underruns", "Times the output ran dry", None, m.underruns)?;
    out.counter(
        "rebuffers",
        "Times playout stopped to rebuffer",
        None,
        m.rebuffers,
    )?;
    out.counter(
        "concealed",
        "Audio concealed",
        s.clone(),
        seconds(m.concealed_ms),
    )?;
    out.counter(
        "fec_recovered",
        "Lost packets decoded from the next packet's in-band FEC (Opus)",
        None,
        m.fec_recovered,
    )?;
    out.counter(
        "plc",
        "Audio made by the codec's packet loss concealment (Opus PLC)",
        s.clone(),
        seconds(m.plc_ms),
    )?;
    out.counter(
        "dtmf_events",
        "RFC 4733 DTMF events played (as tones, or silence with --dtmf silence)",
        None,
        m.dtmf_events,
    )?;
    out.counter(
        "dtmf",
        "Audio taken by DTMF events",
        s.clone(),
        seconds(m.dtmf_ms),
    )?;
    out.counter(
        "comfort_noise",
        "RFC 3389 comfort noise synthesised",
        s.clone(),
        seconds(m.cn_ms),
    )?;
    out.counter(
        "concealed_pitch",
        "Audio concealed by replicating pitch periods",
        s.clone(),
        seconds(m.concealed_pitch_ms),
    )?;
    out.counter(
        "concealed_fade",
        "Audio concealed by a faded repeat (no pitch found)",
        s.clone(),
        seconds(m.concealed_fade_ms),
    )?;
    out.counter(
        "concealed_noise",
        "Audio concealed by comfort noise or silence after the fade",
        s.clone(),
        seconds(m.concealed_noise_ms),
    )?;
    out.counter(
        "stretched",
        "Audio added or removed by time-stretch",
        s.clone(),
        seconds(m.stretched_ms),
    )?;
    out.counter(
        "silence_adjusted",
        "Silence added or removed",
        s.clone(),
        seconds(m.silence_adjusted_ms),
    )?;
    out.counter(
        "overflow_dropped",
        "Queued audio dropped because the buffer overflowed",
        s.clone(),
        seconds(m.dropped_ms),
    )?;
    out.gauge(
        "buffer_depth",
        "Audio buffered (jitter buffer and ring)",
        s.clone(),
        seconds(m.depth_ms),
    )?;
    out.gauge(
        "buffer_target",
        "Target delay",
        s.clone(),
        seconds(m.target_ms),
    )?;
    out.gauge(
        "buffer_fill_ratio",
        "Buffer depth over target (0 without a target)",
        None,
        m.buffer_fill_ratio,
    )?;
    out.gauge(
        "max_buffer_depth",
        "Largest buffer depth seen",
        s.clone(),
        seconds(m.max_buffer_depth_ms),
    )?;
    out.gauge(
        "message_age",
        "Age of the oldest queued packet",
        s.clone(),
        seconds(m.message_age_ms),
    )?;
    out.gauge(
        "flush_latency",
        "Arrival-to-playout time of the last packet played",
        s.clone(),
        seconds(m.flush_latency_ms),
    )?;
    out.gauge(
        "interarrival_jitter",
        "RFC 3550 A.8 interarrival jitter",
        s,
        seconds(m.jitter_ms),
    )?;
    out.gauge(
        "resample_ratio",
        "Resample ratio in use (drift correction)",
        None,
        m.ratio,
    )?;
    if let Some(ppm) = m.drift_ppm {
        out.gauge(
            "clock_drift_ratio",
            "Estimated sender clock drift (positive: sender fast)",
            None,
            ppm * 1e-6,
        )?;
    }
    Ok(())
}

fn encode_drops(
    out: &mut Exposition<'_, '_>,
    m: &MetricsSnapshot,
    net: Option<&NetSnapshot>,
) -> std::fmt::Result {
    let mut drops = vec![
        ("late", m.late),
        ("duplicate", m.duplicate),
        ("overflow", m.overflow),
        ("malformed", m.malformed),
        ("unexpected_pt", m.unexpected_pt),
        ("too_large", m.too_large),
        ("stray", m.stray),
        ("foreign_ssrc", m.foreign_ssrc),
        ("discarded", m.discarded),
    ];
    if let Some(n) = net {
        drops.extend([
            ("foreign_address", n.foreign),
            ("oversize", n.oversize),
            ("rate_limited", n.rate_limited),
            ("queue_full", n.queue_full),
            ("kernel", n.kernel_drops),
        ]);
    }
    out.counter_by(
        "drop_count",
        "Packets dropped, each under one reason",
        "reason",
        &drops,
    )
}

fn encode_net(out: &mut Exposition<'_, '_>, n: &NetSnapshot) -> std::fmt::Result {
    out.counter(
        "datagrams_received",
        "Datagrams received on the socket",
        None,
        n.datagrams,
    )?;
    out.counter(
        "received",
        "Bytes received on the socket",
        Some(Unit::Bytes),
        n.bytes,
    )?;
    out.counter(
        "datagrams_accepted",
        "Datagrams queued for the receive core",
        None,
        n.accepted,
    )?;
    out.gauge(
        "socket_receive_buffer",
        "Receive buffer (SO_RCVBUF) the kernel granted the RTP socket",
        Some(Unit::Bytes),
        n.recv_buffer,
    )?;
    out.counter(
        "busy_read_spells",
        "Times heavy traffic turned batched socket reads into reads at every readiness",
        None,
        n.busy_spells,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jitter::JitterStats;
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::Duration;

    fn scrape(view: &Arc<ReceiveView>) -> String {
        let mut registry = prometheus_client::registry::Registry::with_prefix("jitterplay");
        registry.register_collector(Box::new(Arc::clone(view)));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap_or_default();
        text
    }

    #[test]
    fn serves_net_counters_before_the_stream_and_everything_after() {
        let view = ReceiveView::new();
        let net = Arc::new(NetStats::default());
        view.attach_net(&net);
        net.datagrams.store(5, Relaxed);
        net.foreign.store(2, Relaxed);
        let text = scrape(&view);
        assert!(
            text.contains("\njitterplay_datagrams_received_total 5\n"),
            "{text}"
        );
        assert!(
            text.contains("\njitterplay_drop_count_total{reason=\"foreign_address\"} 2\n"),
            "{text}"
        );
        assert!(!text.contains("packets_lost"), "{text}");

        let metrics = Arc::new(Metrics::new());
        metrics.publish_jitter(&JitterStats {
            received: 10,
            lost: 3,
            late: 1,
            ..JitterStats::default()
        });
        let sec = Duration::from_secs(1);
        metrics.publish_buffer(
            3 * sec,
            2 * sec,
            Some(sec / 4),
            Some(sec / 2),
            Duration::from_millis(5),
        );
        metrics.publish_receive(&ReceiveCounts::default(), Some(0xABCD));
        let _ = net.source.set("127.0.0.1:4000".parse().expect("addr"));
        view.attach_stream(&metrics, "L16/48000/2".into(), None);
        let text = scrape(&view);
        let l = "{source=\"127.0.0.1:4000\",ssrc=\"0x0000ABCD\",format=\"L16/48000/2\"";
        for line in [
            format!("jitterplay_packets_lost_total{l}}} 3"),
            format!("jitterplay_packets_received_total{l}}} 10"),
            format!("jitterplay_drop_count_total{l},reason=\"late\"}} 1"),
            format!("jitterplay_drop_count_total{l},reason=\"foreign_address\"}} 2"),
            format!("jitterplay_buffer_depth_seconds{l}}} 3.0"),
            format!("jitterplay_buffer_fill_ratio{l}}} 1.5"),
            format!("jitterplay_max_buffer_depth_seconds{l}}} 3.0"),
            format!("jitterplay_message_age_seconds{l}}} 0.25"),
            format!("jitterplay_flush_latency_seconds{l}}} 0.5"),
            format!("jitterplay_interarrival_jitter_seconds{l}}} 0.005"),
        ] {
            assert!(
                text.contains(&format!("\n{line}\n")),
                "{line} missing:\n{text}"
            );
        }
        assert!(
            text.contains("# UNIT jitterplay_buffer_depth_seconds seconds\n"),
            "{text}"
        );
        assert!(
            !text.contains("clock_drift"),
            "unknown drift is absent: {text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    /// Every key of `--stats-json`'s metrics and net objects has a series (guards additions).
    #[test]
    fn every_stats_json_value_is_exported() {
        let view = ReceiveView::new();
        let net = Arc::new(NetStats::default());
        view.attach_net(&net);
        let metrics = Arc::new(Metrics::new());
        metrics.publish_playout(&crate::playout::PlayoutStatus {
            state: crate::playout::PlayoutState::Playing,
            ratio: 1.0,
            drift_ppm: 30.0,
            drift_known: true,
            rebuffers: 0,
            level_ms: 0.0,
            target_ms: 0.0,
        });
        metrics
            .recovery
            .publish(&crate::rtcp::receiver::RtcpReceiverStatus {
                rtt_ms: Some(50.0),
                sr_drift_ppm: Some(12.0),
                ..Default::default()
            });
        view.attach_stream(&metrics, "PCMU/8000".into(), None);
        let text = scrape(&view);
        let exported = |series: &str| text.contains(&format!("\njitterplay_{series}"));
        let renamed = [
            ("received", "packets_received_total"),
            ("played", "packets_played_total"),
            ("lost", "packets_lost_total"),
            ("reordered", "packets_reordered_total"),
            ("concealed_ms", "concealed_seconds_total"),
            ("fec_recovered", "fec_recovered_total"),
            ("plc_ms", "plc_seconds_total"),
            ("dtmf_events", "dtmf_events_total"),
            ("dtmf_ms", "dtmf_seconds_total"),
            ("cn_ms", "comfort_noise_seconds_total"),
            ("concealed_pitch_ms", "concealed_pitch_seconds_total"),
            ("concealed_fade_ms", "concealed_fade_seconds_total"),
            ("concealed_noise_ms", "concealed_noise_seconds_total"),
            ("stretched_ms", "stretched_seconds_total"),
            ("silence_adjusted_ms", "silence_adjusted_seconds_total"),
            ("dropped_ms", "overflow_dropped_seconds_total"),
            ("underruns", "underruns_total"),
            ("rebuffers", "rebuffers_total"),
            ("resets", "stream_resets_total"),
            ("depth_ms", "buffer_depth_seconds"),
            ("target_ms", "buffer_target_seconds"),
            ("buffer_fill_ratio", "buffer_fill_ratio"),
            ("max_buffer_depth_ms", "max_buffer_depth_seconds"),
            ("message_age_ms", "message_age_seconds"),
            ("flush_latency_ms", "flush_latency_seconds"),
            ("jitter_ms", "interarrival_jitter_seconds"),
            ("drift_ppm", "clock_drift_ratio"),
            ("ratio", "resample_ratio"),
            ("comfort_noise", "comfort_noise_packets_total"),
            ("telephone_events", "telephone_event_packets_total"),
            ("decode_errors", "decode_errors_total"),
            ("non_audio_gaps", "non_audio_gaps_total"),
            ("datagrams", "datagrams_received_total"),
            ("bytes", "received_bytes_total"),
            ("accepted", "datagrams_accepted_total"),
            ("recv_buffer", "socket_receive_buffer_bytes"),
            ("busy_spells", "busy_read_spells_total"),
            ("nack_sent", "nack_sent_total"),
            ("nack_packets", "nack_packets_total"),
            ("nack_bytes", "nack_bytes_total"),
            ("rtx_received", "rtx_received_total"),
            ("recovered", "recovered_total"),
            ("recovered_too_late", "recovered_too_late_total"),
            ("nack_given_up", "nack_given_up_total"),
            ("sender_reports", "sender_reports_total"),
            ("receiver_reports", "receiver_reports_total"),
            ("lost_before_first", "lost_before_first_total"),
            ("lost_after_last", "lost_after_last_total"),
            ("rtt_ms", "round_trip_seconds"),
            ("sr_drift_ppm", "sr_clock_drift_ratio"),
            ("rtcp_received", "rtcp_received_total"),
            ("rtcp_refused", "rtcp_refused_total"),
            ("rtcp_sent", "rtcp_sent_total"),
            ("rtcp_send_errors", "rtcp_send_errors_total"),
            ("rtcp_recv_buffer", "rtcp_socket_receive_buffer_bytes"),
        ];
        let reasons = [
            ("late", "late"),
            ("duplicate", "duplicate"),
            ("overflow", "overflow"),
            ("malformed", "malformed"),
            ("unexpected_pt", "unexpected_pt"),
            ("too_large", "too_large"),
            ("stray", "stray"),
            ("foreign_ssrc", "foreign_ssrc"),
            ("discarded", "discarded"),
            ("foreign", "foreign_address"),
            ("oversize", "oversize"),
            ("rate_limited", "rate_limited"),
            ("queue_full", "queue_full"),
            ("kernel_drops", "kernel"),
        ];
        let json = serde_json::json!({
            "metrics": metrics.snapshot(),
            "receiver": metrics.receive_counts(),
            "net": net.snapshot(),
        });
        let mut keys = Vec::new();
        for part in ["metrics", "receiver", "net"] {
            if let Some(obj) = json[part].as_object() {
                keys.extend(obj.keys().cloned());
            }
        }
        assert!(keys.len() > 40, "{keys:?}");
        for key in keys {
            if let Some((_, series)) = renamed.iter().find(|(k, _)| *k == key) {
                assert!(exported(series), "{key} -> {series} missing:\n{text}");
            } else if let Some((_, reason)) = reasons.iter().find(|(k, _)| *k == key) {
                assert!(
                    text.contains(&format!("reason=\"{reason}\"")),
                    "{key} missing:\n{text}"
                );
            } else {
                panic!("--stats-json key {key} has no Prometheus series");
            }
        }
    }
}
