//! Reading many datagrams in one system call (`recvmmsg`), each with its sender, the address it
//! was sent to (IP_PKTINFO: a socket bound to a wildcard or a group learns the real one), the
//! time the kernel received it (SO_TIMESTAMPNS) and the socket's running count of datagrams the
//! kernel dropped for want of buffer space (SO_RXQ_OVFL), into buffers allocated once.
//!
//! The drop count is what lets `monitor` tell its own overload from the network's loss: when it
//! rises between two datagrams, the difference was dropped here, just before the second.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, SystemTime};

/// Datagrams read per call at most.
pub const BATCH: usize = 32;

/// Bytes per datagram buffer: the largest UDP payload.
const DATAGRAM_MAX: usize = 65_536;

/// One datagram of a batch.
#[derive(Debug, Clone, Copy)]
pub struct BatchDatagram {
    /// Its bytes are `buffer(i)[..len]`.
    pub len: usize,
    /// Who sent it.
    pub from: Option<SocketAddr>,
    /// The destination address in its IP header (None: not reported).
    pub to: Option<IpAddr>,
    /// How long before the read the kernel received it (zero when unstamped).
    pub waited: Duration,
    /// The socket's count of dropped datagrams when this one was queued (None: not reported).
    pub drops: Option<u32>,
    /// The datagram was longer than the buffer and was cut.
    pub truncated: bool,
}

/// Buffers and headers for [`BATCH`] datagrams, reused for every read.
pub struct BatchReceiver {
    data: Vec<u8>,
    names: Vec<libc::sockaddr_storage>,
    controls: Vec<[u64; 16]>,
    got: Vec<BatchDatagram>,
}

impl std::fmt::Debug for BatchReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchReceiver").finish_non_exhaustive()
    }
}

impl Default for BatchReceiver {
    fn default() -> Self {
        Self::new()
    }
}

/// Asks the kernel to stamp each datagram and to report its drop count; false if it cannot.
/// Each datagram's destination address is asked for too (IPv4 and IPv6; the one that does not
/// apply to the socket's family is refused quietly, and without either `to` stays None).
pub fn enable(socket: &impl AsRawFd) -> bool {
    let on: libc::c_int = 1;
    let set = |level, option| {
        // SAFETY: a plain setsockopt on a socket the caller owns, with a pointer to a live c_int.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                level,
                option,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ) == 0
        }
    };
    set(libc::IPPROTO_IP, libc::IP_PKTINFO);
    set(libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO);
    set(libc::SOL_SOCKET, libc::SO_TIMESTAMPNS) & set(libc::SOL_SOCKET, libc::SO_RXQ_OVFL)
}

impl BatchReceiver {
    /// Buffers for a batch (2 MiB, allocated once).
    pub fn new() -> Self {
        BatchReceiver {
            data: vec![0; BATCH * DATAGRAM_MAX],
            // SAFETY: all-zero is a valid sockaddr_storage (family AF_UNSPEC).
            names: vec![unsafe { std::mem::zeroed() }; BATCH],
            controls: vec![[0; 16]; BATCH],
            got: Vec::with_capacity(BATCH),
        }
    }

