//! Receiving a datagram with the time the kernel received it (SO_TIMESTAMPNS on Linux).
//!
//! With the kernel's stamp the network task no longer has to wake for every packet to know when
//! it came: it can sleep a few milliseconds and drain the socket, and the jitter estimate still
//! sees each packet's true arrival. Where the stamp is not available the time of the read stands
//! in for it.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

/// A stamp further back than this is not believed (a wall-clock step between the kernel's stamp
/// and the read); the time of the read is used instead.
const MAX_STAMP_AGE: Duration = Duration::from_secs(2);

/// Asks the kernel to stamp each datagram on `socket` with its arrival time; false if it cannot.
#[cfg(target_os = "linux")]
pub fn enable(socket: &impl std::os::fd::AsRawFd) -> bool {
    let on: libc::c_int = 1;
    // SAFETY: a plain setsockopt on a socket the caller owns, with a pointer to a live c_int.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

/// Asks the kernel to stamp each datagram (not available here).
#[cfg(not(target_os = "linux"))]
pub fn enable<T>(_socket: &T) -> bool {
    false
}

/// One datagram read: its length, sender, and how long before the read the kernel received it.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    /// Bytes in the buffer.
    pub len: usize,
    /// Who sent it.
    pub from: SocketAddr,
    /// How long it waited in the socket before this read (zero when unstamped).
    pub waited: Duration,
}

/// Reads one datagram from a non-blocking socket (`WouldBlock` when none is queued).
#[cfg(target_os = "linux")]
pub fn recv(socket: &impl std::os::fd::AsRawFd, buf: &mut [u8]) -> io::Result<Received> {
    // All-zero is a valid msghdr; the pointers set below stay valid for the call, and the
    // control buffer is u64-aligned as cmsghdr requires.
    let mut addr = socket2::SockAddrStorage::zeroed();
    let mut control = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is a plain C struct for which all-zero is valid (no name, no buffers).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut addr as *mut socket2::SockAddrStorage).cast();
    msg.msg_namelen = addr.size_of();
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: msg points at live buffers of the sizes given.
    let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let read_at = SystemTime::now();
    // SAFETY: the kernel filled `addr` with `msg_namelen` bytes of a socket address.
    let from = unsafe { socket2::SockAddr::new(addr, msg.msg_namelen) }
        .as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP sender"))?;
    let mut waited = Duration::ZERO;
    // SAFETY: walking the control messages the kernel wrote, with the libc helpers, reading a
    // timespec only from a SCM_TIMESTAMPNS message (whose data is one).
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::timespec>());
                waited = age(read_at, ts.tv_sec as i64, ts.tv_nsec as i64);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(Received {
        len: n as usize,
        from,
        waited,
    })
}

/// Reads one datagram (unstamped here).
#[cfg(not(target_os = "linux"))]
pub fn recv(socket: &tokio::net::UdpSocket, buf: &mut [u8]) -> io::Result<Received> {
    let (len, from) = socket.try_recv_from(buf)?;
    Ok(Received {
        len,
        from,
        waited: Duration::ZERO,
    })
}

/// How long before `read_at` the wall-clock stamp (`secs`, `nanos`) was taken; zero when the stamp
/// is missing, in the future, or implausibly old.
pub(crate) fn age(read_at: SystemTime, secs: i64, nanos: i64) -> Duration {
    let (Ok(secs), Ok(nanos)) = (u64::try_from(secs), u32::try_from(nanos)) else {
        return Duration::ZERO;
    };
    if secs == 0 && nanos == 0 {
        return Duration::ZERO;
    }
    let stamp = SystemTime::UNIX_EPOCH + Duration::new(secs, nanos.min(999_999_999));
    read_at
        .duration_since(stamp)
        .ok()
        .filter(|d| *d <= MAX_STAMP_AGE)
        .unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_believed_only_when_plausible() {
        let read = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(age(read, 999_998, 990_000_000), Duration::from_millis(1010));
        assert_eq!(age(read, 1_000_001, 0), Duration::ZERO, "in the future");
        assert_eq!(age(read, 999_990, 0), Duration::ZERO, "too old");
        assert_eq!(age(read, 0, 0), Duration::ZERO, "no stamp");
        assert_eq!(age(read, -5, 0), Duration::ZERO);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_loopback_datagram_comes_with_its_kernel_stamp() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(enable(&rx));
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"hello", rx.local_addr().unwrap()).unwrap();
        rx.set_nonblocking(false).unwrap();
        // Block until it is there, then read it without blocking, as the network task does.
        let mut peek = [0u8; 8];
        rx.peek_from(&mut peek).unwrap();
        let mut buf = [0u8; 64];
        let got = recv(&rx, &mut buf).unwrap();
        assert_eq!(&buf[..got.len], b"hello");
        assert_eq!(got.from, tx.local_addr().unwrap());
        assert!(got.waited < MAX_STAMP_AGE);
        rx.set_nonblocking(true).unwrap();
        let again = recv(&rx, &mut buf).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::WouldBlock);
    }
}
