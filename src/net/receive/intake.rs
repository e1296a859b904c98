//! The receiving side's state and its checks: what a drain reads, which datagrams are the
//! stream's, and what each read costs against the socket's buffer.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::net::datagram_queue::DatagramSender;
use crate::net::packet_saver::SaveTap;
use crate::net::rtp_url::RtpUrl;
use crate::net::stats::NetStats;
use crate::net::{kernel_drops, stamped_recv};
use crate::rtcp::budget::TokenBucket;
use crate::rtcp::wire::looks_like_rtcp;

/// Largest UDP payload over IPv4 (65,535 − 8 − 20): loopback and jumbo-MTU links carry
/// datagrams this large, and the kernel reassembles fragmented ones, so all of them are valid input.
pub const MAX_DATAGRAM: usize = 65_507;

/// Kernel bookkeeping charged to the socket's buffer per datagram beyond its bytes (the buffer
/// holds each datagram's whole allocation, so many small datagrams fill it long before their
/// bytes would).
pub(super) const DATAGRAM_OVERHEAD: u64 = 1024;

/// What one drain (or a window of drains) read, to judge the load.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct DrainLoad {
    /// Datagrams read.
    pub(super) datagrams: u64,
    /// Bytes read, with the kernel's per-datagram overhead.
    pub(super) bytes: u64,
    /// The drain stopped at [`DRAIN_LIMIT`] with more waiting.
    pub(super) hit_limit: bool,
    /// The drain stopped because the decoder's queue had no room.
    pub(super) held_back: bool,
    /// The socket was found empty.
    pub(super) emptied: bool,
}

impl DrainLoad {
    pub(super) fn add(&mut self, other: &DrainLoad) {
        self.datagrams += other.datagrams;
        self.bytes += other.bytes;
        self.hit_limit |= other.hit_limit;
    }

    /// Whether this much queued between two drains puts the socket's buffer at risk: more than
    /// `share` of it, or a drain cut short.
    pub(super) fn is_heavy(&self, share: u64) -> bool {
        self.hit_limit || self.bytes > share
    }
}

/// Most datagrams read in one go before the task looks at `stop` again (a flood must not hold it).
pub(super) const DRAIN_LIMIT: usize = 1024;

/// The receiving side's state: what it checks datagrams against, and the buffer it reads into.
pub(super) struct Intake {
    pub(super) url: RtpUrl,
    pub(super) stats: Arc<NetStats>,
    pub(super) bucket: TokenBucket,
    pub(super) buf: Vec<u8>,
    pub(super) origin: Instant,
    /// `--save-packets`: every datagram read, before any check.
    pub(super) save: Option<SaveTap>,
}

impl Intake {
    /// The part of the socket's buffer one drain may find queued before reads turn
    /// readiness-driven: an eighth, so a load that doubles twice before the next drain still fits.
    pub(super) fn share(&self) -> u64 {
        self.stats.recv_buffer.load(Relaxed).max(1 << 16) / 8
    }

    /// Reads with `recv` until the socket is empty (or [`DRAIN_LIMIT`]), and says how much it
    /// read. With `hold_back`, it stops while the queue could not take the largest datagram and
    /// wakes the decoder thread to empty it: the rest waits in the socket's (16 MiB) buffer for
    /// the next round instead of being dropped, so a burst after a freeze is not lost to the
    /// queue's size.
    pub(super) fn drain(
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
    pub(super) fn drain_rtcp(
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
            if queue.push(datagram, arrival, Some(got.from)) {
                rtcp.rtcp_received.fetch_add(1, Relaxed);
            } else {
                rtcp.rtcp_refused.fetch_add(1, Relaxed);
            }
        }
    }

    pub(super) fn poll_kernel_drops(&self, port: u16) {
        if let Some(drops) = kernel_drops::udp_drops(port) {
            self.stats.kernel_drops.store(drops, Relaxed);
        }
    }
}

/// Counts one datagram and queues it for the decoder thread if it passes the socket's checks.
pub(super) fn handle(
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
    } else if queue.push(datagram, arrival, Some(from)) {
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
pub(super) fn accept(url: &RtpUrl, stats: &NetStats, from: SocketAddr, datagram: &[u8]) -> bool {
    if let Some(source) = url.source {
        if from.ip() != source {
            return false;
        }
    }
    match stats.source.get() {
        Some(locked) => *locked == from,
        // SRTP: the decoder thread locks the first sender whose packet authenticates; until
        // then everything is let through to be authenticated, so a stray or hostile sender
        // cannot lock the real one out.
        None if stats.lock_after_auth.load(Relaxed) => true,
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
pub(super) fn packet_rate_cap(rate: u32) -> TokenBucket {
    let rate = f64::from(rate.max(1));
    TokenBucket::new(rate, rate, Duration::ZERO)
}
