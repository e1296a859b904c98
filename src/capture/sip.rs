//! SIP signalling inside a capture: the SIP messages (over UDP, or TCP segments that start like
//! one) and the SDP offers and answers they carry, each with the time it was captured.

use super::bindings::PayloadBindings;
use super::types::Datagram;
pub use super::types::SdpSighting;
use crate::rtp::sdp::audio_media;

/// Scans a capture's UDP datagrams and TCP SIP segments for SIP messages carrying SDP, and binds
/// each description's payload types to its endpoint from the time it was captured.
pub fn scan<'a>(datagrams: impl IntoIterator<Item = &'a Datagram>) -> PayloadBindings {
    let mut sip_messages = 0;
    let mut sightings = Vec::new();
    for d in datagrams {
        if !is_sip(&d.payload) {
            continue;
        }
        sip_messages += 1;
        sightings.extend(sighting(d.at, d.src, &d.payload));
    }
    PayloadBindings::new(sightings, sip_messages)
}

/// The SDP a SIP message captured at `at` from `sender` carries, with its audio media.
pub fn sighting(
    at: std::time::Duration,
    sender: Option<std::net::SocketAddr>,
    message: &[u8],
) -> Option<SdpSighting> {
    let body = sdp_body(message)?;
    // An SDP that does not parse names nothing; the call's RTP is still listed, unnamed.
    let Ok(media) = audio_media(body) else {
        tracing::debug!(?at, "SIP message with an unreadable SDP body");
        return None;
    };
    Some(SdpSighting { at, sender, media })
}

/// The Call-ID of a SIP message (`Call-ID:` or its compact form `i:`).
pub fn call_id(message: &[u8]) -> Option<&str> {
    let head_end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(message.len());
    let head = std::str::from_utf8(&message[..head_end]).ok()?;
    head.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        let name = name.trim();
        (name.eq_ignore_ascii_case("call-id") || name.eq_ignore_ascii_case("i"))
            .then(|| value.trim())
            .filter(|v| !v.is_empty())
    })
}

/// A SIP request line (`INVITE sip:… SIP/2.0`) or status line (`SIP/2.0 200 OK`).
pub fn is_sip(payload: &[u8]) -> bool {
    // A start line begins with a method (a token) or "SIP/2.0": an RTP or RTCP packet's first
    // byte (version 2: 0x80 and above) is neither, and is told apart without a scan.
    let token = |b: u8| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b);
    if !payload.first().copied().is_some_and(token) {
        return false;
    }
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
            segment: 0,
            src: Some(src.parse().unwrap()),
            dst: Some("10.0.0.2:5060".parse().unwrap()),
            payload: payload.to_vec(),
            rtcp_hint: false,
        }
    }

    #[test]
    fn an_invite_names_dynamic_payload_types() {
        let invite = b"INVITE sip:bob@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 99 101\r\na=rtpmap:99 opus/48000/2\r\na=rtpmap:101 telephone-event/48000\r\n";
        let found = scan(&[
            datagram("10.0.0.1:5060", invite),
            datagram("10.0.0.1:5060", b"\x80\x00 not sip"),
        ]);
        assert!(is_sip(b"SIP/2.0 200 OK\r\n"));
        assert!(!is_sip(b"HTTP/1.1 200 OK\r\n"));
        assert_eq!(
            call_id(b"INVITE sip:b SIP/2.0\r\nCall-ID: abc@host \r\n\r\n"),
            Some("abc@host")
        );
        assert_eq!(call_id(b"SIP/2.0 200 OK\r\ni: x1\r\n\r\nv=0"), Some("x1"));
        assert_eq!(call_id(invite), None);
        assert_eq!((found.sip_messages, found.sdp_bodies), (1, 1));
        // The offer says what 10.0.0.1:4000 receives; its reply comes from there too.
        let caller = Some("10.0.0.1:4000".parse().unwrap());
        let callee = Some("10.0.0.2:6000".parse().unwrap());
        let (opus, _) = found.lookup(callee, caller, 99, Duration::ZERO).unwrap();
        assert_eq!(opus.rtpmap.as_deref(), Some("opus/48000/2"));
        let (events, _) = found.lookup(caller, callee, 101, Duration::ZERO).unwrap();
        assert_eq!(events.rtpmap.as_deref(), Some("telephone-event/48000"));
    }
}
