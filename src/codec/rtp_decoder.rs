//! Container-less RTP payload decoding to interleaved f32: L16, L24, PCMU, PCMA and MPEG audio
//! with symphonia, Opus with libopus (behind [`OpusDecoder`](crate::codec::opus::OpusDecoder)).

use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_MP1, CODEC_ID_MP2, CODEC_ID_MP3, CODEC_ID_PCM_ALAW, CODEC_ID_PCM_MULAW,
    CODEC_ID_PCM_S16BE, CODEC_ID_PCM_S24BE,
};
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::packet::PacketRef;
use symphonia::core::units::{Duration, Timestamp};
use symphonia::default::codecs::MpaDecoder;

pub use super::error::CodecError;
use crate::codec::opus::{LibOpus, LossFill, OpusStream};
use crate::rtp::mpa::{parse_header, MpaDepacketizer, MpaHeader, MpegLayer};
use crate::rtp::payload::PayloadFormat;

use super::error::symphonia_reason as reason;
use super::pcm_chunks::PcmChunks;

/// Maps a symphonia error met while decoding.
fn decode_error(e: SymphoniaError) -> CodecError {
    CodecError::Decode(reason(e))
}

/// Decodes RTP payloads of one format into interleaved f32 samples.
///
/// Sans-IO and allocation-free in steady state (the output `Vec` is the caller's and is reused).
pub struct RtpDecoder {
    format: PayloadFormat,
    inner: Inner,
}

enum Inner {
    Pcm(PcmChunks),
    /// Boxed: symphonia's MPEG audio decoder state is large, and built once per stream.
    Mpa(Box<MpaStream>),
    /// Opus: a stateful decoder that conceals its own losses.
    Opus(OpusStream),
}

impl std::fmt::Debug for RtpDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtpDecoder")
            .field("format", &self.format)
            .field("rate", &self.rate())
            .field("channels", &self.channels())
            .finish()
    }
}

impl RtpDecoder {
    /// Builds the symphonia decoder(s) for `format`; fails for formats that carry no audio.
    pub fn new(format: &PayloadFormat) -> Result<Self, CodecError> {
        let inner = match *format {
            PayloadFormat::L16 { .. } => Inner::Pcm(PcmChunks::new(format, CODEC_ID_PCM_S16BE)?),
            PayloadFormat::L24 { .. } => Inner::Pcm(PcmChunks::new(format, CODEC_ID_PCM_S24BE)?),
            PayloadFormat::Pcmu => Inner::Pcm(PcmChunks::new(format, CODEC_ID_PCM_MULAW)?),
            PayloadFormat::Pcma => Inner::Pcm(PcmChunks::new(format, CODEC_ID_PCM_ALAW)?),
            PayloadFormat::Mpa => Inner::Mpa(Box::default()),
            PayloadFormat::Opus => Inner::Opus(OpusStream::new(Box::new(LibOpus::new(2)?))),
            PayloadFormat::ComfortNoise { .. } | PayloadFormat::TelephoneEvent { .. } => {
                return Err(CodecError::NotAudio(*format))
            }
        };
        Ok(RtpDecoder {
            format: *format,
            inner,
        })
    }

    /// The payload format this decoder was built for.
    pub fn format(&self) -> PayloadFormat {
        self.format
    }

    /// Output sample rate in Hz; for MPEG audio, that of the last decoded frame (`None` before the first).
    pub fn rate(&self) -> Option<u32> {
        match &self.inner {
            Inner::Pcm(_) | Inner::Opus(_) => self.format.sample_rate(),
            Inner::Mpa(m) => m.current.as_ref().map(|c| c.header.sample_rate),
        }
    }

    /// Output channel count; for MPEG audio, that of the last decoded frame (`None` before the first).
    pub fn channels(&self) -> Option<u16> {
        match &self.inner {
            Inner::Pcm(_) => self.format.channels(),
            Inner::Opus(o) => u16::try_from(o.channels()).ok(),
            Inner::Mpa(m) => m.current.as_ref().map(|c| c.header.channels),
        }
    }

