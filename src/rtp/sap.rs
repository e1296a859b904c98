//! SAP, the Session Announcement Protocol (RFC 2974): the packets that announce and delete
//! multicast sessions (an SDP each), read and written here, sans-IO.
//!
//! ffmpeg and VLC announce on 224.2.127.254, Dante and other AES67 devices on 239.255.255.255,
//! both on port 9875. Encrypted announcements are refused (no key exchange for them exists in
//! practice); compressed (zlib) ones are refused too, as no common sender compresses.

use std::net::{IpAddr, Ipv4Addr};

/// SAP's port.
pub const SAP_PORT: u16 = 9875;
/// The global-scope SAP group (RFC 2974), where ffmpeg and VLC announce.
pub const GLOBAL_GROUP: Ipv4Addr = Ipv4Addr::new(224, 2, 127, 254);
/// The administratively scoped SAP group, where Dante and AES67 devices announce.
pub const ADMIN_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 255);
/// The payload type every announcement carries.
pub const SDP_MIME: &str = "application/sdp";

/// Whether a packet announces a session or deletes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SapKind {
    /// A session announcement (or its repetition, or an update).
    Announce,
    /// A session deletion.
    Delete,
}

/// One SAP packet, borrowing its datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SapPacket<'a> {
    /// Announcement or deletion.
    pub kind: SapKind,
    /// The message identifier hash: with the origin, it names one version of one announcement.
    pub msg_id_hash: u16,
    /// The originating source.
    pub origin: IpAddr,
    /// The session description (for a deletion, at least its `o=` line).
    pub sdp: &'a [u8],
}

/// Why a datagram is not a SAP packet jitterplay can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SapError {
    /// Shorter than its own header says.
    #[error("truncated SAP packet")]
    Truncated,
    /// Not SAP version 1.
    #[error("SAP version {0} (only version 1 exists)")]
    Version(u8),
    /// The payload is encrypted.
    #[error("encrypted SAP announcement (not supported)")]
    Encrypted,
    /// The payload is zlib-compressed.
    #[error("compressed SAP announcement (not supported)")]
    Compressed,
    /// The payload is not a session description.
    #[error("SAP payload of type {0:?}, not application/sdp")]
    NotSdp(String),
}

/// Reads a SAP packet.
pub fn parse(datagram: &[u8]) -> Result<SapPacket<'_>, SapError> {
    let [flags, auth_len, h0, h1, rest @ ..] = datagram else {
        return Err(SapError::Truncated);
    };
    let version = flags >> 5;
    if version != 1 {
        return Err(SapError::Version(version));
    }
    let ipv6 = flags & 0x10 != 0;
    let kind = if flags & 0x04 != 0 {
        SapKind::Delete
    } else {
        SapKind::Announce
    };
    if flags & 0x02 != 0 {
        return Err(SapError::Encrypted);
    }
    if flags & 0x01 != 0 {
        return Err(SapError::Compressed);
    }
    let origin_len = if ipv6 { 16 } else { 4 };
    let auth = usize::from(*auth_len) * 4;
    let (origin, rest) = rest
        .split_at_checked(origin_len)
        .ok_or(SapError::Truncated)?;
    let origin = match <[u8; 16]>::try_from(origin) {
        Ok(v6) => IpAddr::from(v6),
        Err(_) => {
            let v4: [u8; 4] = origin.try_into().map_err(|_| SapError::Truncated)?;
            IpAddr::from(v4)
        }
    };
    let payload = rest.get(auth..).ok_or(SapError::Truncated)?;
    // The payload type is optional: an SDP starts with "v=", a type is a NUL-ended string.
    let sdp = if payload.starts_with(b"v=") {
        payload
    } else {
        let end = payload.iter().position(|&b| b == 0).ok_or_else(|| {
            SapError::NotSdp(String::from_utf8_lossy(payload).chars().take(40).collect())
        })?;
        let mime = String::from_utf8_lossy(&payload[..end]);
        if !mime.trim().eq_ignore_ascii_case(SDP_MIME) {
            return Err(SapError::NotSdp(mime.into_owned()));
        }
        &payload[end + 1..]
    };
    Ok(SapPacket {
        kind,
        msg_id_hash: u16::from_be_bytes([*h0, *h1]),
        origin,
        sdp,
    })
}

