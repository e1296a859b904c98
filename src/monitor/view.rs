//! How a report is shown: the top-style terminal table (worst first, a line per stream and a
//! line of totals) and the JSON lines of `--json`.

use std::fmt::Write as _;

use serde::Serialize;

use super::stream::StreamRow;
use super::MonitorReport;

/// What the table is sorted by (worst first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortKey {
    /// Lowest MOS first.
    Mos,
    /// Most network loss first (share of expected packets).
    Loss,
    /// Most packets late for the buffer first.
    Late,
    /// Highest jitter first.
    Jitter,
    /// Quietest first.
    Level,
    /// Most packets first.
    Packets,
    /// By stream number (order of arrival).
    Id,
}

/// Sorts `rows` worst first by `key` (ties by stream number).
pub fn sort_rows(rows: &mut [&StreamRow], key: SortKey) {
    let loss = |r: &StreamRow| r.counts.lost as f64 / r.counts.expected.max(1) as f64;
    let value = |r: &StreamRow| -> f64 {
        match key {
            // Streams without a score go last.
            SortKey::Mos => r.counts.mos.unwrap_or(f64::INFINITY),
            SortKey::Loss => -loss(r),
            SortKey::Late => -(r.counts.late as f64),
            SortKey::Jitter => -r.counts.jitter_ms,
            SortKey::Level => r.counts.level_dbfs.unwrap_or(f64::INFINITY),
            SortKey::Packets => -(r.counts.packets as f64),
            SortKey::Id => r.id as f64,
        }
    };
    rows.sort_by(|a, b| value(a).total_cmp(&value(b)).then(a.id.cmp(&b.id)));
}

/// The terminal table of `report`: a header, at most `max_rows` streams sorted by `key`, and
/// the totals of every stream (ended ones included).
pub fn table(report: &MonitorReport, key: SortKey, max_rows: usize) -> String {
    let mut rows: Vec<&StreamRow> = report.streams.iter().collect();
    let showing_ended = rows.is_empty();
    if showing_ended {
        rows.extend(report.ended.iter());
    }
    sort_rows(&mut rows, key);
    let h = &report.health;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "jitterplay monitor  t={:.0}s  streams {} tracked, {} ended, {} untracked  monitor drops: kernel {}, capture {}",
        report.t, report.streams.len(), h.ended, h.untracked_streams, h.kernel_drops, h.capture_drops
    );
    let _ = writeln!(
        out,
        "{:>4} {:>4} {:>5} {:>7} {:>6} {:>5} {:>6} {:>7} {:>7} {:>6} {:>7} {:<13} {:<10} SOURCE → DESTINATION",
        "ID",
        "MOS",
        "R",
        "PKTS",
        "LOSS%",
        "LATE",
        "BURST",
        "JIT ms",
        "MAXΔ ms",
        "RTCP%",
        "LEVEL",
        "CODEC",
        "SSRC",
    );
    for r in rows.iter().take(max_rows) {
        let c = &r.counts;
        let _ = writeln!(
            out,
            "{:>4} {:>4} {:>5} {:>7} {:>6.2} {:>5} {:>6} {:>7.1} {:>7.1} {:>6} {:>7} {:<13} {:<10} {}{}",
            r.id,
            opt(c.mos, 2),
            opt(c.r_factor, 1),
            c.packets,
            c.lost as f64 * 100.0 / c.expected.max(1) as f64,
            c.late,
            if r.loss_bursts.longest > 0 {
                format!("{}×{}", r.loss_bursts.bursts(), r.loss_bursts.longest)
            } else {
                "-".into()
            },
            c.jitter_ms,
            c.max_delta_ms,
            opt(c.far_loss_fraction.map(|f| f * 100.0), 1),
            if c.silent > 0.0 {
                "SILENT".to_owned()
            } else {
                c.level_dbfs.map_or("-".into(), |l| format!("{l:.0}dB"))
            },
            truncate(&r.codec, 13),
            r.ssrc,
            endpoints(r),
            r.call_id.as_deref().map_or(String::new(), |c| format!("  call {c}")),
        );
    }
    if rows.len() > max_rows {
        let _ = writeln!(out, "  … {} more (--rows, --sort)", rows.len() - max_rows);
    }
    let (mut packets, mut expected, mut lost, mut late) = (0u64, 0u64, 0u64, 0u64);
    let mut worst: Option<f64> = None;
    for r in report.streams.iter().chain(&report.ended) {
        packets += r.counts.packets;
        expected += r.counts.expected;
        lost += r.counts.lost;
        late += r.counts.late;
        if let Some(m) = r.counts.mos {
            worst = Some(worst.map_or(m, |w: f64| w.min(m)));
        }
    }
    let _ = writeln!(
        out,
        "TOTAL worst MOS {}  packets {}  lost {} ({:.2}%)  late {}  datagrams {}  RTCP {}  SIP {}  not RTP {}",
        opt(worst, 2),
        packets,
        lost,
        lost as f64 * 100.0 / expected.max(1) as f64,
        late,
        h.datagrams,
        h.rtcp,
        h.sip,
        h.not_rtp
    );
    out
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.decimals$}"))
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn endpoints(r: &StreamRow) -> String {
    let show = |a: Option<std::net::SocketAddr>| a.map_or("?".into(), |a| a.to_string());
    format!("{} → {}", show(r.src), show(r.dst))
}

/// One `--json` line.
#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    t: f64,
    #[serde(flatten)]
    body: &'a T,
}

/// The `--json` lines of `report`: one `stream` line per tracked stream, one `ended` line per
/// stream that ended, and one `monitor` line with the monitor's own counters.
pub fn json_lines(report: &MonitorReport) -> String {
    let mut out = String::new();
    let mut line = |kind, body: &dyn erased::Body| {
        out.push_str(&body.line(kind, report.t));
        out.push('\n');
    };
    for r in &report.streams {
        line("stream", r);
    }
    for r in &report.ended {
        line("ended", r);
    }
    line("monitor", &report.health);
    out
}

mod erased {
    //! A serialisable body of a line, whatever its type.
    use super::Line;

    pub trait Body {
        fn line(&self, kind: &'static str, t: f64) -> String;
    }

    impl<T: serde::Serialize> Body for T {
        fn line(&self, kind: &'static str, t: f64) -> String {
            serde_json::to_string(&Line {
                kind,
                t,
                body: self,
            })
            .unwrap_or_else(|e| format!("{{\"type\":\"error\",\"error\":\"{e}\"}}"))
        }
    }
}
