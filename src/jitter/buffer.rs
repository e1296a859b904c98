//! The jitter buffer: bounded packet storage keyed by extended sequence number, with payload
//! bytes in a fixed byte budget.
//!
//! `insert` (network side) validates the source (RFC 3550 A.1 via [`SourceTracker`]), extends
//! sequence numbers and timestamps, handles discontinuities, and stores the payload; `pop`
//! (decoder side, in `pop.rs`) hands packets out in sequence order. Rules:
//! - **Probation**: the first source's packets are queued tentatively but nothing plays until two
//!   arrive in sequence, or four that agree (a stream reordered from its first packet); a
//!   different SSRC before that replaces them (counted `foreign`).
//! - **Late is late**: a packet whose audio has already played (behind the play position, by
//!   sequence number and timestamp alike, however far, across wraps) is counted `late` and
//!   dropped; it changes nothing else, not even the delay estimate (no target could have saved
//!   it). A packet A.1 calls a jump but whose numbers fall inside what the buffer knows is
//!   handled as the late or reordered packet it is.
//! - **Restarts** (new SSRC from the locked sender, a sequence jump, a timestamp jump) need
//!   evidence: a few held packets of the new numbering that agree (see `candidates.rs`); a
//!   packet of the current numbering meanwhile cancels them (counted `foreign`, `late` or
//!   `stray`). A confirmed restart discards nothing: the old stream's buffered audio plays out
//!   and the new stream follows it (see `restart.rs`), counted once in `resets`.
//! - **Duplicate**: queued or played.
//! - **Overflow, drop-oldest**: a packet beyond the slot window, a queue longer than
//!   `max_depth`, or payload bytes beyond the byte budget evict the oldest queued packets.
//!   Latency stays bounded and the newest audio, the part a live listener still needs, is kept;
//!   rejecting new packets instead would make every later packet late as well.
//! - **Starvation**: once `pop` found nothing queued, the packets missing at the play position had
//!   their turn while nothing played. When audio comes back, `pop` waits `starve_grace` after the
//!   first arrival (a burst after a network freeze arrives slightly reordered), then skips to the
//!   first queued packet, counting the ones skipped as lost, and skips any timestamp gap before it
//!   (a pause already elapsed in real time). Meanwhile depth reads 0 while the play position is
//!   missing, so a rebuffering controller does not resume on audio `pop` will not hand out yet;
//!   the decoder should keep calling `pop` while rebuffering.

mod candidates;
mod incoming;
mod pause;
mod pop;
#[cfg(test)]
mod proptests;
mod restart;
#[cfg(test)]
mod tests;

use std::time::Duration;

use super::estimator::DelayEstimator;
use super::interarrival::InterarrivalJitter;
use super::slots::{SlotMeta, SlotState, SlotStore, StoreError, MAX_PAYLOAD};
use super::types::{InsertOutcome, JitterConfig, JitterStats, ResetReason};
use crate::rtp::header::RtpHeader;
use crate::rtp::seq::{SeqExtender, TsExtender};
use crate::rtp::source::{SeqCheck, SourceTracker, SourceVerdict};
use candidates::Candidates;
use incoming::Incoming;

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
    /// Records one step; returns whether the packet duration (the smallest step) changed.
    fn observe(&mut self, step: u64, clock_rate: u32) -> bool {
        if step == 0 || step > u64::from(clock_rate) {
            return false;
        }
        let old = self
            .steps
            .get_mut(self.next % 16)
            .map_or(0, |s| std::mem::replace(s, step));
        self.next = self.next.wrapping_add(1);
        let before = self.min;
        if self.min == 0 || step < self.min {
            self.min = step;
        } else if old == self.min && step != self.min {
            // The smallest left the window: look again (steady streams never get here).
            self.min = self
                .steps
                .iter()
                .copied()
                .filter(|s| *s > 0)
                .min()
                .unwrap_or(0);
        }
        self.min != before
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
    rtp_seq: u16,
    rtp_ts: u32,
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
    /// Sequence numbers `[from, to)` left unused between an old stream and the new one after a
    /// restart: skipped without counting losses; the first frame from `from` on is a new stream.
    boundary: Option<(u64, u64)>,
}

