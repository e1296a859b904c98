//! The figures Wireshark's RTP Streams dialog (and `tshark -z rtp,streams`) shows for a stream,
//! computed its way, so a user can set our list beside theirs.
//!
//! Our own statistics ([`super::stats`]) differ on purpose: they time only the stream's main
//! media (telephone events reuse a timestamp for a whole event, comfort noise stands for
//! silence), count loss over the distinct sequence numbers, and take the largest gap over every
//! packet. Wireshark instead, packet by packet in capture order:
//! - updates the jitter only for packets with a known clock (no clock for telephone events or
//!   an unnamed dynamic payload type) whose timestamp is not before the first packet's (a
//!   reordered packet counts, measured backwards from the one before it), converting RTP ticks
//!   to ms with the clock rate divided by 1000 in integers (11025 Hz counts as 11 ticks per ms);
//! - measures such a packet's RTP time from the previous packet with a clock but its arrival
//!   from the previous packet of any payload type, so the first audio packet after a telephone
//!   event is timed as if it had arrived right after the event's last packet;
//! - leaves out of max delta, mean and max jitter the first packet, packets with the marker bit,
//!   comfort noise, the packet after comfort noise and packets timestamped before the first;
//! - averages the jitter over the packets counted so far (all of them, counted or not);
//! - counts as lost the sequence range from the first to the last packet captured, less every
//!   packet captured (duplicates included), which can go negative.
//!
//! One thing tshark does not do: across a pause our reader skipped (a jump of the capture
//! clock longer than the idle timeout, or backwards; see [`super::timeline`]) the packet after
//! it is treated like a marker packet (left out of max delta, mean and max jitter) and adds
//! nothing to the running jitter. tshark would take the jump as a delta of days; on captures
//! without such a jump the figures are tshark's.

use std::time::Duration;

use serde::Serialize;

use crate::rtp::seq::{SeqExtender, TsExtender};

/// RFC 3551 comfort noise, and the payload type older equipment used for it.
const COMFORT_NOISE_PTS: [u8; 2] = [13, 19];

/// Wireshark's RTP Streams columns for one stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct WiresharkFigures {
    /// Sequence range from the first to the last packet captured, less the packets captured.
    pub lost: i64,
    /// Largest arrival gap between counted packets, ms.
    pub max_delta_ms: f64,
    /// Mean jitter, ms; None when no packet had a known clock.
    pub mean_jitter_ms: Option<f64>,
    /// Largest jitter, ms; None when no packet had a known clock.
    pub max_jitter_ms: Option<f64>,
}

/// The reference the next packet is measured against.
#[derive(Debug, Clone, Copy)]
struct Previous {
    /// Extended RTP timestamp of the stream's first packet.
    first_ts: i64,
    /// Capture time of the last packet timestamped at or after the first, ms.
    at_ms: f64,
    /// Extended RTP timestamp of the last packet with a clock (the first packet's until then).
    clocked_ts: i64,
    /// Payload type of the last packet (whatever its timestamp).
    pt: u8,
}

/// Accumulates [`WiresharkFigures`] packet by packet in capture order.
#[derive(Debug, Default)]
pub struct WiresharkBuilder {
    seq: SeqExtender,
    ts: TsExtender,
    first_seq: Option<u64>,
    last_seq: u64,
    packets: u64,
    previous: Option<Previous>,
    jitter_ms: f64,
    mean_jitter_ms: f64,
    max_jitter_ms: f64,
    timed: bool,
    max_delta_ms: f64,
    /// A skipped pause comes before the next packet.
    after_pause: bool,
}

