//! MPEG audio (layers I–III) frame headers: enough to find, size and time whole frames.

use super::MpaError;

/// The MPEG audio version named by a frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MpegVersion {
    /// MPEG-1 (32, 44.1, 48 kHz).
    Mpeg1,
    /// MPEG-2 low sample rate extension (16, 22.05, 24 kHz).
    Mpeg2,
    /// The unofficial MPEG-2.5 extension (8, 11.025, 12 kHz), Layer III only.
    Mpeg25,
}

/// The MPEG audio layer named by a frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MpegLayer {
    /// Layer I (384 samples per frame).
    Layer1,
    /// Layer II, "MP2" (1152 samples per frame).
    Layer2,
    /// Layer III, "MP3" (1152 samples per frame for MPEG-1, 576 otherwise).
    Layer3,
}

/// The fields of a 4-byte MPEG audio frame header that framing and decoding depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MpaHeader {
    /// MPEG version.
    pub version: MpegVersion,
    /// Layer.
    pub layer: MpegLayer,
    /// Bit rate in bits per second.
    pub bitrate: u32,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// 1 for single-channel mode, 2 otherwise.
    pub channels: u16,
    /// Whether the frame carries one padding slot.
    pub padding: bool,
    /// Whether a 16-bit CRC follows the header.
    pub has_crc: bool,
    /// Length of the whole frame in bytes, header included.
    pub frame_len: usize,
    /// Audio samples per channel the frame decodes to.
    pub samples_per_frame: usize,
}

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 4;

/// The largest frame any accepted header can describe (MPEG-1 Layer II, 384 kbit/s at 32 kHz,
/// padded), so reassembly buffers of this size never grow.
pub const MAX_FRAME_LEN: usize = 1729;

