//! Per-stream RTP statistics as Wireshark's RTP stream analysis defines them: loss from the
//! sequence range, duplicates, out-of-order packets, largest arrival gap, RFC 3550 interarrival
//! jitter, and the sender clock's skew against the capture clock.
//!
//! Across a pause the capture's reader skipped (a jump of the capture clock, see
//! [`super::timeline`]) nothing is known of the time that passed: the packet after it counts
//! as arriving on time by its RTP timestamp. It adds no jitter, does not set the largest gap,
//! and the skew carries on from before the pause; the pause is counted in `skipped_pauses`.

use std::time::Duration;

use serde::Serialize;

use crate::jitter::InterarrivalJitter;
use crate::rtp::seq::{SeqExtender, TsExtender};
use crate::rtp::seq_window::{SeqMark, SeqWindow};

/// Sequence and timing statistics of one stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StreamStats {
    /// Packets captured (duplicates included).
    pub packets: u64,
    /// Packets the sequence range implies (highest − lowest + 1).
    pub expected: u64,
    /// Sequence numbers never captured.
    pub lost: u64,
    /// Packets whose sequence number had been captured before.
    pub duplicated: u64,
    /// Packets arriving after one with a higher sequence number.
    pub out_of_order: u64,
    /// Seconds from the first to the last packet.
    pub duration_s: f64,
    /// Capture time of the first packet, seconds from the capture's start.
    pub start_s: f64,
    /// Largest gap between consecutive arrivals, ms.
    pub max_delta_ms: f64,
    /// Where (seconds from the capture's start) that gap ended.
    pub max_delta_at_s: f64,
    /// Pauses skipped between the first and the last packet (capture clock jumps).
    pub skipped_pauses: u64,
    /// RFC 3550 interarrival jitter at the end, ms (None without a clock rate).
    pub jitter_ms: Option<f64>,
    /// Mean of the running jitter over the stream, ms.
    pub mean_jitter_ms: Option<f64>,
    /// Largest running jitter, ms.
    pub max_jitter_ms: Option<f64>,
    /// How early the last packet arrived against where the first packet and the RTP clock put
    /// it, ms (Wireshark's sign: positive is early, a sender clock running fast or delay shrinking).
    pub skew_ms: Option<f64>,
    /// How much faster the sender's media clock runs than the capture's clock, ppm, from a
    /// least-squares fit of arrival time on RTP time (network delay trends show up here too).
    pub skew_ppm: Option<f64>,
}

/// Where a packet's sequence number falls against those before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeqStatus {
    /// The first packet, or the one after the highest so far.
    InOrder,
    /// Ahead of the highest + 1: the packets between are missing (so far).
    Gap {
        /// The sequence number that was expected.
        expected: u16,
    },
    /// Below the highest so far and not seen before.
    OutOfOrder,
    /// Seen before.
    Duplicate,
}

/// What one packet added to the statistics: Wireshark's per-packet analysis columns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PacketNote {
    /// Time since the stream's previous packet, ms.
    pub delta_ms: f64,
    /// The running RFC 3550 jitter after it, ms (media packets with a known clock).
    pub jitter_ms: Option<f64>,
    /// How early it arrived against the first packet and the RTP clock, ms.
    pub skew_ms: Option<f64>,
    /// Its place in the sequence.
    pub seq: SeqStatus,
    /// Its extended sequence number.
    #[serde(skip)]
    pub ext_seq: u64,
}

/// Accumulates [`StreamStats`] packet by packet in capture order.
#[derive(Debug)]
pub struct StatsBuilder {
    seq: SeqExtender,
    /// The numbers seen lately (a packet a window behind counts as a duplicate).
    seen: SeqWindow,
    /// Distinct numbers seen.
    unique: u64,
    lowest: Option<u64>,
    stats: StreamStats,
    first_at: Option<Duration>,
    last_at: Duration,
    /// A skipped pause comes before the next packet.
    after_pause: bool,
    clock: Option<Clock>,
}

