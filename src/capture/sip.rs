//! SIP signalling inside a capture: the SDP offers and answers say which dynamic payload type
//! each media port carries, as Wireshark uses them to name RTP streams.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::reader::Datagram;
use crate::rtp::sdp::{audio_media, SdpPayload};

/// Payload types announced for media endpoints by the SDP bodies of a capture's SIP messages.
#[derive(Debug, Clone, Default)]
pub struct SignalledPayloads {
    by_endpoint: HashMap<SocketAddr, Vec<SdpPayload>>,
    by_port: HashMap<u16, Vec<SdpPayload>>,
    /// SIP messages seen.
    pub sip_messages: u64,
    /// SDP bodies read from them.
    pub sdp_bodies: u64,
}

impl SignalledPayloads {
    /// Scans a capture's UDP datagrams and TCP SIP segments for SIP messages carrying SDP.
    pub fn scan<'a>(datagrams: impl IntoIterator<Item = &'a Datagram>) -> Self {
        let mut found = SignalledPayloads::default();
        for d in datagrams {
            if !is_sip(&d.payload) {
                continue;
            }
            found.sip_messages += 1;
            let Some(body) = sdp_body(&d.payload) else {
                continue;
            };
            let Ok(media) = audio_media(body) else {
                continue;
            };
            found.sdp_bodies += 1;
            for m in media {
                // A c= line may be missing or name a NATed address: the port alone is the fallback.
                if let Some(ip) = m.connection.or(d.src.map(|s| s.ip())) {
                    found
                        .by_endpoint
                        .insert(SocketAddr::new(ip, m.port), m.payloads.clone());
                }
                found.by_port.insert(m.port, m.payloads);
            }
        }
        found
    }

    /// What payload type `pt` is on a stream between `src` and `dst`: the receiver's SDP first,
    /// then the sender's (symmetric RTP sends from the port it receives on), then by port alone.
    pub fn lookup(
        &self,
        src: Option<SocketAddr>,
        dst: Option<SocketAddr>,
        pt: u8,
    ) -> Option<&SdpPayload> {
        fn find(list: Option<&Vec<SdpPayload>>, pt: u8) -> Option<&SdpPayload> {
            list?.iter().find(|p| p.pt == pt)
        }
        let endpoint = |a: Option<SocketAddr>| find(self.by_endpoint.get(&a?), pt);
        let port = |a: Option<SocketAddr>| find(self.by_port.get(&a?.port()), pt);
        endpoint(dst)
            .or_else(|| endpoint(src))
            .or_else(|| port(dst))
            .or_else(|| port(src))
    }

    /// True if no SDP was found.
    pub fn is_empty(&self) -> bool {
        self.by_port.is_empty()
    }
}

/// A SIP request line (`INVITE sip:… SIP/2.0`) or status line (`SIP/2.0 200 OK`).
pub fn is_sip(payload: &[u8]) -> bool {
    let line_end = payload
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(payload.len().min(200));
    let line = &payload[..line_end];
    line.starts_with(b"SIP/2.0 ") || line.ends_with(b" SIP/2.0")
}

/// The body of a SIP message whose Content-Type is application/sdp.
fn sdp_body(message: &[u8]) -> Option<&[u8]> {
    let split = message.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&message[..split]).to_ascii_lowercase();
    let is_sdp = head.lines().any(|l| {
        let l = l.trim_start();
        (l.starts_with("content-type:") || l.starts_with("c:")) && l.contains("application/sdp")
    });
    let body = &message[split + 4..];
    (is_sdp && !body.is_empty()).then_some(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn datagram(src: &str, payload: &[u8]) -> Datagram {
        Datagram {
            at: Duration::ZERO,
            src: Some(src.parse().unwrap()),
            dst: Some("10.0.0.2:5060".parse().unwrap()),
            payload: payload.to_vec(),
            rtcp_hint: false,
        }
    }

    #[test]
    fn an_invite_names_dynamic_payload_types() {
        let invite = b"INVITE sip:bob@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 99 101\r\na=rtpmap:99 opus/48000/2\r\na=rtpmap:101 telephone-event/48000\r\n";
        let found = SignalledPayloads::scan(&[
            datagram("10.0.0.1:5060", invite),
            datagram("10.0.0.1:5060", b"\x80\x00 not sip"),
        ]);
        assert!(is_sip(b"SIP/2.0 200 OK\r\n"));
        assert!(!is_sip(b"HTTP/1.1 200 OK\r\n"));
        assert_eq!((found.sip_messages, found.sdp_bodies), (1, 1));
        let src = Some("10.0.0.1:4000".parse().unwrap());
        let dst = Some("10.0.0.2:6000".parse().unwrap());
        let opus = found.lookup(src, dst, 99).unwrap();
        assert_eq!(opus.rtpmap.as_deref(), Some("opus/48000/2"));
        // The receiver's direction: its port is only known from its own SDP, which is absent.
        assert!(found
            .lookup(dst, Some("10.0.0.9:7000".parse().unwrap()), 99)
            .is_none());
    }
}
