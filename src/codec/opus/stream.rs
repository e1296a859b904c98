//! One RTP Opus stream's decoding: packets through an [`OpusDecoder`], and for each loss the
//! choice between the next packet's in-band FEC and packet loss concealment.

use super::{LossFill, OpusDecoder};
use crate::codec::error::CodecError;
use crate::rtp::opus_toc::{self, OpusMode};

/// An Opus stream's decoder and what it needs to remember to choose FEC.
pub struct OpusStream {
    decoder: Box<dyn OpusDecoder>,
    /// Mode of the last packet decoded: after CELT audio the decoder cannot join SILK FEC data
    /// (libopus then conceals instead), so FEC is not attempted.
    last_mode: Option<OpusMode>,
}

impl OpusStream {
    /// A stream decoded by `decoder`.
    pub fn new(decoder: Box<dyn OpusDecoder>) -> Self {
        OpusStream {
            decoder,
            last_mode: None,
        }
    }

    /// Output channels.
    pub fn channels(&self) -> usize {
        self.decoder.channels()
    }

    /// Decodes one payload, appending its frames to `out`.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<f32>) -> Result<usize, CodecError> {
        // Checking the framing first keeps garbage away from the C decoder.
        let info = opus_toc::parse(payload).map_err(|e| {
            CodecError::Decode(match e {
                opus_toc::OpusPacketError::Empty => "empty Opus payload",
                opus_toc::OpusPacketError::Framing => "malformed Opus packet framing",
                opus_toc::OpusPacketError::TooLong => "Opus packet longer than 120 ms",
            })
        })?;
        let n = self.decoder.decode(payload, out)?;
        self.last_mode = Some(info.mode);
        Ok(n)
    }

    /// Fills `frames` lost frames: from `next` (the packet right after the loss, if it is
    /// here) when it carries FEC the decoder can use, otherwise by concealment.
    pub fn fill_loss(
        &mut self,
        frames: usize,
        next: Option<&[u8]>,
        out: &mut Vec<f32>,
    ) -> Result<LossFill, CodecError> {
        let fec = next.filter(|n| {
            opus_toc::parse(n).is_ok_and(|info| {
                info.has_fec
                    && frames >= info.samples_per_frame
                    && self.last_mode.is_some_and(|m| m != OpusMode::Celt)
            })
        });
        match fec {
            Some(next) => {
                self.decoder.decode_fec(next, frames, out)?;
                Ok(LossFill::Fec)
            }
            None => {
                self.decoder.conceal(frames, out)?;
                Ok(LossFill::Plc)
            }
        }
    }

    /// Forgets all stream state, for a sender restart.
    pub fn reset(&mut self) {
        self.decoder.reset();
        self.last_mode = None;
    }
}
