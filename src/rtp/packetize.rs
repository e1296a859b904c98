//! PCM packetizers: interleaved f32 samples to L16, L24, PCMU and PCMA payloads, cut by ptime.
//!
//! Conversions are the exact inverses of symphonia's decoders (which divide by 2^15 and 2^23):
//! a sample that is a multiple of 1/32768 (1/8388608 for L24) survives f32 → payload → decode
//! bit-exactly. Out-of-range samples are clamped and NaN becomes 0.

use std::time::Duration;

use crate::audio::g711::{linear_to_alaw, linear_to_ulaw};
use crate::rtp::payload::PayloadFormat;

/// Largest payload that fits a 1500-byte Ethernet MTU: minus IPv4 (20), UDP (8) and RTP (12) headers.
pub const DEFAULT_MAX_PAYLOAD: usize = 1460;

/// Why samples could not be packetized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketizeError {
    /// The format is not PCM (MPEG audio has its own packetizer; CN and events carry no samples).
    #[error(
        "{0} cannot be packetized from samples; use the MPEG audio packetizer or a PCM format"
    )]
    NotPcm(PayloadFormat),
    /// The packet time gives less than one sample frame.
    #[error("packet time {0:?} holds no whole sample at this rate")]
    PtimeTooShort(Duration),
    /// Even one sample frame does not fit the payload limit.
    #[error("a {frame_bytes}-byte sample frame does not fit a {max_payload}-byte payload")]
    PayloadTooSmall {
        /// Bytes of one frame (all channels).
        frame_bytes: usize,
        /// The payload limit given.
        max_payload: usize,
    },
    /// The sample slice is not a whole number of frames.
    #[error("{samples} samples are not a whole number of {channels}-channel frames")]
    PartialFrame {
        /// Samples given.
        samples: usize,
        /// Channels of the format.
        channels: usize,
    },
}

/// Converts an f32 sample in [-1, 1) to 16-bit PCM: scale by 2^15, round, clamp.
pub fn f32_to_i16(sample: f32) -> i16 {
    // `as` saturates and maps NaN to 0, which is the clamp we want.
    (sample * 32_768.0).round() as i16
}

/// Converts an f32 sample in [-1, 1) to 24-bit PCM (in an i32): scale by 2^23, round, clamp.
pub fn f32_to_i24(sample: f32) -> i32 {
    const MAX: f32 = 8_388_607.0;
    // f32 represents every 24-bit integer exactly, so clamping in f32 loses nothing.
    (sample * 8_388_608.0).round().clamp(-MAX - 1.0, MAX) as i32
}

/// Appends the payload bytes for `samples` (interleaved, whole frames) in `format` to `out`.
pub fn encode_pcm(
    format: &PayloadFormat,
    samples: &[f32],
    out: &mut Vec<u8>,
) -> Result<(), PacketizeError> {
    let channels = usize::from(format.channels().unwrap_or(1));
    if format.bytes_per_frame().is_none() {
        return Err(PacketizeError::NotPcm(*format));
    }
    if samples.len() % channels != 0 {
        return Err(PacketizeError::PartialFrame {
            samples: samples.len(),
            channels,
        });
    }
    match format {
        PayloadFormat::L16 { .. } => {
            out.extend(samples.iter().flat_map(|&s| f32_to_i16(s).to_be_bytes()));
        }
        PayloadFormat::L24 { .. } => {
            out.extend(samples.iter().flat_map(|&s| {
                let [_, b0, b1, b2] = f32_to_i24(s).to_be_bytes();
                [b0, b1, b2]
            }));
        }
        PayloadFormat::Pcmu => out.extend(samples.iter().map(|&s| linear_to_ulaw(f32_to_i16(s)))),
        PayloadFormat::Pcma => out.extend(samples.iter().map(|&s| linear_to_alaw(f32_to_i16(s)))),
        _ => return Err(PacketizeError::NotPcm(*format)),
    }
    Ok(())
}

/// Cuts interleaved samples into PCM payloads of one packet time each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcmPacketizer {
    format: PayloadFormat,
    frames_per_packet: usize,
    channels: usize,
}

impl PcmPacketizer {
    /// A packetizer for `format` with packets of `ptime`, shortened if needed to fit `max_payload` bytes.
    ///
    /// L16 stereo at 48 kHz and 20 ms is 3840 bytes, more than an Ethernet MTU; with
    /// [`DEFAULT_MAX_PAYLOAD`] it is cut to 365 frames instead of relying on IP fragmentation,
    /// which loses the whole packet when any fragment is lost. See [`Self::ptime`].
    pub fn new(
        format: &PayloadFormat,
        ptime: Duration,
        max_payload: usize,
    ) -> Result<Self, PacketizeError> {
        let (Some(frame_bytes), Some(wanted)) =
            (format.bytes_per_frame(), format.frames_per_ptime(ptime))
        else {
            return Err(PacketizeError::NotPcm(*format));
        };
        if wanted == 0 {
            return Err(PacketizeError::PtimeTooShort(ptime));
        }
        let fit = max_payload / frame_bytes;
        if fit == 0 {
            return Err(PacketizeError::PayloadTooSmall {
                frame_bytes,
                max_payload,
            });
        }
        Ok(PcmPacketizer {
            format: *format,
            frames_per_packet: wanted.min(fit),
            channels: usize::from(format.channels().unwrap_or(1)),
        })
    }

