//! UDP sockets for sending and relaying: address resolution, multicast TTL and group joins.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

/// Why an address could not be used or a socket not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The text is not `HOST:PORT`.
    #[error("invalid address {0:?}: expected HOST:PORT, e.g. 127.0.0.1:5004, [::1]:5004 or localhost:5004")]
    Syntax(String),
    /// The host name did not resolve.
    #[error("cannot resolve {text:?}: {error}")]
    Resolve {
        /// The address given.
        text: String,
        /// What the resolver said.
        error: io::Error,
    },
    /// Port 0 is not somewhere datagrams can be sent.
    #[error("invalid destination {0:?}: port 0 cannot receive datagrams")]
    ZeroPort(String),
    /// The operating system refused a socket operation.
    #[error("cannot {what} {addr}: {error}")]
    Io {
        /// What was attempted ("bind", "open a UDP socket for", ...).
        what: &'static str,
        /// The address involved.
        addr: SocketAddr,
        /// What the operating system said.
        error: io::Error,
    },
}

fn io_error(what: &'static str, addr: SocketAddr) -> impl FnOnce(io::Error) -> SocketError {
    move |error| SocketError::Io { what, addr, error }
}

/// Resolves `HOST:PORT` (an IPv4/IPv6 literal or a host name) to one socket address.
pub fn resolve(text: &str) -> Result<SocketAddr, SocketError> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, port) = text
        .rsplit_once(':')
        .filter(|(host, _)| !host.is_empty() && !host.contains(':'))
        .ok_or_else(|| SocketError::Syntax(text.to_owned()))?;
    let port: u16 = port
        .parse()
        .map_err(|_| SocketError::Syntax(text.to_owned()))?;
    let mut addrs = (host, port)
        .to_socket_addrs()
        .map_err(|error| SocketError::Resolve {
            text: text.to_owned(),
            error,
        })?;
    addrs.next().ok_or_else(|| SocketError::Resolve {
        text: text.to_owned(),
        error: io::Error::new(io::ErrorKind::NotFound, "no addresses found"),
    })
}

/// Resolves a destination, refusing port 0.
pub fn resolve_destination(text: &str) -> Result<SocketAddr, SocketError> {
    let addr = resolve(text)?;
    if addr.port() == 0 {
        return Err(SocketError::ZeroPort(text.to_owned()));
    }
    Ok(addr)
}

fn unspecified(family_of: SocketAddr) -> SocketAddr {
    match family_of {
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
    }
}

/// A non-blocking socket for sending to `dest` from an ephemeral port.
///
/// `ttl` sets the multicast TTL (IPv4) or hop limit (IPv6) for a multicast destination
/// (default 1: the local network only), and the unicast TTL/hop limit otherwise.
pub fn sending_socket(dest: SocketAddr, ttl: Option<u32>) -> Result<UdpSocket, SocketError> {
    sending_socket_at(dest, ttl, 0)
}

/// [`sending_socket`] bound to local port `port` (0: any), so that a peer's replies (RTCP)
/// reach a port it can predict.
pub fn sending_socket_at(
    dest: SocketAddr,
    ttl: Option<u32>,
    port: u16,
) -> Result<UdpSocket, SocketError> {
    sending_socket_from(dest, ttl, port, None)
}

/// [`sending_socket_at`] bound to local address `from` (its packets' source), when given.
pub fn sending_socket_from(
    dest: SocketAddr,
    ttl: Option<u32>,
    port: u16,
    from: Option<IpAddr>,
) -> Result<UdpSocket, SocketError> {
    let socket = Socket::new(Domain::for_address(dest), Type::DGRAM, Some(Protocol::UDP))
        .map_err(io_error("open a UDP socket for", dest))?;
    let set = io_error("set the TTL for", dest);
    match (dest.ip(), ttl) {
        (IpAddr::V4(a), ttl) if a.is_multicast() => socket.set_multicast_ttl_v4(ttl.unwrap_or(1)),
        (IpAddr::V6(a), ttl) if a.is_multicast() => socket.set_multicast_hops_v6(ttl.unwrap_or(1)),
        (IpAddr::V4(_), Some(ttl)) => socket.set_ttl_v4(ttl),
        (IpAddr::V6(_), Some(ttl)) => socket.set_unicast_hops_v6(ttl),
        (_, None) => Ok(()),
    }
    .map_err(set)?;
    let mut local = unspecified(dest);
    if let Some(ip) = from.filter(|ip| ip.is_ipv4() == dest.is_ipv4()) {
        local.set_ip(ip);
    }
    local.set_port(port);
    socket
        .bind(&local.into())
        .map_err(io_error("bind", local))?;
    socket
        .set_nonblocking(true)
        .map_err(io_error("configure the socket for", dest))?;
    Ok(socket.into())
}

/// A non-blocking socket receiving on `addr`; a multicast `addr` joins its group on the default interface.
pub fn listening_socket(addr: SocketAddr) -> Result<UdpSocket, SocketError> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(io_error("open a UDP socket for", addr))?;
    if addr.ip().is_multicast() {
        // Other receivers of the same group may listen on this host too.
        socket
            .set_reuse_address(true)
            .map_err(io_error("configure the socket for", addr))?;
    }
    socket.bind(&addr.into()).map_err(io_error("bind", addr))?;
    match addr.ip() {
        IpAddr::V4(group) if group.is_multicast() => {
            socket.join_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED)
        }
        IpAddr::V6(group) if group.is_multicast() => socket.join_multicast_v6(&group, 0),
        _ => Ok(()),
    }
    .map_err(io_error("join the multicast group", addr))?;
    socket
        .set_nonblocking(true)
        .map_err(io_error("configure the socket for", addr))?;
    Ok(socket.into())
}

/// Our RTCP canonical name, `user@host` (RFC 3550 §6.5.1), from `$USER` and the kernel's host
/// name.
pub fn cname() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "jitterplay".to_owned());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{user}@{host}")
}

/// Many clients or sockets need many descriptors: the soft limit (often 1,024) is raised to the
/// hard one (at most 65,536).
pub fn raise_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max.min(65_536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_literals_and_names() {
        assert_eq!(
            resolve("127.0.0.1:5004").unwrap(),
            "127.0.0.1:5004".parse().unwrap()
        );
        assert_eq!(resolve("[::1]:9").unwrap(), "[::1]:9".parse().unwrap());
        assert_eq!(resolve("localhost:5004").unwrap().port(), 5004);
    }

    #[test]
    fn explains_bad_addresses() {
        for bad in [
            "127.0.0.1",
            "host",
            ":5004",
            "1.2.3.4:port",
            "::1:5004",
            "h:70000",
        ] {
            assert!(
                matches!(resolve(bad), Err(SocketError::Syntax(_))),
                "{bad}: {:?}",
                resolve(bad)
            );
        }
        assert!(matches!(
            resolve("no-such-host.invalid:5004"),
            Err(SocketError::Resolve { .. })
        ));
        assert!(matches!(
            resolve_destination("127.0.0.1:0"),
            Err(SocketError::ZeroPort(_))
        ));
    }

    #[test]
    fn sockets_open_on_loopback() {
        let rx = listening_socket("127.0.0.1:0".parse().unwrap()).unwrap();
        let dest = rx.local_addr().unwrap();
        let tx = sending_socket(dest, Some(4)).unwrap();
        tx.send_to(b"hi", dest).unwrap();
        rx.set_nonblocking(false).unwrap();
        let mut buf = [0; 8];
        assert_eq!(rx.recv_from(&mut buf).unwrap().0, 2);
    }
}
