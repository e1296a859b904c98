//! Discontinuities: packets from the played past, restart candidates, and placing a confirmed
//! new stream after the old one's audio (see the parent module's rules).

use std::time::Duration;

use super::candidates::{Candidate, MAX_CANDIDATES};
use super::{Cadence, Cursor, Incoming, JitterBuffer, SEQ_BASE, TS_BASE};
use crate::jitter::types::{InsertOutcome, ResetReason};
use crate::rtp::header::RtpHeader;

/// Sequence numbers left unused between an old stream and the new one that follows it, so that
/// new packets reordered ahead of the confirming ones have numbers of their own.
const RESTART_SEQ_GAP: u64 = 16;

/// A timestamp step this close to the elapsed arrival time continues the old timeline.
const CONTINUITY: Duration = Duration::from_secs(1);

impl JitterBuffer {
    /// Whether a forward step of the timestamp is impossible for the same stream: backwards, or
    /// further ahead than the elapsed arrival time (plus `max_ts_skew`) can explain.
    pub(super) fn is_ts_jump(&self, hdr: &RtpHeader, arrival: Duration) -> bool {
        let Some(h) = self.cur.highest else {
            return false;
        };
        let ext_seq = self.seq_ext.peek(hdr.sequence);
        if ext_seq <= h.seq {
            return false;
        }
        let dts = i128::from(self.ts_ext.peek(hdr.timestamp)) - i128::from(h.ts);
        if dts < 0 {
            return true;
        }
        let expected = i128::from(ext_seq - h.seq) * i128::from(self.cadence.ticks());
        let allowed = self.ticks(arrival.saturating_sub(h.arrival) + self.cfg.max_ts_skew);
        dts - expected > i128::from(allowed)
    }

    /// Whether a packet A.1 calls a jump is a very late or reordered packet of this stream.
    pub(super) fn in_known_window(&self, hdr: &RtpHeader) -> bool {
        let Some(h) = self.cur.highest else {
            return false;
        };
        let ext = self.seq_ext.peek(hdr.sequence);
        if ext > h.seq || ext.saturating_add(self.cap()) <= self.cur.next_seq {
            return false;
        }
        let ts = i128::from(self.ts_ext.peek(hdr.timestamp));
        let expected =
            i128::from(h.ts) - i128::from(h.seq - ext) * i128::from(self.cadence.ticks());
        let tolerance = i128::from(self.ticks(self.cfg.max_ts_skew));
        ts <= i128::from(h.ts) && (ts - expected).abs() <= tolerance
    }

    /// Whether a packet of the current SSRC belongs to audio already played, however long ago
    /// (within half the sequence and timestamp ranges, across wraps): its sequence number and
    /// timestamp both lie behind the play position, by amounts that agree with each other.
    pub(super) fn is_from_played_past(&self, hdr: &RtpHeader) -> bool {
        let Some(h) = self.cur.highest else {
            return false;
        };
        let dseq = i64::from(h.rtp_seq.wrapping_sub(hdr.sequence) as i16);
        let dts = i64::from(h.rtp_ts.wrapping_sub(hdr.timestamp) as i32);
        if dseq <= 0 || dts < 0 {
            return false;
        }
        // The timestamp moved at least a packet per sequence step, and at most that plus the
        // pauses between: a restart's random numbering almost never lands in that band.
        let cad = i64::try_from(self.cadence.ticks()).unwrap_or(i64::MAX);
        let pauses = i64::try_from(self.ticks(self.cfg.max_pause)).unwrap_or(i64::MAX);
        let min = (dseq - 1).saturating_mul(cad);
        let max = dseq
            .saturating_mul(cad)
            .saturating_mul(2)
            .saturating_add(pauses);
        let played = self.seq_ext.peek(hdr.sequence) < self.cur.next_seq;
        played && dts >= min && dts <= max
    }

    /// Holds a packet that may start a new stream; restarts once the held set is evidence, or
    /// at once when A.1 has already validated the new numbering (`validated`).
    pub(super) fn consider(
        &mut self,
        hdr: &RtpHeader,
        payload: &[u8],
        arrival: Duration,
        reason: ResetReason,
        validated: bool,
    ) -> InsertOutcome {
        if !self.agrees_with_held(hdr) {
            self.drop_candidates();
        }
        if self.cands.len() >= MAX_CANDIDATES {
            self.drop_candidates();
        }
        let mut evicted = 0;
        while !self.slots.fits(payload.len()) {
            match self.evict_oldest() {
                Some(n) => evicted += n,
                None => break,
            }
        }
        let Some(handle) = self.slots.pool().store(payload) else {
            self.stats.too_large += 1;
            return InsertOutcome::TooLarge;
        };
        let behind = self.cur.highest.is_some_and(|h| {
            (hdr.sequence.wrapping_sub(h.rtp_seq) as i16) < 0 && reason != ResetReason::NewSsrc
        });
        self.cands.push(
            Candidate {
                pkt: Incoming::new(hdr, arrival),
                handle,
                behind,
            },
            reason,
        );
        if validated || self.cands.confirmed() {
            return self.restart(reason);
        }
        if evicted > 0 {
            return InsertOutcome::Overflow {
                evicted: u32::try_from(evicted).unwrap_or(u32::MAX),
            };
        }
        InsertOutcome::Held
    }