impl WiresharkBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Says a skipped pause comes before the next packet.
    pub fn skipped_pause(&mut self) {
        self.after_pause = true;
    }

    /// Adds a packet captured at `at`; `clock_rate` is its payload type's RTP clock when known
    /// (None for telephone events, as Wireshark has it).
    pub fn add(
        &mut self,
        at: Duration,
        seq: u16,
        timestamp: u32,
        pt: u8,
        marker: bool,
        clock_rate: Option<u32>,
    ) {
        let at_ms = at.as_secs_f64() * 1000.0;
        let ts = i64::try_from(self.ts.extend(timestamp)).unwrap_or(i64::MAX);
        let ext_seq = self.seq.extend(seq);
        self.first_seq.get_or_insert(ext_seq);
        self.last_seq = ext_seq;
        // `packets` counts those before this one, as Wireshark's running mean divides by it.
        let counted_before = self.packets;
        self.packets += 1;
        let after_pause = std::mem::take(&mut self.after_pause);
        let Some(prev) = self.previous else {
            self.previous = Some(Previous {
                first_ts: ts,
                at_ms,
                clocked_ts: ts,
                pt,
            });
            return;
        };
        let in_time = ts >= prev.first_ts;
        let delta_ms = at_ms - prev.at_ms;
        // Wireshark divides ticks by the integer ticks per ms; below 1 kHz that is no clock.
        let ticks_per_ms = clock_rate.map(|r| r / 1000).filter(|&t| t > 0);
        let mut clocked_ts = prev.clocked_ts;
        if let Some(ticks_per_ms) = ticks_per_ms.filter(|_| in_time) {
            if !after_pause {
                let nominal_ms = (ts - prev.clocked_ts) as f64 / f64::from(ticks_per_ms);
                let diff = (delta_ms - nominal_ms).abs();
                self.jitter_ms = (15.0 * self.jitter_ms + diff) / 16.0;
            }
            clocked_ts = ts;
        }
        let regular = !marker
            && !after_pause
            && in_time
            && !COMFORT_NOISE_PTS.contains(&pt)
            && !COMFORT_NOISE_PTS.contains(&prev.pt);
        if regular {
            self.max_delta_ms = self.max_delta_ms.max(delta_ms);
            if ticks_per_ms.is_some() {
                self.timed = true;
                self.max_jitter_ms = self.max_jitter_ms.max(self.jitter_ms);
                let n = counted_before as f64;
                self.mean_jitter_ms = (self.mean_jitter_ms * (n - 1.0) + self.jitter_ms) / n;
            }
        }
        self.previous = Some(if in_time {
            Previous {
                at_ms,
                clocked_ts,
                pt,
                ..prev
            }
        } else {
            Previous { pt, ..prev }
        });
    }

    /// The figures so far.
    pub fn finish(&self) -> WiresharkFigures {
        let expected = self
            .first_seq
            .map_or(0, |first| self.last_seq.saturating_sub(first) + 1);
        WiresharkFigures {
            lost: i64::try_from(expected)
                .unwrap_or(i64::MAX)
                .saturating_sub(i64::try_from(self.packets).unwrap_or(i64::MAX)),
            max_delta_ms: self.max_delta_ms,
            mean_jitter_ms: self.timed.then_some(self.mean_jitter_ms),
            max_jitter_ms: self.timed.then_some(self.max_jitter_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn an_event_after_audio_shows_in_the_next_audio_packets_jitter() {
        // PCMU every 20 ms; after packet 2 three event packets (no clock) carry packet 2's
        // timestamp, 5 ms apart. Packet 3 is then measured from packet 2's RTP time but from
        // the last event's arrival: 5 ms of arrival against 20 ms of RTP time, 15 ms off.
        let mut w = WiresharkBuilder::new();
        let mut seq = 0u16;
        let mut add = |w: &mut WiresharkBuilder, at: u64, ts: u32, pt: u8, clock| {
            w.add(ms(at), seq, ts, pt, false, clock);
            seq += 1;
        };
        for k in 0..3u32 {
            add(&mut w, u64::from(k) * 20, k * 160, 0, Some(8000));
        }
        for i in 1..=3u64 {
            add(&mut w, 40 + 5 * i, 320, 101, None);
        }
        add(&mut w, 60, 480, 0, Some(8000));
        let f = w.finish();
        assert!(
            (f.max_jitter_ms.unwrap() - 15.0 / 16.0).abs() < 1e-9,
            "{f:?}"
        );
        assert!((f.max_delta_ms - 20.0).abs() < 1e-9, "{f:?}");
        assert_eq!(f.lost, 0);
    }

    #[test]
    fn no_clock_means_no_jitter_and_duplicates_make_loss_negative() {
        let mut w = WiresharkBuilder::new();
        for (i, seq) in [1u16, 2, 2, 3].into_iter().enumerate() {
            w.add(ms(20 * i as u64), seq, 0, 96, false, None);
        }
        let f = w.finish();
        assert_eq!(
            (f.mean_jitter_ms, f.max_jitter_ms, f.lost),
            (None, None, -1)
        );
    }

    #[test]
    fn marker_and_comfort_noise_packets_are_left_out_of_max_delta() {
        let mut w = WiresharkBuilder::new();
        w.add(ms(0), 1, 0, 0, false, Some(8000));
        w.add(ms(20), 2, 160, 0, false, Some(8000));
        // A talkspurt starts after a 500 ms pause (marker), comfort noise 300 ms later, and
        // the packet after it 100 ms later: none of those gaps counts.
        w.add(ms(520), 3, 4160, 0, true, Some(8000));
        w.add(ms(820), 4, 6560, 13, false, Some(8000));
        w.add(ms(920), 5, 7360, 0, false, Some(8000));
        w.add(ms(950), 6, 7600, 0, false, Some(8000));
        let f = w.finish();
        assert!((f.max_delta_ms - 30.0).abs() < 1e-9, "{f:?}");
    }

    #[test]
    fn a_skipped_pause_is_left_out_like_a_marker() {
        // Packet 3 follows a skipped pause: 500 ms after packet 2 on the arrival timeline.
        let run = |told: bool| {
            let mut w = WiresharkBuilder::new();
            for k in 0..10u64 {
                let at = if k < 3 { k * 20 } else { k * 20 + 480 };
                if k == 3 && told {
                    w.skipped_pause();
                }
                w.add(ms(at), k as u16, k as u32 * 160, 0, false, Some(8000));
            }
            w.finish()
        };
        let f = run(true);
        assert!((f.max_delta_ms - 20.0).abs() < 1e-9, "{f:?}");
        assert_eq!(f.max_jitter_ms, Some(0.0));
        let f = run(false);
        assert!((f.max_delta_ms - 500.0).abs() < 1e-9, "{f:?}");
        assert!((f.max_jitter_ms.unwrap() - 30.0).abs() < 1e-9, "{f:?}");
    }
}
