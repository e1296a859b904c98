//! The HTTP server behind `--web` and `--metrics-listen`: hyper (HTTP/1.1 with upgrades for
//! WebSockets) serving an axum router, on a tokio runtime.
//!
//! What keeps hostile clients from costing anything: a cap on connections (over it, a
//! connection is closed at once and counted); a deadline for each request head and a size
//! limit on it (hyper's, so slow, idle and garbage-sending clients are closed); a write that
//! stalls closes its connection ([`super::guarded_io`]); short routes have their own deadline
//! and concurrency limit ([`super::routes`]). Nothing here reaches the audio path: the player
//! only pushes into the hub's lock-free taps.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use prometheus_client::registry::Registry;
use tokio::sync::Semaphore;

use super::counts::WebStats;
use super::guarded_io::{GuardedStream, WRITE_STALL};
use super::hub::WebHub;
use super::monitor_view::MonitorPublished;
use super::pump::Pump;
use super::routes;

/// Connections served at once; more are closed as they arrive (and counted).
pub const MAX_CONNECTIONS: usize = 4096;
/// How long a client has to send a whole request head (and an idle connection stays open).
pub const HEAD_DEADLINE: Duration = Duration::from_secs(5);
/// The kernel send buffer of each connection (a second of `/listen.wav` at 48 kHz stereo).
pub const SEND_BUFFER: usize = 192 * 1024;
/// The largest request head taken (hyper answers 431 beyond it).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Why the server could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The address could not be bound (in use, not local, no permission).
    #[error("cannot listen for {what} on {addr}: {error}")]
    Bind {
        /// What was to be served ("metrics", "the web view").
        what: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        error: std::io::Error,
    },
    /// The listening socket or the server's thread could not be set up.
    #[error("cannot serve on {addr}: {error}")]
    Setup {
        /// The address listened on.
        addr: SocketAddr,
        /// What the system said.
        error: std::io::Error,
    },
}

/// What a server serves.
pub enum Site {
    /// `--metrics-listen`: `/metrics` alone.
    Metrics(Registry),
    /// `--web`: the dashboard, its feed, the audio, the metrics and the status.
    Dashboard(Registry, Arc<WebHub>),
    /// `monitor --web`: the streams table, its feed (`/streams.json`), the metrics and the
    /// status.
    Monitor(Registry, Arc<MonitorPublished>),
}

/// A bound server and what it serves; cheap to clone, served by [`WebServer::serve`].
#[derive(Clone)]
pub struct WebServer {
    listener: Arc<TcpListener>,
    addr: SocketAddr,
    router: Router,
    counts: Arc<WebStats>,
    hub: Option<Arc<WebHub>>,
}

impl std::fmt::Debug for WebServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl WebServer {
    /// Binds `addr` now (so a bad address fails before anything starts).
    pub fn bind(addr: SocketAddr, site: Site) -> Result<Self, WebError> {
        crate::net::socket::raise_descriptor_limit();
        let what = match site {
            Site::Metrics(_) => "metrics",
            Site::Dashboard(..) | Site::Monitor(..) => "the web view",
        };
        let listener =
            TcpListener::bind(addr).map_err(|error| WebError::Bind { what, addr, error })?;
        let setup = |error| WebError::Setup { addr, error };
        let local = listener.local_addr().map_err(setup)?;
        listener.set_nonblocking(true).map_err(setup)?;
        let (router, counts, hub) = match site {
            Site::Metrics(registry) => {
                let counts = Arc::new(WebStats::default());
                let router = routes::metrics_only(Arc::new(registry), Arc::clone(&counts));
                (router, counts, None)
            }
            Site::Dashboard(mut registry, hub) => {
                registry
                    .register_collector(Box::new(super::counts::WebView(Arc::clone(hub.counts()))));
                let counts = Arc::clone(hub.counts());
                let router = routes::dashboard(Arc::new(registry), Arc::clone(&hub));
                (router, counts, Some(hub))
            }
            Site::Monitor(mut registry, published) => {
                let counts = Arc::new(WebStats::default());
                registry.register_collector(Box::new(super::counts::WebView(Arc::clone(&counts))));
                let router = routes::monitor(Arc::new(registry), published, Arc::clone(&counts));
                (router, counts, None)
            }
        };
        Ok(WebServer {
            listener: Arc::new(listener),
            addr: local,
            router,
            counts,
            hub,
        })
    }

