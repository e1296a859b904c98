//! The sender's memory of what it sent: the last few seconds of RTP packets, found again by
//! sequence number when a receiver NACKs them (RFC 4585/4588).
//!
//! Bounded three ways: by age (`rtx-time`, default 5 s), by bytes (so a high-rate stream cannot
//! grow it without limit) and by count (half the sequence space, so a sequence number never
//! names two stored packets). Evicted buffers are recycled, so a steady stream allocates nothing
//! once the pool is warm.

use std::collections::VecDeque;
use std::time::Duration;

/// Default byte cap: 5 s of 96 kHz 24-bit stereo (the largest PCM we send) fits with room.
pub const DEFAULT_MAX_BYTES: usize = 16 << 20;

/// Most packets kept: half the 16-bit sequence space, so lookups are unambiguous.
const MAX_PACKETS: usize = 1 << 15;

/// One stored packet.
#[derive(Debug)]
struct Entry {
    seq: u16,
    sent_at: Duration,
    /// When it was last retransmitted, to answer a repeated NACK once.
    retransmitted_at: Option<Duration>,
    bytes: Vec<u8>,
}

/// A packet found in the history.
#[derive(Debug)]
pub struct Stored<'a> {
    /// The packet as first sent.
    pub bytes: &'a [u8],
    /// When it was first sent.
    pub sent_at: Duration,
    /// When it was last retransmitted, if ever.
    pub retransmitted_at: Option<Duration>,
}

/// Bounded history of sent RTP packets, in send order.
#[derive(Debug)]
pub struct SentHistory {
    entries: VecDeque<Entry>,
    /// Buffers of evicted entries, reused for new ones.
    spare: Vec<Vec<u8>>,
    bytes: usize,
    max_age: Duration,
    max_bytes: usize,
    evicted_for_bytes: u64,
}

impl SentHistory {
    /// A history keeping packets for `max_age` and at most `max_bytes` of them.
    pub fn new(max_age: Duration, max_bytes: usize) -> Self {
        SentHistory {
            entries: VecDeque::new(),
            spare: Vec::new(),
            bytes: 0,
            max_age,
            max_bytes,
            evicted_for_bytes: 0,
        }
    }

    /// Stores `packet` (sequence number `seq`) sent at `now`, evicting what is too old or too
    /// much. A packet larger than the whole byte cap is not stored.
    pub fn insert(&mut self, seq: u16, packet: &[u8], now: Duration) {
        self.expire(now);
        if packet.len() > self.max_bytes {
            return;
        }
        while !self.entries.is_empty()
            && (self.bytes + packet.len() > self.max_bytes || self.entries.len() >= MAX_PACKETS)
        {
            self.evicted_for_bytes += 1;
            self.pop_front();
        }
        let mut bytes = self.spare.pop().unwrap_or_default();
        bytes.clear();
        bytes.extend_from_slice(packet);
        self.bytes += bytes.len();
        self.entries.push_back(Entry {
            seq,
            sent_at: now,
            retransmitted_at: None,
            bytes,
        });
    }

    /// Drops packets older than the age limit at `now`.
    pub fn expire(&mut self, now: Duration) {
        while self
            .entries
            .front()
            .is_some_and(|e| now.saturating_sub(e.sent_at) > self.max_age)
        {
            self.pop_front();
        }
    }

