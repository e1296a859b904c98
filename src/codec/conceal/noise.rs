//! Comfort noise at the stream's background level, for losses longer than the fade.
//!
//! The level is a minimum-statistics estimate: the quietest packet's RMS, allowed to rise
//! slowly so a louder background is followed within seconds. Speech with digital silence
//! between words has a floor of zero, and its long losses play silence; a noisy line keeps its
//! hiss instead of dropping into a hole. [`WhiteNoise`] is the one noise source of the crate
//! (RFC 3389 comfort noise shapes it too); it is a seeded ChaCha stream, so runs repeat exactly.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How fast the floor may rise, per second of audio (×1.5 ≈ +3.5 dB/s).
const RISE_PER_SECOND: f32 = 0.5;
/// A floor below this (−70 dBFS RMS) is treated as silence.
const SILENT_RMS: f32 = 3e-4;
/// A floor above −40 dBFS RMS is the programme itself (music without pauses), not a
/// background: white noise at its level was a hiss burst, and measured worse than silence
/// (benches/conceal_quality.py, music), so such a stream fades to silence.
const MAX_RMS: f32 = 0.01;

/// Seeded uniform white noise at a chosen RMS.
#[derive(Debug, Clone)]
pub struct WhiteNoise {
    rng: ChaCha8Rng,
}

impl WhiteNoise {
    /// A noise stream that repeats for the same `seed`.
    pub fn new(seed: u64) -> Self {
        WhiteNoise {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The next sample at `level` RMS.
    pub fn sample(&mut self, level: f32) -> f32 {
        if level == 0.0 {
            return 0.0;
        }
        let uniform = self.rng.random::<f32>() * 2.0 - 1.0;
        // A uniform variable on [-1, 1] has an RMS of 1/√3.
        uniform * level * 3f32.sqrt()
    }
}

/// The background level of real audio, and white noise at it.
#[derive(Debug, Clone)]
pub(super) struct ComfortNoise {
    rate: f32,
    floor: Option<f32>,
    noise: WhiteNoise,
}

impl ComfortNoise {
    pub(super) fn new(rate: u32) -> Self {
        ComfortNoise {
            rate: rate.max(1) as f32,
            floor: None,
            noise: WhiteNoise::new(0x2545_f491),
        }
    }

    /// Learns from one block of real audio (interleaved; `frames` frames).
    pub(super) fn observe(&mut self, samples: &[f32], frames: usize) {
        if samples.is_empty() || frames == 0 {
            return;
        }
        let rms = (sum_of_squares(samples) / samples.len() as f32).sqrt();
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
        self.noise.sample(level)
    }
}

/// The sum of the squares of `samples`, in eight running sums that the compiler can keep in
/// one vector register: a single running sum is a chain of dependent additions, and this runs
/// on every decoded sample.
fn sum_of_squares(samples: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = samples.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, s) in lanes.iter_mut().zip(chunk) {
            *lane += s * s;
        }
    }
    lanes.iter().sum::<f32>() + rest.iter().map(|s| s * s).sum::<f32>()
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_lane_sums_agree_with_one_running_sum() {
        for len in [0, 1, 7, 8, 9, 480, 1_001] {
            let samples: Vec<f32> = (0..len)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 64.0)
                .collect();
            let one: f32 = samples.iter().map(|s| s * s).sum();
            let lanes = super::sum_of_squares(&samples);
            assert!(
                (lanes - one).abs() <= one.abs() * 1e-5 + 1e-6,
                "{len}: {lanes} vs {one}"
            );
        }
    }
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