    /// The address listened on (with the port chosen when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// What has been answered and refused so far.
    pub fn counts(&self) -> &Arc<WebStats> {
        &self.counts
    }

    /// Serves until the task is dropped (its runtime ends). Spawn it on a runtime; it must run
    /// inside one (it registers the socket with the reactor).
    pub fn serve(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let this = self.clone();
        async move {
            let listener = match this
                .listener
                .try_clone()
                .and_then(tokio::net::TcpListener::from_std)
            {
                Ok(l) => l,
                Err(error) => {
                    tracing::error!(addr = %this.addr, %error, "cannot serve");
                    return;
                }
            };
            if let Some(hub) = &this.hub {
                tokio::spawn(Pump::new(Arc::clone(hub)).run());
                tracing::info!(addr = %this.addr, "dashboard at http://{}/", this.addr);
            } else {
                tracing::info!(addr = %this.addr, "serving at http://{}/", this.addr);
            }
            let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
            loop {
                let (stream, _peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of descriptors, or a connection reset before accept: wait a
                        // moment rather than spin, then take the next one.
                        tracing::debug!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    this.counts.http_refused_connections.add(1);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                // A small send buffer makes a client that stops reading show at once (its
                // updates queue, and are dropped, here), not after megabytes of kernel buffer.
                let _ = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER);
                let io = TokioIo::new(GuardedStream::new(
                    stream,
                    WRITE_STALL,
                    Arc::clone(&this.counts),
                ));
                let service = TowerToHyperService::new(this.router.clone());
                let counts = Arc::clone(&this.counts);
                tokio::spawn(async move {
                    let connection = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEAD_DEADLINE)
                        .max_buf_size(MAX_HEAD_BYTES)
                        .serve_connection(io, service)
                        .with_upgrades();
                    if let Err(error) = connection.await {
                        if error.is_timeout() || error.is_parse() || error.is_parse_too_large() {
                            counts.http_closed_bad.add(1);
                        }
                        tracing::debug!(%error, "connection closed");
                    }
                    drop(slot);
                });
            }
        }
    }

    /// After a stream ended: keeps the caller until one scrape has read the final values, or
    /// `linger` has passed, or `stop` is set, so that a scraper always sees the last figures.
    /// Blocking (polled: the wait is for another process, at a scraper's pace); the server
    /// must be served by another thread meanwhile.
    pub fn linger_for_final_scrape(&self, linger: Duration, stop: &AtomicBool) {
        if linger.is_zero() {
            return;
        }
        let before = self.counts.http_scrapes.get();
        tracing::info!(addr = %self.addr, ?linger, "serving the final metrics until scraped");
        let deadline = std::time::Instant::now() + linger;
        while self.counts.http_scrapes.get() == before
            && std::time::Instant::now() < deadline
            && !stop.load(Ordering::Acquire)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// [`WebServer::linger_for_final_scrape`] on a tokio runtime that also serves it.
    pub async fn linger_for_final_scrape_async(&self, linger: Duration, stop: &AtomicBool) {
        if linger.is_zero() {
            return;
        }
        let before = self.counts.http_scrapes.get();
        tracing::info!(addr = %self.addr, ?linger, "serving the final metrics until scraped");
        let deadline = tokio::time::Instant::now() + linger;
        while self.counts.http_scrapes.get() == before
            && tokio::time::Instant::now() < deadline
            && !stop.load(Ordering::Acquire)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The server on a thread of its own with a current_thread runtime: the player's threads and
/// its network task never share a thread with HTTP clients. Dropping it stops the server.
#[derive(Debug)]
pub struct WebThread {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WebThread {
    /// Starts serving `server` on a new thread.
    pub fn spawn(server: &WebServer) -> Result<Self, WebError> {
        let addr = server.local_addr();
        let setup = |error| WebError::Setup { addr, error };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(setup)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serve = server.serve();
        let thread = std::thread::Builder::new()
            .name("jitterplay-web".into())
            .spawn(move || {
                runtime.block_on(async {
                    tokio::select! {
                        () = serve => {}
                        _ = stopped => {}
                    }
                });
            })
            .map_err(setup)?;
        Ok(WebThread {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for WebThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