    /// The packet with sequence number `seq`, if still held.
    pub fn get(&self, seq: u16) -> Option<Stored<'_>> {
        self.index_of(seq).map(|i| {
            let e = &self.entries[i];
            Stored {
                bytes: &e.bytes,
                sent_at: e.sent_at,
                retransmitted_at: e.retransmitted_at,
            }
        })
    }

    /// Records that `seq` was retransmitted at `now`.
    pub fn mark_retransmitted(&mut self, seq: u16, now: Duration) {
        if let Some(i) = self.index_of(seq) {
            self.entries[i].retransmitted_at = Some(now);
        }
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes held (packet bytes, not capacity).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Packets evicted early because of the byte or count cap (before their age ran out).
    pub fn evicted_for_bytes(&self) -> u64 {
        self.evicted_for_bytes
    }

    fn pop_front(&mut self) {
        if let Some(e) = self.entries.pop_front() {
            self.bytes -= e.bytes.len();
            // Never more spares than entries could need: memory stays what the peak was.
            if self.spare.len() < self.entries.len() + 1 {
                self.spare.push(e.bytes);
            }
        }
    }

    /// Where `seq` is: packets go out in sequence order, so its offset from the oldest one
    /// finds it directly; a scan covers a sender that skipped numbers.
    fn index_of(&self, seq: u16) -> Option<usize> {
        let first = self.entries.front()?.seq;
        let guess = usize::from(seq.wrapping_sub(first));
        if self.entries.get(guess).is_some_and(|e| e.seq == seq) {
            return Some(guess);
        }
        self.entries.iter().rposition(|e| e.seq == seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn finds_packets_by_sequence_number_across_the_wrap() {
        let mut h = SentHistory::new(ms(5_000), DEFAULT_MAX_BYTES);
        for i in 0..10u16 {
            let seq = 65_530u16.wrapping_add(i);
            h.insert(seq, &[i as u8; 3], ms(u64::from(i) * 20));
        }
        assert_eq!(h.get(65_531).unwrap().bytes, &[1, 1, 1]);
        assert_eq!(h.get(3).unwrap().bytes, &[9, 9, 9]);
        assert_eq!(h.get(3).unwrap().sent_at, ms(180));
        assert!(h.get(4).is_none() && h.get(65_529).is_none());
    }

    #[test]
    fn old_packets_expire() {
        let mut h = SentHistory::new(ms(100), DEFAULT_MAX_BYTES);
        for i in 0..20u16 {
            h.insert(i, &[0; 10], ms(u64::from(i) * 20));
        }
        // At 380 ms, packets sent before 280 ms are gone.
        assert!(h.get(13).is_none());
        assert!(h.get(14).is_some());
        assert_eq!(h.len(), 6);
        h.expire(ms(10_000));
        assert!(h.is_empty() && h.bytes() == 0);
    }

    #[test]
    fn the_byte_cap_bounds_memory_whatever_the_rate() {
        let mut h = SentHistory::new(ms(5_000), 1_000);
        for i in 0..100u16 {
            h.insert(i, &[7; 300], ms(u64::from(i)));
        }
        assert_eq!((h.len(), h.bytes()), (3, 900));
        assert_eq!(h.evicted_for_bytes(), 97);
        assert!(h.get(97).is_some() && h.get(96).is_none());
        // Too large for the cap at all: not stored, nothing else lost.
        h.insert(100, &[0; 2_000], ms(100));
        assert!(h.get(100).is_none() && h.len() == 3);
    }

    #[test]
    fn buffers_are_recycled_not_reallocated() {
        let mut h = SentHistory::new(ms(100), DEFAULT_MAX_BYTES);
        for i in 0..50u16 {
            h.insert(i, &[1; 200], ms(u64::from(i) * 20));
        }
        let pointers: Vec<*const u8> = h.entries.iter().map(|e| e.bytes.as_ptr()).collect();
        let spares: Vec<*const u8> = h.spare.iter().map(|b| b.as_ptr()).collect();
        h.insert(50, &[2; 200], ms(1_000));
        let newest = h.entries.back().unwrap().bytes.as_ptr();
        assert!(
            spares.contains(&newest) || pointers.contains(&newest),
            "the new entry should reuse an evicted buffer"
        );
        assert!(h.spare.len() <= h.entries.len() + 1);
    }

    #[test]
    fn retransmission_is_remembered() {
        let mut h = SentHistory::new(ms(5_000), DEFAULT_MAX_BYTES);
        h.insert(9, &[1], ms(0));
        assert_eq!(h.get(9).unwrap().retransmitted_at, None);
        h.mark_retransmitted(9, ms(50));
        assert_eq!(h.get(9).unwrap().retransmitted_at, Some(ms(50)));
    }
}
