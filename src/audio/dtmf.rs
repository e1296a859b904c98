//! DTMF dual tones: the keypad's frequency pairs and the level a telephone event's volume means.
//!
//! Levels follow G.711's convention that a full-scale sine is +3.14 dBm0, so 0 dBm0 is a sine
//! 3.14 dB below full scale (−3.14 dBFS). An event's volume is the power of the *pair*, split
//! equally between its two tones (each 3.01 dB below the total).

/// Full-scale sine level in dBm0 (ITU-T G.711).
#[allow(clippy::approx_constant)] // G.711's 3.14 dB, not π
pub const FULL_SCALE_DBM0: f64 = 3.14;

/// Low (row) frequencies in Hz.
const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
/// High (column) frequencies in Hz.
const COLUMNS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// The (low, high) frequencies of RFC 4733 event `code` if it is a DTMF key (0–15), else None.
pub fn dtmf_frequencies(code: u8) -> Option<(f64, f64)> {
    // Keypad position (row, column) of each event code: digits 0–9, then *, #, A, B, C, D.
    let (row, column) = match code {
        0 => (3, 1),
        1..=9 => ((usize::from(code) - 1) / 3, (usize::from(code) - 1) % 3),
        10 => (3, 0),
        11 => (3, 2),
        12..=15 => (usize::from(code) - 12, 3),
        _ => return None,
    };
    Some((ROWS[row], COLUMNS[column]))
}

/// Peak amplitude (full scale 1.0) of each of the two tones for a volume of `volume` −dBm0.
pub fn tone_amplitude(volume: u8) -> f64 {
    let per_tone_dbm0 = -f64::from(volume) - 10.0 * 2f64.log10();
    10f64.powf((per_tone_dbm0 - FULL_SCALE_DBM0) / 20.0)
}

/// A DTMF pair at one level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DualTone {
    /// Low and high frequency in Hz.
    pub frequencies: (f64, f64),
    /// Peak amplitude of each tone.
    pub amplitude: f64,
}

impl DualTone {
    /// The tone of event `code` at `volume`, if the code is a DTMF key.
    pub fn for_event(code: u8, volume: u8) -> Option<Self> {
        Some(DualTone {
            frequencies: dtmf_frequencies(code)?,
            amplitude: tone_amplitude(volume),
        })
    }

    /// The signal `seconds` after the tone's phase origin. Computing from the absolute time,
    /// rather than stepping an oscillator, keeps the tone phase-continuous across packets.
    pub fn at(&self, seconds: f64) -> f32 {
        let w = 2.0 * std::f64::consts::PI * seconds;
        let (lo, hi) = self.frequencies;
        (self.amplitude * ((w * lo).sin() + (w * hi).sin())) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keypad_pairs_and_levels() {
        assert_eq!(dtmf_frequencies(1), Some((697.0, 1209.0)));
        assert_eq!(dtmf_frequencies(0), Some((941.0, 1336.0)));
        assert_eq!(dtmf_frequencies(9), Some((852.0, 1477.0)));
        assert_eq!(dtmf_frequencies(10), Some((941.0, 1209.0)));
        assert_eq!(dtmf_frequencies(11), Some((941.0, 1477.0)));
        assert_eq!(dtmf_frequencies(15), Some((941.0, 1633.0)));
        assert_eq!(dtmf_frequencies(16), None);
        // Two tones of amplitude a have power a²; at 0 dBm0 that is a full-scale sine's power
        // (1/2) less 3.14 dB.
        let a = tone_amplitude(0);
        let total_db = 10.0 * (a * a / 0.5).log10();
        assert!((total_db + FULL_SCALE_DBM0).abs() < 1e-9, "{total_db}");
        assert!((tone_amplitude(20) / a - 0.1).abs() < 1e-12);
    }
}
