//! The RTP streams of a capture, as Wireshark's "RTP Streams" dialog lists them: one per
//! sender, receiver and SSRC, with the payload types each carries named from the static table
//! or the call's SDP, and RTCP, telephone events and comfort noise recognised for what they are.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use super::bindings::PayloadBindings;
use super::link::FrameCounts;
use super::naming::{name_payload, FirstUse};
use super::reader::{Capture, CaptureKind, Datagram, Truncation};
use super::rtcp::{looks_like_rtcp, RtcpCounts};
use super::sip;
use super::stats::{StatsBuilder, StreamStats};
use super::timeline::TimeJumps;
pub use super::types::{NamedBy, PayloadRole, PayloadUse};
use super::wireshark::{WiresharkBuilder, WiresharkFigures};
use crate::rtp::header::RtpHeader;
use crate::rtp::opus_toc;
use crate::rtp::payload::PayloadFormat;

impl PayloadUse {
    /// The clock to time packets by: only one the static table or the stream's own SDP gives,
    /// never a guess, and none for telephone events (their timestamp marks an event's start).
    pub fn timing_clock(&self) -> Option<u32> {
        let trusted = matches!(self.named_by, NamedBy::Static | NamedBy::Sdp);
        self.clock_rate
            .filter(|_| trusted && self.role != PayloadRole::TelephoneEvent)
    }
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
    /// Opus streams: packets whose first frame carries in-band FEC (LBRR) data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fec_packets: Option<u64>,
    /// Sequence and timing statistics.
    pub stats: StreamStats,
    /// The same stream as Wireshark's RTP Streams dialog measures it.
    pub wireshark: WiresharkFigures,
    /// SRTP: the key that opened it (or why none did) and what authenticated; absent for
    /// plain RTP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub srtp: Option<super::types::SrtpFlow>,
}

impl RtpStream {
    /// The main payload type's use.
    pub fn main_payload(&self) -> Option<&PayloadUse> {
        self.payloads.iter().find(|p| p.pt == self.pt)
    }

    /// The telephone-event payload type, if the stream carries one.
    pub fn telephone_event_pt(&self) -> Option<u8> {
        telephone_event_pt(&self.payloads)
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
    /// Where the capture's clock jumped: pauses skipped, taking no time.
    pub time_jumps: TimeJumps,
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
    /// Capture time of the first packet of each payload type.
    pt_first_at: HashMap<u8, Duration>,
}

/// Finds the streams of `capture`.
pub fn analyse(capture: &Capture) -> StreamsReport {
    let bindings = sip::scan(capture.datagrams.iter().chain(&capture.sip_over_tcp));
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
        g.pt_first_at.entry(h.payload_type).or_insert(d.at);
    }
    let mut streams = Vec::new();
    for key in order {
        let g = &gathered[&key];
        // A lone "RTP" datagram is far likelier some other protocol that happens to start with 0x80.
        if g.indices.len() < 2 {
            other_udp += g.indices.len() as u64;
            continue;
        }
        let mut stream = describe(streams.len() + 1, key, g, &capture.datagrams, &bindings);
        stream.srtp = (capture.srtp.iter())
            .find(|f| f.src == key.0 && f.dst == key.1)
            .cloned();
        streams.push(stream);
    }
    StreamsReport {
        kind: capture.kind,
        records: capture.records,
        udp: capture.datagrams.len() as u64,
        other_udp,
        sip_messages: bindings.sip_messages,
        sdp_bodies: bindings.sdp_bodies,
        frames: capture.frames,
        unsupported_link: capture.unsupported_link,
        truncated: capture.truncated.clone(),
        time_jumps: capture.time_jumps.clone(),
        streams,
        rtcp,
    }
}

fn describe(
    index: usize,
    (src, dst, ssrc): StreamKey,
    g: &Gathered,
    datagrams: &[Datagram],
    bindings: &PayloadBindings,
) -> RtpStream {
    let packets = || g.indices.iter().map(|&i| &datagrams[i]);
    let mut payloads: Vec<PayloadUse> = g
        .pt_counts
        .iter()
        .map(|(&pt, &n)| {
            let first = FirstUse {
                src,
                dst,
                at: g.pt_first_at.get(&pt).copied().unwrap_or_default(),
                packets: n,
            };
            name_payload(pt, first, bindings, packets())
        })
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
    let mut stats = StatsBuilder::new(main.timing_clock());
    let mut wireshark = WiresharkBuilder::new();
    let clocks: HashMap<u8, Option<u32>> =
        payloads.iter().map(|p| (p.pt, p.timing_clock())).collect();
    let mut event_starts = std::collections::HashSet::new();
    let event_pt = telephone_event_pt(&payloads);
    let is_opus = main.format == Some(PayloadFormat::Opus);
    let mut fec_packets = 0;
    let mut segment = None;
    for d in packets() {
        let Ok(h) = RtpHeader::parse(&d.payload) else {
            continue;
        };
        let pauses = d.segment.saturating_sub(*segment.get_or_insert(d.segment));
        segment = Some(d.segment);
        if pauses > 0 {
            stats.skipped_pauses(pauses);
            wireshark.skipped_pause();
        }
        stats.add(d.at, h.sequence, h.timestamp, h.payload_type == pt);
        let clock = clocks.get(&h.payload_type).copied().flatten();
        wireshark.add(
            d.at,
            h.sequence,
            h.timestamp,
            h.payload_type,
            h.marker,
            clock,
        );
        if Some(h.payload_type) == event_pt {
            event_starts.insert(h.timestamp);
        }
        if is_opus
            && h.payload_type == pt
            && opus_toc::parse(h.payload(&d.payload)).is_ok_and(|i| i.has_fec)
        {
            fec_packets += 1;
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
        fec_packets: is_opus.then_some(fec_packets),
        stats: stats.finish(),
        wireshark: wireshark.finish(),
        srtp: None,
    }
}

fn telephone_event_pt(payloads: &[PayloadUse]) -> Option<u8> {
    payloads
        .iter()
        .find(|p| p.role == PayloadRole::TelephoneEvent)
        .map(|p| p.pt)
}

#[cfg(test)]
#[path = "streams_tests.rs"]
mod tests;
