//! `jitterplay play CAPTURE`: replay one captured stream with its arrival times through the
//! receive core in virtual time, to a device in real time or to a WAV file.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::common::{json_line, metrics_summary, stats_writer, warn_record_drops};
use super::play_args::PlayArgs;
use super::status::{clock, StatusLine};
use crate::capture::{open_stream, CapturedStream, Selector, StreamsReport, DEFAULT_IDLE_TIMEOUT};
use crate::player::capture::play_capture;
use crate::player::FilePlayOptions;
use crate::sim::{ReplayConfig, Scenario, SimReport};
use crate::web::ReceiveExport;

/// The selector the arguments ask for.
pub fn selector(stream: Option<usize>, ssrc: Option<u32>) -> Selector {
    match (stream, ssrc) {
        (Some(n), _) => Selector::Index(n),
        (None, Some(ssrc)) => Selector::Ssrc(ssrc),
        (None, None) => Selector::Auto,
    }
}

/// Reads the capture, decrypts its SRTP (`srtp` tried first) and chooses the stream, warning about a capture cut short; a jump of the
/// capture's clock longer than `idle_timeout` (default [`DEFAULT_IDLE_TIMEOUT`]), or
/// backwards, is a pause the replay skips.
pub fn open(
    path: &Path,
    selector: Selector,
    format: Option<crate::rtp::payload::PayloadFormat>,
    idle_timeout: Option<Duration>,
    srtp: Option<&crate::srtp::SrtpKeying>,
) -> anyhow::Result<(CapturedStream, StreamsReport)> {
    let idle_timeout = idle_timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT);
    let (stream, report) = open_stream(path, selector, format, idle_timeout, srtp)?;
    if let Some(t) = &report.truncated {
        tracing::warn!(
            "{} is cut short after record {} (at {:.3} s: {}); playing what is there",
            path.display(),
            t.records,
            t.at_s,
            t.reason
        );
    }
    let s = &stream.info;
    tracing::info!(
        stream = s.index,
        ssrc = format_args!("0x{:08X}", s.ssrc),
        codec = %s.codec,
        packets = stream.packets.len(),
        "replaying captured stream"
    );
    Ok((stream, report))
}

/// The "scenario" of a capture replay: no synthetic network, the default virtual device.
pub fn capture_scenario(path: &Path, stream: &CapturedStream) -> Scenario {
    let s = &stream.info;
    let route = |a: Option<std::net::SocketAddr>| a.map_or("?".into(), |a| a.to_string());
    Scenario {
        name: "capture".into(),
        description: format!(
            "{} stream {}: {} SSRC 0x{:08X} {} -> {}, captured arrival times",
            path.display(),
            s.index,
            s.codec,
            s.ssrc,
            route(s.src),
            route(s.dst)
        ),
        ..Scenario::default()
    }
}

