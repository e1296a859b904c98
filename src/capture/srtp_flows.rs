//! SRTP in captures: each flow's key found among those the capture's SIP/SDP offered (or
//! `--srtp`) by trying them on its packets, then every packet authenticated and decrypted in
//! place, so that listing, analysis, replay and simulation read plain RTP. Packets that fail
//! are taken out and counted; a flow the SDP calls SRTP that no key opens stays encrypted
//! (its headers still measure) and is marked so, never decoded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use super::bindings::PayloadBindings;
use super::reader::Capture;
use super::sip;
pub use super::types::{KeySource, SrtpFlow};
use crate::rtcp::wire::looks_like_rtcp;
use crate::rtp::header::RtpHeader;
use crate::srtp::{SrtpKeying, SrtpReceiver, SrtpStats, Suite};

/// Packets of a flow tried against the keys before it is called undecryptable.
const TRIALS: usize = 8;

/// A flow being decrypted.
struct Flow {
    receiver: Option<SrtpReceiver>,
    stats: Arc<SrtpStats>,
    suite: Option<Suite>,
    key: KeySource,
    problem: Option<String>,
    /// Packets tried against the keys so far (before one opened the flow).
    tried: usize,
    /// The SDP called it SRTP.
    secure: bool,
}

/// Decrypts every SRTP flow of `capture` in place (with `explicit` tried first), and records
/// what it did in `capture.srtp`. A capture with no key anywhere is left as it is.
pub fn decrypt(capture: &mut Capture, explicit: Option<&SrtpKeying>) {
    let bindings = sip::scan(capture.datagrams.iter().chain(&capture.sip_over_tcp));
    let offered = bindings.srtp_keys();
    if explicit.is_none() && offered.is_empty() && !any_secure(&bindings, capture) {
        return;
    }
    let mut flows: HashMap<(Option<SocketAddr>, Option<SocketAddr>), Flow> = HashMap::new();
    let mut order = Vec::new();
    let mut keep = vec![true; capture.datagrams.len()];
    for (i, d) in capture.datagrams.iter_mut().enumerate() {
        let rtcp = d.rtcp_hint || looks_like_rtcp(&d.payload);
        if !rtcp && RtpHeader::parse(&d.payload).is_err() {
            continue;
        }
        let key = (d.src, d.dst);
        let flow = flows.entry(key).or_insert_with(|| {
            order.push(key);
            new_flow(&bindings, d.src, d.dst, d.at, rtcp)
        });
        if flow.receiver.is_none() && flow.tried < TRIALS {
            flow.tried += 1;
            let candidates = candidates(&bindings, explicit, &offered, d.src, d.dst, d.at, rtcp);
            if let Some((keying, source)) = candidates
                .into_iter()
                .find(|(k, _)| opens(k, &d.payload, rtcp))
            {
                flow.receiver = SrtpReceiver::new(keying, Arc::clone(&flow.stats)).ok();
                flow.suite = Some(keying.suite);
                flow.key = source;
                flow.problem = None;
            }
        }
        match flow.receiver.as_mut() {
            Some(receiver) => keep[i] = receiver.unprotect(&mut d.payload, rtcp),
            None if flow.secure => {
                flow.stats.srtp_no_key.add(1);
            }
            None => {}
        }
    }
    let mut i = 0;
    capture.datagrams.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    capture.srtp = order
        .into_iter()
        .filter_map(|key| {
            let flow = flows.remove(&key)?;
            // Plain RTP no key opened and no SDP called SRTP: nothing to report.
            (flow.suite.is_some() || flow.secure).then(|| SrtpFlow {
                src: key.0,
                dst: key.1,
                suite: flow.suite,
                key: flow.key,
                problem: flow.problem,
                counts: flow.stats.snapshot(),
            })
        })
        .collect();
}

/// One line on what SRTP did for a flow, for the streams table.
pub fn describe(f: &SrtpFlow) -> String {
    let c = &f.counts;
    match f.suite {
        Some(suite) => {
            let from = match f.key {
                KeySource::SenderSdp => "its sender's SDP",
                KeySource::ReceiverSdp => "its receiver's SDP",
                KeySource::OtherSdp => "another call's SDP",
                KeySource::Option => "--srtp",
                KeySource::None => "-",
            };
            format!(
                "SRTP {suite}, key from {from}: {} authenticated, {} failed authentication, {} \
                 replays, {} unknown MKI",
                c.srtp_decrypted, c.srtp_auth_failed, c.srtp_replayed, c.srtp_unknown_mki
            )
        }
        None => format!(
            "SRTP, not decrypted ({}): {} packets; give the key with --srtp",
            f.problem.as_deref().unwrap_or("no key opens it"),
            c.srtp_no_key
        ),
    }
}

