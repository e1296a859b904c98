//! NACK scheduling on virtual time.

use super::*;

const MS: Duration = Duration::from_millis(1);
const RATE: u32 = 8_000;

/// A 20 ms PCMU-like packet `seq` arriving at `at_ms`, with 1 s of audio buffered.
fn feed(s: &mut NackScheduler, seq: u16, at_ms: u64) -> Arrival {
    let ts = u32::from(seq).wrapping_mul(160);
    let p = ReceivedPacket {
        seq,
        ts,
        len: 172,
        arrival: MS * at_ms as u32,
        original: None,
    };
    s.on_packet(p, Duration::from_secs(1), RATE, true)
}

fn poll(s: &mut NackScheduler, at_ms: u64) -> Vec<u16> {
    let mut seqs = Vec::new();
    s.poll(MS * at_ms as u32, &mut seqs);
    seqs
}

#[test]
fn a_gap_is_asked_for_after_the_reorder_wait_and_its_retransmission_measures_the_rtt() {
    let mut s = NackScheduler::new(NackConfig::default());
    for seq in 0..10 {
        assert_eq!(feed(&mut s, seq, u64::from(seq) * 20), Arrival::Next);
    }
    // 10 and 11 lost.
    feed(&mut s, 12, 240);
    assert_eq!(s.next_due(), Some(MS * 250));
    assert!(poll(&mut s, 245).is_empty());
    assert_eq!(poll(&mut s, 250), vec![10, 11]);
    assert!(s.was_requested(10));
    assert!(
        poll(&mut s, 260).is_empty(),
        "not again before a round trip"
    );
    assert_eq!(feed(&mut s, 10, 310), Arrival::Requested);
    assert_eq!(s.measured_rtt(), Some(MS * 60));
    s.count_recovery(true);
    let c = s.counts();
    assert_eq!((c.nack_sent, c.nack_packets, c.recovered), (1, 2, 1));
    assert_eq!(s.pending(), 1);
}

#[test]
fn a_packet_reordered_within_the_wait_is_never_asked_for() {
    let mut s = NackScheduler::new(NackConfig::default());
    s.set_reorder_wait(MS * 30);
    feed(&mut s, 100, 0);
    feed(&mut s, 102, 40);
    assert_eq!(feed(&mut s, 101, 55), Arrival::Reordered);
    assert!(poll(&mut s, 100).is_empty());
    assert_eq!(s.counts().nack_packets, 0);
    assert_eq!(feed(&mut s, 101, 60), Arrival::Other, "a duplicate");
}

#[test]
fn requests_repeat_with_backoff_until_a_retransmission_could_no_longer_arrive_in_time() {
    // Two packets make a tiny stream: lift the budget, which is tested below.
    let cfg = NackConfig {
        bandwidth_share: 1.0,
        ..NackConfig::default()
    };
    let mut s = NackScheduler::new(cfg);
    feed(&mut s, 0, 0);
    // Packet 1 lost; it plays 1 s − 20 ms after packet 2 arrives at 40 ms: deadline 1020 ms.
    feed(&mut s, 2, 40);
    let mut asked_at = Vec::new();
    for t in 40..1100 {
        if poll(&mut s, t) == vec![1] {
            asked_at.push(t);
        }
    }
    // RTT 100 ms (initial): every 125 ms, then ×1.5; the last one needs 120 ms before 1020 ms.
    assert_eq!(asked_at, vec![50, 175, 363, 645]);
    assert_eq!(s.counts().given_up, 1);
    assert_eq!(s.next_due(), None);
    // Its retransmission, after all, is still recognised as one (for `recovered_too_late`).
    assert_eq!(feed(&mut s, 1, 1200), Arrival::Requested);
}

#[test]
fn requests_stay_within_five_percent_of_the_stream() {
    let mut s = NackScheduler::new(NackConfig::default());
    // 10 s of a 50 packets/s stream losing two of every three packets, polled every 10 ms.
    let mut t = 0;
    for seq in 0..500u16 {
        t = u64::from(seq) * 20;
        if seq % 3 == 0 {
            feed(&mut s, seq, t);
        }
        for seqs in [poll(&mut s, t), poll(&mut s, t + 10)] {
            if !seqs.is_empty() {
                s.count_sent_bytes(12 + 4 * seqs.len());
            }
        }
    }
    let c = s.counts();
    assert!(c.rate_limited > 0);
    let stream_bytes = 167.0 * 172.0;
    let spent = c.nack_bytes as f64 + c.nack_sent as f64 * 28.0;
    // Five percent of the stream, plus the bucket's initial allowance.
    assert!(
        spent <= 0.05 * stream_bytes + 4.0 * 44.0,
        "{spent} of {stream_bytes} ({t} ms)"
    );
}

#[test]
fn a_jump_of_thousands_is_not_a_loss_to_repair() {
    let mut s = NackScheduler::new(NackConfig::default());
    feed(&mut s, 0, 0);
    feed(&mut s, 20_000, 20);
    assert!(poll(&mut s, 1000).is_empty());
    assert_eq!(s.pending(), 0);
}

#[test]
fn the_missing_list_is_bounded() {
    let mut s = NackScheduler::new(NackConfig {
        max_gap: 60_000,
        ..NackConfig::default()
    });
    feed(&mut s, 0, 0);
    feed(&mut s, 30_000, 20);
    assert!(s.pending() <= MAX_MISSING);
}

#[test]
fn requests_name_the_rtp_sequence_numbers_across_the_wrap() {
    let mut s = NackScheduler::new(NackConfig::default());
    feed(&mut s, 65_533, 0);
    feed(&mut s, 65_534, 20);
    feed(&mut s, 1, 80);
    assert_eq!(poll(&mut s, 100), vec![65_535, 0]);
    assert!(s.was_requested(0) && s.was_requested(65_535) && !s.was_requested(1));
}

#[test]
fn reordering_seen_lengthens_the_wait_before_asking() {
    let mut s = NackScheduler::new(NackConfig::default());
    s.set_reorder_wait(MS * 5);
    feed(&mut s, 0, 0);
    feed(&mut s, 2, 40);
    // 1 turns up 35 ms after its gap was seen: reordered, never asked for (wait was 5 ms, but
    // the poll had not run yet).
    assert_eq!(feed(&mut s, 1, 75), Arrival::Reordered);
    feed(&mut s, 4, 100);
    // The next gap waits about a quarter more than 35 ms before its request.
    let due = s.next_due().unwrap();
    assert!(due > MS * 143 && due < MS * 144, "{due:?}");
    assert!(poll(&mut s, 143).is_empty());
    assert_eq!(poll(&mut s, 144), vec![3]);
}
