//! PCM payloads (L16, L24, PCMU, PCMA) decoded by symphonia without allocating, and, for 8- and
//! 16-bit PCM, symphonia's own samples reused instead of decoded again.
//!
//! symphonia turns each PCM packet into a planar buffer and back to interleaved f32: for what is
//! one sample per byte or byte pair, that round trip was a third of `simulate`'s time. Every
//! G.711 code's sample is decoded once by symphonia into a 256-entry table, and L16 is checked
//! once, over all 65,536 values, to be symphonia's `value × 2⁻¹⁵`; only then are payloads
//! converted here, giving the samples symphonia would give. If the check fails, symphonia
//! decodes every payload.

use std::sync::OnceLock;

use symphonia::core::audio::Channels;
use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_PCM_ALAW, CODEC_ID_PCM_MULAW, CODEC_ID_PCM_S16BE,
};
use symphonia::core::codecs::audio::{
    AudioCodecId, AudioCodecParameters, AudioDecoder, AudioDecoderOptions,
};
use symphonia::core::packet::PacketRef;
use symphonia::core::units::{Duration, Timestamp};
use symphonia::default::codecs::PcmDecoder;

use super::error::{symphonia_reason as reason, CodecError};
use crate::rtp::payload::PayloadFormat;

/// How a payload's samples are found without symphonia's round trip.
#[derive(Debug, Clone, Copy)]
enum Lookup {
    /// Through symphonia.
    None,
    /// One byte per sample (G.711), symphonia's sample for each code.
    Table(&'static [f32; 256]),
    /// Big-endian 16-bit samples times this scale, which symphonia was checked to use.
    S16(f32),
}

impl Lookup {
    /// The lookup for `codec`, built (once per process) from symphonia's own decoding.
    fn for_codec(codec: AudioCodecId) -> Self {
        if codec == CODEC_ID_PCM_MULAW {
            g711_table(PayloadFormat::Pcmu).map_or(Lookup::None, Lookup::Table)
        } else if codec == CODEC_ID_PCM_ALAW {
            g711_table(PayloadFormat::Pcma).map_or(Lookup::None, Lookup::Table)
        } else if codec == CODEC_ID_PCM_S16BE {
            s16_scale().map_or(Lookup::None, Lookup::S16)
        } else {
            Lookup::None
        }
    }
}

/// Every G.711 code's sample (`Pcmu` or `Pcma`), decoded once by symphonia.
pub fn g711_table(format: PayloadFormat) -> Option<&'static [f32; 256]> {
    static ULAW: OnceLock<Option<[f32; 256]>> = OnceLock::new();
    static ALAW: OnceLock<Option<[f32; 256]>> = OnceLock::new();
    let (cell, codec) = match format {
        PayloadFormat::Pcmu => (&ULAW, CODEC_ID_PCM_MULAW),
        PayloadFormat::Pcma => (&ALAW, CODEC_ID_PCM_ALAW),
        _ => return None,
    };
    cell.get_or_init(|| {
        let mut chunks = PcmChunks::symphonia_only(&format, codec).ok()?;
        let codes: Vec<u8> = (0..=255).collect();
        let mut out = Vec::with_capacity(256);
        chunks.decode(&codes, &mut out).ok()?;
        out.try_into().ok()
    })
    .as_ref()
}

/// The scale symphonia gives 16-bit samples, if every one of the 65,536 values decodes to
/// exactly `value × scale` (checked once per process).
fn s16_scale() -> Option<f32> {
    static SCALE: OnceLock<Option<f32>> = OnceLock::new();
    *SCALE.get_or_init(|| {
        const SCALE: f32 = 1.0 / 32768.0;
        let format = PayloadFormat::L16 {
            rate: 48_000,
            channels: 1,
        };
        let mut chunks = PcmChunks::symphonia_only(&format, CODEC_ID_PCM_S16BE).ok()?;
        let values = i16::MIN..=i16::MAX;
        let bytes: Vec<u8> = values.clone().flat_map(i16::to_be_bytes).collect();
        let mut out = Vec::with_capacity(65_536);
        chunks.decode(&bytes, &mut out).ok()?;
        let exact = out.len() == 65_536
            && values
                .zip(&out)
                .all(|(v, &s)| (f32::from(v) * SCALE).to_bits() == s.to_bits());
        if !exact {
            tracing::warn!("symphonia's 16-bit PCM is not value / 32768: L16 decodes through it");
        }
        exact.then_some(SCALE)
    })
}

/// Largest chunk, in sample frames, handed to one PCM decoder call (a power of two).
const MAX_CHUNK_LOG2: usize = 6;

/// PCM decoding through symphonia without allocating.
///
/// symphonia's `PcmDecoder` renders until its buffer capacity is full and learns that a packet
/// ended only from a reader error, and building that `io::Error` allocates (API-NOTES §3): any
/// packet shorter than the capacity allocates. So each decoder here only ever gets chunks that
/// fill its capacity exactly: one decoder per power of two from 1 to 64 frames, and a payload
/// is split into 64-frame chunks plus one chunk per set bit of the remainder (at most 6 more
/// calls). Every payload size, fixed or varying, then decodes without allocation.
pub(crate) struct PcmChunks {
    /// `decoders[k]` has a capacity of exactly `1 << k` frames.
    decoders: Vec<PcmDecoder>,
    bytes_per_frame: usize,
    channels: usize,
    /// symphonia's own samples, looked up instead of decoded (see [`Lookup`]).
    lookup: Lookup,
}

