//! The `--metrics-listen` endpoint: a minimal HTTP/1.1 responder for `GET /metrics`, served as a
//! task on the tokio runtime the command already runs (no second runtime, no HTTP stack).
//!
//! Connections are answered one at a time, each within [`CONNECTION_DEADLINE`]: a scraper
//! asks every few seconds, so a queue of one is enough, and a client that stalls costs at most
//! that long. A scrape encodes the collectors registered in the [`Registry`], which read the
//! players' lock-free metrics; nothing here reaches the audio path.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::request::{parse_head, response, Request, MAX_REQUEST_HEAD, OPENMETRICS_CONTENT_TYPE};

/// How long one connection may take, from accept to the last byte written.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(5);

/// Why the endpoint could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The address could not be bound (in use, not local, no permission).
    #[error("cannot listen for metrics on {addr}: {error}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        error: std::io::Error,
    },
    /// The listening socket could not be set up for the runtime.
    #[error("cannot serve metrics on {addr}: {error}")]
    Setup {
        /// The address listened on.
        addr: SocketAddr,
        /// What the system said.
        error: std::io::Error,
    },
}

/// What the endpoint has answered, for tests and for waiting on a final scrape.
#[derive(Debug, Default)]
pub struct EndpointCounts {
    /// `GET /metrics` requests (counted before their values are read).
    pub scrapes: AtomicU64,
    /// Requests answered with 404 or 405.
    pub refused: AtomicU64,
    /// Garbage, oversize or timed-out requests (answered 400 or dropped).
    pub bad: AtomicU64,
}

/// A bound metrics endpoint and what it serves; cheap to clone, served by [`MetricsEndpoint::serve`].
#[derive(Debug, Clone)]
pub struct MetricsEndpoint {
    listener: Arc<TcpListener>,
    addr: SocketAddr,
    registry: Arc<Registry>,
    counts: Arc<EndpointCounts>,
}

impl MetricsEndpoint {
    /// After a stream ended: keeps the caller until one scrape has read the final values, or
    /// `linger` has passed, or `stop` is set, so that a scraper always sees the last figures.
    /// Blocking (polled: the wait is for another process, at a scraper's pace); the endpoint
    /// must be served by another thread meanwhile.
    pub fn linger_for_final_scrape(&self, linger: Duration, stop: &AtomicBool) {
        if linger.is_zero() {
            return;
        }
        let scrapes = || self.counts.scrapes.load(Ordering::Relaxed);
        let before = scrapes();
        tracing::info!(addr = %self.addr, ?linger, "serving the final metrics until scraped");
        let deadline = std::time::Instant::now() + linger;
        while scrapes() == before
            && std::time::Instant::now() < deadline
            && !stop.load(Ordering::Acquire)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// [`MetricsEndpoint::linger_for_final_scrape`] on a tokio runtime that also serves it.
    pub async fn linger_for_final_scrape_async(&self, linger: Duration, stop: &AtomicBool) {
        if linger.is_zero() {
            return;
        }
        let scrapes = || self.counts.scrapes.load(Ordering::Relaxed);
        let before = scrapes();
        tracing::info!(addr = %self.addr, ?linger, "serving the final metrics until scraped");
        let deadline = tokio::time::Instant::now() + linger;
        while scrapes() == before
            && tokio::time::Instant::now() < deadline
            && !stop.load(Ordering::Acquire)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Binds `addr` now (so a bad address fails before anything starts), serving `registry`.
    pub fn bind(addr: SocketAddr, registry: Registry) -> Result<Self, MetricsError> {
        let listener =
            TcpListener::bind(addr).map_err(|error| MetricsError::Bind { addr, error })?;
        let local = listener
            .local_addr()
            .map_err(|error| MetricsError::Setup { addr, error })?;
        listener
            .set_nonblocking(true)
            .map_err(|error| MetricsError::Setup { addr, error })?;
        Ok(MetricsEndpoint {
            listener: Arc::new(listener),
            addr: local,
            registry: Arc::new(registry),
            counts: Arc::default(),
        })
    }

    /// The address listened on (with the port chosen when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// What has been answered so far.
    pub fn counts(&self) -> &EndpointCounts {
        &self.counts
    }

    /// Answers requests until the task is dropped (its runtime ends). Spawn it on the
    /// command's runtime; it must run inside one (it registers the socket with the reactor).
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
                    tracing::error!(addr = %this.addr, %error, "cannot serve metrics");
                    return;
                }
            };
            tracing::info!(addr = %this.addr, "serving metrics at /metrics");
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let answered =
                            tokio::time::timeout(CONNECTION_DEADLINE, this.answer(stream)).await;
                        if answered.is_err() {
                            this.counts.bad.fetch_add(1, Relaxed);
                            tracing::debug!(%peer, "metrics request timed out");
                        }
                    }
                    // Out of descriptors, a connection reset before accept: try the next one.
                    Err(error) => tracing::debug!(%error, "metrics accept failed"),
                }
            }
        }
    }

    async fn answer(&self, mut stream: tokio::net::TcpStream) {
        let mut buf = vec![0u8; MAX_REQUEST_HEAD];
        let mut len = 0;
        let request = loop {
            match stream.read(&mut buf[len..]).await {
                Ok(0) | Err(_) => break Request::Bad,
                Ok(n) => {
                    len += n;
                    match parse_head(&buf[..len]) {
                        Request::Incomplete => {}
                        r => break r,
                    }
                }
            }
        };
        let counter = match request {
            Request::Metrics => &self.counts.scrapes,
            Request::NotFound | Request::MethodNotAllowed => &self.counts.refused,
            Request::Bad | Request::Incomplete => &self.counts.bad,
        };
        // Counted before the values are read, so a scrape counted after some moment read
        // values from after it; and before the client can see the answer end, so a client
        // that has read one finds it counted.
        counter.fetch_add(1, Relaxed);
        let bytes = match request {
            Request::Metrics => {
                let mut body = String::new();
                match prometheus_client::encoding::text::encode(&mut body, &self.registry) {
                    Ok(()) => response("200 OK", OPENMETRICS_CONTENT_TYPE, &body),
                    Err(_) => {
                        response("500 Internal Server Error", "text/plain", "cannot encode\n")
                    }
                }
            }
            other => {
                let status = other.status().unwrap_or("400 Bad Request");
                response(status, "text/plain", &format!("{status}\n"))
            }
        };
        if stream.write_all(&bytes).await.is_ok() {
            let _ = stream.shutdown().await;
        }
    }
}

