//! Restart rules: SSRC change, sequence and timestamp jumps, probation replacement, and the
//! known-window exception for very late packets.

use super::*;

#[test]
fn ssrc_change_discards_stale_audio() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 1, 0, 10, 0);
    assert_eq!(drain(&mut b, 3), frames(A, 1..4));
    assert_eq!(ins(&mut b, B, 5000, 77, 300), InsertOutcome::Held);
    assert_eq!(
        ins(&mut b, B, 5001, 77 + STEP, 320),
        InsertOutcome::Reset(ResetReason::NewSsrc)
    );
    ins(&mut b, B, 5002, 77 + 2 * STEP, 340);
    assert_eq!(
        drain(&mut b, 100),
        frames(B, 5000..5003),
        "nothing stale, no gap"
    );
    let st = b.stats();
    assert_eq!((st.resets, st.discarded, st.lost), (1, 7, 0));
    assert_eq!(b.ssrc(), Some(B));
    assert_eq!(
        ins(&mut b, A, 11, 10 * STEP, 360),
        InsertOutcome::Held,
        "old SSRC is foreign"
    );
}

#[test]
fn ssrc_change_can_play_queued_audio_first() {
    let mut c = cfg(64);
    c.reset_policy = ResetPolicy::PlayQueued;
    let mut b = JitterBuffer::new(c);
    run(&mut b, A, 1, 0, 10, 0);
    assert_eq!(drain(&mut b, 3), frames(A, 1..4));
    ins(&mut b, B, 60000, 5, 300);
    assert_eq!(
        ins(&mut b, B, 60001, 5 + STEP, 320),
        InsertOutcome::Reset(ResetReason::NewSsrc)
    );
    let mut expect = frames(A, 4..11);
    expect.extend(frames(B, [60000, 60001]));
    assert_eq!(drain(&mut b, 100), expect, "old audio, then new, seamless");
    assert_eq!(b.stats().discarded, 0);
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
fn sequence_jump_restart_is_confirmed() {
    let mut b = JitterBuffer::new(cfg(64));
    run(&mut b, A, 1, 0, 10, 0);
    drain(&mut b, 2);
    assert_eq!(ins(&mut b, A, 30000, 999, 300), InsertOutcome::Held);
    assert_eq!(
        ins(&mut b, A, 30001, 999 + STEP, 320),
        InsertOutcome::Reset(ResetReason::SeqJump)
    );
    assert_eq!(drain(&mut b, 100), frames(A, [30000, 30001]));
    assert_eq!(b.stats().resets, 1);
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
    assert_eq!(drain(&mut b, 100), frames(A, [6, 7]));
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
