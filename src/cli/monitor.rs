//! `jitterplay monitor`: watch many RTP streams at once (sockets, a capture file or a live
//! interface) and show a top-style table, JSON lines or per-stream Prometheus series.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::duration::parse_duration;
use crate::capture::bindings::PayloadBindings;
use crate::monitor::inputs::{self, Source};
use crate::monitor::view::{self, SortKey};
use crate::monitor::{capture_feed, live, pcap_live, Monitor, MonitorConfig, MonitorReport};
use crate::rtp::payload::PayloadFormat;
use crate::web::monitor_view::MonitorPublished;
use crate::web::Servers;

/// Arguments of `monitor`.
#[derive(Debug, Args)]
#[command(
    after_help = "Per stream, every second: packets; loss the network caused (never the packets the monitor\n  itself dropped: those are the monitor's kernel/capture drops); duplicates and reordering; RFC 3550\n  jitter, largest arrival gap and skew (as `streams` and Wireshark compute them); loss bursts by length;\n  packets late for a player with the --target-min/--target-max buffer (the real jitter buffer and\n  controller, fed headers only); the far end's RTCP loss, jitter and round trip, apart from ours; an\n  ITU-T G.107 E-model R and MOS (G.107.1 for wideband codecs); silence; EBU R128 loudness with --loudness.\n\nE-model inputs: codec Ie/Bpl (G.113); loss = network loss + late packets, with G.107's BurstR from the\n  loss pattern; mouth-to-ear delay = RTCP round trip / 2 (else --assumed-delay) + packet time + twice\n  the jitter (what a conversational adaptive buffer holds).\n\nExamples:\n  jitterplay monitor rtp://@:20000-21998\n  jitterplay monitor rtp://@:20000-20398 --metrics-listen 0.0.0.0:9464 --max-streams 500\n  jitterplay monitor rtp://@:20000-21998 --web 0.0.0.0:8080       # the streams table in a browser\n  jitterplay monitor rtp://239.1.1.1:5004 rtp://239.1.1.2:5004 --loudness\n  jitterplay monitor studio.sdp --json\n  jitterplay monitor calls.pcap --json | jq 'select(.type==\"ended\") | {ssrc, mos}'\n  jitterplay monitor --interface eth0 --filter 'udp portrange 10000-20000 or port 5060'"
)]
pub struct MonitorArgs {
    /// What to watch: rtp://[SOURCE@]ADDR:PORT or rtp://@:LOW-HIGH (even ports, RTCP on the
    /// odd ones), .sdp files, or one capture file (.pcap, .pcapng, rtpdump).
    pub inputs: Vec<String>,
    /// Capture live on this interface (a SPAN port, say; needs root or CAP_NET_RAW); with
    /// rtp:// or .sdp inputs, the interface multicast groups are joined on.
    #[arg(long, value_name = "NAME")]
    pub interface: Option<String>,
    /// The capture filter for --interface (BPF syntax).
    #[arg(long, default_value = "udp", value_name = "BPF")]
    pub filter: String,
    /// What the unnamed dynamic payload types of the rtp:// inputs carry (l16/48000/2, pcmu, opus…).
    #[arg(long)]
    pub format: Option<PayloadFormat>,
    /// A stream with no packet for this long has ended.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub idle: Duration,
    /// Streams tracked (and exported to Prometheus) at most; others are counted, not tracked.
    #[arg(long, default_value_t = 2000)]
    pub max_streams: usize,
    /// The modelled player's jitter buffer target floor.
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    pub target_min: Duration,
    /// The modelled player's jitter buffer target ceiling.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub target_max: Duration,
    /// A packet quieter than this (dBFS RMS) is quiet…
    #[arg(long, default_value_t = -60.0, allow_negative_numbers = true, value_name = "DBFS")]
    pub silence_below: f64,
    /// …and quiet for this long is silence.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub silence_after: Duration,
    /// Measure EBU R128 momentary and short-term loudness.
    #[arg(long)]
    pub loudness: bool,
    /// Decode nothing: no level, silence or loudness (the cheapest watch).
    #[arg(long, conflicts_with = "loudness")]
    pub no_level: bool,
    /// One-way network delay the E-model assumes when RTCP gives no round trip.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub assumed_delay: Duration,
    /// Print JSON lines (a `stream` line per stream each second, `ended` lines, a `monitor`
    /// line) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Sort the table by this, worst first.
    #[arg(long, value_enum, default_value = "mos")]
    pub sort: SortKey,
    /// Streams shown in the table at most.
    #[arg(long, default_value_t = 40)]
    pub rows: usize,
    /// Report every this long.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub interval: Duration,
    /// Stop after this long (default: until Ctrl-C, or the end of a capture).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// A capture file: pace it by its captured times (else as fast as it reads).
    #[arg(long)]
    pub realtime: bool,
    /// SRTP key for a capture's streams whose SDP is not in it: `SUITE:inline:KEY`.
    #[arg(long, value_name = "SUITE:inline:KEY")]
    pub srtp: Option<String>,
    /// Serve per-stream Prometheus series at http://ADDR:PORT/metrics.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Serve a live streams table (worst first, sortable, with each stream's loss bursts) at
    /// http://ADDR:PORT/, with /streams.json, /metrics and /healthz.
    #[arg(long, value_name = "ADDR:PORT")]
    pub web: Option<std::net::SocketAddr>,
    /// After the end, keep serving /metrics until one scrape has read the final values, for
    /// at most this long.
    #[arg(long, value_parser = parse_duration, default_value = "15s")]
    pub metrics_linger: Duration,
    /// Write the final report (every stream's last figures) as JSON to PATH.
    #[arg(long, value_name = "PATH")]
    pub summary: Option<PathBuf>,
}

