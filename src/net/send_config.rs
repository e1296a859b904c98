//! What `send` is asked to do ([`SendConfig`]) and why it can fail ([`SendError`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::file_source::{FormatRequest, Passes, SourceError};
use super::send_rtcp::RtcpSendOptions;
use super::socket::SocketError;
use crate::codec::opus::OpusEncodeOptions;
use crate::netem::spec::ImpairSpec;
use crate::rtp::packetize::DEFAULT_MAX_PAYLOAD;

/// The first payload type above the static range: the usual dynamic choice.
pub const DEFAULT_DYNAMIC_PT: u8 = 96;

/// Why sending could not start or went wrong.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The destination is not usable or the socket could not be set up.
    #[error(transparent)]
    Socket(#[from] SocketError),
    /// SRTP could not be set up.
    #[error(transparent)]
    Srtp(#[from] crate::srtp::SrtpError),
    /// The input could not be read or converted.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The payload type is outside RTP's 7 bits.
    #[error("payload type {0} is out of range (0..=127; dynamic types are 96..=127)")]
    PayloadType(u8),
    /// The RTX payload type is out of range.
    #[error("RTX payload type {0} is out of range (0..=127); pick another with --rtx-pt or use --no-rtx")]
    RtxPayloadType(u8),
    /// The payload limit leaves no room for the RTP header.
    #[error("maximum payload {0} bytes is too small")]
    MaxPayload(usize),
    /// `--multicast-if` names no local address (or the destination is not IPv4 multicast).
    #[error("--multicast-if {addr}: {error} (it must be an address of a local interface, of the multicast destination's family)")]
    MulticastInterface {
        /// The address asked for.
        addr: std::net::IpAddr,
        /// What the system said.
        error: std::io::Error,
    },
    /// The async runtime could not take over the socket.
    #[error("cannot use the socket for {addr}: {error}")]
    Runtime {
        /// The destination.
        addr: SocketAddr,
        /// What failed.
        error: std::io::Error,
    },
}

/// What to send and how.
#[derive(Debug, Clone)]
pub struct SendConfig {
    /// The file to stream.
    pub input: PathBuf,
    /// Destination `HOST:PORT`.
    pub to: String,
    /// Payload format; L16 at the file's rate and channels by default.
    pub format: FormatRequest,
    /// Packet time for PCM formats (MPEG audio packs as many whole frames as fit).
    pub ptime: Duration,
    /// Largest payload in bytes; PCM packets are shortened to fit (default: Ethernet MTU).
    pub max_payload: usize,
    /// Payload type; the static one of the format if it has one, else 96.
    pub pt: Option<u8>,
    /// SSRC; random if not given.
    pub ssrc: Option<u32>,
    /// First sequence number; random if not given.
    pub seq: Option<u16>,
    /// First RTP timestamp; random if not given.
    pub timestamp: Option<u32>,
    /// How many times to play the input.
    pub passes: Passes,
    /// Stop after this long (wall time of the schedule).
    pub duration: Option<Duration>,
    /// Multicast TTL / hop limit (unicast TTL for unicast destinations).
    pub ttl: Option<u32>,
    /// Network impairment and sender clock drift.
    pub impair: Option<ImpairSpec>,
    /// How Opus is encoded (`--format opus`).
    pub opus: OpusEncodeOptions,
    /// RTCP, NACK and retransmission.
    pub rtcp: RtcpSendOptions,
    /// Local RTP port (RTCP: + 1); any free one if not given.
    pub local_port: Option<u16>,
    /// Encrypt RTP and RTCP as SRTP with this key (`--srtp`); the SDP offers it in `a=crypto`.
    pub srtp: Option<crate::srtp::SrtpKeying>,
    /// The SDP's session name (`s=`, default "jitterplay"): what SAP listeners list.
    pub session_name: Option<String>,
    /// For a multicast destination: the local address packets leave from (`--multicast-if`):
    /// IPv4 also sends on its interface, IPv6 binds to it (the routing table picks the link).
    pub multicast_if: Option<std::net::IpAddr>,
    /// RFC 7273 (`--mediaclk-offset`): timestamps follow the reference clock (the host's TAI or
    /// UTC time, in samples) plus this offset, announced as `a=mediaclk:direct=OFFSET`.
    pub media_clock_offset: Option<u32>,
}

impl SendConfig {
    /// Defaults for streaming `input` to `to`: L16, 20 ms, random SSRC/sequence/timestamp, once.
    pub fn new(input: impl Into<PathBuf>, to: impl Into<String>) -> Self {
        SendConfig {
            input: input.into(),
            to: to.into(),
            format: FormatRequest::default(),
            ptime: Duration::from_millis(20),
            max_payload: DEFAULT_MAX_PAYLOAD,
            pt: None,
            ssrc: None,
            seq: None,
            timestamp: None,
            passes: Passes::Once,
            duration: None,
            ttl: None,
            impair: None,
            opus: OpusEncodeOptions::default(),
            rtcp: RtcpSendOptions::default(),
            local_port: None,
            srtp: None,
            session_name: None,
            multicast_if: None,
            media_clock_offset: None,
        }
    }
}
