//! The network task of the live player: receive RTP over UDP, stamp arrival, filter, queue.
//!
//! It decides only what a socket must: which sender is accepted (the first valid one, unless
//! the URL names one), what is too large, and what exceeds the packet-rate cap. Everything else
//! is the receive core's job on the decoder thread, reached through a lock-free queue, so this
//! task never waits on the decoder.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::datagram_queue::DatagramSender;
use super::packet_saver::SaveTap;
use super::rtcp_link::{RtcpNetSnapshot, RtcpNetStats};
use super::rtp_url::RtpUrl;
use super::stamped_recv;
use crate::counters::{counter_table, Kind::*, Series};
use crate::rtcp::budget::TokenBucket;
use crate::rtcp::wire::looks_like_rtcp;

/// Largest UDP payload over IPv4 (65,535 − 8 − 20): loopback and jumbo-MTU links carry
/// datagrams this large, and the kernel reassembles fragmented ones, so all of them are valid input.
pub const MAX_DATAGRAM: usize = 65_507;
/// Receive buffer asked for when `--recv-buffer` is not given: the kernel grants twice this
/// (32 MiB, charged only while datagrams wait in it). A flood of 64 KiB datagrams at 260 MB/s
/// then needs over 100 ms to fill it, which leaves a batched read (every 40 ms at most) time to
/// notice the load and switch to reads at every readiness before any packet is dropped.
pub const DEFAULT_RECV_BUFFER: usize = 16 << 20;

/// Sets SO_RCVBUFFORCE (Linux, with CAP_NET_ADMIN), which is not capped by net.core.rmem_max.
#[cfg(target_os = "linux")]
fn force_recv_buffer(socket: &Socket, size: usize) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(value) = libc::c_int::try_from(size) else {
        return false;
    };
    // SAFETY: a plain setsockopt on a socket we own, with a pointer to a live c_int and its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

#[cfg(not(target_os = "linux"))]
fn force_recv_buffer(_socket: &Socket, _size: usize) -> bool {
    false
}

/// Default cap on packets per second from the accepted sender (far above any audio stream,
/// low enough that a flood cannot eat the decoder thread).
pub const DEFAULT_RATE_CAP: u32 = 10_000;

/// Why receiving could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// A socket operation failed.
    #[error("cannot {what} {addr}: {error}")]
    Socket {
        /// What was attempted.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// What the operating system said.
        error: std::io::Error,
    },
}

counter_table! {
    /// Counters of the network task, read without locks by status and stats views. Every
    /// datagram read from the socket is counted in `datagrams` and in exactly one of
    /// `accepted`, `foreign`, `oversize`, `rate_limited` and `queue_full`; `kernel_drops` are
    /// the datagrams the kernel dropped before they could be read (not in `datagrams`).
    cells NetStats;
    /// A serialisable copy of [`NetStats`]' counters.
    snapshot NetSnapshot {
        /// Datagrams received.
        datagrams: u64 = Count => Series::new(Counter, "datagrams_received", "Datagrams received on the socket"),
        /// Bytes received.
        bytes: u64 = Count => Series::new(BytesCounter, "received", "Bytes received on the socket"),
        /// Datagrams queued for the receive core, which counts what becomes of each.
        accepted: u64 = Count => Series::new(Counter, "datagrams_accepted", "Datagrams queued for the receive core"),
        /// Datagrams from an address other than the accepted sender's.
        foreign: u64 = Count => Series::drop("foreign_address"),
        /// Datagrams longer than [`MAX_DATAGRAM`].
        oversize: u64 = Count => Series::drop("oversize"),
        /// Datagrams over the packet-rate cap.
        rate_limited: u64 = Count => Series::drop("rate_limited"),
        /// Datagrams dropped because the decoder's queue was full.
        queue_full: u64 = Count => Series::drop("queue_full"),
        /// The kernel's own drop count for the socket (receive buffer overflow).
        kernel_drops: u64 = Count => Series::drop("kernel"),
        /// Receive buffer size the kernel granted the RTP socket, in bytes.
        recv_buffer: u64 = Count => Series::new(BytesGauge, "socket_receive_buffer", "Receive buffer (SO_RCVBUF) the kernel granted the RTP socket"),
        /// Times heavy traffic turned batched reads into reads at every readiness.
        busy_spells: u64 = Count => Series::new(Counter, "busy_read_spells", "Times heavy traffic turned batched socket reads into reads at every readiness"),
    }
    nested {
        /// RTCP's counters and addresses.
        rtcp: RtcpNetStats => RtcpNetSnapshot,
    }
    extra {
        /// The accepted sender, once one is.
        source: OnceLock<SocketAddr>,
        /// `--save-packets`' counters, when saving.
        save: OnceLock<Arc<super::packet_saver::SaveStats>>,
    }
}

