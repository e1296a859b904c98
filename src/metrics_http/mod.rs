//! `--metrics-listen`: Prometheus/OpenMetrics text at `GET /metrics`, for `play`, `send` and
//! `relay`.
//!
//! One more view of the metrics the players already keep (see docs/metrics.md): a collector
//! per command reads the lock-free counters at scrape time ([`receive`] for players,
//! [`traffic`] for `send` and `relay`), prometheus-client encodes them, and a minimal HTTP
//! responder ([`server`], [`request`]) serves them from the command's own tokio runtime.

pub mod exposition;
pub mod receive;
pub mod request;
pub mod server;
pub mod traffic;

pub use receive::ReceiveView;
pub use server::{EndpointThread, MetricsEndpoint, MetricsError};

use prometheus_client::collector::Collector;
use prometheus_client::registry::Registry;

/// A registry that serves `collector` under the `jitterplay_` prefix.
pub fn registry(collector: impl Collector) -> Registry {
    let mut registry = Registry::with_prefix("jitterplay");
    registry.register_collector(Box::new(collector));
    registry
}

/// A receiving player's endpoint: the bound listener and the view it serves.
#[derive(Debug, Clone)]
pub struct ReceiveExport {
    /// The bound endpoint.
    pub endpoint: MetricsEndpoint,
    /// What it serves, filled in as the stream becomes known.
    pub view: std::sync::Arc<ReceiveView>,
}

impl ReceiveExport {
    /// Binds `addr` for a receiving player.
    pub fn bind(addr: std::net::SocketAddr) -> Result<Self, MetricsError> {
        let view = ReceiveView::new();
        let endpoint = MetricsEndpoint::bind(addr, registry(std::sync::Arc::clone(&view)))?;
        Ok(ReceiveExport { endpoint, view })
    }

    /// Serves on the live player's network runtime (a task beside the receive task) and
    /// attaches the network counters.
    pub fn start_live(
        &self,
        runtime: &tokio::runtime::Runtime,
        net: &std::sync::Arc<crate::net::receive::NetStats>,
    ) {
        self.view.attach_net(net);
        runtime.spawn(self.endpoint.serve());
    }
}