fn any_secure(bindings: &PayloadBindings, capture: &Capture) -> bool {
    capture.datagrams.iter().any(|d| {
        [d.src, d.dst]
            .into_iter()
            .any(|e| matches!(bindings.srtp_in_force(e, d.at), Some(Err(_))))
    })
}

/// The RTP endpoint an RTCP flow belongs to: RTCP goes one port up unless muxed.
fn rtp_endpoint(endpoint: Option<SocketAddr>, rtcp: bool) -> [Option<SocketAddr>; 2] {
    let below = endpoint
        .filter(|_| rtcp)
        .and_then(|a| Some(SocketAddr::new(a.ip(), a.port().checked_sub(1)?)));
    [endpoint, below]
}

fn new_flow(
    bindings: &PayloadBindings,
    src: Option<SocketAddr>,
    dst: Option<SocketAddr>,
    at: std::time::Duration,
    rtcp: bool,
) -> Flow {
    let offers: Vec<_> = rtp_endpoint(src, rtcp)
        .into_iter()
        .chain(rtp_endpoint(dst, rtcp))
        .filter_map(|e| bindings.srtp_in_force(e, at))
        .collect();
    let secure = offers.iter().any(|o| !matches!(o, Ok(None)));
    let problem = offers.iter().find_map(|o| o.as_ref().err().cloned());
    Flow {
        receiver: None,
        stats: Arc::default(),
        suite: None,
        key: KeySource::None,
        problem: problem.or_else(|| {
            secure.then(|| "no key offered in the capture or by --srtp opens it".to_string())
        }),
        tried: 0,
        secure,
    }
}

/// The keys to try on a flow, most likely first.
fn candidates<'a>(
    bindings: &'a PayloadBindings,
    explicit: Option<&'a SrtpKeying>,
    offered: &[&'a SrtpKeying],
    src: Option<SocketAddr>,
    dst: Option<SocketAddr>,
    at: std::time::Duration,
    rtcp: bool,
) -> Vec<(&'a SrtpKeying, KeySource)> {
    let in_force = |endpoint| {
        rtp_endpoint(endpoint, rtcp)
            .into_iter()
            .find_map(|e| match bindings.srtp_in_force(e, at) {
                Some(Ok(Some(k))) => Some(k),
                _ => None,
            })
    };
    let mut out: Vec<(&SrtpKeying, KeySource)> = Vec::new();
    let mut push = |k: &'a SrtpKeying, source| {
        if !out.iter().any(|(seen, _)| *seen == k) {
            out.push((k, source));
        }
    };
    if let Some(k) = explicit {
        push(k, KeySource::Option);
    }
    if let Some(k) = in_force(src) {
        push(k, KeySource::SenderSdp);
    }
    if let Some(k) = in_force(dst) {
        push(k, KeySource::ReceiverSdp);
    }
    for k in offered {
        push(k, KeySource::OtherSdp);
    }
    out
}

