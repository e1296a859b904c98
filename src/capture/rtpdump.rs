//! rtpdump files (rtptools): `#!rtpplay1.0 ADDR/PORT\n`, a 16-byte header, then records of
//! `u16 length, u16 packet length (0 = RTCP), u32 ms offset` followed by the packet.

use std::time::Duration;

/// One RTP packet of an rtpdump file and its offset from the start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpedPacket {
    /// Offset from the recording's start.
    pub offset: Duration,
    /// The RTP packet.
    pub packet: Vec<u8>,
}

/// True if `bytes` starts like an rtpdump file.
pub fn is_rtpdump(bytes: &[u8]) -> bool {
    bytes.starts_with(b"#!rtpplay")
}

/// Parses an rtpdump file's RTP packets (RTCP records are skipped); `None` if the header is broken.
/// Returns the packets and how many records were malformed or truncated.
pub fn parse(bytes: &[u8]) -> Option<(Vec<DumpedPacket>, u64)> {
    let line_end = bytes.iter().position(|&b| b == b'\n')?;
    let mut at = line_end + 1 + 16;
    let mut packets = Vec::new();
    let mut malformed = 0;
    while at + 8 <= bytes.len() {
        let len = usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
        let plen = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        let offset =
            u32::from_be_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        if len < 8 || at + len > bytes.len() {
            malformed += 1;
            break;
        }
        let body = &bytes[at + 8..at + len];
        if plen > 0 {
            match body.get(..plen) {
                Some(packet) => packets.push(DumpedPacket {
                    offset: Duration::from_millis(u64::from(offset)),
                    packet: packet.to_vec(),
                }),
                None => malformed += 1,
            }
        }
        at += len;
    }
    Some((packets, malformed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rtp_records_and_skips_rtcp() {
        let mut f = b"#!rtpplay1.0 127.0.0.1/5004\n".to_vec();
        f.extend_from_slice(&[0u8; 16]);
        for (plen, ms, body) in [
            (12u16, 0u32, [0x80u8; 12]),
            (0, 5, [0x81; 12]),
            (12, 20, [0x80; 12]),
        ] {
            f.extend_from_slice(&(8 + 12u16).to_be_bytes());
            f.extend_from_slice(&plen.to_be_bytes());
            f.extend_from_slice(&ms.to_be_bytes());
            f.extend_from_slice(&body);
        }
        let (packets, malformed) = parse(&f).unwrap();
        assert_eq!(malformed, 0);
        assert_eq!(packets.len(), 2);
        assert_eq!(packets[1].offset, Duration::from_millis(20));
    }

    #[test]
    fn truncation_is_counted_not_fatal() {
        let mut f = b"#!rtpplay1.0 127.0.0.1/5004\n".to_vec();
        f.extend_from_slice(&[0u8; 16]);
        f.extend_from_slice(&[0, 40, 0, 32, 0, 0, 0, 0, 1, 2]);
        assert_eq!(parse(&f), Some((Vec::new(), 1)));
    }
}
