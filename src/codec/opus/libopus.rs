//! [`OpusDecoder`] over libopus (the `opus` crate, linking the system's libopus).

use opus::{Channels, Decoder};

use super::OpusDecoder;
use crate::codec::error::CodecError;
use crate::rtp::opus_toc::{MAX_PACKET_SAMPLES, OPUS_RATE};

/// libopus loss calls take whole 2.5 ms steps (120 frames at 48 kHz).
const STEP: usize = 120;

/// A libopus decoder at 48 kHz.
pub struct LibOpus {
    decoder: Decoder,
    channels: usize,
}

impl std::fmt::Debug for LibOpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LibOpus")
            .field("channels", &self.channels)
            .finish()
    }
}

/// What libopus said, without allocating (its messages are static).
fn libopus_error(e: opus::Error) -> CodecError {
    CodecError::Decode(match e.code() {
        opus::ErrorCode::InvalidPacket => "corrupted Opus packet",
        opus::ErrorCode::BufferTooSmall => "Opus packet longer than 120 ms",
        opus::ErrorCode::BadArg => "invalid Opus packet or duration",
        _ => "libopus decoder failure",
    })
}

impl LibOpus {
    /// A decoder producing `channels` (1 or 2) channels at 48 kHz.
    pub fn new(channels: u16) -> Result<Self, CodecError> {
        let ch = if channels == 1 {
            Channels::Mono
        } else {
            Channels::Stereo
        };
        let decoder = Decoder::new(OPUS_RATE, ch).map_err(|_| CodecError::Unsupported {
            format: crate::rtp::payload::PayloadFormat::Opus,
            reason: "libopus refused to create a decoder",
        })?;
        Ok(LibOpus {
            decoder,
            channels: usize::from(channels.clamp(1, 2)),
        })
    }

    /// Runs one libopus call writing up to `frames` frames after `out`'s end; keeps what it wrote.
    fn run(
        &mut self,
        packet: &[u8],
        frames: usize,
        fec: bool,
        out: &mut Vec<f32>,
    ) -> Result<usize, CodecError> {
        let start = out.len();
        out.resize(start + frames * self.channels, 0.0);
        match self.decoder.decode_float(packet, &mut out[start..], fec) {
            Ok(n) => {
                out.truncate(start + n.min(frames) * self.channels);
                Ok(n.min(frames))
            }
            Err(e) => {
                out.truncate(start);
                Err(libopus_error(e))
            }
        }
    }

    /// Fills exactly `frames` frames of loss: libopus takes whole 2.5 ms steps of at most
    /// 120 ms per call, so the total is rounded up to a step and the excess cut off.
    fn fill(
        &mut self,
        next: Option<&[u8]>,
        frames: usize,
        out: &mut Vec<f32>,
    ) -> Result<usize, CodecError> {
        let start = out.len();
        let mut left = frames.div_ceil(STEP) * STEP;
        // FEC covers the end of the loss (the packet just before `next`): conceal up to it first.
        let fec_len = match next {
            Some(_) => left.min(MAX_PACKET_SAMPLES),
            None => 0,
        };
        while left > fec_len {
            let n = (left - fec_len).min(MAX_PACKET_SAMPLES);
            if let Err(e) = self.run(&[], n, false, out) {
                out.truncate(start);
                return Err(e);
            }
            left -= n;
        }
        if let Some(next) = next {
            if let Err(e) = self.run(next, fec_len, true, out) {
                out.truncate(start);
                return Err(e);
            }
        }
        // Always exactly `frames`: a short libopus answer is padded with silence.
        out.resize(start + frames * self.channels, 0.0);
        Ok(frames)
    }
}

impl OpusDecoder for LibOpus {
    fn channels(&self) -> usize {
        self.channels
    }

    fn decode(&mut self, packet: &[u8], out: &mut Vec<f32>) -> Result<usize, CodecError> {
        if packet.is_empty() {
            // libopus would take an empty packet for a loss; it is a malformed payload here.
            return Err(CodecError::Decode("empty Opus payload"));
        }
        self.run(packet, MAX_PACKET_SAMPLES, false, out)
    }

    fn decode_fec(
        &mut self,
        next: &[u8],
        frames: usize,
        out: &mut Vec<f32>,
    ) -> Result<usize, CodecError> {
        self.fill(Some(next).filter(|n| !n.is_empty()), frames, out)
    }

    fn conceal(&mut self, frames: usize, out: &mut Vec<f32>) -> Result<usize, CodecError> {
        self.fill(None, frames, out)
    }

    fn reset(&mut self) {
        // Only fails on an invalid decoder state, which `new` rules out.
        let _ = self.decoder.reset_state();
    }
}