/// Binds the socket an `rtp://` URL describes: reuse for multicast, SO_RCVBUF if asked, group
/// join (source-specific when a source is named). Returns it non-blocking, and stores the receive
/// buffer the kernel granted in `granted_buffer` (each socket has its own figure).
pub fn bind(
    url: &RtpUrl,
    recv_buffer: Option<usize>,
    granted_buffer: &AtomicU64,
) -> Result<std::net::UdpSocket, ReceiveError> {
    let addr = url.bind;
    let err = |what| move |error| ReceiveError::Socket { what, addr, error };
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(err("open a socket for"))?;
    if url.group.is_some() {
        socket.set_reuse_address(true).map_err(err("configure"))?;
    }
    match recv_buffer {
        Some(size) => socket
            .set_recv_buffer_size(size)
            .map_err(err("set the receive buffer of"))?,
        // A few 64 KiB datagrams would fill the kernel's default (about 208 KiB): ask for room
        // for a burst, beyond net.core.rmem_max where we may (root), else as much as allowed.
        None => {
            if !force_recv_buffer(&socket, DEFAULT_RECV_BUFFER) {
                let _ = socket.set_recv_buffer_size(DEFAULT_RECV_BUFFER);
            }
        }
    }
    // Linux doubles the value for bookkeeping and caps it at net.core.rmem_max: report what it gave.
    let granted = socket.recv_buffer_size().unwrap_or(0);
    granted_buffer.store(granted as u64, Relaxed);
    if recv_buffer.is_some_and(|asked| granted < asked) {
        tracing::warn!(
            asked = recv_buffer,
            granted,
            "the kernel granted a smaller receive buffer (see net.core.rmem_max)"
        );
    }
    socket.bind(&addr.into()).map_err(err("bind"))?;
    match (url.group, url.source) {
        (Some(IpAddr::V4(group)), Some(IpAddr::V4(source))) => {
            socket.join_ssm_v4(&source, &group, &std::net::Ipv4Addr::UNSPECIFIED)
        }
        (Some(IpAddr::V4(group)), _) => {
            socket.join_multicast_v4(&group, &std::net::Ipv4Addr::UNSPECIFIED)
        }
        (Some(IpAddr::V6(group)), _) => socket.join_multicast_v6(&group, 0),
        (None, _) => Ok(()),
    }
    .map_err(err("join the multicast group"))?;
    socket.set_nonblocking(true).map_err(err("configure"))?;
    Ok(socket.into())
}

mod modes;

use modes::{DrainLoad, DATAGRAM_OVERHEAD};

/// Longest the network task sleeps between two reads of the socket: the kernel stamps each
/// datagram's arrival, so reading a few at a time costs the jitter estimate nothing, and a 3 s
/// buffer does not notice 40 ms. Small targets read sooner (see [`batch_interval`]).
const MAX_BATCH: Duration = Duration::from_millis(40);

/// Most datagrams read in one go before the task looks at `stop` again (a flood must not hold it).
const DRAIN_LIMIT: usize = 1024;

/// How long the network task may let datagrams wait in the socket for a target window whose
/// floor is `target_min`: an eighth of it, at most 40 ms.
pub fn batch_interval(target_min: Duration) -> Duration {
    (target_min / 8).min(MAX_BATCH)
}

