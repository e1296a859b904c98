//! The monitor's figures declared once (see [`crate::counters`]): one table per stream, whose
//! snapshot is the JSON row's top level and the per-stream Prometheus series, and one for the
//! monitor's own health, kept apart so that its drops are never read as the network's.

use crate::counters::{counter_table, Kind::*, Series};

counter_table! {
    /// Per-stream cells (the monitor builds snapshots directly; the cells are unused).
    cells StreamCells;
    /// One stream's figures as of a report.
    snapshot StreamCounts {
        /// Packets received (duplicates included).
        packets: u64 = Count => Series::new(Counter, "monitor_stream_packets", "RTP packets received on the stream"),
        /// Packets the sequence range implies.
        expected: u64 = Count => Series::new(Counter, "monitor_stream_expected", "Packets the stream's sequence range implies"),
        /// Packets the network lost (never received, not dropped by the monitor).
        lost: u64 = Count => Series::new(Counter, "monitor_stream_network_lost", "Packets the network lost (not those the monitor dropped)"),
        /// Packets the monitor's own socket or capture dropped (never blamed on the network).
        monitor_dropped: u64 = Count => Series::new(Counter, "monitor_stream_monitor_dropped", "Packets of the stream the monitor itself failed to read"),
        /// Packets received twice.
        duplicated: u64 = Count => Series::new(Counter, "monitor_stream_duplicated", "Duplicate packets"),
        /// Packets that came after one with a higher sequence number.
        out_of_order: u64 = Count => Series::new(Counter, "monitor_stream_out_of_order", "Packets received out of order"),
        /// Packets that would have come too late for a player with the configured buffer.
        late: u64 = Count => Series::new(Counter, "monitor_stream_late", "Packets too late for a player with the configured buffer"),
        /// Packets a player with the configured buffer would have missed (lost or late).
        lost_after_buffer: u64 = Count => Series::new(Counter, "monitor_stream_player_lost", "Packets missing at their turn in a player with the configured buffer"),
        /// Times the modelled player ran dry.
        underruns: u64 = Count => Series::new(Counter, "monitor_stream_underruns", "Times the modelled player's buffer ran dry"),
        /// Times the stream fell silent.
        silences: u64 = Count => Series::new(Counter, "monitor_stream_silences", "Times the stream's level stayed under the silence threshold"),
        /// RFC 3550 interarrival jitter, ms.
        jitter_ms: f64 = Gauge => Series::new(SecondsGauge, "monitor_stream_jitter", "RFC 3550 interarrival jitter"),
        /// Largest gap between arrivals, ms.
        max_delta_ms: f64 = Gauge => Series::new(SecondsGauge, "monitor_stream_max_delta", "Largest gap between two arrivals"),
        /// The modelled player's adaptive target, ms.
        target_ms: f64 = Gauge => Series::new(SecondsGauge, "monitor_stream_buffer_target", "Adaptive target of the modelled player's buffer"),
        /// Loss reported by the far end's RTCP, fraction of the last interval (0–1).
        far_loss_fraction: Option<f64> = OptGauge => Series::new(Gauge, "monitor_stream_rtcp_fraction_lost", "Loss the far end reported in RTCP, fraction of its last interval"),
        /// Jitter reported by the far end's RTCP, ms.
        far_jitter_ms: Option<f64> = OptGauge => Series::new(SecondsGauge, "monitor_stream_rtcp_jitter", "Jitter the far end reported in RTCP"),
        /// Round trip from RTCP, ms.
        rtt_ms: Option<f64> = OptGauge => Series::new(SecondsGauge, "monitor_stream_rtcp_round_trip", "Round trip from RTCP sender and receiver reports"),
        /// E-model R-factor (narrowband scale).
        r_factor: Option<f64> = OptGauge => Series::new(Gauge, "monitor_stream_r_factor", "ITU-T G.107 R-factor (narrowband scale)"),
        /// E-model MOS.
        mos: Option<f64> = OptGauge => Series::new(Gauge, "monitor_stream_mos", "ITU-T G.107 MOS (conversational, estimated)"),
        /// RMS level of the last second, dBFS.
        level_dbfs: Option<f64> = OptGauge => Series::new(Gauge, "monitor_stream_level_dbfs", "RMS level of the last report period, dBFS"),
        /// 1 while silent.
        silent: f64 = Gauge => Series::new(Gauge, "monitor_stream_silent", "1 while the stream is silent"),
        /// EBU R128 momentary loudness, LUFS.
        momentary_lufs: Option<f64> = OptGauge => Series::new(Gauge, "monitor_stream_loudness_momentary_lufs", "EBU R128 momentary loudness"),
        /// EBU R128 short-term loudness, LUFS.
        short_term_lufs: Option<f64> = OptGauge => Series::new(Gauge, "monitor_stream_loudness_short_term_lufs", "EBU R128 short-term loudness"),
    }
}

counter_table! {
    /// The monitor's own counters, kept by its receive loop.
    cells HealthCells;
    /// The monitor's own health as of a report.
    snapshot HealthCounts {
        /// Datagrams read.
        datagrams: u64 = Count => Series::new(Counter, "monitor_datagrams", "Datagrams the monitor read"),
        /// RTCP datagrams read.
        rtcp: u64 = Count => Series::new(Counter, "monitor_rtcp_datagrams", "RTCP datagrams the monitor read"),
        /// SIP messages read (their SDP names payload types).
        sip: u64 = Count => Series::new(Counter, "monitor_sip_messages", "SIP messages the monitor read"),
        /// Datagrams that were neither RTP, RTCP nor SIP.
        not_rtp: u64 = Count => Series::new(Counter, "monitor_not_rtp", "Datagrams that were neither RTP, RTCP nor SIP"),
        /// Streams being tracked.
        tracked: f64 = Gauge => Series::new(Gauge, "monitor_streams_tracked", "Streams being tracked"),
        /// Streams started since the monitor started.
        started: u64 = Count => Series::new(Counter, "monitor_streams_started", "Streams found"),
        /// Streams that ended (idle, BYE or end of input).
        ended: u64 = Count => Series::new(Counter, "monitor_streams_ended", "Streams that ended (idle, BYE or end of input)"),
        /// Streams seen but not tracked (past --max-streams).
        untracked_streams: u64 = Count => Series::new(Counter, "monitor_streams_untracked", "Streams past --max-streams: counted, not tracked"),
        /// Packets of untracked streams.
        untracked_packets: u64 = Count => Series::new(Counter, "monitor_untracked_packets", "Packets of streams past --max-streams"),
        /// Datagrams the kernel dropped on the monitor's sockets (its buffers were full).
        kernel_drops: u64 = Count => Series::new(Drop, "monitor_kernel", ""),
        /// Packets the capture library dropped (live capture on an interface).
        capture_drops: u64 = Count => Series::new(Drop, "monitor_capture", ""),
        /// Monitor drops that no stream's gap claimed (other traffic, or a stream's last packets).
        unattributed_drops: u64 = Count => Series::new(Counter, "monitor_unattributed_drops", "Monitor drops that no stream's sequence gap accounted for"),
    }
}
