//! Pitch-period search by normalised cross-correlation, shared by time-stretch and concealment.
//!
//! Both ask the same question of a mono signal: at which lag `T` does the signal repeat
//! itself? [`PitchSearch::correlations`] answers it for every lag of a range by correlating a
//! window at the start of `x` with the window `T` later: one period long ([`Window::Period`],
//! time-stretch's view: is `x[0..T]` repeated by `x[T..2T]`?) or the longest lag long
//! ([`Window::Longest`], which a decaying resonance cannot fool: over one short period a
//! formant's ring-down correlates with itself whatever its level). Time-stretch looks at the
//! start of a block, so it passes the block as it is; concealment looks at the end of its
//! history, so it passes the history newest sample first (the correlation of two reversed
//! segments is that of the segments). Multichannel audio is searched interleaved, all channels
//! at once: a channel mix would cancel out anti-phase content.

/// Pitch lags searched by default, in seconds: 2.5–15 ms (67–400 Hz), the range of voices.
pub const VOICE_LAGS: (f64, f64) = (0.0025, 0.015);

/// One candidate period and how well the signal repeats at it (−1..=1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pitch {
    /// Period in frames.
    pub lag: usize,
    /// Normalised cross-correlation of one period with the next.
    pub correlation: f32,
}

/// Which stretch of the signal is compared with its copy one lag later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// One lag long: `x[..T]` against `x[T..2T]`.
    Period,
    /// The longest lag searched long, for every lag: `x[..max]` against `x[T..T + max]`.
    Longest,
}

/// A lag range, in frames, at one sample rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PitchSearch {
    /// Shortest lag searched (at least 2).
    pub min_lag: usize,
    /// Longest lag searched (above `min_lag`).
    pub max_lag: usize,
}

impl PitchSearch {
    /// Lags from `range.0` to `range.1` seconds at `rate` Hz.
    pub fn new(rate: u32, range: (f64, f64)) -> Self {
        let rate = f64::from(rate.max(1));
        let min_lag = ((range.0 * rate) as usize).max(2);
        let max_lag = ((range.1 * rate) as usize).max(min_lag + 1);
        PitchSearch { min_lag, max_lag }
    }

    /// Frames a signal needs for every lag to be searched: two of the longest periods.
    pub fn span(&self) -> usize {
        2 * self.max_lag
    }

    /// Every lag whose windows fit in `x` (interleaved, `channels` channels), ascending, with
    /// the normalised correlation of the window at the start of `x` and the one `lag` frames
    /// later, over all channels (0 where either is silent).
    pub fn correlations<'a>(
        &self,
        x: &'a [f32],
        channels: usize,
        window: Window,
    ) -> impl Iterator<Item = Pitch> + 'a {
        let ch = channels.max(1);
        let frames = x.len() / ch;
        let (top, fixed) = match window {
            Window::Period => (self.max_lag.min(frames / 2), None),
            Window::Longest => (
                self.max_lag.min(frames.saturating_sub(self.max_lag)),
                Some(self.max_lag),
            ),
        };
        (self.min_lag..=top).map(move |lag| {
            let w = fixed.unwrap_or(lag);
            Pitch {
                lag,
                correlation: normalised_correlation(&x[..w * ch], &x[lag * ch..(lag + w) * ch]),
            }
        })
    }

    /// The signal's fundamental period over [`Window::Longest`]: the shortest lag whose
    /// correlation is a local peak within `tolerance` (e.g. 0.95) of the best one. A periodic
    /// signal repeats as well at two or three periods as at one; the shortest is its pitch.
    /// `None` if `x` is shorter than the shortest lag plus the window.
    pub fn fundamental(&self, x: &[f32], channels: usize, tolerance: f32) -> Option<Pitch> {
        let best = self.correlations(x, channels, Window::Longest).fold(
            None::<Pitch>,
            |b, p| match b {
                Some(b) if b.correlation >= p.correlation => Some(b),
                _ => Some(p),
            },
        )?;
        if best.correlation <= 0.0 {
            return Some(best);
        }
        let bar = best.correlation * tolerance;
        let mut prev: Option<Pitch> = None;
        let mut rising = None::<Pitch>;
        for p in self.correlations(x, channels, Window::Longest) {
            // A peak: a candidate above the bar that the next lag does not beat.
            if let Some(c) = rising {
                if p.correlation <= c.correlation {
                    return Some(c);
                }
            }
            rising = (p.correlation >= bar && prev.is_none_or(|q| p.correlation >= q.correlation))
                .then_some(p);
            prev = Some(p);
        }
        Some(rising.unwrap_or(best))
    }
}

