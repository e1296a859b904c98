//! Stream restarts: candidates held until confirmed, timestamp-jump and known-window checks,
//! and re-basing the extended numbering when a new stream begins (see the parent module's rules).

use std::time::Duration;

use super::{Cadence, Cursor, Incoming, JitterBuffer, SEQ_BASE, TS_BASE};
use crate::jitter::slots::HeldPacket;
use crate::jitter::types::{InsertOutcome, ResetPolicy, ResetReason};
use crate::rtp::header::RtpHeader;

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

    pub(super) fn confirms_held(&self, hdr: &RtpHeader) -> bool {
        self.held.ssrc == hdr.ssrc
            && self.held.seq.wrapping_add(1) == hdr.sequence
            && u64::from(hdr.timestamp.wrapping_sub(self.held.ts)) <= u64::from(self.cfg.clock_rate)
    }

    pub(super) fn hold(
        &mut self,
        hdr: &RtpHeader,
        payload: &[u8],
        arrival: Duration,
        reason: ResetReason,
    ) -> InsertOutcome {
        self.drop_held();
        if !self.held.set_payload(payload) {
            self.stats.too_large += 1;
            return InsertOutcome::TooLarge;
        }
        self.held.ssrc = hdr.ssrc;
        self.held.seq = hdr.sequence;
        self.held.ts = hdr.timestamp;
        self.held.marker = hdr.marker;
        self.held.payload_type = hdr.payload_type;
        self.held.arrival = arrival;
        self.held_reason = Some(reason);
        InsertOutcome::Held
    }

    pub(super) fn drop_held(&mut self) {
        match self.held_reason.take() {
            Some(ResetReason::NewSsrc) => self.stats.foreign += 1,
            Some(_) => self.stats.stray += 1,
            None => {}
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

    pub(super) fn restart(
        &mut self,
        reason: ResetReason,
        hdr: &RtpHeader,
        payload: &[u8],
        arrival: Duration,
    ) -> InsertOutcome {
        let with_held = self.held_reason.is_some()
            && self.held.ssrc == hdr.ssrc
            && self.held.seq.wrapping_add(1) == hdr.sequence;
        if with_held {
            self.held_reason = None;
        } else {
            self.drop_held();
        }
        self.stats.resets += 1;
        let (base_seq, base_ts) = self.next_base();
        let keep = self.cfg.reset_policy == ResetPolicy::PlayQueued && self.cur.queued > 0;
        let old = self.cur.clone();
        if !keep {
            self.stats.discarded += self.slots.discard_queued();
        }
        self.begin_stream(base_seq, base_ts);
        if keep {
            // The old stream's audio plays first; the new stream is appended right after it.
            self.cur.next_seq = old.next_seq;
            self.cur.play_ts = old.play_ts;
            self.cur.queued = old.queued;
            self.cur.popped = old.popped;
            self.cur.started = true;
        } else {
            self.cur.popped = old.popped;
        }
        self.cur.confirmed = true;
        let first = if with_held {
            (self.held.seq, self.held.ts)
        } else {
            (hdr.sequence, hdr.timestamp)
        };
        self.seq_ext.restart_at(first.0, base_seq);
        self.ts_ext.restart_at(first.1, base_ts);
        if with_held {
            // Move the held bytes out so that `queue` can borrow `self` mutably.
            let held = std::mem::replace(&mut self.held, HeldPacket::new(0));
            let pkt = Incoming {
                seq: held.seq,
                ts: held.ts,
                marker: held.marker,
                payload_type: held.payload_type,
                arrival: held.arrival,
            };
            self.queue(pkt, held.payload());
            self.held = held;
        }
        self.queue(Incoming::new(hdr, arrival), payload);
        InsertOutcome::Reset(reason)
    }
}
