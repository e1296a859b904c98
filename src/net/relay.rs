//! `relay`: a userspace netem for UDP, forwarding any datagrams through the seeded network model.
//!
//! Kernel netem is often unavailable (containers, CI), so third-party senders (ffmpeg,
//! GStreamer) are tested through this relay instead: each datagram received on the listening
//! socket is offered to the [`ImpairQueue`] at its receive time and forwarded from a second
//! socket when the model says it arrives. Datagrams are not parsed; RTP or not, all are equal.
//! Receiving ends on `--duration` or `--idle-timeout`, after which what is still held is
//! forwarded on schedule; the stop future (Ctrl-C) ends at once, discarding what is held.

use std::fmt;
use std::future::Future;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::socket::{listening_socket, resolve, resolve_destination, sending_socket, SocketError};
use super::traffic_metrics::{TrafficMetrics, TrafficSnapshot};
use crate::netem::queue::{ImpairCounts, ImpairQueue, QueueLimits};
use crate::netem::spec::ImpairSpec;

/// Largest UDP payload (IPv4: 65 535 − 8 − 20), the size of the receive buffer.
const MAX_DATAGRAM: usize = 65_507;
/// Sleep target when no timer is pending: the loop then only wakes for datagrams or the stop.
const FAR_FUTURE: Duration = Duration::from_secs(24 * 3600);

/// Why the relay could not run.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// An address is not usable or a socket could not be set up.
    #[error(transparent)]
    Socket(#[from] SocketError),
    /// The async runtime could not take over a socket.
    #[error("cannot use the relay sockets: {0}")]
    Runtime(std::io::Error),
}

/// Where to listen, where to forward, and what the network does in between.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Listening `ADDR:PORT` (port 0 picks one; a multicast address joins the group).
    pub listen: String,
    /// Destination `HOST:PORT`.
    pub to: String,
    /// The impairment (its drift is ignored: a relay has no media clock).
    pub impair: ImpairSpec,
    /// Stop receiving after this long.
    pub duration: Option<Duration>,
    /// Stop receiving after this long without a datagram (counted from the start too).
    pub idle_timeout: Option<Duration>,
    /// Bound of the holding queue.
    pub limits: QueueLimits,
    /// Multicast TTL (unicast TTL for a unicast destination) of forwarded datagrams.
    pub ttl: Option<u32>,
}

/// What the relay did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayReport {
    /// Datagrams received.
    pub received: u64,
    /// Datagrams forwarded (received − dropped + duplicated − overflow − discarded − errors).
    pub forwarded: u64,
    /// What the impairment did.
    pub impairment: ImpairCounts,
    /// Copies still held when the relay was stopped, never forwarded.
    pub discarded: u64,
    /// Receive or send errors (logged).
    pub errors: u64,
    /// Wall time from start to end.
    pub elapsed: Duration,
    /// Whether the stop future (Ctrl-C) ended it.
    pub interrupted: bool,
}

impl fmt::Display for RelayReport {
    /// One line: `relayed received=200 forwarded=209 dropped=... elapsed=1.000s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "relayed received={} forwarded={} {}",
            self.received, self.forwarded, self.impairment
        )?;
        if self.discarded > 0 {
            write!(f, " discarded={}", self.discarded)?;
        }
        if self.errors > 0 {
            write!(f, " errors={}", self.errors)?;
        }
        write!(f, " elapsed={:.3}s", self.elapsed.as_secs_f64())?;
        if self.interrupted {
            f.write_str(" (interrupted)")?;
        }
        Ok(())
    }
}

/// A bound relay, ready to run.
pub struct Relay {
    config: RelayConfig,
    listener: UdpSocket,
    sender: UdpSocket,
    local: SocketAddr,
    to: SocketAddr,
    metrics: Arc<TrafficMetrics>,
}

impl Relay {
    /// Resolves both addresses and opens the sockets.
    pub fn bind(config: RelayConfig) -> Result<Relay, RelayError> {
        let listen = resolve(&config.listen)?;
        let to = resolve_destination(&config.to)?;
        let listener = listening_socket(listen)?;
        let local = listener.local_addr().map_err(|error| SocketError::Io {
            what: "read the address of",
            addr: listen,
            error,
        })?;
        let sender = sending_socket(to, config.ttl)?;
        if config.impair.drift_ppm != 0.0 {
            tracing::warn!("drift= only applies to send; the relay ignores it");
        }
        Ok(Relay {
            config,
            listener,
            sender,
            local,
            to,
            metrics: Arc::default(),
        })
    }

