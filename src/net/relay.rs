//! `relay`: a userspace netem for UDP, forwarding any datagrams through the seeded network model.
//!
//! Kernel netem is often unavailable (containers, CI), so third-party senders (ffmpeg,
//! GStreamer) are tested through this relay instead: each datagram received on the listening
//! socket is offered to the [`ImpairQueue`] at its receive time and forwarded from a second
//! socket when the model says it arrives. Datagrams are not parsed; RTP or not, all are equal.
//!
//! RTCP travels both ways ([`RelayLegs`]): the listening port + 1 is forwarded to the
//! destination port + 1, and what the destination side sends back to either forwarding socket
//! (RTCP receiver reports and NACKs, muxed or on + 1) goes back to the last sender seen on the
//! matching listening port, through its own `reverse` impairment. Forward RTCP (sender
//! reports) shares the forward impairment and its queue: it crosses the same network as the
//! media, so a lossy path loses reports too.
//!
//! Receiving ends on `--duration` or `--idle-timeout`, after which what is still held is
//! forwarded on schedule; the stop future (Ctrl-C) ends at once, discarding what is held.

use std::fmt;
use std::future::Future;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use super::relay_error::RelayError;
use super::relay_legs::{Leg, RelayLegs, MAX_DATAGRAM};
use super::socket::{
    listening_socket, resolve, resolve_destination, sending_socket_at, SocketError,
};
use super::traffic_metrics::{TrafficMetrics, TrafficSnapshot};
use crate::netem::queue::{ImpairCounts, ImpairQueue, QueueLimits};
use crate::netem::spec::ImpairSpec;