/// Receives until `stop` resolves, stamping each datagram with its arrival since `origin`.
///
/// With kernel arrival stamps (Linux) and a non-zero `batch`, the socket stays out of the event
/// loop while the traffic is light: the task wakes once per `batch` and drains it, so a
/// 200 packets/s stream costs 25 wake-ups a second instead of 200 (a socket registered for
/// readiness would wake the thread at every datagram even while the task sleeps). A drain that
/// finds more than a small share of the socket's buffer queued (see [`modes`]) means the next
/// sleep could overflow it, and the kernel would then drop the stream's packets along with the
/// flood's: the task registers the socket and reads at every readiness until the load has been
/// light for a while, then goes back to batches. Without stamps each datagram is read, and
/// stamped, as it comes.
#[allow(clippy::too_many_arguments)]
pub async fn receive(
    socket: std::net::UdpSocket,
    url: RtpUrl,
    rate_cap: u32,
    origin: Instant,
    mut queue: DatagramSender,
    stats: Arc<NetStats>,
    stop: impl Future<Output = ()>,
    batch: Duration,
    save: Option<SaveTap>,
    rtcp: Option<std::net::UdpSocket>,
) {
    let port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
    let mut rx = Intake {
        url,
        stats,
        bucket: packet_rate_cap(rate_cap),
        buf: vec![0u8; 65_536],
        origin,
        save,
    };
    tokio::pin!(stop);
    if !batch.is_zero() && stamped_recv::enable(&socket) {
        if let Some(r) = &rtcp {
            stamped_recv::enable(r);
        }
        modes::batched_or_busy(
            socket,
            rtcp.as_ref(),
            &mut rx,
            &mut queue,
            port,
            batch,
            stop,
        )
        .await;
        return;
    }
    tracing::debug!("no kernel arrival stamps: reading each datagram as it comes");
    modes::each_datagram(socket, rtcp, &mut rx, &mut queue, port, stop).await;
}

/// The receiving side's state: what it checks datagrams against, and the buffer it reads into.
struct Intake {
    url: RtpUrl,
    stats: Arc<NetStats>,
    bucket: TokenBucket,
    buf: Vec<u8>,
    origin: Instant,
    /// `--save-packets`: every datagram read, before any check.
    save: Option<SaveTap>,
}

impl Intake {
    /// The part of the socket's buffer one drain may find queued before reads turn
    /// readiness-driven: an eighth, so a load that doubles twice before the next drain still fits.
    fn share(&self) -> u64 {
        self.stats.recv_buffer.load(Relaxed).max(1 << 16) / 8
    }

