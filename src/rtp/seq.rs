//! Extension of wrapping RTP counters (16-bit sequence numbers, 32-bit timestamps) to 64 bits.
//!
//! rtp-rs's `Seq` orders through a wrapping delta, which is not transitive, so nothing here (or
//! anywhere in the crate) keys on it. Instead every counter is extended to a `u64` relative to the
//! highest value seen so far: a new value is placed at the nearest position (within half the
//! counter's range) of that highest value, which is correct across any number of wraps as long as
//! consecutive packets are less than half a range apart.

/// Extended values start this many counter cycles above zero so that packets reordered before the
/// first one received still get a non-negative extended value.
const START_CYCLE: u64 = 1;

/// Places `value` (a `bits`-wide wrapping counter) next to the extended `reference`.
fn extend_near(reference: u64, value: u64, bits: u32) -> u64 {
    let modulus = 1u64 << bits;
    let half = modulus / 2;
    let low = reference & (modulus - 1);
    // The forward distance modulo the counter range, reinterpreted as signed: distances of at
    // least half the range are taken as backward steps.
    let forward = value.wrapping_sub(low) & (modulus - 1);
    if forward < half {
        reference.saturating_add(forward)
    } else {
        reference.saturating_sub(modulus - forward)
    }
}

/// Shared state of a counter extender of a given width.
///
/// `raw` values are congruent to the wire value (that is what makes `extend_near` work); the
/// published value is `raw + offset`, which lets a restart continue at any chosen position.
#[derive(Debug, Clone, Copy, Default)]
struct Extender<const BITS: u32> {
    highest_raw: Option<u64>,
    offset: u64,
}

impl<const BITS: u32> Extender<BITS> {
    fn extend(&mut self, value: u64) -> u64 {
        let raw = self.raw(value);
        if self.highest_raw.is_none_or(|h| raw > h) {
            self.highest_raw = Some(raw);
        }
        raw.wrapping_add(self.offset)
    }

    fn raw(&self, value: u64) -> u64 {
        match self.highest_raw {
            Some(h) => extend_near(h, value, BITS),
            None => (START_CYCLE << BITS) | value,
        }
    }

    fn peek(&self, value: u64) -> u64 {
        self.raw(value).wrapping_add(self.offset)
    }

    fn highest(&self) -> Option<u64> {
        self.highest_raw.map(|h| h.wrapping_add(self.offset))
    }