    /// Reads up to [`BATCH`] datagrams from non-blocking `socket`; `WouldBlock` when none is
    /// queued. The datagrams are [`Self::datagrams`], their bytes [`Self::buffer`].
    pub fn recv(&mut self, socket: &impl AsRawFd) -> io::Result<usize> {
        // SAFETY: all-zero mmsghdr/iovec are valid; each header below points into buffers this
        // struct owns, of the sizes given, which outlive the call.
        let mut iovecs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..BATCH {
            iovecs[i] = libc::iovec {
                iov_base: self.data[i * DATAGRAM_MAX..].as_mut_ptr().cast(),
                iov_len: DATAGRAM_MAX,
            };
            let h = &mut headers[i].msg_hdr;
            h.msg_name = (&mut self.names[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as _;
            h.msg_iov = &mut iovecs[i];
            h.msg_iovlen = 1;
            h.msg_control = self.controls[i].as_mut_ptr().cast();
            h.msg_controllen = std::mem::size_of::<[u64; 16]>() as _;
        }
        // SAFETY: the headers point at live buffers (see above).
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                BATCH as _,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let read_at = SystemTime::now();
        self.got.clear();
        for h in headers.iter().take(n as usize) {
            let msg = &h.msg_hdr;
            // SAFETY: the kernel wrote a socket address of `msg_namelen` bytes into the storage.
            let from = unsafe {
                let storage = std::ptr::read(msg.msg_name.cast::<socket2::SockAddrStorage>());
                socket2::SockAddr::new(storage, msg.msg_namelen)
            }
            .as_socket();
            let mut waited = Duration::ZERO;
            let mut drops = None;
            let mut to = None;
            // SAFETY: walking the control messages the kernel wrote with the libc helpers,
            // reading each payload as the type its level and kind say it holds.
            unsafe {
                let mut cmsg = libc::CMSG_FIRSTHDR(msg);
                while !cmsg.is_null() {
                    let c = &*cmsg;
                    if c.cmsg_level == libc::SOL_SOCKET && c.cmsg_type == libc::SCM_TIMESTAMPNS {
                        let ts = std::ptr::read_unaligned(
                            libc::CMSG_DATA(cmsg).cast::<libc::timespec>(),
                        );
                        waited =
                            super::stamped_recv::age(read_at, ts.tv_sec as i64, ts.tv_nsec as i64);
                    }
                    if c.cmsg_level == libc::SOL_SOCKET && c.cmsg_type == libc::SO_RXQ_OVFL {
                        drops = Some(std::ptr::read_unaligned(
                            libc::CMSG_DATA(cmsg).cast::<u32>(),
                        ));
                    }
                    if c.cmsg_level == libc::IPPROTO_IP && c.cmsg_type == libc::IP_PKTINFO {
                        let info = std::ptr::read_unaligned(
                            libc::CMSG_DATA(cmsg).cast::<libc::in_pktinfo>(),
                        );
                        // ipi_addr is the header's destination (ipi_spec_dst is the local
                        // address a reply would leave from).
                        to = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                            info.ipi_addr.s_addr,
                        ))));
                    }
                    if c.cmsg_level == libc::IPPROTO_IPV6 && c.cmsg_type == libc::IPV6_PKTINFO {
                        let info = std::ptr::read_unaligned(
                            libc::CMSG_DATA(cmsg).cast::<libc::in6_pktinfo>(),
                        );
                        to = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                    }
                    cmsg = libc::CMSG_NXTHDR(msg, cmsg);
                }
            }
            self.got.push(BatchDatagram {
                len: (h.msg_len as usize).min(DATAGRAM_MAX),
                from,
                to,
                waited,
                drops,
                truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
            });
        }
        Ok(self.got.len())
    }

    /// The datagrams of the last read.
    pub fn datagrams(&self) -> &[BatchDatagram] {
        &self.got
    }

    /// The bytes of datagram `i` of the last read.
    pub fn buffer(&self, i: usize) -> &[u8] {
        let len = self.got.get(i).map_or(0, |d| d.len);
        &self.data[i * DATAGRAM_MAX..i * DATAGRAM_MAX + len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_brings_every_queued_datagram_with_its_sender_and_drop_count() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(enable(&rx));
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..40u8 {
            tx.send_to(&[i; 100], rx.local_addr().unwrap()).unwrap();
        }
        rx.set_nonblocking(true).unwrap();
        let mut r = BatchReceiver::new();
        let mut seen = Vec::new();
        // Loopback delivers synchronously: all 40 are queued before the first read.
        while let Ok(n) = r.recv(&rx) {
            for i in 0..n {
                let d = r.datagrams()[i];
                assert_eq!(d.from, Some(tx.local_addr().unwrap()));
                // The kernel reports the count only once it is not zero.
                assert_eq!(d.drops.unwrap_or(0), 0);
                assert!(!d.truncated);
                seen.push(r.buffer(i)[0]);
                assert_eq!(r.buffer(i).len(), 100);
            }
        }
        assert_eq!(seen, (0..40).collect::<Vec<u8>>());
    }

    #[test]
    fn a_wildcard_socket_learns_each_datagrams_destination() {
        for (wildcard, to) in [("0.0.0.0:0", "127.0.0.1"), ("[::]:0", "::1")] {
            let Ok(rx) = std::net::UdpSocket::bind(wildcard) else {
                continue; // no IPv6 on this host
            };
            assert!(enable(&rx));
            let port = rx.local_addr().unwrap().port();
            let dest: SocketAddr = SocketAddr::new(to.parse().unwrap(), port);
            let Ok(tx) = std::net::UdpSocket::bind(SocketAddr::new(dest.ip(), 0)) else {
                continue;
            };
            tx.send_to(b"to whom", dest).unwrap();
            rx.set_nonblocking(true).unwrap();
            let mut r = BatchReceiver::new();
            assert_eq!(r.recv(&rx).unwrap(), 1);
            assert_eq!(r.datagrams()[0].to, Some(dest.ip()), "bound to {wildcard}");
        }
    }
}
