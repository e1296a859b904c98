//! Pitch-based concealment for decoded PCM ("expand"), after ITU-T G.711 Appendix I.
//!
//! At the start of a loss the pitch period `T` of the newest audio is searched (all channels
//! at once, [`PitchSearch::fundamental`]). If the last period resembles the one before it well
//! enough, the loss is filled by looping the newest audio with period `T`:
//! - the loop is `x[n-L..n]` (`L` = one period, two after 10 ms, three after 20 ms, as history
//!   allows: several periods buzz less than one); its last `T/4` frames are overlap-added with
//!   the frames just before the loop's start, so each wrap continues smoothly;
//! - the first `T/4` frames crossfade from a mirror image of the last played audio, so the
//!   step out of the real audio is one the signal itself makes;
//! - the level holds for 10 ms, then falls linearly to the comfort-noise level over 50 ms.
//!
//! Audio that does not repeat (music with many voices, noise) gets the faded back-and-forth
//! repeat of [`PingPong`] instead: on polyphonic music looping a "period" buzzes more than it
//! helps. After the fade comes comfort noise at the background level (silence for clean
//! audio). The end of a loss is merged into the next packet by `merge`.

use super::history::History;
use super::merge;
use super::noise::ComfortNoise;
use super::pingpong::PingPong;
use super::{frames_in, Conceal, ConcealConfig, ConcealedFrames};
use crate::audio::pitch::{PitchSearch, VOICE_LAGS};

/// Most periods looped at once.
const MAX_PERIODS: usize = 3;
/// A lag within this share of the best correlation counts as the pitch (see `fundamental`).
const PEAK_TOLERANCE: f32 = 0.95;

/// How the current loss is being filled.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// Looping `periods` periods of `lag` frames; `pos` is the position in the loop.
    Pitch {
        lag: usize,
        periods: usize,
        pos: usize,
        overlap: usize,
    },
    /// The faded back-and-forth repeat.
    Fade(PingPong),
    /// Nothing to repeat: noise or silence only.
    Nothing,
}

/// Pitch-period replication with a faded-repeat fallback; all storage preallocated.
#[derive(Debug, Clone)]
pub struct PitchConcealer {
    channels: usize,
    history: History,
    search: PitchSearch,
    /// The newest audio, newest frame first (interleaved), for the pitch search.
    recent: Vec<f32>,
    hold: usize,
    fade_out: usize,
    fallback_fade: usize,
    fallback_span: usize,
    fade_in: usize,
    min_voicing: f32,
    comfort_noise: bool,
    noise: ComfortNoise,
    /// Frames concealed in the current loss (0 while real audio plays).
    run: usize,
    source: Source,
    /// One frame of concealment being built.
    frame: Vec<f32>,
    /// The concealment's continuation, rendered when audio resumes without a merge.
    tail: Vec<f32>,
    /// Frames of `tail` already mixed in; equal to `fade_in` when no crossfade runs.
    tail_used: usize,
    total: ConcealedFrames,
}

impl PitchConcealer {
    /// A concealer for interleaved audio at `rate` Hz with `channels` channels.
    pub fn new(rate: u32, channels: u16) -> Self {
        Self::with_config(rate, channels, ConcealConfig::default())
    }

    /// A concealer with explicit settings.
    pub fn with_config(rate: u32, channels: u16, cfg: ConcealConfig) -> Self {
        let channels = usize::from(channels.max(1));
        let search = PitchSearch::new(rate, VOICE_LAGS);
        let capacity = frames_in(cfg.history, rate).max(search.span());
        let fade_in = frames_in(cfg.fade_in, rate);
        PitchConcealer {
            channels,
            history: History::new(capacity, channels),
            search,
            recent: Vec::with_capacity(search.span() * channels),
            hold: frames_in(cfg.hold, rate),
            fade_out: frames_in(cfg.fade_out, rate),
            fallback_fade: frames_in(cfg.fallback_fade, rate),
            fallback_span: frames_in(cfg.fallback_span, rate),
            fade_in,
            min_voicing: cfg.min_voicing,
            comfort_noise: cfg.comfort_noise,
            noise: ComfortNoise::new(rate),
            run: 0,
            source: Source::Nothing,
            frame: vec![0.0; channels],
            tail: vec![0.0; fade_in * channels],
            tail_used: fade_in,
            total: ConcealedFrames::default(),
        }
    }

    /// Frames concealed since creation, by method.
    pub fn concealed(&self) -> ConcealedFrames {
        self.total
    }

    /// The pitch period the current loss replicates, in frames (`None`: not pitch-based).
    pub fn current_period(&self) -> Option<usize> {
        match self.source {
            Source::Pitch { lag, .. } if self.run > 0 => Some(lag),
            _ => None,
        }
    }

    /// Chooses how to fill a loss that starts now.
    fn begin(&mut self) {
        let filled = self.history.filled();
        self.history
            .newest_first(self.search.span(), &mut self.recent);
        let pitch = self
            .search
            .fundamental(&self.recent, self.channels, PEAK_TOLERANCE);
        self.source = match pitch {
            Some(p) if p.correlation >= self.min_voicing && p.lag + p.lag / 4 + 2 <= filled => {
                Source::Pitch {
                    lag: p.lag,
                    periods: 1,
                    pos: 0,
                    overlap: (p.lag / 4).max(1),
                }
            }
            _ if filled > 0 => Source::Fade(PingPong::start(&self.history, self.fallback_span)),
            _ => Source::Nothing,
        };
    }

