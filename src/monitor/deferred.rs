//! Per-stream work queued by the monitor's router, to be run stream by stream on the
//! [`StreamSlab`](super::stream_slab::StreamSlab) (sans-IO).
//!
//! With a thousand streams interleaved, each packet's stream state (statistics, loss record,
//! player model, level meter: several KiB) has left the CPU's caches by the time that stream's
//! next packet comes, so one pass in arrival order spends most of its time waiting on memory.
//! A capture file's datagrams are therefore routed in arrival order (which stream, which
//! payload type named how) and their per-stream work queued here, in a bucket per stream; the
//! queue then runs one stream at a time, so a stream's state and its packets are each read
//! from one place once for the whole batch.
//!
//! Streams share nothing in that work, so the figures are the same in either order, and the
//! queue can run on another thread while the router reads on. The one thing shared is a
//! socket's drop credit (a live socket's kernel drops, claimed by the next gap on any stream of
//! it): live inputs run the queue after every datagram, in arrival order. A stream's start and
//! end are work items too, so its slot changes only in its own order.

use std::time::Duration;

use super::stream::MonitoredStream;
use crate::capture::types::PayloadUse;
use crate::rtcp::wire::{ReceptionBlock, SenderInfo};
use crate::rtp::header::RtpHeader;

/// Work items held at most before the queue must run.
const MAX_WORK: usize = 1 << 15;

/// Datagram bytes held at most before the queue must run.
const MAX_BYTES: usize = 8 << 20;

/// A stream's bucket keeps at most this many bytes of capacity between runs.
const KEEP_BYTES: usize = 64 << 10;

/// One stream's share of a datagram.
#[derive(Debug)]
pub(super) enum Work {
    /// An RTP packet: its datagram is `bytes[start..start + len]` of the stream's bucket.
    Rtp {
        now: Duration,
        /// The input it came on (whose drop credit its gap may claim).
        socket: usize,
        header: RtpHeader,
        start: usize,
        len: usize,
        /// Its payload type, when this packet is the stream's first of it.
        named: Option<Box<PayloadUse>>,
    },
    /// A sender report from the stream's source.
    SenderReport { now: Duration, info: SenderInfo },
    /// A report block about the stream.
    Reception {
        now: Duration,
        block: ReceptionBlock,
    },
    /// The stream starts in the slot.
    Start(Box<MonitoredStream>),
    /// Play the stream's model out to `now`.
    Advance { now: Duration },
    /// The stream ends at `now`: its final row is the `seq`th ended.
    End { now: Duration, seq: u64 },
}

/// One stream's queued work, in arrival order, and the datagrams it refers to.
#[derive(Debug, Default)]
pub(super) struct Bucket {
    /// The items, oldest first.
    pub work: Vec<Work>,
    /// The RTP items' datagrams.
    pub bytes: Vec<u8>,
}

/// Work routed to streams, not yet done: a bucket per slot, so that each stream's work is
/// written and later read in one place (a partition, not a sort).
#[derive(Debug, Default)]
pub(super) struct Deferred {
    buckets: Vec<Bucket>,
    /// Slots with work, in the order they first got some.
    touched: Vec<usize>,
    held_work: usize,
    held_bytes: usize,
}

impl Deferred {
    /// Queues an RTP packet (`datagram`, parsed as `header`) for the stream in `slot`.
    pub fn push_rtp(
        &mut self,
        slot: usize,
        now: Duration,
        socket: usize,
        header: RtpHeader,
        datagram: &[u8],
        named: Option<Box<PayloadUse>>,
    ) {
        let bucket = self.bucket(slot);
        let start = bucket.bytes.len();
        bucket.bytes.extend_from_slice(datagram);
        bucket.work.push(Work::Rtp {
            now,
            socket,
            header,
            start,
            len: datagram.len(),
            named,
        });
        self.held_bytes += datagram.len();
    }

    /// Queues `work` for the stream in `slot`.
    pub fn push(&mut self, slot: usize, work: Work) {
        self.bucket(slot).work.push(work);
    }

    /// The bucket of `slot`, noted as touched; counts the item about to be pushed.
    fn bucket(&mut self, slot: usize) -> &mut Bucket {
        if self.buckets.len() <= slot {
            self.buckets.resize_with(slot + 1, Bucket::default);
        }
        if self.buckets[slot].work.is_empty() {
            self.touched.push(slot);
        }
        self.held_work += 1;
        &mut self.buckets[slot]
    }

    /// Whether the queue has reached its bound and must run before taking more.
    pub fn is_full(&self) -> bool {
        self.held_work >= MAX_WORK || self.held_bytes >= MAX_BYTES
    }

    /// Hands each stream's bucket with work to `each`, in the order the streams first got
    /// some, and empties the queue (keeping modest capacity for the next batch).
    pub fn drain(&mut self, mut each: impl FnMut(usize, &mut Bucket)) {
        for slot in self.touched.drain(..) {
            let bucket = &mut self.buckets[slot];
            each(slot, bucket);
            bucket.work.clear();
            bucket.bytes.clear();
            bucket.bytes.shrink_to(KEEP_BYTES);
            bucket.work.shrink_to(KEEP_BYTES / 64);
        }
        self.held_work = 0;
        self.held_bytes = 0;
    }
}
