//! Restart rules: SSRC change, sequence and timestamp jumps, probation replacement, and the
//! known-window exception for very late packets.

use super::*;

#[test]
fn ssrc_change_plays_the_buffered_audio_then_the_new_stream_after_the_wire_pause() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 1, 0, 10, 0);
    assert_eq!(drain(&mut b, 3), frames(A, 1..4));
    assert_eq!(ins(&mut b, B, 5000, 77, 300), InsertOutcome::Held);
    assert_eq!(
        ins(&mut b, B, 5001, 77 + STEP, 320),
        InsertOutcome::Reset(ResetReason::NewSsrc)
    );
    ins(&mut b, B, 5002, 77 + 2 * STEP, 340);
    // The last old packet arrived at 180 ms and lasts 20 ms; the new stream came at 300 ms.
    let mut expect = frames(A, 4..11);
    expect.push(Out::S(100 * 8));
    expect.extend(frames(B, 5000..5003));
    assert_eq!(
        drain(&mut b, 100),
        expect,
        "old audio, the pause, new audio"
    );
    let st = b.stats();
    assert_eq!((st.resets, st.discarded, st.lost), (1, 0, 0));
    assert_eq!(b.ssrc(), Some(B));
    assert_eq!(
        ins(&mut b, A, 11, 10 * STEP, 360),
        InsertOutcome::Held,
        "old SSRC is foreign"
    );
}

#[test]
fn a_new_stream_reordered_from_its_first_packet_restarts_on_agreeing_packets() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 1, 0, 10, 0);
    // No two of these arrive in sequence; four agreeing ones are evidence enough.
    for (i, seq) in [5002u16, 5000, 5004, 5006].into_iter().enumerate() {
        let ts = 77 + u32::from(seq - 5000) * STEP;
        let o = ins(&mut b, B, seq, ts, 200 + 20 * i as u64);
        let expect = if i < 3 {
            InsertOutcome::Held
        } else {
            InsertOutcome::Reset(ResetReason::NewSsrc)
        };
        assert_eq!(o, expect, "packet {seq}");
    }
    for (i, seq) in [5001u16, 5003, 5005].into_iter().enumerate() {
        let ts = 77 + u32::from(seq - 5000) * STEP;
        assert!(matches!(
            ins(&mut b, B, seq, ts, 300 + 20 * i as u64),
            InsertOutcome::Queued { .. }
        ));
    }
    let out = drain(&mut b, 100);
    let played: Vec<&Out> = out.iter().filter(|o| matches!(o, Out::F(..))).collect();
    let mut expect = frames(A, 1..11);
    expect.extend(frames(B, 5000..5007));
    assert_eq!(played, expect.iter().collect::<Vec<_>>());
    assert_eq!(b.stats().lost, 0);
}

#[test]
fn challenger_is_cancelled_by_the_current_source() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 1, 0, 4, 0);
    assert_eq!(ins(&mut b, B, 900, 0, 80), InsertOutcome::Held);
    assert!(matches!(
        ins(&mut b, A, 5, 4 * STEP, 90),
        InsertOutcome::Queued { .. }
    ));
    assert_eq!(ins(&mut b, B, 901, STEP, 100), InsertOutcome::Held);
    assert_eq!(b.stats().foreign, 1);
    assert_eq!(b.ssrc(), Some(A));
}

#[test]
fn unvalidated_first_source_is_replaced() {
    let mut b = JitterBuffer::new(cfg(64));
    ins(&mut b, A, 1, 0, 0);
    assert!(matches!(
        ins(&mut b, B, 7, 0, 10),
        InsertOutcome::Queued { .. }
    ));
    ins(&mut b, B, 8, STEP, 30);
    assert_eq!(drain(&mut b, 10), frames(B, 7..9));
    assert_eq!(b.stats().foreign, 1);
}

#[test]
fn sequence_jump_restart_is_confirmed_and_follows_the_old_audio() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 1, 0, 10, 0);
    drain(&mut b, 2);
    assert_eq!(ins(&mut b, A, 30000, 999, 300), InsertOutcome::Held);
    assert_eq!(
        ins(&mut b, A, 30001, 999 + STEP, 320),
        InsertOutcome::Reset(ResetReason::SeqJump)
    );
    let mut expect = frames(A, 3..11);
    expect.push(Out::S(100 * 8));
    expect.extend(frames(A, [30000, 30001]));
    assert_eq!(drain(&mut b, 100), expect);
    assert_eq!((b.stats().resets, b.stats().lost), (1, 0));
}

#[test]
fn sequence_jump_with_continuous_timestamps_is_placed_by_timestamp() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 1, 0, 10, 0);
    assert_eq!(ins(&mut b, A, 5010, 10 * STEP, 200), InsertOutcome::Held);
    assert_eq!(
        ins(&mut b, A, 5011, 11 * STEP, 220),
        InsertOutcome::Reset(ResetReason::SeqJump)
    );
    ins(&mut b, A, 5012, 12 * STEP, 240);
    let mut expect = frames(A, 1..11);
    expect.extend(frames(A, 5010..5013));
    assert_eq!(
        drain(&mut b, 100),
        expect,
        "no gap, no silence, nothing lost"
    );
    assert_eq!((b.stats().resets, b.stats().lost), (1, 0));
}

