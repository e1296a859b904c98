//! An all-pole lattice synthesis filter driven by reflection coefficients (RFC 3389 comfort
//! noise spectra), with the gain that keeps its output at a chosen level.

/// Highest model order kept (G.711 Appendix II sends at most 10 coefficients; more are dropped,
/// which RFC 3389 §3 allows: "the decoder may reduce the model order").
pub const MAX_ORDER: usize = 16;

/// The synthesis filter 1/A(z) in lattice form, where A(z) is the predictor that the
/// reflection coefficients build by the step-up recursion (order 1: A(z) = 1 + k₁z⁻¹, so a
/// negative k₁ is a low-pass shape). Stable for every |k| < 1.
#[derive(Debug, Clone)]
pub struct LatticeFilter {
    k: [f32; MAX_ORDER],
    order: usize,
    /// Backward prediction errors of the previous sample, per stage.
    b: [f32; MAX_ORDER + 1],
}

impl LatticeFilter {
    /// A filter with no coefficients: it passes its input through.
    pub fn new() -> Self {
        LatticeFilter {
            k: [0.0; MAX_ORDER],
            order: 0,
            b: [0.0; MAX_ORDER + 1],
        }
    }

    /// Takes new coefficients (at most [`MAX_ORDER`]); the state carries over so the noise
    /// does not click when a new description arrives.
    pub fn set_coefficients(&mut self, k: &[f32]) {
        self.order = k.len().min(MAX_ORDER);
        self.k[..self.order].copy_from_slice(&k[..self.order]);
        self.k[self.order..].fill(0.0);
    }

    /// Output power per unit input power: 1/∏(1 − kᵢ²), the inverse of the prediction error
    /// power of the model, so input scaled by its inverse square root keeps the level.
    pub fn power_gain(&self) -> f32 {
        let residual: f32 = self.k[..self.order].iter().map(|k| 1.0 - k * k).product();
        1.0 / residual.max(1e-6)
    }

    /// Filters one sample.
    pub fn process(&mut self, x: f32) -> f32 {
        let mut f = x;
        // From the highest stage down: each reads its stage's previous backward error before
        // the stage below overwrites it with the current one.
        for i in (0..self.order).rev() {
            f -= self.k[i] * self.b[i];
            self.b[i + 1] = self.k[i] * f + self.b[i];
        }
        self.b[0] = f;
        f
    }
}

impl Default for LatticeFilter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_order_is_a_one_pole_filter() {
        let mut f = LatticeFilter::new();
        f.set_coefficients(&[-0.5]);
        // y[n] = x[n] + 0.5 y[n-1]: the impulse response halves each sample.
        let out: Vec<f32> = [1.0, 0.0, 0.0, 0.0].iter().map(|&x| f.process(x)).collect();
        assert_eq!(out, vec![1.0, 0.5, 0.25, 0.125]);
        assert!((f.power_gain() - 1.0 / 0.75).abs() < 1e-6);
    }

    #[test]
    fn second_order_matches_the_step_up_predictor() {
        // k = (0.3, -0.4): a1 = k1 + k2·k1 = 0.18, a2 = k2 = -0.4, y = x - a1 y1 - a2 y2.
        let mut f = LatticeFilter::new();
        f.set_coefficients(&[0.3, -0.4]);
        let (mut y1, mut y2) = (0.0f32, 0.0f32);
        for n in 0..20 {
            let x = if n == 0 { 1.0 } else { 0.0 };
            let want = x - 0.18 * y1 + 0.4 * y2;
            let got = f.process(x);
            assert!((got - want).abs() < 1e-6, "sample {n}: {got} vs {want}");
            (y2, y1) = (y1, want);
        }
    }
}
