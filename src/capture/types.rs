//! Types the capture analysis shares between its stages (SIP scanning, payload binding,
//! payload naming, stream analysis), kept apart so that no stage imports another's file for
//! them.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use crate::rtp::payload::PayloadFormat;
use crate::rtp::sdp::SdpAudioMedia;
use crate::srtp::{SrtpSnapshot, Suite};

/// One SDP body seen in a SIP message (INVITE, re-INVITE, UPDATE, 200 OK, ACK, …).
#[derive(Debug, Clone)]
pub struct SdpSighting {
    /// When the message was captured.
    pub at: Duration,
    /// Who sent the message (where media goes when the SDP has no `c=` line).
    pub sender: Option<SocketAddr>,
    /// Its RTP audio media descriptions.
    pub media: Vec<SdpAudioMedia>,
}

/// What a payload type in a stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PayloadRole {
    /// Audio jitterplay decodes.
    Audio,
    /// Audio in a codec jitterplay does not decode (named, e.g. opus or G.729).
    UnsupportedAudio,
    /// RFC 4733 telephone events (DTMF).
    TelephoneEvent,
    /// RFC 3389 comfort noise.
    ComfortNoise,
    /// A dynamic payload type nothing names.
    Unknown,
}

/// Where a payload type's meaning came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NamedBy {
    /// The RFC 3551 static table.
    Static,
    /// The SDP in force for the stream's receiver (or sender) address and port when the
    /// payload type was first used.
    Sdp,
    /// A guess: no SDP in force for the stream's endpoints names it, so an SDP of another
    /// endpoint or time in the capture does; or the packets' shape (4-byte RFC 4733 events).
    Guess,
    /// Nothing.
    Nothing,
}

/// One payload type used in a stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PayloadUse {
    /// The payload type.
    pub pt: u8,
    /// Its name: `PCMU/8000`, `opus/48000/2`, `telephone-event/8000`, `dynamic 96`.
    pub name: String,
    /// What it is.
    pub role: PayloadRole,
    /// Where that came from.
    pub named_by: NamedBy,
    /// Packets carrying it.
    pub packets: u64,
    /// The format, when jitterplay knows it.
    #[serde(skip)]
    pub format: Option<PayloadFormat>,
    /// Its RTP clock rate, when known.
    pub clock_rate: Option<u32>,
}

/// Where a flow's key came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// The SDP its sender offered (SDES: each side offers the key it sends with).
    SenderSdp,
    /// The SDP of its receiver (one-way sessions describe only the receiving side).
    ReceiverSdp,
    /// Another call's SDP in the same capture.
    OtherSdp,
    /// `--srtp`.
    Option,
    /// None opened it.
    None,
}

/// What SRTP did for one flow (one sender to one receiver, RTP or RTCP).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SrtpFlow {
    /// Sender.
    pub src: Option<SocketAddr>,
    /// Receiver.
    pub dst: Option<SocketAddr>,
    /// The suite of the key that opened it.
    pub suite: Option<Suite>,
    /// Where that key came from.
    pub key: KeySource,
    /// Why it could not be opened, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Authenticated, refused by cause.
    #[serde(flatten)]
    pub counts: SrtpSnapshot,
}

/// One UDP datagram of a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Arrival time: capture time since the first record, less the pauses skipped before it.
    pub at: Duration,
    /// Pauses skipped before it in the capture: two datagrams of different segments have a
    /// pause between them whose length is unknown.
    pub segment: u64,
    /// Sender, when the capture says (rtpdump files do not).
    pub src: Option<SocketAddr>,
    /// Receiver, when the capture says.
    pub dst: Option<SocketAddr>,
    /// The UDP payload.
    pub payload: Vec<u8>,
    /// True when an rtpdump file marks the record as RTCP.
    pub rtcp_hint: bool,
}
