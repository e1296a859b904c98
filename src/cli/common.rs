//! What the players' commands share: the `--stats-json` writer, its lines, the summary of the
//! counters and the warning about frames a recording dropped.

use anyhow::Context;
use std::io::Write;

/// One warning when the recording lost frames (the disk could not keep up).
pub fn warn_record_drops(record: Option<&crate::playback::record_tap::RecordSnapshot>) {
    if let Some(r) = record.filter(|r| r.record_dropped_frames > 0) {
        tracing::warn!(
            dropped = r.record_dropped_frames,
            written = r.written_frames,
            "the recording could not keep up: frames were left out of it (playback was not affected)"
        );
    }
}

/// Opens --stats-json's destination.
pub fn stats_writer(arg: Option<&str>) -> anyhow::Result<Option<Box<dyn Write>>> {
    Ok(match arg {
        None => None,
        Some("-") => Some(Box::new(std::io::stdout())),
        Some(path) => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("cannot write {path}"))?,
        ))),
    })
}

/// Writes `value` as one JSON line.
///
/// Each line is flushed, so that a reader tailing the file (or a run killed without warning)
/// sees every whole second so far.
pub fn json_line(out: &mut dyn Write, value: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    out.flush()
}

/// The counters every player prints when it ends.
pub fn metrics_summary(m: &crate::playout::metrics::MetricsSnapshot) -> String {
    format!(
        "received {} played {} lost {} (+{} before the first, +{} after the last) late {} duplicate {} reordered {} recovered {} (of {} asked for) concealed {:.0} ms (pitch {:.0}, fade {:.0}, noise {:.0}) stretched {:.0} ms silence-adjusted {:.0} ms dropped {:.0} ms underruns {} rebuffers {} jitter {:.1} ms",
        m.received, m.played, m.lost, m.recovery.lost_before_first, m.recovery.lost_after_last, m.late, m.duplicate, m.reordered, m.recovery.recovered, m.recovery.nack_packets, m.concealed_ms, m.concealed_pitch_ms, m.concealed_fade_ms, m.concealed_noise_ms, m.stretched_ms, m.silence_adjusted_ms, m.dropped_ms, m.underruns, m.rebuffers, m.jitter_ms
    )
}

/// `--srtp`'s value as a key. Parsed here rather than by clap, whose error would repeat the
/// value, key and all: keys never appear in messages.
pub fn srtp_option(spec: Option<&str>) -> anyhow::Result<Option<crate::srtp::SrtpKeying>> {
    spec.map(|s| s.parse().map_err(|e| anyhow::anyhow!("--srtp: {e}")))
        .transpose()
}
