//! Reading a capture file (libpcap, pcapng or rtpdump) into the UDP datagrams it holds, each
//! with its arrival time (the capture's clock with its jumps skipped, see [`super::timeline`]);
//! a capture cut short yields what it has and says where it ended.

use std::fs::File;
use std::io::Read;

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::DataLink;
use serde::Serialize;

use super::error::CaptureError;
use super::link::{FrameContent, FrameCounts, Link, UdpExtractor};
use super::record_buffer::RecordBuffer;
use super::rtpdump;
use super::timeline::{TimeJumps, Timeline, DEFAULT_IDLE_TIMEOUT};

/// Which file format a capture is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureKind {
    /// Classic libpcap.
    Pcap,
    /// pcapng.
    PcapNg,
    /// rtptools' rtpdump (`#!rtpplay1.0`).
    RtpDump,
}

pub use super::types::Datagram;

/// Where a capture cut short ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Truncation {
    /// Records read whole before the break.
    pub records: u64,
    /// Capture time of the last whole record, in seconds.
    pub at_s: f64,
    /// What the reader found.
    pub reason: String,
}

/// Everything read from a capture.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The file format.
    pub kind: CaptureKind,
    /// Records (frames) read.
    pub records: u64,
    /// The UDP datagrams, in capture order.
    pub datagrams: Vec<Datagram>,
    /// TCP segments that start like SIP messages (their SDP names payload types).
    pub sip_over_tcp: Vec<Datagram>,
    /// What the frames held besides whole UDP datagrams.
    pub frames: FrameCounts,
    /// Frames on link types jitterplay does not read.
    pub unsupported_link: u64,
    /// Set when the file ends in the middle of a record or block.
    pub truncated: Option<Truncation>,
    /// Where the capture's clock jumped (skipped as pauses).
    pub time_jumps: TimeJumps,
    /// What SRTP decryption did, flow by flow (empty until `srtp_flows::decrypt` runs, and
    /// for plain RTP).
    pub srtp: Vec<super::types::SrtpFlow>,
}

/// Reads the capture at `path` with the default idle timeout.
pub fn read_capture(path: &Path) -> Result<Capture, CaptureError> {
    read_capture_with(path, DEFAULT_IDLE_TIMEOUT)
}

/// Reads the capture at `path`; a jump of its clock longer than `idle_timeout`, or backwards,
/// is a pause that takes no time.
pub fn read_capture_with(path: &Path, idle_timeout: Duration) -> Result<Capture, CaptureError> {
    let file = File::open(path).map_err(|error| CaptureError::Io {
        path: path.to_owned(),
        error,
    })?;
    let mut lists = Lists::default();
    let capture = read_capture_from(file, path, idle_timeout, &mut lists)?;
    Ok(lists.into_capture(capture))
}

/// Reads the capture at `path` one datagram at a time, holding none of them: `on_datagram`
/// gets each UDP datagram (and each TCP segment that starts like a SIP message) in capture
/// order, and returns [`ControlFlow::Break`] to stop reading. What is returned describes the
/// capture (records, frames, pauses, truncation); its `datagrams` and `sip_over_tcp` are empty.
/// Memory stays bounded whatever the capture's size.
pub fn stream_capture(
    path: &Path,
    idle_timeout: Duration,
    on_datagram: impl FnMut(FoundDatagram<'_>) -> ControlFlow<()>,
) -> Result<Capture, CaptureError> {
    let file = File::open(path).map_err(|error| CaptureError::Io {
        path: path.to_owned(),
        error,
    })?;
    let mut sink = Streamed {
        on_datagram,
        stopped: false,
    };
    // The record buffer (128 KiB) keeps reads few and stays within the core's L2 cache, so
    // that each read does not push the streams' state out.
    read_capture_from(file, path, idle_timeout, &mut sink)
}

/// A datagram as [`stream_capture`] hands it over, borrowing the record it came from.
#[derive(Debug, Clone, Copy)]
pub struct FoundDatagram<'a> {
    /// Arrival time: capture time since the first record, less the pauses skipped before it.
    pub at: Duration,
    /// Pauses skipped before it (see [`Datagram::segment`]).
    pub segment: u64,
    /// Sender, when the capture says (rtpdump files do not).
    pub src: Option<SocketAddr>,
    /// Receiver, when the capture says.
    pub dst: Option<SocketAddr>,
    /// The UDP (or TCP, for SIP) payload.
    pub payload: &'a [u8],
    /// True when an rtpdump file marks the record as RTCP.
    pub rtcp_hint: bool,
    /// A TCP segment that starts like a SIP message, not a UDP datagram.
    pub sip_over_tcp: bool,
}

