//! The impairment queue: real datagrams held for the arrival times the seeded network model picks.
//!
//! Sans-IO: times are offsets from an epoch the caller chooses (the start of sending or
//! relaying). [`ImpairQueue::offer`] asks [`NetworkModel::transmit`] what happens to a datagram
//! and queues one or two copies by arrival time; [`ImpairQueue::pop_due`] hands them back in
//! arrival order. Buffers are recycled, so a steady stream allocates nothing once the pool is
//! warm. The queue is bounded by datagram count and by bytes; copies that do not fit are
//! counted as overflow, like a router's tail drop.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fmt;
use std::time::Duration;

use crate::netem::edge_drop::EdgeDropper;
use crate::netem::model::{Fate, NetworkModel};
use crate::netem::spec::ImpairSpec;

/// Limits of the queue: whichever is reached first makes further copies overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Most datagrams held at once.
    pub max_datagrams: usize,
    /// Most payload bytes held at once.
    pub max_bytes: usize,
}

impl Default for QueueLimits {
    /// 10 000 datagrams or 64 MiB.
    fn default() -> Self {
        QueueLimits {
            max_datagrams: 10_000,
            max_bytes: 64 << 20,
        }
    }
}

/// What the impairment did to the datagrams offered so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImpairCounts {
    /// Datagrams offered to the model.
    pub offered: u64,
    /// Datagrams the model lost.
    pub dropped: u64,
    /// Extra copies the model made.
    pub duplicated: u64,
    /// Datagrams the model held back behind later ones.
    pub reordered: u64,
    /// Copies refused because the queue was full.
    pub overflow: u64,
    /// Copies handed back by [`ImpairQueue::pop_due`] (to be sent).
    pub released: u64,
    /// Packets lost at the stream's edges (`drop-first`, `drop-last`).
    pub edge_dropped: u64,
}

impl fmt::Display for ImpairCounts {
    /// `dropped=3 duplicated=1 reordered=2 overflow=0`: the parts a summary line shows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dropped={} duplicated={} reordered={} overflow={}",
            self.dropped, self.duplicated, self.reordered, self.overflow
        )?;
        if self.edge_dropped > 0 {
            write!(f, " edge-dropped={}", self.edge_dropped)?;
        }
        Ok(())
    }
}

/// What [`ImpairQueue::offer`] did with one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    /// The model lost it.
    Dropped,
    /// This many copies (1 or 2) were queued; a copy that did not fit counts as overflow.
    Queued(u8),
}

/// A queued copy: released at `due`, ties broken by the order copies were queued.
#[derive(Debug)]
struct Held {
    due: Duration,
    order: u64,
    bytes: Vec<u8>,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.order) == (other.due, other.order)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.order).cmp(&(other.due, other.order))
    }
}

/// The seeded network model applied to real datagrams, with a bounded release queue.
#[derive(Debug)]
pub struct ImpairQueue {
    model: NetworkModel,
    heap: BinaryHeap<Reverse<Held>>,
    pool: Vec<Vec<u8>>,
    limits: QueueLimits,
    held_bytes: usize,
    next_order: u64,
    overflow: u64,
    released: u64,
    /// Edge drops, when asked for.
    edges: Option<EdgeDropper>,
}

impl ImpairQueue {
    /// A queue applying `spec` (its impairment and seed; drift is the sender's business).
    pub fn new(spec: &ImpairSpec, limits: QueueLimits) -> Self {
        ImpairQueue {
            model: NetworkModel::new(spec.impairment.clone(), spec.seed),
            heap: BinaryHeap::new(),
            pool: Vec::new(),
            limits,
            held_bytes: 0,
            next_order: 0,
            overflow: 0,
            released: 0,
            edges: spec.edges.any().then(|| EdgeDropper::new(spec.edges)),
        }
    }

    /// Looks past `prefix` bytes of each datagram for edge drops (the relay's leg tag).
    pub fn with_prefix(mut self, prefix: usize) -> Self {
        self.edges = self.edges.map(|e| e.with_prefix(prefix));
        self
    }

    /// Offers a datagram sent at `sent`; it comes back from [`Self::pop_due`] at its arrival time(s).
    ///
    /// Datagrams must be offered in sending order (the model keeps a FIFO floor). With edge
    /// drops, the datagram may be lost or held back, and an older one go on in its place: the
    /// answer is then about what went on.
    pub fn offer(&mut self, sent: Duration, datagram: &[u8]) -> Offered {
        let Some(mut edges) = self.edges.take() else {
            return self.transmit(sent, datagram);
        };
        let mut offered = Offered::Dropped;
        edges.offer(sent, datagram, |at, d| offered = self.transmit(at, d));
        self.edges = Some(edges);
        offered
    }

    fn transmit(&mut self, sent: Duration, datagram: &[u8]) -> Offered {
        let (first, second) = match self.model.transmit(sent) {
            Fate::Dropped => return Offered::Dropped,
            Fate::Delivered(at) => (at, None),
            Fate::Duplicated(at, again) => (at, Some(again)),
        };
        let mut queued = 0;
        for due in std::iter::once(first).chain(second) {
            if self.hold(due, datagram) {
                queued += 1;
            }
        }
        Offered::Queued(queued)
    }

