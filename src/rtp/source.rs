//! RFC 3550 appendix A.1 source validation, and the rule for a sender that changes its SSRC.
//!
//! [`RtpSource`] is A.1's per-source sequence state: a new source is on probation until
//! [`MIN_SEQUENTIAL`] packets arrive in sequence; after that a step forward of less than
//! [`MAX_DROPOUT`] is in order, a step back of less than [`MAX_MISORDER`] is a reordered or
//! duplicate packet, and anything else is a jump candidate that becomes a re-sync (the sender
//! restarted its numbering) when the very next packet follows it in sequence.
//!
//! [`SourceTracker`] locks onto one SSRC at a time. A different SSRC is a *challenger* that must
//! itself pass probation, and any packet from the current SSRC meanwhile cancels it: a sender that
//! restarts stops the old SSRC and starts a new one, while two senders interleaving on one address
//! would otherwise make the stream flip back and forth. Address filtering is the shell's job.

/// Sequential packets a new source must send before it is valid (RFC 3550 A.1).
pub const MIN_SEQUENTIAL: u32 = 2;
/// Largest forward step still taken as the same numbering (RFC 3550 A.1).
pub const MAX_DROPOUT: u16 = 3000;
/// Largest backward step still taken as a reordered packet (RFC 3550 A.1).
pub const MAX_MISORDER: u16 = 100;

/// What A.1 says about one packet of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqCheck {
    /// The source is on probation and this packet did not complete it.
    Probation,
    /// This packet completed probation: the source is valid from now on.
    Validated,
    /// Valid: a new highest sequence number, possibly after a permissible gap.
    InOrder,
    /// Valid: at or less than [`MAX_MISORDER`] behind the highest (reordered or duplicate).
    Behind,
    /// A jump too large to be the same numbering; valid only if the next packet follows it.
    JumpCandidate,
    /// This packet follows the previous jump candidate: the numbering restarted there.
    Resynced,
}

/// RFC 3550 A.1 sequence state of one SSRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpSource {
    ssrc: u32,
    max_seq: u16,
    bad_seq: Option<u16>,
    probation: u32,
    received: u64,
}

impl RtpSource {
    /// A source that has sent nothing yet; feed its first packet to [`RtpSource::update`] too.
    pub fn new(ssrc: u32, first_seq: u16) -> Self {
        Self {
            ssrc,
            max_seq: first_seq.wrapping_sub(1),
            bad_seq: None,
            probation: MIN_SEQUENTIAL,
            received: 0,
        }
    }

    /// The SSRC this state belongs to.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Whether the source has passed probation.
    pub fn is_valid(&self) -> bool {
        self.probation == 0
    }

    /// The highest sequence number accepted so far.
    pub fn max_seq(&self) -> u16 {
        self.max_seq
    }

    /// Valid packets counted since the last (re)initialisation.
    pub fn received(&self) -> u64 {
        self.received
    }

    fn init(&mut self, seq: u16) {
        self.max_seq = seq;
        self.bad_seq = None;
        self.received = 0;
    }

    /// Classifies one packet's sequence number and updates the state (RFC 3550 A.1 `update_seq`).
    pub fn update(&mut self, seq: u16) -> SeqCheck {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init(seq);
                    self.received += 1;
                    return SeqCheck::Validated;
                }
            } else {
                // Not in sequence: probation starts over, counting this packet as the first.
                self.probation = MIN_SEQUENTIAL.saturating_sub(1);
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init(seq);
                    self.received += 1;
                    return SeqCheck::Validated;
                }
            }
            return SeqCheck::Probation;
        }
        let check = if udelta == 0 {
            SeqCheck::Behind
        } else if udelta < MAX_DROPOUT {
            self.max_seq = seq;
            SeqCheck::InOrder
        } else if udelta <= u16::MAX - MAX_MISORDER + 1 {
            if Some(seq) == self.bad_seq {
                self.init(seq);
                SeqCheck::Resynced
            } else {
                self.bad_seq = Some(seq.wrapping_add(1));
                return SeqCheck::JumpCandidate;
            }
        } else {
            SeqCheck::Behind
        };
        // A.1 keeps `bad_seq` across valid packets; clearing it makes "confirmed" mean "the very
        // next packet follows the candidate", which is what a restart looks like and what the
        // jitter buffer's single held packet can honour.
        self.bad_seq = None;
        self.received += 1;
        check
    }
}

/// What the tracker says about one packet, across SSRCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceVerdict {
    /// The packet belongs to the current source; A.1's verdict on it.
    Current(SeqCheck),
    /// The packet started a new current source because none was valid yet (any unvalidated one is dropped).
    Fresh,
    /// A different SSRC while the current one is valid; it is on probation.
    Challenger,
    /// The challenger completed probation with this packet and is now the current source.
    Switched,
}

/// Locks onto one SSRC and decides when another one replaces it.
#[derive(Debug, Clone, Default)]
pub struct SourceTracker {
    current: Option<RtpSource>,
    challenger: Option<RtpSource>,
}

impl SourceTracker {
    /// A tracker with no source yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current source's SSRC, valid or still on probation.
    pub fn current_ssrc(&self) -> Option<u32> {
        self.current.map(|s| s.ssrc())
    }

    /// Whether the current source has passed probation.
    pub fn is_valid(&self) -> bool {
        self.current.is_some_and(|s| s.is_valid())
    }

    /// The current source's A.1 state.
    pub fn current(&self) -> Option<&RtpSource> {
        self.current.as_ref()
    }