impl FoundDatagram<'_> {
    fn to_owned_datagram(self) -> Datagram {
        Datagram {
            at: self.at,
            segment: self.segment,
            src: self.src,
            dst: self.dst,
            payload: self.payload.to_vec(),
            rtcp_hint: self.rtcp_hint,
        }
    }
}

/// Where the readers put what they find.
trait Sink {
    /// Takes one datagram.
    fn take(&mut self, d: FoundDatagram<'_>);
    /// Whether reading should stop.
    fn stopped(&self) -> bool;
}

/// The sink of [`read_capture`]: every datagram kept.
#[derive(Default)]
struct Lists {
    datagrams: Vec<Datagram>,
    sip_over_tcp: Vec<Datagram>,
}

impl Lists {
    fn into_capture(self, mut capture: Capture) -> Capture {
        capture.datagrams = self.datagrams;
        capture.sip_over_tcp = self.sip_over_tcp;
        capture
    }
}

impl Sink for Lists {
    fn take(&mut self, d: FoundDatagram<'_>) {
        let list = if d.sip_over_tcp {
            &mut self.sip_over_tcp
        } else {
            &mut self.datagrams
        };
        list.push(d.to_owned_datagram());
    }

    fn stopped(&self) -> bool {
        false
    }
}

/// The sink of [`stream_capture`]: each datagram handed on.
struct Streamed<F> {
    on_datagram: F,
    stopped: bool,
}

impl<F: FnMut(FoundDatagram<'_>) -> ControlFlow<()>> Sink for Streamed<F> {
    fn take(&mut self, d: FoundDatagram<'_>) {
        if !self.stopped {
            self.stopped = (self.on_datagram)(d).is_break();
        }
    }

    fn stopped(&self) -> bool {
        self.stopped
    }
}

/// Reads a capture held in memory (fuzzing, tests) with the default idle timeout; errors name
/// the file `<memory>`.
pub fn read_capture_bytes(bytes: &[u8]) -> Result<Capture, CaptureError> {
    let mut lists = Lists::default();
    let capture = read_capture_from(
        bytes,
        Path::new("<memory>"),
        DEFAULT_IDLE_TIMEOUT,
        &mut lists,
    )?;
    Ok(lists.into_capture(capture))
}

/// Reads a capture from `input`, recognised by its first bytes, into `sink`; `path` names it
/// in errors. The returned capture's lists are empty: the sink has the datagrams.
fn read_capture_from<R: Read>(
    mut input: R,
    path: &Path,
    idle_timeout: Duration,
    sink: &mut impl Sink,
) -> Result<Capture, CaptureError> {
    let io = |error| CaptureError::Io {
        path: path.to_owned(),
        error,
    };
    let mut magic = [0u8; 9];
    let n = read_up_to(&mut input, &mut magic).map_err(io)?;
    let magic = &magic[..n];
    // The format readers want the whole stream, magic included: put it back in front.
    let mut input = magic.chain(input);
    let not_capture = || CaptureError::NotCapture {
        path: path.to_owned(),
    };
    if rtpdump::is_rtpdump(magic) {
        let mut bytes = Vec::new();
        input.read_to_end(&mut bytes).map_err(io)?;
        return read_rtpdump(&bytes, idle_timeout, sink).ok_or_else(not_capture);
    }
    let format = |e: pcap_file::PcapError| CaptureError::Format {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let mut input = RecordBuffer::new(input);
    match magic.get(..4) {
        Some([0xA1, 0xB2, 0xC3, 0xD4] | [0xD4, 0xC3, 0xB2, 0xA1])
        | Some([0xA1, 0xB2, 0x3C, 0x4D] | [0x4D, 0x3C, 0xB2, 0xA1]) => {
            let parser = first_record(&mut input, PcapParser::new).map_err(format)?;
            Ok(read_pcap(input, parser, idle_timeout, sink))
        }
        Some([0x0A, 0x0D, 0x0D, 0x0A]) => {
            let parser = first_record(&mut input, PcapNgParser::new).map_err(format)?;
            Ok(read_pcapng(input, parser, idle_timeout, sink))
        }
        _ => Err(not_capture()),
    }
}

/// The file header's parser, from the first record of `input`.
fn first_record<R: Read, P>(
    input: &mut RecordBuffer<R>,
    parse: impl Fn(&[u8]) -> Result<(&[u8], P), pcap_file::PcapError>,
) -> Result<P, pcap_file::PcapError> {
    let mut parser = None;
    input.next(|src| {
        let (rest, p) = parse(src)?;
        parser = Some(p);
        Ok(src.len() - rest.len())
    })?;
    parser.ok_or_else(|| pcap_file::PcapError::IoError(std::io::ErrorKind::UnexpectedEof.into()))
}

/// Hands `take` one record of `input` at a time until the sink stops or the input ends; a
/// record the input cuts short (or a malformed one) ends the capture as truncated there.
/// `take` returns how many bytes the record took.
fn each_record<R: Read, S: Sink>(
    input: &mut RecordBuffer<R>,
    c: &mut Collector<'_, S>,
    mut take: impl FnMut(&mut Collector<'_, S>, &[u8]) -> Result<usize, pcap_file::PcapError>,
) {
    while !c.stopped() {
        match input.next(|src| take(c, src)) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                c.truncated(e.to_string());
                break;
            }
        }
    }
}

fn read_up_to(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Finds datagrams in frames, with their arrival times, for a sink.
struct Collector<'s, S> {
    sink: &'s mut S,
    capture: Capture,
    extractor: UdpExtractor,
    timeline: Timeline,
    last: Duration,
}

impl<'s, S: Sink> Collector<'s, S> {
    fn new(kind: CaptureKind, idle_timeout: Duration, sink: &'s mut S) -> Self {
        Collector {
            sink,
            capture: Capture {
                kind,
                records: 0,
                datagrams: Vec::new(),
                sip_over_tcp: Vec::new(),
                frames: FrameCounts::default(),
                unsupported_link: 0,
                truncated: None,
                time_jumps: TimeJumps::none(idle_timeout),
                srtp: Vec::new(),
            },
            extractor: UdpExtractor::default(),
            timeline: Timeline::new(idle_timeout),
            last: Duration::ZERO,
        }
    }

