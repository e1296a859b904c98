//! Calls one after another between the same two endpoints, each mapping dynamic payload
//! type 99 to another L16 format in its offer and answer, and a re-INVITE that changes the
//! format mid-call (used by the synthetic call tests and the Wireshark comparison).

use super::*;

pub const CALLER: &str = "10.0.0.1:4000";
pub const CALLEE: &str = "10.0.0.2:6000";
pub const CALLER_SIP: &str = "10.0.0.1:5060";
pub const CALLEE_SIP: &str = "10.0.0.2:5060";

/// One RTP stream of the capture: who sends, in which format, when.
#[derive(Debug, Clone, Copy)]
pub struct Leg {
    pub src: &'static str,
    pub dst: &'static str,
    pub ssrc: u32,
    pub rate: u32,
    pub channels: u16,
    /// Packet time, ms (40 ms at 11025 Hz, where 20 ms is no whole number of samples).
    pub ptime_ms: u64,
    /// Capture time of the first packet, µs.
    pub start_us: u64,
    pub packets: usize,
}

impl Leg {
    pub fn rtpmap(&self) -> String {
        match self.channels {
            1 => format!("L16/{}", self.rate),
            n => format!("L16/{}/{n}", self.rate),
        }
    }

    /// The format as `play` reports it.
    pub fn format(&self) -> String {
        format!("l16/{}/{}", self.rate, self.channels)
    }

    pub fn frames_per_packet(&self) -> usize {
        (u64::from(self.rate) * self.ptime_ms / 1000) as usize
    }

    pub fn samples_per_packet(&self) -> usize {
        self.frames_per_packet() * usize::from(self.channels)
    }

    /// Interleaved sample `i` of packet `k`: a pattern that differs from stream to stream.
    pub fn sample(&self, k: usize, i: usize) -> i16 {
        l16_sample(k + (self.ssrc % 1000) as usize, i)
    }

    pub fn payload(&self, k: usize) -> Vec<u8> {
        (0..self.samples_per_packet())
            .flat_map(|i| self.sample(k, i).to_be_bytes())
            .collect()
    }
}

/// A SIP message (request or response line `first`) whose SDP says `receiver` takes PT 99 as
/// `rtpmap`, with a session-level `c=` line as most user agents write it.
fn sip_with_sdp(first: &str, call_id: usize, receiver: &str, rtpmap: &str) -> Vec<u8> {
    let (ip, port) = receiver.split_once(':').expect("address:port");
    let sdp = format!(
        "v=0\r\no=- {call_id} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 99\r\na=rtpmap:99 {rtpmap}\r\na=ptime:20\r\n"
    );
    format!(
        "{first}\r\nVia: SIP/2.0/UDP {ip}:5060;branch=z9hG4bK{call_id}\r\n\
         Call-ID: call-{call_id}@10.0.0.1\r\nCSeq: 1 INVITE\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

/// The capture: four calls 2 s apart between the caller and the callee, each offering and
/// answering PT 99 in another format.
/// - Call 0: the caller receives L16/8000/2, the callee L16/22050: each direction has its own.
/// - Calls 1 and 3: L16/16000/2 and L16/48000, one direction; call 3's SIP goes over TCP.
/// - Call 2: L16/11025; at 600 ms a re-INVITE and its 200 OK change PT 99 to L16/32000/2 both
///   ways, and the caller starts a new stream (new SSRC) in that format.
pub fn four_calls() -> (Capture, Vec<Leg>) {
    let leg = |src, dst, ssrc, rate, channels, ptime_ms, start_us| Leg {
        src,
        dst,
        ssrc,
        rate,
        channels,
        ptime_ms,
        start_us,
        packets: 30,
    };
    let legs = vec![
        leg(CALLER, CALLEE, 0xC0, 22_050, 1, 20, 20_000),
        leg(CALLEE, CALLER, 0xC1, 8_000, 2, 20, 25_000),
        leg(CALLER, CALLEE, 0xC2, 16_000, 2, 20, 2_020_000),
        Leg {
            packets: 14,
            ..leg(CALLER, CALLEE, 0xC3, 11_025, 1, 40, 4_020_000)
        },
        leg(CALLER, CALLEE, 0xC4, 32_000, 2, 20, 4_620_000),
        leg(CALLER, CALLEE, 0xC5, 48_000, 1, 20, 6_020_000),
    ];
    // (time µs, over TCP, from, to, message)
    let mut sip: Vec<(u64, bool, &str, &str, Vec<u8>)> = Vec::new();
    let mut call = |at: u64, tcp: bool, offer: &str, answer: &str, id: usize| {
        let invite = "INVITE sip:bob@10.0.0.2 SIP/2.0";
        sip.push((
            at,
            tcp,
            CALLER_SIP,
            CALLEE_SIP,
            sip_with_sdp(invite, id, CALLER, offer),
        ));
        sip.push((
            at + 10_000,
            tcp,
            CALLEE_SIP,
            CALLER_SIP,
            sip_with_sdp("SIP/2.0 200 OK", id, CALLEE, answer),
        ));
    };
    call(0, false, "L16/8000/2", "L16/22050", 0);
    call(2_000_000, false, "L16/16000/2", "L16/16000/2", 1);
    call(4_000_000, false, "L16/11025", "L16/11025", 2);
    call(4_600_000, false, "L16/32000/2", "L16/32000/2", 2); // the re-INVITE
    call(6_000_000, true, "L16/48000", "L16/48000", 3);

    let mut timeline: Vec<(u64, Vec<u8>)> = Vec::new();
    for (at, tcp, from, to, message) in sip {
        let ip = if tcp {
            ip_tcp(addr(from), addr(to), &message)
        } else {
            ip_udp(addr(from), addr(to), &message)
        };
        timeline.push((at, ip));
    }
    for l in &legs {
        for k in 0..l.packets {
            let ts = (k * l.frames_per_packet()) as u32;
            let p = rtp(99, k == 0, 1000 + k as u16, ts, l.ssrc, &l.payload(k));
            let at = l.start_us + 1000 * l.ptime_ms * k as u64;
            timeline.push((at, ip_udp(addr(l.src), addr(l.dst), &p)));
        }
    }
    timeline.sort_by_key(|(at, _)| *at);
    let mut cap = Capture::new(Link::Ethernet(&[]));
    for (at, ip) in timeline {
        cap.ip(us(at), ip);
    }
    (cap, legs)
}
