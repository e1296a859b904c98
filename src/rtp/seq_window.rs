//! Which extended sequence numbers of a stream have been seen, over the last 32,768 numbers:
//! a fixed bitmap, so a stream that runs for days keeps the same few KiB.
//!
//! 32,768 is as far back as a 16-bit sequence number can be told apart from one ahead (see
//! [`SeqExtender`](super::seq::SeqExtender)), so within what the extender can place, the window
//! answers exactly what a set of every number seen would.

/// Numbers the window remembers behind the highest one.
pub const SEQ_WINDOW: u64 = 1 << 15;

const WORDS: usize = (SEQ_WINDOW / 64) as usize;

/// What [`SeqWindow::insert`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqMark {
    /// Not seen before.
    New,
    /// Seen before.
    Seen,
    /// Further behind the highest number than the window reaches.
    TooOld,
}

/// A sliding bitmap of seen extended sequence numbers.
#[derive(Debug, Clone)]
pub struct SeqWindow {
    bits: Box<[u64; WORDS]>,
    highest: Option<u64>,
}

impl Default for SeqWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl SeqWindow {
    /// An empty window.
    pub fn new() -> Self {
        SeqWindow {
            bits: Box::new([0; WORDS]),
            highest: None,
        }
    }

    /// The highest number marked.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// True if `ext` is inside the window (not older than it reaches, not beyond the highest).
    pub fn covers(&self, ext: u64) -> bool {
        self.highest
            .is_some_and(|h| ext <= h && h - ext < SEQ_WINDOW)
    }

    /// Marks `ext` seen, sliding the window forward if it is a new highest.
    pub fn insert(&mut self, ext: u64) -> SeqMark {
        match self.highest {
            Some(h) if ext > h => self.clear_between(h, ext),
            Some(h) if h - ext >= SEQ_WINDOW => return SeqMark::TooOld,
            Some(_) => {}
            None => {}
        }
        if self.highest.is_none_or(|h| ext > h) {
            self.highest = Some(ext);
        }
        let (word, bit) = Self::place(ext);
        let seen = self.bits[word] & bit != 0;
        self.bits[word] |= bit;
        if seen {
            SeqMark::Seen
        } else {
            SeqMark::New
        }
    }

    /// True if `ext` is inside the window and marked.
    pub fn contains(&self, ext: u64) -> bool {
        let (word, bit) = Self::place(ext);
        self.covers(ext) && self.bits[word] & bit != 0
    }

    /// Unmarks `ext` (inside the window).
    pub fn remove(&mut self, ext: u64) {
        if self.covers(ext) {
            let (word, bit) = Self::place(ext);
            self.bits[word] &= !bit;
        }
    }

    /// Forgets everything, as a new window.
    pub fn clear(&mut self) {
        self.bits.fill(0);
        self.highest = None;
    }

    /// Clears the numbers after `from` up to and including `to`: their places held numbers a
    /// window behind.
    fn clear_between(&mut self, from: u64, to: u64) {
        if to - from >= SEQ_WINDOW {
            self.bits.fill(0);
            return;
        }
        for ext in from + 1..=to {
            let (word, bit) = Self::place(ext);
            if bit == 1 && to - ext >= 63 {
                // A whole word is being passed: clear it at once.
                self.bits[word] = 0;
                continue;
            }
            self.bits[word] &= !bit;
        }
    }

    fn place(ext: u64) -> (usize, u64) {
        let slot = ext % SEQ_WINDOW;
        ((slot / 64) as usize, 1 << (slot % 64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_new_from_seen_and_forgets_what_the_window_has_passed() {
        let mut w = SeqWindow::new();
        assert_eq!(w.insert(100), SeqMark::New);
        assert_eq!(w.insert(100), SeqMark::Seen);
        assert_eq!(w.insert(98), SeqMark::New);
        assert!(w.contains(98) && !w.contains(99));
        // Far ahead: the old marks are gone, and what lies behind the window is too old.
        assert_eq!(w.insert(100 + SEQ_WINDOW), SeqMark::New);
        assert!(!w.contains(100));
        assert_eq!(w.insert(100), SeqMark::TooOld);
        assert_eq!(w.insert(101), SeqMark::New);
        w.remove(101);
        assert!(!w.contains(101));
    }

    #[test]
    fn agrees_with_a_set_of_everything_seen() {
        use std::collections::HashSet;
        let mut w = SeqWindow::new();
        let mut set = HashSet::new();
        let mut x: u64 = 12345;
        let mut highest = 1_000u64;
        for _ in 0..200_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Mostly forward, sometimes back by up to 300, sometimes a jump of up to 5,000.
            let step = (x >> 33) % 1000;
            let ext = match step {
                0..=899 => highest + 1 + (step % 3),
                900..=989 => highest.saturating_sub(step % 300),
                _ => highest + step * 5,
            };
            highest = highest.max(ext);
            let expect = if highest - ext >= SEQ_WINDOW {
                SeqMark::TooOld
            } else if set.insert(ext) {
                SeqMark::New
            } else {
                SeqMark::Seen
            };
            assert_eq!(w.insert(ext), expect, "at {ext}");
        }
    }
}
