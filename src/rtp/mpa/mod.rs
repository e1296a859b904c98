//! MPEG audio over RTP (RFC 2250, PT 14): frame headers, depacketizing with fragment reassembly, packetizing.
//!
//! Each payload starts with a 4-byte header: 16 bits that must be zero, then `Frag_offset`, the
//! byte offset of this payload's data inside its audio frame. A payload holds either one or more
//! whole frames (offset 0) or one fragment of a frame larger than the packet.

mod depacketize;
mod header;
mod packetize;

pub use depacketize::{MpaDepacketizer, MpaFrames};
pub use header::{parse_header, MpaHeader, MpegLayer, MpegVersion, HEADER_LEN, MAX_FRAME_LEN};
pub use packetize::{split_frames, MpaPacketInfo, MpaPacketizer, MpaSplit};

/// Length of the RFC 2250 MBZ + Frag_offset header at the start of every payload.
pub const RFC2250_HEADER_LEN: usize = 4;

/// Why MPEG audio data could not be framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MpaError {
    /// The payload is too short to hold the RFC 2250 header and any data.
    #[error("MPEG audio payload of {0} bytes is shorter than its 4-byte header plus data")]
    TooShort(usize),
    /// The bytes where a frame should start are not a valid frame header.
    #[error("invalid MPEG audio frame header: {0}")]
    BadHeader(&'static str),
    /// Bytes follow the last whole frame that are neither a frame nor the start of one.
    #[error("{0} bytes of garbage after the last whole MPEG audio frame")]
    TrailingGarbage(usize),
    /// A fragment carried more bytes than its frame header announced.
    #[error("MPEG audio fragment overruns its {frame_len}-byte frame")]
    FragmentOverrun {
        /// The frame length announced by the first fragment's header.
        frame_len: usize,
    },
    /// The packetizer's payload limit cannot hold the RFC 2250 header and at least one byte.
    #[error("maximum payload of {0} bytes is too small for MPEG audio packets")]
    PayloadTooSmall(usize),
}
