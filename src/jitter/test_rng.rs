//! Seeded randomness for deterministic tests: a thin, reproducible wrapper over ChaCha8.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A reproducible generator with the two draws the tests use.
#[derive(Debug, Clone)]
pub(crate) struct TestRng(ChaCha8Rng);

impl TestRng {
    /// A generator started from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self(ChaCha8Rng::seed_from_u64(seed))
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0.random()
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    /// Uniform in `[0, n)` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.0.random_range(0..n)
        }
    }
}
