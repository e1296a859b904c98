//! Joining a multicast group on a chosen interface, any-source or source-specific, for IPv4 and
//! IPv6 alike: the protocol-independent `MCAST_JOIN_GROUP` and `MCAST_JOIN_SOURCE_GROUP`
//! (RFC 3678), which take an interface index (IGMPv3 and MLDv2 source filters). The kernel
//! leaves the group when the socket closes.

use std::io;
use std::net::{IpAddr, SocketAddr};

use socket2::{SockAddr, Socket};

/// The index of the interface named `name` (`eth0`), or an error saying there is none.
pub fn interface_index(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "an interface name has no NUL"))?;
    // SAFETY: if_nametoindex reads the NUL-terminated string passed.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no network interface is named {name:?}"),
        )),
        index => Ok(index),
    }
}

fn storage(addr: IpAddr) -> libc::sockaddr_storage {
    let sa = SockAddr::from(SocketAddr::new(addr, 0));
    // SAFETY: an all-zero sockaddr_storage is valid; the copy stays within both (a SockAddr's
    // length never exceeds sockaddr_storage).
    unsafe {
        let mut st: libc::sockaddr_storage = std::mem::zeroed();
        std::ptr::copy_nonoverlapping(
            sa.as_ptr().cast::<u8>(),
            std::ptr::addr_of_mut!(st).cast::<u8>(),
            (sa.len() as usize).min(std::mem::size_of::<libc::sockaddr_storage>()),
        );
        st
    }
}

fn set<T>(socket: &Socket, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: setsockopt reads `size_of::<T>()` bytes from `value`.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            std::ptr::from_ref(value).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Joins `group` on interface `index` (0: the one the routing table gives), from `source` only
/// when one is named (which must be of the group's family).
pub fn join(socket: &Socket, group: IpAddr, source: Option<IpAddr>, index: u32) -> io::Result<()> {
    let level = if group.is_ipv4() {
        libc::IPPROTO_IP
    } else {
        libc::IPPROTO_IPV6
    };
    match source {
        Some(source) => {
            let req = libc::group_source_req {
                gsr_interface: index,
                gsr_group: storage(group),
                gsr_source: storage(source),
            };
            set(socket, level, libc::MCAST_JOIN_SOURCE_GROUP, &req)
        }
        None => {
            let req = libc::group_req {
                gr_interface: index,
                gr_group: storage(group),
            };
            set(socket, level, libc::MCAST_JOIN_GROUP, &req)
        }
    }
}

/// Why a join failed, in words a user can act on.
pub fn join_hint(error: &io::Error) -> &'static str {
    match error.raw_os_error() {
        Some(libc::ENODEV) => {
            "no interface carries this group: name one with --interface, or add a multicast route (ip route add 224.0.0.0/4 dev IFACE)"
        }
        Some(libc::EADDRNOTAVAIL) => "the interface has no address of the group's family",
        Some(libc::EINVAL) => "the source and the group do not fit together (family or scope)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_interface_is_named_in_the_error() {
        let e = interface_index("no-such-if0").unwrap_err();
        assert!(e.to_string().contains("\"no-such-if0\""), "{e}");
        assert!(interface_index("lo").is_ok());
    }
}
