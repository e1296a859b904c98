//! What `send` and `relay` serve at `/metrics`: their [`TrafficMetrics`], read at scrape time.
//!
//! `send` labels its series with the stream (`source`: the local address packets leave from,
//! `destination`, `ssrc`, `format`). `relay` forwards datagrams without parsing them, so it
//! has no SSRC or format: its series carry `source` (the first sender seen), `listen` and
//! `destination`.

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Unit;

use super::exposition::{ssrc_label, Exposition, Labels};
use crate::net::traffic_metrics::{TrafficMetrics, TrafficSnapshot};

/// Which command the counters belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Send,
    Relay,
}

/// A sender's or relay's metrics with their fixed labels; registered as a [`Collector`].
#[derive(Debug)]
pub struct TrafficView {
    role: Role,
    metrics: Arc<TrafficMetrics>,
    labels: Labels,
}

impl TrafficView {
    /// The view of `send`'s counters for the stream it sends.
    pub fn sender(
        metrics: &Arc<TrafficMetrics>,
        source: Option<SocketAddr>,
        destination: SocketAddr,
        ssrc: u32,
        format: String,
    ) -> Self {
        let mut labels = Labels::new();
        if let Some(source) = source {
            labels.push(("source", source.to_string()));
        }
        labels.push(("destination", destination.to_string()));
        labels.push(("ssrc", ssrc_label(ssrc)));
        labels.push(("format", format));
        TrafficView {
            role: Role::Send,
            metrics: Arc::clone(metrics),
            labels,
        }
    }

    /// The view of `relay`'s counters.
    pub fn relay(
        metrics: &Arc<TrafficMetrics>,
        listen: SocketAddr,
        destination: SocketAddr,
    ) -> Self {
        TrafficView {
            role: Role::Relay,
            metrics: Arc::clone(metrics),
            labels: vec![
                ("listen", listen.to_string()),
                ("destination", destination.to_string()),
            ],
        }
    }
}

impl Collector for TrafficView {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut labels = Labels::new();
        if let Some(source) = self.metrics.source.get() {
            labels.push(("source", source.to_string()));
        }
        labels.extend(self.labels.iter().cloned());
        let mut out = Exposition::new(&mut encoder, &labels);
        let s = self.metrics.snapshot();
        match self.role {
            Role::Send => encode_send(&mut out, &s)?,
            Role::Relay => encode_relay(&mut out, &s)?,
        }
        if let Some(c) = s.impairment {
            out.counter(
                "impair_offered_datagrams",
                "Datagrams offered to the network model",
                None,
                c.offered,
            )?;
            out.counter_by(
                "impaired_datagrams",
                "What the network model did to datagrams",
                "effect",
                &[
                    ("dropped", c.dropped),
                    ("duplicated", c.duplicated),
                    ("reordered", c.reordered),
                    ("overflow", c.overflow),
                    ("edge_dropped", c.edge_dropped),
                ],
            )?;
            out.gauge(
                "impair_held_datagrams",
                "Copies the network model holds now",
                None,
                s.held,
            )?;
        }
        Ok(())
    }
}

fn encode_send(out: &mut Exposition<'_, '_>, s: &TrafficSnapshot) -> std::fmt::Result {
    out.counter("sent_packets", "RTP packets produced", None, s.packets)?;
    out.counter(
        "sent_datagrams",
        "Datagrams that left the socket",
        None,
        s.datagrams,
    )?;
    out.counter(
        "send_errors",
        "Datagrams the socket refused",
        None,
        s.errors,
    )?;
    out.counter(
        "sent_audio",
        "Audio sent (PCM formats)",
        Some(Unit::Seconds),
        s.audio.as_secs_f64(),
    )
}

fn encode_relay(out: &mut Exposition<'_, '_>, s: &TrafficSnapshot) -> std::fmt::Result {
    out.counter(
        "relay_received_datagrams",
        "Datagrams received",
        None,
        s.received,
    )?;
    out.counter(
        "relay_forwarded_datagrams",
        "Datagrams forwarded",
        None,
        s.datagrams,
    )?;
    out.counter("relay_errors", "Receive or send errors", None, s.errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netem::queue::ImpairCounts;

    #[test]
    fn relay_series_carry_the_first_source_and_impairment() {
        let metrics = Arc::new(TrafficMetrics::default());
        let view = TrafficView::relay(
            &metrics,
            "127.0.0.1:6004".parse().expect("addr"),
            "127.0.0.1:5004".parse().expect("addr"),
        );
        metrics.publish(&TrafficSnapshot {
            received: 10,
            datagrams: 9,
            impairment: Some(ImpairCounts {
                offered: 10,
                dropped: 1,
                ..ImpairCounts::default()
            }),
            ..TrafficSnapshot::default()
        });
        let _ = metrics.source.set("127.0.0.1:7000".parse().expect("addr"));
        let text = {
            let registry = super::super::registry(view);
            let mut t = String::new();
            prometheus_client::encoding::text::encode(&mut t, &registry).unwrap_or_default();
            t
        };
        let l =
            "source=\"127.0.0.1:7000\",listen=\"127.0.0.1:6004\",destination=\"127.0.0.1:5004\"";
        for line in [
            format!("jitterplay_relay_received_datagrams_total{{{l}}} 10"),
            format!("jitterplay_relay_forwarded_datagrams_total{{{l}}} 9"),
            format!("jitterplay_impaired_datagrams_total{{{l},effect=\"dropped\"}} 1"),
        ] {
            assert!(
                text.contains(&format!("\n{line}\n")),
                "{line} missing:\n{text}"
            );
        }
        assert!(!text.contains("sent_packets"), "{text}");
    }
}
