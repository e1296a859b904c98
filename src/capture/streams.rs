//! The RTP streams of a capture, as Wireshark's "RTP Streams" dialog lists them: one per
//! sender, receiver and SSRC, with the payload types each carries named from the static table
//! or the call's SDP, and RTCP, telephone events and comfort noise recognised for what they are.

use std::collections::HashMap;
use std::net::SocketAddr;

use serde::Serialize;

use super::link::FrameCounts;
use super::reader::{Capture, CaptureKind, Datagram, Truncation};
use super::rtcp::{looks_like_rtcp, RtcpCounts};
use super::sip::SignalledPayloads;
use super::stats::{StatsBuilder, StreamStats};
use crate::rtp::header::RtpHeader;
use crate::rtp::payload::PayloadFormat;

/// What a payload type in a stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PayloadRole {
    /// Audio jitterplay decodes.
    Audio,
    /// Audio in a codec jitterplay does not decode (named, e.g. opus or G.729).
    UnsupportedAudio,
    /// RFC 4733 telephone events (DTMF).
    TelephoneEvent,
    /// RFC 3389 comfort noise.
    ComfortNoise,
    /// A dynamic payload type nothing names.
    Unknown,
}

/// Where a payload type's meaning came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NamedBy {
    /// The RFC 3551 static table.
    Static,
    /// An SDP body in the capture's SIP signalling.
    Sdp,
    /// The packets' shape (4-byte RFC 4733 events without SDP).
    Guess,
    /// Nothing.
    Nothing,
}

/// One payload type used in a stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PayloadUse {
    /// The payload type.
    pub pt: u8,
    /// Its name: `PCMU/8000`, `opus/48000/2`, `telephone-event/8000`, `dynamic 96`.
    pub name: String,
    /// What it is.
    pub role: PayloadRole,
    /// Where that came from.
    pub named_by: NamedBy,
    /// Packets carrying it.
    pub packets: u64,
    /// The format, when jitterplay knows it.
    #[serde(skip)]
    pub format: Option<PayloadFormat>,
    /// Its RTP clock rate, when known.
    pub clock_rate: Option<u32>,
}

/// What a stream is as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamKind {
    /// Playable audio.
    Audio,
    /// Audio in a codec jitterplay does not decode.
    UnsupportedAudio,
    /// Only telephone events.
    TelephoneEvents,
    /// Only comfort noise.
    ComfortNoise,
    /// A dynamic payload type without SDP (`--format` can say what it is).
    Unknown,
}

/// One RTP stream.
#[derive(Debug, Clone, Serialize)]
pub struct RtpStream {
    /// 1-based index, the `--stream` number.
    pub index: usize,
    /// Sender (absent in rtpdump files).
    pub src: Option<SocketAddr>,
    /// Receiver.
    pub dst: Option<SocketAddr>,
    /// Synchronisation source.
    pub ssrc: u32,
    /// What it is.
    pub kind: StreamKind,
    /// The main payload type (the most used media one).
    pub pt: u8,
    /// Its name.
    pub codec: String,
    /// Every payload type used, most packets first.
    pub payloads: Vec<PayloadUse>,
    /// Distinct telephone events (by RTP timestamp).
    pub telephone_events: u64,
    /// Sequence and timing statistics.
    pub stats: StreamStats,
}

impl RtpStream {
    /// The main payload type's use.
    pub fn main_payload(&self) -> Option<&PayloadUse> {
        self.payloads.iter().find(|p| p.pt == self.pt)
    }

    /// The telephone-event payload type, if the stream carries one.
    pub fn telephone_event_pt(&self) -> Option<u8> {
        self.payloads
            .iter()
            .find(|p| p.role == PayloadRole::TelephoneEvent)
            .map(|p| p.pt)
    }

    /// True if `d` is one of this stream's packets.
    pub fn owns(&self, d: &Datagram) -> bool {
        d.src == self.src
            && d.dst == self.dst
            && !d.rtcp_hint
            && !looks_like_rtcp(&d.payload)
            && RtpHeader::parse(&d.payload).is_ok_and(|h| h.ssrc == self.ssrc)
    }
}

/// RTCP between two endpoints.
#[derive(Debug, Clone, Serialize)]
pub struct RtcpFlow {
    /// Sender.
    pub src: Option<SocketAddr>,
    /// Receiver.
    pub dst: Option<SocketAddr>,
    /// What it held.
    pub counts: RtcpCounts,
}

