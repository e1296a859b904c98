//! Tests of the sender session on virtual time: a fake receiver sends NACKs and reports.

use super::*;
use crate::rtcp::ntp::{to_short, NtpTime};
use crate::rtcp::wire::NackRequest;
use rtp_rs::{RtpPacketBuilder, Seq};

const SSRC: u32 = 0x1111_2222;
const RTX_SSRC: u32 = 0x3333_4444;
const RECEIVER: u32 = 0x9999;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Wall clock at virtual time `t`: an arbitrary epoch plus `t`.
fn wall(t: Duration) -> NtpTime {
    NtpTime::from_unix(Duration::from_secs(1_700_000_000) + t)
}

fn config(rtx: bool) -> SenderSessionConfig {
    SenderSessionConfig {
        ssrc: SSRC,
        cname: "sender@test".into(),
        rtx: rtx.then_some(RtxConfig {
            pt: 97,
            ssrc: RTX_SSRC,
        }),
        seed: 5,
        ..SenderSessionConfig::default()
    }
}

/// Packet `i` of a 20 ms L16 48 kHz stream starting at sequence 65 530 and timestamp 1 000.
fn packet(i: u16) -> Vec<u8> {
    RtpPacketBuilder::new()
        .payload_type(96)
        .ssrc(SSRC)
        .sequence(Seq::from(65_530u16.wrapping_add(i)))
        .timestamp(1_000u32.wrapping_add(960 * u32::from(i)))
        .payload(&[i as u8; 1_920])
        .build()
        .unwrap()
}

fn seq_of(i: u16) -> u16 {
    65_530u16.wrapping_add(i)
}

/// Sends packets `0..n`, packet `i` at `i × 20 ms`.
fn send(session: &mut RtcpSenderSession, n: u16) {
    for i in 0..n {
        session.on_rtp_sent(&packet(i), ms(20 * u64::from(i)));
    }
}

fn nack(media_ssrc: u32, seqs: &[u16]) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_RTCP_LEN];
    let n = Outgoing {
        ssrc: RECEIVER,
        nack: Some(NackRequest { media_ssrc, seqs }),
        reduced_size: true,
        ..Outgoing::default()
    }
    .write(&mut buf)
    .unwrap();
    buf.truncate(n);
    buf
}

/// Everything `poll_transmit` hands out at `now`, as (kind, bytes).
fn drain(session: &mut RtcpSenderSession, now: Duration) -> Vec<(Transmit, Vec<u8>)> {
    let mut out = Vec::new();
    let mut sent = Vec::new();
    while let Some(t) = session.poll_transmit(now, wall(now), &mut out) {
        sent.push((t, out.clone()));
    }
    sent
}

/// The retransmissions `poll_transmit` hands out at `now` (a report falling due is left out).
fn retransmissions(session: &mut RtcpSenderSession, now: Duration) -> Vec<Vec<u8>> {
    drain(session, now)
        .into_iter()
        .filter(|(t, _)| *t == Transmit::Rtp)
        .map(|(_, b)| b)
        .collect()
}

#[test]
fn a_nack_is_answered_with_rtx_carrying_the_original_packet() {
    let mut s = RtcpSenderSession::new(config(true), ms(0));
    send(&mut s, 50);
    s.on_rtcp(
        &nack(SSRC, &[seq_of(3), seq_of(10)]),
        ms(1_000),
        wall(ms(1_000)),
    );
    let sent = drain(&mut s, ms(1_000));
    assert_eq!(sent.len(), 2, "two retransmissions, no report yet");
    let mut rtx_seqs = Vec::new();
    let mut answered = Vec::new();
    for (kind, bytes) in &sent {
        assert_eq!(*kind, Transmit::Rtp);
        let h = RtpHeader::parse(bytes).unwrap();
        assert_eq!((h.payload_type, h.ssrc), (97, RTX_SSRC));
        rtx_seqs.push(h.sequence);
        let mut original = Vec::new();
        let osn = crate::rtcp::rtx::unwrap(bytes, 96, SSRC, &mut original).unwrap();
        let i = osn.wrapping_sub(seq_of(0));
        assert_eq!(
            original,
            packet(i),
            "the RTX must rebuild packet {i} exactly"
        );
        answered.push(i);
    }
    answered.sort_unstable();
    assert_eq!(answered, [3, 10]);
    assert_ne!(RTX_SSRC, SSRC);
    assert_eq!(
        rtx_seqs[1],
        rtx_seqs[0].wrapping_add(1),
        "RTX has its own counter"
    );
    let c = s.counts();
    assert_eq!((c.nacks_received, c.retransmitted), (2, 2));
    assert_eq!(c.retransmitted_bytes, 2 * (packet(0).len() as u64 + 2));
}

