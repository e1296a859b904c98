//! The relay's sockets and the four ways a datagram can travel through it: media (and muxed
//! RTCP) forward, RTCP on port + 1 forward, and both of those back from the destination side
//! to the last sender seen. Held datagrams carry their [`Leg`] in one leading tag byte, so one
//! impairment queue per direction serves both ports.

use std::cell::Cell;
use std::io;
use std::net::{SocketAddr, UdpSocket};

use super::relay_error::RelayError;
use super::socket::{listening_socket, sending_socket_at, SocketError};

/// Largest UDP payload (IPv4: 65 535 − 8 − 20); receive buffers hold this plus the tag byte.
pub const MAX_DATAGRAM: usize = 65_507;

/// Which way a datagram travels, and on which port pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    /// Sender → destination, on the listening port (RTP, muxed RTCP).
    Media,
    /// Sender → destination + 1 (RTCP).
    Rtcp,
    /// Destination → sender, replies to the forwarding socket (muxed RTCP back).
    MediaBack,
    /// Destination + 1 → sender, replies to the RTCP forwarding socket.
    RtcpBack,
}

impl Leg {
    const ALL: [Leg; 4] = [Leg::Media, Leg::Rtcp, Leg::MediaBack, Leg::RtcpBack];

    /// Its index among the four (also its receive buffer's).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The tag byte a held datagram of this leg starts with.
    pub fn tag(self) -> u8 {
        self as u8
    }

    /// Whether it travels from the destination side back to the sender.
    pub fn is_reverse(self) -> bool {
        matches!(self, Leg::MediaBack | Leg::RtcpBack)
    }
}

/// The relay's sockets (tokio) and where each leg goes.
pub struct RelayLegs {
    listener: tokio::net::UdpSocket,
    out: tokio::net::UdpSocket,
    rtcp: Option<(tokio::net::UdpSocket, tokio::net::UdpSocket)>,
    to: SocketAddr,
    /// The last sender seen on the listening port and on the RTCP listening port.
    senders: [Cell<Option<SocketAddr>>; 2],
}

/// The RTCP pair for a relay listening on `local` and forwarding from `out` to `to`: a
/// listener on `local` + 1 and a forwarding socket on `out`'s port + 1 (any port if taken);
/// `None`, with a warning, when `local` + 1 cannot be had.
pub fn rtcp_sockets(
    local: SocketAddr,
    out: &UdpSocket,
    to: SocketAddr,
    ttl: Option<u32>,
) -> Result<Option<(UdpSocket, UdpSocket)>, SocketError> {
    let plus_one = |a: SocketAddr| a.port().checked_add(1).map(|p| SocketAddr::new(a.ip(), p));
    let (Some(listen), Some(rtcp_to)) = (plus_one(local), plus_one(to)) else {
        return Ok(None);
    };
    let listener = match listening_socket(listen) {
        Ok(l) => l,
        Err(error) => {
            tracing::warn!(%error, "RTCP is not relayed: the listening port + 1 is not free");
            return Ok(None);
        }
    };
    let paired = out
        .local_addr()
        .ok()
        .and_then(|a| a.port().checked_add(1))
        .and_then(|p| sending_socket_at(rtcp_to, ttl, p).ok());
    let forwarder = match paired {
        Some(s) => s,
        None => sending_socket_at(rtcp_to, ttl, 0)?,
    };
    Ok(Some((listener, forwarder)))
}

impl RelayLegs {
    /// Hands the bound sockets to tokio.
    pub fn new(
        listener: UdpSocket,
        out: UdpSocket,
        rtcp: Option<(UdpSocket, UdpSocket)>,
        to: SocketAddr,
    ) -> Result<Self, RelayError> {
        let tokio = |s: UdpSocket| tokio::net::UdpSocket::from_std(s).map_err(RelayError::Runtime);
        let rtcp = match rtcp {
            Some((l, o)) => Some((tokio(l)?, tokio(o)?)),
            None => None,
        };
        Ok(RelayLegs {
            listener: tokio(listener)?,
            out: tokio(out)?,
            rtcp,
            to,
            senders: [Cell::new(None), Cell::new(None)],
        })
    }

    /// Whether RTCP is relayed on the ports + 1.
    pub fn has_rtcp(&self) -> bool {
        self.rtcp.is_some()
    }

    /// Receives the next datagram of `leg` into `buf[1..]` (leaving room for the tag).
    pub async fn recv(&self, leg: Leg, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let Some(socket) = self.socket(leg, true) else {
            return std::future::pending().await;
        };
        socket.recv_from(&mut buf[1..]).await
    }

    /// Remembers who sent on a forward leg: replies go back to them.
    pub fn saw_sender(&self, leg: Leg, from: SocketAddr) {
        let i = usize::from(leg == Leg::Rtcp);
        self.senders[i].set(Some(from));
    }

    /// Sends a held datagram (tag byte first) on its way; `Ok(false)` when it has nowhere to
    /// go (a reply before any sender was seen, or a tag that names no leg).
    pub async fn send_tagged(&self, held: &[u8]) -> io::Result<bool> {
        let Some((&tag, bytes)) = held.split_first() else {
            return Ok(false);
        };
        let Some(leg) = Leg::ALL.get(usize::from(tag)).copied() else {
            return Ok(false);
        };
        let Some(socket) = self.socket(leg, false) else {
            return Ok(false);
        };
        let dest = match leg {
            Leg::Media => Some(self.to),
            Leg::Rtcp => Some(SocketAddr::new(
                self.to.ip(),
                self.to.port().wrapping_add(1),
            )),
            Leg::MediaBack => self.senders[0].get(),
            // A sender that never sent RTCP gets it on its RTP port + 1 (RFC 3550).
            Leg::RtcpBack => self.senders[1].get().or_else(|| {
                self.senders[0]
                    .get()
                    .map(|a| SocketAddr::new(a.ip(), a.port().wrapping_add(1)))
            }),
        };
        let Some(dest) = dest else {
            return Ok(false);
        };
        socket.send_to(bytes, dest).await.map(|_| true)
    }

    /// The socket a leg receives on (`receiving`) or is sent from.
    fn socket(&self, leg: Leg, receiving: bool) -> Option<&tokio::net::UdpSocket> {
        let rtcp = self.rtcp.as_ref();
        // A forward leg arrives on the listener and leaves from the forwarder; a reverse leg
        // the other way round.
        match (leg, receiving) {
            (Leg::Media, true) | (Leg::MediaBack, false) => Some(&self.listener),
            (Leg::Media, false) | (Leg::MediaBack, true) => Some(&self.out),
            (Leg::Rtcp, true) | (Leg::RtcpBack, false) => rtcp.map(|(l, _)| l),
            (Leg::Rtcp, false) | (Leg::RtcpBack, true) => rtcp.map(|(_, o)| o),
        }
    }
}
