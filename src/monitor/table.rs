//! The monitor's core: every datagram in, streams found, named and measured, idle ones ended,
//! and a report out each second (sans-IO: time is an argument, inputs are numbered sockets).
//!
//! The monitor is a router and a [`StreamSlab`]. The router sees every datagram: it finds a
//! stream by (sender, receiver, SSRC) in slots reused as streams end, starts and ends streams,
//! and queues each stream's share of the work; the slab measures. At most `max_streams` are
//! tracked; the others are counted, never measured. SIP messages seen on the way name payload
//! types per call (live captures and capture files), as `streams` does for a whole capture.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::counts::HealthCounts;
use super::deferred::{Deferred, Measure, Work};
use super::level;
use super::stream::{can_be_main, LevelInput, MonitoredStream, StreamKey, StreamRow};
use super::stream_slab::StreamSlab;
use super::MonitorConfig;
use crate::capture::bindings::PayloadBindings;
use crate::capture::naming::{name_payload, FirstUse};
use crate::capture::sip;
use crate::rtcp::wire::{self, looks_like_rtcp, Event};
use crate::rtp::header::RtpHeader;

/// Untracked streams remembered (to count each once); past it, only their packets are counted.
const UNTRACKED_KEYS: usize = 65_536;

/// Call-IDs remembered by media endpoint; past it the map starts over.
const CALL_ENDPOINTS: usize = 65_536;

/// A stream that said BYE is ended this long after its last packet (late packets still count).
const AFTER_BYE: Duration = Duration::from_secs(2);

/// What one report holds.
#[derive(Debug, Clone, Serialize)]
pub struct MonitorReport {
    /// Seconds since the monitor started.
    pub t: f64,
    /// The monitor's own counters.
    pub health: HealthCounts,
    /// Every tracked stream.
    pub streams: Vec<StreamRow>,
    /// Streams that ended since the last report, with their final figures.
    pub ended: Vec<StreamRow>,
}

/// A stream key hashed as one packed run of bytes: the hash is keyed (senders choose the
/// addresses and SSRC), and one write of a few bytes costs far less than a write per field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HashedKey(StreamKey);

impl std::hash::Hash for HashedKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Two addresses of at most 1 + 16 + 2 bytes each, and the SSRC.
        let mut packed = [0u8; 42];
        let mut n = 0;
        for addr in [self.0 .0, self.0 .1] {
            let (tag, ip, port): (u8, &[u8], u16) = match addr {
                None => (0, &[], 0),
                Some(SocketAddr::V4(a)) => (4, &a.ip().octets(), a.port()),
                Some(SocketAddr::V6(a)) => (6, &a.ip().octets(), a.port()),
            };
            packed[n] = tag;
            packed[n + 1..n + 1 + ip.len()].copy_from_slice(ip);
            n += 1 + ip.len();
            packed[n..n + 2].copy_from_slice(&port.to_be_bytes());
            n += 2;
        }
        packed[n..n + 4].copy_from_slice(&self.0 .2.to_be_bytes());
        state.write(&packed[..n + 4]);
    }
}

/// What the router knows of a tracked stream.
#[derive(Debug)]
struct Slot {
    key: StreamKey,
    /// When its last packet came.
    last_at: Duration,
    /// A BYE was seen for it.
    said_bye: bool,
    /// The payload types named for it (a bit each).
    named: [u64; 4],
    /// Its main payload type (the one the stream's level meter measures), once named.
    main_pt: Option<u8>,
    /// The table that gives the main payload's level as it is routed (G.711 without
    /// loudness), so that its payload need not be queued.
    squares: Option<&'static [f64; 256]>,
}