/// Runs `play` on a capture.
pub fn run(path: &Path, args: &PlayArgs, quiet: bool) -> anyhow::Result<()> {
    let live_only = [
        ("--pt", args.pt.is_some()),
        ("--duration", args.duration.is_some()),
        ("--recv-buffer", args.recv_buffer.is_some()),
    ];
    if let Some((flag, _)) = live_only.iter().find(|(_, given)| *given) {
        anyhow::bail!(
            "{flag} applies to live streams; for a capture choose the stream with --stream N or --ssrc (see `jitterplay streams {}`)",
            path.display()
        );
    }
    let (stream, _) = open(
        path,
        selector(args.stream, args.ssrc),
        args.format,
        args.idle_timeout,
        super::common::srtp_option(args.srtp.as_deref())?.as_ref(),
    )?;
    let cfg = ReplayConfig {
        scenario: capture_scenario(path, &stream),
        seed: 0,
        target_min: Some(args.target_min),
        target_max: Some(args.target_max.max(args.target_min)),
        dtmf: args.dtmf,
    };
    let export = ReceiveExport::bind(
        args.metrics_listen,
        args.web,
        Some(args.target_max.max(args.target_min)),
    )?;
    let _serving = export
        .as_ref()
        .map(|e| e.servers.spawn_threads())
        .transpose()?;
    let mut web = export
        .as_ref()
        .and_then(|e| e.hub())
        .and_then(|h| h.status_tap());
    let options = FilePlayOptions {
        output: args.output.clone(),
        device_rate: args.device_rate,
        buffer_frames: args.buffer_frames,
        fast: args.fast,
        interrupt: Some(&super::stop_signal::STOP),
        record: args.record.clone(),
        web: export.as_ref().and_then(|e| e.hub().cloned()),
        ..FilePlayOptions::default()
    };
    let mut stats_out = stats_writer(args.stats_json.as_deref())?;
    // Replay runs no tokio runtime, so the endpoint gets a thread of its own.

    let status = StatusLine::new(quiet || args.stats_json.as_deref() == Some("-"));
    let format = stream.format.to_string();
    let mut next_line = Duration::ZERO;
    let mut write_error = None;
    let mut started = |metrics: &_| {
        if let Some(e) = &export {
            e.view
                .attach_stream(metrics, format.clone(), stream.info.src);
        }
    };
    let result = play_capture(&stream, &cfg, &options, &mut started, &mut |p, m| {
        let state = if m.received == 0 || p.position.is_zero() {
            "prebuffering"
        } else {
            "playing"
        };
        // The --stats-json line (one per second of output, as for a live stream; the final
        // line follows), which the dashboard gets at every report.
        let line_due = stats_out.is_some() && p.position >= next_line;
        if web.is_some() || line_due {
            let line = serde_json::json!({
                "t": p.position.as_secs_f64(),
                "state": state,
                "format": format,
                "source": stream.info.src.map(|s| s.to_string()),
                "metrics": m,
            });
            if let Some(out) = stats_out.as_mut().filter(|_| line_due) {
                next_line = Duration::from_secs(p.position.as_secs() + 1);
                if let Err(e) = json_line(out, &line) {
                    write_error.get_or_insert(e);
                }
            }
            if let Some(web) = web.as_mut() {
                web.push(line);
            }
        }
        status.set(format!(
            "{} / {}  {state}  buffer {:.0}/{:.0} ms  jitter {:.1} ms  lost {}  late {}  concealed {:.0} ms  stream {} {}",
            clock(p.position),
            p.duration.map(clock).unwrap_or_else(|| "?".into()),
            m.depth_ms,
            m.target_ms,
            m.jitter_ms,
            m.lost,
            m.late,
            m.concealed_ms,
            stream.info.index,
            stream.info.codec,
        ));
    });
    status.finish();
    let (played, report) = result?;
    if let Some(e) = write_error {
        anyhow::bail!("cannot write stats: {e}");
    }
    let m = &report.metrics;
    if m.played == 0 {
        tracing::warn!(
            received = m.received,
            malformed = m.malformed,
            foreign_ssrc = m.foreign_ssrc,
            "nothing of the stream could be played"
        );
    }
    if let Some(out) = stats_out.as_mut() {
        write_final(out, &stream, &report, played.frames_played)?;
    }
    if !quiet {
        summary(&report);
        if played.underruns > 0 {
            eprintln!("output device underruns {}", played.underruns);
        }
    }
    warn_record_drops(played.record.as_ref());
    tracing::info!(?played, "capture playback finished");
    if let Some(e) = &export {
        // A replay can end before any scraper calls (`--fast` takes milliseconds).
        e.servers
            .linger(args.metrics_linger, &super::stop_signal::STOP);
    }
    Ok(())
}

/// The --stats-json line of a replay: the same keys as a live stream's final line.
fn write_final(
    out: &mut Box<dyn Write>,
    stream: &CapturedStream,
    report: &SimReport,
    frames_played: u64,
) -> anyhow::Result<()> {
    let line = serde_json::json!({
        "final": true,
        "state": "finished",
        "t": report.simulated_s,
        "format": stream.format.to_string(),
        "source": stream.info.src.map(|s| s.to_string()),
        "stream": stream.info,
        "metrics": report.metrics,
        "receiver": report.receiver,
        "output": { "frames_played": frames_played },
        "latency_mean_ms": report.latency_mean_ms,
        "latency_p95_ms": report.latency_p95_ms,
        "time_jumps": report.time_jumps,
    });
    json_line(out, &line)?;
    out.flush()?;
    Ok(())
}

/// What the receive core did with the capture, and the capture time jumps the replay skipped.
pub fn summary(report: &SimReport) {
    eprintln!(
        "{} latency {:.0} ms above the fastest packet",
        metrics_summary(&report.metrics),
        report.latency_mean_ms
    );
    if let Some(j) = report.time_jumps.as_ref().filter(|j| j.skipped > 0) {
        eprintln!("{}", crate::sim::report::time_jumps_line(j));
    }
}