/// Runs `monitor`.
pub fn run(args: MonitorArgs, quiet: bool) -> anyhow::Result<()> {
    super::stop_signal::install();
    let mut cfg = MonitorConfig::new(args.target_min, args.target_max);
    cfg.idle = args.idle;
    cfg.max_streams = args.max_streams;
    cfg.level_enabled = !args.no_level;
    cfg.level.silence_below_dbfs = args.silence_below;
    cfg.level.silence_after = args.silence_after;
    cfg.level.loudness = args.loudness;
    cfg.assumed_delay = args.assumed_delay;
    let published = Arc::new(MonitorPublished::new(args.max_streams));
    let servers = Servers::bind_monitor(args.metrics_listen, args.web, &published)?;
    let _threads = servers.as_ref().map(Servers::spawn_threads).transpose()?;
    let live_table = !args.json && !quiet && std::io::stdout().is_terminal();
    // Reports are written on a thread of their own: a slow reader of stdout (a pipe nobody
    // drains yet) must never stall the sockets. Past a few reports waiting, one is dropped.
    let (to_writer, reports) = std::sync::mpsc::sync_channel::<Arc<MonitorReport>>(4);
    let (json, sort, rows) = (args.json, args.sort, args.rows);
    let writer = std::thread::Builder::new()
        .name("jitterplay-monitor-out".into())
        .spawn(move || {
            for report in reports {
                let mut out = std::io::stdout().lock();
                let written = if json {
                    out.write_all(view::json_lines(&report).as_bytes())
                } else if live_table {
                    // Top-style: the table redrawn in place.
                    let table = view::table(&report, sort, rows);
                    out.write_all(format!("\x1b[H\x1b[2J{table}").as_bytes())
                } else {
                    Ok(())
                };
                // A closed pipe (`| head`) is the reader's choice, not an error of ours.
                let _ = written.and_then(|()| out.flush());
            }
        })?;
    let mut dropped_reports = 0u64;
    let mut show = |report: MonitorReport| {
        let report = Arc::new(report);
        published.publish(Arc::clone(&report));
        if to_writer.try_send(report).is_err() {
            dropped_reports += 1;
            tracing::warn!(
                dropped_reports,
                "output is not being read: a report was dropped"
            );
        }
    };
    let last = if let Some(interface) = args.interface.as_deref().filter(|_| args.inputs.is_empty())
    {
        let monitor = Monitor::new(cfg, PayloadBindings::default());
        pcap_live::run(
            interface,
            &args.filter,
            monitor,
            args.interval,
            args.duration,
            super::stop_signal::stopped,
            &mut show,
        )?
    } else {
        match inputs::open(&args.inputs, args.format, args.interface.as_deref())? {
            Source::Capture(path) => {
                let srtp = super::common::srtp_option(args.srtp.as_deref())?;
                let feed = capture_feed::CaptureFeed {
                    realtime: args.realtime,
                    interval: args.interval,
                    idle_timeout: crate::capture::DEFAULT_IDLE_TIMEOUT,
                };
                capture_feed::run(
                    &path,
                    || Monitor::new(cfg.clone(), PayloadBindings::default()),
                    feed,
                    srtp.as_ref(),
                    super::stop_signal::stopped,
                    &mut show,
                )?
            }
            Source::Live(sockets, bindings) => {
                tracing::info!(sockets = sockets.len(), "watching");
                let limits = live::LiveLimits {
                    duration: args.duration,
                    interval: args.interval,
                };
                live::run(
                    sockets,
                    Monitor::new(cfg, bindings),
                    limits,
                    super::stop_signal::signalled(),
                    &mut show,
                )?
            }
        }
    };
    // The last report holds every stream's final figures: it waits for the writer.
    let last = Arc::new(last);
    published.publish_final(Arc::clone(&last));
    let _ = to_writer.send(Arc::clone(&last));
    drop(to_writer);
    let _ = writer.join();
    if !args.json && !quiet {
        // The final table stays on the screen (or is all a pipe gets).
        print!("{}", view::table(&last, args.sort, args.rows));
    }
    if let Some(path) = &args.summary {
        std::fs::write(path, serde_json::to_string_pretty(&*last)?)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(servers) = &servers {
        servers.linger(args.metrics_linger, &super::stop_signal::STOP);
    }
    Ok(())
}
