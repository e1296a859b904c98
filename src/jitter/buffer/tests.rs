//! Unit tests of the jitter buffer's rules: wraps, probation, loss, late, duplicate, reorder,
//! pause, starvation, overflow and every kind of restart.

use std::time::Duration;

use crate::jitter::{InsertOutcome, JitterBuffer, JitterConfig, PopOutcome, ResetReason};
use crate::rtp::header::RtpHeader;

mod restarts;

const STEP: u32 = 160; // 20 ms at 8 kHz
const A: u32 = 0xaaaa;
const B: u32 = 0xbbbb;

fn cfg(capacity: usize) -> JitterConfig {
    let mut c = JitterConfig::new(8000);
    c.capacity = capacity;
    // These tests are about a ring of exactly this size.
    c.max_capacity = capacity;
    c
}

/// Payload that identifies the packet: ssrc low byte and the 16-bit sequence number.
fn body(ssrc: u32, seq: u16) -> [u8; 3] {
    let s = seq.to_be_bytes();
    [ssrc as u8, s[0], s[1]]
}

fn ins(b: &mut JitterBuffer, ssrc: u32, seq: u16, ts: u32, at_ms: u64) -> InsertOutcome {
    let h = RtpHeader::synthetic(0, seq, ts, ssrc, false);
    b.insert(&h, &body(ssrc, seq), Duration::from_millis(at_ms))
}

/// Inserts `n` packets starting at (seq, ts), 20 ms apart from `at_ms`.
fn run(b: &mut JitterBuffer, ssrc: u32, seq: u16, ts: u32, n: u16, at_ms: u64) {
    for i in 0..n {
        let o = ins(
            b,
            ssrc,
            seq.wrapping_add(i),
            ts.wrapping_add(STEP * u32::from(i)),
            at_ms + 20 * u64::from(i),
        );
        assert!(
            matches!(o, InsertOutcome::Queued { .. }),
            "packet {i}: {o:?}"
        );
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Out {
    F(u32, u16),
    L(u64),
    S(u64),
}

fn drain(b: &mut JitterBuffer, max: usize) -> Vec<Out> {
    let mut out = Vec::new();
    for _ in 0..max {
        match b.pop(Duration::from_secs(1000)) {
            PopOutcome::Frame { payload, .. } => {
                let ssrc = match payload.first() {
                    Some(0xaa) => A,
                    _ => B,
                };
                let seq = u16::from_be_bytes([payload[1], payload[2]]);
                out.push(Out::F(ssrc, seq));
            }
            PopOutcome::Lost { ticks, .. } => out.push(Out::L(ticks)),
            PopOutcome::Silence { ticks } => out.push(Out::S(ticks)),
            PopOutcome::Empty => break,
        }
    }
    out
}

fn frames(ssrc: u32, seqs: impl IntoIterator<Item = u16>) -> Vec<Out> {
    seqs.into_iter().map(|s| Out::F(ssrc, s)).collect()
}

#[test]
fn probation_then_in_order() {
    let mut b = JitterBuffer::new(cfg(64));
    ins(&mut b, A, 10, 0, 0);
    assert_eq!(
        b.pop(Duration::ZERO),
        PopOutcome::Empty,
        "one packet is not a source yet"
    );
    assert!(!b.is_confirmed());
    run(&mut b, A, 11, STEP, 5, 20);
    assert!(b.is_confirmed());
    assert_eq!(drain(&mut b, 100), frames(A, 10..16));
    assert_eq!(b.stats().played, 6);
}

#[test]
fn sequence_wrap() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 65530, 1000, 12, 0);
    let expect: Vec<u16> = (0..12u16).map(|i| 65530u16.wrapping_add(i)).collect();
    assert_eq!(drain(&mut b, 100), frames(A, expect));
}

#[test]
fn timestamp_wrap_plays_without_gaps() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 100, u32::MAX - 3 * STEP + 1, 10, 0);
    assert_eq!(drain(&mut b, 100), frames(A, 100..110));
    assert_eq!(b.stats().silence_ticks, 0);
}

#[test]
fn both_wrap_at_once() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 65534, u32::MAX - STEP, 6, 0);
    let expect: Vec<u16> = (0..6u16).map(|i| 65534u16.wrapping_add(i)).collect();
    assert_eq!(drain(&mut b, 100), frames(A, expect));
    assert_eq!(b.stats().lost + b.stats().silence_ticks, 0);
}

#[test]
fn reorder_is_counted_and_played_in_order() {
    let mut b = JitterBuffer::new(cfg(64));
    for (i, s) in [1u16, 2, 4, 3, 5].iter().enumerate() {
        let o = ins(&mut b, A, *s, u32::from(*s) * STEP, 20 * i as u64);
        assert_eq!(o, InsertOutcome::Queued { reordered: *s == 3 });
    }
    assert_eq!(b.stats().reordered, 1);
    assert_eq!(drain(&mut b, 100), frames(A, 1..6));
}