    /// Sample frames per full packet, which is also the RTP timestamp step between packets.
    pub fn frames_per_packet(&self) -> usize {
        self.frames_per_packet
    }

    /// The packet time actually used (shorter than asked when the payload limit cut it).
    pub fn ptime(&self) -> Duration {
        let rate = self.format.sample_rate().unwrap_or(1);
        Duration::from_nanos(self.frames_per_packet as u64 * 1_000_000_000 / u64::from(rate))
    }

    /// The interleaved samples of each packet, in order; the last chunk may be shorter.
    pub fn chunks<'a>(&self, samples: &'a [f32]) -> std::slice::Chunks<'a, f32> {
        samples.chunks(self.frames_per_packet * self.channels)
    }

    /// Encodes one packet's samples (at most [`Self::frames_per_packet`] frames) into `out`, replacing it.
    pub fn encode(&self, samples: &[f32], out: &mut Vec<u8>) -> Result<(), PacketizeError> {
        out.clear();
        encode_pcm(&self.format, samples, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l16_and_l24_bytes() {
        let mut out = Vec::new();
        let l16 = PayloadFormat::L16 {
            rate: 48_000,
            channels: 2,
        };
        encode_pcm(&l16, &[0.5, -0.5, 1.0, -1.0, f32::NAN, 2.0], &mut out).unwrap();
        assert_eq!(
            out,
            [0x40, 0, 0xC0, 0, 0x7F, 0xFF, 0x80, 0, 0, 0, 0x7F, 0xFF]
        );
        out.clear();
        let l24 = PayloadFormat::L24 {
            rate: 48_000,
            channels: 1,
        };
        encode_pcm(&l24, &[0.5, -1.0, 1.0, -0.25], &mut out).unwrap();
        assert_eq!(out, [0x40, 0, 0, 0x80, 0, 0, 0x7F, 0xFF, 0xFF, 0xE0, 0, 0]);
    }

    #[test]
    fn g711_bytes() {
        let mut out = Vec::new();
        encode_pcm(&PayloadFormat::Pcmu, &[0.0, 1.0, -1.0], &mut out).unwrap();
        assert_eq!(out, [0xFF, 0x80, 0x00]);
        out.clear();
        encode_pcm(&PayloadFormat::Pcma, &[0.0], &mut out).unwrap();
        assert_eq!(out, [0xD5]);
    }

    #[test]
    fn rejects_what_it_cannot_packetize() {
        let stereo = PayloadFormat::L16 {
            rate: 48_000,
            channels: 2,
        };
        assert_eq!(
            encode_pcm(&stereo, &[0.0; 3], &mut Vec::new()),
            Err(PacketizeError::PartialFrame {
                samples: 3,
                channels: 2
            })
        );
        let ms = Duration::from_millis(20);
        assert!(matches!(
            PcmPacketizer::new(&PayloadFormat::Mpa, ms, 1460),
            Err(PacketizeError::NotPcm(_))
        ));
        assert!(matches!(
            PcmPacketizer::new(&stereo, Duration::from_micros(1), 1460),
            Err(PacketizeError::PtimeTooShort(_))
        ));
        assert!(matches!(
            PcmPacketizer::new(&stereo, ms, 3),
            Err(PacketizeError::PayloadTooSmall {
                frame_bytes: 4,
                max_payload: 3
            })
        ));
    }

    #[test]
    fn ptime_and_mtu() {
        let ms = |n| Duration::from_millis(n);
        let pcmu = PcmPacketizer::new(&PayloadFormat::Pcmu, ms(20), DEFAULT_MAX_PAYLOAD).unwrap();
        assert_eq!((pcmu.frames_per_packet(), pcmu.ptime()), (160, ms(20)));
        let l24 = PayloadFormat::L24 {
            rate: 48_000,
            channels: 2,
        };
        let l24 = PcmPacketizer::new(&l24, ms(5), DEFAULT_MAX_PAYLOAD).unwrap();
        assert_eq!(l24.frames_per_packet(), 240);
        let l16 = PayloadFormat::L16 {
            rate: 48_000,
            channels: 2,
        };
        let cut = PcmPacketizer::new(&l16, ms(20), DEFAULT_MAX_PAYLOAD).unwrap();
        assert_eq!(cut.frames_per_packet(), 365);
        let whole = PcmPacketizer::new(&l16, ms(20), 65_000).unwrap();
        assert_eq!(whole.frames_per_packet(), 960);
        let samples = vec![0.25f32; 2 * 1000];
        let sizes: Vec<usize> = whole.chunks(&samples).map(<[f32]>::len).collect();
        assert_eq!(sizes, [1920, 80]);
        let mut out = Vec::new();
        whole.encode(&samples[..1920], &mut out).unwrap();
        assert_eq!(out.len(), 3840);
    }
}
