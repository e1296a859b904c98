//! Per-stream work queued by the monitor's router, to be run stream by stream on the stream
//! slab (`stream_slab.rs`) (sans-IO).
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

use super::stream::{LevelInput, MonitoredStream};
use crate::capture::types::PayloadUse;
use crate::rtcp::wire::{ReceptionBlock, SenderInfo};
use crate::rtp::header::RtpHeader;

/// Work items held at most before the queue must run.
const MAX_WORK: usize = 1 << 15;

/// Payload bytes held at most before the queue must run.
const MAX_BYTES: usize = 8 << 20;

/// A stream's bucket keeps at most this many payload bytes of capacity between runs.
const KEEP_BYTES: usize = 64 << 10;

/// A stream's bucket keeps at most this many items of capacity between runs.
const KEEP_WORK: usize = 1024;

/// One stream's share of a datagram, or a change of the stream in a slot.
#[derive(Debug)]
pub(super) enum Work {
    /// The stream starts in the slot.
    Start(Box<MonitoredStream>),
    /// Something for the stream to measure.
    Measure(Measure),
    /// The stream ends at `now`: its final row is the `seq`th ended.
    End { now: Duration, seq: u64 },
}

/// What a stream measures.
#[derive(Debug)]
pub(super) enum Measure {
    /// An RTP packet.
    Rtp {
        now: Duration,
        /// The input it came on (whose drop credit its gap may claim).
        socket: usize,
        header: RtpHeader,
        /// What its payload gives the level meter.
        level: QueuedLevel,
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
    /// Play the stream's model out to `now`.
    Advance { now: Duration },
}

/// What a queued packet gives the level meter: [`LevelInput`] with the payload kept in the
/// bucket, at `bytes[start..start + len]`.
#[derive(Debug, Clone, Copy)]
pub(super) enum QueuedLevel {
    /// The payload.
    Payload { start: usize, len: usize },
    /// Its sum of squares over `samples` samples, summed as it was routed.
    Energy { energy: f64, samples: usize },
    /// Nothing.
    None,
}

impl QueuedLevel {
    /// The level input, its payload found in `bytes`.
    pub fn input(self, bytes: &[u8]) -> LevelInput<'_> {
        match self {
            QueuedLevel::Payload { start, len } => LevelInput::Payload(&bytes[start..start + len]),
            QueuedLevel::Energy { energy, samples } => LevelInput::Energy { energy, samples },
            QueuedLevel::None => LevelInput::None,
        }
    }
}

/// One stream's queued work, in arrival order, and the payloads it refers to.
#[derive(Debug, Default)]
pub(super) struct Bucket {
    /// The items, oldest first.
    pub work: Vec<Work>,
    /// The payloads the RTP items keep.
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
    /// Queues an RTP packet (`header`) for the stream in `slot`, with what its payload gives
    /// the level meter (a payload is copied into the bucket).
    pub fn push_rtp(
        &mut self,
        slot: usize,
        now: Duration,
        socket: usize,
        header: RtpHeader,
        level: LevelInput<'_>,
        named: Option<Box<PayloadUse>>,
    ) {
        let bucket = self.bucket(slot);
        let level = match level {
            LevelInput::Payload(payload) => {
                let start = bucket.bytes.len();
                bucket.bytes.extend_from_slice(payload);
                QueuedLevel::Payload {
                    start,
                    len: payload.len(),
                }
            }
            LevelInput::Energy { energy, samples } => QueuedLevel::Energy { energy, samples },
            LevelInput::None => QueuedLevel::None,
        };
        bucket.work.push(Work::Measure(Measure::Rtp {
            now,
            socket,
            header,
            level,
            named,
        }));
        if let QueuedLevel::Payload { len, .. } = level {
            self.held_bytes += len;
        }
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
            bucket.work.shrink_to(KEEP_WORK);
        }
        self.held_work = 0;
        self.held_bytes = 0;
    }
}