/// Everything `jitterplay streams` reports about a capture.
#[derive(Debug, Clone, Serialize)]
pub struct StreamsReport {
    /// File format.
    pub kind: CaptureKind,
    /// Records read.
    pub records: u64,
    /// UDP datagrams among them.
    pub udp: u64,
    /// UDP datagrams that were neither RTP of a stream nor RTCP (SIP, DNS, stray packets).
    pub other_udp: u64,
    /// SIP messages, and SDP bodies read from them.
    pub sip_messages: u64,
    /// SDP bodies that named payload types.
    pub sdp_bodies: u64,
    /// What the frames held besides UDP.
    pub frames: FrameCounts,
    /// Frames on link types jitterplay does not read.
    pub unsupported_link: u64,
    /// Where the capture was cut short, if it was.
    pub truncated: Option<Truncation>,
    /// The RTP streams, in order of first packet.
    pub streams: Vec<RtpStream>,
    /// RTCP flows.
    pub rtcp: Vec<RtcpFlow>,
}

type StreamKey = (Option<SocketAddr>, Option<SocketAddr>, u32);

/// Packets of one stream being gathered.
#[derive(Debug, Default)]
struct Gathered {
    indices: Vec<usize>,
    pt_counts: HashMap<u8, u64>,
}

/// Finds the streams of `capture`.
pub fn analyse(capture: &Capture) -> StreamsReport {
    let signalled = SignalledPayloads::scan(capture.datagrams.iter().chain(&capture.sip_over_tcp));
    let mut order: Vec<StreamKey> = Vec::new();
    let mut gathered: HashMap<StreamKey, Gathered> = HashMap::new();
    let mut rtcp: Vec<RtcpFlow> = Vec::new();
    let mut other_udp = 0;
    for (i, d) in capture.datagrams.iter().enumerate() {
        if d.rtcp_hint || looks_like_rtcp(&d.payload) {
            let flow = match rtcp.iter_mut().find(|f| f.src == d.src && f.dst == d.dst) {
                Some(f) => f,
                None => {
                    rtcp.push(RtcpFlow {
                        src: d.src,
                        dst: d.dst,
                        counts: RtcpCounts::default(),
                    });
                    rtcp.last_mut().expect("just pushed")
                }
            };
            flow.counts.add(&d.payload);
            continue;
        }
        let Ok(h) = RtpHeader::parse(&d.payload) else {
            other_udp += 1;
            continue;
        };
        let key = (d.src, d.dst, h.ssrc);
        let g = gathered.entry(key).or_insert_with(|| {
            order.push(key);
            Gathered::default()
        });
        g.indices.push(i);
        *g.pt_counts.entry(h.payload_type).or_default() += 1;
    }
    let mut streams = Vec::new();
    for key in order {
        let g = &gathered[&key];
        // A lone "RTP" datagram is far likelier some other protocol that happens to start with 0x80.
        if g.indices.len() < 2 {
            other_udp += g.indices.len() as u64;
            continue;
        }
        streams.push(describe(
            streams.len() + 1,
            key,
            g,
            &capture.datagrams,
            &signalled,
        ));
    }
    StreamsReport {
        kind: capture.kind,
        records: capture.records,
        udp: capture.datagrams.len() as u64,
        other_udp,
        sip_messages: signalled.sip_messages,
        sdp_bodies: signalled.sdp_bodies,
        frames: capture.frames,
        unsupported_link: capture.unsupported_link,
        truncated: capture.truncated.clone(),
        streams,
        rtcp,
    }
}