    /// Classifies one packet by SSRC and sequence number, updating the lock.
    pub fn check(&mut self, ssrc: u32, seq: u16) -> SourceVerdict {
        match &mut self.current {
            Some(cur) if cur.ssrc() == ssrc => {
                // The current sender is alive, so a challenger was a stray or an interleaver.
                self.challenger = None;
                SourceVerdict::Current(cur.update(seq))
            }
            Some(cur) if cur.is_valid() => {
                let ch = match &mut self.challenger {
                    Some(ch) if ch.ssrc() == ssrc => ch,
                    slot => slot.insert(RtpSource::new(ssrc, seq)),
                };
                match ch.update(seq) {
                    SeqCheck::Validated => {
                        self.current = self.challenger.take();
                        SourceVerdict::Switched
                    }
                    _ => SourceVerdict::Challenger,
                }
            }
            _ => {
                // No source, or one that never passed probation: the newcomer replaces it.
                let mut src = RtpSource::new(ssrc, seq);
                let check = src.update(seq);
                self.current = Some(src);
                self.challenger = None;
                match check {
                    SeqCheck::Validated => SourceVerdict::Current(SeqCheck::Validated),
                    _ => SourceVerdict::Fresh,
                }
            }
        }
    }

    /// Makes `ssrc` the current, valid source with `max_seq` as its highest sequence number:
    /// the caller found other evidence that it is one stream (agreeing reordered packets).
    pub fn adopt(&mut self, ssrc: u32, max_seq: u16) {
        let mut src = RtpSource::new(ssrc, max_seq);
        src.probation = 0;
        src.init(max_seq);
        self.current = Some(src);
        self.challenger = None;
    }

    /// Forgets every source.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_source(seq: u16) -> RtpSource {
        let mut s = RtpSource::new(1, seq);
        assert_eq!(s.update(seq), SeqCheck::Probation);
        assert_eq!(s.update(seq.wrapping_add(1)), SeqCheck::Validated);
        s
    }

    #[test]
    fn probation_needs_sequential_packets() {
        let mut s = RtpSource::new(1, 10);
        assert_eq!(s.update(10), SeqCheck::Probation);
        assert_eq!(
            s.update(12),
            SeqCheck::Probation,
            "a gap restarts probation"
        );
        assert!(!s.is_valid());
        assert_eq!(s.update(13), SeqCheck::Validated);
        assert!(s.is_valid());
    }

    #[test]
    fn probation_across_wrap() {
        let s = valid_source(65535);
        assert_eq!(s.max_seq(), 0);
    }

    #[test]
    fn in_order_gap_reorder_duplicate() {
        let mut s = valid_source(100);
        assert_eq!(s.update(102), SeqCheck::InOrder);
        assert_eq!(
            s.update(102 + MAX_DROPOUT - 1),
            SeqCheck::InOrder,
            "largest gap"
        );
        let top = s.max_seq();
        assert_eq!(s.update(top), SeqCheck::Behind, "duplicate of the highest");
        assert_eq!(
            s.update(top - (MAX_MISORDER - 1)),
            SeqCheck::Behind,
            "largest misorder"
        );
        assert_eq!(s.update(top - MAX_MISORDER), SeqCheck::JumpCandidate);
        assert_eq!(s.max_seq(), top);
    }

    #[test]
    fn jump_needs_confirmation() {
        let mut s = valid_source(100);
        assert_eq!(s.update(40_000), SeqCheck::JumpCandidate);
        assert_eq!(s.update(102), SeqCheck::InOrder, "old numbering continues");
        assert_eq!(
            s.update(40_001),
            SeqCheck::JumpCandidate,
            "not after 40000: a new candidate"
        );
        assert_eq!(s.update(40_002), SeqCheck::Resynced);
        assert_eq!(s.max_seq(), 40_002);
        assert_eq!(s.update(40_003), SeqCheck::InOrder);
    }

    #[test]
    fn backward_jump_beyond_misorder_is_a_candidate() {
        let mut s = valid_source(5000);
        assert_eq!(s.update(5001 - MAX_MISORDER - 1), SeqCheck::JumpCandidate);
        assert_eq!(s.update(5001 - MAX_MISORDER), SeqCheck::Resynced);
    }

    #[test]
    fn tracker_first_source_probation() {
        let mut t = SourceTracker::new();
        assert_eq!(t.check(7, 1), SourceVerdict::Fresh);
        assert_eq!(
            t.check(8, 50),
            SourceVerdict::Fresh,
            "unvalidated source replaced"
        );
        assert_eq!(t.check(8, 51), SourceVerdict::Current(SeqCheck::Validated));
        assert_eq!(t.current_ssrc(), Some(8));
    }

    #[test]
    fn tracker_switches_after_challenger_probation() {
        let mut t = SourceTracker::new();
        t.check(7, 1);
        t.check(7, 2);
        assert_eq!(t.check(9, 500), SourceVerdict::Challenger);
        assert_eq!(t.check(9, 501), SourceVerdict::Switched);
        assert_eq!(t.current_ssrc(), Some(9));
        assert!(t.is_valid());
        assert_eq!(t.check(9, 502), SourceVerdict::Current(SeqCheck::InOrder));
        assert_eq!(
            t.check(7, 3),
            SourceVerdict::Challenger,
            "old SSRC is now foreign"
        );
    }

    #[test]
    fn tracker_interleaved_ssrcs_never_switch() {
        let mut t = SourceTracker::new();
        t.check(7, 1);
        t.check(7, 2);
        for i in 0..100u16 {
            assert_eq!(t.check(7, 3 + i), SourceVerdict::Current(SeqCheck::InOrder));
            assert_eq!(t.check(9, 1000 + i), SourceVerdict::Challenger);
        }
        assert_eq!(t.current_ssrc(), Some(7));
    }
}