#[test]
fn reorder_before_playout_moves_the_start_back() {
    let mut b = JitterBuffer::new(cfg(64));
    for s in [2u16, 1, 3, 4, 5] {
        ins(&mut b, A, s, u32::from(s) * STEP, 0);
    }
    assert_eq!(drain(&mut b, 100), frames(A, 1..6));
}

#[test]
fn loss_late_and_duplicates() {
    let mut b = JitterBuffer::new(cfg(64));
    for s in [1u16, 2, 4, 5] {
        ins(&mut b, A, s, u32::from(s) * STEP, 0);
    }
    assert_eq!(ins(&mut b, A, 4, 4 * STEP, 1), InsertOutcome::Duplicate);
    let out = drain(&mut b, 100);
    assert_eq!(
        out,
        vec![
            Out::F(A, 1),
            Out::F(A, 2),
            Out::L(160),
            Out::F(A, 4),
            Out::F(A, 5)
        ]
    );
    assert_eq!(ins(&mut b, A, 3, 3 * STEP, 2), InsertOutcome::Late);
    assert_eq!(
        ins(&mut b, A, 2, 2 * STEP, 2),
        InsertOutcome::Duplicate,
        "already played"
    );
    let st = b.stats();
    assert_eq!((st.lost, st.late, st.duplicate, st.played), (1, 1, 2, 4));
}

#[test]
fn pause_plays_silence_of_the_right_length() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 1, 0, 3, 0);
    // The sender was silent for 9 packets: sequence +1, timestamp +10 steps, 200 ms later.
    assert!(matches!(
        ins(&mut b, A, 4, 12 * STEP, 240),
        InsertOutcome::Queued { .. }
    ));
    ins(&mut b, A, 5, 13 * STEP, 260);
    let out = drain(&mut b, 100);
    assert_eq!(
        out,
        vec![
            Out::F(A, 1),
            Out::F(A, 2),
            Out::F(A, 3),
            Out::S(9 * 160),
            Out::F(A, 4),
            Out::F(A, 5)
        ]
    );
}

#[test]
fn a_pause_that_outlasts_the_buffer_resumes_inside_it() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 1, 0, 3, 0);
    assert_eq!(drain(&mut b, 100), frames(A, 1..4));
    assert_eq!(b.pause_after_starving(), None, "nothing has come back yet");
    // The sender was silent for 50 packets (1 s); the packet after the pause is next in line.
    ins(&mut b, A, 4, 53 * STEP, 1060);
    assert_eq!(b.pause_after_starving(), Some(50 * u64::from(STEP)));
    // 300 ms of the pause is still to play; the rest went by while the output waited.
    b.resume_in_pause(2400);
    assert_eq!(drain(&mut b, 100), vec![Out::S(2400), Out::F(A, 4)]);
}

#[test]
fn a_pause_with_its_first_packet_lost_is_still_a_pause() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 1, 0, 3, 0);
    assert_eq!(drain(&mut b, 100), frames(A, 1..4));
    // Packet 4 (the first after a 1 s pause) was lost; 5 follows it.
    ins(&mut b, A, 5, 54 * STEP, 1080);
    assert_eq!(b.pause_after_starving(), Some(50 * u64::from(STEP)));
    // A stream that resumes with no pause before it is not one.
    let mut c = JitterBuffer::new(cfg(64));
    run(&mut c, A, 1, 0, 3, 0);
    assert_eq!(drain(&mut c, 100), frames(A, 1..4));
    ins(&mut c, A, 5, 4 * STEP, 1080);
    assert_eq!(c.pause_after_starving(), None, "a loss, not a pause");
    c.resume_in_pause(2400);
    assert_eq!(
        c.pop(Duration::ZERO),
        PopOutcome::Empty,
        "still waiting as before"
    );
}

#[test]
fn long_pause_silence_is_bounded() {
    let mut c = cfg(64);
    c.max_pause = Duration::from_secs(2);
    let mut b = JitterBuffer::new(c);
    run(&mut b, A, 1, 0, 3, 0);
    // A 60 s pause (arrival time agrees, so it is no timestamp jump).
    let ts = 3 * STEP + 60 * 8000;
    assert!(matches!(
        ins(&mut b, A, 4, ts, 60_060),
        InsertOutcome::Queued { .. }
    ));
    ins(&mut b, A, 5, ts + STEP, 60_080);
    let out = drain(&mut b, 100);
    assert_eq!(out[3], Out::S(16_000), "capped at 2 s");
    assert_eq!(&out[4..], &frames(A, 4..6)[..]);
}

