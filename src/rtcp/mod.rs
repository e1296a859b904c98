//! RTCP (RFC 3550, 4585, 4588, 5506, 5761), sans-IO: reports, goodbyes, generic NACK and
//! retransmission.
//!
//! Packets are built and parsed with `rtcp-types` ([`wire`]); everything here takes time as an
//! argument. The network shell moves the datagrams: the receiver's [`receiver::RtcpReceiver`]
//! runs beside the jitter buffer in the playout engine, the sender's session beside the pacer.

pub mod budget;
pub mod edges;
pub mod history;
pub mod interval;
pub mod nack;
pub mod ntp;
pub mod receiver;
pub mod reception;
pub mod retransmit;
pub mod rtx;
pub mod sender_counts;
pub mod sender_session;
pub mod sr_clock;
pub mod wire;

/// Why an RTCP datagram or packet could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum RtcpError {
    /// The datagram is not a valid RTCP compound (or reduced-size) packet.
    #[error("malformed RTCP: {0}")]
    Malformed(#[from] rtcp_types::RtcpParseError),
    /// A packet could not be written (it would not fit the buffer, or a field is out of range).
    #[error("cannot write RTCP: {0}")]
    Write(#[from] rtcp_types::RtcpWriteError),
}