    fn restart_at(&mut self, value: u64, ext: u64) -> u64 {
        let raw = (START_CYCLE << BITS) | value;
        self.highest_raw = Some(raw);
        // Wrapping arithmetic: `raw + offset == ext` exactly, whatever the sizes.
        self.offset = ext.wrapping_sub(raw);
        ext
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Extends 16-bit RTP sequence numbers to monotonic 64-bit values, wrap-safe.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeqExtender {
    inner: Extender<16>,
}

impl SeqExtender {
    /// Creates an extender that has seen no packet yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Extends `seq` next to the highest value seen and records it if it is the new highest.
    pub fn extend(&mut self, seq: u16) -> u64 {
        self.inner.extend(u64::from(seq))
    }

    /// Extends `seq` without recording it.
    pub fn peek(&self, seq: u16) -> u64 {
        self.inner.peek(u64::from(seq))
    }

    /// The highest extended value recorded so far.
    pub fn highest(&self) -> Option<u64> {
        self.inner.highest()
    }

    /// Restarts the extension so that `seq` maps exactly to `at` (later values continue from there).
    pub fn restart_at(&mut self, seq: u16, at: u64) -> u64 {
        self.inner.restart_at(u64::from(seq), at)
    }

    /// Forgets everything: the next value starts a fresh extension.
    pub fn reset(&mut self) {
        self.inner.reset();
    }
}

/// Extends 32-bit RTP timestamps to monotonic 64-bit values, wrap-safe.
#[derive(Debug, Clone, Copy, Default)]
pub struct TsExtender {
    inner: Extender<32>,
}

impl TsExtender {
    /// Creates an extender that has seen no timestamp yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Extends `ts` next to the highest value seen and records it if it is the new highest.
    pub fn extend(&mut self, ts: u32) -> u64 {
        self.inner.extend(u64::from(ts))
    }

    /// Extends `ts` without recording it.
    pub fn peek(&self, ts: u32) -> u64 {
        self.inner.peek(u64::from(ts))
    }

    /// The highest extended value recorded so far.
    pub fn highest(&self) -> Option<u64> {
        self.inner.highest()
    }

    /// Restarts the extension so that `ts` maps exactly to `at` (later values continue from there).
    pub fn restart_at(&mut self, ts: u32, at: u64) -> u64 {
        self.inner.restart_at(u64::from(ts), at)
    }

    /// Forgets everything: the next value starts a fresh extension.
    pub fn reset(&mut self) {
        self.inner.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_wraps_forward() {
        let mut x = SeqExtender::new();
        let a = x.extend(65534);
        let b = x.extend(65535);
        let c = x.extend(0);
        let d = x.extend(1);
        assert_eq!([b - a, c - b, d - c], [1, 1, 1]);
        assert_eq!(x.highest(), Some(d));
    }

    #[test]
    fn seq_reorder_across_wrap() {
        let mut x = SeqExtender::new();
        let first = x.extend(65535);
        let after = x.extend(1);
        let before_wrap = x.extend(0);
        let older = x.extend(65530);
        assert_eq!(after, first + 2);
        assert_eq!(before_wrap, first + 1);
        assert_eq!(older, first - 5);
        assert_eq!(
            x.highest(),
            Some(after),
            "reordered values never lower the highest"
        );
    }

    #[test]
    fn seq_many_wraps_stay_monotonic() {
        let mut x = SeqExtender::new();
        let mut prev = x.extend(40_000);
        let mut seq: u16 = 40_000;
        for _ in 0..300_000 {
            seq = seq.wrapping_add(7);
            let e = x.extend(seq);
            assert_eq!(e, prev + 7);
            prev = e;
        }
    }

    #[test]
    fn seq_before_first_packet_does_not_underflow() {
        let mut x = SeqExtender::new();
        let first = x.extend(0);
        let before = x.extend(65000);
        assert!(before < first);
        assert_eq!(first - before, 536);
    }

    #[test]
    fn ts_wraps_forward_and_backward() {
        let mut x = TsExtender::new();
        let a = x.extend(u32::MAX - 959);
        let b = x.extend(0);
        let c = x.extend(960);
        assert_eq!(b - a, 960);
        assert_eq!(c - b, 960);
        assert_eq!(x.extend(u32::MAX - 959), a, "a late packet keeps its place");
    }

    #[test]
    fn ts_large_forward_jump_within_half_range() {
        let mut x = TsExtender::new();
        let a = x.extend(u32::MAX - 10);
        // A sender pause of ~12 h at 48 kHz is still below half the range.
        let b = x.extend(2_000_000_000u32.wrapping_add(u32::MAX - 10));
        assert_eq!(b - a, 2_000_000_000);
    }

    #[test]
    fn seq_and_ts_wrap_together() {
        let mut s = SeqExtender::new();
        let mut t = TsExtender::new();
        let mut seq: u16 = 65530;
        let mut ts: u32 = u32::MAX - 5 * 960;
        let (s0, t0) = (s.extend(seq), t.extend(ts));
        for i in 1..20u64 {
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(960);
            assert_eq!(s.extend(seq), s0 + i);
            assert_eq!(t.extend(ts), t0 + 960 * i);
        }
    }

    #[test]
    fn restart_at_continues_exactly_there() {
        let mut x = SeqExtender::new();
        x.extend(100);
        let at = x.highest().unwrap_or(0) + 1;
        assert_eq!(x.restart_at(65535, at), at);
        assert_eq!(x.extend(0), at + 1, "wraps after a restart too");
        assert_eq!(
            x.extend(65534),
            at - 1,
            "reordered values before the restart point"
        );
        assert_eq!(x.highest(), Some(at + 1));
        let mut t = TsExtender::new();
        assert_eq!(t.restart_at(7, (3 << 32) + 10), (3 << 32) + 10);
        assert_eq!(t.extend(967), (3 << 32) + 970);
    }

    #[test]
    fn peek_does_not_record() {
        let mut x = SeqExtender::new();
        let a = x.extend(10);
        assert_eq!(x.peek(20), a + 10);
        assert_eq!(x.highest(), Some(a));
    }
}
