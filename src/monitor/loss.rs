//! Network loss of one stream, settled number by number: how many packets the network lost, in
//! bursts of which lengths, and how bursty that loss is (the transitions the E-model's BurstR
//! comes from), kept apart from packets the monitor itself failed to read (sans-IO).
//!
//! A missing number is only settled once the stream is [`SETTLE_LAG`] numbers past it (5 s of
//! 20 ms packets, the depth of a player's default buffer), so a packet that was merely reordered
//! or held is never counted lost. One held longer still is taken back when it comes: its burst
//! is split in two around it, and the loss transitions around it are redone. Numbers the
//! monitor's own socket dropped (the kernel said so) are marked when the gap they leave is seen
//! and are counted as the monitor's, never the network's.

use serde::Serialize;

use crate::rtp::seq_window::SeqWindow;

/// How far behind the highest number a missing one is settled as lost.
pub const SETTLE_LAG: u64 = 256;

/// Longest burst counted in its own bucket; longer ones share the last.
pub const BURST_BUCKETS: usize = 32;

/// Counts of loss bursts by length (a burst is a run of consecutive lost numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurstHistogram {
    /// `counts[n - 1]`: bursts of exactly `n` packets, for n up to [`BURST_BUCKETS`]; the last
    /// bucket also holds every longer burst.
    pub counts: [u64; BURST_BUCKETS],
    /// The longest burst.
    pub longest: u64,
    /// Packets lost in all the bursts.
    pub packets: u64,
}

impl Default for BurstHistogram {
    fn default() -> Self {
        BurstHistogram {
            counts: [0; BURST_BUCKETS],
            longest: 0,
            packets: 0,
        }
    }
}

impl BurstHistogram {
    /// Counts a burst of `len` packets.
    pub fn add(&mut self, len: u64) {
        if len == 0 {
            return;
        }
        let bucket = (len.min(BURST_BUCKETS as u64) - 1) as usize;
        self.counts[bucket] += 1;
        self.longest = self.longest.max(len);
        self.packets += len;
    }

    /// Takes back a burst of `len` packets counted earlier. `longest` is redone from the
    /// buckets: exact below [`BURST_BUCKETS`]; if another burst of that length or more remains,
    /// the longest stays as it was, since the last bucket does not keep lengths.
    fn remove(&mut self, len: u64) {
        if len == 0 {
            return;
        }
        let bucket = (len.min(BURST_BUCKETS as u64) - 1) as usize;
        self.counts[bucket] = self.counts[bucket].saturating_sub(1);
        self.packets = self.packets.saturating_sub(len);
        if len == self.longest && self.counts[BURST_BUCKETS - 1] == 0 {
            self.longest = self
                .counts
                .iter()
                .rposition(|&n| n > 0)
                .map_or(0, |i| i as u64 + 1);
        }
    }

    /// Number of bursts.
    pub fn bursts(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Bursts of at most `len` packets (`len` ≥ [`BURST_BUCKETS`]: all of them).
    pub fn at_most(&self, len: u64) -> u64 {
        let n = (len.min(BURST_BUCKETS as u64)) as usize;
        self.counts[..n].iter().sum()
    }
}

impl Serialize for BurstHistogram {
    /// As `{"1": n, "2": n, …, "32+": n}` with only the lengths that occurred.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for (i, &n) in self.counts.iter().enumerate().filter(|(_, &n)| n > 0) {
            let len = i + 1;
            if len == BURST_BUCKETS {
                map.serialize_entry(&format!("{len}+"), &n)?;
            } else {
                map.serialize_entry(&len.to_string(), &n)?;
            }
        }
        map.end()
    }
}

/// Transitions between received and lost packets, in sequence order (a two-state Markov
/// model of the loss, as G.107's BurstR wants).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LossTransitions {
    /// Received after received.
    pub received_after_received: u64,
    /// Lost after received.
    pub lost_after_received: u64,
    /// Received after lost.
    pub received_after_lost: u64,
    /// Lost after lost.
    pub lost_after_lost: u64,
}

/// The settled loss record of one stream.
#[derive(Debug, Clone, Default)]
pub struct LossRecord {
    /// Numbers the monitor dropped itself (from the kernel's overflow count).
    credited: SeqWindow,
    /// The first number of the record.
    first: Option<u64>,
    /// The next number to settle.
    next: Option<u64>,
    /// The lost run being counted.
    run: u64,
    /// Whether the last settled number was lost (None before the first).
    prev_lost: Option<bool>,
    /// Lost numbers settled so far.
    pub lost: u64,
    /// Numbers the monitor dropped (marked when their gap was seen).
    pub monitor_dropped: u64,
    /// Bursts of lost numbers.
    pub bursts: BurstHistogram,
    /// Received/lost transitions.
    pub transitions: LossTransitions,
}

