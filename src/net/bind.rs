//! Binding the receive sockets an `rtp://` URL describes: reuse for multicast, the receive
//! buffer (forced past the system cap when allowed), group joins; and why that can fail.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use socket2::{Domain, Protocol, Socket, Type};

use super::rtp_url::RtpUrl;

/// Receive buffer asked for when `--recv-buffer` is not given: the kernel grants twice this
/// (32 MiB, charged only while datagrams wait in it). A flood of 64 KiB datagrams at 260 MB/s
/// then needs over 100 ms to fill it, which leaves a batched read (every 40 ms at most) time to
/// notice the load and switch to reads at every readiness before any packet is dropped.
pub const DEFAULT_RECV_BUFFER: usize = 16 << 20;

/// Sets SO_RCVBUFFORCE (Linux, with CAP_NET_ADMIN), which is not capped by net.core.rmem_max.
#[cfg(target_os = "linux")]
fn force_recv_buffer(socket: &Socket, size: usize) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(value) = libc::c_int::try_from(size) else {
        return false;
    };
    // SAFETY: a plain setsockopt on a socket we own, with a pointer to a live c_int and its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

#[cfg(not(target_os = "linux"))]
fn force_recv_buffer(_socket: &Socket, _size: usize) -> bool {
    false
}

/// Why receiving could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// A socket operation failed.
    #[error("cannot {what} {addr}: {error}")]
    Socket {
        /// What was attempted.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The multicast group could not be joined.
    #[error("cannot join the multicast group {group}{on}: {error}{}", if hint.is_empty() { String::new() } else { format!(" ({hint})") })]
    Join {
        /// The group.
        group: std::net::IpAddr,
        /// " on IFACE" or "" (for the message).
        on: String,
        /// What the operating system said.
        error: std::io::Error,
        /// What to do about it.
        hint: &'static str,
    },
    /// `--interface` (or an IPv6 `%scope`) names no interface.
    #[error("{0}")]
    Interface(std::io::Error),
}

/// Binds the socket an `rtp://` URL describes: reuse for multicast, SO_RCVBUF if asked, group
/// join (source-specific when a source is named). Returns it non-blocking, and stores the receive
/// buffer the kernel granted in `granted_buffer` (each socket has its own figure).
pub fn bind(
    url: &RtpUrl,
    recv_buffer: Option<usize>,
    granted_buffer: &AtomicU64,
) -> Result<std::net::UdpSocket, ReceiveError> {
    let addr = url.bind;
    let err = |what| move |error| ReceiveError::Socket { what, addr, error };
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(err("open a socket for"))?;
    if url.group.is_some() {
        socket.set_reuse_address(true).map_err(err("configure"))?;
    }
    match recv_buffer {
        Some(size) => socket
            .set_recv_buffer_size(size)
            .map_err(err("set the receive buffer of"))?,
        // A few 64 KiB datagrams would fill the kernel's default (about 208 KiB): ask for room
        // for a burst, beyond net.core.rmem_max where we may (root), else as much as allowed.
        None => {
            if !force_recv_buffer(&socket, DEFAULT_RECV_BUFFER) {
                let _ = socket.set_recv_buffer_size(DEFAULT_RECV_BUFFER);
            }
        }
    }
    // Linux doubles the value for bookkeeping and caps it at net.core.rmem_max: report what it gave.
    let granted = socket.recv_buffer_size().unwrap_or(0);
    granted_buffer.store(granted as u64, Relaxed);
    if recv_buffer.is_some_and(|asked| granted < asked) {
        tracing::warn!(
            asked = recv_buffer,
            granted,
            "the kernel granted a smaller receive buffer (see net.core.rmem_max)"
        );
    }
    socket.bind(&addr.into()).map_err(err("bind"))?;
    if let Some(group) = url.group {
        let index = match &url.interface {
            Some(name) => {
                super::multicast_join::interface_index(name).map_err(ReceiveError::Interface)?
            }
            None => 0,
        };
        // A source on another family cannot filter this group: RtpUrl refuses that mix.
        let source = url.source.filter(|s| s.is_ipv4() == group.is_ipv4());
        super::multicast_join::join(&socket, group, source, index).map_err(|error| {
            ReceiveError::Join {
                group,
                on: url
                    .interface
                    .as_ref()
                    .map_or(String::new(), |i| format!(" on {i}")),
                hint: super::multicast_join::join_hint(&error),
                error,
            }
        })?;
    }
    socket.set_nonblocking(true).map_err(err("configure"))?;
    Ok(socket.into())
}
