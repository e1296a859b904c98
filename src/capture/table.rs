//! The stream list as text, for `jitterplay streams` and for errors that ask the user to choose.

use std::fmt::Write;
use std::net::SocketAddr;

use super::streams::{RtpStream, StreamKind, StreamsReport};

/// One line per stream with Wireshark's columns, under a header line.
pub fn stream_table(streams: &[RtpStream]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>3}  {:<45}  {:<10}  {:>3}  {:<26}  {:>6}  {:>11}  {:>4}  {:>4}  {:>8}  {:>7}  {:>11}  {:>9}",
        "#", "source -> destination", "SSRC", "PT", "codec", "pkts", "lost", "dup", "ooo",
        "duration", "max Δ", "jitter mean/max", "skew"
    );
    for s in streams {
        let st = &s.stats;
        let route = format!("{} -> {}", endpoint(s.src), endpoint(s.dst));
        let lost_pct = if st.expected > 0 {
            100.0 * st.lost as f64 / st.expected as f64
        } else {
            0.0
        };
        let jitter = jitter_column(st.mean_jitter_ms, st.max_jitter_ms);
        let skew = st
            .skew_ppm
            .map_or_else(|| "-".into(), |p| format!("{p:+.0} ppm"));
        let _ = writeln!(
            out,
            "{:>3}  {:<45}  0x{:08X}  {:>3}  {:<26}  {:>6}  {:>4} {:>5.1}%  {:>4}  {:>4}  {:>7.2}s  {:>4.0} ms  {:>11}  {:>9}",
            s.index,
            route,
            s.ssrc,
            s.pt,
            codec_column(s),
            st.packets,
            st.lost,
            lost_pct,
            st.duplicated,
            st.out_of_order,
            st.duration_s,
            st.max_delta_ms,
            jitter,
            skew
        );
        if let Some(line) = wireshark_line(s) {
            let _ = writeln!(out, "     {line}");
        }
        if st.skipped_pauses > 0 {
            let _ = writeln!(
                out,
                "     spans {} skipped pauses (capture time jumps): its duration, max Δ, jitter and skew leave them out",
                st.skipped_pauses
            );
        }
        if let Some(fec) = s.fec_packets {
            let _ = writeln!(
                out,
                "     opus: {fec} of {} packets carry in-band FEC",
                st.packets
            );
        }
        for p in s.payloads.iter().filter(|p| p.pt != s.pt) {
            let events = if p.role == super::streams::PayloadRole::TelephoneEvent {
                format!(" ({} events)", s.telephone_events)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "     + PT {} {}: {} packets{events}",
                p.pt, p.name, p.packets
            );
        }
    }
    out
}

/// The whole report: capture summary, streams, RTCP.
pub fn report_text(r: &StreamsReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:?} capture: {} records, {} UDP datagrams ({} other UDP, {} SIP messages, {} SDP bodies)",
        r.kind, r.records, r.udp, r.other_udp, r.sip_messages, r.sdp_bodies
    );
    let f = &r.frames;
    if f.other + f.malformed + f.fragments + r.unsupported_link > 0 {
        let _ = writeln!(
            out,
            "frames: {} not UDP, {} malformed, {} unsupported link type, {} IP fragments ({} datagrams reassembled, {} incomplete)",
            f.other, f.malformed, r.unsupported_link, f.fragments, f.reassembled, f.incomplete
        );
    }
    if let Some(t) = &r.truncated {
        let _ = writeln!(
            out,
            "capture cut short after record {} (at {:.3} s): {}",
            t.records, t.at_s, t.reason
        );
    }
    let j = &r.time_jumps;
    if j.skipped > 0 {
        let _ = writeln!(
            out,
            "capture time jumped {} times (over the {} s idle timeout, or backwards), skipped as pauses that take no time: {}",
            j.skipped,
            j.idle_timeout_s,
            j.describe()
        );
    }
    if r.streams.is_empty() {
        let _ = writeln!(out, "no RTP streams");
    } else {
        out.push_str(&stream_table(&r.streams));
    }
    for stream in &r.streams {
        if let Some(f) = &stream.srtp {
            let _ = writeln!(
                out,
                "stream {}: {}",
                stream.index,
                super::srtp_flows::describe(f)
            );
        }
    }
    for flow in &r.rtcp {
        let ssrcs: Vec<String> = flow
            .counts
            .ssrcs
            .iter()
            .map(|s| format!("0x{s:08X}"))
            .collect();
        let _ = writeln!(
            out,
            "RTCP {} -> {}: {} packets ({}) from {}",
            endpoint(flow.src),
            endpoint(flow.dst),
            flow.counts.datagrams,
            flow.counts.summary(),
            if ssrcs.is_empty() {
                "-".into()
            } else {
                ssrcs.join(" ")
            }
        );
    }
    out
}

/// Mean/max jitter, or "unknown" when no clock rate is known to measure it with.
fn jitter_column(mean: Option<f64>, max: Option<f64>) -> String {
    match (mean, max) {
        (Some(mean), Some(max)) => format!("{mean:.1}/{max:.1} ms"),
        _ => "unknown".into(),
    }
}

/// Wireshark's figures for the stream, when they read differently from ours at the table's
/// precision (telephone events, comfort noise, markers or duplicates in the stream).
fn wireshark_line(s: &RtpStream) -> Option<String> {
    let (st, ws) = (&s.stats, &s.wireshark);
    let ours = (
        st.lost as i64,
        format!("{:.0}", st.max_delta_ms),
        jitter_column(st.mean_jitter_ms, st.max_jitter_ms),
    );
    let theirs = (
        ws.lost,
        format!("{:.0}", ws.max_delta_ms),
        jitter_column(ws.mean_jitter_ms, ws.max_jitter_ms),
    );
    (ours != theirs).then(|| {
        format!(
            "Wireshark's figures: lost {}, max Δ {} ms, jitter mean/max {}",
            theirs.0, theirs.1, theirs.2
        )
    })
}

fn codec_column(s: &RtpStream) -> String {
    // A mapping taken from another call's SDP may be wrong: say so where it is read.
    let guessed = s
        .main_payload()
        .is_some_and(|p| p.named_by == super::streams::NamedBy::Guess);
    if guessed && s.kind == StreamKind::Audio {
        return format!("{} (guess)", s.codec);
    }
    match s.kind {
        StreamKind::Audio => s.codec.clone(),
        StreamKind::UnsupportedAudio => format!("{} (unsupported)", s.codec),
        StreamKind::TelephoneEvents => format!("{} only", s.codec),
        StreamKind::ComfortNoise => format!("{} only", s.codec),
        StreamKind::Unknown => format!("{} (no SDP)", s.codec),
    }
}

fn endpoint(a: Option<SocketAddr>) -> String {
    a.map_or_else(|| "?".into(), |a| a.to_string())
}
