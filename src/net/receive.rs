//! The network task of the live player: receive RTP over UDP, stamp arrival, filter, queue.
//!
//! It decides only what a socket must: which sender is accepted (the first valid one, unless
//! the URL names one), what is too large, and what exceeds the packet-rate cap. Everything else
//! is the receive core's job on the decoder thread, reached through a lock-free queue, so this
//! task never waits on the decoder.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::datagram_queue::DatagramSender;
use super::packet_saver::SaveTap;
use super::rtp_url::RtpUrl;
use super::stamped_recv;

/// Default cap on packets per second from the accepted sender (far above any audio stream,
/// low enough that a flood cannot eat the decoder thread).
pub const DEFAULT_RATE_CAP: u32 = 10_000;

mod intake;
mod modes;
mod ticker;

pub use super::bind::{bind, ReceiveError, DEFAULT_RECV_BUFFER};
pub use super::stats::{NetSnapshot, NetStats};
pub use intake::MAX_DATAGRAM;
use intake::{packet_rate_cap, Intake};

/// Longest the network task sleeps between two reads of the socket: the kernel stamps each
/// datagram's arrival, so reading a few at a time costs the jitter estimate nothing, and a 3 s
/// buffer does not notice 40 ms. Small targets read sooner (see [`batch_interval`]).
const MAX_BATCH: Duration = Duration::from_millis(40);

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

#[cfg(test)]
mod tests {
    use super::intake::accept;
    use super::*;
    use std::net::SocketAddr;

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
