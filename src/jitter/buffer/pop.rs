//! The playout side of the jitter buffer: `pop` in sequence order, depth and age gauges.
//!
//! The play position is an extended sequence number plus an RTP time (`play_ts`). A queued packet
//! at the position is a frame, unless its timestamp lies more than half a packet beyond `play_ts`:
//! then the sender paused and the gap comes out first as silence (at most `max_pause`; the rest of
//! a longer gap is skipped, so a long pause costs at most that much extra latency). A missing
//! packet with later ones queued is lost: its turn has come, because the decoder only asks when the
//! output needs audio. Nothing queued at all is `Empty` and marks the buffer starved (see the
//! parent module for how playout resumes after that).

use std::time::Duration;

use super::JitterBuffer;
use crate::jitter::slots::SlotState;
use crate::jitter::types::PopOutcome;

/// No RTP packet carries more audio than this (Opus tops out at 120 ms, MPEG audio far below).
const MAX_PACKET_SECONDS: u64 = 1;

impl JitterBuffer {
    /// Hands out what plays next: a frame, a lost packet, pause silence, or nothing.
    pub fn pop(&mut self, now: Duration) -> PopOutcome<'_> {
        if !self.cur.started || !(self.cur.confirmed || self.cur.draining) {
            return PopOutcome::Empty;
        }
        if self.cur.starved && !self.resume_after_starving(now) {
            return PopOutcome::Empty;
        }
        self.skip_unused_numbers();
        let cad = self.cadence.ticks();
        let next = self.cur.next_seq;
        let head = self.slots.find(next, SlotState::Queued).map(|s| Head {
            ssrc: s.ssrc,
            own_ticks: s.own_ticks,
            ext_ts: s.ext_ts,
            rtp_ts: s.rtp_ts,
            rtp_seq: s.rtp_seq,
            marker: s.marker,
            payload_type: s.payload_type,
            arrival: s.arrival,
        });
        if let Some(head) = head {
            return self.pop_head(head, cad, now);
        }
        if self.cur.queued > 0 {
            let ticks = self.lost_ticks(cad);
            self.cur.next_seq += 1;
            self.cur.play_ts += ticks;
            self.cur.popped = true;
            self.stats.lost += 1;
            return PopOutcome::Lost {
                ext_seq: next,
                ticks,
            };
        }
        self.cur.starved = true;
        PopOutcome::Empty
    }

    /// After the buffer ran dry: resumes at the first queued packet once the grace for
    /// reordered stragglers is over (counting the ones skipped lost). False: not yet.
    fn resume_after_starving(&mut self, now: Duration) -> bool {
        let Some(first) = self.first_queued() else {
            return false;
        };
        if first != self.cur.next_seq {
            if self.cur.resume_at.is_some_and(|t| now < t) {
                return false;
            }
            self.stats.lost += self.missing(self.cur.next_seq, first);
            self.cur.next_seq = first;
        }
        if let Some(slot) = self.slots.find(first, SlotState::Queued) {
            self.cur.play_ts = slot.ext_ts;
        }
        self.cur.starved = false;
        self.cur.resume_at = None;
        true
    }

    /// Numbers left unused between two streams are not losses: skips them.
    fn skip_unused_numbers(&mut self) {
        if let Some((from, to)) = self.cur.boundary {
            let at = self.cur.next_seq;
            if at >= from && at < to && !self.slots.is_queued(at) {
                self.cur.next_seq = (at..to).find(|s| self.slots.is_queued(*s)).unwrap_or(to);
            }
        }
    }

    /// Hands out the packet whose turn it is, or the silence of a pause before it.
    fn pop_head(&mut self, head: Head, cad: u64, now: Duration) -> PopOutcome<'_> {
        let next = self.cur.next_seq;
        let gap = head.ext_ts.saturating_sub(self.cur.play_ts);
        if cad > 0 && gap > cad / 2 {
            let silence = gap.min(self.ticks(self.cfg.max_pause));
            self.cur.play_ts = head.ext_ts;
            self.cur.popped = true;
            self.stats.silence_ticks += silence;
            return PopOutcome::Silence { ticks: silence };
        }
        let discont = self.cur.boundary.is_some_and(|(from, _)| next >= from);
        if discont {
            self.cur.boundary = None;
        }
        self.cur.queued = self.cur.queued.saturating_sub(1);
        self.cur.next_seq += 1;
        self.cur.play_ts = if head.own_ticks > 0 {
            // The packet's own length: senders that vary packet sizes (GStreamer's
            // max-ptime splitting) play back to back, with no silence between.
            head.ext_ts + head.own_ticks
        } else if cad > 0 {
            head.ext_ts + cad
        } else {
            // Packet duration unknown yet: the next packet's timestamp is the best guess.
            self.slots
                .find(next + 1, SlotState::Queued)
                .map_or(head.ext_ts, |s| s.ext_ts.max(head.ext_ts))
        };
        self.cur.popped = true;
        self.stats.played += 1;
        self.last_flush_latency = Some(now.saturating_sub(head.arrival));
        let payload = self.slots.take_payload(next);
        PopOutcome::Frame {
            ssrc: head.ssrc,
            discont,
            ext_seq: next,
            ext_ts: head.ext_ts,
            rtp_ts: head.rtp_ts,
            rtp_seq: head.rtp_seq,
            payload,
            payload_type: head.payload_type,
            marker: head.marker,
            arrival: head.arrival,
        }
    }

    /// The extended RTP timestamp that plays next (where a lost packet or pause handed out
    /// by the next `pop` begins).
    pub fn play_position(&self) -> u64 {
        self.cur.play_ts
    }

    /// Copies the payload of what `pop` will hand out next into `out`, if that is a frame that
    /// plays right away (no pause or loss before it); false otherwise.
    pub fn peek_next(&self, out: &mut Vec<u8>) -> bool {
        let next = self.cur.next_seq;
        let Some(slot) = self.slots.find(next, SlotState::Queued) else {
            return false;
        };
        let cad = self.cadence.ticks();
        if self.cur.starved || slot.ext_ts.saturating_sub(self.cur.play_ts) > cad / 2 {
            return false;
        }
        self.slots.read_payload(next, out)
    }

    /// The audio that resumes playout after the loss at the play position, decoded ahead by
    /// concealment that works from both sides of a gap: copies the payloads of the next queued
    /// packet and of those right after it (consecutive in sequence and time, at most 16), until
    /// they hold `min_ticks`, into `out` back to back (`scratch` holds one at a time). Returns
    /// the RTP ticks from the play position to the first of them, or `None` when nothing is
    /// queued, the packet time is unknown, or a pause lies in the gap.
    pub fn peek_resume(
        &self,
        min_ticks: u64,
        out: &mut Vec<u8>,
        scratch: &mut Vec<u8>,
    ) -> Option<u64> {
        let cad = self.cadence.ticks();
        if self.cur.queued == 0 || self.cur.starved || cad == 0 {
            return None;
        }
        let start = self.cur.next_seq;
        let (first, ts) = (start..start + self.cap())
            .find_map(|s| self.slots.find(s, SlotState::Queued).map(|q| (s, q.ext_ts)))?;
        let gap = ts.checked_sub(self.cur.play_ts)?;
        if gap > (first - start) * cad + cad / 2 {
            // More time than the missing packets hold: the sender paused in there.
            return None;
        }
        out.clear();
        let mut at = ts;
        for seq in first..first + 16 {
            if at - ts >= min_ticks {
                break;
            }
            match self.slots.find(seq, SlotState::Queued) {
                Some(slot) if slot.ext_ts == at => {}
                _ => break,
            }
            if !self.slots.read_payload(seq, scratch) {
                break;
            }
            out.extend_from_slice(scratch);
            let own = self
                .cfg
                .bytes_per_tick
                .filter(|&b| b > 0)
                .map_or(cad, |b| (scratch.len() / b) as u64);
            at += own.max(1);
        }
        (!out.is_empty()).then_some(gap)
    }

    /// Duration of the missing packet at the play position, bounded by the next queued one and
    /// by the longest a packet can be (no lost packet conceals more than a second).
    fn lost_ticks(&self, cad: u64) -> u64 {
        self.lost_ticks_unbounded(cad)
            .min(u64::from(self.cfg.clock_rate) * MAX_PACKET_SECONDS)
    }

    fn lost_ticks_unbounded(&self, cad: u64) -> u64 {
        let start = self.cur.next_seq;
        let next_present = (start + 1..start + self.cap())
            .find_map(|s| self.slots.find(s, SlotState::Queued).map(|q| (s, q.ext_ts)));
        let Some((seq, ts)) = next_present else {
            return cad;
        };
        let gap = ts.saturating_sub(self.cur.play_ts);
        if self.cfg.opus_durations && seq == start + 1 && gap > 0 {
            // Opus frame sizes vary: a single lost packet lasts exactly until its successor,
            // whatever the cadence (the shortest packet) says; the codec needs that duration
            // to decode its FEC. Capped like any loss, by `lost_ticks`.
            gap
        } else if cad > 0 {
            cad.min(gap)
        } else {
            gap / (seq - start).max(1)
        }
    }

    /// RTP ticks from the play position to the end of the newest queued packet.
    pub fn depth_ticks(&self) -> u64 {
        if self.cur.queued == 0 {
            return 0;
        }
        let from = if self.cur.starved {
            // Until the gap at the play position is filled or skipped (see `pop`), nothing is
            // playable; after that, what lay before the first queued packet will not play.
            match self.slots.find(self.cur.next_seq, SlotState::Queued) {
                Some(s) => s.ext_ts.max(self.cur.play_ts),
                None => return 0,
            }
        } else {
            self.cur.play_ts
        };
        self.cur.newest_end_ts.saturating_sub(from)
    }

    /// How far playout runs behind the sender's clock seen through the fastest network path, at
    /// `now`: the depth the buffer would have if the newest packet had come the fastest way. It
    /// equals [`JitterBuffer::depth`] right after a fastest-path arrival and, unlike it, does not
    /// dip while later packets are merely delayed, so it is the level to regulate the ratio on.
    /// `None` before the stream starts or when no packet arrived within the estimator's base window.
    pub fn playout_delay(&self, now: Duration) -> Option<Duration> {
        if !self.cur.started {
            return None;
        }
        let expected = self.estimator.expected_ts(now)?;
        let ticks = (expected + self.cadence.ticks()).saturating_sub(self.cur.play_ts);
        let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(self.cfg.clock_rate);
        Some(Duration::from_nanos(
            u64::try_from(nanos).unwrap_or(u64::MAX),
        ))
    }

    /// Audio buffered, as a duration: [`JitterBuffer::depth_ticks`] at the clock rate.
    pub fn depth(&self) -> Duration {
        self.duration_of(self.depth_ticks())
    }

    /// When a starved buffer stops waiting for reordered stragglers (see the module rules).
    pub fn resume_at(&self) -> Option<Duration> {
        self.cur.resume_at.filter(|_| self.cur.starved)
    }

    /// Packets currently queued.
    pub fn queued(&self) -> usize {
        self.cur.queued
    }

    /// When the oldest queued packet arrived.
    pub fn oldest_arrival(&self) -> Option<Duration> {
        self.first_queued()
            .and_then(|s| self.slots.find(s, SlotState::Queued))
            .map(|s| s.arrival)
    }

    /// How long the oldest queued packet has waited at `now` (the `message_age` gauge).
    pub fn message_age(&self, now: Duration) -> Option<Duration> {
        self.oldest_arrival().map(|a| now.saturating_sub(a))
    }

    /// Arrival-to-playout time of the last frame handed out (the `flush_latency` gauge).
    pub fn last_flush_latency(&self) -> Option<Duration> {
        self.last_flush_latency
    }

    /// The packet duration in RTP ticks learnt from timestamps (`None` until two in a row arrived).
    pub fn packet_ticks(&self) -> Option<u64> {
        Some(self.cadence.ticks()).filter(|t| *t > 0)
    }

    /// The RTP clock rate in Hz.
    pub fn clock_rate(&self) -> u32 {
        self.cfg.clock_rate
    }

    /// Whether the current source passed probation (before that nothing plays).
    pub fn is_confirmed(&self) -> bool {
        self.cur.confirmed
    }

    /// The SSRC the buffer is locked to, if any.
    pub fn ssrc(&self) -> Option<u32> {
        self.tracker.current_ssrc()
    }

    /// End of stream: lets everything queued play, even from a source that never passed probation.
    pub fn set_draining(&mut self, draining: bool) {
        self.cur.draining = draining;
    }

    /// Whether nothing is queued (after draining: the stream is fully played).
    pub fn is_empty(&self) -> bool {
        self.cur.queued == 0
    }
}

/// What `pop` needs of the packet whose turn it is.
#[derive(Debug, Clone, Copy)]
struct Head {
    ssrc: u32,
    own_ticks: u64,
    ext_ts: u64,
    rtp_ts: u32,
    rtp_seq: u16,
    marker: bool,
    payload_type: u8,
    arrival: Duration,
}