#[test]
fn without_rtx_the_packet_is_resent_as_it_was() {
    let mut s = RtcpSenderSession::new(config(false), ms(0));
    send(&mut s, 10);
    s.on_rtcp(&nack(SSRC, &[seq_of(7)]), ms(300), wall(ms(300)));
    assert_eq!(retransmissions(&mut s, ms(300)), vec![packet(7)]);
}

#[test]
fn packets_out_of_history_and_foreign_nacks_are_counted_not_answered() {
    let mut s = RtcpSenderSession::new(
        SenderSessionConfig {
            history: ms(1_000),
            ..config(true)
        },
        ms(0),
    );
    send(&mut s, 100); // the last at 1 980 ms
    s.on_rtcp(
        &nack(SSRC, &[seq_of(10), seq_of(200)]),
        ms(2_000),
        wall(ms(2_000)),
    );
    s.on_rtcp(&nack(0xabcd, &[seq_of(90)]), ms(2_000), wall(ms(2_000)));
    assert!(retransmissions(&mut s, ms(2_000)).is_empty());
    let c = s.counts();
    assert_eq!(
        (c.not_in_history, c.foreign_nacks, c.retransmitted),
        (2, 1, 0)
    );
}

#[test]
fn a_repeated_nack_is_answered_once_within_the_window() {
    let mut s = RtcpSenderSession::new(config(true), ms(0));
    send(&mut s, 20);
    let n = nack(SSRC, &[seq_of(5)]);
    // The same NACK twice in one datagram's time, and again 10 ms later.
    s.on_rtcp(&n, ms(400), wall(ms(400)));
    s.on_rtcp(&n, ms(400), wall(ms(400)));
    assert_eq!(retransmissions(&mut s, ms(400)).len(), 1);
    s.on_rtcp(&n, ms(410), wall(ms(410)));
    assert!(retransmissions(&mut s, ms(410)).is_empty());
    // Later than the window: the retransmission was lost, send it again.
    s.on_rtcp(&n, ms(500), wall(ms(500)));
    assert_eq!(retransmissions(&mut s, ms(500)).len(), 1);
    let c = s.counts();
    assert_eq!((c.retransmitted, c.repeated_nacks), (2, 2));
}

#[test]
fn retransmissions_are_rate_limited_to_a_share_of_the_stream() {
    // 20 kB/s of media: 10 kB/s and a 10 kB burst for retransmissions (packets of 1 934 B).
    let mut s = RtcpSenderSession::new(
        SenderSessionConfig {
            session_octets_per_s: 20_000.0,
            ..config(true)
        },
        ms(0),
    );
    send(&mut s, 200);
    let all: Vec<u16> = (100..200).map(seq_of).collect();
    s.on_rtcp(&nack(SSRC, &all), ms(4_000), wall(ms(4_000)));
    let sent = retransmissions(&mut s, ms(4_000));
    let bytes: usize = sent.iter().map(Vec::len).sum();
    assert!(bytes <= 10_000, "{bytes} bytes in one burst");
    assert_eq!(sent.len(), 5);
    let c = s.counts();
    assert_eq!(c.rate_limited, 95);
    // A second later another second's worth is allowed.
    s.on_rtcp(&nack(SSRC, &all[..20]), ms(5_000), wall(ms(5_000)));
    assert_eq!(retransmissions(&mut s, ms(5_000)).len(), 5);
}

#[test]
fn sender_reports_map_wall_clock_to_the_streams_rtp_clock() {
    let mut s = RtcpSenderSession::new(config(true), ms(0));
    assert!(s.next_timer() > ms(1_000) && s.next_timer() < ms(4_000));
    assert!(drain(&mut s, ms(100)).is_empty(), "not due yet");
    send(&mut s, 150); // last packet at 2 980 ms, timestamp 1 000 + 149 × 960
    let due = s.next_timer();
    let sent = drain(&mut s, due.max(ms(2_980)));
    let at = due.max(ms(2_980));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, Transmit::Rtcp);
    let mut reports = Vec::new();
    let mut cname = false;
    wire::parse(&sent[0].1, |e| match e {
        Event::SenderReport { ssrc, info } => reports.push((ssrc, info)),
        Event::Cname { ssrc, name } => cname = ssrc == SSRC && name == b"sender@test",
        _ => {}
    })
    .unwrap();
    let (ssrc, info) = reports[0];
    assert_eq!(ssrc, SSRC);
    assert!(cname, "SDES CNAME follows the SR");
    assert_eq!((info.packets, info.octets), (150, 150 * 1_920));
    assert_eq!(info.ntp, wall(at));
    let expected = 1_000 + 149 * 960 + (at - ms(2_980)).as_micros() as u32 * 48 / 1_000;
    assert_eq!(info.rtp_timestamp, expected);
    assert!(
        s.next_timer() > at + ms(2_000),
        "the next one is an interval away"
    );
}

