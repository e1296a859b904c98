//! The jitter buffer: bounded, preallocated packet storage keyed by extended sequence number.
//!
//! `insert` (network side) validates the source (RFC 3550 A.1 via [`SourceTracker`]), extends
//! sequence numbers and timestamps, detects restarts, and stores the payload in a preallocated
//! slot; `pop` (decoder side, in `pop.rs`) hands packets out in sequence order. Rules:
//! - **Probation**: the first source's packets are queued tentatively but nothing plays until two
//!   arrive in sequence; a different SSRC before that replaces them (counted `foreign`).
//! - **Restarts** (new SSRC from the locked sender, a sequence jump, a timestamp jump) must be
//!   confirmed by the next packet following the candidate, which is held in one spare slot
//!   meanwhile; then the stream restarts per [`ResetPolicy`] (one reset counted). An
//!   unconfirmed candidate is dropped (`foreign` for an SSRC, `stray` for a jump).
//! - A packet A.1 calls a jump but whose sequence number and timestamp fall inside what the buffer
//!   already knows is a very late or reordered packet (A.1's 100-packet misorder limit is far
//!   smaller than a multi-second buffer), and is handled as one.
//! - **Late**: behind the play position, and not played before. **Duplicate**: queued or played.
//! - **Overflow, drop-oldest**: a packet beyond the slot window, or a queue longer than
//!   `max_depth`, evicts the oldest queued packets. Latency stays bounded and the newest audio,
//!   the part a live listener still needs, is kept; rejecting new packets instead would make every
//!   later packet late as well.
//! - **Starvation**: once `pop` found nothing queued, the packets missing at the play position had
//!   their turn while nothing played. When audio comes back, `pop` waits `starve_grace` after the
//!   first arrival (a burst after a network freeze arrives slightly reordered), then skips to the
//!   first queued packet, counting the ones skipped as lost, and skips any timestamp gap before it
//!   (a pause already elapsed in real time). Meanwhile depth reads 0 while the play position is
//!   missing, so a rebuffering controller does not resume on audio `pop` will not hand out yet;
//!   the decoder should keep calling `pop` while rebuffering.

mod pop;
#[cfg(test)]
mod proptests;
mod restart;
#[cfg(test)]
mod tests;

use std::time::Duration;

use super::estimator::DelayEstimator;
use super::interarrival::InterarrivalJitter;
use super::slots::{HeldPacket, SlotMeta, SlotState, SlotStore};
use super::types::{InsertOutcome, JitterConfig, JitterStats, ResetReason};
use crate::rtp::header::RtpHeader;
use crate::rtp::seq::{SeqExtender, TsExtender};
use crate::rtp::source::{SeqCheck, SourceTracker, SourceVerdict};

/// Lowest extended sequence number a stream starts at, leaving room for packets reordered before it.
const SEQ_BASE: u64 = 1 << 16;
/// Lowest extended timestamp a stream starts at, for the same reason.
const TS_BASE: u64 = 1 << 32;

/// Recent packet durations in RTP ticks; the smallest is the packet duration, because pauses and
/// losses only ever make steps longer.
#[derive(Debug, Clone, Default)]
struct Cadence {
    steps: [u64; 16],
    next: usize,
    min: u64,
}

impl Cadence {
    fn observe(&mut self, step: u64, clock_rate: u32) {
        if step == 0 || step > u64::from(clock_rate) {
            return;
        }
        if let Some(s) = self.steps.get_mut(self.next % 16) {
            *s = step;
        }
        self.next = self.next.wrapping_add(1);
        self.min = self
            .steps
            .iter()
            .copied()
            .filter(|s| *s > 0)
            .min()
            .unwrap_or(0);
    }

    fn ticks(&self) -> u64 {
        self.min
    }
}

/// The highest packet received so far in the current stream.
#[derive(Debug, Clone, Copy)]
struct Highest {
    seq: u64,
    ts: u64,
    arrival: Duration,
}

