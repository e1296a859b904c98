//! A sender pause that outlasted the buffer.
//!
//! With silence suppression (DTX, or a VAD without comfort noise) the sender stops sending and
//! its timestamps keep running. A pause shorter than the buffered audio plays out as silence of
//! its RTP length (see `pop`). A longer one empties the buffer first, so the output waits in
//! silence; when the stream resumes, the packet at the play position shows it was a pause (its
//! timestamp lies beyond the play position by more than the packets missing before it account
//! for). The silence already waited is then part of the pause: only the rest of it plays, so the
//! level is what it was before, and nothing was lost or late.

use super::JitterBuffer;
use crate::jitter::slots::SlotState;

impl JitterBuffer {
    /// When the buffer starved and what arrived since shows the sender paused: the length of
    /// that pause in RTP ticks (the timestamp gap less the packets missing before it).
    pub fn pause_after_starving(&self) -> Option<u64> {
        if !self.cur.starved {
            return None;
        }
        let first = self.first_queued()?;
        let slot = self.slots.find(first, SlotState::Queued)?;
        let cad = self.cadence.ticks();
        let missing = first.checked_sub(self.cur.next_seq)?;
        let pause = slot
            .ext_ts
            .checked_sub(self.cur.play_ts)?
            .checked_sub(missing.saturating_mul(cad))?;
        (cad > 0 && pause > cad / 2).then_some(pause)
    }

    /// Resumes a starved buffer inside the sender's pause, with `remaining` ticks of it still to
    /// play as silence (the rest already went by while the output waited). Does nothing unless
    /// [`JitterBuffer::pause_after_starving`] sees a pause.
    pub fn resume_in_pause(&mut self, remaining: u64) {
        let Some(pause) = self.pause_after_starving() else {
            return;
        };
        self.cur.play_ts += pause - remaining.min(pause);
        self.cur.starved = false;
        self.cur.resume_at = None;
    }
}