#[test]
fn starved_buffer_waits_briefly_then_skips_what_passed() {
    let ms = Duration::from_millis;
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 1, 0, 3, 0);
    assert_eq!(drain(&mut b, 100), frames(A, 1..4));
    // A burst after a freeze arrives slightly reordered: 5 before 4.
    ins(&mut b, A, 5, 4 * STEP, 5000);
    assert_eq!(b.depth(), ms(0), "nothing playable while the gap may fill");
    assert_eq!(b.pop(ms(5030)), PopOutcome::Empty, "grace for stragglers");
    ins(&mut b, A, 4, 3 * STEP, 5010);
    assert_eq!(b.depth(), ms(40));
    assert!(matches!(b.pop(ms(5031)), PopOutcome::Frame { payload, .. } if payload == body(A, 4)));
    assert_eq!(drain(&mut b, 100), frames(A, [5]));
    // An outage: 6..=9 never come, and the sender paused too; 10 arrives much later.
    ins(&mut b, A, 10, 50 * STEP, 9000);
    assert_eq!(b.depth(), ms(0));
    assert_eq!(b.pop(ms(9030)), PopOutcome::Empty);
    assert_eq!(
        drain(&mut b, 100),
        frames(A, [10]),
        "no concealment or silence for what passed"
    );
    assert_eq!(b.stats().lost, 4);
    assert_eq!(b.stats().silence_ticks, 0);
}

#[test]
fn overflow_drops_oldest() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 1, 0, 64, 0);
    let o = ins(&mut b, A, 65, 64 * STEP, 1300);
    assert_eq!(o, InsertOutcome::Overflow { evicted: 1 });
    for s in 66..=100u16 {
        ins(&mut b, A, s, u32::from(s - 1) * STEP, 1300);
    }
    assert_eq!(b.stats().overflow, 36);
    assert_eq!(b.queued(), 64);
    assert_eq!(drain(&mut b, 200), frames(A, 37..=100));
    assert_eq!(ins(&mut b, A, 5, 4 * STEP, 1400), InsertOutcome::Late);
}

#[test]
fn overflow_by_depth() {
    let mut c = cfg(4096);
    c.max_depth = Duration::from_secs(1);
    let mut b = JitterBuffer::new(c);
    run(&mut b, A, 1, 0, 50, 0);
    assert_eq!(b.depth(), Duration::from_secs(1));
    assert_eq!(
        ins(&mut b, A, 51, 50 * STEP, 1000),
        InsertOutcome::Overflow { evicted: 1 }
    );
    assert_eq!(b.depth(), Duration::from_secs(1));
    assert_eq!(drain(&mut b, 100).first(), Some(&Out::F(A, 2)));
}

#[test]
fn too_large_is_refused_and_any_datagram_size_is_not() {
    let mut c = cfg(8);
    c.max_bytes = 64 * 1024;
    let mut b = JitterBuffer::new(c);
    let h = RtpHeader::synthetic(0, 1, 0, A, false);
    assert_eq!(
        b.insert(&h, &vec![0u8; 64 * 1024 + 1], Duration::ZERO),
        InsertOutcome::TooLarge,
        "larger than the whole byte budget"
    );
    assert_eq!(b.stats().too_large, 1);
    let mut c = cfg(64);
    c.max_bytes = 1 << 20;
    let mut b = JitterBuffer::new(c);
    for (i, len) in [65_495usize, 12, 1_920, 7_680, 65_495]
        .into_iter()
        .enumerate()
    {
        let h = RtpHeader::synthetic(0, i as u16 + 1, i as u32 * STEP, A, false);
        let payload: Vec<u8> = (0..len).map(|k| (k * 31 + i) as u8).collect();
        assert!(matches!(
            b.insert(&h, &payload, Duration::from_millis(20 * i as u64)),
            InsertOutcome::Queued { .. }
        ));
    }
    for (i, len) in [65_495usize, 12, 1_920, 7_680, 65_495]
        .into_iter()
        .enumerate()
    {
        match b.pop(Duration::from_secs(1)) {
            PopOutcome::Frame { payload, .. } => {
                assert_eq!(payload.len(), len);
                assert!(payload
                    .iter()
                    .enumerate()
                    .all(|(k, v)| *v == (k * 31 + i) as u8));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn the_byte_budget_evicts_the_oldest() {
    let mut c = cfg(64);
    c.max_bytes = 4 * 1024;
    let mut b = JitterBuffer::new(c);
    for i in 0..10u16 {
        let h = RtpHeader::synthetic(0, i + 1, u32::from(i) * STEP, A, false);
        b.insert(
            &h,
            &[i as u8; 1000],
            Duration::from_millis(20 * u64::from(i)),
        );
    }
    // 1000 bytes take four 256-byte blocks: four packets fit in 4 KiB.
    assert_eq!(b.stats().overflow, 6);
    assert_eq!(b.queued(), 4);
}

#[test]
fn depth_and_gauges() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 1, 0, 10, 1000);
    assert_eq!(b.packet_ticks(), Some(160));
    assert_eq!(b.depth(), Duration::from_millis(200));
    assert_eq!(
        b.message_age(Duration::from_millis(1500)),
        Some(Duration::from_millis(500))
    );
    let _ = b.pop(Duration::from_millis(1700));
    assert_eq!(b.last_flush_latency(), Some(Duration::from_millis(700)));
    assert_eq!(b.depth(), Duration::from_millis(180));
}

#[test]
fn draining_plays_an_unconfirmed_source() {
    let mut b = JitterBuffer::new(cfg(64));
    ins(&mut b, A, 1, 0, 0);
    assert_eq!(b.pop(Duration::ZERO), PopOutcome::Empty);
    b.set_draining(true);
    assert_eq!(drain(&mut b, 10), frames(A, [1]));
    assert!(b.is_empty());
}

#[test]
fn clear_starts_over() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 1, 0, 10, 0);
    b.clear();
    assert!(b.is_empty());
    assert_eq!(b.pop(Duration::ZERO), PopOutcome::Empty);
    run(&mut b, B, 40, 0, 3, 500);
    assert_eq!(drain(&mut b, 10), frames(B, 40..43));
}

