//! Lock-free counters of `send` and `relay`, published by their loops as they go so that
//! another task (`--metrics-listen`) can read them while they run.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Duration;

use crate::netem::queue::ImpairCounts;

/// A plain copy of what a sender or relay has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrafficSnapshot {
    /// Datagrams received (relay).
    pub received: u64,
    /// RTP packets produced (send).
    pub packets: u64,
    /// Datagrams that left the socket.
    pub datagrams: u64,
    /// Receive or send errors.
    pub errors: u64,
    /// Audio sent (send, PCM formats).
    pub audio: Duration,
    /// What the impairment did, when one is applied.
    pub impairment: Option<ImpairCounts>,
    /// Copies held by the impairment queue now.
    pub held: u64,
    /// What the reverse leg's impairment did (relay, RTCP going back to the sender).
    pub reverse: Option<ImpairCounts>,
}

/// Shared counters of one sender or relay: absolute values, stored with `Relaxed` (each is
/// independent, and a reader a datagram behind is harmless).
#[derive(Debug, Default)]
pub struct TrafficMetrics {
    received: AtomicU64,
    packets: AtomicU64,
    datagrams: AtomicU64,
    errors: AtomicU64,
    audio_us: AtomicU64,
    impaired: AtomicU64,
    impair: [AtomicU64; 7],
    held: AtomicU64,
    reversed: AtomicU64,
    reverse: [AtomicU64; 7],
    /// The first address datagrams came from (relay).
    pub source: OnceLock<SocketAddr>,
}

impl TrafficMetrics {
    /// Publishes what the loop has done so far.
    pub fn publish(&self, s: &TrafficSnapshot) {
        self.received.store(s.received, Relaxed);
        self.packets.store(s.packets, Relaxed);
        self.datagrams.store(s.datagrams, Relaxed);
        self.errors.store(s.errors, Relaxed);
        let us = u64::try_from(s.audio.as_micros()).unwrap_or(u64::MAX);
        self.audio_us.store(us, Relaxed);
        self.impaired
            .store(u64::from(s.impairment.is_some()), Relaxed);
        store_counts(&self.impair, s.impairment.unwrap_or_default());
        self.held.store(s.held, Relaxed);
        self.reversed.store(u64::from(s.reverse.is_some()), Relaxed);
        store_counts(&self.reverse, s.reverse.unwrap_or_default());
    }

    /// Copies the counters out.
    pub fn snapshot(&self) -> TrafficSnapshot {
        TrafficSnapshot {
            received: self.received.load(Relaxed),
            packets: self.packets.load(Relaxed),
            datagrams: self.datagrams.load(Relaxed),
            errors: self.errors.load(Relaxed),
            audio: Duration::from_micros(self.audio_us.load(Relaxed)),
            impairment: (self.impaired.load(Relaxed) != 0).then(|| load_counts(&self.impair)),
            held: self.held.load(Relaxed),
            reverse: (self.reversed.load(Relaxed) != 0).then(|| load_counts(&self.reverse)),
        }
    }
}

fn store_counts(cells: &[AtomicU64; 7], c: ImpairCounts) {
    let values = [
        c.offered,
        c.dropped,
        c.duplicated,
        c.reordered,
        c.overflow,
        c.released,
        c.edge_dropped,
    ];
    for (a, v) in cells.iter().zip(values) {
        a.store(v, Relaxed);
    }
}

fn load_counts(cells: &[AtomicU64; 7]) -> ImpairCounts {
    let i = |n: usize| cells.get(n).map_or(0, |a| a.load(Relaxed));
    ImpairCounts {
        offered: i(0),
        dropped: i(1),
        duplicated: i(2),
        reordered: i(3),
        overflow: i(4),
        released: i(5),
        edge_dropped: i(6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_and_snapshots() {
        let m = TrafficMetrics::default();
        assert_eq!(m.snapshot(), TrafficSnapshot::default());
        let s = TrafficSnapshot {
            received: 1,
            packets: 2,
            datagrams: 3,
            errors: 4,
            audio: Duration::from_millis(1500),
            impairment: Some(ImpairCounts {
                offered: 5,
                dropped: 6,
                duplicated: 7,
                reordered: 8,
                overflow: 9,
                released: 10,
                edge_dropped: 12,
            }),
            held: 11,
            reverse: Some(ImpairCounts {
                offered: 13,
                dropped: 14,
                ..ImpairCounts::default()
            }),
        };
        m.publish(&s);
        assert_eq!(m.snapshot(), s);
    }
}
