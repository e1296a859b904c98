//! The shape of decoded PCM: sample rate and channel count.

/// What decoded audio is: sample rate and interleaved channel count (the RTP side's
/// [`StreamFormat`](crate::rtp::stream_format::StreamFormat) is a payload format and type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcmSpec {
    /// Sample rate in Hz.
    pub rate: u32,
    /// Number of interleaved channels.
    pub channels: usize,
}
