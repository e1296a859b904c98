//! The live driver: every input socket on one thread's event loop, read in batches, each
//! datagram handed to the [`Monitor`] with its kernel arrival time, and a report each second.
//!
//! One thread serves every socket: a task per socket waits for readiness and reads with
//! `recvmmsg` into buffers shared by all, so no packet allocates. A flooded socket yields after
//! a few batches so that the others are read too. Each socket's kernel drop count (SO_RXQ_OVFL)
//! is followed, and its rises are handed to the monitor as its own drops, never the network's.

use std::cell::RefCell;
use std::net::{SocketAddr, UdpSocket};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;

use super::{Monitor, MonitorReport};
use crate::net::batch_recv::{self, BatchReceiver};

/// Batches one socket may read before letting the others have the thread.
const BATCHES_PER_TURN: usize = 8;

/// Receive buffer asked for each socket (enough for a second of a G.711 stream many times over).
pub const SOCKET_BUFFER: usize = 512 * 1024;

/// One bound input socket and the address it is bound to (the receiver of what it reads).
#[derive(Debug)]
pub struct InputSocket {
    /// The socket, non-blocking.
    pub socket: UdpSocket,
    /// Where it is bound (a group's address for multicast).
    pub local: SocketAddr,
}

/// When the live run stops.
#[derive(Debug, Clone, Copy)]
pub struct LiveLimits {
    /// Stop after this long (None: until a signal).
    pub duration: Option<Duration>,
    /// Report every this long.
    pub interval: Duration,
}

struct Shared {
    monitor: Monitor,
    receiver: BatchReceiver,
    origin: Instant,
    /// Per socket: the last kernel drop count seen.
    drops: Vec<u32>,
}

/// Watches `sockets` until `limits` or `stop` resolves; `emit` gets each report. Returns the
/// last one, with every stream ended (not emitted).
pub fn run(
    sockets: Vec<InputSocket>,
    monitor: Monitor,
    limits: LiveLimits,
    stop: impl std::future::Future<Output = ()>,
    mut emit: impl FnMut(MonitorReport),
) -> std::io::Result<MonitorReport> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let shared = Rc::new(RefCell::new(Shared {
        monitor,
        receiver: BatchReceiver::new(),
        origin: Instant::now(),
        drops: vec![0; sockets.len()],
    }));
    local.block_on(&runtime, async move {
        for (index, input) in sockets.into_iter().enumerate() {
            if !batch_recv::enable(&input.socket) {
                tracing::warn!(local = %input.local, "no kernel timestamps or drop counts on this socket");
            }
            // SAFETY: the AsyncFd owns the socket, so nothing closes or replaces its
            // descriptor while it is registered.
            let fd = unsafe {
                AsyncFd::register_with_interest(input.socket, tokio::io::Interest::READABLE)
            }
            .map_err(|e| e.into_parts().1)?;
            tokio::task::spawn_local(read_socket(Rc::clone(&shared), fd, index, input.local));
        }
        let mut ticker = tokio::time::interval(limits.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        let deadline = limits.duration.map(|d| tokio::time::Instant::now() + d);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = &mut stop => break,
                () = sleep_until(deadline) => break,
            }
            let mut s = shared.borrow_mut();
            let now = s.origin.elapsed();
            s.monitor.tick(now);
            let report = s.monitor.report(now);
            drop(s);
            emit(report);
        }
        let mut s = shared.borrow_mut();
        let now = s.origin.elapsed();
        s.monitor.finish(now);
        let report = s.monitor.report(now);
        Ok(report)
    })
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Reads `fd` whenever it is ready, until the run ends.
async fn read_socket(
    shared: Rc<RefCell<Shared>>,
    fd: AsyncFd<UdpSocket>,
    index: usize,
    local: SocketAddr,
) {
    loop {
        let Ok(mut guard) = fd.readable().await else {
            return;
        };
        let mut drained = false;
        for _ in 0..BATCHES_PER_TURN {
            let mut s = shared.borrow_mut();
            let s = &mut *s;
            match s.receiver.recv(fd.get_ref()) {
                Ok(n) => {
                    let read_at = s.origin.elapsed();
                    for i in 0..n {
                        let d = s.receiver.datagrams()[i];
                        if let Some(total) = d.drops {
                            let new = total.wrapping_sub(s.drops[index]);
                            if new > 0 {
                                s.drops[index] = total;
                                s.monitor.on_monitor_drops(index, u64::from(new));
                            }
                        }
                        let arrival = read_at.saturating_sub(d.waited);
                        // A wildcard or group bind names its stream by the address each
                        // datagram was really sent to.
                        let to = SocketAddr::new(
                            d.to.map_or(local.ip(), |ip| ip.to_canonical()),
                            local.port(),
                        );
                        s.monitor.on_datagram(
                            arrival,
                            index,
                            d.from,
                            Some(to),
                            s.receiver.buffer(i),
                        );
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    drained = true;
                    break;
                }
                Err(e) => {
                    // An ICMP error reported on the socket, say: nothing was lost, read on.
                    tracing::debug!(%local, error = %e, "receive error");
                }
            }
        }
        if drained {
            guard.clear_ready();
        } else {
            drop(guard);
            tokio::task::yield_now().await;
        }
    }
}