/// Sleep target when no timer is pending: the loop then only wakes for datagrams or the stop.
const FAR_FUTURE: Duration = Duration::from_secs(24 * 3600);

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
    /// What the network does to datagrams coming back from the destination side (RTCP).
    pub reverse: ImpairSpec,
    /// Relay RTCP on the ports + 1 as well.
    pub rtcp: bool,
    /// Local port forwarded datagrams leave from (RTCP: + 1); any if not given.
    pub out_port: Option<u16>,
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
    /// RTCP datagrams received on the listening port + 1 (not in `received`).
    pub rtcp_received: u64,
    /// Of those, forwarded to the destination port + 1 (not in `forwarded`).
    pub rtcp_forwarded: u64,
    /// Datagrams received from the destination side (RTCP going back).
    pub reverse_received: u64,
    /// Of those, sent back to the sender.
    pub reverse_forwarded: u64,
    /// What the reverse impairment did.
    pub reverse_impairment: ImpairCounts,
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
        write!(
            f,
            " rtcp_received={} rtcp_forwarded={} reverse_received={} reverse_forwarded={} reverse_dropped={}",
            self.rtcp_received,
            self.rtcp_forwarded,
            self.reverse_received,
            self.reverse_forwarded,
            self.reverse_impairment.dropped
        )?;
        // The relay never reads or changes a payload: SRTP (which it could not read) passes
        // exactly as it came, and says so.
        f.write_str(" payloads=opaque")?;
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
    /// The RTCP pair (listening port + 1, forwarding to destination + 1), when relayed.
    rtcp: Option<(UdpSocket, UdpSocket)>,
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
        let sender = sending_socket_at(to, config.ttl, config.out_port.unwrap_or(0))?;
        let rtcp = if config.rtcp {
            super::relay_legs::rtcp_sockets(local, &sender, to, config.ttl)?
        } else {
            None
        };
        if config.impair.drift_ppm != 0.0 || config.reverse.drift_ppm != 0.0 {
            tracing::warn!("drift= only applies to send; the relay ignores it");
        }
        Ok(Relay {
            config,
            listener,
            sender,
            rtcp,
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

    /// The local address RTCP is relayed on (listening port + 1), if it is.
    pub fn rtcp_local_addr(&self) -> Option<SocketAddr> {
        self.rtcp.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// The local address forwarded datagrams leave from (replies to it travel back).
    pub fn out_addr(&self) -> Option<SocketAddr> {
        self.sender.local_addr().ok()
    }

    /// Relays until `--duration`/`--idle-timeout` (then drains) or until `stop` completes.
    ///
    /// Must run inside a tokio runtime with time and IO enabled.
    pub async fn run(self, stop: impl Future<Output = ()>) -> Result<RelayReport, RelayError> {
        let legs = RelayLegs::new(self.listener, self.sender, self.rtcp, self.to)?;
        // Datagrams are queued with their leg's tag in front.
        let mut forward = ImpairQueue::new(&self.config.impair, self.config.limits).with_prefix(1);
        let mut reverse = ImpairQueue::new(&self.config.reverse, self.config.limits).with_prefix(1);
        // One receive buffer per socket: their receive futures wait side by side.
        let mut bufs: [Vec<u8>; 4] = std::array::from_fn(|_| vec![0u8; MAX_DATAGRAM + 1]);
        let (mut received, mut forwarded, mut errors) = (0u64, 0u64, 0u64);
        let (mut reverse_received, mut reverse_forwarded) = (0u64, 0u64);
        let (mut rtcp_received, mut rtcp_forwarded) = (0u64, 0u64);
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
            if !receiving && forward.is_empty() && reverse.is_empty() {
                break;
            }
            let release = forward
                .next_due()
                .into_iter()
                .chain(reverse.next_due())
                .min()
                .map(|d| start + d);
            let wake = release
                .into_iter()
                .chain(end_receiving)
                .min()
                .unwrap_or_else(|| Instant::now() + FAR_FUTURE);
            sleep.as_mut().reset(wake.into());
            let [b0, b1, b2, b3] = &mut bufs;
            let arrival = tokio::select! {
                biased;
                () = &mut stop => { interrupted = true; break; }
                r = legs.recv(Leg::Media, b0), if receiving => Some((Leg::Media, r)),
                r = legs.recv(Leg::Rtcp, b1), if receiving && legs.has_rtcp() => Some((Leg::Rtcp, r)),
                r = legs.recv(Leg::MediaBack, b2), if receiving => Some((Leg::MediaBack, r)),
                r = legs.recv(Leg::RtcpBack, b3), if receiving && legs.has_rtcp() => Some((Leg::RtcpBack, r)),
                () = &mut sleep => None,
            };
            let now = Instant::now();
            match arrival {
                Some((leg, Ok((len, from)))) => {
                    last_datagram = now;
                    let tagged = &mut bufs[leg.index()][..=len];
                    tagged[0] = leg.tag();
                    if leg.is_reverse() {
                        reverse_received += 1;
                        reverse.offer(now - start, tagged);
                    } else {
                        if leg == Leg::Media {
                            let _ = self.metrics.source.set(from);
                        }
                        legs.saw_sender(leg, from);
                        match leg {
                            Leg::Rtcp => rtcp_received += 1,
                            _ => received += 1,
                        }
                        forward.offer(now - start, tagged);
                    }
                }
                Some((_, Err(error))) => {
                    errors += 1;
                    tracing::warn!(%error, "receive failed");
                }
                None => {}
            }
            if end_receiving.is_some_and(|end| now >= end) {
                receiving = false;
                tracing::info!(
                    held = forward.len() + reverse.len(),
                    "stopped receiving; forwarding what is held"
                );
            }
            for queue in [&mut forward, &mut reverse] {
                while let Some(bytes) = queue.pop_due(now - start) {
                    match legs.send_tagged(&bytes).await {
                        Ok(true) => match bytes.first().copied() {
                            Some(t) if t == Leg::Rtcp.tag() => rtcp_forwarded += 1,
                            Some(t) if t == Leg::Media.tag() => forwarded += 1,
                            _ => reverse_forwarded += 1,
                        },
                        Ok(false) => {}
                        Err(error) => {
                            errors += 1;
                            tracing::warn!(%error, "forwarding failed");
                        }
                    }
                    queue.recycle(bytes);
                }
            }
            self.metrics.publish(&TrafficSnapshot {
                received,
                datagrams: forwarded,
                errors,
                impairment: Some(forward.counts()),
                held: forward.len() as u64,
                reverse: legs.has_rtcp().then(|| reverse.counts()),
                ..TrafficSnapshot::default()
            });
        }
        Ok(RelayReport {
            received,
            forwarded,
            impairment: forward.counts(),
            discarded: (forward.len() + reverse.len()) as u64,
            errors,
            rtcp_received,
            rtcp_forwarded,
            reverse_received,
            reverse_forwarded,
            reverse_impairment: reverse.counts(),
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
            reverse: "delay=0ms".parse().unwrap(),
            rtcp: false,
            out_port: None,
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
