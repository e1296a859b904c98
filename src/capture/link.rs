//! Digging UDP datagrams out of captured link-layer frames (Ethernet with VLAN tags, Linux
//! cooked v1/v2, BSD loopback, raw IP; IPv4 and IPv6), reassembling IP fragments.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use etherparse::defrag::IpDefragPool;
use etherparse::{EtherType, IpNumber, NetSlice, SlicedPacket, TransportSlice, UdpSlice};

/// How long fragments of an incomplete datagram are kept waiting for the rest.
const FRAGMENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Reassembly buffers kept at once; beyond this the oldest are abandoned (bounded memory).
const MAX_PENDING_DATAGRAMS: usize = 256;

/// The link layer of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Ethernet II, with optional 802.1Q/802.1ad tags.
    Ethernet,
    /// Linux "cooked" capture v1 (16-byte header).
    LinuxSll,
    /// Linux "cooked" capture v2 (20-byte header).
    LinuxSll2,
    /// BSD loopback (4-byte address family in either byte order).
    Null,
    /// Raw IPv4 or IPv6.
    RawIp,
}

impl Link {
    /// The link of a libpcap LINKTYPE number (as a live capture reports it), if read here.
    pub fn from_linktype(linktype: i32) -> Option<Link> {
        Some(match linktype {
            1 => Link::Ethernet,
            113 => Link::LinuxSll,
            276 => Link::LinuxSll2,
            0 | 108 => Link::Null,
            12 | 14 | 101 | 228 | 229 => Link::RawIp,
            _ => return None,
        })
    }
}

/// A UDP datagram found in a frame (or reassembled from several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// UDP payload: borrowed from the frame, owned only when rebuilt from fragments (reading
    /// a capture then costs no allocation per datagram).
    pub payload: Cow<'a, [u8]>,
}

/// What one frame held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameContent<'a> {
    /// A whole UDP datagram (possibly completing a fragmented one).
    Udp(UdpDatagram<'a>),
    /// A fragment of an IP datagram still incomplete.
    Fragment,
    /// A TCP segment's payload that starts like a SIP message (signalling over TCP names the
    /// payload types of the call's streams too); counted as "other".
    SipOverTcp(UdpDatagram<'a>),
    /// Something else (TCP, ARP, ICMP, another link protocol).
    Other,
    /// Bytes that do not parse as their link type says (cut short by the snap length, or broken).
    Malformed,
}

/// Counts of what the extractor saw besides whole datagrams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FrameCounts {
    /// Frames that carried something other than UDP.
    pub other: u64,
    /// Frames that did not parse.
    pub malformed: u64,
    /// IP fragments of UDP datagrams.
    pub fragments: u64,
    /// UDP datagrams rebuilt from IP fragments.
    pub reassembled: u64,
    /// Fragmented datagrams that never completed (or could not be rebuilt).
    pub incomplete: u64,
}

/// A fragmented datagram being rebuilt: addresses and IPv4 identification (0 for IPv6).
type FragmentKey = (IpAddr, IpAddr, u16);

/// Turns frames into UDP datagrams, rebuilding fragmented ones.
#[derive(Debug)]
pub struct UdpExtractor {
    pool: IpDefragPool<Duration, ()>,
    /// The datagrams the pool is rebuilding and when each last got a fragment (the pool cannot
    /// say how many it holds, and they must be counted when abandoned).
    pending: HashMap<FragmentKey, Duration>,
    counts: FrameCounts,
}

impl Default for UdpExtractor {
    fn default() -> Self {
        UdpExtractor {
            pool: IpDefragPool::new(),
            pending: HashMap::new(),
            counts: FrameCounts::default(),
        }
    }
}