    /// Reads with `recv` until the socket is empty (or [`DRAIN_LIMIT`]), and says how much it
    /// read. With `hold_back`, it stops while the queue could not take the largest datagram and
    /// wakes the decoder thread to empty it: the rest waits in the socket's (16 MiB) buffer for
    /// the next round instead of being dropped, so a burst after a freeze is not lost to the
    /// queue's size.
    fn drain(
        &mut self,
        queue: &mut DatagramSender,
        hold_back: bool,
        mut recv: impl FnMut(&mut [u8]) -> std::io::Result<stamped_recv::Received>,
    ) -> DrainLoad {
        let mut load = DrainLoad::default();
        for _ in 0..DRAIN_LIMIT {
            if hold_back && !queue.has_room(MAX_DATAGRAM) {
                queue.wake_decoder();
                load.held_back = true;
                return load;
            }
            let got = match recv(&mut self.buf) {
                Ok(got) => got,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    load.emptied = true;
                    return load;
                }
                // An ICMP error reported on the socket, or a datagram from a non-IP sender: that
                // one read fails, the next may not.
                Err(e) => {
                    tracing::debug!(error = %e, "receive error");
                    continue;
                }
            };
            load.datagrams += 1;
            load.bytes += got.len as u64 + DATAGRAM_OVERHEAD;
            // The kernel's stamp: time spent in the socket is not network delay.
            let arrival = self.origin.elapsed().saturating_sub(got.waited);
            let datagram = &self.buf[..got.len.min(self.buf.len())];
            if let Some(save) = self.save.as_mut() {
                save.save(got.from, datagram, arrival);
            }
            handle(
                &self.url,
                &self.stats,
                &mut self.bucket,
                queue,
                got.from,
                datagram,
                arrival,
            );
        }
        load.hit_limit = true;
        load
    }

    /// Reads the RTCP socket dry: RTCP from the sender's host goes to the core's RTCP session.
    fn drain_rtcp(
        &mut self,
        queue: &mut DatagramSender,
        mut recv: impl FnMut(&mut [u8]) -> std::io::Result<stamped_recv::Received>,
    ) {
        for _ in 0..DRAIN_LIMIT {
            let got = match recv(&mut self.buf) {
                Ok(got) => got,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => continue,
            };
            let arrival = self.origin.elapsed().saturating_sub(got.waited);
            let datagram = &self.buf[..got.len.min(self.buf.len())];
            // The RTP socket's counters stay about RTP: RTCP on its own port is counted apart.
            let rtcp = &self.stats.rtcp;
            let from_source = self.url.source.is_none_or(|s| s == got.from.ip())
                && self
                    .stats
                    .source
                    .get()
                    .is_some_and(|l| l.ip() == got.from.ip());
            if !looks_like_rtcp(datagram) || !from_source {
                rtcp.rtcp_refused.fetch_add(1, Relaxed);
                continue;
            }
            let _ = rtcp.peer.set(got.from);
            if queue.push(datagram, arrival) {
                rtcp.rtcp_received.fetch_add(1, Relaxed);
            } else {
                rtcp.rtcp_refused.fetch_add(1, Relaxed);
            }
        }
    }

    fn poll_kernel_drops(&self, port: u16) {
        if let Some(drops) = super::kernel_drops::udp_drops(port) {
            self.stats.kernel_drops.store(drops, Relaxed);
        }
    }
}

/// Counts one datagram and queues it for the decoder thread if it passes the socket's checks.
fn handle(
    url: &RtpUrl,
    stats: &NetStats,
    bucket: &mut TokenBucket,
    queue: &mut DatagramSender,
    from: SocketAddr,
    datagram: &[u8],
    arrival: Duration,
) {
    let len = datagram.len();
    stats.datagrams.fetch_add(1, Relaxed);
    stats.bytes.fetch_add(len as u64, Relaxed);
    if len > MAX_DATAGRAM {
        stats.oversize.fetch_add(1, Relaxed);
    } else if !accept(url, stats, from, datagram) {
        stats.foreign.fetch_add(1, Relaxed);
    } else if !bucket.take(1.0, arrival) {
        stats.rate_limited.fetch_add(1, Relaxed);
    } else if queue.push(datagram, arrival) {
        if looks_like_rtcp(datagram) {
            // RTCP on the RTP port (RFC 5761): reports and NACKs go back the same way.
            stats.rtcp.rtcp_received.fetch_add(1, Relaxed);
            stats.rtcp.muxed.store(true, Relaxed);
        }
        stats.accepted.fetch_add(1, Relaxed);
    } else {
        stats.queue_full.fetch_add(1, Relaxed);
    }
}

/// The first sender of something that looks like RTP is locked in, unless the URL names one.
fn accept(url: &RtpUrl, stats: &NetStats, from: SocketAddr, datagram: &[u8]) -> bool {
    if let Some(source) = url.source {
        if from.ip() != source {
            return false;
        }
    }
    match stats.source.get() {
        Some(locked) => *locked == from,
        None => {
            // Only a packet that fully parses may lock the sender: one stray datagram must not
            // lock out the real stream.
            if crate::rtp::header::RtpHeader::parse(datagram).is_ok() {
                let _ = stats.source.set(from);
                tracing::info!(%from, "sender locked");
            }
            // Non-RTP junk before any sender is locked still reaches the core, which counts it
            // as malformed.
            true
        }
    }
}