/// Many streams, watched at once.
#[derive(Debug)]
pub struct Monitor {
    cfg: MonitorConfig,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    /// Keyed by what senders choose (addresses, SSRC): std's keyed hash, so no sender can
    /// pick keys that collide.
    index: HashMap<HashedKey, usize>,
    untracked: HashSet<HashedKey>,
    bindings: PayloadBindings,
    call_ids: HashMap<SocketAddr, Arc<str>>,
    health: HealthCounts,
    next_id: u64,
    /// Streams ended so far (orders their final rows).
    ends: u64,
    queue: Deferred,
    /// The measured side; None while lent out (see [`Monitor::lend_streams`]).
    streams: Option<StreamSlab>,
}

impl Monitor {
    /// A monitor configured by `cfg`; `bindings` names payload types from the SDP given up
    /// front (files, `--format`).
    pub fn new(cfg: MonitorConfig, bindings: PayloadBindings) -> Self {
        Monitor {
            streams: Some(StreamSlab::new(cfg.clone())),
            cfg,
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            untracked: HashSet::new(),
            bindings,
            call_ids: HashMap::new(),
            health: HealthCounts::default(),
            next_id: 1,
            ends: 0,
            queue: Deferred::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MonitorConfig {
        &self.cfg
    }

    /// Streams tracked now.
    pub fn tracked(&self) -> usize {
        self.index.len()
    }

    /// Takes one UDP datagram from `src` to `dst` that arrived at `now` on input `socket`.
    pub fn on_datagram(
        &mut self,
        now: Duration,
        socket: usize,
        src: Option<SocketAddr>,
        dst: Option<SocketAddr>,
        data: &[u8],
    ) {
        self.route(now, socket, src, dst, data);
        self.run_deferred();
    }

    /// Takes one datagram as [`Monitor::on_datagram`] does, but holds its streams' share of
    /// the work back to run stream by stream, by the next tick or report or when the queue is
    /// full (see `deferred.rs`): for inputs on which the monitor drops nothing itself (capture
    /// files), much faster with many streams, and the same figures. While the streams are
    /// lent, a full queue is the borrower's to run ([`Monitor::queue_is_full`]).
    pub fn queue_datagram(
        &mut self,
        now: Duration,
        src: Option<SocketAddr>,
        dst: Option<SocketAddr>,
        data: &[u8],
    ) {
        self.route(now, 0, src, dst, data);
        if self.queue.is_full() {
            self.run_deferred();
        }
    }

    /// Whether the queued work has reached its bound (only while the streams are lent).
    pub(super) fn queue_is_full(&self) -> bool {
        self.queue.is_full()
    }

    /// Lends the measured side out, to run the queued work elsewhere (another thread) while
    /// the router goes on: until it is given back, every item is only queued, and the queue is
    /// handed over with [`Monitor::swap_queue`]. None if it is lent already.
    pub(super) fn lend_streams(&mut self) -> Option<StreamSlab> {
        self.streams.take()
    }

    /// Gives the measured side back; the work still queued runs now.
    pub(super) fn return_streams(&mut self, streams: StreamSlab) {
        self.streams = Some(streams);
        self.run_deferred();
    }

    /// The queued work, exchanged for `empty` (an emptied queue, to reuse its capacity).
    pub(super) fn swap_queue(&mut self, empty: Deferred) -> Deferred {
        std::mem::replace(&mut self.queue, empty)
    }

    /// Counts a datagram, handles what is not per stream (SIP, finding and naming streams)
    /// and queues each stream's share of it.
    fn route(
        &mut self,
        now: Duration,
        socket: usize,
        src: Option<SocketAddr>,
        dst: Option<SocketAddr>,
        data: &[u8],
    ) {
        self.health.datagrams += 1;
        if sip::is_sip(data) {
            self.on_sip(now, src, data);
            return;
        }
        if looks_like_rtcp(data) {
            self.health.rtcp += 1;
            self.on_rtcp(now, src, data);
            return;
        }
        let Ok(header) = RtpHeader::parse(data) else {
            self.health.not_rtp += 1;
            return;
        };
        let key = (src, dst, header.ssrc);
        let Some(slot) = self.find_or_start(key, socket, now) else {
            self.health.untracked_packets += 1;
            if self.untracked.len() < UNTRACKED_KEYS && self.untracked.insert(HashedKey(key)) {
                self.health.untracked_streams += 1;
            }
            return;
        };
        let Some(info) = self.slots[slot].as_mut() else {
            return;
        };
        info.last_at = now;
        let pt = header.payload_type;
        let bit = 1u64 << (pt % 64);
        let word = &mut info.named[usize::from(pt / 64)];
        let named = (*word & bit == 0).then(|| {
            *word |= bit;
            let first = FirstUse {
                src,
                dst,
                at: now,
                packets: 0,
            };
            let named = name_payload(pt, first, &self.bindings, std::iter::empty());
            // The same choice the stream makes in `add_payload`.
            if info.main_pt.is_none() && can_be_main(&named) {
                info.main_pt = Some(pt);
                info.squares = named
                    .format
                    .filter(|_| self.cfg.level_enabled)
                    .and_then(|f| level::g711_squares(f, &self.cfg.level));
            }
            Box::new(named)
        });
        let payload = header.payload(data);
        let measured = info.main_pt == Some(pt) && self.cfg.level_enabled;
        let level = match (measured, info.squares) {
            (false, _) => LevelInput::None,
            (true, Some(squares)) => LevelInput::Energy {
                energy: level::sum_of_squares(payload, squares),
                samples: payload.len(),
            },
            (true, None) => LevelInput::Payload(payload),
        };
        self.queue.push_rtp(slot, now, socket, header, level, named);
    }

    /// Runs the queued work, stream by stream (unless the streams are lent).
    fn run_deferred(&mut self) {
        if let Some(streams) = self.streams.as_mut() {
            streams.run(&mut self.queue);
        }
    }

    /// The kernel dropped `n` datagrams on the monitor's socket `socket` just before the next
    /// one it reads: the next gap a stream of that socket shows is the monitor's.
    pub fn on_monitor_drops(&mut self, socket: usize, n: u64) {
        self.run_deferred();
        self.health.kernel_drops += n;
        match self.streams.as_mut() {
            Some(streams) => streams.add_credit(socket, n),
            None => self.health.unattributed_drops += n,
        }
    }

    /// The capture library dropped `n` packets since it last said (a live capture reports
    /// its drops only now and then, after the gaps were seen): they are taken back from the
    /// streams' gaps not yet settled, and what no gap accounts for is unattributed.
    pub fn on_capture_drops(&mut self, n: u64) {
        self.run_deferred();
        self.health.capture_drops += n;
        let left = self.streams.as_mut().map_or(n, |s| s.credit_recent(n));
        self.health.unattributed_drops += left;
    }

    /// Runs the clock to `now`: plays the player models out and ends streams idle for longer
    /// than `--idle` (or past a BYE). Monitor drops no gap claimed by now are counted as
    /// unattributed: a stream's next packet shows its gap well within a tick.
    pub fn tick(&mut self, now: Duration) {
        self.run_deferred();
        if let Some(streams) = self.streams.as_mut() {
            self.health.unattributed_drops += streams.take_unclaimed_credit();
        }
        let idle = self.cfg.idle;
        let mut ending = Vec::new();
        for (i, s) in self.slots.iter().enumerate() {
            let Some(s) = s else { continue };
            let quiet = now.saturating_sub(s.last_at);
            if quiet > idle || (s.said_bye && quiet > AFTER_BYE) {
                ending.push(i);
            } else {
                self.queue.push(i, Work::Measure(Measure::Advance { now }));
            }
        }
        for i in ending {
            self.end(i, now);
        }
        self.run_deferred();
    }

    /// Ends every stream (the input is over).
    pub fn finish(&mut self, now: Duration) {
        for i in 0..self.slots.len() {
            self.end(i, now);
        }
        self.run_deferred();
    }

    /// The report as of `now`: every tracked stream's row, and the streams ended since the
    /// last. While the streams are lent, it has the monitor's own counters only.
    pub fn report(&mut self, now: Duration) -> MonitorReport {
        self.run_deferred();
        let mut health = self.health;
        health.tracked = self.index.len() as f64;
        let (streams, ended) = match self.streams.as_mut() {
            Some(s) => (s.rows(now), s.take_ended()),
            None => (Vec::new(), Vec::new()),
        };
        MonitorReport {
            t: now.as_secs_f64(),
            health,
            streams,
            ended,
        }
    }

    fn find_or_start(&mut self, key: StreamKey, socket: usize, now: Duration) -> Option<usize> {
        if let Some(&i) = self.index.get(&HashedKey(key)) {
            return Some(i);
        }
        if self.index.len() >= self.cfg.max_streams {
            return None;
        }
        let mut stream = MonitoredStream::new(self.next_id, key, socket, now);
        self.next_id += 1;
        stream.call_id = [key.1, key.0]
            .iter()
            .flatten()
            .find_map(|a| self.call_ids.get(a).cloned());
        let slot = Slot {
            key,
            last_at: now,
            said_bye: false,
            named: [0; 4],
            main_pt: None,
            squares: None,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        self.queue.push(i, Work::Start(Box::new(stream)));
        self.index.insert(HashedKey(key), i);
        self.untracked.remove(&HashedKey(key));
        self.health.started += 1;
        Some(i)
    }

    /// Ends the stream in slot `i` (if any) at `now`.
    fn end(&mut self, i: usize, now: Duration) {
        let Some(s) = self.slots[i].take() else {
            return;
        };
        self.queue.push(
            i,
            Work::End {
                now,
                seq: self.ends,
            },
        );
        self.ends += 1;
        self.index.remove(&HashedKey(s.key));
        self.free.push(i);
        self.health.ended += 1;
    }

    fn on_sip(&mut self, now: Duration, src: Option<SocketAddr>, data: &[u8]) {
        self.health.sip += 1;
        self.bindings.sip_messages += 1;
        let Some(sighting) = sip::sighting(now, src, data) else {
            return;
        };
        if let Some(call) = sip::call_id(data) {
            let call: Arc<str> = Arc::from(call);
            if self.call_ids.len() > CALL_ENDPOINTS {
                self.call_ids.clear();
            }
            for m in &sighting.media {
                if let Some(ip) = m.connection.or(src.map(|a| a.ip())) {
                    self.call_ids
                        .insert(SocketAddr::new(ip, m.port), Arc::clone(&call));
                }
            }
        }
        self.bindings.add(sighting);
    }

    fn on_rtcp(&mut self, now: Duration, src: Option<SocketAddr>, data: &[u8]) {
        let slots = &mut self.slots;
        let queue = &mut self.queue;
        // `f` gets each matching stream's slot number, what the router knows of it, and the queue.
        let mut each =
            |ssrc: u32, from_source: bool, f: &mut dyn FnMut(usize, &mut Slot, &mut Deferred)| {
                for (i, s) in slots.iter_mut().enumerate() {
                    let Some(s) = s else { continue };
                    // The source's own reports come from its address (RTCP on the next port).
                    let ours = !from_source || s.key.0.map(|a| a.ip()) == src.map(|a| a.ip());
                    if s.key.2 == ssrc && ours {
                        f(i, s, queue);
                    }
                }
            };
        let _ = wire::parse(data, |event| match event {
            Event::SenderReport { ssrc, info } => each(ssrc, true, &mut |i, _, q| {
                q.push(i, Work::Measure(Measure::SenderReport { now, info }));
            }),
            Event::Reception { block, .. } => each(block.ssrc, false, &mut |i, _, q| {
                q.push(i, Work::Measure(Measure::Reception { now, block }));
            }),
            // A BYE matters only to the router, which ends the stream a little later.
            Event::Bye { ssrc } => each(ssrc, true, &mut |_, s, _| s.said_bye = true),
            _ => {}
        });
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
