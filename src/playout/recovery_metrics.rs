//! The RTCP session's figures in the shared metrics: NACK recovery, RTX, round trip and the
//! drift from sender reports (published by the decoder thread, read lock-free by the views).

use crate::counters::{counter_table, Kind::*, Series};
use crate::rtcp::receiver::RtcpReceiverStatus;

counter_table! {
    /// Lock-free copy of the RTCP session's status.
    cells RecoveryMetrics;
    /// The RTCP figures at one moment (flattened into the metrics snapshot and `--stats-json`).
    snapshot RecoverySnapshot {
        /// NACK datagrams sent.
        nack_sent: u64 = Count => Series::new(Counter, "nack_sent", "NACK datagrams sent"),
        /// Packets asked for again, repeats included.
        nack_packets: u64 = Count => Series::new(Counter, "nack_packets", "Packets asked for again, repeats included"),
        /// Bytes of NACK datagrams sent (UDP payload).
        nack_bytes: u64 = Count => Series::new(BytesCounter, "nack", "NACK datagrams sent (UDP payload)"),
        /// RTX packets received.
        rtx_received: u64 = Count => Series::new(Counter, "rtx_received", "RFC 4588 retransmission packets received"),
        /// Asked-for packets that arrived in time to play (counted in `played`, not `lost`).
        recovered: u64 = Count => Series::new(Counter, "recovered", "Asked-for packets that arrived in time to play"),
        /// Asked-for packets that arrived after their turn.
        recovered_too_late: u64 = Count => Series::new(Counter, "recovered_too_late", "Asked-for packets that arrived after their turn"),
        /// Missing packets no longer asked for (deadline too near, or asked too often).
        nack_given_up: u64 = Count => Series::new(Counter, "nack_given_up", "Missing packets no longer asked for (deadline too near)"),
        /// Sender reports received.
        sender_reports: u64 = Count => Series::new(Counter, "sender_reports", "RTCP sender reports received"),
        /// Receiver reports sent.
        receiver_reports: u64 = Count => Series::new(Counter, "receiver_reports", "RTCP receiver reports sent"),
        /// Packets the sender's reports counted before the first one received that did not play.
        lost_before_first: u64 = Count => Series::new(Counter, "lost_before_first", "Packets the sender reported before the first one received that did not play"),
        /// Packets the sender's reports counted after the last one received that did not play.
        lost_after_last: u64 = Count => Series::new(Counter, "lost_after_last", "Packets the sender reported after the last one received that did not play"),
        /// Round-trip time from NACK to retransmission, ms (`null` until measured).
        rtt_ms: Option<f64> = OptGauge => Series::new(SecondsGauge, "round_trip", "Round trip from NACK to retransmission"),
        /// The sender's clock against wall-clock time from its reports, ppm (`null` until two
        /// reports 10 s apart).
        sr_drift_ppm: Option<f64> = OptGauge => Series::new(PpmRatio, "sr_clock_drift_ratio", "Sender clock against wall-clock time, from its RTCP sender reports"),
    }
}

impl RecoveryMetrics {
    /// Publishes the session's status.
    pub fn publish(&self, s: &RtcpReceiverStatus) {
        self.write_all(&RecoverySnapshot {
            nack_sent: s.nack.nack_sent,
            nack_packets: s.nack.nack_packets,
            nack_bytes: s.nack.nack_bytes,
            rtx_received: s.rtx_received,
            recovered: s.nack.recovered,
            recovered_too_late: s.nack.recovered_too_late,
            nack_given_up: s.nack.given_up,
            sender_reports: s.sender_reports,
            receiver_reports: s.reports_sent,
            lost_before_first: s.nack.lost_before_first,
            lost_after_last: s.nack.lost_after_last,
            rtt_ms: s.rtt_ms,
            sr_drift_ppm: s.sr_drift_ppm,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_and_reads_back() {
        let m = RecoveryMetrics::default();
        assert_eq!(m.snapshot(), RecoverySnapshot::default());
        let mut s = RtcpReceiverStatus {
            rtx_received: 4,
            sender_reports: 2,
            ..Default::default()
        };
        s.nack.recovered = 3;
        s.nack.nack_packets = 5;
        s.rtt_ms = Some(51.5);
        m.publish(&s);
        let snap = m.snapshot();
        assert_eq!(
            (snap.rtx_received, snap.recovered, snap.nack_packets),
            (4, 3, 5)
        );
        assert_eq!((snap.rtt_ms, snap.sr_drift_ppm), (Some(51.5), None));
    }
}