fn describe(
    index: usize,
    (src, dst, ssrc): StreamKey,
    g: &Gathered,
    datagrams: &[Datagram],
    signalled: &SignalledPayloads,
) -> RtpStream {
    let packets = || g.indices.iter().map(|&i| &datagrams[i]);
    let mut payloads: Vec<PayloadUse> = g
        .pt_counts
        .iter()
        .map(|(&pt, &n)| name_payload(pt, n, src, dst, signalled, packets()))
        .collect();
    payloads.sort_by_key(|p| (std::cmp::Reverse(p.packets), p.pt));
    let rank = |role: PayloadRole| match role {
        PayloadRole::Audio => 0,
        PayloadRole::UnsupportedAudio => 1,
        PayloadRole::Unknown => 2,
        PayloadRole::ComfortNoise => 3,
        PayloadRole::TelephoneEvent => 4,
    };
    let main = payloads
        .iter()
        .min_by_key(|p| (rank(p.role), std::cmp::Reverse(p.packets)))
        .expect("a stream has packets");
    let kind = match main.role {
        PayloadRole::Audio => StreamKind::Audio,
        PayloadRole::UnsupportedAudio => StreamKind::UnsupportedAudio,
        PayloadRole::Unknown => StreamKind::Unknown,
        PayloadRole::ComfortNoise => StreamKind::ComfortNoise,
        PayloadRole::TelephoneEvent => StreamKind::TelephoneEvents,
    };
    let (pt, codec) = (main.pt, main.name.clone());
    let mut stats = StatsBuilder::new(main.clock_rate);
    let mut event_starts = Vec::new();
    let event_pt = payloads
        .iter()
        .find(|p| p.role == PayloadRole::TelephoneEvent)
        .map(|p| p.pt);
    for d in packets() {
        let Ok(h) = RtpHeader::parse(&d.payload) else {
            continue;
        };
        stats.add(d.at, h.sequence, h.timestamp, h.payload_type == pt);
        if Some(h.payload_type) == event_pt && !event_starts.contains(&h.timestamp) {
            event_starts.push(h.timestamp);
        }
    }
    RtpStream {
        index,
        src,
        dst,
        ssrc,
        kind,
        pt,
        codec,
        payloads,
        telephone_events: event_starts.len() as u64,
        stats: stats.finish(),
    }
}

/// Names payload type `pt`: from the call's SDP, else the static table, else its packets' shape.
fn name_payload<'a>(
    pt: u8,
    packets: u64,
    src: Option<SocketAddr>,
    dst: Option<SocketAddr>,
    signalled: &SignalledPayloads,
    stream: impl Iterator<Item = &'a Datagram>,
) -> PayloadUse {
    let use_of =
        |name: String, role, named_by, format: Option<PayloadFormat>, clock_rate| PayloadUse {
            pt,
            name,
            role,
            named_by,
            packets,
            format,
            clock_rate,
        };
    if let Some(p) = signalled.lookup(src, dst, pt) {
        let rtpmap = p.rtpmap.clone();
        let clock = rtpmap
            .as_deref()
            .and_then(|m| m.split('/').nth(1)?.parse().ok())
            .or(p.format.map(|f| f.clock_rate()));
        let name = rtpmap.unwrap_or_else(|| p.format.map_or(format!("PT {pt}"), |f| f.rtpmap()));
        return use_of(
            name.clone(),
            role_of(p.format, &name),
            NamedBy::Sdp,
            p.format,
            clock,
        );
    }
    if let Some(f) = PayloadFormat::from_static_pt(pt) {
        return use_of(
            f.rtpmap(),
            role_of(Some(f), ""),
            NamedBy::Static,
            Some(f),
            Some(f.clock_rate()),
        );
    }
    if let Some((name, clock)) = unsupported_static(pt) {
        return use_of(
            name.into(),
            PayloadRole::UnsupportedAudio,
            NamedBy::Static,
            None,
            Some(clock),
        );
    }
    if looks_like_telephone_events(pt, stream) {
        let f = PayloadFormat::TelephoneEvent { rate: 8000 };
        return use_of(
            "telephone-event/8000".into(),
            PayloadRole::TelephoneEvent,
            NamedBy::Guess,
            Some(f),
            Some(8000),
        );
    }
    use_of(
        format!("dynamic {pt}"),
        PayloadRole::Unknown,
        NamedBy::Nothing,
        None,
        None,
    )
}

fn role_of(format: Option<PayloadFormat>, name: &str) -> PayloadRole {
    match format {
        Some(PayloadFormat::TelephoneEvent { .. }) => PayloadRole::TelephoneEvent,
        Some(PayloadFormat::ComfortNoise { .. }) => PayloadRole::ComfortNoise,
        Some(_) => PayloadRole::Audio,
        None => {
            let lower = name.to_ascii_lowercase();
            if lower.starts_with("telephone-event") {
                PayloadRole::TelephoneEvent
            } else if lower.starts_with("cn/") {
                PayloadRole::ComfortNoise
            } else {
                PayloadRole::UnsupportedAudio
            }
        }
    }
}

/// Static audio payload types (RFC 3551 table 4) that jitterplay does not decode.
fn unsupported_static(pt: u8) -> Option<(&'static str, u32)> {
    Some(match pt {
        3 => ("GSM/8000", 8000),
        4 => ("G723/8000", 8000),
        5 => ("DVI4/8000", 8000),
        6 => ("DVI4/16000", 16000),
        7 => ("LPC/8000", 8000),
        9 => ("G722/8000", 8000),
        12 => ("QCELP/8000", 8000),
        15 => ("G728/8000", 8000),
        16 => ("DVI4/11025", 11025),
        17 => ("DVI4/22050", 22050),
        18 => ("G729/8000", 8000),
        _ => return None,
    })
}