/// Timing of packets that carry the stream's media clock.
#[derive(Debug)]
struct Clock {
    rate: f64,
    ts: TsExtender,
    /// (arrival s, RTP time s) of the first and previous timed packets, arrivals moved by
    /// `shift`.
    first: Option<(f64, f64)>,
    prev: Option<(f64, f64)>,
    /// Added to arrivals after skipped pauses, so that each pause took its RTP time, s.
    shift: f64,
    /// A skipped pause comes before the next timed packet.
    after_pause: bool,
    /// The RFC 3550 A.8 estimator the live receiver uses too.
    interarrival: InterarrivalJitter,
    jitter: f64,
    jitter_sum: f64,
    jitter_max: f64,
    timed: u64,
    // Sums for the least-squares fit of arrival against RTP time, relative to the first packet.
    n: f64,
    sx: f64,
    sy: f64,
    sxx: f64,
    sxy: f64,
}

impl StatsBuilder {
    /// A builder; `clock_rate` enables jitter and skew (the media's RTP clock).
    pub fn new(clock_rate: Option<u32>) -> Self {
        StatsBuilder {
            seq: SeqExtender::new(),
            seen: SeqWindow::new(),
            unique: 0,
            lowest: None,
            stats: StreamStats::default(),
            first_at: None,
            last_at: Duration::ZERO,
            after_pause: false,
            clock: clock_rate.filter(|&r| r > 0).map(|r| Clock {
                rate: f64::from(r),
                ts: TsExtender::new(),
                first: None,
                prev: None,
                shift: 0.0,
                after_pause: false,
                interarrival: InterarrivalJitter::new(r),
                jitter: 0.0,
                jitter_sum: 0.0,
                jitter_max: 0.0,
                timed: 0,
                n: 0.0,
                sx: 0.0,
                sy: 0.0,
                sxx: 0.0,
                sxy: 0.0,
            }),
        }
    }

    /// Says that `count` skipped pauses come before the next packet (its datagram's segment
    /// is `count` past the previous packet's).
    pub fn skipped_pauses(&mut self, count: u64) {
        if count > 0 && self.first_at.is_some() {
            self.stats.skipped_pauses += count;
            self.after_pause = true;
            if let Some(c) = self.clock.as_mut() {
                c.after_pause = true;
            }
        }
    }

    /// Adds a packet captured at `at`; `timed` says whether its timestamp is on the media clock
    /// (telephone events and comfort noise reuse timestamps and are left out of jitter and skew).
    pub fn add(&mut self, at: Duration, seq: u16, timestamp: u32, timed: bool) -> PacketNote {
        let s = &mut self.stats;
        s.packets += 1;
        let mut delta_ms = 0.0;
        let after_pause = std::mem::take(&mut self.after_pause);
        if let Some(prev) = self.first_at.map(|_| self.last_at) {
            delta_ms = at.saturating_sub(prev).as_secs_f64() * 1000.0;
            if delta_ms > s.max_delta_ms && !after_pause {
                s.max_delta_ms = delta_ms;
                s.max_delta_at_s = at.as_secs_f64();
            }
        }
        self.first_at.get_or_insert(at);
        self.last_at = at;
        let highest = self.seq.highest();
        let ext = self.seq.extend(seq);
        let mark = self.seen.insert(ext);
        if mark == SeqMark::New {
            self.unique += 1;
        }
        let status = if mark != SeqMark::New {
            s.duplicated += 1;
            SeqStatus::Duplicate
        } else {
            match highest {
                Some(h) if ext < h => {
                    s.out_of_order += 1;
                    SeqStatus::OutOfOrder
                }
                Some(h) if ext > h + 1 => SeqStatus::Gap {
                    expected: (h + 1) as u16,
                },
                _ => SeqStatus::InOrder,
            }
        };
        self.lowest = Some(self.lowest.map_or(ext, |l| l.min(ext)));
        let timing = match (timed, self.clock.as_mut()) {
            (true, Some(c)) => Some(c.add(at, timestamp)),
            _ => None,
        };
        PacketNote {
            delta_ms,
            jitter_ms: timing.map(|(j, _)| j * 1000.0),
            skew_ms: timing.map(|(_, k)| k * 1000.0),
            seq: status,
            ext_seq: ext,
        }
    }

