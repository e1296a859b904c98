//! RTP fixed-header parsing on top of rtp-rs, into a small `Copy` summary of what the core needs.

use rtp_rs::{RtpReader, RtpReaderError};
use thiserror::Error;

/// Why a datagram is not a usable RTP packet (rtp-rs's own error is `Debug`-only, so it is mapped here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RtpError {
    /// Fewer bytes than the 12-byte fixed header.
    #[error("RTP packet too short: {len} bytes, the fixed header alone is 12")]
    TooShort {
        /// Bytes received.
        len: usize,
    },
    /// The version field is not 2.
    #[error("unsupported RTP version {0}; only version 2 exists")]
    UnsupportedVersion(u8),
    /// CSRC list or header extension runs past the end of the datagram.
    #[error("RTP header truncated: it needs {header_len} bytes, the datagram has {buffer_len}")]
    HeadersTruncated {
        /// Length the header claims.
        header_len: usize,
        /// Bytes present.
        buffer_len: usize,
    },
    /// The padding count is zero or larger than what follows the header.
    #[error("invalid RTP padding length {0}")]
    PaddingInvalid(u8),
}

impl From<RtpReaderError> for RtpError {
    fn from(e: RtpReaderError) -> Self {
        match e {
            RtpReaderError::BufferTooShort(len) => RtpError::TooShort { len },
            RtpReaderError::UnsupportedVersion(v) => RtpError::UnsupportedVersion(v),
            RtpReaderError::HeadersTruncated {
                header_len,
                buffer_len,
            } => RtpError::HeadersTruncated {
                header_len,
                buffer_len,
            },
            RtpReaderError::PaddingLengthInvalid(p) => RtpError::PaddingInvalid(p),
        }
    }
}

/// The parsed fields of one RTP packet, plus where its payload lies inside the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// 16-bit sequence number as on the wire.
    pub sequence: u16,
    /// 32-bit RTP timestamp as on the wire.
    pub timestamp: u32,
    /// Synchronisation source identifier.
    pub ssrc: u32,
    /// Marker bit (for audio: first packet after a silence period).
    pub marker: bool,
    /// Number of CSRC entries in the header.
    pub csrc_count: u8,
    /// Whether a header extension is present.
    pub has_extension: bool,
    /// Bytes of trailing padding (0 when the padding bit is clear).
    pub padding: u8,
    /// Offset of the payload in the datagram (after CSRCs and extension).
    pub payload_offset: usize,
    /// Length of the payload, padding excluded.
    pub payload_len: usize,
}

impl RtpHeader {
    /// Parses and bounds-checks an RTP datagram (version 2, CSRC/extension/padding inside it).
    pub fn parse(packet: &[u8]) -> Result<Self, RtpError> {
        let r = RtpReader::new(packet)?;
        // `RtpReader::new` validated every length, so these accessors cannot panic.
        let payload_offset = r.payload_offset();
        let padding = r.padding().unwrap_or(0);
        let payload_len = packet
            .len()
            .checked_sub(payload_offset)
            .and_then(|n| n.checked_sub(usize::from(padding)))
            .ok_or(RtpError::PaddingInvalid(padding))?;
        Ok(Self {
            payload_type: r.payload_type(),
            sequence: r.sequence_number().into(),
            timestamp: r.timestamp(),
            ssrc: r.ssrc(),
            marker: r.mark(),
            csrc_count: r.csrc_count(),
            has_extension: r.extension().is_some(),
            padding,
            payload_offset,
            payload_len,
        })
    }

    /// A header for a packet built in memory (simulator, tests): no CSRC, extension or padding.
    pub fn synthetic(
        payload_type: u8,
        sequence: u16,
        timestamp: u32,
        ssrc: u32,
        marker: bool,
    ) -> Self {
        Self {
            payload_type: payload_type & 0x7f,
            sequence,
            timestamp,
            ssrc,
            marker,
            csrc_count: 0,
            has_extension: false,
            padding: 0,
            payload_offset: 12,
            payload_len: 0,
        }
    }

