//! RFC 4588 retransmission packets: the original sequence number (OSN) in two bytes ahead of
//! the original payload, on the retransmission stream's own SSRC, payload type and sequence.

use crate::rtp::header::RtpHeader;

/// Writes the RTX packet for `original` into `out` (cleared first): the original header with
/// the RTX payload type, sequence number and SSRC, then the OSN and the original payload
/// (padding included). Returns `false`, writing nothing, if `original` is not RTP.
pub fn wrap(original: &[u8], rtx_pt: u8, rtx_seq: u16, rtx_ssrc: u32, out: &mut Vec<u8>) -> bool {
    let Ok(h) = RtpHeader::parse(original) else {
        return false;
    };
    out.clear();
    out.extend_from_slice(&original[..h.payload_offset]);
    rewrite_ids(out, rtx_pt, rtx_seq, rtx_ssrc);
    out.extend_from_slice(&h.sequence.to_be_bytes());
    out.extend_from_slice(&original[h.payload_offset..]);
    true
}

/// Rebuilds the original packet from an RTX packet into `out` (cleared first): payload type
/// `original_pt`, the OSN as sequence number, SSRC `original_ssrc`. Returns the OSN, or `None`
/// (writing nothing) if the packet is not RTP or its payload is too short to hold an OSN.
pub fn unwrap(rtx: &[u8], original_pt: u8, original_ssrc: u32, out: &mut Vec<u8>) -> Option<u16> {
    let h = RtpHeader::parse(rtx).ok()?;
    unwrap_parsed(&h, rtx, original_pt, original_ssrc, out).map(|o| o.sequence)
}

/// [`unwrap`] for an RTX packet already parsed as `h`: returns the original's header, made
/// from `h` rather than parsed again.
pub fn unwrap_parsed(
    h: &RtpHeader,
    rtx: &[u8],
    original_pt: u8,
    original_ssrc: u32,
    out: &mut Vec<u8>,
) -> Option<RtpHeader> {
    if h.payload_len < 2 {
        return None;
    }
    let at = h.payload_offset;
    let osn = u16::from_be_bytes([*rtx.get(at)?, *rtx.get(at + 1)?]);
    out.clear();
    out.extend_from_slice(&rtx[..at]);
    rewrite_ids(out, original_pt, osn, original_ssrc);
    out.extend_from_slice(&rtx[at + 2..]);
    Some(RtpHeader {
        payload_type: original_pt & 0x7f,
        sequence: osn,
        ssrc: original_ssrc,
        payload_len: h.payload_len - 2,
        ..*h
    })
}

/// Overwrites payload type (keeping the marker bit), sequence number and SSRC of a header.
fn rewrite_ids(header: &mut [u8], pt: u8, seq: u16, ssrc: u32) {
    header[1] = (header[1] & 0x80) | (pt & 0x7f);
    header[2..4].copy_from_slice(&seq.to_be_bytes());
    header[8..12].copy_from_slice(&ssrc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtp_rs::{RtpPacketBuilder, Seq};

    fn packet(payload: &[u8], marked: bool) -> Vec<u8> {
        RtpPacketBuilder::new()
            .payload_type(96)
            .sequence(Seq::from(1234))
            .timestamp(99_000)
            .ssrc(0xaaaa)
            .marked(marked)
            .payload(payload)
            .build()
            .unwrap()
    }

    #[test]
    fn wrap_then_unwrap_gives_the_original_back() {
        for marked in [false, true] {
            let original = packet(&[1, 2, 3, 4, 5], marked);
            let mut rtx = Vec::new();
            assert!(wrap(&original, 97, 7, 0xbbbb, &mut rtx));
            let h = RtpHeader::parse(&rtx).unwrap();
            assert_eq!(
                (h.payload_type, h.sequence, h.ssrc, h.timestamp),
                (97, 7, 0xbbbb, 99_000)
            );
            assert_eq!(h.marker, marked);
            assert_eq!(h.payload(&rtx), &[0x04, 0xd2, 1, 2, 3, 4, 5]);
            let mut back = Vec::new();
            assert_eq!(unwrap(&rtx, 96, 0xaaaa, &mut back), Some(1234));
            assert_eq!(back, original);
            // The header made without parsing is the one parsing the original gives.
            let made = unwrap_parsed(&h, &rtx, 96, 0xaaaa, &mut back);
            assert_eq!(made, RtpHeader::parse(&original).ok());
        }
    }

    #[test]
    fn too_short_or_not_rtp_is_refused() {
        let mut out = Vec::new();
        assert_eq!(unwrap(&packet(&[9], false), 96, 1, &mut out), None);
        assert_eq!(unwrap(&[0x80, 97, 0], 96, 1, &mut out), None);
        assert!(out.is_empty());
        assert!(!wrap(&[1, 2, 3], 97, 1, 1, &mut out));
    }
}
