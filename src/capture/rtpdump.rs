//! rtpdump files (rtptools): `#!rtpplay1.0 ADDR/PORT\n`, a 16-byte header, then records of
//! `u16 length, u16 packet length (0 = RTCP), u32 ms offset` followed by the packet.

use std::net::SocketAddr;
use std::time::Duration;

/// One record of an rtpdump file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpRecord {
    /// Offset from the recording's start.
    pub offset: Duration,
    /// The RTP or RTCP packet.
    pub packet: Vec<u8>,
    /// The file marks it as RTCP.
    pub rtcp: bool,
}

/// A parsed rtpdump file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dump {
    /// The address the recording was made on, from the first line.
    pub destination: Option<SocketAddr>,
    /// Its records.
    pub records: Vec<DumpRecord>,
    /// Set when a record is cut short or broken: how many whole records came before it.
    pub truncated_after: Option<u64>,
}

/// True if `bytes` starts like an rtpdump file.
pub fn is_rtpdump(bytes: &[u8]) -> bool {
    bytes.starts_with(b"#!rtpplay")
}

/// Parses an rtpdump file; `None` if its header is broken.
pub fn parse(bytes: &[u8]) -> Option<Dump> {
    let line_end = bytes.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&bytes[..line_end]).ok()?;
    // "#!rtpplay1.0 127.0.0.1/5004": the address is written with a slash before the port.
    let destination = line
        .split_whitespace()
        .nth(1)
        .and_then(|a| a.rsplit_once('/'))
        .and_then(|(ip, port)| Some(SocketAddr::new(ip.parse().ok()?, port.parse().ok()?)));
    let mut at = line_end + 1 + 16;
    if at > bytes.len() {
        return None;
    }
    let mut records = Vec::new();
    let mut truncated_after = None;
    while at < bytes.len() {
        let Some(head) = bytes.get(at..at + 8) else {
            truncated_after = Some(records.len() as u64);
            break;
        };
        let len = usize::from(u16::from_be_bytes([head[0], head[1]]));
        let plen = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let offset = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        let body = bytes.get(at + 8..at + len).filter(|_| len >= 8);
        let packet = match (body, plen) {
            (Some(body), 0) => Some(body),
            (Some(body), plen) => body.get(..plen),
            (None, _) => None,
        };
        let Some(packet) = packet else {
            truncated_after = Some(records.len() as u64);
            break;
        };
        records.push(DumpRecord {
            offset: Duration::from_millis(u64::from(offset)),
            packet: packet.to_vec(),
            rtcp: plen == 0,
        });
        at += len;
    }
    Some(Dump {
        destination,
        records,
        truncated_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Vec<u8> {
        let mut f = b"#!rtpplay1.0 127.0.0.1/5004\n".to_vec();
        f.extend_from_slice(&[0u8; 16]);
        f
    }

    #[test]
    fn reads_rtp_and_rtcp_records() {
        let mut f = header();
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
        let dump = parse(&f).unwrap();
        assert_eq!(dump.destination, Some("127.0.0.1:5004".parse().unwrap()));
        assert_eq!(dump.truncated_after, None);
        let rtcp: Vec<bool> = dump.records.iter().map(|r| r.rtcp).collect();
        assert_eq!(rtcp, [false, true, false]);
        assert_eq!(dump.records[2].offset, Duration::from_millis(20));
    }

    #[test]
    fn truncation_says_where() {
        let mut f = header();
        f.extend_from_slice(&[0, 40, 0, 32, 0, 0, 0, 0, 1, 2]);
        let dump = parse(&f).unwrap();
        assert_eq!((dump.records.len(), dump.truncated_after), (0, Some(0)));
        assert_eq!(parse(b"#!rtpplay1.0 x\n\0\0"), None);
    }
}