/// The endpoint served from a thread of its own with a minimal current_thread runtime, for
/// commands that run no tokio runtime (capture replay runs in virtual time on plain threads).
/// Dropping it stops the endpoint.
#[derive(Debug)]
pub struct EndpointThread {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EndpointThread {
    /// Starts serving `endpoint` on a new thread.
    pub fn spawn(endpoint: &MetricsEndpoint) -> Result<Self, MetricsError> {
        let addr = endpoint.local_addr();
        let setup = |error| MetricsError::Setup { addr, error };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(setup)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serve = endpoint.serve();
        let thread = std::thread::Builder::new()
            .name("jitterplay-metrics".into())
            .spawn(move || {
                runtime.block_on(async {
                    tokio::select! {
                        () = serve => {}
                        _ = stopped => {}
                    }
                });
            })
            .map_err(setup)?;
        Ok(EndpointThread {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EndpointThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn exchange(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let _ = s.write_all(request);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    #[test]
    fn answers_scrapes_refuses_the_rest_and_survives_garbage() {
        let mut registry = Registry::with_prefix("jitterplay");
        let counter: prometheus_client::metrics::counter::Counter = Default::default();
        counter.inc_by(7);
        registry.register("example", "An example", counter);
        let endpoint =
            MetricsEndpoint::bind("127.0.0.1:0".parse().expect("addr"), registry).expect("bind");
        let addr = endpoint.local_addr();
        let thread = EndpointThread::spawn(&endpoint).expect("spawn");

        let ok = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(
            ok.contains(&format!("Content-Type: {OPENMETRICS_CONTENT_TYPE}\r\n")),
            "{ok}"
        );
        assert!(ok.contains("\njitterplay_example_total 7\n"), "{ok}");
        assert!(ok.ends_with("# EOF\n"), "{ok}");

        let missing = exchange(addr, b"GET /other HTTP/1.1\r\n\r\n");
        assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
        let post = exchange(addr, b"POST /metrics HTTP/1.1\r\n\r\n");
        assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
        let garbage = exchange(addr, &[0xff; 100]);
        assert!(garbage.starts_with("HTTP/1.1 400 "), "{garbage}");
        let oversize = exchange(addr, &vec![b'G'; 3 * MAX_REQUEST_HEAD]);
        assert!(
            oversize.starts_with("HTTP/1.1 400 ") || oversize.is_empty(),
            "{oversize}"
        );
        // Still serving after all that.
        let again = exchange(addr, b"GET /metrics HTTP/1.0\r\n\r\n");
        assert!(again.starts_with("HTTP/1.1 200 OK\r\n"), "{again}");

        let c = endpoint.counts();
        assert_eq!(c.scrapes.load(Relaxed), 2);
        assert_eq!(c.refused.load(Relaxed), 2);
        assert_eq!(c.bad.load(Relaxed), 2);
        drop(thread);
    }

    #[test]
    fn a_bound_port_is_a_clear_error() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr");
        let error = MetricsEndpoint::bind(addr, Registry::default()).expect_err("in use");
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot listen for metrics on {addr}: ")),
            "{error}"
        );
    }
}