impl LossRecord {
    /// A record that settles from the first number it is told of.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes note of packet `ext`, which arrived after `prev_highest` was the highest number
    /// seen (before this packet), with `seen` the stream's window (already holding `ext`). If it
    /// leaves a gap, up to `credit` of the numbers just before it are marked as the monitor's
    /// (packets its socket dropped just before this one arrived), and `credit` is reduced by
    /// as many. A packet `new` to `seen` whose number was already settled is taken back (it
    /// was held longer than [`SETTLE_LAG`]). Then settles what is far enough behind.
    pub fn on_packet(
        &mut self,
        ext: u64,
        prev_highest: Option<u64>,
        credit: &mut u64,
        seen: &SeqWindow,
        new: bool,
    ) {
        if new && self.credited.contains(ext) {
            // Put down to the monitor's socket, yet here it is: the drop the kernel told of was
            // another packet, so the credit goes back for the next gap.
            self.credited.remove(ext);
            self.monitor_dropped = self.monitor_dropped.saturating_sub(1);
            *credit += 1;
        } else if new && self.next.is_some_and(|next| ext < next) {
            self.take_back(ext, seen);
        }
        match prev_highest {
            None => {
                self.first = Some(ext);
                self.next = Some(ext);
            }
            Some(h) if ext > h + 1 && *credit > 0 => {
                let gap = ext - h - 1;
                let take = gap.min(*credit);
                *credit -= take;
                self.monitor_dropped += take;
                for n in ext - take..ext {
                    self.credited.insert(n);
                }
            }
            _ => {}
        }
        if let Some(h) = seen.highest() {
            self.settle_to(h.saturating_sub(SETTLE_LAG), seen);
        }
    }

    /// Marks up to `budget` numbers missing and not yet settled as the monitor's (its capture
    /// reported drops after their gaps were seen); returns how many it marked.
    pub fn credit_recent(&mut self, budget: u64, seen: &SeqWindow) -> u64 {
        let (Some(from), Some(to)) = (self.next, seen.highest()) else {
            return 0;
        };
        let mut taken = 0;
        for n in (from..to).rev() {
            if taken == budget {
                break;
            }
            if seen.covers(n) && !seen.contains(n) && !self.credited.contains(n) {
                self.credited.insert(n);
                taken += 1;
            }
        }
        self.monitor_dropped += taken;
        taken
    }

    /// Settles everything up to the highest number seen (the stream ended or expired).
    pub fn settle_all(&mut self, seen: &SeqWindow) {
        if let Some(h) = seen.highest() {
            self.settle_to(h, seen);
        }
    }

    /// Settles the numbers up to and including `upto`.
    fn settle_to(&mut self, upto: u64, seen: &SeqWindow) {
        let Some(mut n) = self.next else {
            return;
        };
        while n <= upto {
            if seen.contains(n) {
                self.mark(false);
            } else if self.credited.contains(n) {
                // Neither received nor lost by the network (counted when marked): the run and
                // the chain carry on.
            } else if seen.covers(n) {
                self.mark(true);
            } else {
                // A window behind (a jump of over 32,768 numbers): nothing to settle it by.
                n = upto.max(n);
            }
            n += 1;
        }
        self.next = Some(n);
    }