impl PcmChunks {
    /// Decoders for `format` as `codec`, with the fast path for 8- and 16-bit PCM when
    /// symphonia's own output allows it.
    pub(crate) fn new(format: &PayloadFormat, codec: AudioCodecId) -> Result<Self, CodecError> {
        let mut chunks = Self::symphonia_only(format, codec)?;
        chunks.lookup = Lookup::for_codec(codec);
        Ok(chunks)
    }

    /// Decoders for `format` as `codec`, every payload through symphonia.
    fn symphonia_only(format: &PayloadFormat, codec: AudioCodecId) -> Result<Self, CodecError> {
        let (Some(rate), Some(channels), Some(bytes_per_frame)) = (
            format.sample_rate(),
            format.channels(),
            format.bytes_per_frame(),
        ) else {
            return Err(CodecError::NotAudio(*format));
        };
        let decoders = (0..=MAX_CHUNK_LOG2)
            .map(|k| {
                let mut params = AudioCodecParameters::new();
                // No bits_per_sample: symphonia rejects 8 for G.711, and the codec implies it.
                params
                    .for_codec(codec)
                    .with_sample_rate(rate)
                    .with_channels(Channels::Discrete(channels))
                    .with_max_frames_per_packet(1 << k);
                PcmDecoder::try_new(&params, &AudioDecoderOptions::default()).map_err(|e| {
                    CodecError::Unsupported {
                        format: *format,
                        reason: reason(e),
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PcmChunks {
            decoders,
            bytes_per_frame,
            channels: usize::from(channels),
            lookup: Lookup::None,
        })
    }

    /// Decodes `payload` onto the end of `out`; returns the sample frames decoded.
    pub(crate) fn decode(
        &mut self,
        payload: &[u8],
        out: &mut Vec<f32>,
    ) -> Result<usize, CodecError> {
        let bpf = self.bytes_per_frame;
        if payload.len() % bpf != 0 {
            return Err(CodecError::PartialFrame {
                len: payload.len(),
                bytes_per_frame: bpf,
            });
        }
        let frames = payload.len() / bpf;
        match self.lookup {
            Lookup::Table(table) => {
                out.extend(payload.iter().map(|&b| table[usize::from(b)]));
                return Ok(frames);
            }
            Lookup::S16(scale) => {
                out.extend(
                    payload
                        .chunks_exact(2)
                        .map(|s| f32::from(i16::from_be_bytes([s[0], s[1]])) * scale),
                );
                return Ok(frames);
            }
            Lookup::None => {}
        }
        let start = out.len();
        out.resize(start + frames * self.channels, 0.0);
        let mut done = 0;
        let result = loop {
            let left = frames - done;
            if left == 0 {
                break Ok(frames);
            }
            // Whole 64-frame chunks first, then the remainder's binary digits, largest first.
            let k = if left >> MAX_CHUNK_LOG2 > 0 {
                MAX_CHUNK_LOG2
            } else {
                left.ilog2() as usize
            };
            let n = 1 << k;
            let bytes = &payload[done * bpf..(done + n) * bpf];
            let dst = &mut out[start + done * self.channels..start + (done + n) * self.channels];
            if let Err(e) = decode_into(&mut self.decoders[k], bytes, dst) {
                break Err(e);
            }
            done += n;
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }
}

/// Decodes one packet with `decoder` into `dst`, which must be exactly the decoded size.
fn decode_into(
    decoder: &mut dyn AudioDecoder,
    bytes: &[u8],
    dst: &mut [f32],
) -> Result<(), CodecError> {
    let packet = PacketRef::new(0, Timestamp::ZERO, Duration::ZERO, bytes);
    let decoded = decoder
        .decode_ref(&packet)
        .map_err(|e| CodecError::Decode(reason(e)))?;
    // copy_to_slice_interleaved panics on a size mismatch, so check first.
    if decoded.samples_interleaved() != dst.len() {
        return Err(CodecError::Decode(
            "decoded size differs from the payload's",
        ));
    }
    decoded.copy_to_slice_interleaved(dst);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lookups_give_what_symphonia_gives() {
        assert!(s16_scale().is_some(), "symphonia's L16 is value / 32768");
        let l16 = PayloadFormat::L16 {
            rate: 48_000,
            channels: 2,
        };
        let payload: Vec<u8> = (0..960u32).map(|i| (i * 37 % 251) as u8).collect();
        for (format, codec) in [
            (l16, CODEC_ID_PCM_S16BE),
            (PayloadFormat::Pcmu, CODEC_ID_PCM_MULAW),
            (PayloadFormat::Pcma, CODEC_ID_PCM_ALAW),
        ] {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            let mut chunks = PcmChunks::new(&format, codec).unwrap();
            assert!(!matches!(chunks.lookup, Lookup::None), "{format:?}");
            let frames = chunks.decode(&payload, &mut fast).unwrap();
            let slow_frames = PcmChunks::symphonia_only(&format, codec)
                .unwrap()
                .decode(&payload, &mut slow)
                .unwrap();
            assert_eq!(frames, slow_frames);
            let bits = |v: &[f32]| v.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&slow), "{format:?}");
        }
    }
}
