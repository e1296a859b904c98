//! Why a capture could not be read or played (a leaf: every stage of capture reading and
//! selection reports through it).

use std::path::PathBuf;

/// Why a capture could not be read or played.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file is not a capture at all.
    #[error("{path}: not a capture (no pcap, pcapng or rtpdump header)")]
    NotCapture {
        /// The file.
        path: PathBuf,
    },
    /// The file starts like a capture but its header is broken.
    #[error("{path}: broken capture header ({reason})")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        reason: String,
    },
    /// No RTP stream in the capture.
    #[error("{path}: no RTP streams found ({udp} UDP datagrams)")]
    NoStreams {
        /// The file.
        path: PathBuf,
        /// UDP datagrams seen.
        udp: u64,
    },
    /// Several audio streams and no choice.
    #[error("the capture holds {count} audio streams; choose one with --stream N or --ssrc 0x…:\n{table}")]
    Ambiguous {
        /// How many.
        count: usize,
        /// The stream list.
        table: String,
    },
    /// The chosen stream does not exist.
    #[error("no {wanted} in the capture; its streams are:\n{table}")]
    NoSuchStream {
        /// What was asked for.
        wanted: String,
        /// The stream list.
        table: String,
    },
    /// The stream's codec is not one jitterplay decodes.
    #[error("stream {stream} is {codec}, which jitterplay does not decode (it plays L16, L24, PCMU, PCMA and MPA)")]
    Unsupported {
        /// Its index.
        stream: usize,
        /// Its codec.
        codec: String,
    },
    /// A dynamic payload type with no SDP in the capture.
    #[error("stream {stream} uses dynamic payload type {pt} and the capture has no SDP naming it: give --format (e.g. --format l16/48000/2)")]
    UnknownDynamic {
        /// Its index.
        stream: usize,
        /// The payload type.
        pt: u8,
    },
    /// The chosen stream is SRTP and no key opened it.
    #[error("stream {stream} is SRTP and cannot be decrypted ({why}): give its key with --srtp SUITE:inline:KEY")]
    SrtpNoKey {
        /// Its index.
        stream: usize,
        /// Why.
        why: String,
    },
    /// The chosen stream carries no audio.
    #[error("stream {stream} carries only {codec}, no audio")]
    NotAudio {
        /// Its index.
        stream: usize,
        /// What it carries.
        codec: String,
    },
}