    fn frame(&mut self, link: Option<Link>, timestamp: Duration, data: &[u8]) {
        self.capture.records += 1;
        let at = self.timeline.arrival(self.capture.records, timestamp);
        self.last = at;
        let Some(link) = link else {
            self.capture.unsupported_link += 1;
            return;
        };
        let (sip_over_tcp, d) = match self.extractor.frame(link, at, data) {
            FrameContent::Udp(d) => (false, d),
            FrameContent::SipOverTcp(d) => (true, d),
            _ => return,
        };
        self.sink.take(FoundDatagram {
            at,
            segment: self.timeline.segment(),
            src: Some(d.src),
            dst: Some(d.dst),
            payload: &d.payload,
            rtcp_hint: false,
            sip_over_tcp,
        });
    }

    fn stopped(&self) -> bool {
        self.sink.stopped()
    }

    fn truncated(&mut self, reason: String) {
        self.capture.truncated = Some(Truncation {
            records: self.capture.records,
            at_s: self.last.as_secs_f64(),
            reason,
        });
    }

    fn finish(mut self) -> Capture {
        self.capture.frames = self.extractor.counts();
        self.capture.time_jumps = self.timeline.finish();
        self.capture
    }
}

fn read_pcap<R: Read>(
    mut input: RecordBuffer<R>,
    parser: PcapParser,
    idle_timeout: Duration,
    sink: &mut impl Sink,
) -> Capture {
    let mut c = Collector::new(CaptureKind::Pcap, idle_timeout, sink);
    let link = link_of(parser.header().datalink);
    each_record(&mut input, &mut c, |c, src| {
        let (rest, p) = parser.next_packet(src)?;
        c.frame(link, p.timestamp, &p.data);
        Ok(src.len() - rest.len())
    });
    c.finish()
}

/// One pcapng interface: its link type and timestamp unit.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: Option<Link>,
    resolution: TsResolution,
}