impl UdpExtractor {
    /// Reads the frame captured at `at` on `link`.
    pub fn frame<'a>(&mut self, link: Link, at: Duration, frame: &'a [u8]) -> FrameContent<'a> {
        let content = match slice(link, frame) {
            Some(Ok(packet)) => self.content(&packet, at),
            Some(Err(())) => FrameContent::Malformed,
            None => FrameContent::Other,
        };
        match content {
            FrameContent::Other | FrameContent::SipOverTcp(_) => self.counts.other += 1,
            FrameContent::Malformed => self.counts.malformed += 1,
            _ => {}
        }
        content
    }

    /// What was counted so far; datagrams still waiting for fragments count as incomplete.
    pub fn counts(&self) -> FrameCounts {
        FrameCounts {
            incomplete: self.counts.incomplete + self.pending.len() as u64,
            ..self.counts
        }
    }

    fn content<'a>(&mut self, packet: &SlicedPacket<'a>, at: Duration) -> FrameContent<'a> {
        let Some(net) = packet.net.as_ref() else {
            return FrameContent::Other;
        };
        let (src, dst, id) = match net {
            NetSlice::Ipv4(v4) => (
                IpAddr::V4(v4.header().source_addr()),
                IpAddr::V4(v4.header().destination_addr()),
                v4.header().identification(),
            ),
            NetSlice::Ipv6(v6) => (
                IpAddr::V6(v6.header().source_addr()),
                IpAddr::V6(v6.header().destination_addr()),
                0,
            ),
            NetSlice::Arp(_) => return FrameContent::Other,
        };
        let Some(ip_payload) = net.ip_payload_ref() else {
            return FrameContent::Other;
        };
        if let Some(TransportSlice::Tcp(tcp)) = &packet.transport {
            let payload = tcp.payload();
            if super::sip::is_sip(payload) {
                return FrameContent::SipOverTcp(UdpDatagram {
                    src: SocketAddr::new(src, tcp.source_port()),
                    dst: SocketAddr::new(dst, tcp.destination_port()),
                    payload: Cow::Borrowed(payload),
                });
            }
        }
        if ip_payload.ip_number != IpNumber::UDP {
            return FrameContent::Other;
        }
        if !ip_payload.fragmented {
            return match &packet.transport {
                Some(TransportSlice::Udp(udp)) => FrameContent::Udp(datagram(src, dst, udp)),
                _ => FrameContent::Malformed,
            };
        }
        self.counts.fragments += 1;
        self.expire(at);
        let key = (src, dst, id);
        match self.pool.process_sliced_packet(packet, at, ()) {
            Ok(None) => {
                self.pending.insert(key, at);
                FrameContent::Fragment
            }
            Ok(Some(whole)) => {
                self.pending.remove(&key);
                self.counts.reassembled += 1;
                match UdpSlice::from_slice(&whole.payload) {
                    Ok(udp) => FrameContent::Udp(UdpDatagram {
                        payload: Cow::Owned(udp.payload().to_vec()),
                        ..datagram(src, dst, &udp)
                    }),
                    Err(_) => FrameContent::Malformed,
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "IP fragment could not be reassembled");
                if self.pending.remove(&key).is_none() {
                    self.counts.incomplete += 1;
                }
                FrameContent::Fragment
            }
        }
    }

    /// Abandons datagrams whose fragments stopped arriving, so memory stays bounded.
    fn expire(&mut self, now: Duration) {
        // Under a flood of fragments only the newest half of the allowance survives.
        let flood_cutoff = (self.pending.len() >= MAX_PENDING_DATAGRAMS).then(|| {
            let mut times: Vec<Duration> = self.pending.values().copied().collect();
            times.sort_unstable();
            times[times.len() - MAX_PENDING_DATAGRAMS / 2]
        });
        let keep = |last: &Duration| {
            now.saturating_sub(*last) < FRAGMENT_TIMEOUT && flood_cutoff.is_none_or(|c| *last >= c)
        };
        let before = self.pending.len();
        self.pending.retain(|_, last| keep(last));
        self.counts.incomplete += (before - self.pending.len()) as u64;
        self.pool.retain(keep);
    }
}

fn datagram<'a>(src: IpAddr, dst: IpAddr, udp: &UdpSlice<'a>) -> UdpDatagram<'a> {
    UdpDatagram {
        src: SocketAddr::new(src, udp.source_port()),
        dst: SocketAddr::new(dst, udp.destination_port()),
        payload: Cow::Borrowed(udp.payload()),
    }
}

