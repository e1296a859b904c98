//! One-sided extrapolation of a history: pitch periods looped with overlap-add, or the faded
//! back-and-forth repeat, each under its attenuation envelope.
//!
//! Pitch loop, after ITU-T G.711 Appendix I: the loop is `x[n-L..n]` (`L` = one period `T`, two
//! after 10 ms, three after 20 ms, as the history allows: several periods buzz less than one);
//! its last `T/4` frames are overlap-added with the frames just before the loop's start, so
//! each wrap continues them smoothly; the first `T/4` frames crossfade from a mirror image of
//! the last real frames, so the step out of the real audio is one the signal itself makes. The
//! level holds for `hold`, then falls linearly to zero over `fade_out`.
//!
//! The same code extends audio backwards in time when handed a history built newest-first from
//! the packet after a loss (see `expand`).

use super::history::History;
use super::pingpong::PingPong;
use crate::audio::pitch::PitchSearch;

/// Most periods looped at once.
const MAX_PERIODS: usize = 3;
/// A lag within this share of the best correlation counts as the pitch (see `fundamental`).
const PEAK_TOLERANCE: f32 = 0.95;

/// Envelope and voicing settings, in frames.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    pub hold: usize,
    pub fade_out: usize,
    pub fallback_fade: usize,
    pub fallback_span: usize,
    pub min_voicing: f32,
}

impl Shape {
    /// Frames after which every extension has faded out.
    pub fn horizon(&self) -> usize {
        (self.hold + self.fade_out).max(self.fallback_fade)
    }
}

/// How an extension was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    Pitch,
    Fade,
    Noise,
}

/// What the extension repeats.
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
    /// Nothing to repeat.
    Nothing,
}

/// The extrapolation of one history, frame by frame.
#[derive(Debug, Clone, Copy)]
pub(super) struct Extension {
    source: Source,
    run: usize,
}

impl Extension {
    /// An extension that plays nothing.
    pub fn none() -> Self {
        Extension {
            source: Source::Nothing,
            run: 0,
        }
    }

    /// Chooses how to extend `history`: its pitch if its last periods repeat well enough,
    /// else the faded repeat. `recent` is scratch space for the search.
    pub fn begin(
        history: &History,
        search: &PitchSearch,
        channels: usize,
        shape: &Shape,
        recent: &mut Vec<f32>,
    ) -> Self {
        let filled = history.filled();
        history.newest_first(search.span(), recent);
        let pitch = search.fundamental(recent, channels, PEAK_TOLERANCE);
        let source = match pitch {
            Some(p) if p.correlation >= shape.min_voicing && p.lag + p.lag / 4 + 2 <= filled => {
                Source::Pitch {
                    lag: p.lag,
                    periods: 1,
                    pos: 0,
                    overlap: (p.lag / 4).max(1),
                }
            }
            _ if filled > 0 => Source::Fade(PingPong::start(history, shape.fallback_span)),
            _ => Source::Nothing,
        };
        Extension { source, run: 0 }
    }

    /// The pitch period being looped, if any.
    pub fn period(&self) -> Option<usize> {
        match self.source {
            Source::Pitch { lag, .. } => Some(lag),
            _ => None,
        }
    }

    /// Writes the next frame, at full level, into `frame`; returns its envelope gain and how
    /// it was made (a zero gain leaves `frame` untouched and is `Noise`).
    pub fn next(&mut self, history: &History, shape: &Shape, frame: &mut [f32]) -> (f32, Method) {
        let run = self.run;
        self.run += 1;
        let (hold, len) = match self.source {
            Source::Pitch { .. } => (shape.hold, shape.fade_out),
            // The faded repeat starts fading at once, as the concealer before pitch did.
            Source::Fade(_) => (0, shape.fallback_fade),
            Source::Nothing => return (0.0, Method::Noise),
        };
        let gain = (1.0 - run.saturating_sub(hold) as f32 / len.max(1) as f32).max(0.0);
        if gain == 0.0 {
            return (0.0, Method::Noise);
        }
        match self.source {
            Source::Pitch { .. } => {
                self.pitch_frame(run, history, shape, frame);
                (gain, Method::Pitch)
            }
            Source::Fade(mut p) => {
                match p.next(history) {
                    Some(f) => frame.copy_from_slice(f),
                    None => frame.fill(0.0),
                }
                self.source = Source::Fade(p);
                (gain, Method::Fade)
            }
            Source::Nothing => (0.0, Method::Noise),
        }
    }

    /// Writes the loop's next frame into `frame` and advances the loop.
    fn pitch_frame(&mut self, run: usize, h: &History, shape: &Shape, frame: &mut [f32]) {
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
        // Loop position `pos` is the frame `len - pos` before the end of the history.
        let own = h.back(len - pos);
        let wrap_from = len - overlap;
        let start_fade = overlap.min(h.filled().saturating_sub(2));
        for (c, s) in frame.iter_mut().enumerate() {
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
            *s = v;
        }
        pos += 1;
        if pos == len {
            pos = 0;
            // More periods as the loss goes on, entering the longer loop where it plays the
            // same frame (`x[n-len]`) that the shorter one would play now.
            let want = (1 + run / shape.hold.max(1)).min(MAX_PERIODS);
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
