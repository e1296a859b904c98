//! The decoder of a file's audio track: symphonia's for every codec it has, libopus (through
//! [`LibOpus`]) for Ogg Opus, which symphonia demuxes but cannot decode.
//!
//! Ogg Opus (RFC 7845) asks the player to drop the first `pre_skip` samples (the encoder's
//! delay, which symphonia's Ogg reader counts in the packets' timestamps) and to apply the
//! header's output gain; the last page's granule position trims the end, which the reader hands
//! over as each packet's `trim_end`.

use symphonia::core::codecs::audio::well_known::CODEC_ID_OPUS;
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::packet::Packet;

use super::opus::{LibOpus, OpusDecoder};
use super::pcm_spec::PcmSpec;
use crate::rtp::opus_toc::OPUS_RATE;

/// A track's decoder.
pub(crate) enum TrackDecoder {
    /// Anything symphonia decodes.
    Symphonia(Box<dyn AudioDecoder>),
    /// Ogg Opus.
    Opus(Box<OpusTrack>),
}

/// Ogg Opus decoding with the pre-skip and output gain of its `OpusHead`.
pub(crate) struct OpusTrack {
    decoder: LibOpus,
    channels: usize,
    /// Frames still to drop from the start (the header's pre-skip).
    skip: usize,
    /// The header's output gain as a factor.
    gain: f32,
    decoded: Vec<f32>,
}

impl TrackDecoder {
    /// The decoder for a track with `params`.
    pub(crate) fn new(params: &AudioCodecParameters) -> Result<Self, SymphoniaError> {
        if params.codec != CODEC_ID_OPUS {
            return symphonia::default::get_codecs()
                .make_audio_decoder(params, &AudioDecoderOptions::default())
                .map(TrackDecoder::Symphonia);
        }
        // The Ogg reader hands over the whole OpusHead as extra data (RFC 7845 §5.1).
        let head = params.extra_data.as_deref().unwrap_or_default();
        let (Some(&channels), Some(pre_skip), Some(gain_q8)) = (
            head.get(9),
            head.get(10..12).map(|b| u16::from_le_bytes([b[0], b[1]])),
            head.get(16..18).map(|b| i16::from_le_bytes([b[0], b[1]])),
        ) else {
            return Err(SymphoniaError::DecodeError("Opus header too short"));
        };
        if !(1..=2).contains(&channels) || head.get(18).is_some_and(|&family| family != 0) {
            return Err(SymphoniaError::Unsupported(
                "Ogg Opus with more than two channels (multistream) is not supported",
            ));
        }
        let decoder = LibOpus::new(u16::from(channels))
            .map_err(|_| SymphoniaError::Unsupported("libopus refused the Opus stream"))?;
        Ok(TrackDecoder::Opus(Box::new(OpusTrack {
            decoder,
            channels: usize::from(channels),
            skip: usize::from(pre_skip),
            // Q7.8 dB (RFC 7845 §5.1).
            gain: 10f32.powf(f32::from(gain_q8) / (20.0 * 256.0)),
            decoded: Vec::with_capacity(5760 * 2),
        })))
    }

    /// Decodes `packet` into `out` (replacing it); the format of what came out, `None` for
    /// none (a packet wholly inside the pre-skip).
    pub(crate) fn decode(
        &mut self,
        packet: &Packet,
        out: &mut Vec<f32>,
    ) -> Result<Option<PcmSpec>, SymphoniaError> {
        match self {
            TrackDecoder::Symphonia(d) => {
                let decoded = d.decode(packet)?;
                if decoded.frames() == 0 {
                    return Ok(None);
                }
                let format = PcmSpec {
                    rate: decoded.spec().rate(),
                    channels: decoded.spec().channels().count(),
                };
                decoded.copy_to_vec_interleaved(out);
                Ok(Some(format))
            }
            TrackDecoder::Opus(t) => t.decode(packet, out),
        }
    }
}

impl OpusTrack {
    fn decode(
        &mut self,
        packet: &Packet,
        out: &mut Vec<f32>,
    ) -> Result<Option<PcmSpec>, SymphoniaError> {
        self.decoded.clear();
        let frames = self
            .decoder
            .decode(&packet.data, &mut self.decoded)
            .map_err(|_| SymphoniaError::DecodeError("corrupt Opus packet"))?;
        let head = self.skip.min(frames);
        self.skip -= head;
        let tail = usize::try_from(packet.trim_end.get()).unwrap_or(usize::MAX);
        let keep = frames.saturating_sub(head).saturating_sub(tail);
        out.clear();
        let from = head * self.channels;
        out.extend(
            self.decoded[from..from + keep * self.channels]
                .iter()
                .map(|s| s * self.gain),
        );
        Ok((keep > 0).then_some(PcmSpec {
            rate: OPUS_RATE,
            channels: self.channels,
        }))
    }
}
