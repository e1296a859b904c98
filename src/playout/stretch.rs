//! Moves the buffer level without changing pitch: silence made longer or shorter first, else
//! one pitch period inserted or removed with a crossfade (pitch-synchronous overlap-add, in the
//! spirit of WebRTC NetEq's preemptive expand and accelerate).
//!
//! A block of decoded audio (interleaved, at least [`TimeStretcher::min_frames`] long) goes in;
//! the stretcher finds the lag `T` (2.5–15 ms) at which the block best repeats itself
//! (normalised cross-correlation of `x[0..T]` with `x[T..2T]`, on the channel mix). If the
//! block is silent it is lengthened or shortened outright. If it repeats well enough:
//! - **expand** plays `x[0..2T]` with its second period crossfaded into a copy of the first,
//!   then `x[T..]`: one period longer, continuous at both joins;
//! - **accelerate** plays the first period crossfaded into the second, then `x[2T..]`: one
//!   period shorter.
//!
//! Otherwise (noise, transients) the block passes untouched. A budget caps the change at
//! [`MAX_SHARE`] of the audio that went through, so stretching stays inaudible. All buffers are
//! allocated up front: processing allocates nothing while blocks fit them.

use crate::audio::pitch::{PitchSearch, Window, VOICE_LAGS};

/// Most of the audio that time-stretch may add or remove: 2 %.
pub const MAX_SHARE: f64 = 0.02;
/// Silence may be lengthened or shortened by up to half its length.
const SILENCE_SHARE: f64 = 0.5;
/// Peak below which a block is silence (−60 dBFS).
const SILENT_PEAK: f32 = 1e-3;
/// Correlation a period must reach before it is repeated or removed.
const MIN_CORRELATION: f32 = 0.85;

/// Which way the level must move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum LevelMove {
    /// Leave the audio alone.
    Hold,
    /// Lengthen the audio (the level is below the target).
    Expand,
    /// Shorten the audio (the level is above the ceiling).
    Accelerate,
}

/// What one call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StretchResult {
    /// Frames added (positive) or removed (negative) by time-stretch.
    pub stretched: isize,
    /// Frames of silence added or removed.
    pub silence: isize,
    /// Input frames `[0, unchanged_from)` were reshaped; the rest of the input appears
    /// verbatim at the end of the output (for silence changes: nothing does).
    pub unchanged_from: usize,
}

/// The pitch-synchronous time-stretcher (sans-IO, preallocated).
#[derive(Debug, Clone)]
pub struct TimeStretcher {
    channels: usize,
    search: PitchSearch,
    mono: Vec<f32>,
    budget: f64,
}

impl TimeStretcher {
    /// A stretcher for `channels`-channel audio at `rate` Hz.
    pub fn new(rate: u32, channels: usize) -> Self {
        let search = PitchSearch::new(rate, VOICE_LAGS);
        Self {
            channels: channels.max(1),
            search,
            mono: Vec::with_capacity(2 * search.span()),
            budget: 0.0,
        }
    }

    /// Shortest block worth handing over: two of the longest periods searched.
    pub fn min_frames(&self) -> usize {
        self.search.span()
    }

    /// Processes `block` (interleaved) into `out` in the direction `dir`.
    pub fn process(&mut self, block: &[f32], dir: LevelMove, out: &mut Vec<f32>) -> StretchResult {
        let ch = self.channels;
        let frames = block.len() / ch;
        self.budget = (self.budget + frames as f64 * MAX_SHARE).min(frames as f64);
        let peak = block.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        if dir == LevelMove::Hold || frames == 0 {
            out.extend_from_slice(block);
            return StretchResult::default();
        }
        if peak < SILENT_PEAK {
            let n = (frames as f64 * SILENCE_SHARE) as usize;
            return match dir {
                LevelMove::Expand => {
                    out.extend_from_slice(block);
                    out.resize(out.len() + n * ch, 0.0);
                    StretchResult {
                        silence: n as isize,
                        unchanged_from: frames,
                        ..StretchResult::default()
                    }
                }
                _ => {
                    out.extend_from_slice(&block[..(frames - n) * ch]);
                    StretchResult {
                        silence: -(n as isize),
                        unchanged_from: frames,
                        ..StretchResult::default()
                    }
                }
            };
        }
        let lag = match self.best_lag(block) {
            Some(lag) if frames >= 2 * lag && self.budget >= lag as f64 => lag,
            _ => {
                out.extend_from_slice(block);
                return StretchResult::default();
            }
        };
        self.budget -= lag as f64;
        let (a, b) = (&block[..lag * ch], &block[lag * ch..2 * lag * ch]);
        match dir {
            LevelMove::Expand => {
                out.extend_from_slice(a);
                crossfade(b, a, ch, out);
                out.extend_from_slice(&block[lag * ch..]);
                StretchResult {
                    stretched: lag as isize,
                    // `x[0..T]` also plays verbatim first; the caller treats the inserted
                    // period as the reshaped part.
                    unchanged_from: lag,
                    ..StretchResult::default()
                }
            }
            _ => {
                crossfade(a, b, ch, out);
                out.extend_from_slice(&block[2 * lag * ch..]);
                StretchResult {
                    stretched: -(lag as isize),
                    unchanged_from: 2 * lag,
                    ..StretchResult::default()
                }
            }
        }
    }

