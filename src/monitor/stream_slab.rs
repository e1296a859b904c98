//! The measured side of the monitor: every tracked stream's state in a slab of slots, changed
//! only by the work the router queued for it (sans-IO).
//!
//! The router (`table.rs`) sees every datagram and decides which stream it belongs to, when
//! streams start and end; this side does the per-stream measuring. The two share nothing, so
//! a capture file's reader can route the next batch while this side measures the last one on
//! another thread (`capture_feed.rs`).

use std::time::Duration;

use super::deferred::{Deferred, Measure, Work};
use super::stream::{MonitoredStream, StreamRow};
use super::MonitorConfig;

/// The tracked streams' state.
#[derive(Debug)]
pub(super) struct StreamSlab {
    slab: Vec<Option<MonitoredStream>>,
    cfg: MonitorConfig,
    /// Per socket: datagrams it dropped that no stream's gap has claimed yet.
    credit: Vec<u64>,
    scratch: Vec<f32>,
    /// Final rows of ended streams, each with its place in the order streams were ended.
    ended: Vec<(u64, StreamRow)>,
}

impl StreamSlab {
    /// No streams yet; each will be measured as `cfg` says.
    pub fn new(cfg: MonitorConfig) -> Self {
        StreamSlab {
            slab: Vec::new(),
            cfg,
            credit: Vec::new(),
            scratch: Vec::with_capacity(8192),
            ended: Vec::new(),
        }
    }

    /// Does all the work in `queue`, stream by stream, and empties it.
    pub fn run(&mut self, queue: &mut Deferred) {
        let StreamSlab {
            slab,
            cfg,
            credit,
            scratch,
            ended,
        } = self;
        queue.drain(|slot, bucket| {
            if slab.len() <= slot {
                slab.resize_with(slot + 1, || None);
            }
            let stream = &mut slab[slot];
            for work in bucket.work.drain(..) {
                let place = Place {
                    cfg,
                    credit,
                    scratch,
                    ended,
                };
                apply(stream, work, &bucket.bytes, place);
            }
        });
    }

    /// Every stream's row as of `now`, in slot order.
    pub fn rows(&mut self, now: Duration) -> Vec<StreamRow> {
        let cfg = &self.cfg;
        self.slab
            .iter_mut()
            .flatten()
            .map(|s| s.row(now, cfg))
            .collect()
    }

    /// The rows of the streams ended since the last call, in the order they were ended.
    pub fn take_ended(&mut self) -> Vec<StreamRow> {
        self.ended.sort_by_key(|(seq, _)| *seq);
        self.ended.drain(..).map(|(_, row)| row).collect()
    }

    /// Socket `socket` dropped `n` datagrams just before the next one it gives.
    pub fn add_credit(&mut self, socket: usize, n: u64) {
        if self.credit.len() <= socket {
            self.credit.resize(socket + 1, 0);
        }
        self.credit[socket] += n;
    }

    /// Takes back the drops no stream's gap claimed; returns how many.
    pub fn take_unclaimed_credit(&mut self) -> u64 {
        self.credit.iter_mut().map(std::mem::take).sum()
    }

    /// Takes up to `n` capture drops against the streams' unsettled gaps; returns how many
    /// no gap accounts for.
    pub fn credit_recent(&mut self, n: u64) -> u64 {
        let mut left = n;
        for s in self.slab.iter_mut().flatten() {
            if left == 0 {
                break;
            }
            left -= s.credit_recent(left);
        }
        left
    }
}

/// What an item may touch besides its stream.
struct Place<'a> {
    cfg: &'a MonitorConfig,
    credit: &'a mut Vec<u64>,
    scratch: &'a mut Vec<f32>,
    ended: &'a mut Vec<(u64, StreamRow)>,
}

/// Does one item on the slot of its stream; `bytes` holds the payloads of the slot's bucket.
fn apply(slot: &mut Option<MonitoredStream>, work: Work, bytes: &[u8], at: Place<'_>) {
    match work {
        Work::Start(s) => *slot = Some(*s),
        Work::End { now, seq } => {
            if let Some(mut s) = slot.take() {
                s.advance(now);
                s.settle();
                at.ended.push((seq, s.row(now, at.cfg)));
            }
        }
        Work::Measure(m) => {
            if let Some(s) = slot.as_mut() {
                measure(s, m, bytes, at);
            }
        }
    }
}

/// Measures one item on its stream.
fn measure(stream: &mut MonitoredStream, m: Measure, bytes: &[u8], at: Place<'_>) {
    match m {
        Measure::Rtp {
            now,
            socket,
            header,
            level,
            named,
        } => {
            if let Some(named) = named {
                stream.add_payload(*named, at.cfg);
            }
            if at.credit.len() <= socket {
                at.credit.resize(socket + 1, 0);
            }
            let level = level.input(bytes);
            stream.on_rtp(now, &header, level, &mut at.credit[socket], at.scratch);
        }
        Measure::SenderReport { now, info } => stream.on_sender_report(now, &info),
        Measure::Reception { now, block } => stream.on_reception_report(now, &block),
        Measure::Advance { now } => stream.advance(now),
    }
}