    /// Packet `ext` arrived after its number was settled: the network did not lose it.
    fn take_back(&mut self, ext: u64, seen: &SeqWindow) {
        let (Some(first), Some(next)) = (self.first, self.next) else {
            return;
        };
        if ext < first || !seen.covers(ext) {
            return;
        }
        // The settled numbers on each side: the nearest marked one's state, and how many lost
        // ones run up to `ext` (numbers the monitor dropped neither break nor lengthen a run).
        let state = |m: u64| -> Option<Option<bool>> {
            if !seen.covers(m) {
                None
            } else if self.credited.contains(m) {
                Some(None)
            } else {
                Some(Some(!seen.contains(m)))
            }
        };
        let side = |numbers: &mut dyn Iterator<Item = u64>| {
            let (mut nearest, mut run, mut closed) = (None, 0u64, false);
            for m in numbers {
                match state(m) {
                    None => break,
                    Some(None) => continue,
                    Some(Some(lost)) => {
                        nearest.get_or_insert(lost);
                        if !lost {
                            closed = true;
                            break;
                        }
                        run += 1;
                    }
                }
            }
            (nearest, run, closed)
        };
        let (before, left, _) = side(&mut (first..ext).rev());
        let (after, right, closed) = side(&mut (ext + 1..next));
        self.lost = self.lost.saturating_sub(1);
        if closed {
            self.bursts.remove(left + 1 + right);
            self.bursts.add(left);
            self.bursts.add(right);
        } else {
            // The run is still open: what lies before `ext` is a burst of its own now.
            self.bursts.add(left);
            self.run = right;
        }
        let t = &mut self.transitions;
        let swap = |from: &mut u64, to: &mut u64| {
            *from = from.saturating_sub(1);
            *to += 1;
        };
        match before {
            Some(false) => swap(&mut t.lost_after_received, &mut t.received_after_received),
            Some(true) => swap(&mut t.lost_after_lost, &mut t.received_after_lost),
            None => {}
        }
        match after {
            Some(false) => swap(&mut t.received_after_lost, &mut t.received_after_received),
            Some(true) => swap(&mut t.lost_after_lost, &mut t.lost_after_received),
            None => self.prev_lost = Some(false),
        }
    }

