//! The network task's counters, declared once (see [`crate::counters`]): the RTP socket's and the
//! RTCP side's, read without locks by the status line, `--stats-json` and Prometheus.

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use crate::counters::{counter_table, Kind::*, Series};

counter_table! {
    /// Counters of the network task, read without locks by status and stats views. Every
    /// datagram read from the socket is counted in `datagrams` and in exactly one of
    /// `accepted`, `foreign`, `oversize`, `rate_limited` and `queue_full`; `kernel_drops` are
    /// the datagrams the kernel dropped before they could be read (not in `datagrams`).
    cells NetStats;
    /// A serialisable copy of [`NetStats`]' counters.
    snapshot NetSnapshot {
        /// Datagrams received.
        datagrams: u64 = Count => Series::new(Counter, "datagrams_received", "Datagrams received on the socket"),
        /// Bytes received.
        bytes: u64 = Count => Series::new(BytesCounter, "received", "Bytes received on the socket"),
        /// Datagrams queued for the receive core, which counts what becomes of each.
        accepted: u64 = Count => Series::new(Counter, "datagrams_accepted", "Datagrams queued for the receive core"),
        /// Datagrams from an address other than the accepted sender's.
        foreign: u64 = Count => Series::drop("foreign_address"),
        /// Datagrams longer than `MAX_DATAGRAM`.
        oversize: u64 = Count => Series::drop("oversize"),
        /// Datagrams over the packet-rate cap.
        rate_limited: u64 = Count => Series::drop("rate_limited"),
        /// Datagrams dropped because the decoder's queue was full.
        queue_full: u64 = Count => Series::drop("queue_full"),
        /// The kernel's own drop count for the socket (receive buffer overflow).
        kernel_drops: u64 = Count => Series::drop("kernel"),
        /// Receive buffer size the kernel granted the RTP socket, in bytes.
        recv_buffer: u64 = Count => Series::new(BytesGauge, "socket_receive_buffer", "Receive buffer (SO_RCVBUF) the kernel granted the RTP socket"),
        /// Times heavy traffic turned batched reads into reads at every readiness.
        busy_spells: u64 = Count => Series::new(Counter, "busy_read_spells", "Times heavy traffic turned batched socket reads into reads at every readiness"),
    }
    nested {
        /// RTCP's counters and addresses.
        rtcp: RtcpNetStats => RtcpNetSnapshot,
        /// SRTP's counters (zero for plain RTP).
        srtp: Arc<crate::srtp::SrtpStats> => crate::srtp::SrtpSnapshot,
    }
    extra {
        /// The accepted sender, once one is.
        source: OnceLock<SocketAddr>,
        /// Set for SRTP: the decoder thread, not the network task, locks the sender, once one
        /// of its packets authenticates.
        lock_after_auth: AtomicBool,
        /// `--save-packets`' counters, when saving.
        save: OnceLock<Arc<super::packet_saver::SaveStats>>,
    }
}

counter_table! {
    /// The RTCP side of the network task: counters and addresses.
    cells RtcpNetStats;
    /// A serialisable copy of [`RtcpNetStats`]' counters.
    snapshot RtcpNetSnapshot {
        /// RTCP datagrams taken (either socket; muxed ones are in the RTP counters too).
        rtcp_received: u64 = Count => Series::new(Counter, "rtcp_received", "RTCP datagrams received"),
        /// Datagrams on the RTCP port refused: not RTCP, from another host, or no room.
        rtcp_refused: u64 = Count => Series::new(Counter, "rtcp_refused", "Datagrams on the RTCP port refused (not RTCP, another host)"),
        /// RTCP datagrams sent.
        rtcp_sent: u64 = Count => Series::new(Counter, "rtcp_sent", "RTCP datagrams sent"),
        /// RTCP datagrams that could not be sent.
        rtcp_send_errors: u64 = Count => Series::new(Counter, "rtcp_send_errors", "RTCP datagrams that could not be sent"),
        /// Receive buffer the kernel granted the RTCP socket (0 without one), in bytes.
        rtcp_recv_buffer: u64 = Count => Series::new(BytesGauge, "rtcp_socket_receive_buffer", "Receive buffer (SO_RCVBUF) the kernel granted the RTCP socket (0 without one)"),
    }
    extra {
        /// RTCP came on the RTP port: answer there.
        muxed: AtomicBool,
        /// The sender's RTCP address, from the first RTCP datagram on the RTCP socket.
        peer: OnceLock<SocketAddr>,
    }
}
