//! RFC 4733 telephone events turned into sound: a bounded table of the events the packets
//! describe, keyed by their start time, rendered as DTMF dual tones over whatever plays at that
//! RTP time.
//!
//! Every event packet (start, update, end and its repeats) names the event's start timestamp
//! and its duration so far, so any one of them suffices: a lost start packet costs nothing,
//! the redundant ends change nothing, and the longest duration seen wins. The jitter buffer's
//! delay means the whole event is usually known before its first sample plays. An event longer
//! than the 16-bit duration field comes as segments (RFC 4733 §2.5.1.3), each with a new start
//! timestamp; a segment that continues an unfinished event of the same key keeps its phase, so
//! the tone runs on without a seam.

use std::str::FromStr;

use crate::audio::dtmf::DualTone;
use crate::rtp::telephone_event::TelephoneEvent;

/// What telephone events sound like.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DtmfMode {
    /// DTMF dual tones at the signalled duration and volume.
    #[default]
    Tone,
    /// Silence for the event's time (the audio it replaces is not played either).
    Silence,
}

impl FromStr for DtmfMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "tone" => Ok(DtmfMode::Tone),
            "silence" => Ok(DtmfMode::Silence),
            _ => Err(format!("--dtmf is tone or silence, not {s:?}")),
        }
    }
}

/// Events remembered at once; an event is needed from its first packet until it has played,
/// a few seconds at most, so this covers far faster dialling than any keypad produces.
const SLOTS: usize = 32;

#[derive(Debug, Clone, Copy)]
struct Entry {
    start: u32,
    code: u8,
    volume: u8,
    /// Longest duration reported so far, in RTP ticks.
    duration: u32,
    ended: bool,
    /// Timestamp the tone's phase counts from (the first segment's start).
    origin: u32,
    /// A later segment of an event that began earlier (not a new key press).
    continues: bool,
    /// Some of it has played.
    heard: bool,
}

/// What one render call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rendered {
    /// Frames replaced by event sound (tone or silence).
    pub frames: usize,
    /// Events whose first sample played in this call.
    pub new_events: u64,
}

/// The telephone events of one stream, waiting to play.
#[derive(Debug, Clone)]
pub struct DtmfSchedule {
    entries: [Option<Entry>; SLOTS],
    /// Ticks of slack when matching a segment to the end of the one before it.
    segment_slack: i64,
}

/// Signed distance in ticks from `from` to `to`, across the 32-bit timestamp wrap.
fn ticks_between(from: u32, to: u32) -> i64 {
    i64::from(to.wrapping_sub(from) as i32)
}

/// `ceil(a / b)` for non-negative `b`.
fn ceil_div(a: i64, b: i64) -> i64 {
    -((-a).div_euclid(b))
}

impl DtmfSchedule {
    /// An empty schedule for a stream whose RTP clock runs at `clock_rate` Hz.
    pub fn new(clock_rate: u32) -> Self {
        DtmfSchedule {
            entries: [None; SLOTS],
            // A fifth of a second: senders report every 50 ms, so a segment's last update
            // may be that far short of where the next segment starts.
            segment_slack: i64::from(clock_rate.max(1) / 5),
        }
    }

    /// Takes one event block of a packet with RTP timestamp `ts`.
    pub fn note(&mut self, ts: u32, event: &TelephoneEvent) {
        let start = ts.wrapping_add(event.offset);
        let duration = u32::from(event.duration);
        if let Some(e) = self.entries.iter_mut().flatten().find(|e| e.start == start) {
            e.duration = e.duration.max(duration);
            e.ended |= event.end;
            e.code = event.code;
            e.volume = event.volume;
            return;
        }
        let mut entry = Entry {
            start,
            code: event.code,
            volume: event.volume,
            duration,
            ended: event.end,
            origin: start,
            continues: false,
            heard: false,
        };
        let slack = self.segment_slack;
        if let Some(prev) = self.entries.iter_mut().flatten().find(|e| {
            let after_end = ticks_between(e.start.wrapping_add(e.duration), start);
            e.code == event.code && !e.ended && (-slack..=slack).contains(&after_end)
        }) {
            // A new segment of an unfinished event: the same tone, phase and count; the
            // previous segment reaches up to it even if its last update was lost.
            prev.duration = prev.duration.max(start.wrapping_sub(prev.start));
            entry.origin = prev.origin;
            entry.continues = true;
        }
        let slot = match self.entries.iter().position(Option::is_none) {
            Some(free) => free,
            // Full: the event that started longest before this one has played long ago.
            None => (0..SLOTS)
                .max_by_key(|&i| self.entries[i].map_or(0, |e| ticks_between(e.start, start)))
                .unwrap_or(0),
        };
        self.entries[slot] = Some(entry);
    }

