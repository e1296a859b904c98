//! The receiver session on virtual time: NACKs, RTX, reports, SR and BYE.

use super::*;
use crate::rtcp::ntp::NtpTime;
use crate::rtcp::wire::{Outgoing, SenderInfo};
use rtp_rs::{RtpPacketBuilder, Seq};

const MEDIA: u32 = 0x1111;
const MS: Duration = Duration::from_millis(1);

fn session(rtx: Option<(u8, u8)>, nack: bool) -> RtcpReceiver {
    let cfg = RtcpReceiverConfig {
        ssrc: 0x2222,
        cname: "me@here".into(),
        clock_rate: 8000,
        nack: nack.then(NackConfig::default),
        rtx,
        reduced_size: false,
        session_octets_per_s: 8600.0,
        seed: 1,
        first_report_at_once: false,
    };
    RtcpReceiver::new(cfg, Duration::ZERO)
}

fn packet(seq: u16, pt: u8, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    RtpPacketBuilder::new()
        .payload_type(pt)
        .sequence(Seq::from(seq))
        .timestamp(u32::from(seq) * 160)
        .ssrc(ssrc)
        .payload(payload)
        .build()
        .unwrap()
}

fn media(r: &mut RtcpReceiver, seq: u16, at_ms: u32) -> Option<Arrival> {
    let p = packet(seq, 0, MEDIA, &[0x55; 160]);
    let h = RtpHeader::parse(&p).unwrap();
    r.on_media(&h, p.len(), MS * at_ms, Duration::from_secs(1), false, true)
}

fn sent(r: &mut RtcpReceiver) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    r.drain_outbox(|d| out.push(d.to_vec()));
    out
}

fn nacked(datagrams: &[Vec<u8>]) -> Vec<u16> {
    let mut seqs = Vec::new();
    for d in datagrams {
        wire::parse(d, |e| {
            if let Event::Nack {
                media_ssrc: MEDIA,
                seq,
                ..
            } = e
            {
                seqs.push(seq);
            }
        })
        .unwrap();
    }
    seqs
}

#[test]
fn a_gap_becomes_a_nack_with_a_report_and_its_rtx_is_the_original() {
    let mut r = session(Some((97, 0)), true);
    for seq in 0..5 {
        media(&mut r, seq, u32::from(seq) * 20);
    }
    media(&mut r, 6, 120);
    r.poll(MS * 140, MS, Duration::from_secs(1));
    let out = sent(&mut r);
    assert_eq!(nacked(&out), vec![5]);
    let mut had_block = false;
    wire::parse(&out[0], |e| {
        had_block |= matches!(e, Event::Reception { .. })
    })
    .unwrap();
    assert!(had_block, "a compound NACK starts with a receiver report");

    // The retransmission: RTX on its own SSRC and payload type.
    let original = packet(5, 0, MEDIA, &[0x55; 160]);
    let mut rtx = Vec::new();
    assert!(crate::rtcp::rtx::wrap(&original, 97, 900, 0x3333, &mut rtx));
    let h = RtpHeader::parse(&rtx).unwrap();
    assert!(matches!(
        r.classify(&h, &rtx, Some(MEDIA), Some(0)),
        MediaKind::Rtx(_)
    ));
    assert_eq!(r.unwrapped(), &original[..]);
    let back = RtpHeader::parse(r.unwrapped()).unwrap();
    assert_eq!(
        r.on_media(
            &back,
            original.len(),
            MS * 200,
            Duration::from_secs(1),
            true,
            true
        ),
        Some(Arrival::Requested)
    );
    r.count_recovery(true);
    let s = r.status();
    assert_eq!(
        (s.rtx_received, s.nack.recovered, s.nack.nack_packets),
        (1, 1, 1)
    );
    assert_eq!(s.rtt_ms, Some(60.0));
    // RTX before any stream is known cannot be used.
    assert_eq!(r.classify(&h, &rtx, None, Some(0)), MediaKind::UnusableRtx);
}

