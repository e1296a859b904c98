//! Comfort noise at the stream's background level, for losses longer than the fade.
//!
//! The level is a minimum-statistics estimate: the quietest packet's RMS, allowed to rise
//! slowly so a louder background is followed within seconds. Speech with digital silence
//! between words has a floor of zero, and its long losses play silence; a noisy line keeps its
//! hiss instead of dropping into a hole. The generator is a fixed-seed LCG: deterministic runs.

/// How fast the floor may rise, per second of audio (×1.5 ≈ +3.5 dB/s).
const RISE_PER_SECOND: f32 = 0.5;
/// A floor below this (−70 dBFS RMS) is treated as silence.
const SILENT_RMS: f32 = 3e-4;
/// A floor above −40 dBFS RMS is the programme itself (music without pauses), not a
/// background: white noise at its level was a hiss burst, and measured worse than silence
/// (benches/conceal_quality.py, music), so such a stream fades to silence.
const MAX_RMS: f32 = 0.01;

/// The background level of real audio, and white noise at it.
#[derive(Debug, Clone)]
pub(super) struct ComfortNoise {
    rate: f32,
    floor: Option<f32>,
    seed: u32,
}

impl ComfortNoise {
    pub(super) fn new(rate: u32) -> Self {
        ComfortNoise {
            rate: rate.max(1) as f32,
            floor: None,
            seed: 0x2545_f491,
        }
    }

    /// Learns from one block of real audio (interleaved; `frames` frames).
    pub(super) fn observe(&mut self, samples: &[f32], frames: usize) {
        if samples.is_empty() || frames == 0 {
            return;
        }
        let rms = (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt();
        let risen = self.floor.map_or(rms, |f| {
            f * (1.0 + RISE_PER_SECOND * frames as f32 / self.rate)
        });
        self.floor = Some(rms.min(risen));
    }

    /// Forgets the level (a new stream).
    pub(super) fn reset(&mut self) {
        self.floor = None;
    }

    /// The RMS that noise plays at: 0 when the background is silent or unknown.
    pub(super) fn level(&self) -> f32 {
        self.floor
            .filter(|&f| (SILENT_RMS..=MAX_RMS).contains(&f))
            .unwrap_or(0.0)
    }

    /// The next noise sample at `level` RMS (uniform white noise).
    pub(super) fn sample(&mut self, level: f32) -> f32 {
        if level == 0.0 {
            return 0.0;
        }
        self.seed = self
            .seed
            .wrapping_mul(1_664_525)
            .wrapping_add(1_013_904_223);
        let uniform = (self.seed >> 8) as f32 / (1u32 << 23) as f32 - 1.0;
        // A uniform variable on [-1, 1] has an RMS of 1/√3.
        uniform * level * 3f32.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_quietest_block_and_rises_slowly() {
        let mut n = ComfortNoise::new(1000);
        assert_eq!(n.level(), 0.0, "unknown until audio is heard");
        n.observe(&[0.5; 10], 10);
        n.observe(&[0.005; 10], 10);
        n.observe(&[0.5; 10], 10);
        let level = n.level();
        assert!(level > 0.005 && level < 0.00505, "{level}");
        let rms = ((0..10_000).map(|_| n.sample(level).powi(2)).sum::<f32>() / 1e4).sqrt();
        assert!((rms / level - 1.0).abs() < 0.05, "{rms} vs {level}");
        n.observe(&[0.0; 10], 10);
        assert_eq!(n.level(), 0.0, "digital silence: no noise");
        let mut loud = ComfortNoise::new(1000);
        loud.observe(&[0.5; 10], 10);
        assert_eq!(loud.level(), 0.0, "a loud programme is not a background");
        loud.observe(&[MAX_RMS; 10], 10);
        assert_eq!(
            loud.level(),
            MAX_RMS,
            "the loudest background that still counts"
        );
        n.reset();
        assert_eq!(n.level(), 0.0);
    }
}
