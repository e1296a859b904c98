//! Binding the receive sockets an `rtp://` URL describes: reuse for multicast, the receive
//! buffer (forced past the system cap when allowed), group joins; and why that can fail.

use std::net::{IpAddr, SocketAddr};
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
    match (url.group, url.source) {
        (Some(IpAddr::V4(group)), Some(IpAddr::V4(source))) => {
            socket.join_ssm_v4(&source, &group, &std::net::Ipv4Addr::UNSPECIFIED)
        }
        (Some(IpAddr::V4(group)), _) => {
            socket.join_multicast_v4(&group, &std::net::Ipv4Addr::UNSPECIFIED)
        }
        (Some(IpAddr::V6(group)), _) => socket.join_multicast_v6(&group, 0),
        (None, _) => Ok(()),
    }
    .map_err(err("join the multicast group"))?;
    socket.set_nonblocking(true).map_err(err("configure"))?;
    Ok(socket.into())
}