#[test]
fn rtt_loss_and_jitter_come_from_the_receivers_report() {
    let mut s = RtcpSenderSession::new(config(true), ms(0));
    send(&mut s, 10);
    let sr_at = ms(3_000);
    assert!(!drain(&mut s, sr_at).is_empty());
    // The receiver holds the SR 100 ms and its RR arrives 150 ms after the SR left: RTT 50 ms.
    let block = ReceptionBlock {
        ssrc: SSRC,
        fraction_lost: 64,
        cumulative_lost: 7,
        extended_highest_seq: 0x1_0003,
        jitter: 480,
        lsr: wall(sr_at).middle32(),
        dlsr: to_short(ms(100)),
    };
    let mut rr = vec![0u8; MAX_RTCP_LEN];
    let n = Outgoing {
        ssrc: RECEIVER,
        block: Some(block),
        cname: Some("rx"),
        ..Outgoing::default()
    }
    .write(&mut rr)
    .unwrap();
    assert_eq!(s.receiver_view(), None);
    s.on_rtcp(&rr[..n], sr_at + ms(150), wall(sr_at + ms(150)));
    let v = s.receiver_view().unwrap();
    assert_eq!((v.reporter, v.cumulative_lost, v.reports), (RECEIVER, 7, 1));
    assert!((v.fraction_lost - 0.25).abs() < 1e-9);
    assert!((v.jitter_ms - 10.0).abs() < 1e-9);
    let rtt = v.rtt.unwrap().as_secs_f64();
    assert!((rtt - 0.05).abs() < 0.001, "rtt {rtt}");
    // A block about someone else changes nothing.
    let other = Outgoing {
        ssrc: RECEIVER,
        block: Some(ReceptionBlock {
            ssrc: 0x7777,
            ..block
        }),
        ..Outgoing::default()
    };
    let n = other.write(&mut rr).unwrap();
    s.on_rtcp(&rr[..n], sr_at + ms(200), wall(sr_at + ms(200)));
    assert_eq!(s.receiver_view().unwrap().reports, 1);
    assert_eq!(s.counts().foreign_reports, 1);
}

#[test]
fn bye_ends_with_a_goodbye_after_the_report() {
    let mut s = RtcpSenderSession::new(config(true), ms(0));
    send(&mut s, 3);
    let mut out = Vec::new();
    s.bye(ms(60), wall(ms(60)), &mut out);
    let mut events = Vec::new();
    wire::parse(&out, |e| events.push(format!("{e:?}"))).unwrap();
    assert!(events[0].starts_with("SenderReport"), "{events:?}");
    assert_eq!(
        events.last().unwrap(),
        &format!("{:?}", Event::Bye { ssrc: SSRC })
    );
}

#[test]
fn garbage_never_panics_and_is_counted() {
    let mut s = RtcpSenderSession::new(config(true), ms(0));
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for len in 0..400 {
        let junk: Vec<u8> = (0..len % 80).map(|_| rng.random()).collect();
        s.on_rtp_sent(&junk, ms(len as u64));
        s.on_rtcp(&junk, ms(len as u64), wall(ms(len as u64)));
        let mut out = Vec::new();
        let _ = s.poll_transmit(ms(len as u64), wall(ms(len as u64)), &mut out);
    }
    let c = s.counts();
    assert!(c.malformed > 300 && c.not_rtp > 300, "{c:?}");
}

#[test]
fn the_timer_says_when_a_nack_is_waiting() {
    let mut s = RtcpSenderSession::new(config(true), ms(0));
    send(&mut s, 5);
    s.on_rtcp(&nack(SSRC, &[seq_of(1)]), ms(120), wall(ms(120)));
    assert_eq!(s.next_timer(), ms(120));
    drain(&mut s, ms(120));
    assert!(s.next_timer() > ms(1_000));
}