    /// The payload bytes of `packet` (the datagram this header was parsed from); empty if it is not.
    pub fn payload<'a>(&self, packet: &'a [u8]) -> &'a [u8] {
        packet
            .get(self.payload_offset..self.payload_offset.saturating_add(self.payload_len))
            .unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtp_rs::{Pad, RtpPacketBuilder, Seq};

    fn build(pad: Pad, csrc: &[u32], ext: Option<&[u8]>) -> Vec<u8> {
        let mut b = RtpPacketBuilder::new()
            .payload_type(96)
            .ssrc(0xdead_beef)
            .sequence(Seq::from(65535))
            .timestamp(u32::MAX)
            .marked(true)
            .padded(pad)
            .payload(&[1, 2, 3, 4, 5]);
        for c in csrc {
            b = b.add_csrc(*c);
        }
        if let Some(e) = ext {
            b = b.extension(0xbede, e);
        }
        b.build().unwrap_or_default()
    }

    #[test]
    fn parses_all_fields() {
        let pkt = build(Pad::none(), &[], None);
        let h = RtpHeader::parse(&pkt).unwrap();
        assert_eq!(h.payload_type, 96);
        assert_eq!(h.sequence, 65535);
        assert_eq!(h.timestamp, u32::MAX);
        assert_eq!(h.ssrc, 0xdead_beef);
        assert!(h.marker);
        assert_eq!(h.payload(&pkt), &[1, 2, 3, 4, 5]);
    }

    #[test]
    fn csrc_extension_and_padding_are_skipped() {
        let pkt = build(Pad::round_to(4), &[1, 2, 3], Some(&[9, 9, 9, 9]));
        let h = RtpHeader::parse(&pkt).unwrap();
        assert_eq!(h.csrc_count, 3);
        assert!(h.has_extension);
        assert_eq!(h.padding, 3);
        assert_eq!(h.payload_offset, 12 + 12 + 4 + 4);
        assert_eq!(h.payload(&pkt), &[1, 2, 3, 4, 5]);
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(
            RtpHeader::parse(&[0x80; 5]),
            Err(RtpError::TooShort { len: 5 })
        );
        let mut pkt = build(Pad::none(), &[], None);
        pkt[0] = 0x40 | (pkt[0] & 0x3f);
        assert_eq!(RtpHeader::parse(&pkt), Err(RtpError::UnsupportedVersion(1)));
        // Claims 15 CSRCs that are not there.
        let mut pkt = build(Pad::none(), &[], None);
        pkt[0] |= 0x0f;
        assert!(matches!(
            RtpHeader::parse(&pkt),
            Err(RtpError::HeadersTruncated { .. })
        ));
        // Padding bit set with a padding count larger than the packet.
        let mut pkt = build(Pad::none(), &[], None);
        pkt[0] |= 0x20;
        if let Some(last) = pkt.last_mut() {
            *last = 200;
        }
        assert_eq!(RtpHeader::parse(&pkt), Err(RtpError::PaddingInvalid(200)));
        // Padding count zero.
        if let Some(last) = pkt.last_mut() {
            *last = 0;
        }
        assert_eq!(RtpHeader::parse(&pkt), Err(RtpError::PaddingInvalid(0)));
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        // A cheap deterministic fuzz: every prefix of some mutated packets.
        let base = build(Pad::round_to(4), &[7], Some(&[1, 2, 3, 4]));
        for flip in 0..base.len() * 8 {
            let mut p = base.clone();
            p[flip / 8] ^= 1 << (flip % 8);
            for n in 0..=p.len() {
                if let Ok(h) = RtpHeader::parse(&p[..n]) {
                    assert!(h.payload_offset + h.payload_len <= n);
                    let _ = h.payload(&p[..n]);
                }
            }
        }
    }

    #[test]
    fn error_messages_are_readable() {
        let e = RtpError::TooShort { len: 3 };
        assert!(e.to_string().contains("too short"));
    }
}
