//! Wireshark's "RTP Stream Analysis" for one stream: a row per packet with its sequence number,
//! arrival, delta, RFC 3550 jitter, skew, payload type, marker and what was wrong with it.

use serde::Serialize;

use super::reader::Capture;
use super::stats::{SeqStatus, StatsBuilder};
use super::streams::RtpStream;
use super::timeline::TimeJumps;
use crate::rtp::header::RtpHeader;

/// One packet of the stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PacketRow {
    /// Sequence number.
    pub seq: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Capture time, seconds from the capture's start.
    pub at_s: f64,
    /// Time since the stream's previous packet, ms.
    pub delta_ms: f64,
    /// Running RFC 3550 jitter after it, ms (media packets).
    pub jitter_ms: Option<f64>,
    /// How early it arrived against the first packet and the RTP clock, ms (media packets).
    pub skew_ms: Option<f64>,
    /// Payload type.
    pub pt: u8,
    /// Marker bit.
    pub marker: bool,
    /// Payload bytes.
    pub payload_bytes: usize,
    /// Its place in the sequence.
    pub sequence: SeqStatus,
    /// What a reader should notice, "ok" if nothing.
    pub status: String,
}

/// The per-packet analysis of `stream`, in capture order.
pub fn analyse_packets(capture: &Capture, stream: &RtpStream) -> Vec<PacketRow> {
    let clock = stream.main_payload().and_then(|p| p.timing_clock());
    let event_pt = stream.telephone_event_pt();
    let mut stats = StatsBuilder::new(clock);
    let mut previous_pt = None;
    let mut segment = None;
    let mut rows = Vec::new();
    for d in capture.datagrams.iter().filter(|d| stream.owns(d)) {
        let Ok(h) = RtpHeader::parse(&d.payload) else {
            continue;
        };
        let pauses = d.segment.saturating_sub(*segment.get_or_insert(d.segment));
        segment = Some(d.segment);
        stats.skipped_pauses(pauses);
        let note = stats.add(d.at, h.sequence, h.timestamp, h.payload_type == stream.pt);
        let mut status = Vec::new();
        if pauses > 0 {
            status.push(pause_note(&capture.time_jumps, d.segment, pauses));
        }
        match note.seq {
            SeqStatus::InOrder => {}
            SeqStatus::Gap { expected } => {
                status.push(format!("wrong sequence number (expected {expected})"));
            }
            SeqStatus::OutOfOrder => status.push("out of order".into()),
            SeqStatus::Duplicate => status.push("duplicate".into()),
        }
        if previous_pt.is_some_and(|p| p != h.payload_type) {
            status.push(format!("payload changed to PT {}", h.payload_type));
        }
        if Some(h.payload_type) == event_pt {
            status.push("telephone event".into());
        }
        if h.marker {
            status.push("marker".into());
        }
        previous_pt = Some(h.payload_type);
        rows.push(PacketRow {
            seq: h.sequence,
            timestamp: h.timestamp,
            at_s: d.at.as_secs_f64(),
            delta_ms: note.delta_ms,
            jitter_ms: note.jitter_ms,
            skew_ms: note.skew_ms,
            pt: h.payload_type,
            marker: h.marker,
            payload_bytes: h.payload_len,
            sequence: note.seq,
            status: if status.is_empty() {
                "ok".into()
            } else {
                status.join(", ")
            },
        });
    }
    rows
}

/// What the status column says of a packet after `pauses` skipped pauses, the last numbered
/// `segment`.
fn pause_note(jumps: &TimeJumps, segment: u64, pauses: u64) -> String {
    let last = jumps.ending(segment).map_or_else(String::new, |j| {
        format!(
            ": capture time jumped {:+.3} s at record {}",
            j.jump_s, j.record
        )
    });
    let count = if pauses == 1 {
        "a skipped pause".to_string()
    } else {
        format!("{pauses} skipped pauses")
    };
    format!("after {count}{last}")
}

/// The rows as a table.
pub fn packet_table(rows: &[PacketRow]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>6}  {:>10}  {:>10}  {:>9}  {:>9}  {:>9}  {:>3}  {:>1}  {:>5}  status",
        "seq", "timestamp", "time s", "delta ms", "jitter ms", "skew ms", "PT", "M", "bytes"
    );
    let opt = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.2}"));
    for r in rows {
        let _ = writeln!(
            out,
            "{:>6}  {:>10}  {:>10.6}  {:>9.2}  {:>9}  {:>9}  {:>3}  {:>1}  {:>5}  {}",
            r.seq,
            r.timestamp,
            r.at_s,
            r.delta_ms,
            opt(r.jitter_ms),
            opt(r.skew_ms),
            r.pt,
            if r.marker { "M" } else { "" },
            r.payload_bytes,
            r.status
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::capture::reader::{CaptureKind, Datagram};
    use crate::capture::streams::analyse;

    fn packet(seq: u16, pt: u8, marker: bool, at_ms: u64) -> Datagram {
        let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        p.extend_from_slice(&5u32.to_be_bytes());
        p.extend_from_slice(&[0xFF; 160]);
        Datagram {
            at: Duration::from_millis(at_ms),
            segment: 0,
            src: Some("10.0.0.1:4000".parse().unwrap()),
            dst: Some("10.0.0.2:6000".parse().unwrap()),
            payload: p,
            rtcp_hint: false,
        }
    }

    #[test]
    fn rows_say_what_was_wrong() {
        let datagrams = vec![
            packet(1, 0, true, 0),
            packet(2, 0, false, 20),
            packet(4, 0, false, 60),
            packet(3, 0, false, 65),
            packet(3, 0, false, 66),
            packet(5, 8, false, 80),
        ];
        let capture = Capture {
            kind: CaptureKind::Pcap,
            records: 6,
            datagrams,
            sip_over_tcp: Vec::new(),
            frames: Default::default(),
            unsupported_link: 0,
            truncated: None,
            time_jumps: crate::capture::TimeJumps::none(crate::capture::DEFAULT_IDLE_TIMEOUT),
            srtp: Vec::new(),
        };
        let report = analyse(&capture);
        let rows = analyse_packets(&capture, &report.streams[0]);
        let status: Vec<&str> = rows.iter().map(|r| r.status.as_str()).collect();
        assert_eq!(
            status,
            [
                "marker",
                "ok",
                "wrong sequence number (expected 3)",
                "out of order",
                "duplicate",
                "payload changed to PT 8"
            ]
        );
        assert!((rows[2].delta_ms - 40.0).abs() < 1e-9);
        // Packet 4 arrived on time by packet 1's timing; packet 3 (due at 40 ms) 25 ms late.
        assert!(rows[2].skew_ms.unwrap().abs() < 1e-6, "{rows:?}");
        assert!(
            (rows[3].skew_ms.unwrap() + 25.0).abs() < 1e-6,
            "{:?}",
            rows[3]
        );
        assert!(packet_table(&rows).contains("wrong sequence number (expected 3)"));
    }
}
