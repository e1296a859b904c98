//! Packet captures as input: pcap, pcapng and rtpdump files, reduced to the RTP audio stream
//! they carry, with each packet's original arrival time (relative to the first).

pub mod link;
pub mod rtpdump;

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;

use crate::rtp::header::RtpHeader;
use crate::rtp::payload::PayloadFormat;
use link::{udp_in_frame, Link};

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// Not a capture format we read, or broken.
    #[error("{path}: not a readable pcap, pcapng or rtpdump file ({reason})")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        reason: String,
    },
    /// No RTP audio stream was found.
    #[error("{path}: no RTP audio stream found ({udp} UDP datagrams; give --format/--pt if the payload type is dynamic)")]
    NoStream {
        /// The file.
        path: PathBuf,
        /// UDP datagrams seen.
        udp: usize,
    },
}

/// One captured datagram of the selected stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedPacket {
    /// Arrival time relative to the stream's first packet.
    pub at: Duration,
    /// The RTP packet.
    pub bytes: Vec<u8>,
}

/// The stream selected from a capture.
#[derive(Debug, Clone)]
pub struct CapturedStream {
    /// Sender, when the capture says (rtpdump files do not).
    pub source: Option<SocketAddr>,
    /// Receiver, when the capture says.
    pub destination: Option<SocketAddr>,
    /// Its packets in capture order.
    pub packets: Vec<CapturedPacket>,
    /// Frames that were not whole UDP datagrams, or records that were broken.
    pub skipped: u64,
}

/// Reads `path` and selects the RTP flow with the most packets of `pt` (if given) or of a
/// payload type whose format is known (static, or `format` given).
pub fn read_stream(
    path: &Path,
    pt: Option<u8>,
    format: Option<PayloadFormat>,
) -> Result<CapturedStream, CaptureError> {
    let bytes = std::fs::read(path).map_err(|error| CaptureError::Io {
        path: path.to_owned(),
        error,
    })?;
    let (datagrams, skipped) = if rtpdump::is_rtpdump(&bytes) {
        let (packets, malformed) = rtpdump::parse(&bytes).ok_or_else(|| CaptureError::Format {
            path: path.to_owned(),
            reason: "broken rtpdump header".into(),
        })?;
        (
            packets
                .into_iter()
                .map(|p| (p.offset, None, None, p.packet))
                .collect::<Vec<_>>(),
            malformed,
        )
    } else {
        udp_datagrams(path)?
    };
    let udp = datagrams.len();
    let wanted = |data: &[u8]| -> bool {
        RtpHeader::parse(data).is_ok_and(|h| match pt {
            Some(pt) => h.payload_type == pt,
            None => {
                format.is_some()
                    || PayloadFormat::from_static_pt(h.payload_type).is_some_and(|f| f.is_audio())
            }
        })
    };
    let mut flows: HashMap<(Option<SocketAddr>, Option<SocketAddr>), usize> = HashMap::new();
    for (_, src, dst, data) in &datagrams {
        if wanted(data) {
            *flows.entry((*src, *dst)).or_default() += 1;
        }
    }
    let Some((&flow, _)) = flows
        .iter()
        .max_by_key(|(flow, n)| (**n, format!("{flow:?}")))
    else {
        return Err(CaptureError::NoStream {
            path: path.to_owned(),
            udp,
        });
    };
    let mut first = None;
    let packets = datagrams
        .into_iter()
        .filter(|(_, src, dst, _)| (*src, *dst) == flow)
        .map(|(t, _, _, bytes)| {
            let t0 = *first.get_or_insert(t);
            CapturedPacket {
                at: t.saturating_sub(t0),
                bytes,
            }
        })
        .collect();
    Ok(CapturedStream {
        source: flow.0,
        destination: flow.1,
        packets,
        skipped,
    })
}

type Datagram = (Duration, Option<SocketAddr>, Option<SocketAddr>, Vec<u8>);

fn udp_datagrams(path: &Path) -> Result<(Vec<Datagram>, u64), CaptureError> {
    let open = || {
        File::open(path)
            .map(BufReader::new)
            .map_err(|error| CaptureError::Io {
                path: path.to_owned(),
                error,
            })
    };
    let format_error = |reason: String| CaptureError::Format {
        path: path.to_owned(),
        reason,
    };
    let mut out = Vec::new();
    let mut skipped = 0;
    let mut take = |link: Option<Link>, t: Duration, data: &[u8]| match link
        .and_then(|l| udp_in_frame(l, data))
    {
        Some(d) => out.push((t, Some(d.src), Some(d.dst), d.payload.to_vec())),
        None => skipped += 1,
    };
    match PcapReader::new(open()?) {
        Ok(mut reader) => {
            let link = link_of(reader.header().datalink);
            while let Some(packet) = reader.next_packet() {
                match packet {
                    Ok(p) => take(link, p.timestamp, &p.data),
                    // A truncated last record is common in captures cut short: keep what came before.
                    Err(_) => break,
                }
            }
        }
        Err(pcap_error) => {
            let mut reader = PcapNgReader::new(open()?)
                .map_err(|e| format_error(format!("{pcap_error}; {e}")))?;
            let mut links: Vec<Option<Link>> = Vec::new();
            while let Some(block) = reader.next_block() {
                let Ok(block) = block else { break };
                match block {
                    Block::InterfaceDescription(idb) => links.push(link_of(idb.linktype)),
                    Block::EnhancedPacket(epb) => {
                        let link = links.get(epb.interface_id as usize).copied().flatten();
                        take(link, epb.timestamp, &epb.data);
                    }
                    _ => {}
                }
            }
        }
    }
    Ok((out, skipped))
}

fn link_of(datalink: DataLink) -> Option<Link> {
    Some(match datalink {
        DataLink::ETHERNET => Link::Ethernet,
        DataLink::LINUX_SLL => Link::LinuxSll,
        DataLink::LINUX_SLL2 => Link::LinuxSll2,
        DataLink::NULL | DataLink::LOOP => Link::Null,
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => Link::RawIp,
        _ => return None,
    })
}

/// True if `path` looks like a capture by its extension.
pub fn is_capture_path(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("pcap" | "pcapng" | "cap" | "rtp" | "rtpdump")
    )
}
