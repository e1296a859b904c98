//! Listening for SAP announcements: one UDP socket on port 9875 that joins every SAP group asked
//! for (shared with other listeners on the host), feeding a [`SapDirectory`].

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::receive::ReceiveError;
use crate::rtp::sap::SAP_PORT;
use crate::rtp::sap_directory::{SapDirectory, SapEvent};

/// A socket joined to SAP groups, and the directory it keeps.
#[derive(Debug)]
pub struct SapListener {
    socket: UdpSocket,
    origin: Instant,
    directory: SapDirectory,
    buf: Vec<u8>,
}

impl SapListener {
    /// Joins `groups` on `interface` (the system's choice when `None`); sessions expire after
    /// ten announcement intervals and never sooner than `min_timeout`.
    pub fn bind(
        groups: &[Ipv4Addr],
        interface: Option<Ipv4Addr>,
        min_timeout: Duration,
    ) -> Result<Self, ReceiveError> {
        let bind = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, SAP_PORT));
        let err = |what: &'static str| {
            move |error| ReceiveError::Socket {
                what,
                addr: bind,
                error,
            }
        };
        let socket =
            Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(err("open"))?;
        // Other SAP listeners (another jitterplay, PipeWire, a daemon) share the port.
        socket.set_reuse_address(true).map_err(err("share"))?;
        #[cfg(unix)]
        socket.set_reuse_port(true).map_err(err("share"))?;
        socket.bind(&bind.into()).map_err(err("bind"))?;
        let local = interface.unwrap_or(Ipv4Addr::UNSPECIFIED);
        for group in groups {
            socket
                .join_multicast_v4(group, &local)
                .map_err(err("join the SAP group"))?;
        }
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(err("configure"))?;
        Ok(SapListener {
            socket: socket.into(),
            origin: Instant::now(),
            directory: SapDirectory::new(min_timeout),
            buf: vec![0; 65_536],
        })
    }

    /// The directory as it stands.
    pub fn directory(&self) -> &SapDirectory {
        &self.directory
    }

    /// Waits up to about 100 ms for announcements and returns what changed (expiries included).
    pub fn poll(&mut self) -> Vec<SapEvent> {
        let mut events = Vec::new();
        match self.socket.recv(&mut self.buf) {
            Ok(n) => {
                let now = self.origin.elapsed();
                match self.directory.on_datagram(&self.buf[..n], now) {
                    Ok(Some(event)) => events.push(event),
                    Ok(None) => {}
                    Err(error) => tracing::debug!(%error, "not a SAP packet we read"),
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(error) => tracing::warn!(%error, "SAP receive failed"),
        }
        events.extend(self.directory.expire(self.origin.elapsed()));
        events
    }
}