    /// Decodes one payload and appends its samples, interleaved, to `out`; returns the sample frames appended.
    ///
    /// On error `out` is left as it was. For MPEG audio a payload may complete no frame (a
    /// fragment: `Ok(0)`); a frame that fails to decode inside a payload that also holds good
    /// frames is replaced by silence of its exact length (counted in [`Self::frame_errors`]) so
    /// the timeline holds. MPEG audio output may change rate or channels between payloads when
    /// the sender's stream does: compare [`Self::rate`]/[`Self::channels`] after each call.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<f32>) -> Result<usize, CodecError> {
        match &mut self.inner {
            Inner::Pcm(pcm) => pcm.decode(payload, out),
            Inner::Mpa(mpa) => mpa.decode(payload, out),
            Inner::Opus(opus) => opus.decode(payload, out),
        }
    }

    /// Whether the codec fills losses itself ([`Self::fill_loss`]: Opus in-band FEC or PLC)
    /// rather than leaving them to the generic concealer.
    pub fn fills_losses(&self) -> bool {
        matches!(self.inner, Inner::Opus(_))
    }

    /// Appends exactly `frames` frames standing in for a lost packet, from `next` (the payload
    /// of the packet right after the loss, if it is here) when it carries usable in-band FEC,
    /// else by the codec's concealment. `None` for codecs that do not fill losses.
    pub fn fill_loss(
        &mut self,
        frames: usize,
        next: Option<&[u8]>,
        out: &mut Vec<f32>,
    ) -> Option<Result<LossFill, CodecError>> {
        match &mut self.inner {
            Inner::Opus(opus) => Some(opus.fill_loss(frames, next, out)),
            _ => None,
        }
    }

    /// Whether decoding keeps no state between payloads (PCM): a payload can then be decoded
    /// ahead of its turn, as concealment does to join the next packet smoothly.
    pub fn is_stateless(&self) -> bool {
        matches!(self.inner, Inner::Pcm(_))
    }

    /// Tells the decoder a packet was lost, so a fragmented MPEG audio frame is abandoned.
    pub fn note_loss(&mut self) {
        if let Inner::Mpa(m) = &mut self.inner {
            m.depacketizer.lost();
        }
    }

    /// Forgets all stream state, for a sender restart.
    pub fn reset(&mut self) {
        match &mut self.inner {
            Inner::Mpa(m) => {
                m.depacketizer.reset();
                if let Some(c) = &mut m.current {
                    c.decoder.reset();
                }
            }
            Inner::Opus(o) => o.reset(),
            Inner::Pcm(_) => {}
        }
    }

    /// MPEG audio frames abandoned because a fragment was lost or inconsistent.
    pub fn dropped_fragments(&self) -> u64 {
        match &self.inner {
            Inner::Mpa(m) => m.depacketizer.dropped_fragments(),
            Inner::Pcm(_) | Inner::Opus(_) => 0,
        }
    }

    /// MPEG audio frames that failed to decode (silence stands in for them when good frames shared their payload).
    pub fn frame_errors(&self) -> u64 {
        match &self.inner {
            Inner::Mpa(m) => m.frame_errors,
            Inner::Pcm(_) | Inner::Opus(_) => 0,
        }
    }
}

/// MPEG audio: RFC 2250 depacketizing, then one symphonia decoder per layer/rate/channels.
#[derive(Default)]
struct MpaStream {
    depacketizer: MpaDepacketizer,
    /// The decoder for the stream's current parameters, built from its first frame.
    current: Option<MpaCodec>,
    frame_errors: u64,
}

struct MpaCodec {
    decoder: MpaDecoder,
    header: MpaHeader,
}

impl MpaCodec {
    fn new(header: MpaHeader) -> Result<Self, CodecError> {
        let codec = match header.layer {
            MpegLayer::Layer1 => CODEC_ID_MP1,
            MpegLayer::Layer2 => CODEC_ID_MP2,
            MpegLayer::Layer3 => CODEC_ID_MP3,
        };
        let mut params = AudioCodecParameters::new();
        params.for_codec(codec);
        let decoder =
            MpaDecoder::try_new(&params, &AudioDecoderOptions::default()).map_err(|e| {
                CodecError::Unsupported {
                    format: PayloadFormat::Mpa,
                    reason: reason(e),
                }
            })?;
        Ok(MpaCodec { decoder, header })
    }

    /// Whether this decoder can take a frame with `header` (symphonia fixes its spec at the first frame).
    fn accepts(&self, header: &MpaHeader) -> bool {
        self.header.layer == header.layer
            && self.header.sample_rate == header.sample_rate
            && self.header.channels == header.channels
    }
}

impl MpaStream {
    fn decode(&mut self, payload: &[u8], out: &mut Vec<f32>) -> Result<usize, CodecError> {
        let MpaStream {
            depacketizer,
            current,
            frame_errors,
        } = self;
        let start = out.len();
        let (mut good, mut frames, mut first_error) = (0usize, 0usize, None);
        for frame in depacketizer.push(payload)? {
            // The depacketizer only yields frames whose header parsed; stay defensive anyway.
            let Ok(header) = parse_header(frame) else {
                first_error.get_or_insert(CodecError::Decode("unparsable MPEG audio frame"));
                continue;
            };
            if !current.as_ref().is_some_and(|c| c.accepts(&header)) {
                // A new layer, rate or channel layout: the sender changed streams. Rare, so
                // building a decoder (which allocates) is fine here.
                *current = match MpaCodec::new(header) {
                    Ok(codec) => Some(codec),
                    Err(e) => {
                        first_error.get_or_insert(e);
                        None
                    }
                };
            }
            let at = out.len();
            let len = header.samples_per_frame * usize::from(header.channels);
            out.resize(at + len, 0.0);
            let decoded = match current.as_mut() {
                Some(codec) => {
                    codec.header = header;
                    let packet = PacketRef::new(0, Timestamp::ZERO, Duration::ZERO, frame);
                    codec
                        .decoder
                        .decode_ref(&packet)
                        .map_err(decode_error)
                        .and_then(|d| {
                            if d.samples_interleaved() == len {
                                d.copy_to_slice_interleaved(&mut out[at..]);
                                Ok(())
                            } else {
                                Err(CodecError::Decode("frame decoded to an unexpected length"))
                            }
                        })
                }
                None => Err(CodecError::Decode("no decoder for this MPEG audio frame")),
            };
            match decoded {
                Ok(()) => good += 1,
                Err(e) => {
                    // Keep the silence written by `resize`: the frame's time still passes.
                    *frame_errors += 1;
                    first_error.get_or_insert(e);
                }
            }
            frames += header.samples_per_frame;
        }
        match first_error {
            Some(e) if good == 0 => {
                out.truncate(start);
                Err(e)
            }
            _ => Ok(frames),
        }
    }
}

#[cfg(test)]
#[path = "rtp_decoder_tests.rs"]
mod tests;