    /// The lag at which the block's channel mix best repeats itself, if it repeats well.
    fn best_lag(&mut self, block: &[f32]) -> Option<usize> {
        let ch = self.channels;
        let frames = (block.len() / ch).min(self.search.span());
        self.mono.clear();
        self.mono.extend(
            block[..frames * ch]
                .chunks_exact(ch)
                .map(|f| f.iter().sum::<f32>()),
        );
        let mut best = (0.0f32, 0usize);
        let mut longest = (0.0f32, 0usize);
        for p in self.search.correlations(&self.mono, 1, Window::Period) {
            if p.correlation > best.0 {
                best = (p.correlation, p.lag);
            }
            if p.correlation >= MIN_CORRELATION {
                longest = (p.correlation, p.lag);
            }
        }
        // Several periods at once where the audio repeats as well over them: fewer, longer
        // moves touch fewer packets.
        if longest.0 >= 0.98 * best.0 {
            best = longest;
        }
        (best.0 >= MIN_CORRELATION).then_some(best.1)
    }
}

/// Appends `from` fading out into `to` fading in (equal lengths, interleaved).
fn crossfade(from: &[f32], to: &[f32], channels: usize, out: &mut Vec<f32>) {
    let frames = from.len() / channels;
    for (i, (f, t)) in from
        .chunks_exact(channels)
        .zip(to.chunks_exact(channels))
        .enumerate()
    {
        let w = (i + 1) as f32 / (frames + 1) as f32;
        out.extend(f.iter().zip(t).map(|(a, b)| a * (1.0 - w) + b * w));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, frames: usize, rate: f32) -> Vec<f32> {
        (0..frames)
            .flat_map(|i| {
                let s = (2.0 * std::f32::consts::PI * freq * i as f32 / rate).sin() * 0.5;
                [s, s]
            })
            .collect()
    }

    fn max_jump(x: &[f32]) -> f32 {
        x.chunks_exact(2)
            .zip(x.chunks_exact(2).skip(1))
            .map(|(a, b)| (a[0] - b[0]).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn a_periodic_block_gains_or_loses_one_period_without_a_click_or_a_pitch_change() {
        let mut s = TimeStretcher::new(48_000, 2);
        // Prime the budget as a stream would: a second of audio passed.
        s.budget = 48_000.0 * MAX_SHARE;
        let block = tone(200.0, 2 * s.min_frames(), 48_000.0);
        let mut out = Vec::new();
        let r = s.process(&block, LevelMove::Expand, &mut out);
        assert_eq!(r.stretched % 240, 0, "whole 5 ms periods at 200 Hz");
        assert!(r.stretched > 0);
        assert_eq!(out.len(), block.len() + 2 * r.stretched as usize);
        assert!(max_jump(&out) <= max_jump(&block) * 1.05);
        s.budget = 48_000.0 * MAX_SHARE;
        let mut out = Vec::new();
        let r = s.process(&block, LevelMove::Accelerate, &mut out);
        assert_eq!(r.stretched % 240, 0);
        assert!(r.stretched < 0);
        assert_eq!(out.len(), block.len() - 2 * r.stretched.unsigned_abs());
        assert!(max_jump(&out) <= max_jump(&block) * 1.05);
    }

    #[test]
    fn noise_and_hold_pass_untouched_and_silence_is_resized() {
        let mut s = TimeStretcher::new(48_000, 2);
        s.budget = 1e9;
        let mut seed = 1u32;
        let noise: Vec<f32> = (0..2 * 2 * s.min_frames())
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect();
        let mut out = Vec::new();
        let r = s.process(&noise, LevelMove::Expand, &mut out);
        assert_eq!((r.stretched, r.silence), (0, 0));
        assert_eq!(out, noise);
        out.clear();
        s.process(&noise, LevelMove::Hold, &mut out);
        assert_eq!(out, noise);
        let silence = vec![0.0f32; 2000];
        out.clear();
        let r = s.process(&silence, LevelMove::Accelerate, &mut out);
        assert_eq!((r.silence, out.len()), (-500, 1000));
        assert_eq!(r.stretched, 0);
    }

    #[test]
    fn the_budget_caps_stretching_at_two_percent() {
        let mut s = TimeStretcher::new(48_000, 2);
        let block = tone(200.0, 1440, 48_000.0);
        let (mut total, mut frames) = (0isize, 0usize);
        for _ in 0..2000 {
            let mut out = Vec::new();
            total += s.process(&block, LevelMove::Expand, &mut out).stretched;
            frames += 1440;
        }
        let share = total as f64 / frames as f64;
        assert!(share > 0.015 && share <= MAX_SHARE, "{share}");
    }
}
