//! Deterministic losses at a stream's edges (`--impair drop-first=N,drop-last=N,drop-bye`): the
//! media stream's first N packets never leave, its newest N are held back until newer ones
//! come, so the N before the end never arrive, and RTCP carrying a BYE is lost. Sans-IO, like
//! the queue that uses it.
//!
//! The media stream is the first SSRC of RTP seen; RTCP and other SSRCs (retransmissions as
//! RTX) pass untouched, so what is lost can still be repaired. Holding the tail costs the
//! stream N packet times of extra delay.

use std::collections::VecDeque;
use std::time::Duration;

use crate::rtcp::wire::looks_like_rtcp;
use crate::rtp::header::RtpHeader;

/// How many packets to lose at each edge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EdgeDrops {
    /// The stream's first packets lost.
    pub first: u32,
    /// The stream's last packets lost.
    pub last: u32,
    /// Every RTCP datagram with a BYE lost.
    pub bye: bool,
}

impl EdgeDrops {
    /// Whether any packet is lost at an edge.
    pub fn any(&self) -> bool {
        self.first > 0 || self.last > 0 || self.bye
    }
}

/// Applies [`EdgeDrops`] to datagrams in sending order.
#[derive(Debug)]
pub struct EdgeDropper {
    drops: EdgeDrops,
    ssrc: Option<u32>,
    seen: u64,
    held: VecDeque<Vec<u8>>,
    dropped_first: u64,
    dropped_byes: u64,
    /// Bytes before the packet in each datagram (the relay tags datagrams with their leg).
    prefix: usize,
}

impl EdgeDropper {
    /// A dropper for `drops`.
    pub fn new(drops: EdgeDrops) -> Self {
        EdgeDropper {
            drops,
            ssrc: None,
            seen: 0,
            held: VecDeque::with_capacity(drops.last as usize + 1),
            dropped_first: 0,
            dropped_byes: 0,
            prefix: 0,
        }
    }

    /// Looks past `prefix` bytes at the start of each datagram.
    pub fn with_prefix(mut self, prefix: usize) -> Self {
        self.prefix = prefix;
        self
    }

    /// Takes a datagram sent at `sent` and passes on (to `pass`) what goes on now: it, an
    /// older packet the tail no longer needs to hold, or nothing.
    pub fn offer(
        &mut self,
        sent: Duration,
        datagram: &[u8],
        mut pass: impl FnMut(Duration, &[u8]),
    ) {
        let packet = datagram.get(self.prefix..).unwrap_or_default();
        if self.drops.bye && has_bye(packet) {
            self.dropped_byes += 1;
            return;
        }
        if !self.drops.any() || !self.is_media(packet) {
            return pass(sent, datagram);
        }
        self.seen += 1;
        if self.seen <= u64::from(self.drops.first) {
            self.dropped_first += 1;
            return;
        }
        if self.drops.last == 0 {
            return pass(sent, datagram);
        }
        if self.held.len() < self.drops.last as usize {
            self.held.push_back(datagram.to_vec());
            return;
        }
        if let Some(mut older) = self.held.pop_front() {
            // Sent now: the hold is extra delay, and the model sees datagrams in order.
            pass(sent, &older);
            older.clear();
            older.extend_from_slice(datagram);
            self.held.push_back(older);
        }
    }

    fn is_media(&mut self, datagram: &[u8]) -> bool {
        if looks_like_rtcp(datagram) {
            return false;
        }
        let Ok(header) = RtpHeader::parse(datagram) else {
            return false;
        };
        *self.ssrc.get_or_insert(header.ssrc) == header.ssrc
    }

    /// Packets lost at the edges so far: the first ones, the newest held back (lost if
    /// nothing newer comes) and the RTCP datagrams with a BYE.
    pub fn dropped(&self) -> u64 {
        self.dropped_first + self.held.len() as u64 + self.dropped_byes
    }

    /// Packets held back at the tail.
    pub fn held(&self) -> usize {
        self.held.len()
    }
}

/// Whether an RTCP datagram carries a BYE.
fn has_bye(datagram: &[u8]) -> bool {
    if !looks_like_rtcp(datagram) {
        return false;
    }
    let mut bye = false;
    let _ = crate::rtcp::wire::parse(datagram, |e| {
        bye |= matches!(e, crate::rtcp::wire::Event::Bye { .. });
    });
    bye
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(ssrc: u32, seq: u16) -> Vec<u8> {
        let mut d = vec![0x80, 96];
        d.extend_from_slice(&seq.to_be_bytes());
        d.extend_from_slice(&[0, 0, 0, 0]);
        d.extend_from_slice(&ssrc.to_be_bytes());
        d.extend_from_slice(&[0; 8]);
        d
    }

    #[test]
    fn the_first_and_last_packets_of_the_media_stream_never_pass() {
        let mut dropper = EdgeDropper::new(EdgeDrops {
            first: 3,
            last: 3,
            bye: false,
        });
        let mut passed = Vec::new();
        for seq in 0..10u16 {
            dropper.offer(
                Duration::from_millis(u64::from(seq)),
                &rtp(7, seq),
                |_, d| {
                    passed.push(u16::from_be_bytes([d[2], d[3]]));
                },
            );
            if seq == 5 {
                // A retransmission on another SSRC passes at once.
                dropper.offer(Duration::ZERO, &rtp(9, 1), |_, d| {
                    passed.push(1000 + u16::from_be_bytes([d[2], d[3]]))
                });
            }
        }
        assert_eq!(passed, [1001, 3, 4, 5, 6]);
        assert_eq!(dropper.dropped(), 6);
        assert_eq!(dropper.held(), 3);
    }

    #[test]
    fn without_edge_drops_everything_passes() {
        let mut dropper = EdgeDropper::new(EdgeDrops::default());
        let mut n = 0;
        for seq in 0..5 {
            dropper.offer(Duration::ZERO, &rtp(7, seq), |_, _| n += 1);
        }
        assert_eq!((n, dropper.dropped()), (5, 0));
    }
}
