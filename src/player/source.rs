//! What the offline pipeline plays: a decoded file, or a captured stream replayed through the
//! receive core in virtual time. Either hands over interleaved f32 chunks at its own rate.

use std::time::Duration;

use super::error::PlayError;
use crate::codec::file::{FileDecoder, PcmSpec};

/// A source of interleaved samples for the decoder thread.
pub trait AudioSource: Send {
    /// Rate and channels of what `next_chunk` hands over.
    fn format(&self) -> PcmSpec;
    /// Total length, when known.
    fn duration(&self) -> Option<Duration>;
    /// Replaces `out` with the next chunk; `false` at the end.
    fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<bool, PlayError>;
    /// Packets skipped as corrupt.
    fn skipped_packets(&self) -> u64 {
        0
    }
    /// Frames of audio lost to them.
    fn missing_frames(&self) -> u64 {
        0
    }
}

impl AudioSource for FileDecoder {
    fn format(&self) -> PcmSpec {
        FileDecoder::format(self)
    }

    fn duration(&self) -> Option<Duration> {
        FileDecoder::duration(self)
    }

    fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<bool, PlayError> {
        Ok(FileDecoder::next_chunk(self, out)?)
    }

    fn skipped_packets(&self) -> u64 {
        FileDecoder::skipped_packets(self)
    }

    fn missing_frames(&self) -> u64 {
        FileDecoder::missing_frames(self)
    }
}