/// Whether `keying` authenticates `packet` (on a fresh session: trying leaves no state).
fn opens(keying: &SrtpKeying, packet: &[u8], rtcp: bool) -> bool {
    let Ok(mut trial) = SrtpReceiver::new(keying, Arc::default()) else {
        return false;
    };
    trial.unprotect(&mut packet.to_vec(), rtcp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::types::Datagram;
    use crate::srtp::{Direction, SrtpSession, MAX_TRAILER};
    use std::time::Duration;

    fn keying(seed: u8) -> SrtpKeying {
        let suite = Suite::AesCm128HmacSha1_80;
        SrtpKeying::single(suite, vec![seed; suite.keying_len()])
    }

    fn datagram(at_ms: u64, src: &str, dst: &str, payload: Vec<u8>) -> Datagram {
        Datagram {
            at: Duration::from_millis(at_ms),
            segment: 0,
            src: src.parse().ok(),
            dst: dst.parse().ok(),
            payload,
            rtcp_hint: false,
        }
    }

    fn srtp_packets(key: &SrtpKeying, n: u16) -> Vec<Vec<u8>> {
        let mut tx = SrtpSession::new(key, Direction::Outbound).unwrap();
        (0..n)
            .map(|seq| {
                let mut p = vec![0x80, 0, (seq >> 8) as u8, seq as u8, 0, 0, 0, 0, 0, 0, 0, 9];
                p.extend_from_slice(&[0xd5; 160]);
                let len = p.len();
                p.resize(len + MAX_TRAILER, 0);
                let m = tx.protect_rtp(&mut p, len).unwrap();
                p.truncate(m);
                p
            })
            .collect()
    }

    fn invite(key: &SrtpKeying) -> Datagram {
        let sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
             m=audio 4000 RTP/SAVP 0\r\na=crypto:{}\r\n",
            key.crypto_attribute()
        );
        let msg = format!(
            "INVITE sip:b@10.0.0.2 SIP/2.0\r\nContent-Type: application/sdp\r\n\
             Content-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        );
        datagram(0, "10.0.0.1:5060", "10.0.0.2:5060", msg.into_bytes())
    }

    fn capture(datagrams: Vec<Datagram>) -> Capture {
        Capture {
            kind: crate::capture::CaptureKind::Pcap,
            records: datagrams.len() as u64,
            datagrams,
            sip_over_tcp: Vec::new(),
            frames: Default::default(),
            unsupported_link: 0,
            truncated: None,
            time_jumps: crate::capture::TimeJumps::none(crate::capture::DEFAULT_IDLE_TIMEOUT),
            srtp: Vec::new(),
        }
    }

    #[test]
    fn the_senders_sdp_key_opens_its_flow_and_forgeries_are_taken_out() {
        let key = keying(1);
        let mut datagrams = vec![invite(&key)];
        let mut packets = srtp_packets(&key, 20);
        packets[5][30] ^= 1;
        for (i, p) in packets.into_iter().enumerate() {
            datagrams.push(datagram(
                20 * i as u64 + 10,
                "10.0.0.1:4000",
                "10.0.0.2:6000",
                p,
            ));
        }
        let mut c = capture(datagrams);
        decrypt(&mut c, None);
        assert_eq!(c.srtp.len(), 1, "{:?}", c.srtp);
        let flow = &c.srtp[0];
        assert_eq!(
            (flow.key.clone(), flow.suite),
            (KeySource::SenderSdp, Some(key.suite))
        );
        assert_eq!(
            (flow.counts.srtp_decrypted, flow.counts.srtp_auth_failed),
            (19, 1)
        );
        // The SIP message and 19 packets, now plain RTP of 160-byte payloads.
        assert_eq!(c.datagrams.len(), 20);
        assert!(c.datagrams[1..].iter().all(|d| d.payload.len() == 172));
    }

    #[test]
    fn a_flow_the_sdp_calls_srtp_that_no_key_opens_is_marked_and_kept() {
        let mut datagrams = vec![invite(&keying(1))];
        for (i, p) in srtp_packets(&keying(2), 10).into_iter().enumerate() {
            datagrams.push(datagram(
                20 * i as u64 + 10,
                "10.0.0.1:4000",
                "10.0.0.2:6000",
                p,
            ));
        }
        let mut c = capture(datagrams);
        decrypt(&mut c, None);
        let flow = &c.srtp[0];
        assert_eq!((flow.key.clone(), flow.suite), (KeySource::None, None));
        assert!(
            flow.problem.as_deref().unwrap().contains("no key"),
            "{flow:?}"
        );
        assert_eq!(flow.counts.srtp_no_key, 10);
        assert_eq!(c.datagrams.len(), 11, "kept for their headers");
        // The right key given on the command line opens it.
        let mut datagrams = vec![invite(&keying(1))];
        for (i, p) in srtp_packets(&keying(2), 10).into_iter().enumerate() {
            datagrams.push(datagram(
                20 * i as u64 + 10,
                "10.0.0.1:4000",
                "10.0.0.2:6000",
                p,
            ));
        }
        let mut c = capture(datagrams);
        decrypt(&mut c, Some(&keying(2)));
        assert_eq!(c.srtp[0].key, KeySource::Option);
        assert_eq!(c.srtp[0].counts.srtp_decrypted, 10);
    }

    #[test]
    fn a_plain_capture_is_left_alone() {
        let mut p = vec![0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9];
        p.extend_from_slice(&[0xd5; 160]);
        let mut c = capture(vec![
            datagram(0, "10.0.0.1:4000", "10.0.0.2:6000", p.clone()),
            datagram(20, "10.0.0.1:4000", "10.0.0.2:6000", p),
        ]);
        decrypt(&mut c, None);
        assert!(c.srtp.is_empty());
        assert_eq!(c.datagrams.len(), 2);
    }
}