/// RFC 4733 events without SDP: every payload 4 bytes, and an event's packets share their
/// timestamp (updates and the three end packets) or carry the end bit.
fn looks_like_telephone_events<'a>(pt: u8, stream: impl Iterator<Item = &'a Datagram>) -> bool {
    let mut timestamps = std::collections::HashSet::new();
    let mut repeated_or_ended = false;
    for d in stream {
        let Ok(h) = RtpHeader::parse(&d.payload) else {
            continue;
        };
        if h.payload_type != pt {
            continue;
        }
        let payload = h.payload(&d.payload);
        if payload.len() != 4 {
            return false;
        }
        repeated_or_ended |= payload[1] & 0x80 != 0 || !timestamps.insert(h.timestamp);
    }
    repeated_or_ended
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::capture::link::FrameCounts;

    fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, pt];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn datagram(at_ms: u64, src: &str, dst: &str, payload: Vec<u8>) -> Datagram {
        Datagram {
            at: Duration::from_millis(at_ms),
            src: Some(src.parse().unwrap()),
            dst: Some(dst.parse().unwrap()),
            payload,
            rtcp_hint: false,
        }
    }

    fn capture(datagrams: Vec<Datagram>, sip_over_tcp: Vec<Datagram>) -> Capture {
        Capture {
            kind: CaptureKind::Pcap,
            records: (datagrams.len() + sip_over_tcp.len()) as u64,
            datagrams,
            sip_over_tcp,
            frames: FrameCounts::default(),
            unsupported_link: 0,
            truncated: None,
        }
    }

    fn l16_stream() -> Vec<Datagram> {
        (0..50u16)
            .map(|i| {
                let p = rtp(96, i, u32::from(i) * 160, 7, &[0; 320]);
                datagram(u64::from(i) * 20, "10.0.0.1:4000", "10.0.0.2:6000", p)
            })
            .collect()
    }

    #[test]
    fn sdp_carried_by_sip_over_tcp_names_the_payload_type() {
        let invite = b"INVITE sip:b@10.0.0.2 SIP/2.0\r\nContent-Type: application/sdp\r\n\r\nv=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 6000 RTP/AVP 96\r\na=rtpmap:96 L16/8000/1\r\n";
        let sip = datagram(0, "10.0.0.2:5060", "10.0.0.1:5060", invite.to_vec());
        let report = analyse(&capture(l16_stream(), vec![sip]));
        let s = &report.streams[0];
        assert_eq!(
            (s.kind, s.codec.as_str()),
            (StreamKind::Audio, "L16/8000/1")
        );
        assert_eq!(s.payloads[0].named_by, NamedBy::Sdp);
        assert_eq!(report.sip_messages, 1);

        let unnamed = analyse(&capture(l16_stream(), Vec::new()));
        assert_eq!(unnamed.streams[0].kind, StreamKind::Unknown);
    }

    #[test]
    fn rtcp_and_lone_packets_are_not_streams() {
        let mut datagrams = l16_stream();
        let mut rr = vec![0x80, 201, 0, 1];
        rr.extend_from_slice(&7u32.to_be_bytes());
        datagrams.push(datagram(5, "10.0.0.2:6001", "10.0.0.1:4001", rr));
        datagrams.push(datagram(
            6,
            "10.0.0.3:53",
            "10.0.0.1:53",
            rtp(0, 1, 1, 99, &[0; 4]),
        ));
        let report = analyse(&capture(datagrams, Vec::new()));
        assert_eq!(report.streams.len(), 1);
        assert_eq!(report.rtcp[0].counts.receiver_reports, 1);
        assert_eq!(report.other_udp, 1);
    }

    #[test]
    fn an_unsupported_static_codec_is_named() {
        let datagrams = (0..5u16)
            .map(|i| {
                let p = rtp(18, i, u32::from(i) * 160, 3, &[0; 20]);
                datagram(u64::from(i) * 20, "10.0.0.1:4000", "10.0.0.2:6000", p)
            })
            .collect();
        let report = analyse(&capture(datagrams, Vec::new()));
        let s = &report.streams[0];
        assert_eq!(
            (s.kind, s.codec.as_str()),
            (StreamKind::UnsupportedAudio, "G729/8000")
        );
    }
}
