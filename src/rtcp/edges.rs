//! What a sender report says about a stream's edges: the packets sent before the first one
//! received, and after the last (sans-IO arithmetic).
//!
//! An SR carries the number of packets the sender sent so far and the RTP timestamp of the
//! instant it was made. The packet being sent at that instant is the newest whose timestamp is
//! not after the report's, which places the report in the received numbering; the count then
//! gives the first packet the sender ever sent. Later reports need only the count: the last
//! packet sent is the first plus the count. A paced sender (ours, GStreamer's, ffmpeg's) stamps
//! packets with their send time, so the first estimate is exact for them; a sender that sends
//! a packet only after its whole duration has passed would be placed one packet late.

/// Extended sequence number of the packet being sent when a report stamped `report_ts` was
/// made, from a received packet (`ext`, `ts`) and the packet duration in RTP ticks.
///
/// The report may be older or newer than the reference packet; both wrap. `None` without a
/// known packet duration, or when the result would fall below zero.
pub fn sent_at_report(report_ts: u32, reference: (u64, u32), packet_ticks: u32) -> Option<u64> {
    if packet_ticks == 0 {
        return None;
    }
    let (ext, ts) = reference;
    // Signed: within about 12 hours at 48 kHz either way, which any live report is.
    let ahead = i64::from(report_ts.wrapping_sub(ts) as i32);
    let steps = ahead.div_euclid(i64::from(packet_ticks));
    ext.checked_add_signed(steps)
}

/// Extended sequence number of the first packet the sender sent, from the packet it was
/// sending when it had sent `count` packets.
pub fn first_sent(sent_at_report: u64, count: u32) -> Option<u64> {
    let count = u64::from(count);
    if count == 0 {
        return None;
    }
    (sent_at_report + 1).checked_sub(count)
}

/// Extended sequence number of the last packet sent when a report counted `count` packets,
/// once the first is known.
pub fn last_sent(first: u64, count: u32) -> Option<u64> {
    (first + u64::from(count)).checked_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20 ms of 8 kHz audio.
    const TICKS: u32 = 160;

    #[test]
    fn a_report_between_two_packets_is_placed_after_the_earlier() {
        // Packet 70_000 has ts 1_000; the report was made 5 ms later.
        assert_eq!(sent_at_report(1_040, (70_000, 1_000), TICKS), Some(70_000));
        // Exactly at the next packet's timestamp: that one is being sent.
        assert_eq!(sent_at_report(1_160, (70_000, 1_000), TICKS), Some(70_001));
        // Made before the reference packet was sent (it overtook the report).
        assert_eq!(sent_at_report(700, (70_000, 1_000), TICKS), Some(69_998));
    }

    #[test]
    fn the_arithmetic_holds_across_timestamp_and_sequence_wraps() {
        // The reference packet's timestamp is just below the wrap, the report's just past it.
        let ts = u32::MAX - 100;
        let report = ts.wrapping_add(3 * TICKS + 7);
        // Extended numbers carry the wrap of the 16-bit numbers: 65_535 → 65_536 + 2.
        let reference = (65_535 + (1 << 16), ts);
        let at = sent_at_report(report, reference, TICKS).expect("placed");
        assert_eq!(at, 65_538 + (1 << 16));
        // 10 packets counted: the first was 9 before, on the other side of the wrap.
        let first = first_sent(at, 10).expect("first");
        assert_eq!(first, 65_529 + (1 << 16));
        assert_eq!(first as u16, 65_529);
        assert_eq!(last_sent(first, 10), Some(at));
        assert_eq!(last_sent(first, 12), Some(at + 2));
    }

    #[test]
    fn reordered_first_packets_do_not_move_the_edges() {
        // Packets 100..=109 were sent (ts 0, 160, …); 103 arrived first, then 101, 102, 100.
        // Any received packet gives the same placement for a report made at packet 105.
        let report = 5 * TICKS + 10;
        for seq in [103u64, 101, 102, 100] {
            let ts = (seq - 100) as u32 * TICKS;
            let at = sent_at_report(report, (seq, ts), TICKS).expect("placed");
            assert_eq!(at, 105, "reference {seq}");
            assert_eq!(first_sent(at, 6), Some(100), "reference {seq}");
        }
    }

    #[test]
    fn impossible_counts_give_nothing() {
        assert_eq!(sent_at_report(0, (5, 0), 0), None, "no packet duration");
        assert_eq!(first_sent(5, 0), None, "nothing sent");
        assert_eq!(first_sent(5, 7), None, "more sent than numbers below");
        assert_eq!(sent_at_report(0, (0, 10 * TICKS), TICKS), None);
    }
}