    fn hold(&mut self, due: Duration, datagram: &[u8]) -> bool {
        if self.heap.len() >= self.limits.max_datagrams
            || self.held_bytes + datagram.len() > self.limits.max_bytes
        {
            self.overflow += 1;
            return false;
        }
        let mut bytes = self.pool.pop().unwrap_or_default();
        bytes.clear();
        bytes.extend_from_slice(datagram);
        self.held_bytes += bytes.len();
        self.heap.push(Reverse(Held {
            due,
            order: self.next_order,
            bytes,
        }));
        self.next_order += 1;
        true
    }

    /// When the earliest held copy is due, if any.
    pub fn next_due(&self) -> Option<Duration> {
        self.heap.peek().map(|Reverse(h)| h.due)
    }

    /// The earliest held copy if it is due at `now`; give the buffer back with [`Self::recycle`].
    pub fn pop_due(&mut self, now: Duration) -> Option<Vec<u8>> {
        if self.next_due()? > now {
            return None;
        }
        let Reverse(held) = self.heap.pop()?;
        self.held_bytes -= held.bytes.len();
        self.released += 1;
        Some(held.bytes)
    }

    /// Returns a buffer from [`Self::pop_due`] to the pool.
    pub fn recycle(&mut self, bytes: Vec<u8>) {
        // Keep the pool no larger than the queue can ever need.
        if self.pool.len() < self.limits.max_datagrams {
            self.pool.push(bytes);
        }
    }

    /// Copies still held (the tail held back by `drop-last` apart).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is held for release.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// What happened so far.
    pub fn counts(&self) -> ImpairCounts {
        let model = self.model.counts();
        ImpairCounts {
            offered: model.sent,
            dropped: model.dropped,
            duplicated: model.duplicated,
            reordered: model.reordered,
            overflow: self.overflow,
            released: self.released,
            edge_dropped: self.edges.as_ref().map_or(0, EdgeDropper::dropped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> ImpairSpec {
        text.parse().unwrap()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Offers `n` datagrams 20 ms apart (payload = index) and drains; returns the release order.
    fn run(queue: &mut ImpairQueue, n: u16) -> Vec<u16> {
        let mut out = Vec::new();
        for i in 0..n {
            let now = ms(20 * u64::from(i));
            queue.offer(now, &i.to_be_bytes());
            while let Some(b) = queue.pop_due(now) {
                out.push(u16::from_be_bytes([b[0], b[1]]));
                queue.recycle(b);
            }
        }
        while let Some(due) = queue.next_due() {
            let b = queue.pop_due(due).unwrap();
            out.push(u16::from_be_bytes([b[0], b[1]]));
            queue.recycle(b);
        }
        out
    }

    #[test]
    fn a_perfect_network_releases_in_order_after_the_delay() {
        let mut q = ImpairQueue::new(&spec("delay=30ms"), QueueLimits::default());
        q.offer(ms(0), b"a");
        assert_eq!(q.next_due(), Some(ms(30)));
        assert_eq!(q.pop_due(ms(29)), None);
        assert_eq!(q.pop_due(ms(30)).as_deref(), Some(&b"a"[..]));
        assert!(q.is_empty());
        assert_eq!(run(&mut q, 100), (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn counts_add_up_and_reordering_shows() {
        let mut q = ImpairQueue::new(
            &spec("loss=5%,dup=10%,reorder=10%,seed=5"),
            QueueLimits::default(),
        );
        let out = run(&mut q, 1000);
        let c = q.counts();
        assert_eq!(c.offered, 1000);
        assert_eq!(out.len() as u64, 1000 - c.dropped + c.duplicated);
        assert_eq!(c.released, out.len() as u64);
        assert!(
            c.dropped > 0 && c.duplicated > 0 && c.reordered > 0,
            "{c:?}"
        );
        assert!(out.windows(2).any(|w| w[1] < w[0]), "nothing out of order");
    }

    #[test]
    fn the_bound_turns_excess_into_overflow() {
        let limits = QueueLimits {
            max_datagrams: 3,
            max_bytes: 1000,
        };
        let mut q = ImpairQueue::new(&spec("delay=1s"), limits);
        for i in 0..5 {
            q.offer(ms(i), &[0; 10]);
        }
        assert_eq!((q.len(), q.counts().overflow), (3, 2));
        let mut q = ImpairQueue::new(&spec("delay=1s"), limits);
        assert_eq!(q.offer(ms(0), &[0; 600]), Offered::Queued(1));
        assert_eq!(q.offer(ms(1), &[0; 600]), Offered::Queued(0));
        assert_eq!(q.counts().overflow, 1);
    }

    #[test]
    fn buffers_are_reused() {
        let mut q = ImpairQueue::new(&spec("delay=0ms"), QueueLimits::default());
        q.offer(ms(0), &[1; 100]);
        let b = q.pop_due(ms(0)).unwrap();
        let ptr = b.as_ptr();
        q.recycle(b);
        q.offer(ms(1), &[2; 50]);
        let b = q.pop_due(ms(1)).unwrap();
        assert_eq!((b.as_ptr(), b.len()), (ptr, 50));
    }
}
