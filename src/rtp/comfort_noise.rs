//! RFC 3389 comfort noise payloads: parsing only.
//!
//! Byte 0 is the noise level in −dBov (0–127, top bit unused); any further bytes are quantized
//! reflection coefficients of an all-pole model of the noise, lowest order first. The RFC
//! leaves the quantizer to ITU-T G.711 Appendix II; the widely deployed decoders map byte `n`
//! to `k = (n − 127) / 128`, so that is what is read here.

use thiserror::Error;

pub use crate::audio::lattice::MAX_ORDER;

/// The noise a comfort noise packet describes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ComfortNoiseParams {
    /// Noise level in −dBov (0 dBov is the RMS of a full-scale square wave, i.e. 1.0).
    pub level_dbov: u8,
    /// Reflection coefficients `k1..kM` (only the first `order` are meaningful).
    pub reflection: [f32; MAX_ORDER],
    /// Model order M (0: white noise).
    pub order: usize,
}

impl ComfortNoiseParams {
    /// The RMS the noise plays at, on the float scale where full scale is 1.0.
    pub fn rms(&self) -> f32 {
        10f32.powf(-f32::from(self.level_dbov) / 20.0)
    }

    /// The meaningful reflection coefficients.
    pub fn coefficients(&self) -> &[f32] {
        &self.reflection[..self.order]
    }
}

/// Why a comfort noise payload cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ComfortNoiseError {
    /// No noise level byte.
    #[error("comfort noise payload is empty; it needs at least the noise level byte")]
    Empty,
}

/// Reads a comfort noise payload.
pub fn parse_comfort_noise(payload: &[u8]) -> Result<ComfortNoiseParams, ComfortNoiseError> {
    let (&level, coefficients) = payload.split_first().ok_or(ComfortNoiseError::Empty)?;
    let mut params = ComfortNoiseParams {
        level_dbov: level & 0x7f,
        reflection: [0.0; MAX_ORDER],
        order: coefficients.len().min(MAX_ORDER),
    };
    for (k, &n) in params.reflection.iter_mut().zip(coefficients) {
        *k = quantized_to_reflection(n);
    }
    Ok(params)
}

/// Byte `n` to a reflection coefficient in [−0.99, 0.99]: byte 0 would be −0.992 and byte 255
/// exactly 1.0, a pole on the unit circle, so the ends are clamped to keep the filter stable.
fn quantized_to_reflection(n: u8) -> f32 {
    ((f32::from(n) - 127.0) / 128.0).clamp(-0.99, 0.99)
}

/// The byte that encodes reflection coefficient `k` (senders and tests).
pub fn reflection_to_quantized(k: f32) -> u8 {
    (k * 128.0 + 127.0).round().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_level_and_coefficients() {
        let p = parse_comfort_noise(&[0x80 | 40, reflection_to_quantized(-0.5), 127]).unwrap();
        assert_eq!(p.level_dbov, 40, "the unused top bit is ignored");
        assert_eq!(p.coefficients(), &[-0.5, 0.0]);
        assert!((p.rms() - 0.01).abs() < 1e-6);
        assert_eq!(parse_comfort_noise(&[]), Err(ComfortNoiseError::Empty));
        let long = [30u8; 40];
        assert_eq!(parse_comfort_noise(&long).unwrap().order, MAX_ORDER);
        assert_eq!(quantized_to_reflection(255), 0.99);
    }
}
