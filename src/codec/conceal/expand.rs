//! Pitch-based concealment for decoded PCM ("expand"), from both sides of a loss when it can.
//!
//! A loss is filled by extending the audio before it forwards ([`Extension`]: pitch periods
//! looped with overlap-add, or the faded repeat for audio without a pitch), attenuating after
//! 10 ms and reaching the comfort-noise level by 60 ms. A jitter buffer of seconds usually
//! holds the packet after the loss already: when the receive core hands it over
//! ([`Conceal::resume_with`]), that audio is extended backwards in time as well, and the loss is
//! a crossfade from the forward extension into the backward one. Each side then carries at
//! most half the gap, a 100 ms burst fades through the middle instead of buzzing at its end,
//! and the concealment ends exactly on the audio that follows it.

use super::extend::{Extension, Method, Shape};
use super::history::History;
use super::merge;
use super::noise::ComfortNoise;
use super::{frames_in, Conceal, ConcealConfig, ConcealedFrames};
use crate::audio::pitch::{PitchSearch, VOICE_LAGS};

/// The audio after the current loss, extended backwards, when it is known.
#[derive(Debug, Clone)]
struct Ahead {
    /// Frames of the loss, from its start to the resuming audio.
    gap: usize,
    /// Frame `i` is the backward extension `i + 1` frames before the resuming audio.
    frames: Vec<f32>,
    gains: Vec<f32>,
    methods: Vec<Method>,
    /// Valid entries (the rest of the gap gets nothing from this side).
    len: usize,
    active: bool,
}

/// Pitch-period replication with a faded-repeat fallback; all storage preallocated.
#[derive(Debug, Clone)]
pub struct PitchConcealer {
    channels: usize,
    history: History,
    /// The audio after the loss, newest-first, when known.
    future: History,
    search: PitchSearch,
    /// Scratch for the pitch search.
    recent: Vec<f32>,
    shape: Shape,
    fade_in: usize,
    comfort_noise: bool,
    noise: ComfortNoise,
    /// Frames concealed in the current loss (0 while real audio plays).
    run: usize,
    past: Extension,
    ahead: Ahead,
    /// One frame of each side being built.
    frame: Vec<f32>,
    back_frame: Vec<f32>,
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
        let shape = Shape {
            hold: frames_in(cfg.hold, rate),
            fade_out: frames_in(cfg.fade_out, rate),
            fallback_fade: frames_in(cfg.fallback_fade, rate),
            fallback_span: frames_in(cfg.fallback_span, rate),
            min_voicing: cfg.min_voicing,
        };
        let horizon = shape.horizon();
        PitchConcealer {
            channels,
            history: History::new(capacity, channels),
            future: History::new(capacity, channels),
            search,
            recent: Vec::with_capacity(search.span() * channels),
            shape,
            fade_in,
            comfort_noise: cfg.comfort_noise,
            noise: ComfortNoise::new(rate),
            run: 0,
            past: Extension::none(),
            ahead: Ahead {
                gap: 0,
                frames: vec![0.0; horizon * channels],
                gains: vec![0.0; horizon],
                methods: vec![Method::Noise; horizon],
                len: 0,
                active: false,
            },
            frame: vec![0.0; channels],
            back_frame: vec![0.0; channels],
            tail: vec![0.0; fade_in * channels],
            tail_used: fade_in,
            total: ConcealedFrames::default(),
        }
    }

    /// Frames concealed since creation, by method.
    pub fn concealed(&self) -> ConcealedFrames {
        self.total
    }

    /// The pitch period the current loss replicates from the audio before it, in frames
    /// (`None`: not concealing, or not pitch-based).
    pub fn current_period(&self) -> Option<usize> {
        self.past.period().filter(|_| self.run > 0)
    }

    /// Writes the next concealment frame into `self.frame`; returns how it was mostly made.
    fn next_frame(&mut self) -> Method {
        if self.run == 0 {
            self.past = Extension::begin(
                &self.history,
                &self.search,
                self.channels,
                &self.shape,
                &mut self.recent,
            );
        }
        let t = self.run;
        self.run += 1;
        let (gain, method) = self.past.next(&self.history, &self.shape, &mut self.frame);
        // Weights of the two sides: all forward without the audio after the loss, else a
        // linear crossfade across the gap.
        let a = &self.ahead;
        let (w_back, back_gain, back_method) = if a.active && t < a.gap {
            let d = a.gap - 1 - t;
            let w = (t + 1) as f32 / (a.gap + 1) as f32;
            if d < a.len {
                let ch = self.channels;
                self.back_frame
                    .copy_from_slice(&a.frames[d * ch..(d + 1) * ch]);
                (w, a.gains[d], a.methods[d])
            } else {
                (w, 0.0, Method::Noise)
            }
        } else {
            (0.0, 0.0, Method::Noise)
        };
        let fwd = (1.0 - w_back) * gain;
        let back = w_back * back_gain;
        let level = if self.comfort_noise {
            self.noise.level()
        } else {
            0.0
        };
        let rest = (1.0 - fwd - back).max(0.0);
        for (s, &b) in self.frame.iter_mut().zip(&self.back_frame) {
            let f = if fwd > 0.0 { *s } else { 0.0 };
            let b = if back > 0.0 { b } else { 0.0 };
            *s = fwd * f + back * b + rest * self.noise.sample(level);
        }
        match (fwd > 0.0, back > 0.0) {
            (false, false) => Method::Noise,
            _ if fwd >= back => method,
            _ => back_method,
        }
    }

    /// Ends the current loss: the next one starts afresh.
    fn end_loss(&mut self) {
        self.run = 0;
        self.ahead.active = false;
    }
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
            self.end_loss();
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

    fn resume_with(&mut self, gap: usize, future: &[f32]) {
        let ch = self.channels;
        if self.run > 0 || future.len() < ch || gap == 0 {
            return;
        }
        self.future.fill_reversed(future);
        let mut back = Extension::begin(
            &self.future,
            &self.search,
            ch,
            &self.shape,
            &mut self.recent,
        );
        let a = &mut self.ahead;
        a.gap = gap;
        a.len = gap.min(a.gains.len());
        for d in 0..a.len {
            let (gain, method) = back.next(&self.future, &self.shape, &mut self.back_frame);
            a.frames[d * ch..(d + 1) * ch].copy_from_slice(&self.back_frame);
            a.gains[d] = gain;
            a.methods[d] = method;
        }
        a.active = true;
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
        // A concealment built from the audio after it already ends on that audio.
        if !(self.ahead.active && self.run == self.ahead.gap) {
            merge::into_mirror(concealed, next, self.channels, self.fade_in);
        }
        self.end_loss();
        self.tail_used = self.fade_in;
    }

    fn is_concealing(&self) -> bool {
        self.run > 0
    }

    fn reset(&mut self) {
        self.history.clear();
        self.noise.reset();
        self.end_loss();
        self.tail_used = self.fade_in;
    }
}