/// Writes a SAP packet carrying `sdp` (with the `application/sdp` payload type).
pub fn build(kind: SapKind, msg_id_hash: u16, origin: IpAddr, sdp: &[u8]) -> Vec<u8> {
    let mut flags = 1 << 5;
    if origin.is_ipv6() {
        flags |= 0x10;
    }
    if kind == SapKind::Delete {
        flags |= 0x04;
    }
    let mut out = vec![flags, 0];
    out.extend(msg_id_hash.to_be_bytes());
    match origin {
        IpAddr::V4(a) => out.extend(a.octets()),
        IpAddr::V6(a) => out.extend(a.octets()),
    }
    out.extend(SDP_MIME.as_bytes());
    out.push(0);
    out.extend(sdp);
    out
}

/// The message identifier hash of an SDP (any 16-bit hash that changes with the SDP will do).
pub fn msg_id_hash(sdp: &[u8]) -> u16 {
    // FNV-1a, folded to 16 bits; never 0, which RFC 2974 reserves.
    let mut h: u32 = 0x811c_9dc5;
    for &b in sdp {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    match ((h >> 16) ^ (h & 0xffff)) as u16 {
        0 => 1,
        v => v,
    }
}

/// The `o=` line of an SDP without its version, which names the session across updates
/// (RFC 4566: username, session id, network type, address type, address).
pub fn session_identity(sdp: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(sdp).ok()?;
    let line = text.lines().find_map(|l| l.trim().strip_prefix("o="))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    match fields.as_slice() {
        [user, id, _version, net, addr_type, addr] => {
            Some(format!("{user} {id} {net} {addr_type} {addr}"))
        }
        _ => None,
    }
}

/// The `o=` line's session version, which an update raises.
pub fn session_version(sdp: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(sdp).ok()?;
    let line = text.lines().find_map(|l| l.trim().strip_prefix("o="))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP: &[u8] = b"v=0\r\no=- 1234 5 IN IP4 10.0.0.1\r\ns=my session\r\nc=IN IP4 239.9.9.9/32\r\nt=0 0\r\nm=audio 5004 RTP/AVP 96\r\na=rtpmap:96 L24/48000/8\r\n";

    #[test]
    fn announcements_and_deletions_round_trip() {
        let origin: IpAddr = "10.0.0.1".parse().unwrap();
        for kind in [SapKind::Announce, SapKind::Delete] {
            let bytes = build(kind, 0xBEEF, origin, SDP);
            let p = parse(&bytes).expect("parses");
            assert_eq!(
                (p.kind, p.msg_id_hash, p.origin, p.sdp),
                (kind, 0xBEEF, origin, SDP)
            );
        }
        let v6: IpAddr = "fd00::7".parse().unwrap();
        let p6 = build(SapKind::Announce, 7, v6, SDP);
        assert_eq!(parse(&p6).expect("v6").origin, v6);
    }

    #[test]
    fn ffmpegs_layout_without_payload_type_and_with_authentication_data() {
        // No payload type (the SDP follows the origin at once), and one word of auth data.
        let mut bytes = vec![0x20, 1, 0x12, 0x34, 192, 168, 1, 5, 0xAA, 0xBB, 0xCC, 0xDD];
        bytes.extend(SDP);
        let p = parse(&bytes).expect("parses");
        assert_eq!(p.sdp, SDP);
        assert_eq!(p.origin, IpAddr::from([192, 168, 1, 5]));
    }

    #[test]
    fn what_cannot_be_read_says_why() {
        assert_eq!(parse(&[0x20, 0]), Err(SapError::Truncated));
        assert_eq!(
            parse(&[0x40, 0, 0, 0, 1, 2, 3, 4]),
            Err(SapError::Version(2))
        );
        assert_eq!(
            parse(&[0x22, 0, 0, 0, 1, 2, 3, 4]),
            Err(SapError::Encrypted)
        );
        assert_eq!(
            parse(&[0x21, 0, 0, 0, 1, 2, 3, 4]),
            Err(SapError::Compressed)
        );
        assert_eq!(
            parse(&[0x20, 9, 0, 0, 1, 2, 3, 4]),
            Err(SapError::Truncated)
        );
        let mut other = vec![0x20, 0, 0, 1, 1, 2, 3, 4];
        other.extend(b"text/plain\0hello");
        assert!(matches!(parse(&other), Err(SapError::NotSdp(_))));
    }

    #[test]
    fn the_session_is_named_by_its_origin_line_whatever_its_version() {
        let updated = String::from_utf8_lossy(SDP).replace(" 5 IN", " 6 IN");
        assert_eq!(session_identity(SDP), session_identity(updated.as_bytes()));
        assert_eq!(session_version(SDP), Some(5));
        assert_eq!(session_version(updated.as_bytes()), Some(6));
        assert_ne!(msg_id_hash(SDP), msg_id_hash(updated.as_bytes()));
    }

    proptest::proptest! {
        #[test]
        fn no_datagram_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = parse(&bytes);
        }
    }
}