#[test]
fn reports_carry_loss_and_the_last_sender_report() {
    // Without NACKs, so that the next thing due is the report.
    let mut r = session(None, false);
    for seq in (0..100).filter(|s| s % 10 != 9) {
        media(&mut r, seq, u32::from(seq) * 20);
    }
    // The first report (2.5 s randomised, compensated) goes out before any SR.
    let first = r.next_due();
    assert!(first < MS * 3100, "{first:?}");
    r.poll(first, MS * 3, Duration::from_secs(1));
    assert_eq!(sent(&mut r).len(), 1);
    // An SR arrives at 2 s; the next report, at its scheduled time, echoes it.
    let info = SenderInfo {
        ntp: NtpTime(0x1234_5678_9abc_def0),
        rtp_timestamp: 16_000,
        packets: 100,
        octets: 16_000,
    };
    let mut buf = [0u8; MAX_RTCP_LEN];
    let n = Outgoing {
        ssrc: MEDIA,
        sender: Some(info),
        cname: Some("them@there"),
        ..Outgoing::default()
    }
    .write(&mut buf)
    .unwrap();
    let sr_at = first + MS * 100;
    assert!(!r.on_rtcp(&buf[..n], sr_at));
    let due = r.next_due();
    assert!(
        due > first + MS * 1600 && due < first + MS * 6200,
        "{due:?}"
    );
    r.poll(due, MS * 3, Duration::from_secs(1));
    let out = sent(&mut r);
    let mut block = None;
    let mut cname = false;
    for d in &out {
        wire::parse(d, |e| match e {
            Event::Reception {
                reporter: 0x2222,
                block: b,
            } => block = Some(b),
            Event::Cname { ssrc: 0x2222, name } => cname = name == b"me@here",
            _ => {}
        })
        .unwrap();
    }
    let b = block.expect("a receiver report");
    assert!(cname);
    assert_eq!(b.ssrc, MEDIA);
    assert_eq!(b.cumulative_lost, 9, "9, 19, … 89 (99 is past the highest)");
    assert_eq!(b.fraction_lost, 0, "nothing since the first report");
    assert_eq!(b.extended_highest_seq, 98);
    assert_eq!(b.jitter, 24, "3 ms at 8 kHz");
    assert_eq!(b.lsr, 0x5678_9abc);
    let held = ntp::from_short(b.dlsr);
    assert!(
        (held.as_secs_f64() - (due - sr_at).as_secs_f64()).abs() < 1e-3,
        "{held:?}"
    );
    let s = r.status();
    assert_eq!(r.sender_cname(), Some("them@there"));
    assert_eq!((s.sender_packets, s.sender_reports), (Some(100), 1));
}

#[test]
fn bye_from_the_source_ends_and_ours_goes_out_once() {
    let mut r = session(None, true);
    media(&mut r, 1, 0);
    let mut buf = [0u8; MAX_RTCP_LEN];
    let other = Outgoing {
        ssrc: 0x9999,
        bye: Some(""),
        ..Outgoing::default()
    }
    .write(&mut buf)
    .unwrap();
    assert!(!r.on_rtcp(&buf[..other], MS * 10), "someone else's BYE");
    let n = Outgoing {
        ssrc: MEDIA,
        bye: Some("done"),
        ..Outgoing::default()
    }
    .write(&mut buf)
    .unwrap();
    assert!(r.on_rtcp(&buf[..n], MS * 20));
    assert!(r.status().bye_received);
    r.bye(MS * 30, MS);
    r.bye(MS * 40, MS);
    let out = sent(&mut r);
    assert_eq!(out.len(), 1);
    let mut byes = 0;
    wire::parse(&out[0], |e| {
        byes += u32::from(matches!(e, Event::Bye { ssrc: 0x2222 }))
    })
    .unwrap();
    assert_eq!(byes, 1);
    assert!(!r.on_rtcp(b"\x80\xc9garbage", MS * 50));
    assert_eq!(r.status().rtcp_malformed, 1);
}

#[test]
fn without_an_announced_payload_type_rtx_is_learnt_from_an_answer_to_a_nack() {
    let mut r = session(None, true);
    for seq in 0..5 {
        media(&mut r, seq, u32::from(seq) * 20);
    }
    media(&mut r, 6, 120);
    r.poll(MS * 140, MS, Duration::from_secs(1));
    assert_eq!(nacked(&sent(&mut r)), vec![5]);
    let original = packet(5, 0, MEDIA, &[0x55; 160]);
    let mut rtx = Vec::new();
    // An RTX-looking packet for a number not asked for teaches nothing.
    crate::rtcp::rtx::wrap(&packet(3, 0, MEDIA, &[1; 160]), 101, 1, 0x3333, &mut rtx);
    let h = RtpHeader::parse(&rtx).unwrap();
    assert_eq!(r.classify(&h, &rtx, Some(MEDIA), Some(0)), MediaKind::Media);
    crate::rtcp::rtx::wrap(&original, 101, 2, 0x3333, &mut rtx);
    let h = RtpHeader::parse(&rtx).unwrap();
    assert!(matches!(
        r.classify(&h, &rtx, Some(MEDIA), Some(0)),
        MediaKind::Rtx(_)
    ));
    assert_eq!(r.unwrapped(), &original[..]);
}