/// Playout position and bookkeeping of the current stream.
#[derive(Debug, Clone, Default)]
struct Cursor {
    started: bool,
    confirmed: bool,
    popped: bool,
    starved: bool,
    resume_at: Option<Duration>,
    draining: bool,
    next_seq: u64,
    play_ts: u64,
    queued: usize,
    newest_end_ts: u64,
    highest: Option<Highest>,
}

/// A bounded jitter buffer for one RTP stream (sans-IO: arrival and playout times are arguments).
#[derive(Debug)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    slots: SlotStore,
    held: HeldPacket,
    held_reason: Option<ResetReason>,
    tracker: SourceTracker,
    seq_ext: SeqExtender,
    ts_ext: TsExtender,
    cadence: Cadence,
    estimator: DelayEstimator,
    jitter: InterarrivalJitter,
    stats: JitterStats,
    cur: Cursor,
    last_flush_latency: Option<Duration>,
}

/// The fields of a packet that storage needs, whichever slot it comes from.
#[derive(Debug, Clone, Copy)]
struct Incoming {
    seq: u16,
    ts: u32,
    marker: bool,
    payload_type: u8,
    arrival: Duration,
}

impl Incoming {
    fn new(hdr: &RtpHeader, arrival: Duration) -> Self {
        Self {
            seq: hdr.sequence,
            ts: hdr.timestamp,
            marker: hdr.marker,
            payload_type: hdr.payload_type,
            arrival,
        }
    }
}