/// `Σab / sqrt(Σa² Σb²)` over equal-length slices; 0 when either is all zeros.
pub fn normalised_correlation(a: &[f32], b: &[f32]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0.0f32, 0.0f32, 0.0f32);
    for (p, q) in a.iter().zip(b) {
        ab += p * q;
        aa += p * p;
        bb += q * q;
    }
    if aa > 0.0 && bb > 0.0 {
        ab / (aa * bb).sqrt()
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A voiced-like signal: a pulse train at `period` frames through a decaying resonance,
    /// so every period has the same shape but no sample is a plain sine.
    fn voiced(period: f32, frames: usize, rate: f32) -> Vec<f32> {
        let mut phase = 0.0f32;
        let (mut y1, mut y2) = (0.0f32, 0.0f32);
        let w = std::f32::consts::TAU * 700.0 / rate;
        let (r, c) = (0.97f32, 2.0 * 0.97 * w.cos());
        (0..frames)
            .map(|_| {
                phase += 1.0;
                let pulse = if phase >= period {
                    phase -= period;
                    1.0
                } else {
                    0.0
                };
                let y = pulse + c * y1 - r * r * y2;
                y2 = y1;
                y1 = y;
                0.1 * y
            })
            .collect()
    }

    #[test]
    fn finds_the_period_of_voiced_signals_not_a_multiple() {
        let search = PitchSearch::new(16_000, VOICE_LAGS);
        for period in [45usize, 80, 100, 160, 230] {
            let x = voiced(period as f32, 2000, 16_000.0);
            let newest_first: Vec<f32> = x.iter().rev().take(search.span()).copied().collect();
            let p = search.fundamental(&newest_first, 1, 0.95);
            assert_eq!(p.map(|p| p.lag), Some(period), "period {period}");
            assert!(p.is_some_and(|p| p.correlation > 0.99));
        }
    }

    #[test]
    fn a_fractional_period_comes_out_within_a_frame() {
        let search = PitchSearch::new(48_000, VOICE_LAGS);
        let x = voiced(301.4, 4000, 48_000.0);
        let p = search.fundamental(&x[x.len() - search.span()..], 1, 0.95);
        let lag = p.map_or(0, |p| p.lag);
        assert!((300..=302).contains(&lag), "{lag}");
    }

    #[test]
    fn anti_phase_stereo_is_searched_on_both_channels() {
        let search = PitchSearch::new(16_000, VOICE_LAGS);
        let x: Vec<f32> = voiced(120.0, search.span(), 16_000.0)
            .into_iter()
            .flat_map(|s| [s, -s])
            .collect();
        let p = search.fundamental(&x, 2, 0.95);
        assert_eq!(p.map(|p| p.lag), Some(120));
    }

    #[test]
    fn noise_does_not_repeat_and_silence_or_short_input_is_handled() {
        let search = PitchSearch::new(16_000, VOICE_LAGS);
        let mut seed = 7u32;
        let noise: Vec<f32> = (0..search.span())
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect();
        let p = search.fundamental(&noise, 1, 0.95);
        assert!(p.is_some_and(|p| p.correlation < 0.4), "{p:?}");
        let silence = vec![0.0; search.span()];
        assert_eq!(
            search.fundamental(&silence, 1, 0.95).map(|p| p.correlation),
            Some(0.0)
        );
        assert_eq!(
            search.fundamental(&silence[..search.max_lag], 1, 0.95),
            None
        );
    }
}