/// A bounded jitter buffer for one RTP stream (sans-IO: arrival and playout times are arguments).
#[derive(Debug)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    slots: SlotStore,
    cands: Candidates,
    held_bytes: Vec<u8>,
    tracker: SourceTracker,
    seq_ext: SeqExtender,
    ts_ext: TsExtender,
    cadence: Cadence,
    estimator: DelayEstimator,
    jitter: InterarrivalJitter,
    stats: JitterStats,
    cur: Cursor,
    last_flush_latency: Option<Duration>,
    /// The packet being inserted answers a NACK: its arrival says nothing about network delay.
    retransmission: bool,
}

impl Incoming {
    fn new(hdr: &RtpHeader, arrival: Duration) -> Self {
        Self {
            ssrc: hdr.ssrc,
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
        let slots = SlotStore::new(cfg.capacity, cfg.max_bytes);
        Self {
            cands: Candidates::default(),
            held_bytes: Vec::new(),
            tracker: SourceTracker::new(),
            seq_ext: SeqExtender::new(),
            ts_ext: TsExtender::new(),
            cadence: Cadence::default(),
            estimator: DelayEstimator::new(cfg.clock_rate, cfg.estimator.clone()),
            jitter: InterarrivalJitter::new(cfg.clock_rate),
            stats: JitterStats::default(),
            cur: Cursor::default(),
            last_flush_latency: None,
            retransmission: false,
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
        if payload.len() > MAX_PAYLOAD.min(self.cfg.max_bytes.max(1)) {
            self.stats.too_large += 1;
            return InsertOutcome::TooLarge;
        }
        // A.1 state before this packet: a late packet must not move it.
        let before = self.tracker.clone();
        match self.tracker.check(hdr.ssrc, hdr.sequence) {
            SourceVerdict::Fresh => {
                self.drop_candidates();
                self.start_tentative();
                let outcome = self.queue(Incoming::new(hdr, arrival), payload);
                self.confirm_if_agreeing();
                outcome
            }
            SourceVerdict::Challenger => {
                self.consider(hdr, payload, arrival, ResetReason::NewSsrc, false)
            }
            SourceVerdict::Switched => {
                self.consider(hdr, payload, arrival, ResetReason::NewSsrc, true)
            }
            SourceVerdict::Current(check) => {
                self.insert_current(check, before, hdr, payload, arrival)
            }
        }
    }

    /// Offers a retransmitted packet (RTX, or an answer to a NACK on the media SSRC): stored like
    /// any other, but its arrival, a round trip late by design, does not feed the delay and
    /// jitter estimates (the target would otherwise grow to cover retransmission times).
    pub fn insert_retransmission(
        &mut self,
        hdr: &RtpHeader,
        payload: &[u8],
        arrival: Duration,
    ) -> InsertOutcome {
        self.retransmission = true;
        let outcome = self.insert(hdr, payload, arrival);
        self.retransmission = false;
        outcome
    }

    fn insert_current(
        &mut self,
        check: SeqCheck,
        before: SourceTracker,
        hdr: &RtpHeader,
        payload: &[u8],
        arrival: Duration,
    ) -> InsertOutcome {
        let pkt = Incoming::new(hdr, arrival);
        match check {
            SeqCheck::Probation => {
                let outcome = self.queue(pkt, payload);
                if outcome == InsertOutcome::Late {
                    // Refused as out of place: it must not restart probation either.
                    self.tracker = before;
                }
                self.confirm_if_agreeing();
                outcome
            }
            SeqCheck::Validated => {
                self.cur.confirmed = true;
                self.queue(pkt, payload)
            }
            SeqCheck::InOrder => {
                if self.cands.reason() == Some(ResetReason::TsJump) && self.agrees_with_held(hdr) {
                    return self.consider(hdr, payload, arrival, ResetReason::TsJump, false);
                }
                self.drop_candidates();
                if self.is_ts_jump(hdr, arrival) {
                    return self.consider(hdr, payload, arrival, ResetReason::TsJump, false);
                }
                self.queue(pkt, payload)
            }
            SeqCheck::Behind => {
                self.drop_candidates();
                self.queue(pkt, payload)
            }
            SeqCheck::JumpCandidate | SeqCheck::Resynced if self.in_known_window(hdr) => {
                self.tracker = before;
                self.queue(pkt, payload)
            }
            SeqCheck::JumpCandidate | SeqCheck::Resynced if self.is_from_played_past(hdr) => {
                self.tracker = before;
                self.stats.late += 1;
                InsertOutcome::Late
            }
            SeqCheck::JumpCandidate => {
                self.consider(hdr, payload, arrival, ResetReason::SeqJump, false)
            }
            SeqCheck::Resynced => self.consider(hdr, payload, arrival, ResetReason::SeqJump, true),
        }
    }

    /// A first source whose packets never came two in sequence (reordered from the start) is
    /// still accepted once four of them agree on one numbering.
    fn confirm_if_agreeing(&mut self) {
        if self.cur.confirmed || self.cur.queued < 4 {
            return;
        }
        let (Some(h), Some(first)) = (self.cur.highest, self.first_queued()) else {
            return;
        };
        if h.seq - first < 32 {
            self.cur.confirmed = true;
            if let Some(ssrc) = self.tracker.current_ssrc() {
                self.tracker.adopt(ssrc, h.rtp_seq);
            }
        }
    }

    fn cap(&self) -> u64 {
        self.slots.capacity() as u64
    }

    /// Short packets (AES67's 1 ms and 125 µs) need more slots than the default to hold the
    /// buffer's whole depth: once the packet duration is known, the ring grows to fit it (a
    /// quarter more for reordering and bursts), at most [`MAX_SLOTS`](super::types::MAX_SLOTS). This allocates, once or
    /// twice per stream, on the thread that runs the buffer (never the audio callback), and
    /// never beyond `max_capacity`.
    fn fit_capacity(&mut self) {
        let step = self.cadence.ticks();
        if step == 0 {
            return;
        }
        let depth = self.ticks(self.cfg.max_depth);
        let needed = (depth / step).saturating_mul(5) / 4 + 64;
        let cap = self.cap();
        let limit = self.cfg.max_capacity.min(super::types::MAX_SLOTS) as u64;
        if needed > cap && cap < limit {
            let grown = needed.min(limit) as usize;
            tracing::debug!(
                from = cap,
                to = grown,
                step,
                "jitter buffer slots grow to fit the packet time"
            );
            self.slots.grow(grown);
        }
    }

    /// `d` in RTP ticks of the stream's clock.
    pub fn ticks_of(&self, d: Duration) -> u64 {
        self.ticks(d)
    }

    fn ticks(&self, d: Duration) -> u64 {
        let rate = u64::from(self.cfg.clock_rate);
        // Whole seconds times the rate, plus the fraction's ticks rounded down: the same as
        // `nanos * rate / 1e9`, in 64-bit arithmetic (the fraction's product stays under 2^63).
        d.as_secs()
            .saturating_mul(rate)
            .saturating_add(u64::from(d.subsec_nanos()) * rate / 1_000_000_000)
    }

    /// `ticks` of RTP time as a duration.
    pub fn duration_of(&self, ticks: u64) -> Duration {
        let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(self.cfg.clock_rate.max(1));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Stores a packet of the current stream (or tells why not).
    fn queue(&mut self, pkt: Incoming, payload: &[u8]) -> InsertOutcome {
        let (ext_seq, ext_ts) = self.extend_numbers(&pkt);
        let cap = self.cap();
        if let Err(refused) = self.place(ext_seq, ext_ts, cap) {
            return refused;
        }
        if self.slots.is_queued(ext_seq) {
            self.stats.duplicate += 1;
            return InsertOutcome::Duplicate;
        }
        if !self.retransmission {
            self.estimator.observe(ext_ts, pkt.arrival);
            self.jitter.observe(pkt.ts, pkt.arrival);
        }
        if self.cur.starved && self.cur.resume_at.is_none() {
            // First arrival after starvation: `pop` gives reordered stragglers a grace period.
            self.cur.resume_at = Some(pkt.arrival + self.cfg.starve_grace);
        }
        let mut evicted = 0;
        if ext_seq >= self.cur.next_seq + cap {
            evicted += self.advance_to(ext_seq + 1 - cap);
        }
        let meta = SlotMeta {
            ssrc: pkt.ssrc,
            ext_seq,
            ext_ts,
            rtp_ts: pkt.ts,
            rtp_seq: pkt.seq,
            marker: pkt.marker,
            payload_type: pkt.payload_type,
            arrival: pkt.arrival,
            own_ticks: self.own_ticks(payload),
        };
        if let Err(refused) = self.store(meta, payload, &mut evicted) {
            return refused;
        }
        self.cur.queued += 1;
        let reordered = self.note_highest(&pkt, ext_seq, ext_ts);
        evicted += self.trim_to_max_depth();
        if evicted > 0 {
            InsertOutcome::Overflow {
                evicted: u32::try_from(evicted).unwrap_or(u32::MAX),
            }
        } else {
            InsertOutcome::Queued { reordered }
        }
    }

    /// The packet's extended sequence number and timestamp. A fresh stream continues the
    /// extended numbering where the last one ended, so that no number means two different
    /// packets while old slots still hold played markers.
    fn extend_numbers(&mut self, pkt: &Incoming) -> (u64, u64) {
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
        (ext_seq, ext_ts)
    }

    /// Places the packet against the play position: the first packet starts it; an earlier
    /// one may move it back before anything has played. `Err` says why it is refused.
    fn place(&mut self, ext_seq: u64, ext_ts: u64, cap: u64) -> Result<(), InsertOutcome> {
        if !self.cur.started {
            self.cur.started = true;
            self.cur.next_seq = ext_seq;
            self.cur.play_ts = ext_ts;
            self.cur.newest_end_ts = ext_ts;
            return Ok(());
        }
        if ext_seq >= self.cur.next_seq {
            return Ok(());
        }
        let span_ok = self.cur.next_seq - ext_seq < cap
            && self.cur.highest.is_none_or(|h| h.seq - ext_seq < cap);
        if self.cur.popped || !span_ok {
            // No target within the window could have saved it, so it tells the delay
            // estimator nothing: a late packet changes nothing but the `late` count.
            return Err(if self.slots.find(ext_seq, SlotState::Played).is_some() {
                self.stats.duplicate += 1;
                InsertOutcome::Duplicate
            } else {
                self.stats.late += 1;
                InsertOutcome::Late
            });
        }
        // Nothing has played yet: an earlier packet moves the start back, if its timestamp
        // agrees with its place (a timestamp hours behind would make hours of "loss").
        let steps = self.cur.next_seq - ext_seq;
        let behind = self.cur.play_ts.saturating_sub(ext_ts);
        if ext_ts > self.cur.play_ts || behind > steps * self.max_ticks_per_seq() {
            self.stats.stray += 1;
            return Err(InsertOutcome::Late);
        }
        self.cur.next_seq = ext_seq;
        self.cur.play_ts = ext_ts;
        Ok(())
    }

    /// Stores the packet, making room by drop-oldest when the byte budget is full (counted in
    /// `evicted`). `Err` says why it could not be stored.
    fn store(
        &mut self,
        meta: SlotMeta,
        payload: &[u8],
        evicted: &mut u64,
    ) -> Result<(), InsertOutcome> {
        loop {
            match self.slots.store(meta, payload) {
                Ok(()) => return Ok(()),
                Err(StoreError::NoRoom) => match self.first_queued() {
                    Some(first) if first < meta.ext_seq => *evicted += self.advance_to(first + 1),
                    _ if self.cands.len() > 0 => self.drop_candidates(),
                    _ => {
                        self.stats.overflow += 1;
                        return Err(InsertOutcome::Overflow {
                            evicted: u32::try_from(*evicted).unwrap_or(u32::MAX),
                        });
                    }
                },
                Err(StoreError::TooLarge) => {
                    self.stats.too_large += 1;
                    return Err(InsertOutcome::TooLarge);
                }
            }
        }
    }

    /// Notes a stored packet against the highest one so far (and the packet cadence); returns
    /// whether it arrived out of order.
    fn note_highest(&mut self, pkt: &Incoming, ext_seq: u64, ext_ts: u64) -> bool {
        let reordered = self.cur.highest.is_some_and(|h| ext_seq < h.seq);
        if reordered {
            self.stats.reordered += 1;
        }
        match self.cur.highest {
            Some(h) if ext_seq <= h.seq => {}
            prev => {
                if let Some(h) = prev.filter(|h| ext_seq == h.seq + 1 && ext_ts > h.ts) {
                    // The slots fit a packet duration; the ring only grows, so the fit holds
                    // until the duration changes.
                    if self.cadence.observe(ext_ts - h.ts, self.cfg.clock_rate) {
                        self.fit_capacity();
                    }
                }
                self.cur.highest = Some(Highest {
                    seq: ext_seq,
                    ts: ext_ts,
                    rtp_seq: pkt.seq,
                    rtp_ts: pkt.ts,
                    arrival: pkt.arrival,
                });
            }
        }
        let end = ext_ts + self.cadence.ticks();
        self.cur.newest_end_ts = self.cur.newest_end_ts.max(end);
        reordered
    }

    /// Evicts the oldest packets while the buffer is deeper than its ceiling; returns how many.
    fn trim_to_max_depth(&mut self) -> u64 {
        let max_depth = self.ticks(self.cfg.max_depth);
        let mut evicted = 0;
        while self.cur.queued > 1 && self.depth_ticks() > max_depth {
            match self.evict_oldest() {
                Some(n) => evicted += n,
                None => break,
            }
        }
        evicted
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
        self.stats.lost += self.missing(start, target) - evicted.min(self.missing(start, target));
        self.cur.next_seq = target;
        self.cur.popped = true;
        evicted
    }

    /// Sequence numbers in `[from, to)` that are not the unused gap between two streams.
    fn missing(&self, from: u64, to: u64) -> u64 {
        let all = to.saturating_sub(from);
        let gap = self
            .cur
            .boundary
            .map_or(0, |(a, b)| b.min(to).saturating_sub(a.max(from)));
        all - gap.min(all)
    }

    fn agrees_with_held(&self, hdr: &RtpHeader) -> bool {
        self.cands.agrees(
            hdr.ssrc,
            hdr.sequence,
            hdr.timestamp,
            self.max_ticks_per_seq(),
        )
    }

    /// At most 100 ms of audio per sequence step: anything looser is not one stream.
    fn max_ticks_per_seq(&self) -> u64 {
        u64::from(self.cfg.clock_rate / 10).max(1)
    }

    /// Drop-oldest: moves the play position past the oldest queued packet, evicting it (and
    /// counting what was missing before it as lost); `None` when nothing is queued.
    fn evict_oldest(&mut self) -> Option<u64> {
        let first = self.first_queued()?;
        Some(self.advance_to(first + 1))
    }

    /// The lowest queued extended sequence number.
    /// A payload's own duration in RTP ticks where its bytes say it (PCM length, Opus TOC); 0 otherwise.
    fn own_ticks(&self, payload: &[u8]) -> u64 {
        if let Some(b) = self.cfg.bytes_per_tick.filter(|&b| b > 0) {
            (payload.len() / b) as u64
        } else if self.cfg.opus_durations {
            crate::rtp::opus_toc::packet_samples(payload).map_or(0, |s| s as u64)
        } else {
            0
        }
    }

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
        self.drop_candidates();
        self.stats.discarded += self.slots.discard_queued();
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
