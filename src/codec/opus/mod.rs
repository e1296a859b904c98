//! Opus: decoding behind a small trait, so the libopus binding can give way to a pure-Rust
//! decoder later without touching the receive core; and libopus encoding for `send`.

mod encoder;
mod libopus;
mod stream;

pub use encoder::{is_dtx_frame, OpusEncodeError, OpusEncodeOptions, OpusPacketEncoder};
pub use libopus::LibOpus;
pub use stream::OpusStream;

use crate::codec::error::CodecError;

/// How a lost stretch of Opus audio was filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossFill {
    /// Decoded from the next packet's in-band FEC (LBRR) data.
    Fec,
    /// Synthesised by the decoder's packet loss concealment.
    Plc,
}

/// An Opus decoder producing interleaved 48 kHz f32 audio, with the two ways Opus fills a loss.
///
/// Every method appends to `out` and leaves it as it was on error. Implementations reuse
/// their own state and allocate nothing per call once `out` has grown to a packet's size.
pub trait OpusDecoder: Send {
    /// Output channels (1 or 2).
    fn channels(&self) -> usize;

    /// Decodes one packet; returns the sample frames appended.
    fn decode(&mut self, packet: &[u8], out: &mut Vec<f32>) -> Result<usize, CodecError>;

    /// Fills `frames` lost frames from `next`'s in-band FEC data (the packet after the loss;
    /// RFC 6716 §2.1.7); the decoder conceals the part FEC does not cover.
    fn decode_fec(
        &mut self,
        next: &[u8],
        frames: usize,
        out: &mut Vec<f32>,
    ) -> Result<usize, CodecError>;

    /// Fills `frames` lost frames with packet loss concealment (fading to silence over time).
    fn conceal(&mut self, frames: usize, out: &mut Vec<f32>) -> Result<usize, CodecError>;

    /// Forgets all stream state, for a sender restart.
    fn reset(&mut self);
}

#[cfg(test)]
mod proptests;