    /// Whether a DTMF event covers any of the `ticks` ticks from RTP time `start`.
    pub fn covers(&self, start: u32, ticks: u64) -> bool {
        let len = i64::try_from(ticks).unwrap_or(i64::MAX);
        self.entries.iter().flatten().any(|e| {
            let d = ticks_between(start, e.start);
            DualTone::for_event(e.code, e.volume).is_some()
                && d < len
                && d + i64::from(e.duration) > 0
        })
    }

    /// Replaces what plays during DTMF events in `out` (interleaved, `channels` channels at
    /// `rate` Hz, its first frame at RTP time `start` of a `clock_rate` clock) by their tones,
    /// or by silence.
    pub fn render(
        &mut self,
        start: u32,
        rate: u32,
        clock_rate: u32,
        channels: usize,
        mode: DtmfMode,
        out: &mut [f32],
    ) -> Rendered {
        let channels = channels.max(1);
        let frames = out.len() / channels;
        let (rate, clock) = (i64::from(rate.max(1)), i64::from(clock_rate.max(1)));
        let mut done = Rendered::default();
        for e in self.entries.iter_mut().flatten() {
            let Some(tone) = DualTone::for_event(e.code, e.volume) else {
                continue;
            };
            let d = ticks_between(start, e.start);
            let first = ceil_div(d.max(0) * rate, clock).max(0) as usize;
            let end = ceil_div((d + i64::from(e.duration)) * rate, clock).max(0) as usize;
            let end = end.min(frames);
            if first >= end {
                continue;
            }
            let origin = ticks_between(start, e.origin) as f64 / clock as f64;
            for (i, frame) in out
                .chunks_exact_mut(channels)
                .enumerate()
                .take(end)
                .skip(first)
            {
                let s = match mode {
                    DtmfMode::Tone => tone.at(i as f64 / rate as f64 - origin),
                    DtmfMode::Silence => 0.0,
                };
                frame.fill(s);
            }
            done.frames += end - first;
            if !std::mem::replace(&mut e.heard, true) && !e.continues {
                done.new_events += 1;
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: u8, end: bool, duration: u16) -> TelephoneEvent {
        TelephoneEvent {
            code,
            end,
            volume: 10,
            duration,
            offset: 0,
        }
    }

    #[test]
    fn any_update_places_the_event_and_repeats_change_nothing() {
        let mut s = DtmfSchedule::new(8000);
        // The start packet is lost: the first update already says where the event began.
        s.note(1000, &ev(5, false, 400));
        s.note(1000, &ev(5, true, 800));
        s.note(1000, &ev(5, true, 800));
        let mut out = vec![0.5f32; 1200];
        let r = s.render(800, 8000, 8000, 1, DtmfMode::Silence, &mut out);
        assert_eq!(
            r,
            Rendered {
                frames: 800,
                new_events: 1
            }
        );
        assert!(
            out[..200].iter().all(|&x| x == 0.5),
            "audio before the event stays"
        );
        assert!(out[200..1000].iter().all(|&x| x == 0.0));
        assert!(
            out[1000..].iter().all(|&x| x == 0.5),
            "audio after it stays"
        );
        assert!(s.covers(1799, 1) && !s.covers(1800, 100) && !s.covers(0, 1000));
    }

    #[test]
    fn segments_continue_the_phase_and_count_once() {
        let mut s = DtmfSchedule::new(8000);
        s.note(0, &ev(1, false, u16::MAX));
        s.note(65535, &ev(1, true, 1000));
        let mut whole = vec![0.0f32; 66535];
        let r = s.render(0, 8000, 8000, 1, DtmfMode::Tone, &mut whole);
        assert_eq!(r.new_events, 1);
        assert_eq!(r.frames, 66535);
        // Rendered in two pieces, the samples are the same: phase runs on across pieces.
        let mut s2 = s.clone();
        s2.entries
            .iter_mut()
            .flatten()
            .for_each(|e| e.heard = false);
        let mut tail = vec![0.0f32; 1000];
        s2.render(65535, 8000, 8000, 1, DtmfMode::Tone, &mut tail);
        assert_eq!(&whole[65535..], &tail[..]);
    }

    #[test]
    fn bounded_and_wrap_safe() {
        let mut s = DtmfSchedule::new(8000);
        for i in 0..100u32 {
            s.note(
                (u32::MAX - 50_000).wrapping_add(i * 1000),
                &ev(2, true, 160),
            );
        }
        assert_eq!(s.entries.iter().flatten().count(), SLOTS);
        let newest = (u32::MAX - 50_000).wrapping_add(99_000);
        assert!(
            s.covers(newest, 1),
            "the newest events are kept across the wrap"
        );
        assert!("SILENCE".parse::<DtmfMode>() == Ok(DtmfMode::Silence));
        assert!("loud".parse::<DtmfMode>().is_err());
    }
}