/// A packet-rate cap of `rate` per second with a one-second burst allowance.
fn packet_rate_cap(rate: u32) -> TokenBucket {
    let rate = f64::from(rate.max(1));
    TokenBucket::new(rate, rate, Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_rtp_sender_is_locked_and_others_refused() {
        let url: RtpUrl = "rtp://@:5004".parse().unwrap();
        let stats = NetStats::default();
        let a: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:4000".parse().unwrap();
        let rtp = [0x80u8; 12];
        assert!(
            accept(&url, &stats, a, b"junk"),
            "junk reaches the core to be counted"
        );
        assert!(accept(&url, &stats, a, &rtp));
        assert!(!accept(&url, &stats, b, &rtp));
        assert!(accept(&url, &stats, a, &rtp));
    }

    #[test]
    fn a_named_source_is_the_only_one_accepted() {
        let url: RtpUrl = "rtp://10.0.0.2@0.0.0.0:5004".parse().unwrap();
        let stats = NetStats::default();
        assert!(!accept(
            &url,
            &stats,
            "10.0.0.1:4000".parse().unwrap(),
            &[0x80; 12]
        ));
        assert!(accept(
            &url,
            &stats,
            "10.0.0.2:4000".parse().unwrap(),
            &[0x80; 12]
        ));
    }

    #[test]
    fn a_full_queue_leaves_datagrams_in_the_socket_instead_of_dropping_them() {
        let url: RtpUrl = "rtp://@:5004".parse().unwrap();
        let stats = Arc::new(NetStats::default());
        let mut rx = Intake {
            url,
            stats: Arc::clone(&stats),
            bucket: packet_rate_cap(DEFAULT_RATE_CAP),
            buf: vec![0u8; 65_536],
            origin: Instant::now(),
            save: None,
        };
        let (mut queue, mut out) = super::super::datagram_queue::datagram_queue(3 * 65_536);
        let from: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        let mut socket: std::collections::VecDeque<usize> = (0..100).collect();
        let mut recv = |buf: &mut [u8]| match socket.pop_front() {
            Some(i) => {
                buf[..12].copy_from_slice(&[0x80, 96, 0, i as u8, 0, 0, 0, 0, 0, 0, 0, 1]);
                Ok(stamped_recv::Received {
                    len: 60_000,
                    from,
                    waited: Duration::ZERO,
                })
            }
            None => Err(std::io::ErrorKind::WouldBlock.into()),
        };
        // Three 60 kB datagrams leave a 192 KiB queue without room for a 64 KiB one: the rest
        // waits in the socket.
        assert!(rx.drain(&mut queue, true, &mut recv).held_back);
        assert_eq!(stats.snapshot().accepted, 3);
        assert_eq!(stats.snapshot().queue_full, 0);
        let mut got = Vec::new();
        while out.pop(&mut got).is_some() {}
        rx.drain(&mut queue, true, &mut recv);
        assert_eq!(stats.snapshot().accepted, 6);
        assert_eq!(
            stats.snapshot().datagrams,
            6,
            "nothing read that was not queued"
        );
        // Without holding back, what does not fit is dropped and counted.
        rx.drain(&mut queue, false, &mut recv);
        assert!(stats.snapshot().queue_full > 0);
    }

    #[test]
    fn the_rate_cap_allows_a_burst_then_the_rate() {
        let mut bucket = packet_rate_cap(100);
        let burst = (0..150)
            .filter(|_| bucket.take(1.0, Duration::ZERO))
            .count();
        assert_eq!(
            burst, 100,
            "a full bucket lets a second's worth through at once"
        );
        // A flood at 500 packets/s for 2 s: only the refill rate of 100/s gets through.
        let flood = (1..=1000)
            .filter(|i| bucket.take(1.0, Duration::from_millis(2 * i)))
            .count();
        assert!((198..=202).contains(&flood), "{flood}");
    }
}
