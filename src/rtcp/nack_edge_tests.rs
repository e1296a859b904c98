//! The stream's edges from sender reports, on virtual time: packets before the first one
//! received and after the last.

use super::*;

const MS: Duration = Duration::from_millis(1);
const RATE: u32 = 8_000;
/// 20 ms packets at 8 kHz.
const TICKS: u32 = 160;
/// Audio buffered when a packet arrives.
const TO_PLAY: Duration = Duration::from_secs(1);

fn ts_of(seq: u16) -> u32 {
    u32::from(seq).wrapping_mul(TICKS)
}

/// Packet `seq` arriving at `at_ms` (timestamps follow the sequence numbers; `in_time` as the
/// jitter buffer would say).
fn feed_at(s: &mut NackScheduler, seq: u16, at_ms: u64, in_time: bool) -> Arrival {
    let p = ReceivedPacket {
        seq,
        ts: ts_of(seq),
        len: 172,
        arrival: MS * at_ms as u32,
        original: None,
    };
    s.on_packet(p, TO_PLAY, RATE, in_time)
}

fn feed(s: &mut NackScheduler, seq: u16, at_ms: u64) -> Arrival {
    feed_at(s, seq, at_ms, true)
}

fn poll(s: &mut NackScheduler, at_ms: u64) -> Vec<u16> {
    let mut seqs = Vec::new();
    s.poll(MS * at_ms as u32, &mut seqs);
    seqs
}

fn tail(s: &mut NackScheduler, at_ms: u64, ended: bool) {
    s.ask_for_tail(MS * at_ms as u32, TO_PLAY, RATE, ended);
}

/// A report made while packet `sending` was going out, counting `count` packets.
fn report(s: &mut NackScheduler, sending: u16, count: u32, at_ms: u64) {
    s.on_sender_report(
        count,
        ts_of(sending).wrapping_add(TICKS / 2),
        MS * at_ms as u32,
    );
}

#[test]
fn packets_sent_before_the_first_received_are_asked_for_and_played_before_it() {
    let mut s = NackScheduler::new(NackConfig::default());
    // The sender started at 0; 0–4 went out before we listened.
    for (i, seq) in (5..=10).enumerate() {
        feed(&mut s, seq, i as u64 * 20);
    }
    // Its report, made while sending 10, counts 11 packets: 0–10.
    report(&mut s, 10, 11, 105);
    assert!(s.awaits_edges());
    let asked = poll(&mut s, 120);
    assert_eq!(asked, vec![0, 1, 2, 3, 4]);
    for seq in 0..5 {
        assert_eq!(feed(&mut s, seq, 170), Arrival::Requested, "{seq}");
    }
    assert!(!s.awaits_edges());
    let c = s.counts();
    assert_eq!(
        (c.lost_before_first, c.lost_after_last, c.given_up),
        (0, 0, 0)
    );
}

#[test]
fn reordered_first_packets_do_not_change_what_is_missing() {
    let mut s = NackScheduler::new(NackConfig::default());
    // 7 came first, then 5 and 6 (reordered), then 8.
    for (seq, at) in [(7, 0), (5, 4), (6, 8), (8, 20)] {
        feed(&mut s, seq, at);
    }
    report(&mut s, 8, 9, 40);
    assert_eq!(poll(&mut s, 60), vec![0, 1, 2, 3, 4]);
}

#[test]
fn edges_are_found_across_the_sequence_wrap() {
    let mut s = NackScheduler::new(NackConfig::default());
    // The sender started at 65_533; 65_533..=1 were lost before our first, 2.
    for (i, seq) in [2u16, 3, 4].into_iter().enumerate() {
        feed(&mut s, seq, i as u64 * 20);
    }
    report(&mut s, 4, 8, 50);
    assert_eq!(poll(&mut s, 70), vec![65_533, 65_534, 65_535, 0, 1]);
    for seq in [65_533, 65_534, 65_535, 0, 1] {
        assert_eq!(feed(&mut s, seq, 120), Arrival::Requested, "{seq}");
    }
    // Then 5..=99; the final report counts two more (100, 101) than came.
    for seq in 5..100 {
        feed(&mut s, seq, u64::from(seq) * 20);
    }
    report(&mut s, 101, 105, 2_000);
    tail(&mut s, 2_100, false);
    assert_eq!(poll(&mut s, 2_100), vec![100, 101]);
}