#[test]
fn packets_from_the_played_past_are_late_however_late_and_across_wraps() {
    let mut b = JitterBuffer::new(cfg(64));
    // 6000 packets of 20 ms (120 s) whose sequence numbers wrap at packet 1536.
    let (seq0, ts0) = (64_000u16, u32::MAX - 1000 * STEP);
    for i in 0..6000u32 {
        let seq = seq0.wrapping_add(i as u16);
        ins(
            &mut b,
            A,
            seq,
            ts0.wrapping_add(i * STEP),
            u64::from(i) * 20,
        );
        drain(&mut b, 1);
    }
    let before = *b.stats();
    // 100 s late, before the wrap; then a consecutive pair (what A.1 would take for a jump).
    for i in [1000u32, 1001, 1002, 5900] {
        let o = ins(
            &mut b,
            A,
            seq0.wrapping_add(i as u16),
            ts0.wrapping_add(i * STEP),
            120_100,
        );
        assert_eq!(o, InsertOutcome::Late, "packet {i}");
    }
    let after = *b.stats();
    assert_eq!(after.late - before.late, 4);
    assert_eq!((after.resets, after.stray), (0, 0));
    // The stream goes on as if nothing happened.
    let i = 6000u32;
    assert!(matches!(
        ins(
            &mut b,
            A,
            seq0.wrapping_add(i as u16),
            ts0.wrapping_add(i * STEP),
            120_000
        ),
        InsertOutcome::Queued { .. }
    ));
    assert_eq!(
        drain(&mut b, 5).last(),
        Some(&Out::F(A, seq0.wrapping_add(6000)))
    );
}

#[test]
fn a_first_stream_reordered_from_its_first_packet_still_starts() {
    let mut b = JitterBuffer::new(cfg(64));
    for (i, seq) in [12u16, 10, 14, 16, 11, 13, 15].into_iter().enumerate() {
        ins(&mut b, A, seq, u32::from(seq) * STEP, 20 * i as u64);
    }
    assert!(b.is_confirmed());
    assert_eq!(drain(&mut b, 100), frames(A, 10..17));
}

#[test]
fn unconfirmed_jump_is_stray() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 1, 0, 10, 0);
    assert_eq!(ins(&mut b, A, 30000, 999, 300), InsertOutcome::Held);
    assert!(matches!(
        ins(&mut b, A, 11, 10 * STEP, 320),
        InsertOutcome::Queued { .. }
    ));
    assert_eq!(b.stats().stray, 1);
    assert_eq!(drain(&mut b, 100), frames(A, 1..12));
}

#[test]
fn very_late_packet_beyond_misorder_is_still_in_window() {
    let mut b = JitterBuffer::new(cfg(4096));
    for s in (1..=300u16).filter(|s| *s != 50 && *s != 60) {
        ins(&mut b, A, s, u32::from(s) * STEP, u64::from(s) * 20);
    }
    drain(&mut b, 55); // plays 1..=49, lost 50, plays 51..=55
    assert_eq!(ins(&mut b, A, 50, 50 * STEP, 6100), InsertOutcome::Late);
    assert_eq!(
        ins(&mut b, A, 60, 60 * STEP, 6100),
        InsertOutcome::Queued { reordered: true }
    );
    assert_eq!(b.stats().resets + b.stats().stray, 0);
    assert!(drain(&mut b, 400).contains(&Out::F(A, 60)));
}

#[test]
fn timestamp_jump_resets_timing() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 1, 500_000, 5, 0);
    // Same SSRC, next sequence numbers, but the timestamp went backwards.
    assert_eq!(ins(&mut b, A, 6, 10, 100), InsertOutcome::Held);
    assert_eq!(
        ins(&mut b, A, 7, 10 + STEP, 120),
        InsertOutcome::Reset(ResetReason::TsJump)
    );
    assert_eq!(
        drain(&mut b, 100),
        frames(A, 1..8),
        "no pause on the wire, no gap"
    );
    // Far ahead of the elapsed time is a jump too; the old timing continuing cancels it.
    assert_eq!(
        ins(&mut b, A, 8, 10 + STEP + 8000 * 3600, 140),
        InsertOutcome::Held
    );
    assert!(matches!(
        ins(&mut b, A, 9, 10 + 3 * STEP, 160),
        InsertOutcome::Queued { .. }
    ));
    assert_eq!(b.stats().stray, 1);
}

#[test]
fn an_earlier_packet_with_a_timestamp_hours_behind_does_not_move_the_start() {
    // Found by fuzzing: it made the buffer conceal hours of "lost" audio.
    let mut b = JitterBuffer::new(cfg(64));
    ins(&mut b, A, 0, 0, 0);
    assert_eq!(
        ins(&mut b, A, 65_525, 0xC2C2_00C2, 194),
        InsertOutcome::Late
    );
    ins(&mut b, A, 1, STEP, 200);
    let out = drain(&mut b, 100);
    assert_eq!(out, frames(A, 0..2));
    assert_eq!(b.stats().stray, 1);
}

#[test]
fn no_lost_packet_conceals_more_than_a_second() {
    let mut b = JitterBuffer::new(cfg(64));
    // Two packets whose timestamps say a minute passed over three sequence numbers, no cadence yet.
    ins(&mut b, A, 1, 0, 0);
    ins(&mut b, A, 2, STEP, 20);
    ins(&mut b, A, 5, STEP + 8000 * 60, 60_020);
    let out = drain(&mut b, 100);
    assert!(
        out.iter().all(|o| !matches!(o, Out::L(t) if *t > 8000)),
        "{out:?}"
    );
}
