//! Packets held aside while a possible restart (new SSRC, sequence or timestamp jump) awaits
//! evidence: a few packets of one new numbering that agree with each other.
//!
//! A single stray packet never restarts the stream. The set holds up to [`MAX_CANDIDATES`]
//! packets of one SSRC whose sequence numbers lie close together and whose timestamps agree with
//! their sequence distance; a packet that does not fit starts a new set. Evidence is RFC 3550
//! A.1's two packets in sequence, or, for a new stream reordered from its first packet, four
//! that agree.

use super::incoming::Incoming;
use crate::jitter::pool::Handle;
use crate::jitter::types::ResetReason;

/// Most packets held at once.
pub(super) const MAX_CANDIDATES: usize = 8;
/// Largest sequence distance between packets of one candidate set.
const MAX_SPREAD: u16 = 32;
/// Agreeing packets that confirm a restart without two of them in sequence.
const AGREEING: usize = 4;

/// One held packet: its header fields, and its payload in the byte pool.
#[derive(Debug, Clone, Copy)]
pub(super) struct Candidate {
    pub pkt: Incoming,
    pub handle: Handle,
    /// Its sequence number lies behind the current stream's highest (a late packet if unconfirmed).
    pub behind: bool,
}

/// The held set.
#[derive(Debug, Default)]
pub(super) struct Candidates {
    items: [Option<Candidate>; MAX_CANDIDATES],
    len: usize,
    reason: Option<ResetReason>,
}

impl Candidates {
    /// Why the set is held (None when empty).
    pub fn reason(&self) -> Option<ResetReason> {
        self.reason
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether a packet belongs with the held ones: same SSRC, close sequence numbers, and a
    /// timestamp distance that at most `max_tick_per_seq` per sequence step explains.
    pub fn agrees(&self, ssrc: u32, seq: u16, ts: u32, max_tick_per_seq: u64) -> bool {
        self.held().all(|c| {
            let dseq = seq.wrapping_sub(c.pkt.seq) as i16;
            let dts = i64::from(ts.wrapping_sub(c.pkt.ts) as i32);
            c.pkt.ssrc == ssrc
                && dseq.unsigned_abs() <= MAX_SPREAD
                && dts.unsigned_abs() <= (u64::from(dseq.unsigned_abs()) + 1) * max_tick_per_seq
                && dseq.signum() as i64 * dts >= 0
        })
    }

    /// Adds a packet; false (nothing added) when the set is full.
    pub fn push(&mut self, c: Candidate, reason: ResetReason) -> bool {
        let Some(slot) = self.items.iter_mut().find(|s| s.is_none()) else {
            return false;
        };
        *slot = Some(c);
        self.len += 1;
        self.reason = Some(reason);
        true
    }

    /// Whether the set holds evidence of a new numbering.
    pub fn confirmed(&self) -> bool {
        let in_sequence = self
            .held()
            .any(|a| self.held().any(|b| b.pkt.seq == a.pkt.seq.wrapping_add(1)));
        (self.len >= 2 && in_sequence) || self.len >= AGREEING
    }

    /// The held packets, in no particular order.
    pub fn held(&self) -> impl Iterator<Item = &Candidate> {
        self.items.iter().flatten()
    }

    /// Empties the set into `out`, lowest sequence number first (wrap-aware); returns how many.
    pub fn take_sorted(&mut self, out: &mut [Option<Candidate>; MAX_CANDIDATES]) -> usize {
        let base = self.held().map(|c| c.pkt.seq).next().unwrap_or(0);
        let key = |c: &Candidate| c.pkt.seq.wrapping_sub(base) as i16;
        *out = std::mem::take(&mut self.items);
        out.sort_by_key(|c| c.as_ref().map_or(i16::MAX, key));
        let n = std::mem::take(&mut self.len);
        self.reason = None;
        n
    }
}