    /// Releases the held set, counting each packet by what it turned out to be.
    pub(super) fn drop_candidates(&mut self) {
        // The common case, once per in-order packet: nothing held.
        if self.cands.len() == 0 && self.cands.reason().is_none() {
            return;
        }
        let reason = self.cands.reason();
        let mut out = Default::default();
        self.cands.take_sorted(&mut out);
        for c in out.into_iter().flatten() {
            self.slots.pool().release(c.handle);
            match reason {
                Some(ResetReason::NewSsrc) => self.stats.foreign += 1,
                _ if c.behind => self.stats.late += 1,
                _ => self.stats.stray += 1,
            }
        }
    }

    /// Where a new stream starts so that its extended numbers never collide with the old one's.
    pub(super) fn next_base(&self) -> (u64, u64) {
        let seq = self
            .cur
            .highest
            .map_or(self.cur.next_seq, |h| (h.seq + 1).max(self.cur.next_seq));
        let ts = self.cur.play_ts.max(self.cur.newest_end_ts);
        (seq.max(SEQ_BASE), ts.max(TS_BASE))
    }

    /// A packet of a new, unvalidated first source: whatever was tentatively queued was foreign.
    pub(super) fn start_tentative(&mut self) {
        if !self.cur.started {
            return;
        }
        let (base_seq, base_ts) = self.next_base();
        self.stats.foreign += self.slots.discard_queued();
        self.begin_stream(base_seq, base_ts);
        self.cur.started = false;
        self.cur.confirmed = false;
    }

    /// Re-initialises extension and playout state so that the next packet starts at the given base.
    pub(super) fn begin_stream(&mut self, base_seq: u64, base_ts: u64) {
        self.seq_ext.reset();
        self.ts_ext.reset();
        self.cadence = Cadence::default();
        self.estimator.rebase();
        self.jitter.rebase();
        self.cur = Cursor {
            next_seq: base_seq,
            play_ts: base_ts,
            newest_end_ts: base_ts,
            draining: self.cur.draining,
            ..Cursor::default()
        };
    }

    /// The held set is a new stream: it follows the old stream's buffered audio, which all still
    /// plays. Where its timestamps continue the old timeline (a sequence jump alone) it is placed
    /// by timestamp; otherwise it starts after the old audio's end plus the pause seen on the
    /// wire (at most `max_pause`), so the buffered level is what it was.
    fn restart(&mut self, reason: ResetReason) -> InsertOutcome {
        let mut held = Default::default();
        let n = self.cands.take_sorted(&mut held);
        let Some(first) = held.first().copied().flatten().map(|c| c.pkt) else {
            return InsertOutcome::Held;
        };
        self.stats.resets += 1;
        let newest = held.iter().flatten().last().map_or(first, |c| c.pkt);
        self.tracker.adopt(newest.ssrc, newest.seq);
        let cad = self.cadence.ticks();
        let placed = match self.cur.highest {
            Some(h) => {
                let dts = i128::from(self.ts_ext.peek(first.ts)) - i128::from(h.ts);
                let elapsed = i128::from(self.ticks(first.arrival.saturating_sub(h.arrival)));
                let continuous = (dts - elapsed).abs() <= i128::from(self.ticks(CONTINUITY))
                    && dts > 0
                    && reason != ResetReason::NewSsrc;
                if continuous {
                    // Same timeline, new numbering: the gap in timestamps says how many
                    // packets are missing in between (usually none).
                    let steps = (dts as u64 + cad / 2).checked_div(cad).unwrap_or(1).max(1);
                    self.seq_ext.restart_at(first.seq, h.seq + steps);
                    self.ts_ext.extend(first.ts);
                    "timestamps continue"
                } else {
                    let (base_seq, end_ts) = self.next_base();
                    let packet = self.duration_of(cad);
                    let pause = first
                        .arrival
                        .saturating_sub(h.arrival + packet)
                        .min(self.cfg.max_pause);
                    let start = base_seq + RESTART_SEQ_GAP;
                    self.seq_ext.restart_at(first.seq, start);
                    self.ts_ext.restart_at(first.ts, end_ts + self.ticks(pause));
                    self.cur.boundary = Some((base_seq, start));
                    self.jitter.rebase();
                    "after the buffered audio"
                }
            }
            None => {
                let (base_seq, base_ts) = self.next_base();
                self.seq_ext.restart_at(first.seq, base_seq);
                self.ts_ext.restart_at(first.ts, base_ts);
                self.cur.boundary = Some((base_seq, base_seq));
                "at the play position"
            }
        };
        tracing::info!(
            ?reason,
            ssrc = format_args!("{:#010x}", first.ssrc),
            seq = first.seq,
            ts = first.ts,
            placed,
            "stream restart: the old stream's buffered audio plays out first"
        );
        self.cur.confirmed = true;
        self.cur.started = true;
        let mut evicted = 0u32;
        for c in held.iter().take(n).flatten() {
            let outcome = self.queue_held(c.pkt, c.handle);
            if let InsertOutcome::Overflow { evicted: e } = outcome {
                evicted += e;
            }
        }
        if evicted > 0 {
            InsertOutcome::Overflow { evicted }
        } else {
            InsertOutcome::Reset(reason)
        }
    }

    /// Queues a held packet, moving its bytes out of the pool block it sits in.
    fn queue_held(&mut self, pkt: Incoming, handle: crate::jitter::pool::Handle) -> InsertOutcome {
        let mut bytes = std::mem::take(&mut self.held_bytes);
        bytes.resize(handle.len(), 0);
        self.slots.pool().read(handle, &mut bytes);
        self.slots.pool().release(handle);
        let outcome = self.queue(pkt, &bytes);
        self.held_bytes = bytes;
        outcome
    }
}