#[test]
fn first_packets_that_can_no_longer_play_are_counted_lost_not_asked_for() {
    let mut s = NackScheduler::new(NackConfig::default());
    for seq in 3..=60 {
        feed(&mut s, seq, (u64::from(seq) - 3) * 20);
    }
    // The first report comes after playback began (first arrival + 1 s).
    report(&mut s, 60, 61, 1_150);
    assert!(!s.awaits_edges());
    assert!(poll(&mut s, 1_300).is_empty());
    assert_eq!(s.counts().lost_before_first, 3);
}

#[test]
fn a_joined_stream_long_under_way_is_not_loss() {
    let mut s = NackScheduler::new(NackConfig::default());
    feed(&mut s, 50_000, 0);
    feed(&mut s, 50_001, 20);
    // 50,000 packets before ours: we joined late.
    report(&mut s, 50_001, 50_002, 40);
    assert!(!s.awaits_edges());
    assert_eq!(s.counts().lost_before_first, 0);
}

#[test]
fn the_tail_a_report_counts_is_asked_for_once_the_stream_stops() {
    let mut s = NackScheduler::new(NackConfig::default());
    for seq in 0..10 {
        feed(&mut s, seq, u64::from(seq) * 20);
    }
    // The final report: 13 sent, 10–12 never came.
    report(&mut s, 12, 13, 185);
    assert!(!s.report_says_finished(), "three packets are missing");
    // Not yet: the last packet came at 180 ms, the stream may just be late.
    tail(&mut s, 190, false);
    assert!(poll(&mut s, 190).is_empty());
    tail(&mut s, 260, false);
    assert!(s.awaits_edges());
    assert_eq!(poll(&mut s, 260), vec![10, 11, 12]);
    for seq in 10..13 {
        assert_eq!(feed(&mut s, seq, 300), Arrival::Requested);
    }
    assert!(!s.awaits_edges());
    assert!(s.report_says_finished());
    assert_eq!(s.counts().lost_after_last, 0);
}

#[test]
fn a_bye_asks_for_the_tail_at_once_and_what_never_comes_is_lost_after_the_last() {
    let mut s = NackScheduler::new(NackConfig::default());
    for seq in 0..10 {
        feed(&mut s, seq, u64::from(seq) * 20);
    }
    report(&mut s, 11, 12, 185);
    tail(&mut s, 186, true);
    assert_eq!(poll(&mut s, 186), vec![10, 11]);
    // No answer: the requests repeat until no retransmission could arrive in time.
    let mut t = 186;
    while s.awaits_edges() && t < 5_000 {
        t += 10;
        poll(&mut s, t);
    }
    assert!(!s.awaits_edges(), "given up by {t} ms");
    assert_eq!(s.counts().lost_after_last, 2);
    assert!(s.report_says_finished());
}

#[test]
fn a_stream_that_goes_on_after_the_tail_was_asked_for_makes_it_an_ordinary_gap() {
    let mut s = NackScheduler::new(NackConfig::default());
    for seq in 0..10 {
        feed(&mut s, seq, u64::from(seq) * 20);
    }
    report(&mut s, 11, 12, 185);
    tail(&mut s, 400, false);
    assert_eq!(poll(&mut s, 400), vec![10, 11]);
    // A freeze, not the end: 12 arrives; 10 and 11 are now the jitter buffer's to count.
    feed(&mut s, 12, 2_500);
    assert!(!s.awaits_edges());
    let mut t = 2_500;
    while t < 5_000 {
        t += 10;
        poll(&mut s, t);
    }
    assert_eq!(s.counts().lost_after_last, 0);
    assert!(!s.report_says_finished(), "packets came after the report");
}

#[test]
fn a_report_during_a_pause_does_not_say_the_stream_finished() {
    let mut s = NackScheduler::new(NackConfig::default());
    for seq in 0..10 {
        feed(&mut s, seq, u64::from(seq) * 20);
    }
    // Made 2 s into a pause: the timestamp ran on, the count did not.
    s.on_sender_report(10, ts_of(9) + 16_000, MS * 2_180);
    tail(&mut s, 2_200, false);
    assert!(poll(&mut s, 2_200).is_empty());
    assert!(!s.report_says_finished());
}

#[test]
fn without_a_report_nothing_is_guessed() {
    let mut s = NackScheduler::new(NackConfig::default());
    for seq in 5..10 {
        feed(&mut s, seq, u64::from(seq) * 20);
    }
    tail(&mut s, 5_000, true);
    assert!(poll(&mut s, 5_000).is_empty());
    assert!(!s.awaits_edges());
    assert!(!s.report_says_finished());
    let c = s.counts();
    assert_eq!((c.lost_before_first, c.lost_after_last), (0, 0));
}
