//! The RTCP session's figures in the shared metrics: NACK recovery, RTX, round trip and the
//! drift from sender reports (published by the decoder thread, read lock-free by the views).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::rtcp::receiver::RtcpReceiverStatus;

/// An optional `f64` stored as bits, `NaN` meaning unknown.
#[derive(Debug)]
struct OptionalF64(AtomicU64);

impl Default for OptionalF64 {
    fn default() -> Self {
        OptionalF64(AtomicU64::new(f64::NAN.to_bits()))
    }
}

impl OptionalF64 {
    fn store(&self, v: Option<f64>) {
        self.0.store(v.unwrap_or(f64::NAN).to_bits(), Relaxed);
    }

    fn load(&self) -> Option<f64> {
        Some(f64::from_bits(self.0.load(Relaxed))).filter(|v| !v.is_nan())
    }
}

/// Lock-free copy of the RTCP session's status.
#[derive(Debug, Default)]
pub struct RecoveryMetrics {
    counters: [AtomicU64; 11],
    rtt_ms: OptionalF64,
    sr_drift_ppm: OptionalF64,
}

/// The RTCP figures at one moment (flattened into the metrics snapshot and `--stats-json`).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct RecoverySnapshot {
    /// NACK datagrams sent.
    pub nack_sent: u64,
    /// Packets asked for again, repeats included.
    pub nack_packets: u64,
    /// Bytes of NACK datagrams sent (UDP payload).
    pub nack_bytes: u64,
    /// RTX packets received.
    pub rtx_received: u64,
    /// Asked-for packets that arrived in time to play (counted in `played`, not `lost`).
    pub recovered: u64,
    /// Asked-for packets that arrived after their turn.
    pub recovered_too_late: u64,
    /// Missing packets no longer asked for (deadline too near, or asked too often).
    pub nack_given_up: u64,
    /// Sender reports received.
    pub sender_reports: u64,
    /// Receiver reports sent.
    pub receiver_reports: u64,
    /// Packets the sender's reports counted before the first one received that did not play.
    pub lost_before_first: u64,
    /// Packets the sender's reports counted after the last one received that did not play.
    pub lost_after_last: u64,
    /// Round-trip time from NACK to retransmission, ms (`null` until measured).
    pub rtt_ms: Option<f64>,
    /// The sender's clock against wall-clock time from its reports, ppm (`null` until two
    /// reports 10 s apart).
    pub sr_drift_ppm: Option<f64>,
}

impl RecoveryMetrics {
    /// Publishes the session's status.
    pub fn publish(&self, s: &RtcpReceiverStatus) {
        let values = [
            s.nack.nack_sent,
            s.nack.nack_packets,
            s.nack.nack_bytes,
            s.rtx_received,
            s.nack.recovered,
            s.nack.recovered_too_late,
            s.nack.given_up,
            s.sender_reports,
            s.reports_sent,
            s.nack.lost_before_first,
            s.nack.lost_after_last,
        ];
        for (a, v) in self.counters.iter().zip(values) {
            a.store(v, Relaxed);
        }
        self.rtt_ms.store(s.rtt_ms);
        self.sr_drift_ppm.store(s.sr_drift_ppm);
    }

    /// Copies the figures out.
    pub fn snapshot(&self) -> RecoverySnapshot {
        let c = |i: usize| self.counters[i].load(Relaxed);
        RecoverySnapshot {
            nack_sent: c(0),
            nack_packets: c(1),
            nack_bytes: c(2),
            rtx_received: c(3),
            recovered: c(4),
            recovered_too_late: c(5),
            nack_given_up: c(6),
            sender_reports: c(7),
            receiver_reports: c(8),
            lost_before_first: c(9),
            lost_after_last: c(10),
            rtt_ms: self.rtt_ms.load(),
            sr_drift_ppm: self.sr_drift_ppm.load(),
        }
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
