//! What a receiver reports of its source (RFC 3550 §6.4.1 and appendix A.3): extended highest
//! sequence number, cumulative and interval loss.

use crate::rtp::seq::SeqExtender;

/// Reception counts of one source since the first packet.
#[derive(Debug, Clone, Default)]
pub struct ReceptionStats {
    ext: Option<SeqExtender>,
    base: u64,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
}

/// Loss figures for one report block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LossReport {
    /// Extended highest sequence number received (the wire keeps its low 32 bits).
    pub extended_highest_seq: u64,
    /// Expected minus received since the start (negative with duplicates).
    pub cumulative_lost: i64,
    /// Fraction lost since the last report, in 256ths (0 when duplicates outnumber losses).
    pub fraction_lost: u8,
}

impl ReceptionStats {
    /// Counts a packet of the source with sequence number `seq` (duplicates included, as A.3
    /// counts them).
    pub fn on_packet(&mut self, seq: u16) {
        match self.ext.as_mut() {
            Some(ext) => {
                let e = ext.extend(seq);
                // A packet from before the first one received moves the base back.
                self.base = self.base.min(e);
            }
            None => {
                let mut ext = SeqExtender::new();
                // Extended numbers keep the RTP number in their low 16 bits, one cycle up so that a
                // packet reordered before the first still extends without underflow.
                self.base = ext.restart_at(seq, (1 << 16) | u64::from(seq));
                self.ext = Some(ext);
            }
        }
        self.received += 1;
    }

    /// Packets counted.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Starts over for a new source.
    pub fn reset(&mut self) {
        *self = ReceptionStats::default();
    }

    /// The figures of a report sent now (and the interval restarts), or `None` before any packet.
    pub fn report(&mut self) -> Option<LossReport> {
        let highest = self.ext.as_ref()?.highest()?;
        let expected = highest + 1 - self.base;
        let cumulative_lost = expected as i64 - self.received as i64;
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.received - self.received_prior;
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        Some(LossReport {
            extended_highest_seq: highest - (1 << 16),
            cumulative_lost,
            fraction_lost,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_is_counted_per_interval_and_since_the_start() {
        let mut s = ReceptionStats::default();
        assert_eq!(s.report(), None);
        // 100 packets across the wrap, 10 missing (those ending in 3).
        let all: Vec<u16> = (65_500u16..=65_535).chain(0..=63).collect();
        assert_eq!(all.len(), 100);
        for &seq in all.iter().filter(|s| *s % 10 != 3) {
            s.on_packet(seq);
        }
        let r = s.report().unwrap();
        assert_eq!(
            r.cumulative_lost, 10,
            "65503..65533 and 3..53; 63 is past the highest"
        );
        assert_eq!(r.fraction_lost, (10 * 256 / 99) as u8);
        assert_eq!(r.extended_highest_seq & 0xffff, 62);
        assert_eq!(r.extended_highest_seq >> 16, 1, "one wrap");
        // The next interval: 10 received, none lost, one duplicate.
        for seq in 63..74 {
            s.on_packet(seq);
        }
        s.on_packet(70);
        let r = s.report().unwrap();
        assert_eq!(
            (r.cumulative_lost, r.fraction_lost),
            (9, 0),
            "63 came late; 70 twice"
        );
    }
}
