//! Why a payload could not be decoded (shared by every RTP payload decoder).

use crate::rtp::mpa::MpaError;
use crate::rtp::payload::PayloadFormat;

/// Why a decoder could not be built or a payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The payload format carries no audio (comfort noise, telephone events).
    #[error("payload format {0} carries no audio to decode")]
    NotAudio(PayloadFormat),
    /// symphonia refused the codec parameters.
    #[error("cannot build a decoder for {format}: {reason}")]
    Unsupported {
        /// The payload format asked for.
        format: PayloadFormat,
        /// What symphonia said.
        reason: &'static str,
    },
    /// A PCM payload is not a whole number of sample frames (an odd byte count for L16).
    #[error("{len}-byte payload is not a whole number of {bytes_per_frame}-byte sample frames")]
    PartialFrame {
        /// Payload length in bytes.
        len: usize,
        /// Bytes per sample frame of the format.
        bytes_per_frame: usize,
    },
    /// An MPEG audio payload could not be framed.
    #[error(transparent)]
    Mpa(#[from] MpaError),
    /// symphonia rejected the data as malformed.
    #[error("malformed audio data: {0}")]
    Decode(&'static str),
}

/// What a symphonia error says, without allocating: its messages are all static.
pub(crate) fn symphonia_reason(e: symphonia::core::errors::Error) -> &'static str {
    use symphonia::core::errors::Error;
    match e {
        Error::DecodeError(msg) | Error::Unsupported(msg) | Error::LimitError(msg) => msg,
        Error::IoError(_) => "unexpected end of data",
        _ => "decoder failure",
    }
}