/// Bit rates in kbit/s by bitrate index 1..=14: MPEG-1 layers I, II, III, then MPEG-2/2.5 layer I,
/// and MPEG-2/2.5 layers II and III (ISO 11172-3 and 13818-3).
const BITRATES_KBPS: [[u16; 14]; 5] = [
    [
        32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
    ],
    [
        32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
    ],
    [
        32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ],
    [
        32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
    ],
    [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
];

/// Sample rates by sample-rate index 0..=2 for MPEG-1, MPEG-2 and MPEG-2.5.
const SAMPLE_RATES: [[u32; 3]; 3] = [
    [44_100, 48_000, 32_000],
    [22_050, 24_000, 16_000],
    [11_025, 12_000, 8_000],
];

/// Parses the frame header at the start of `bytes`.
///
/// Free-format streams (bitrate index 0) are rejected: their frame length cannot be read from
/// the header, and symphonia does not decode them either.
pub fn parse_header(bytes: &[u8]) -> Result<MpaHeader, MpaError> {
    let Some(&[b0, b1, b2, b3]) = bytes.get(..HEADER_LEN) else {
        return Err(MpaError::BadHeader("fewer than 4 bytes"));
    };
    if b0 != 0xFF || b1 & 0xE0 != 0xE0 {
        return Err(MpaError::BadHeader("no frame sync"));
    }
    let version = match (b1 >> 3) & 0b11 {
        0b00 => MpegVersion::Mpeg25,
        0b10 => MpegVersion::Mpeg2,
        0b11 => MpegVersion::Mpeg1,
        _ => return Err(MpaError::BadHeader("reserved MPEG version")),
    };
    let layer = match (b1 >> 1) & 0b11 {
        0b01 => MpegLayer::Layer3,
        0b10 => MpegLayer::Layer2,
        0b11 => MpegLayer::Layer1,
        _ => return Err(MpaError::BadHeader("reserved layer")),
    };
    if version == MpegVersion::Mpeg25 && layer != MpegLayer::Layer3 {
        return Err(MpaError::BadHeader("MPEG-2.5 defines only Layer III"));
    }
    let has_crc = b1 & 1 == 0;
    let bitrate_index = usize::from(b2 >> 4);
    let rate_index = usize::from((b2 >> 2) & 0b11);
    let padding = (b2 >> 1) & 1 == 1;
    let channels = if b3 >> 6 == 0b11 { 1 } else { 2 };

    let table = match (version, layer) {
        (MpegVersion::Mpeg1, MpegLayer::Layer1) => 0,
        (MpegVersion::Mpeg1, MpegLayer::Layer2) => 1,
        (MpegVersion::Mpeg1, MpegLayer::Layer3) => 2,
        (_, MpegLayer::Layer1) => 3,
        _ => 4,
    };
    let bitrate = match bitrate_index {
        0 => return Err(MpaError::BadHeader("free-format bit rate is not supported")),
        15 => return Err(MpaError::BadHeader("invalid bit rate index")),
        i => u32::from(BITRATES_KBPS[table][i - 1]) * 1000,
    };
    let version_row = match version {
        MpegVersion::Mpeg1 => 0,
        MpegVersion::Mpeg2 => 1,
        MpegVersion::Mpeg25 => 2,
    };
    let sample_rate = match SAMPLE_RATES[version_row].get(rate_index) {
        Some(&rate) => rate,
        None => return Err(MpaError::BadHeader("reserved sample rate")),
    };

    let pad = u32::from(padding);
    let (frame_len, samples_per_frame) = match (layer, version) {
        // Layer I counts in 4-byte slots.
        (MpegLayer::Layer1, _) => ((12 * bitrate / sample_rate + pad) * 4, 384),
        (MpegLayer::Layer2, _) => (144 * bitrate / sample_rate + pad, 1152),
        (MpegLayer::Layer3, MpegVersion::Mpeg1) => (144 * bitrate / sample_rate + pad, 1152),
        // The low-sample-rate Layer III frame holds one granule, half as many samples.
        (MpegLayer::Layer3, _) => (72 * bitrate / sample_rate + pad, 576),
    };
    let frame_len = frame_len as usize;
    debug_assert!(frame_len <= MAX_FRAME_LEN && frame_len > HEADER_LEN);
    Ok(MpaHeader {
        version,
        layer,
        bitrate,
        sample_rate,
        channels,
        padding,
        has_crc,
        frame_len,
        samples_per_frame,
    })
}

impl MpaHeader {
    /// Whether `frame` (a whole Layer III frame starting with this header) is a Xing/Info/VBRI
    /// metadata frame that encoders put first: it decodes to silence and carries no audio.
    pub fn is_metadata_frame(&self, frame: &[u8]) -> bool {
        if self.layer != MpegLayer::Layer3 {
            return false;
        }
        let side_info = match (self.version, self.channels) {
            (MpegVersion::Mpeg1, 1) => 17,
            (MpegVersion::Mpeg1, _) => 32,
            (_, 1) => 9,
            _ => 17,
        };
        let crc = if self.has_crc { 2 } else { 0 };
        let xing_at = HEADER_LEN + crc + side_info;
        let tag_at = |at: usize| frame.get(at..at + 4);
        matches!(tag_at(xing_at), Some(b"Xing" | b"Info"))
            || tag_at(HEADER_LEN + 32) == Some(b"VBRI")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a header from its fields: version bits, layer bits, bitrate index, rate index, padding, mode.
    fn header(version: u8, layer: u8, bitrate: u8, rate: u8, padding: bool, mode: u8) -> [u8; 4] {
        [
            0xFF,
            0xE0 | (version << 3) | (layer << 1) | 1,
            (bitrate << 4) | (rate << 2) | (u8::from(padding) << 1),
            mode << 6,
        ]
    }

    #[test]
    fn mpeg1_layer3_128k_44100() {
        // The most common MP3 header: FF FB 90 44.
        let h = parse_header(&[0xFF, 0xFB, 0x90, 0x44]).unwrap();
        assert_eq!(
            (h.version, h.layer),
            (MpegVersion::Mpeg1, MpegLayer::Layer3)
        );
        assert_eq!((h.bitrate, h.sample_rate, h.channels), (128_000, 44_100, 2));
        assert_eq!(
            (h.frame_len, h.samples_per_frame, h.has_crc),
            (417, 1152, false)
        );
        let padded = parse_header(&header(0b11, 0b01, 9, 0, true, 0)).unwrap();
        assert_eq!(padded.frame_len, 418);
    }

    #[test]
    fn frame_lengths_per_layer_and_version() {
        // (version, layer, bitrate idx, rate idx, padding, mode) -> (len, samples, channels)
        let cases = [
            ((0b11, 0b10, 4, 1, false, 3), (192, 1152, 1)), // MP2 64k 48 kHz mono
            ((0b11, 0b10, 14, 2, true, 0), (MAX_FRAME_LEN, 1152, 2)), // MP2 384k 32 kHz padded
            ((0b11, 0b11, 12, 1, false, 0), (384, 384, 2)), // Layer I 384k 48 kHz
            ((0b11, 0b11, 14, 2, true, 0), (676, 384, 2)),  // Layer I 448k 32 kHz padded
            ((0b10, 0b01, 8, 0, false, 3), (208, 576, 1)),  // MPEG-2 L3 64k 22.05 kHz
            ((0b00, 0b01, 14, 2, true, 1), (1441, 576, 2)), // MPEG-2.5 L3 160k 8 kHz padded
            ((0b10, 0b10, 14, 2, false, 0), (1440, 1152, 2)), // MPEG-2 L2 160k 16 kHz
        ];
        for ((v, l, b, r, p, m), (len, samples, ch)) in cases {
            let h = parse_header(&header(v, l, b, r, p, m)).unwrap();
            assert_eq!(
                (h.frame_len, h.samples_per_frame, h.channels),
                (len, samples, ch),
                "{h:?}"
            );
        }
    }

    #[test]
    fn rejects_invalid_headers() {
        let bad = [
            vec![0xFF, 0xFB, 0x90],                       // short
            vec![0xFE, 0xFB, 0x90, 0x44],                 // no sync
            header(0b01, 0b01, 9, 0, false, 0).to_vec(),  // reserved version
            header(0b11, 0b00, 9, 0, false, 0).to_vec(),  // reserved layer
            header(0b11, 0b01, 0, 0, false, 0).to_vec(),  // free format
            header(0b11, 0b01, 15, 0, false, 0).to_vec(), // bad bitrate
            header(0b11, 0b01, 9, 3, false, 0).to_vec(),  // reserved rate
            header(0b00, 0b10, 9, 0, false, 0).to_vec(),  // MPEG-2.5 Layer II
        ];
        for b in bad {
            assert!(parse_header(&b).is_err(), "{b:02x?}");
        }
    }

    #[test]
    fn every_valid_header_fits_the_reassembly_bound() {
        for b1 in 0xE0..=0xFFu8 {
            for b2 in 0..=0xFFu8 {
                if let Ok(h) = parse_header(&[0xFF, b1, b2, 0]) {
                    assert!(
                        h.frame_len <= MAX_FRAME_LEN && h.frame_len > HEADER_LEN,
                        "{h:?}"
                    );
                }
            }
        }
    }
}