/// Slices `frame` from its link layer down; `None` when the link carries something that is not IP.
fn slice(link: Link, frame: &[u8]) -> Option<Result<SlicedPacket<'_>, ()>> {
    let sliced = match link {
        Link::Ethernet => SlicedPacket::from_ethernet(frame),
        Link::LinuxSll => SlicedPacket::from_linux_sll(frame),
        Link::LinuxSll2 => {
            // etherparse has no SLL2: its 20-byte header starts with the protocol's ether type.
            let ether_type = u16::from_be_bytes([*frame.first()?, *frame.get(1)?]);
            SlicedPacket::from_ether_type(EtherType(ether_type), frame.get(20..)?)
        }
        Link::Null => SlicedPacket::from_ip(frame.get(4..)?),
        Link::RawIp => SlicedPacket::from_ip(frame),
    };
    Some(sliced.map_err(|_| ()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp_frame(payload: &[u8]) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2([1; 6], [2; 6])
            .single_vlan(5.try_into().unwrap())
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(5004, 6000);
        let mut frame = Vec::new();
        builder.write(&mut frame, payload).unwrap();
        frame
    }

    fn udp_of(content: FrameContent<'_>) -> UdpDatagram<'_> {
        match content {
            FrameContent::Udp(d) => d,
            other => panic!("not UDP: {other:?}"),
        }
    }

    #[test]
    fn finds_udp_under_every_link_type() {
        let eth = udp_frame(b"rtp!");
        // Ethernet (14) + VLAN tag (4) ahead of the IP header.
        let ip = eth[18..].to_vec();
        let mut sll = vec![0u8; 14];
        sll[0..2].copy_from_slice(&0u16.to_be_bytes());
        sll[2..4].copy_from_slice(&1u16.to_be_bytes());
        sll[4..6].copy_from_slice(&6u16.to_be_bytes());
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ip);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&ip);
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ip);
        let mut x = UdpExtractor::default();
        for (link, frame) in [
            (Link::Ethernet, &eth),
            (Link::LinuxSll, &sll),
            (Link::LinuxSll2, &sll2),
            (Link::Null, &null),
            (Link::RawIp, &ip),
        ] {
            let d = udp_of(x.frame(link, Duration::ZERO, frame));
            assert_eq!(
                (d.src.port(), d.dst.port(), &*d.payload),
                (5004, 6000, &b"rtp!"[..]),
                "{link:?}"
            );
        }
    }

    #[test]
    fn ipv6_udp_is_found() {
        let builder = PacketBuilder::ipv6([1; 16], [2; 16], 64).udp(7000, 7002);
        let mut ip = Vec::new();
        builder.write(&mut ip, b"v6").unwrap();
        let d = udp_of(UdpExtractor::default().frame(Link::RawIp, Duration::ZERO, &ip));
        assert!(d.src.is_ipv6());
        assert_eq!((d.dst.port(), &*d.payload), (7002, &b"v6"[..]));
    }

    /// An IPv4 datagram carrying `udp` (header + payload) split into two fragments.
    fn fragments(udp: &[u8], id: u16) -> [Vec<u8>; 2] {
        let split = 16; // a multiple of 8 bytes
        let part = |offset: usize, data: &[u8], more: bool| {
            let total = (20 + data.len()) as u16;
            let flags = (if more { 0x2000u16 } else { 0 }) | (offset / 8) as u16;
            let mut ip = vec![0x45, 0];
            ip.extend_from_slice(&total.to_be_bytes());
            ip.extend_from_slice(&id.to_be_bytes());
            ip.extend_from_slice(&flags.to_be_bytes());
            ip.extend_from_slice(&[64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
            ip.extend_from_slice(data);
            ip
        };
        [
            part(0, &udp[..split], true),
            part(split, &udp[split..], false),
        ]
    }

    #[test]
    fn fragments_are_reassembled_and_incomplete_ones_counted() {
        let payload: Vec<u8> = (0..40).collect();
        let mut udp = Vec::new();
        udp.extend_from_slice(&5004u16.to_be_bytes());
        udp.extend_from_slice(&6000u16.to_be_bytes());
        udp.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        udp.extend_from_slice(&[0, 0]);
        udp.extend_from_slice(&payload);
        let [a, b] = fragments(&udp, 1);
        let mut x = UdpExtractor::default();
        assert_eq!(
            x.frame(Link::RawIp, Duration::ZERO, &a),
            FrameContent::Fragment
        );
        let d = udp_of(x.frame(Link::RawIp, Duration::from_millis(1), &b));
        assert_eq!(d.payload, payload);
        // A first fragment whose rest never comes is dropped after the timeout.
        let [lonely, _] = fragments(&udp, 2);
        assert_eq!(
            x.frame(Link::RawIp, Duration::from_secs(1), &lonely),
            FrameContent::Fragment
        );
        let [a3, _] = fragments(&udp, 3);
        x.frame(Link::RawIp, Duration::from_secs(30), &a3);
        let counts = x.counts();
        assert_eq!((counts.fragments, counts.reassembled), (4, 1));
        // The lonely one timed out; the last one still waits when the capture ends.
        assert_eq!(counts.incomplete, 2, "{counts:?}");
    }

    #[test]
    fn other_protocols_and_garbage_are_told_apart() {
        let builder = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1, 2, 0, 1000);
        let mut tcp = Vec::new();
        builder.write(&mut tcp, b"x").unwrap();
        let mut x = UdpExtractor::default();
        assert_eq!(
            x.frame(Link::Ethernet, Duration::ZERO, &tcp),
            FrameContent::Other
        );
        let mut cut = udp_frame(b"payload");
        cut.truncate(30);
        assert_eq!(
            x.frame(Link::Ethernet, Duration::ZERO, &cut),
            FrameContent::Malformed
        );
        let mut sip = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(5060, 5060, 0, 1000)
            .write(&mut sip, b"SIP/2.0 200 OK\r\n\r\n")
            .unwrap();
        assert!(matches!(
            x.frame(Link::Ethernet, Duration::ZERO, &sip),
            FrameContent::SipOverTcp(d) if d.src.port() == 5060
        ));
        assert_eq!(x.counts().other, 2);
        assert_eq!(x.counts().malformed, 1);
    }
}
