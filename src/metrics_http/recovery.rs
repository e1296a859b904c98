//! The RTCP series of a receiving stream: NACK recovery, RTX, round trip, sender reports.

use prometheus_client::registry::Unit;

use super::exposition::Exposition;
use crate::net::rtcp_link::RtcpNetSnapshot;
use crate::playout::recovery_metrics::RecoverySnapshot;

/// Writes the RTCP session's figures.
pub fn encode_recovery(out: &mut Exposition<'_, '_>, r: &RecoverySnapshot) -> std::fmt::Result {
    let counters = [
        ("nack_sent", "NACK datagrams sent", r.nack_sent),
        (
            "nack_packets",
            "Packets asked for again, repeats included",
            r.nack_packets,
        ),
        (
            "rtx_received",
            "RFC 4588 retransmission packets received",
            r.rtx_received,
        ),
        (
            "recovered",
            "Asked-for packets that arrived in time to play",
            r.recovered,
        ),
        (
            "recovered_too_late",
            "Asked-for packets that arrived after their turn",
            r.recovered_too_late,
        ),
        (
            "nack_given_up",
            "Missing packets no longer asked for (deadline too near)",
            r.nack_given_up,
        ),
        (
            "sender_reports",
            "RTCP sender reports received",
            r.sender_reports,
        ),
        (
            "receiver_reports",
            "RTCP receiver reports sent",
            r.receiver_reports,
        ),
        (
            "lost_before_first",
            "Packets the sender reported before the first one received that did not play",
            r.lost_before_first,
        ),
        (
            "lost_after_last",
            "Packets the sender reported after the last one received that did not play",
            r.lost_after_last,
        ),
    ];
    for (name, help, value) in counters {
        out.counter(name, help, None, value)?;
    }
    out.counter(
        "nack",
        "NACK datagrams sent (UDP payload)",
        Some(Unit::Bytes),
        r.nack_bytes,
    )?;
    if let Some(rtt) = r.rtt_ms {
        out.gauge(
            "round_trip",
            "Round trip from NACK to retransmission",
            Some(Unit::Seconds),
            rtt / 1e3,
        )?;
    }
    if let Some(ppm) = r.sr_drift_ppm {
        out.gauge(
            "sr_clock_drift_ratio",
            "Sender clock against wall-clock time, from its RTCP sender reports",
            None,
            ppm * 1e-6,
        )?;
    }
    Ok(())
}

/// Writes the RTCP datagram counts of the network side.
pub fn encode_rtcp_net(out: &mut Exposition<'_, '_>, n: &RtcpNetSnapshot) -> std::fmt::Result {
    out.counter(
        "rtcp_received",
        "RTCP datagrams received",
        None,
        n.rtcp_received,
    )?;
    out.counter(
        "rtcp_refused",
        "Datagrams on the RTCP port refused (not RTCP, another host)",
        None,
        n.rtcp_refused,
    )?;
    out.counter("rtcp_sent", "RTCP datagrams sent", None, n.rtcp_sent)?;
    out.gauge(
        "rtcp_socket_receive_buffer",
        "Receive buffer (SO_RCVBUF) the kernel granted the RTCP socket (0 without one)",
        Some(Unit::Bytes),
        n.rtcp_recv_buffer,
    )?;
    out.counter(
        "rtcp_send_errors",
        "RTCP datagrams that could not be sent",
        None,
        n.rtcp_send_errors,
    )
}
