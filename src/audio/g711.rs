//! G.711 encoders (mu-law and A-law) from 16-bit linear PCM; decoding is symphonia's.
//!
//! These follow the classic Sun `g711.c` reference (unrestricted use) that symphonia's
//! decoders are also adapted from, so `encode(decode(code)) == code` for every code except
//! mu-law `0x7F`, the "negative zero", which decodes to 0 like `0xFF` and re-encodes as `0xFF`.
//! A-law has no negative zero (its smallest magnitudes are ±8), so all 256 A-law codes round-trip.

/// Bias added to the mu-law magnitude so that every segment starts at a power of two.
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude mu-law can represent before the bias is added.
const ULAW_CLIP: i32 = 32_635;

/// Encodes one 16-bit linear sample as a G.711 mu-law code (PCMU).
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let value = i32::from(sample);
    let (sign, magnitude) = if value < 0 {
        (0x80, -value)
    } else {
        (0x00, value)
    };
    let biased = magnitude.min(ULAW_CLIP) + ULAW_BIAS;
    // `biased` lies in 0x84..=0x7FFF: its highest set bit (7..=14) picks the segment.
    let segment = (31 - biased.leading_zeros()) as i32 - 7;
    let mantissa = (biased >> (segment + 3)) & 0x0F;
    // mu-law transmits the one's complement of sign | segment | mantissa.
    !((sign | (segment << 4) | mantissa) as u8)
}

/// Encodes one 16-bit linear sample as a G.711 A-law code (PCMA).
pub fn linear_to_alaw(sample: i16) -> u8 {
    // A-law quantises 13-bit magnitudes; negative values are offset by one (one's complement).
    let value = i32::from(sample) >> 3;
    let (mask, magnitude) = if value >= 0 {
        (0xD5u8, value)
    } else {
        (0x55u8, -value - 1)
    };
    // Segment ends for magnitudes of 13-bit samples.
    const SEGMENT_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
    let Some(segment) = SEGMENT_END.iter().position(|&end| magnitude <= end) else {
        return 0x7F ^ mask;
    };
    let shift = if segment < 2 { 1 } else { segment };
    let code = ((segment as i32) << 4) | ((magnitude >> shift) & 0x0F);
    (code as u8) ^ mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes() {
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_ulaw(-1), 0x7F);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(linear_to_alaw(-1), 0x55);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
    }

    #[test]
    fn encoders_are_monotonic() {
        // Decoding order: the decoded value must never decrease as the input grows.
        let ulaw_rank = |c: u8| {
            let c = !c;
            let mag = i32::from(c & 0x7F);
            if c & 0x80 != 0 {
                -mag
            } else {
                mag
            }
        };
        let alaw_rank = |c: u8| {
            let c = c ^ 0x55;
            let mag = i32::from(c & 0x7F);
            if c & 0x80 != 0 {
                mag
            } else {
                -mag - 1
            }
        };
        let mut prev = (i32::MIN, i32::MIN);
        for x in i16::MIN..=i16::MAX {
            let now = (ulaw_rank(linear_to_ulaw(x)), alaw_rank(linear_to_alaw(x)));
            assert!(now.0 >= prev.0 && now.1 >= prev.1, "{x}");
            prev = now;
        }
    }
}