#[test]
fn peek_resume_reads_the_audio_after_a_gap_without_popping_it() {
    let mut b = JitterBuffer::new(cfg(64));
    for s in [1u16, 2, 5, 6, 7, 9] {
        ins(&mut b, A, s, u32::from(s) * STEP, 0);
    }
    assert_eq!(drain(&mut b, 2), frames(A, [1, 2]));
    let (mut out, mut scratch) = (Vec::new(), Vec::new());
    // At the loss of 3: 4 is missing too, so the audio resumes 2 packets on; 5, 6 and 7 are
    // consecutive, 9 is not.
    assert_eq!(
        b.peek_resume(10 * STEP as u64, &mut out, &mut scratch),
        Some(2 * 160)
    );
    let mut expected = Vec::new();
    for s in [5u16, 6, 7] {
        expected.extend_from_slice(&body(A, s));
    }
    assert_eq!(out, expected);
    assert_eq!(
        b.peek_resume(2 * STEP as u64, &mut out, &mut scratch),
        Some(320)
    );
    assert_eq!(out.len(), 6, "stops once it holds enough");
    assert_eq!(drain(&mut b, 1), vec![Out::L(160)]);
    assert_eq!(
        b.peek_resume(STEP as u64, &mut out, &mut scratch),
        Some(160)
    );
    assert_eq!(
        drain(&mut b, 100),
        vec![
            Out::L(160),
            Out::F(A, 5),
            Out::F(A, 6),
            Out::F(A, 7),
            Out::L(160),
            Out::F(A, 9)
        ],
        "peeking took nothing"
    );
    assert_eq!(
        b.peek_resume(STEP as u64, &mut out, &mut scratch),
        None,
        "empty"
    );
}

#[test]
fn peek_resume_refuses_a_gap_that_holds_a_pause() {
    let mut b = JitterBuffer::new(cfg(64));
    for s in [1u16, 2, 3] {
        ins(&mut b, A, s, u32::from(s) * STEP, 0);
    }
    // 4 is lost and the sender paused a second before 5.
    ins(&mut b, A, 5, 5 * STEP + 8000, 0);
    ins(&mut b, A, 6, 6 * STEP + 8000, 0);
    assert_eq!(drain(&mut b, 3), frames(A, [1, 2, 3]));
    let (mut out, mut scratch) = (Vec::new(), Vec::new());
    assert_eq!(b.peek_resume(STEP as u64, &mut out, &mut scratch), None);
}

#[test]
fn short_packets_grow_the_ring_to_hold_the_whole_depth() {
    // 125 µs packets at 48 kHz (6 ticks): 6 s of depth is 48,000 packets, far more than the
    // 4,096 default slots; every one must be held and played in order.
    let mut c = JitterConfig::new(48_000);
    c.max_depth = Duration::from_secs(6);
    let mut b = JitterBuffer::new(c);
    let n: u32 = 40_000;
    for i in 0..n {
        let seq = (i % 65_536) as u16;
        let h = RtpHeader::synthetic(96, seq, i * 6, A, false);
        let at = Duration::from_micros(u64::from(i) * 125);
        let o = b.insert(&h, &[i as u8; 36], at);
        assert!(
            matches!(o, InsertOutcome::Queued { .. }),
            "packet {i}: {o:?}"
        );
    }
    assert_eq!(b.stats().overflow, 0);
    let mut played = 0u32;
    while let PopOutcome::Frame { payload, .. } = b.pop(Duration::from_secs(1000)) {
        assert_eq!(payload[0], played as u8, "packet {played} out of order");
        played += 1;
    }
    assert_eq!(played, n);
}
