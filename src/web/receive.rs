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

use super::exposition::{ssrc_label, Exposition, Labels, TableWriter};
use crate::net::receive::NetStats;
use crate::playout::metrics::{Metrics, MetricsSnapshot};

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
        let mut tables = TableWriter::new(&mut out);
        match self.stream.get() {
            Some(s) => {
                let mut take = |series: &_, sample| tables.take(series, sample, false);
                s.metrics.snapshot().visit(&mut take);
                s.metrics.receive_counts().visit(&mut take);
            }
            None => MetricsSnapshot::default()
                .visit(&mut |series, sample| tables.take(series, sample, true)),
        }
        if let Some(n) = self.net.get() {
            n.snapshot()
                .visit(&mut |series, sample| tables.take(series, sample, false));
        }
        tables.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jitter::JitterStats;
    use crate::playout::ReceiveCounts;
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
}