    fn mark(&mut self, lost: bool) {
        let t = &mut self.transitions;
        match (self.prev_lost, lost) {
            (Some(false), false) => t.received_after_received += 1,
            (Some(false), true) => t.lost_after_received += 1,
            (Some(true), false) => t.received_after_lost += 1,
            (Some(true), true) => t.lost_after_lost += 1,
            (None, _) => {}
        }
        self.prev_lost = Some(lost);
        if lost {
            self.lost += 1;
            self.run += 1;
        } else if self.run > 0 {
            self.bursts.add(std::mem::take(&mut self.run));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::seq_window::SeqWindow;

    /// Feeds numbers in the given arrival order, with `credit` added before the packet at the
    /// given index; settles all at the end.
    fn run(order: &[u64], credit_before: Option<(usize, u64)>) -> LossRecord {
        let mut seen = SeqWindow::new();
        let mut rec = LossRecord::new();
        let mut credit = 0;
        for (i, &ext) in order.iter().enumerate() {
            if credit_before.is_some_and(|(at, _)| at == i) {
                credit += credit_before.unwrap().1;
            }
            let prev = seen.highest();
            let new = seen.insert(ext) == crate::rtp::seq_window::SeqMark::New;
            rec.on_packet(ext, prev, &mut credit, &seen, new);
        }
        rec.settle_all(&seen);
        rec
    }

    #[test]
    fn counts_bursts_by_length_and_never_a_reordered_packet() {
        // 0..300 with bursts of 1 (10), 3 (20..23), 1 (40), 5 (100..105); 50 arrives after 55.
        let lost: Vec<u64> = [10, 20, 21, 22, 40, 100, 101, 102, 103, 104].to_vec();
        let mut order: Vec<u64> = (0..300).filter(|n| !lost.contains(n) && *n != 50).collect();
        let at = order.iter().position(|&n| n == 55).unwrap();
        order.insert(at + 1, 50);
        let rec = run(&order, None);
        assert_eq!(rec.lost, 10);
        assert_eq!(rec.bursts.counts[0], 2);
        assert_eq!(rec.bursts.counts[2], 1);
        assert_eq!(rec.bursts.counts[4], 1);
        assert_eq!(rec.bursts.bursts(), 4);
        assert_eq!(rec.bursts.longest, 5);
        let t = rec.transitions;
        assert_eq!(t.lost_after_received, 4);
        assert_eq!(t.received_after_lost, 4);
        assert_eq!(t.lost_after_lost, 6);
        assert_eq!(t.received_after_received, 299 - 4 - 4 - 6);
    }

    #[test]
    fn a_gap_the_monitor_caused_is_not_network_loss() {
        // 5 packets dropped by our socket before 100 arrived: 95..100 are the monitor's.
        let order: Vec<u64> = (0..200).filter(|n| !(95..100).contains(n)).collect();
        let at = order.iter().position(|&n| n == 100).unwrap();
        let rec = run(&order, Some((at, 5)));
        assert_eq!((rec.lost, rec.monitor_dropped), (0, 5));
        assert_eq!(rec.bursts.bursts(), 0);
        // Credit for 3 against a gap of 5: the other 2 are the network's, one burst of 2.
        let rec = run(&order, Some((at, 3)));
        assert_eq!((rec.lost, rec.monitor_dropped), (2, 3));
        assert_eq!(rec.bursts.counts[1], 1);
    }

    #[test]
    fn drops_told_after_the_gap_are_taken_back_from_unsettled_numbers() {
        let mut seen = SeqWindow::new();
        let mut rec = LossRecord::new();
        let mut credit = 0;
        for ext in (0..100).filter(|n| !(90..93).contains(n)) {
            let prev = seen.highest();
            seen.insert(ext);
            rec.on_packet(ext, prev, &mut credit, &seen, true);
        }
        assert_eq!(rec.credit_recent(5, &seen), 3);
        rec.settle_all(&seen);
        assert_eq!((rec.lost, rec.monitor_dropped), (0, 3));
    }

    #[test]
    fn long_bursts_share_the_last_bucket_and_serialise_by_length() {
        let order: Vec<u64> = (0..200)
            .filter(|n| !(50..90).contains(n) && *n != 7)
            .collect();
        let rec = run(&order, None);
        assert_eq!(rec.bursts.counts[BURST_BUCKETS - 1], 1);
        assert_eq!(rec.bursts.longest, 40);
        assert_eq!(
            serde_json::to_string(&rec.bursts).unwrap(),
            r#"{"1":1,"32+":1}"#
        );
        assert_eq!(rec.bursts.at_most(1), 1);
        assert_eq!(rec.bursts.at_most(100), 2);
    }

    /// A loss record built from the final set of received numbers, as if every packet had come
    /// in order: what any arrival order must end with.
    fn in_order(received: &[u64], to: u64) -> LossRecord {
        let mut order: Vec<u64> = received.iter().copied().filter(|&n| n < to).collect();
        order.sort_unstable();
        order.dedup();
        run(&order, None)
    }

    #[test]
    fn a_packet_held_past_the_settling_lag_is_taken_back() {
        // Loss at 10, 20..23, 100..105 and 400; packets 21, 102, 104 and 300 arrive 600 numbers
        // late (long settled as lost), 5 arrives twice.
        let held = [21u64, 102, 104, 300];
        let lost = [10u64, 20, 22, 100, 101, 103, 400];
        let mut order: Vec<u64> = (0..1000)
            .filter(|n| !lost.contains(n) && !held.contains(n))
            .collect();
        for (i, &h) in held.iter().enumerate() {
            let at = order.iter().position(|&n| n == h + 600).unwrap();
            order.insert(at + 1 + i, h);
        }
        order.insert(10, 5);
        let rec = run(&order, None);
        let want = in_order(&order, 1000);
        assert_eq!(rec.lost, 7);
        assert_eq!(
            rec.bursts, want.bursts,
            "bursts of 1: 10, 20, 22, 103, 400; of 2: 100..102"
        );
        assert_eq!((rec.bursts.counts[0], rec.bursts.counts[1]), (5, 1));
        assert_eq!(rec.transitions, want.transitions);
    }

    #[test]
    fn a_held_packet_inside_the_open_run_splits_it() {
        // 50..400 missing when 599 arrives (50..343 settled, the run still open), then 55
        // arrives; then the stream goes on.
        let mut order: Vec<u64> = (0..50).chain(400..600).collect();
        order.push(55);
        order.extend(600..700);
        let rec = run(&order, None);
        let want = in_order(&order, 700);
        assert_eq!(rec.lost, 349);
        assert_eq!(rec.bursts, want.bursts, "5 (50..55) and 344 (56..400)");
        assert_eq!(rec.bursts.counts[4], 1);
        assert_eq!(rec.bursts.longest, 344);
        assert_eq!(rec.transitions, want.transitions);
    }

    #[test]
    fn a_number_credited_to_the_monitor_that_arrives_is_nobodys() {
        let order: Vec<u64> = (0..200).filter(|n| !(95..100).contains(n)).collect();
        let at = order.iter().position(|&n| n == 100).unwrap();
        let mut late = order.clone();
        late.push(97);
        late.extend(200..500);
        let rec = run(&late, Some((at, 5)));
        assert_eq!((rec.lost, rec.monitor_dropped), (0, 4));
        assert_eq!(rec.bursts.bursts(), 0);
        // The credit it gave back goes to the next gap: 300 and 301 missing, one is ours.
        let mut gap = late.clone();
        gap.retain(|&n| n != 300 && n != 301);
        let rec = run(&gap, Some((at, 5)));
        assert_eq!((rec.lost, rec.monitor_dropped), (1, 5));
    }
}