    /// The sequence numbers seen lately.
    pub fn seen(&self) -> &SeqWindow {
        &self.seen
    }

    /// The statistics so far.
    pub fn finish(&self) -> StreamStats {
        let mut s = self.stats;
        if let (Some(low), Some(high)) = (self.lowest, self.seq.highest()) {
            s.expected = high - low + 1;
            s.lost = s.expected.saturating_sub(self.unique);
        }
        let first = self.first_at.unwrap_or_default();
        s.start_s = first.as_secs_f64();
        s.duration_s = (self.last_at.saturating_sub(first)).as_secs_f64();
        if let Some(c) = self.clock.as_ref().filter(|c| c.timed > 0) {
            s.jitter_ms = Some(c.jitter * 1000.0);
            s.mean_jitter_ms = Some(c.jitter_sum / c.timed as f64 * 1000.0);
            s.max_jitter_ms = Some(c.jitter_max * 1000.0);
            if let (Some((a0, r0)), Some((a1, r1))) = (c.first, c.prev) {
                s.skew_ms = Some(((r1 - r0) - (a1 - a0)) * 1000.0);
            }
            s.skew_ppm = c
                .slope()
                .filter(|&slope| slope > 0.0)
                .map(|slope| (1.0 / slope - 1.0) * 1e6);
        }
        s
    }
}

impl Clock {
    /// Adds a timed packet; returns the running jitter and its skew (how early), seconds.
    fn add(&mut self, at: Duration, timestamp: u32) -> (f64, f64) {
        let rtp = self.ts.extend(timestamp) as f64 / self.rate;
        if std::mem::take(&mut self.after_pause) {
            if let Some((prev_arrival, prev_rtp)) = self.prev {
                // On time by the RTP clock: the pause took exactly its RTP time.
                self.shift = prev_arrival + (rtp - prev_rtp) - at.as_secs_f64();
            }
            self.interarrival.rebase();
        }
        let arrival = at.as_secs_f64() + self.shift;
        self.interarrival.observe(timestamp, at);
        self.jitter = self.interarrival.ticks() / self.rate;
        self.prev = Some((arrival, rtp));
        let (a0, r0) = *self.first.get_or_insert((arrival, rtp));
        self.timed += 1;
        self.jitter_sum += self.jitter;
        self.jitter_max = self.jitter_max.max(self.jitter);
        let (x, y) = (rtp - r0, arrival - a0);
        self.n += 1.0;
        self.sx += x;
        self.sy += y;
        self.sxx += x * x;
        self.sxy += x * y;
        (self.jitter, x - y)
    }