/// A pcapng `if_tsresol`: ticks are 10^-n or 2^-n seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TsResolution {
    Decimal(u32),
    Binary(u32),
}

impl TsResolution {
    fn from_option(value: u8) -> Self {
        let exponent = u32::from(value & 0x7F);
        if value & 0x80 == 0 {
            TsResolution::Decimal(exponent)
        } else {
            TsResolution::Binary(exponent)
        }
    }

    /// The time of `ticks`, in integer arithmetic: an f64 of seconds since 1970 would lose
    /// a quarter of a microsecond.
    fn duration(self, ticks: u128) -> Duration {
        let per_second: u128 = match self {
            TsResolution::Decimal(n) => 10u128.pow(n.min(38)),
            TsResolution::Binary(n) => 1u128 << n.min(127),
        };
        let secs = ticks / per_second;
        let rem = ticks % per_second;
        // Sub-nanosecond resolutions (a file may claim any) would overflow the exact product.
        let nanos = rem.checked_mul(1_000_000_000).map_or_else(
            || (rem as f64 / per_second as f64 * 1e9) as u128,
            |n| n / per_second,
        );
        Duration::new(
            u64::try_from(secs).unwrap_or(u64::MAX),
            nanos.min(999_999_999) as u32,
        )
    }
}

fn read_pcapng<R: Read>(
    mut input: RecordBuffer<R>,
    mut parser: PcapNgParser,
    idle_timeout: Duration,
    sink: &mut impl Sink,
) -> Capture {
    let mut c = Collector::new(CaptureKind::PcapNg, idle_timeout, sink);
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut last_time = Duration::ZERO;
    each_record(&mut input, &mut c, |c, src| {
        let (rest, block) = parser.next_block(src)?;
        match block {
            Block::SectionHeader(_) => interfaces.clear(),
            Block::InterfaceDescription(idb) => {
                let resolution = idb.options.iter().find_map(|o| match o {
                    InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
                    _ => None,
                });
                interfaces.push(Interface {
                    link: link_of(idb.linktype),
                    resolution: TsResolution::from_option(resolution.unwrap_or(6)),
                });
            }
            Block::EnhancedPacket(epb) => {
                if let Some(iface) = interfaces.get(epb.interface_id as usize).copied() {
                    // pcap-file hands over the raw timestamp count as nanoseconds; the
                    // interface says what one tick really is (microseconds unless if_tsresol
                    // says otherwise).
                    last_time = iface.resolution.duration(epb.timestamp.as_nanos());
                    c.frame(iface.link, last_time, &epb.data);
                } else {
                    c.capture.records += 1;
                    c.capture.unsupported_link += 1;
                }
            }
            Block::SimplePacket(spb) => {
                // No timestamp: it shares the previous packet's time.
                let link = interfaces.first().and_then(|i| i.link);
                c.frame(link, last_time, &spb.data);
            }
            _ => {}
        }
        Ok(src.len() - rest.len())
    });
    c.finish()
}

fn read_rtpdump(bytes: &[u8], idle_timeout: Duration, sink: &mut impl Sink) -> Option<Capture> {
    let dump = rtpdump::parse(bytes)?;
    let mut timeline = Timeline::new(idle_timeout);
    let mut records = 0;
    let mut last_at = Duration::ZERO;
    for (r, record) in dump.records.into_iter().zip(1..) {
        if sink.stopped() {
            break;
        }
        let at = timeline.arrival(record, r.offset);
        sink.take(FoundDatagram {
            at,
            segment: timeline.segment(),
            src: None,
            dst: dump.destination,
            payload: &r.packet,
            rtcp_hint: r.rtcp,
            sip_over_tcp: false,
        });
        records = record;
        last_at = at;
    }
    let mut capture = Collector::new(CaptureKind::RtpDump, idle_timeout, sink).finish();
    capture.records = records;
    capture.time_jumps = timeline.finish();
    capture.truncated = dump.truncated_after.map(|records| Truncation {
        records,
        at_s: last_at.as_secs_f64(),
        reason: "record runs past the end of the file".into(),
    });
    Some(capture)
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

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
