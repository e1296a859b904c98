//! Where the live receiver's RTCP travels: the socket it arrives on and the address reports
//! and NACKs go back to (RFC 3550 port + 1, RFC 5761 rtcp-mux, or a port of its own).

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering::Relaxed;

use super::bind::ReceiveError;
use super::rtp_url::RtpUrl;
use super::stats::NetStats;
pub use super::stats::{RtcpNetSnapshot, RtcpNetStats};

/// How the receiver finds RTCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RtcpMode {
    /// RTP port + 1, and muxed RTCP on the RTP port as well (used once seen).
    #[default]
    Auto,
    /// Only muxed on the RTP port (`a=rtcp-mux`).
    Mux,
    /// This port.
    Port(u16),
    /// No RTCP at all: no reports, no NACKs.
    Off,
}

impl std::str::FromStr for RtcpMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(RtcpMode::Auto),
            "mux" => Ok(RtcpMode::Mux),
            "off" => Ok(RtcpMode::Off),
            port => port
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .map(RtcpMode::Port)
                .ok_or_else(|| format!("--rtcp takes auto, mux, off or a port number, not {s:?}")),
        }
    }
}

/// Binds the RTCP socket `mode` asks for beside the RTP socket of `url` (none for mux/off).
/// In `Auto`, a port + 1 that cannot be bound is not fatal: RTCP is then muxed or absent.
pub fn bind_rtcp(
    url: &RtpUrl,
    mode: RtcpMode,
    stats: &NetStats,
) -> Result<Option<UdpSocket>, ReceiveError> {
    let port = match mode {
        RtcpMode::Mux | RtcpMode::Off => return Ok(None),
        RtcpMode::Port(p) => p,
        RtcpMode::Auto => url.bind.port().wrapping_add(1),
    };
    let rtcp_url = RtpUrl {
        bind: SocketAddr::new(url.bind.ip(), port),
        ..url.clone()
    };
    match super::bind::bind(&rtcp_url, Some(1 << 16), &stats.rtcp.rtcp_recv_buffer) {
        Ok(socket) => Ok(Some(socket)),
        Err(e) if mode == RtcpMode::Auto => {
            tracing::warn!(error = %e, "no RTCP socket on port + 1: RTCP only if muxed");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The decoder thread's way to send RTCP back to the sender.
#[derive(Debug)]
pub struct RtcpSender {
    rtp: UdpSocket,
    rtcp: Option<UdpSocket>,
    mode: RtcpMode,
}

impl RtcpSender {
    /// Sends through clones of the receiving sockets (so the sender sees our reports come from
    /// the ports it sends to, as symmetric RTP/RTCP and NATs expect).
    pub fn new(rtp: &UdpSocket, rtcp: Option<&UdpSocket>, mode: RtcpMode) -> std::io::Result<Self> {
        Ok(RtcpSender {
            rtp: rtp.try_clone()?,
            rtcp: rtcp.map(UdpSocket::try_clone).transpose()?,
            mode,
        })
    }

    /// Sends one datagram to the sender's RTCP address, if one is known yet.
    pub fn send(&self, datagram: &[u8], net: &NetStats) {
        let Some(source) = net.source.get().copied() else {
            return;
        };
        let r = &net.rtcp;
        let muxed = self.mode == RtcpMode::Mux || r.muxed.load(Relaxed) || self.rtcp.is_none();
        let (socket, to) = match (&self.rtcp, muxed) {
            (Some(rtcp), false) => {
                let to =
                    r.peer.get().copied().unwrap_or_else(|| {
                        SocketAddr::new(source.ip(), source.port().wrapping_add(1))
                    });
                (rtcp, to)
            }
            _ => (&self.rtp, source),
        };
        self.send_to(socket, datagram, to, r);
        // Until the sender's RTCP has been seen, `auto` cannot know whether it muxes: the RTP
        // port gets a copy too (a non-muxing sender ignores it; a muxing one needs it).
        let unknown = self.mode == RtcpMode::Auto && !muxed && r.peer.get().is_none();
        if unknown {
            self.send_to(&self.rtp, datagram, source, r);
        }
    }

    fn send_to(&self, socket: &UdpSocket, datagram: &[u8], to: SocketAddr, r: &RtcpNetStats) {
        match socket.send_to(datagram, to) {
            Ok(_) => r.rtcp_sent.fetch_add(1, Relaxed),
            Err(e) => {
                tracing::debug!(error = %e, %to, "RTCP not sent");
                r.rtcp_send_errors.fetch_add(1, Relaxed)
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        assert_eq!("auto".parse(), Ok(RtcpMode::Auto));
        assert_eq!("mux".parse(), Ok(RtcpMode::Mux));
        assert_eq!("off".parse(), Ok(RtcpMode::Off));
        assert_eq!("5011".parse(), Ok(RtcpMode::Port(5011)));
        assert!("0".parse::<RtcpMode>().is_err());
        assert!("yes".parse::<RtcpMode>().is_err());
    }
}
