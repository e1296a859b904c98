//! Recognising RTCP in a capture: compound packets of SR, RR, SDES, BYE, APP, feedback and XR.

use serde::Serialize;

/// RTCP packet types counted by name (RFC 3550, 4585, 3611).
const SR: u8 = 200;
const RR: u8 = 201;
const SDES: u8 = 202;
const BYE: u8 = 203;
const APP: u8 = 204;

pub use crate::rtcp::wire::looks_like_rtcp;

/// Counts of the RTCP packets in compound datagrams.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RtcpCounts {
    /// Datagrams.
    pub datagrams: u64,
    /// Sender reports.
    pub sender_reports: u64,
    /// Receiver reports.
    pub receiver_reports: u64,
    /// Source descriptions.
    pub sdes: u64,
    /// Goodbyes.
    pub bye: u64,
    /// Application-defined packets.
    pub app: u64,
    /// Feedback and extended reports.
    pub other: u64,
    /// Datagrams whose compound structure is broken (lengths past the end).
    pub malformed: u64,
    /// The SSRCs of the reporters, in order of appearance.
    pub ssrcs: Vec<u32>,
}

impl RtcpCounts {
    /// Counts one datagram's compound packet.
    pub fn add(&mut self, data: &[u8]) {
        self.datagrams += 1;
        let mut at = 0;
        while at + 4 <= data.len() {
            let pt = data[at + 1];
            let words = usize::from(u16::from_be_bytes([data[at + 2], data[at + 3]]));
            let end = at + 4 + words * 4;
            if data[at] >> 6 != 2 || end > data.len() {
                self.malformed += 1;
                return;
            }
            match pt {
                SR => self.sender_reports += 1,
                RR => self.receiver_reports += 1,
                SDES => self.sdes += 1,
                BYE => self.bye += 1,
                APP => self.app += 1,
                _ => self.other += 1,
            }
            if let Some(ssrc) = data.get(at + 4..at + 8) {
                let ssrc = u32::from_be_bytes([ssrc[0], ssrc[1], ssrc[2], ssrc[3]]);
                if (pt == SR || pt == RR) && !self.ssrcs.contains(&ssrc) {
                    self.ssrcs.push(ssrc);
                }
            }
            at = end;
        }
    }

    /// "SR 3, RR 1, SDES 4, BYE 1".
    pub fn summary(&self) -> String {
        let parts: Vec<String> = [
            ("SR", self.sender_reports),
            ("RR", self.receiver_reports),
            ("SDES", self.sdes),
            ("BYE", self.bye),
            ("APP", self.app),
            ("other", self.other),
            ("malformed", self.malformed),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_a_compound_packet() {
        // SR with no report blocks (7 words after the header) + SDES with one empty chunk.
        let mut sr = vec![0x80, SR, 0, 6];
        sr.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        sr.extend_from_slice(&[0; 20]);
        let sdes = [0x81, SDES, 0, 1, 0x12, 0x34, 0x56, 0x78];
        let mut packet = sr.clone();
        packet.extend_from_slice(&sdes);
        assert!(looks_like_rtcp(&packet));
        let mut c = RtcpCounts::default();
        c.add(&packet);
        assert_eq!((c.sender_reports, c.sdes, c.malformed), (1, 1, 0));
        assert_eq!(c.ssrcs, [0x1234_5678]);
        assert_eq!(c.summary(), "SR 1, SDES 1");
        c.add(&sr[..12]);
        assert_eq!(c.malformed, 1);
    }

    #[test]
    fn rtp_is_not_rtcp() {
        assert!(!looks_like_rtcp(&[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]));
        assert!(!looks_like_rtcp(&[0x80, 0x80 | 72, 0, 1]));
    }
}