    /// Gain of the replicated audio at frame `run` of a loss: full for `hold`, then linear to 0.
    fn gain(&self, run: usize) -> f32 {
        let (hold, len) = match self.source {
            Source::Pitch { .. } => (self.hold, self.fade_out),
            // The faded repeat starts fading at once, as the concealer before pitch did.
            Source::Fade(_) => (0, self.fallback_fade),
            Source::Nothing => return 0.0,
        };
        let past = run.saturating_sub(hold);
        (1.0 - past as f32 / len as f32).max(0.0)
    }

    /// Writes the next concealment frame into `self.frame`; returns how it was made.
    fn next_frame(&mut self) -> Method {
        if self.run == 0 {
            self.begin();
        }
        let run = self.run;
        self.run += 1;
        let gain = self.gain(run);
        let level = if self.comfort_noise {
            self.noise.level()
        } else {
            0.0
        };
        for s in self.frame.iter_mut() {
            *s = (1.0 - gain) * self.noise.sample(level);
        }
        if gain == 0.0 {
            return Method::Noise;
        }
        match self.source {
            Source::Pitch { .. } => {
                self.add_pitch(run, gain);
                Method::Pitch
            }
            Source::Fade(mut p) => {
                if let Some(f) = p.next(&self.history) {
                    for (s, &h) in self.frame.iter_mut().zip(f) {
                        *s += gain * h;
                    }
                }
                self.source = Source::Fade(p);
                Method::Fade
            }
            Source::Nothing => Method::Noise,
        }
    }

    /// Adds `gain` times the loop's next frame to `self.frame` and advances the loop.
    fn add_pitch(&mut self, run: usize, gain: f32) {
        let Source::Pitch {
            lag,
            mut periods,
            mut pos,
            overlap,
        } = self.source
        else {
            return;
        };
        let len = lag * periods;
        let h = &self.history;
        // Loop position `pos` is the frame `len - pos` before the end of the history.
        let own = h.back(len - pos);
        let wrap_from = len - overlap;
        let start_fade = overlap.min(h.filled().saturating_sub(2));
        for (c, s) in self.frame.iter_mut().enumerate() {
            let mut v = own[c];
            if pos >= wrap_from {
                // Overlap-add towards the frames that precede the loop's start, so the wrap
                // back to `x[n-len]` continues them.
                let w = (pos - wrap_from + 1) as f32 / (overlap + 1) as f32;
                v = (1.0 - w) * v + w * h.back(2 * len - pos)[c];
            }
            if run < start_fade {
                // Out of the real audio: from its mirror image into the loop.
                let w = (run + 1) as f32 / (start_fade + 1) as f32;
                v = (1.0 - w) * h.back(run + 2)[c] + w * v;
            }
            *s += gain * v;
        }
        pos += 1;
        if pos == len {
            pos = 0;
            // More periods as the loss goes on, entering the longer loop where it plays the
            // same frame (`x[n-len]`) that the shorter one would play now.
            let want = (1 + run / self.hold).min(MAX_PERIODS);
            if want > periods && (periods + 1) * lag + overlap <= h.filled() {
                periods += 1;
                pos = lag * periods - len;
            }
        }
        self.source = Source::Pitch {
            lag,
            periods,
            pos,
            overlap,
        };
    }
}

/// Which method made a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Pitch,
    Fade,
    Noise,
}

impl Conceal for PitchConcealer {
    fn process_decoded(&mut self, samples: &mut [f32]) {
        debug_assert_eq!(samples.len() % self.channels, 0, "whole interleaved frames");
        if self.run > 0 {
            // Render what the concealment would have played next, to crossfade against.
            let ch = self.channels;
            for i in 0..self.fade_in {
                self.next_frame();
                self.tail[i * ch..(i + 1) * ch].copy_from_slice(&self.frame);
            }
            self.tail_used = 0;
            self.run = 0;
        }
        merge::fade_in(
            samples,
            &self.tail,
            self.channels,
            self.fade_in,
            &mut self.tail_used,
        );
        let frames = samples.len() / self.channels;
        self.noise.observe(samples, frames);
        self.history.push(samples);
    }

    fn conceal(
        &mut self,
        frames: usize,
        _next_payload: Option<&[u8]>,
        out: &mut Vec<f32>,
    ) -> ConcealedFrames {
        let mut done = ConcealedFrames::default();
        out.reserve(frames * self.channels);
        for _ in 0..frames {
            match self.next_frame() {
                Method::Pitch => done.pitch += 1,
                Method::Fade => done.fade += 1,
                Method::Noise => done.noise += 1,
            }
            out.extend_from_slice(&self.frame);
        }
        self.total += done;
        done
    }

    fn merge_into(&mut self, concealed: &mut [f32], next: &[f32]) {
        if self.run == 0 {
            return;
        }
        merge::into_mirror(concealed, next, self.channels, self.fade_in);
        self.run = 0;
        self.tail_used = self.fade_in;
    }

    fn is_concealing(&self) -> bool {
        self.run > 0
    }

    fn reset(&mut self) {
        self.history.clear();
        self.noise.reset();
        self.run = 0;
        self.tail_used = self.fade_in;
    }
}