    /// The counters [`Relay::run`] publishes as it goes (for `--metrics-listen`).
    pub fn metrics(&self) -> &Arc<TrafficMetrics> {
        &self.metrics
    }

    /// The address actually listened on (with the port picked when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Where datagrams are forwarded.
    pub fn destination(&self) -> SocketAddr {
        self.to
    }

    /// Relays until `--duration`/`--idle-timeout` (then drains) or until `stop` completes.
    ///
    /// Must run inside a tokio runtime with time and IO enabled.
    pub async fn run(self, stop: impl Future<Output = ()>) -> Result<RelayReport, RelayError> {
        let listener =
            tokio::net::UdpSocket::from_std(self.listener).map_err(RelayError::Runtime)?;
        let sender = tokio::net::UdpSocket::from_std(self.sender).map_err(RelayError::Runtime)?;
        let mut queue = ImpairQueue::new(&self.config.impair, self.config.limits);
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let (mut received, mut forwarded, mut errors) = (0u64, 0u64, 0u64);
        let mut receiving = true;
        let mut interrupted = false;
        let start = Instant::now();
        let mut last_datagram = start;
        let sleep = tokio::time::sleep_until(start.into());
        tokio::pin!(sleep, stop);
        loop {
            let end_receiving = if receiving {
                let by_duration = self.config.duration.map(|d| start + d);
                let by_idle = self.config.idle_timeout.map(|i| last_datagram + i);
                by_duration.into_iter().chain(by_idle).min()
            } else {
                None
            };
            if !receiving && queue.is_empty() {
                break;
            }
            let release = queue.next_due().map(|d| start + d);
            let wake = release
                .into_iter()
                .chain(end_receiving)
                .min()
                .unwrap_or_else(|| Instant::now() + FAR_FUTURE);
            sleep.as_mut().reset(wake.into());
            tokio::select! {
                biased;
                () = &mut stop => { interrupted = true; break; }
                result = listener.recv_from(&mut buf), if receiving => match result {
                    Ok((len, from)) => {
                        let _ = self.metrics.source.set(from);
                        let now = Instant::now();
                        last_datagram = now;
                        received += 1;
                        queue.offer(now - start, &buf[..len]);
                    }
                    Err(error) => {
                        errors += 1;
                        tracing::warn!(%error, "receive failed");
                    }
                },
                () = &mut sleep => {}
            }
            let now = Instant::now();
            if end_receiving.is_some_and(|end| now >= end) {
                receiving = false;
                tracing::info!(
                    held = queue.len(),
                    "stopped receiving; forwarding what is held"
                );
            }
            while let Some(bytes) = queue.pop_due(now - start) {
                match sender.send_to(&bytes, self.to).await {
                    Ok(_) => forwarded += 1,
                    Err(error) => {
                        errors += 1;
                        tracing::warn!(%error, to = %self.to, "forwarding failed");
                    }
                }
                queue.recycle(bytes);
            }
            self.metrics.publish(&TrafficSnapshot {
                received,
                datagrams: forwarded,
                errors,
                impairment: Some(queue.counts()),
                held: queue.len() as u64,
                ..TrafficSnapshot::default()
            });
        }
        Ok(RelayReport {
            received,
            forwarded,
            impairment: queue.counts(),
            discarded: queue.len() as u64,
            errors,
            elapsed: start.elapsed(),
            interrupted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A relay on loopback with a 20 ms delay forwards every datagram, in order, and drains.
    #[test]
    fn forwards_and_drains_on_idle() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let relay = Relay::bind(RelayConfig {
            listen: "127.0.0.1:0".into(),
            to: rx.local_addr().unwrap().to_string(),
            impair: "delay=20ms".parse().unwrap(),
            duration: None,
            idle_timeout: Some(Duration::from_millis(300)),
            limits: QueueLimits::default(),
            ttl: None,
        })
        .unwrap();
        let target = relay.local_addr();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0u8..20 {
            tx.send_to(&[i], target).unwrap();
        }
        let report = runtime.block_on(relay.run(std::future::pending())).unwrap();
        assert_eq!((report.received, report.forwarded), (20, 20), "{report}");
        rx.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut got = Vec::new();
        let mut b = [0u8; 4];
        while let Ok((1, _)) = rx.recv_from(&mut b) {
            got.push(b[0]);
        }
        assert_eq!(got, (0u8..20).collect::<Vec<_>>());
    }
}
