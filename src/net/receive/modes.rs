//! How the network task reads: batched drains while traffic is light, a read at every
//! readiness while a drain finds more than a small share of the socket's buffer queued (a
//! flood would overflow it before the next batch), and every datagram as it comes where the
//! kernel cannot stamp arrivals.

use std::future::Future;
use std::time::{Duration, Instant};

use super::intake::{DrainLoad, Intake};
use super::ticker::Ticker;
use crate::net::datagram_queue::DatagramSender;
use crate::net::stamped_recv;
use std::sync::atomic::Ordering::Relaxed;

/// Batched drains while the load is light, readiness-driven reads while it is heavy.
pub(super) async fn batched_or_busy(
    mut socket: std::net::UdpSocket,
    rtcp: Option<&std::net::UdpSocket>,
    rx: &mut Intake,
    queue: &mut DatagramSender,
    port: u16,
    batch: Duration,
    mut stop: std::pin::Pin<&mut impl Future<Output = ()>>,
) {
    // The kernel's drop counter is read about once a second, counted in ticks so that the
    // thread has no second timer to wake for.
    let ticks_per_drops_poll = (DROPS_POLL.as_nanos() / batch.as_nanos().max(1)).max(1) as u64;
    let mut ticks_to_drops_poll = 0u64;
    let mut ticks = Ticker::new(batch);
    loop {
        let elapsed = tokio::select! {
            () = &mut stop => return,
            n = ticks.tick() => n,
        };
        if ticks_to_drops_poll <= elapsed {
            rx.poll_kernel_drops(port);
            ticks_to_drops_poll = ticks_per_drops_poll;
        } else {
            ticks_to_drops_poll -= elapsed;
        }
        let load = rx.drain(queue, true, |buf| stamped_recv::recv(&socket, buf));
        if let Some(r) = rtcp {
            rx.drain_rtcp(queue, |buf| stamped_recv::recv(r, buf));
        }
        if !load.is_heavy(rx.share()) {
            continue;
        }
        rx.stats.busy_spells.fetch_add(1, Relaxed);
        tracing::debug!(
            bytes = load.bytes,
            datagrams = load.datagrams,
            "heavy traffic: reading at every readiness"
        );
        // SAFETY: the descriptor belongs to `socket`, which the AsyncFd owns until
        // `into_inner` hands it back; nothing closes or replaces it meanwhile.
        let registered = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(socket, tokio::io::Interest::READABLE)
        };
        let fd = match registered {
            Ok(fd) => fd,
            Err(e) => {
                let (back, error) = e.into_parts();
                tracing::warn!(%error, "cannot register the socket: batched reads go on");
                socket = back;
                continue;
            }
        };
        let stopped = read_while_busy(&fd, rtcp, rx, queue, port, batch, &mut stop).await;
        socket = fd.into_inner();
        if stopped {
            return;
        }
        tracing::debug!("traffic light again: back to batched reads");
    }
}

/// How often the kernel's drop counter for the socket is read.
const DROPS_POLL: Duration = Duration::from_secs(1);

/// How long the load must stay light before batched reads resume.
const CALM_FOR: Duration = Duration::from_secs(1);

/// Reads at every readiness of `fd` until the traffic has been light for [`CALM_FOR`] (false) or
/// `stop` resolves (true).
async fn read_while_busy(
    fd: &tokio::io::unix::AsyncFd<std::net::UdpSocket>,
    rtcp: Option<&std::net::UdpSocket>,
    rx: &mut Intake,
    queue: &mut DatagramSender,
    port: u16,
    batch: Duration,
    stop: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> bool {
    let mut drops_poll = tokio::time::interval(DROPS_POLL);
    // The load is judged per batch interval: what would have queued up had the task slept.
    let mut window = DrainLoad::default();
    let mut window_start = Instant::now();
    let mut calm_since = Instant::now();
    loop {
        tokio::select! {
            () = &mut *stop => return true,
            _ = drops_poll.tick() => rx.poll_kernel_drops(port),
            ready = fd.readable() => {
                let Ok(mut guard) = ready else {
                    return false;
                };
                let load = rx.drain(queue, true, |buf| stamped_recv::recv(fd.get_ref(), buf));
                if load.emptied {
                    guard.clear_ready();
                }
                if let Some(r) = rtcp {
                    rx.drain_rtcp(queue, |buf| stamped_recv::recv(r, buf));
                }
                window.add(&load);
                if load.held_back {
                    // The decoder thread is emptying the queue; the socket's buffer holds the
                    // rest meanwhile.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                } else if load.hit_limit {
                    tokio::task::yield_now().await;
                }
            }
        }
        let now = Instant::now();
        if now.duration_since(window_start) < batch {
            continue;
        }
        if window.is_heavy(rx.share() / 2) {
            calm_since = now;
        } else if now.duration_since(calm_since) >= CALM_FOR {
            return false;
        }
        window = DrainLoad::default();
        window_start = now;
    }
}

/// Without kernel stamps: every datagram is read as it comes, and stamped then.
pub(super) async fn each_datagram(
    socket: std::net::UdpSocket,
    rtcp: Option<std::net::UdpSocket>,
    rx: &mut Intake,
    queue: &mut DatagramSender,
    port: u16,
    mut stop: std::pin::Pin<&mut impl Future<Output = ()>>,
) {
    let mut drops_poll = tokio::time::interval(DROPS_POLL);
    let socket = match tokio::net::UdpSocket::from_std(socket) {
        Ok(socket) => socket,
        Err(e) => return tracing::error!(error = %e, "cannot register the socket"),
    };
    let rtcp = match rtcp.map(tokio::net::UdpSocket::from_std).transpose() {
        Ok(r) => r,
        Err(e) => return tracing::error!(error = %e, "cannot register the RTCP socket"),
    };
    let rtcp_readable = || async {
        match &rtcp {
            Some(r) => r.readable().await,
            None => std::future::pending().await,
        }
    };
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = drops_poll.tick() => rx.poll_kernel_drops(port),
            ready = socket.readable() => {
                if ready.is_ok() {
                    rx.drain(queue, false, |buf| {
                        socket.try_io(tokio::io::Interest::READABLE, || stamped_recv::recv(&socket, buf))
                    });
                }
            }
            ready = rtcp_readable() => {
                if let (Ok(()), Some(r)) = (ready, &rtcp) {
                    rx.drain_rtcp(queue, |buf| {
                        r.try_io(tokio::io::Interest::READABLE, || stamped_recv::recv(r, buf))
                    });
                }
            }
        }
    }
}