impl JitterBuffer {
    /// Builds a buffer, allocating all of its packet storage now.
    pub fn new(cfg: JitterConfig) -> Self {
        let slots = SlotStore::new(cfg.capacity, cfg.max_payload);
        Self {
            held: HeldPacket::new(cfg.max_payload),
            held_reason: None,
            tracker: SourceTracker::new(),
            seq_ext: SeqExtender::new(),
            ts_ext: TsExtender::new(),
            cadence: Cadence::default(),
            estimator: DelayEstimator::new(cfg.clock_rate, cfg.estimator.clone()),
            jitter: InterarrivalJitter::new(cfg.clock_rate),
            stats: JitterStats::default(),
            cur: Cursor::default(),
            last_flush_latency: None,
            slots,
            cfg,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &JitterConfig {
        &self.cfg
    }

    /// Offers one received packet (header, payload bytes, arrival time) and says what became of it.
    pub fn insert(&mut self, hdr: &RtpHeader, payload: &[u8], arrival: Duration) -> InsertOutcome {
        self.stats.received += 1;
        if payload.len() > self.slots.max_payload() {
            self.stats.too_large += 1;
            return InsertOutcome::TooLarge;
        }
        let pkt = Incoming::new(hdr, arrival);
        match self.tracker.check(hdr.ssrc, hdr.sequence) {
            SourceVerdict::Fresh => {
                self.drop_held();
                self.start_tentative();
                self.queue(pkt, payload)
            }
            SourceVerdict::Challenger => self.hold(hdr, payload, arrival, ResetReason::NewSsrc),
            SourceVerdict::Switched => self.restart(ResetReason::NewSsrc, hdr, payload, arrival),
            SourceVerdict::Current(check) => self.insert_current(check, hdr, payload, arrival),
        }
    }

    fn insert_current(
        &mut self,
        check: SeqCheck,
        hdr: &RtpHeader,
        payload: &[u8],
        arrival: Duration,
    ) -> InsertOutcome {
        let pkt = Incoming::new(hdr, arrival);
        match check {
            SeqCheck::Probation => self.queue(pkt, payload),
            SeqCheck::Validated => {
                self.cur.confirmed = true;
                self.queue(pkt, payload)
            }
            SeqCheck::InOrder => {
                if self.held_reason == Some(ResetReason::TsJump) && self.confirms_held(hdr) {
                    return self.restart(ResetReason::TsJump, hdr, payload, arrival);
                }
                self.drop_held();
                if self.is_ts_jump(hdr, arrival) {
                    return self.hold(hdr, payload, arrival, ResetReason::TsJump);
                }
                self.queue(pkt, payload)
            }
            SeqCheck::Behind => {
                self.drop_held();
                self.queue(pkt, payload)
            }
            SeqCheck::JumpCandidate | SeqCheck::Resynced if self.in_known_window(hdr) => {
                self.drop_held();
                self.queue(pkt, payload)
            }
            SeqCheck::JumpCandidate => self.hold(hdr, payload, arrival, ResetReason::SeqJump),
            SeqCheck::Resynced => self.restart(ResetReason::SeqJump, hdr, payload, arrival),
        }
    }

    fn cap(&self) -> u64 {
        self.slots.capacity() as u64
    }

    fn ticks(&self, d: Duration) -> u64 {
        (d.as_nanos() * u128::from(self.cfg.clock_rate) / 1_000_000_000) as u64
    }

    /// Stores a packet of the current stream (or tells why not).
    fn queue(&mut self, pkt: Incoming, payload: &[u8]) -> InsertOutcome {
        // A fresh stream continues the extended numbering where the last one ended, so that no
        // number means two different packets while old slots still hold played markers.
        let ext_seq = match self.seq_ext.highest() {
            None => self
                .seq_ext
                .restart_at(pkt.seq, self.cur.next_seq.max(SEQ_BASE)),
            Some(_) => self.seq_ext.extend(pkt.seq),
        };
        let mut ext_ts = match self.ts_ext.highest() {
            None => self
                .ts_ext
                .restart_at(pkt.ts, self.cur.play_ts.max(TS_BASE)),
            Some(_) => self.ts_ext.extend(pkt.ts),
        };
        if let Some(h) = self.cur.highest.filter(|h| ext_seq > h.seq) {
            // A pause longer than `max_pause` plays as `max_pause` of silence, so the timeline is
            // compressed right here: depth then counts only audio and silence that will play.
            let natural = h.ts + (ext_seq - h.seq) * self.cadence.ticks();
            let limit = natural + self.ticks(self.cfg.max_pause);
            if ext_ts > limit {
                ext_ts = self.ts_ext.restart_at(pkt.ts, limit);
                // The timestamp reference moved, so the delay history's base is meaningless.
                self.estimator.rebase();
            }
        }
        let cap = self.cap();
        if !self.cur.started {
            self.cur.started = true;
            self.cur.next_seq = ext_seq;
            self.cur.play_ts = ext_ts;
            self.cur.newest_end_ts = ext_ts;
        } else if ext_seq < self.cur.next_seq {
            let span_ok = self.cur.next_seq - ext_seq < cap
                && self.cur.highest.is_none_or(|h| h.seq - ext_seq < cap);
            if self.cur.popped || !span_ok {
                // Its delay still tells the estimator that the target was too small.
                self.estimator.observe(ext_ts, pkt.arrival);
                return if self.slots.find(ext_seq, SlotState::Played).is_some() {
                    self.stats.duplicate += 1;
                    InsertOutcome::Duplicate
                } else {
                    self.stats.late += 1;
                    InsertOutcome::Late
                };
            }
            // Nothing has played yet: an earlier packet moves the start back.
            self.cur.next_seq = ext_seq;
            self.cur.play_ts = ext_ts;
        }
        if self.slots.is_queued(ext_seq) {
            self.stats.duplicate += 1;
            return InsertOutcome::Duplicate;
        }
        self.estimator.observe(ext_ts, pkt.arrival);
        self.jitter.observe(pkt.ts, pkt.arrival);
        if self.cur.starved && self.cur.resume_at.is_none() {
            // First arrival after starvation: `pop` gives reordered stragglers a grace period.
            self.cur.resume_at = Some(pkt.arrival + self.cfg.starve_grace);
        }
        let mut evicted = 0;
        if ext_seq >= self.cur.next_seq + cap {
            evicted += self.advance_to(ext_seq + 1 - cap);
        }
        let meta = SlotMeta {
            ext_seq,
            ext_ts,
            rtp_ts: pkt.ts,
            rtp_seq: pkt.seq,
            marker: pkt.marker,
            payload_type: pkt.payload_type,
            arrival: pkt.arrival,
        };
        if !self.slots.store(meta, payload) {
            self.stats.too_large += 1;
            return InsertOutcome::TooLarge;
        }
        self.cur.queued += 1;
        let reordered = self.cur.highest.is_some_and(|h| ext_seq < h.seq);
        if reordered {
            self.stats.reordered += 1;
        }
        match self.cur.highest {
            Some(h) if ext_seq <= h.seq => {}
            prev => {
                if let Some(h) = prev.filter(|h| ext_seq == h.seq + 1 && ext_ts > h.ts) {
                    self.cadence.observe(ext_ts - h.ts, self.cfg.clock_rate);
                }
                self.cur.highest = Some(Highest {
                    seq: ext_seq,
                    ts: ext_ts,
                    arrival: pkt.arrival,
                });
            }
        }
        let end = ext_ts + self.cadence.ticks();
        self.cur.newest_end_ts = self.cur.newest_end_ts.max(end);
        let max_depth = self.ticks(self.cfg.max_depth);
        while self.cur.queued > 1 && self.depth_ticks() > max_depth {
            let Some(first) = self.first_queued() else {
                break;
            };
            evicted += self.advance_to(first + 1);
        }
        if evicted > 0 {
            InsertOutcome::Overflow {
                evicted: u32::try_from(evicted).unwrap_or(u32::MAX),
            }
        } else {
            InsertOutcome::Queued { reordered }
        }
    }

    /// Moves the play position to `target`, evicting queued packets on the way (drop-oldest
    /// overflow) and counting the missing ones lost; returns how many were evicted.
    fn advance_to(&mut self, target: u64) -> u64 {
        let start = self.cur.next_seq;
        if target <= start {
            return 0;
        }
        // Queued packets all lie within one slot window of the play position.
        let scan_end = target.min(start + self.cap());
        let mut evicted = 0;
        let cad = self.cadence.ticks();
        for s in start..scan_end {
            if let Some(slot) = self.slots.find(s, SlotState::Queued) {
                self.cur.play_ts = self.cur.play_ts.max(slot.ext_ts + cad);
                self.slots.set_state(s, SlotState::Empty);
                evicted += 1;
            }
        }
        self.cur.queued = self.cur.queued.saturating_sub(evicted as usize);
        self.stats.overflow += evicted;
        self.stats.lost += (target - start) - evicted;
        self.cur.next_seq = target;
        self.cur.popped = true;
        evicted
    }

    /// The lowest queued extended sequence number.
    fn first_queued(&self) -> Option<u64> {
        if self.cur.queued == 0 {
            return None;
        }
        let start = self.cur.next_seq;
        (start..start + self.cap()).find(|s| self.slots.is_queued(*s))
    }

    /// Forgets the stream (queued packets, source lock, extension) but keeps counters and the
    /// estimator's network history; the next packet starts over with probation.
    pub fn clear(&mut self) {
        let (base_seq, base_ts) = self.next_base();
        self.stats.discarded += self.slots.discard_queued();
        self.held_reason = None;
        self.tracker.reset();
        self.begin_stream(base_seq, base_ts);
    }

    /// Counters by reason.
    pub fn stats(&self) -> &JitterStats {
        &self.stats
    }

    /// The delay estimator fed by this buffer's arrivals.
    pub fn estimator(&self) -> &DelayEstimator {
        &self.estimator
    }

    /// Advances the estimator's decay to `now` and returns the target delay.
    pub fn update_target(&mut self, now: Duration) -> Duration {
        self.estimator.update(now)
    }

    /// RFC 3550 A.8 interarrival jitter of the stream.
    pub fn interarrival_jitter(&self) -> Duration {
        self.jitter.jitter()
    }
}
