//! `send --sap`: announcing the session by SAP (RFC 2974) while it is sent, and deleting the
//! announcement when sending ends.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use crate::rtp::sap::{self, SapKind, SAP_PORT};

/// Why the announcer could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot announce by SAP to {group}: {error}")]
pub struct SapAnnounceError {
    /// The SAP group.
    pub group: Ipv4Addr,
    /// What the system said.
    pub error: std::io::Error,
}

/// A session's announcement and deletion, ready to send to a SAP group.
#[derive(Debug)]
pub struct SapAnnouncer {
    socket: UdpSocket,
    announcement: Vec<u8>,
    deletion: Vec<u8>,
}

impl SapAnnouncer {
    /// Announces `sdp` on `group` with multicast `ttl`, from `interface` (the system's choice
    /// when `None`).
    pub fn new(
        sdp: &str,
        group: Ipv4Addr,
        ttl: u32,
        interface: Option<Ipv4Addr>,
    ) -> Result<Self, SapAnnounceError> {
        let err = |error| SapAnnounceError { group, error };
        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(err)?;
        socket.set_multicast_ttl_v4(ttl).map_err(err)?;
        if let Some(interface) = interface {
            socket2::SockRef::from(&socket)
                .set_multicast_if_v4(&interface)
                .map_err(err)?;
        }
        socket
            .connect(SocketAddr::from((group, SAP_PORT)))
            .map_err(err)?;
        // The address the group is reached from is the announcement's origin.
        let origin = match socket.local_addr().map_err(err)?.ip() {
            IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            a => a,
        };
        let hash = sap::msg_id_hash(sdp.as_bytes());
        Ok(SapAnnouncer {
            socket,
            announcement: sap::build(SapKind::Announce, hash, origin, sdp.as_bytes()),
            deletion: sap::build(SapKind::Delete, hash, origin, sdp.as_bytes()),
        })
    }

    /// Sends the announcement every `interval` until the task is dropped.
    pub async fn run(self: std::sync::Arc<Self>, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            if let Err(error) = self.socket.send(&self.announcement) {
                tracing::warn!(%error, "SAP announcement failed");
            }
        }
    }

    /// Sends the deletion (twice: a lost deletion would leave the session listed until it
    /// times out).
    pub fn delete(&self) {
        for _ in 0..2 {
            if let Err(error) = self.socket.send(&self.deletion) {
                tracing::warn!(%error, "SAP deletion failed");
            }
        }
    }
}