    /// Seconds of capture time per second of RTP time; needs a second of spread to say anything.
    fn slope(&self) -> Option<f64> {
        let var = self.sxx - self.sx * self.sx / self.n;
        let spread = var / self.n;
        (self.n >= 3.0 && spread > 1.0).then(|| (self.sxy - self.sx * self.sy / self.n) / var)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn counts_loss_duplicates_and_reordering_across_a_wrap() {
        let mut b = StatsBuilder::new(Some(8000));
        // 65534, 65535, (0 lost), 2, 1 (late), 2 (duplicate), 3
        for (i, seq) in [65534u16, 65535, 2, 1, 2, 3].into_iter().enumerate() {
            b.add(
                ms(20 * i as u64),
                seq,
                160 * u32::from(seq.wrapping_add(2)),
                true,
            );
        }
        let s = b.finish();
        assert_eq!(
            (s.packets, s.expected, s.lost, s.duplicated, s.out_of_order),
            (6, 6, 1, 1, 1)
        );
        let mut b = StatsBuilder::new(Some(8000));
        let notes: Vec<SeqStatus> = [65534u16, 65535, 2, 1, 2, 3]
            .into_iter()
            .map(|seq| b.add(ms(0), seq, 0, false).seq)
            .collect();
        assert_eq!(
            notes,
            [
                SeqStatus::InOrder,
                SeqStatus::InOrder,
                SeqStatus::Gap { expected: 0 },
                SeqStatus::OutOfOrder,
                SeqStatus::Duplicate,
                SeqStatus::InOrder
            ]
        );
    }

    #[test]
    fn perfect_timing_has_no_jitter_and_a_steady_gap() {
        let mut b = StatsBuilder::new(Some(8000));
        for i in 0..500u16 {
            b.add(ms(u64::from(i) * 20), i, u32::from(i) * 160, true);
        }
        let s = b.finish();
        assert!(s.jitter_ms.unwrap() < 1e-6, "{s:?}");
        assert!((s.max_delta_ms - 20.0).abs() < 1e-9);
        assert!(s.skew_ppm.unwrap().abs() < 1e-3, "{s:?}");
        assert!((s.duration_s - 9.98).abs() < 1e-9);
    }

    #[test]
    fn alternating_delay_gives_the_rfc3550_jitter() {
        // Every other packet 10 ms late: |D| = 10 ms on every step, so J converges to 10 ms.
        let mut b = StatsBuilder::new(Some(8000));
        for i in 0..400u64 {
            let late = if i % 2 == 1 { 10 } else { 0 };
            b.add(ms(i * 20 + late), i as u16, i as u32 * 160, true);
        }
        let s = b.finish();
        assert!((s.jitter_ms.unwrap() - 10.0).abs() < 0.01, "{s:?}");
        assert!((s.max_delta_ms - 30.0).abs() < 1e-9);
    }

    #[test]
    fn a_fast_sender_clock_shows_as_skew() {
        // The sender's 8 kHz clock runs 1000 ppm fast: packets arrive slightly early.
        let mut b = StatsBuilder::new(Some(8000));
        for i in 0..3000u64 {
            let arrival = Duration::from_secs_f64(i as f64 * 0.02 / 1.001);
            b.add(arrival, i as u16, i as u32 * 160, true);
        }
        let s = b.finish();
        assert!((s.skew_ppm.unwrap() - 1000.0).abs() < 0.5, "{s:?}");
        // 60 s of stream arrive 60 ms early.
        assert!((s.skew_ms.unwrap() - 59.9).abs() < 0.2, "{s:?}");
    }

    #[test]
    fn a_skipped_pause_adds_no_jitter_gap_or_skew() {
        // 20 ms packets; the reader skipped a pause before packet 100, which arrived 500 ms
        // after packet 99 (other records' time before the pause, say).
        let run = |told: bool| {
            let mut b = StatsBuilder::new(Some(8000));
            for i in 0..200u64 {
                let at = if i < 100 {
                    ms(i * 20)
                } else {
                    ms(i * 20 + 480)
                };
                if i == 100 && told {
                    b.skipped_pauses(1);
                }
                b.add(at, i as u16, i as u32 * 160, true);
            }
            b.finish()
        };
        let s = run(true);
        assert_eq!(s.skipped_pauses, 1);
        assert!(s.max_jitter_ms.unwrap() < 1e-6, "{s:?}");
        assert!(s.skew_ms.unwrap().abs() < 1e-6, "{s:?}");
        assert!(s.skew_ppm.unwrap().abs() < 1e-3, "{s:?}");
        assert!((s.max_delta_ms - 20.0).abs() < 1e-9, "{s:?}");
        assert!((s.duration_s - 4.46).abs() < 1e-9, "{s:?}");
        // The same arrivals, not marked as a pause, read as a gap and a jump of the delay.
        let s = run(false);
        assert_eq!(s.skipped_pauses, 0);
        assert!(s.max_jitter_ms.unwrap() > 1.0, "{s:?}");
        assert!((s.skew_ms.unwrap() + 480.0).abs() < 1e-6, "{s:?}");
        assert!((s.max_delta_ms - 500.0).abs() < 1e-9, "{s:?}");
    }
}
