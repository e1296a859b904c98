//! Outgoing RTP headers: one stream's fixed fields, wrapping counters, a reused packet buffer.

use rtp_rs::{RtpPacketBuilder, Seq};

/// Bytes of a fixed RTP header without CSRCs or extensions.
pub const RTP_HEADER_LEN: usize = 12;

/// Builds the packets of one RTP stream (rtp-rs `RtpPacketBuilder`) into a buffer it reuses.
#[derive(Debug, Clone)]
pub struct RtpWriter {
    pt: u8,
    ssrc: u32,
    first_seq: u16,
    first_timestamp: u32,
    packets: u64,
    buf: Vec<u8>,
}

impl RtpWriter {
    /// A stream with payload type `pt` (0..=127), `ssrc`, and its first sequence number and timestamp.
    pub fn new(pt: u8, ssrc: u32, first_seq: u16, first_timestamp: u32) -> Self {
        debug_assert!(pt <= 127, "payload type {pt} out of range");
        RtpWriter {
            pt,
            ssrc,
            first_seq,
            first_timestamp,
            packets: 0,
            buf: Vec::new(),
        }
    }

    /// The payload type.
    pub fn pt(&self) -> u8 {
        self.pt
    }

    /// The SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Packets built so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Sets the first packet's timestamp (before any packet is built: a sender whose timestamps
    /// follow a reference clock learns it when it starts).
    pub fn set_first_timestamp(&mut self, first_timestamp: u32) {
        debug_assert_eq!(self.packets, 0, "the timestamp base moved after sending");
        self.first_timestamp = first_timestamp;
    }

    /// Builds the next packet (next sequence number) for media position `rtp_ticks` from the
    /// stream start; sequence number and timestamp wrap as RTP requires.
    pub fn packet(&mut self, rtp_ticks: u64, marker: bool, payload: &[u8]) -> &[u8] {
        // Truncation is the point: both counters are modular.
        let seq = self.first_seq.wrapping_add(self.packets as u16);
        let timestamp = self.first_timestamp.wrapping_add(rtp_ticks as u32);
        self.packets += 1;
        let builder = RtpPacketBuilder::new()
            .payload_type(self.pt)
            .ssrc(self.ssrc)
            .sequence(Seq::from(seq))
            .timestamp(timestamp)
            .marked(marker)
            .payload(payload);
        let needed = builder.target_length();
        if self.buf.len() < needed {
            // Grows to the largest packet once, then stays.
            self.buf.resize(needed, 0);
        }
        // Only an out-of-range payload type can fail, and `new` is given a checked one.
        let len = builder.build_into(&mut self.buf).unwrap_or(0);
        &self.buf[..len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtp_rs::RtpReader;

    #[test]
    fn counters_wrap_and_fields_round_trip() {
        let mut w = RtpWriter::new(97, 0xDEAD_BEEF, 65_535, u32::MAX - 100);
        let first = w.packet(0, true, &[1, 2, 3]).to_vec();
        let r = RtpReader::new(&first).unwrap();
        assert_eq!(first.len(), RTP_HEADER_LEN + 3);
        assert_eq!(
            (
                u16::from(r.sequence_number()),
                r.timestamp(),
                r.payload_type()
            ),
            (65_535, u32::MAX - 100, 97)
        );
        assert!(r.mark() && r.ssrc() == 0xDEAD_BEEF && r.payload() == [1, 2, 3]);
        let second = w.packet(160, false, &[4]).to_vec();
        let r = RtpReader::new(&second).unwrap();
        assert_eq!((u16::from(r.sequence_number()), r.timestamp()), (0, 59));
        assert!(!r.mark());
        assert_eq!(w.packets(), 2);
    }
}
