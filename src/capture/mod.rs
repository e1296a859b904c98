//! Packet captures as input: pcap, pcapng and rtpdump files read into their UDP datagrams,
//! the RTP streams in them listed and measured, and one chosen to replay with its captured
//! arrival times.

pub mod analysis;
pub mod bindings;
pub mod error;
pub mod link;
pub mod naming;
pub mod reader;
mod record_buffer;
pub mod rtcp;
pub mod rtpdump;
pub mod select;
pub mod sip;
pub mod srtp_flows;
pub mod stats;
pub mod streams;
pub mod table;
pub mod timeline;
pub mod types;
pub mod wireshark;

#[cfg(test)]
mod fuzz_tests;

use std::path::Path;

pub use error::CaptureError;

pub use reader::{
    read_capture, read_capture_bytes, read_capture_with, Capture, CaptureKind, Datagram, Truncation,
};
pub use select::{select, CapturedPacket, CapturedStream, Selector};
pub use streams::{analyse, RtpStream, StreamKind, StreamsReport};
pub use timeline::{TimeJump, TimeJumps, DEFAULT_IDLE_TIMEOUT};

/// True if `path` looks like a capture by its extension.
pub fn is_capture_path(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("pcap" | "pcapng" | "cap" | "rtp" | "rtpdump")
    )
}

/// Reads `path` (its clock's jumps longer than `idle_timeout`, or backwards, skipped as
/// pauses), decrypts its SRTP (keys from its SDP, `srtp` first), lists its streams and
/// chooses one to play.
pub fn open_stream(
    path: &Path,
    selector: Selector,
    format: Option<crate::rtp::payload::PayloadFormat>,
    idle_timeout: std::time::Duration,
    srtp: Option<&crate::srtp::SrtpKeying>,
) -> Result<(CapturedStream, StreamsReport), CaptureError> {
    let mut capture = read_capture_with(path, idle_timeout)?;
    srtp_flows::decrypt(&mut capture, srtp);
    let report = analyse(&capture);
    let stream = select(path, &capture, &report, selector, format)?;
    Ok((stream, report))
}
