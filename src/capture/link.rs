//! Digging UDP datagrams out of captured link-layer frames (Ethernet, VLAN, Linux cooked, raw IP).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The link layer of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Ethernet II, with optional 802.1Q/802.1ad tags.
    Ethernet,
    /// Linux "cooked" capture v1 (16-byte header).
    LinuxSll,
    /// Linux "cooked" capture v2 (20-byte header).
    LinuxSll2,
    /// BSD loopback (4-byte address family).
    Null,
    /// Raw IPv4 or IPv6.
    RawIp,
}

/// A UDP datagram found in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// UDP payload.
    pub payload: &'a [u8],
}

/// The UDP datagram in `frame`, if it carries one (unfragmented IPv4 or IPv6 without extension headers).
pub fn udp_in_frame(link: Link, frame: &[u8]) -> Option<UdpDatagram<'_>> {
    let (ethertype, ip) = match link {
        Link::Ethernet => {
            let mut ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
            let mut at = 14;
            while ethertype == 0x8100 || ethertype == 0x88A8 {
                ethertype = u16::from_be_bytes([*frame.get(at + 2)?, *frame.get(at + 3)?]);
                at += 4;
            }
            (Some(ethertype), frame.get(at..)?)
        }
        Link::LinuxSll => (
            Some(u16::from_be_bytes([*frame.get(14)?, *frame.get(15)?])),
            frame.get(16..)?,
        ),
        Link::LinuxSll2 => (
            Some(u16::from_be_bytes([*frame.first()?, *frame.get(1)?])),
            frame.get(20..)?,
        ),
        Link::Null => (None, frame.get(4..)?),
        Link::RawIp => (None, frame),
    };
    match (ethertype, ip.first()? >> 4) {
        (Some(0x0800) | None, 4) => udp_in_ipv4(ip),
        (Some(0x86DD) | None, 6) => udp_in_ipv6(ip),
        _ => None,
    }
}

fn udp_in_ipv4(ip: &[u8]) -> Option<UdpDatagram<'_>> {
    let ihl = usize::from(ip.first()? & 0x0F) * 4;
    let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    let flags_offset = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
    // Fragments (more-fragments set, or a non-zero offset) carry no whole UDP datagram.
    if flags_offset & 0x3FFF != 0 || *ip.get(9)? != 17 || ihl < 20 {
        return None;
    }
    let src = IpAddr::V4(Ipv4Addr::new(
        *ip.get(12)?,
        *ip.get(13)?,
        *ip.get(14)?,
        *ip.get(15)?,
    ));
    let dst = IpAddr::V4(Ipv4Addr::new(
        *ip.get(16)?,
        *ip.get(17)?,
        *ip.get(18)?,
        *ip.get(19)?,
    ));
    udp(src, dst, ip.get(ihl..total.min(ip.len()))?)
}

fn udp_in_ipv6(ip: &[u8]) -> Option<UdpDatagram<'_>> {
    if *ip.get(6)? != 17 {
        return None;
    }
    let addr = |at: usize| -> Option<IpAddr> {
        let bytes: [u8; 16] = ip.get(at..at + 16)?.try_into().ok()?;
        Some(IpAddr::V6(Ipv6Addr::from(bytes)))
    };
    let len = usize::from(u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]));
    udp(addr(8)?, addr(24)?, ip.get(40..(40 + len).min(ip.len()))?)
}

fn udp(src: IpAddr, dst: IpAddr, seg: &[u8]) -> Option<UdpDatagram<'_>> {
    let sport = u16::from_be_bytes([*seg.first()?, *seg.get(1)?]);
    let dport = u16::from_be_bytes([*seg.get(2)?, *seg.get(3)?]);
    let len = usize::from(u16::from_be_bytes([*seg.get(4)?, *seg.get(5)?]));
    let payload = seg.get(8..len.clamp(8, seg.len()))?;
    Some(UdpDatagram {
        src: SocketAddr::new(src, sport),
        dst: SocketAddr::new(dst, dport),
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_udp(payload: &[u8]) -> Vec<u8> {
        let total = (20 + 8 + payload.len()) as u16;
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&5004u16.to_be_bytes());
        ip.extend_from_slice(&6000u16.to_be_bytes());
        ip.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0]);
        ip.extend_from_slice(payload);
        ip
    }

    #[test]
    fn finds_udp_under_every_link_type() {
        let ip = ipv4_udp(b"rtp!");
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x81, 0x00, 0, 5, 0x08, 0x00]);
        eth.extend_from_slice(&ip);
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ip);
        for (link, frame) in [
            (Link::Ethernet, &eth),
            (Link::LinuxSll, &sll),
            (Link::RawIp, &ip),
        ] {
            let d = udp_in_frame(link, frame).unwrap();
            assert_eq!(
                (d.src.port(), d.dst.port(), d.payload),
                (5004, 6000, &b"rtp!"[..]),
                "{link:?}"
            );
        }
    }

    #[test]
    fn fragments_and_other_protocols_are_skipped() {
        let mut frag = ipv4_udp(b"x");
        frag[6] = 0x20; // more fragments
        assert_eq!(udp_in_frame(Link::RawIp, &frag), None);
        let mut tcp = ipv4_udp(b"x");
        tcp[9] = 6;
        assert_eq!(udp_in_frame(Link::RawIp, &tcp), None);
        assert_eq!(udp_in_frame(Link::Ethernet, &[0u8; 5]), None);
    }
}
