//! Unit tests of stream analysis.
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
        segment: 0,
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
        time_jumps: crate::capture::TimeJumps::none(crate::capture::DEFAULT_IDLE_TIMEOUT),
        srtp: Vec::new(),
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

/// A SIP message from 10.0.0.2 whose SDP says 10.0.0.2:6000 receives `maps` (PT, rtpmap).
fn sdp_message(at_ms: u64, first_line: &str, maps: &[(u8, &str)]) -> Datagram {
    let pts: Vec<String> = maps.iter().map(|(pt, _)| pt.to_string()).collect();
    let mut body = format!(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n\
         m=audio 6000 RTP/AVP {}\r\n",
        pts.join(" ")
    );
    for (pt, rtpmap) in maps {
        body.push_str(&format!("a=rtpmap:{pt} {rtpmap}\r\n"));
    }
    let message = format!("{first_line}\r\nContent-Type: application/sdp\r\n\r\n{body}");
    datagram(
        at_ms,
        "10.0.0.2:5060",
        "10.0.0.1:5060",
        message.into_bytes(),
    )
}

fn names(report: &StreamsReport, stream: usize) -> Vec<(u8, &str, NamedBy)> {
    report.streams[stream]
        .payloads
        .iter()
        .map(|p| (p.pt, p.name.as_str(), p.named_by))
        .collect()
}

/// The caller's stream of [`l16_stream`] switching to PT 97 (L16/48000/1) from packet 25 on.
fn switching_stream() -> Vec<Datagram> {
    let mut datagrams: Vec<Datagram> = l16_stream().into_iter().take(25).collect();
    for i in 25..50u16 {
        let p = rtp(97, i, u32::from(i) * 960, 7, &[0; 1920]);
        datagrams.push(datagram(
            u64::from(i) * 20,
            "10.0.0.1:4000",
            "10.0.0.2:6000",
            p,
        ));
    }
    datagrams
}

#[test]
fn a_payload_type_change_mid_stream_takes_the_mapping_then_in_force() {
    // The callee answers PT 96 = L16/8000/1; at 490 ms its re-INVITE remaps PT 96 to
    // L16/16000/2 and adds PT 97 = L16/48000/1, and from 500 ms the caller sends PT 97.
    let mut datagrams = vec![sdp_message(0, "SIP/2.0 200 OK", &[(96, "L16/8000/1")])];
    datagrams.push(sdp_message(
        490,
        "INVITE sip:a@10.0.0.1 SIP/2.0",
        &[(96, "L16/16000/2"), (97, "L16/48000/1")],
    ));
    datagrams.extend(switching_stream());
    datagrams.sort_by_key(|d| d.at);
    let report = analyse(&capture(datagrams, Vec::new()));
    assert_eq!(report.streams.len(), 1);
    // PT 96 was first used under the answer, before the re-INVITE remapped it.
    assert_eq!(
        names(&report, 0),
        [
            (96, "L16/8000/1", NamedBy::Sdp),
            (97, "L16/48000/1", NamedBy::Sdp)
        ]
    );
    assert_eq!(report.sdp_bodies, 2);
}

#[test]
fn a_later_sdp_replaces_the_whole_mapping_of_its_endpoint() {
    // As above, but an UPDATE at 495 ms offers PT 96 alone: PT 97 is no longer in force for
    // the callee, so the re-INVITE's mapping of it is only a guess.
    let mut datagrams = vec![
        sdp_message(0, "SIP/2.0 200 OK", &[(96, "L16/8000/1")]),
        sdp_message(
            490,
            "INVITE sip:a@10.0.0.1 SIP/2.0",
            &[(96, "L16/16000/2"), (97, "L16/48000/1")],
        ),
        sdp_message(495, "UPDATE sip:a@10.0.0.1 SIP/2.0", &[(96, "L16/16000/2")]),
    ];
    datagrams.extend(switching_stream());
    datagrams.sort_by_key(|d| d.at);
    let report = analyse(&capture(datagrams, Vec::new()));
    assert_eq!(
        names(&report, 0),
        [
            (96, "L16/8000/1", NamedBy::Sdp),
            (97, "L16/48000/1", NamedBy::Guess)
        ]
    );
    // A guessed clock times nothing: jitter stays unknown for that payload type.
    let s = &report.streams[0];
    assert_eq!(s.payloads[1].timing_clock(), None);
    assert_eq!(s.payloads[0].timing_clock(), Some(8000));
}
