//! The HTTP side of every command: `--web ADDR` (a live dashboard, its WebSocket feed, the
//! audio being played, `/metrics`, `/stats.json`, `/healthz`; for `monitor`, a streams table
//! fed by `/streams.json`) and `--metrics-listen ADDR` (`/metrics` alone), on hyper and axum.
//!
//! The player never waits on the web side: it pushes into lock-free taps ([`hub`]), which a
//! task on the web runtime drains ([`pump`]) and hands to clients, each with a bounded queue
//! ([`ws`], [`listen`]). Metrics are read at scrape time from the players' lock-free counters
//! ([`receive`] for players, [`traffic`] for `send` and `relay`). docs/web.md describes it.

pub mod assets;
pub mod counts;
pub mod exposition;
pub mod guarded_io;
pub mod hub;
pub mod listen;
pub mod monitor_view;
pub mod pump;
pub mod receive;
pub mod routes;
pub mod server;
pub mod traffic;
pub mod ws;

pub use hub::{Role, WebHub};
pub use receive::ReceiveView;
pub use server::{Site, WebError, WebServer, WebThread};

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::registry::Registry;

/// A registry that serves `collector` under the `jitterplay_` prefix.
pub fn registry(collector: impl Collector) -> Registry {
    let mut registry = Registry::with_prefix("jitterplay");
    registry.register_collector(Box::new(collector));
    registry
}

/// The servers a command asked for (`--metrics-listen`, `--web`, or both), bound.
#[derive(Debug, Clone)]
pub struct Servers {
    servers: Vec<WebServer>,
    /// The dashboard's hub, with `--web`.
    pub hub: Option<Arc<WebHub>>,
}

impl Servers {
    /// Binds what was asked; `collector` makes each server's metrics. `None` if nothing was.
    pub fn bind<C: Collector + 'static>(
        metrics_listen: Option<SocketAddr>,
        web: Option<SocketAddr>,
        hub: impl FnOnce() -> Arc<WebHub>,
        collector: impl Fn() -> C,
    ) -> Result<Option<Self>, WebError> {
        let mut servers = Vec::new();
        if let Some(addr) = metrics_listen {
            servers.push(WebServer::bind(addr, Site::Metrics(registry(collector())))?);
        }
        let mut the_hub = None;
        if let Some(addr) = web {
            let hub = hub();
            servers.push(WebServer::bind(
                addr,
                Site::Dashboard(registry(collector()), Arc::clone(&hub)),
            )?);
            the_hub = Some(hub);
        }
        Ok((!servers.is_empty()).then_some(Servers {
            servers,
            hub: the_hub,
        }))
    }

    /// Binds `monitor`'s servers: `--metrics-listen` (`/metrics`) and `--web` (the streams
    /// table, `/streams.json`, `/metrics`, `/healthz`), both reading `published`.
    pub fn bind_monitor(
        metrics_listen: Option<SocketAddr>,
        web: Option<SocketAddr>,
        published: &Arc<monitor_view::MonitorPublished>,
    ) -> Result<Option<Self>, WebError> {
        let collector = || monitor_view::MonitorView(Arc::clone(published));
        let mut servers = Vec::new();
        if let Some(addr) = metrics_listen {
            servers.push(WebServer::bind(addr, Site::Metrics(registry(collector())))?);
        }
        if let Some(addr) = web {
            let site = Site::Monitor(registry(collector()), Arc::clone(published));
            servers.push(WebServer::bind(addr, site)?);
        }
        Ok((!servers.is_empty()).then_some(Servers { servers, hub: None }))
    }

    /// The bound servers.
    pub fn servers(&self) -> &[WebServer] {
        &self.servers
    }

    /// Serves each on a thread of its own; dropping the threads stops them.
    pub fn spawn_threads(&self) -> Result<Vec<WebThread>, WebError> {
        self.servers.iter().map(WebThread::spawn).collect()
    }

    /// Serves each as a task of `runtime`.
    pub fn spawn_on(&self, runtime: &tokio::runtime::Runtime) {
        for server in &self.servers {
            runtime.spawn(server.serve());
        }
    }

    /// After the stream: waits for a final scrape of the first server (see
    /// [`WebServer::linger_for_final_scrape`]).
    pub fn linger(&self, linger: Duration, stop: &AtomicBool) {
        if let Some(first) = self.servers.first() {
            first.linger_for_final_scrape(linger, stop);
        }
    }

    /// [`Servers::linger`] on a runtime that also serves them.
    pub async fn linger_async(&self, linger: Duration, stop: &AtomicBool) {
        if let Some(first) = self.servers.first() {
            first.linger_for_final_scrape_async(linger, stop).await;
        }
    }
}

/// A receiving player's servers: the bound servers and the view their metrics read.
#[derive(Debug, Clone)]
pub struct ReceiveExport {
    /// The bound servers.
    pub servers: Servers,
    /// What `/metrics` serves, filled in as the stream becomes known.
    pub view: Arc<ReceiveView>,
}

impl ReceiveExport {
    /// Binds `--metrics-listen` and `--web` for a receiving player whose buffer's ceiling is
    /// `ceiling`; `None` if neither was asked.
    pub fn bind(
        metrics_listen: Option<SocketAddr>,
        web: Option<SocketAddr>,
        ceiling: Option<Duration>,
    ) -> Result<Option<Self>, WebError> {
        let view = ReceiveView::new();
        let hub = || WebHub::new(Role::Player, ceiling.map(|c| c.as_secs_f64() * 1e3));
        let servers = Servers::bind(metrics_listen, web, hub, || Arc::clone(&view))?;
        Ok(servers.map(|servers| ReceiveExport { servers, view }))
    }

    /// The dashboard's hub, with `--web`.
    pub fn hub(&self) -> Option<&Arc<WebHub>> {
        self.servers.hub.as_ref()
    }
}
