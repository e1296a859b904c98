//! `jitterplay play`: a file, an `rtp://` stream or an SDP-described stream, to a device, a WAV
//! file or nowhere.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::duration::parse_duration;
use super::sparkline::DepthHistory;
use super::status::{clock, StatusLine};
use crate::net::rtcp_link::RtcpMode;
use crate::net::rtp_url::RtpUrl;
use crate::output::OutputSpec;
use crate::player::rtp::{play_rtp, LiveStatus, RtcpOptions, RtpPlayOptions};
use crate::player::{play_file, FilePlayOptions};
use crate::playout::DtmfMode;
use crate::rtp::payload::PayloadFormat;
use crate::rtp::sdp::{parse_sdp, RtcpAttributes};
use crate::rtp::stream_format::StreamHint;

/// Arguments of `play`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  jitterplay play assets/music-48k-stereo.flac\n  jitterplay play speech.mp3 --output wav:out.wav --fast\n  jitterplay play rtp://@:5004 --format l16/48000/2\n  jitterplay play stream.sdp --stats-json stats.jsonl\n  jitterplay play rtp://@:5004 --format pcmu --metrics-listen 127.0.0.1:9464\n  jitterplay play rtp://10.0.0.7@239.1.2.3:5004 --target-min 200ms --target-max 1s --idle-timeout 5s\n  jitterplay play call.pcap --stream 2 --output wav:heard.wav --fast"
)]
pub struct PlayArgs {
    /// A file (WAV, FLAC, MP3, Ogg/Vorbis, AAC/M4A, AIFF, CAF, MKV), rtp://[SOURCE@]ADDR:PORT, an
    /// .sdp file, or a capture (.pcap, .pcapng, rtpdump .rtp) replayed with its arrival times.
    pub input: String,
    /// Where to play: default, device:NAME, wav:PATH or null.
    #[arg(short, long, default_value = "default")]
    pub output: OutputSpec,
    /// Open the device at this rate (resampling if the input differs).
    #[arg(long, value_name = "HZ")]
    pub device_rate: Option<u32>,
    /// Ask the device for callbacks of this many frames.
    #[arg(long, value_name = "FRAMES")]
    pub buffer_frames: Option<u32>,
    /// Files and captures: run wav:/null outputs as fast as possible instead of in real time.
    #[arg(long)]
    pub fast: bool,
    /// Captures: play stream N of `jitterplay streams FILE`.
    #[arg(long, value_name = "N", conflicts_with = "ssrc")]
    pub stream: Option<usize>,
    /// Captures: play the stream with this SSRC (0x1234abcd or decimal).
    #[arg(long, value_name = "SSRC", value_parser = parse_ssrc)]
    pub ssrc: Option<u32>,
    /// RTP: the payload format, name[/rate[/channels]] (l16/48000/2, l24/48000/2, pcmu, pcma, mpa, opus).
    #[arg(long)]
    pub format: Option<PayloadFormat>,
    /// RTP: the payload type carrying it (default: the format's static type, else the first seen).
    #[arg(long)]
    pub pt: Option<u8>,
    /// RTP: jitter buffer target floor.
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    pub target_min: Duration,
    /// RTP: jitter buffer target ceiling.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub target_max: Duration,
    /// RTP: no packets for this long ends the stream (what is buffered still plays). Captures:
    /// a jump of the capture's clock longer than this (default 10s), or backwards, is a pause
    /// the replay skips (counted, and named by record number).
    #[arg(long, value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// RTP: stop after this long.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// RTP: a JSON line of every metric each second, and a final summary, to PATH or - (stdout).
    #[arg(long, value_name = "PATH|-")]
    pub stats_json: Option<String>,
    /// Also record what is played, beside the output, to PATH.wav (32-bit float) or PATH.flac
    /// (24-bit) (batched
    /// writes on their own thread, header fixed up at every flush; a slow disk drops frames from
    /// the recording, never from playback, counted as record_dropped_frames).
    #[arg(long, value_name = "PATH.wav|PATH.flac")]
    pub record: Option<PathBuf>,
    /// RTP: save every received datagram with its arrival time to PATH.pcap or PATH.rtpdump
    /// (batched writes on their own thread), to replay the session exactly later with
    /// `jitterplay play PATH` or `jitterplay simulate PATH`.
    #[arg(long, value_name = "PATH.pcap|PATH.rtpdump")]
    pub save_packets: Option<PathBuf>,
    /// RTP and captures: serve every metric as Prometheus/OpenMetrics text at
    /// http://ADDR:PORT/metrics while playing, and after the end until one scrape reads the
    /// final values (at most --metrics-linger).
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// After the stream ends, keep serving --metrics-listen's final values until one scrape has
    /// read them, at most this long (a scrape interval; 0s: stop at once).
    #[arg(long, value_name = "DURATION", value_parser = super::duration::parse_duration, default_value = "15s")]
    pub metrics_linger: std::time::Duration,
    /// RTP: socket receive buffer (SO_RCVBUF) to ask for, in bytes [default: 16 MiB, beyond
    /// net.core.rmem_max when run as root].
    #[arg(long, value_name = "BYTES")]
    pub recv_buffer: Option<usize>,
    /// RTP: packets per second accepted from the sender (flood protection).
    #[arg(long, default_value_t = crate::net::receive::DEFAULT_RATE_CAP)]
    pub rate_cap: u32,
    /// RTP: where RTCP travels: auto (port + 1, and muxed on the RTP port once seen), mux (RFC
    /// 5761, the RTP port only), a port number, or off (no reports, no NACKs). An .sdp's
    /// a=rtcp-mux or a=rtcp: is used unless this is given.
    #[arg(long, value_name = "auto|mux|off|PORT")]
    pub rtcp: Option<RtcpMode>,
    /// RTP: do not ask for lost packets again (RFC 4585 generic NACK; on by default, answered
    /// by senders that keep a retransmission history).
    #[arg(long)]
    pub no_nack: bool,
    /// RTP: payload type of RFC 4588 retransmissions (an .sdp announces it as rtx with apt=).
    #[arg(long, value_name = "PT")]
    pub rtx_pt: Option<u8>,
    /// RTP: send NACKs as reduced-size RTCP (RFC 5506; an .sdp says so with a=rtcp-rsize).
    #[arg(long)]
    pub rtcp_rsize: bool,
    /// RTP (.sdp, captures): how RFC 4733 telephone events sound: `tone` (DTMF dual tones at
    /// the signalled duration and volume) or `silence`.
    #[arg(long, default_value = "tone", value_name = "tone|silence")]
    pub dtmf: DtmfMode,
}

/// Reads an SSRC in hex (`0x…`) or decimal.
pub fn parse_ssrc(text: &str) -> Result<u32, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("not an SSRC: {text:?} (write 0x1234abcd or a decimal number)"))
}

/// Runs `play`.
pub fn run(args: PlayArgs, quiet: bool) -> anyhow::Result<()> {
    super::stop_signal::install();
    if args.input.starts_with("rtp://") {
        let url: RtpUrl = args.input.parse()?;
        let hint = StreamHint {
            format: args.format,
            payload_type: args.pt.or(args.format.and_then(|f| f.static_pt())),
            telephone_event_pt: None,
        };
        return play_live(&url, hint, &args, None, quiet);
    }
    let path = Path::new(&args.input);
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("sdp"))
    {
        let text =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let sdp = parse_sdp(&text).with_context(|| format!("{}", path.display()))?;
        let (pt, format) = sdp
            .primary()
            .context("the SDP offers no audio format jitterplay decodes")?;
        let url = url_from_sdp(&sdp);
        let telephone_event_pt = sdp
            .payloads
            .iter()
            .find(|p| {
                p.rtpmap
                    .as_deref()
                    .is_some_and(|r| r.to_ascii_lowercase().starts_with("telephone-event"))
            })
            .map(|p| p.pt);
        let hint = StreamHint {
            format: Some(args.format.unwrap_or(format)),
            payload_type: Some(args.pt.unwrap_or(pt)),
            telephone_event_pt,
        };
        return play_live(&url, hint, &args, Some(&sdp.rtcp), quiet);
    }
    if args.save_packets.is_some() {
        anyhow::bail!("--save-packets saves what a live stream (rtp://, .sdp) receives");
    }
    if crate::capture::is_capture_path(path) {
        return super::capture_play::run(path, &args, quiet);
    }
    if args.stream.is_some() || args.ssrc.is_some() {
        anyhow::bail!("--stream and --ssrc choose a stream of a capture (.pcap, .pcapng, .rtp)");
    }
    if args.metrics_listen.is_some() {
        anyhow::bail!("--metrics-listen serves the metrics of RTP streams and captures, not files");
    }
    play_local(path, &args, quiet)
}

fn url_from_sdp(sdp: &crate::rtp::sdp::SdpStream) -> RtpUrl {
    let addr = sdp.connection.addr;
    let source = sdp
        .source_filter
        .as_ref()
        .filter(|f| f.include)
        .and_then(|f| f.sources.first().copied());
    let bind_ip = if addr.is_multicast() {
        addr
    } else if addr.is_ipv6() {
        std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
    } else {
        std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
    };
    RtpUrl {
        bind: std::net::SocketAddr::new(bind_ip, sdp.port),
        group: addr.is_multicast().then_some(addr),
        source,
    }
}

fn play_local(path: &Path, args: &PlayArgs, quiet: bool) -> anyhow::Result<()> {
    let options = FilePlayOptions {
        output: args.output.clone(),
        device_rate: args.device_rate,
        buffer_frames: args.buffer_frames,
        fast: args.fast,
        interrupt: Some(&super::stop_signal::STOP),
        record: args.record.clone(),
        ..FilePlayOptions::default()
    };
    let status = StatusLine::new(quiet);
    let result = play_file(path, &options, &mut |p| {
        let total = p.duration.map(clock).unwrap_or_else(|| "?".into());
        status.set(format!(
            "{} / {}  ring {:>3.0}%  underruns {}",
            clock(p.position),
            total,
            p.ring_fill * 100.0,
            p.underruns
        ));
    });
    status.finish();
    let report = result?;
    warn_record_drops(report.record.as_ref());
    if report.skipped_packets > 0 {
        tracing::warn!(
            "{} corrupt packet(s) skipped ({} frames of audio lost)",
            report.skipped_packets,
            report.missing_frames
        );
    }
    tracing::info!(?report, "playback finished");
    Ok(())
}

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

fn play_live(
    url: &RtpUrl,
    hint: StreamHint,
    args: &PlayArgs,
    sdp: Option<&RtcpAttributes>,
    quiet: bool,
) -> anyhow::Result<()> {
    let mut options = live_options(args, hint);
    options.rtcp = rtcp_options(args, sdp);
    options.metrics = args
        .metrics_listen
        .map(crate::metrics_http::ReceiveExport::bind)
        .transpose()?;
    // Progress feeds the status line (10 Hz) and --stats-json (1 Hz); without a line to draw,
    // waking ten times a second would only cost CPU.
    if !StatusLine::would_draw(quiet || args.stats_json.as_deref() == Some("-")) {
        options.progress_every = Duration::from_secs(1);
    }
    report_live(url, args, quiet, |progress| {
        play_rtp(url, &options, &super::stop_signal::STOP, progress)
    })?;
    if let Some(export) = &options.metrics {
        // The network task that served it has stopped: a thread serves the final values
        // (the final stats line is written) until a scrape has read them.
        let _serving = crate::metrics_http::EndpointThread::spawn(&export.endpoint)?;
        export
            .endpoint
            .linger_for_final_scrape(args.metrics_linger, &super::stop_signal::STOP);
    }
    Ok(())
}

fn live_options(args: &PlayArgs, hint: StreamHint) -> RtpPlayOptions {
    RtpPlayOptions {
        output: args.output.clone(),
        device_rate: args.device_rate,
        buffer_frames: args.buffer_frames,
        target_min: args.target_min,
        target_max: args.target_max.max(args.target_min),
        idle_timeout: args.idle_timeout,
        duration: args.duration,
        recv_buffer: args.recv_buffer,
        rate_cap: args.rate_cap,
        hint,
        record: args.record.clone(),
        save_packets: args.save_packets.clone(),
        dtmf: args.dtmf,
        ..RtpPlayOptions::default()
    }
}

/// The RTCP settings from the options, else the SDP's attributes.
fn rtcp_options(args: &PlayArgs, sdp: Option<&RtcpAttributes>) -> RtcpOptions {
    let from_sdp = sdp.and_then(|a| {
        if a.mux {
            Some(RtcpMode::Mux)
        } else {
            a.port.map(RtcpMode::Port)
        }
    });
    RtcpOptions {
        mode: args.rtcp.or(from_sdp).unwrap_or_default(),
        nack: !args.no_nack,
        rtx_pt: args.rtx_pt.or(sdp.and_then(|a| a.rtx.map(|r| r.pt))),
        reduced_size: args.rtcp_rsize || sdp.is_some_and(|a| a.reduced_size),
        target_min: args.target_min,
        // Decided from the URL when playing (unicast only).
        first_report_at_once: false,
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

/// Runs a live player with the status line and --stats-json, then prints the summary.
fn report_live(
    url: &RtpUrl,
    args: &PlayArgs,
    quiet: bool,
    play: impl FnOnce(&mut dyn FnMut(&LiveStatus)) -> Result<LiveStatus, crate::player::rtp::LiveError>,
) -> anyhow::Result<()> {
    let mut stats_out = stats_writer(args.stats_json.as_deref())?;
    let status = StatusLine::new(quiet || args.stats_json.as_deref() == Some("-"));
    let mut next_line = 0.0;
    let mut write_error = None;
    let mut history = DepthHistory::new(DepthHistory::colour_allowed());
    let result = play(&mut |s| {
        if status.is_visible() {
            history.push(s.t, s.metrics.depth_ms, s.metrics.target_ms);
            status.set(live_line(s, url, &history));
        }
        if let Some(out) = stats_out.as_mut() {
            if s.t >= next_line {
                next_line = s.t.floor() + 1.0;
                if let Err(e) = json_line(out, s) {
                    write_error.get_or_insert(e);
                }
            }
        }
    });
    status.finish();
    let last = result?;
    if let Some(out) = stats_out.as_mut() {
        #[derive(serde::Serialize)]
        struct Final<'a> {
            r#final: bool,
            #[serde(flatten)]
            status: &'a LiveStatus,
        }
        serde_json::to_writer(
            &mut *out,
            &Final {
                r#final: true,
                status: &last,
            },
        )?;
        writeln!(out)?;
        out.flush()?;
    }
    if let Some(e) = write_error {
        anyhow::bail!("cannot write stats: {e}");
    }
    if !quiet {
        let m = &last.metrics;
        eprintln!("{} drift {}", metrics_summary(m), m.drift_text());
    }
    Ok(())
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

fn live_line(s: &LiveStatus, url: &RtpUrl, history: &DepthHistory) -> String {
    let m = &s.metrics;
    let head = match s.state {
        "waiting" => return format!("waiting for RTP on {}", url.bind),
        "prebuffering" | "rebuffering" => {
            let filled = (s.progress * 20.0).round() as usize;
            format!(
                "{} {:>3.0}% [{}{}]",
                s.state,
                s.progress * 100.0,
                "#".repeat(filled.min(20)),
                ".".repeat(20 - filled.min(20))
            )
        }
        other => other.to_string(),
    };
    let loss = if m.received > 0 {
        100.0 * m.lost as f64 / (m.played + m.lost).max(1) as f64
    } else {
        0.0
    };
    let r = &m.recovery;
    // NACK recovery, once it has done something: recovered of asked, and the round trip.
    let recovery = if r.nack_packets > 0 {
        let rtt = r
            .rtt_ms
            .map_or(String::new(), |v| format!(" rtt {v:.0} ms"));
        format!("  recovered {}/{}{rtt}", r.recovered, r.nack_packets)
    } else {
        String::new()
    };
    format!(
        "{head}  {} buffer {:.0}/{:.0} ms  jitter {:.1} ms  loss {:.1}%{recovery}  late {}  stretched {:.0} ms  drift {}  {}  from {}",
        history.render(),
        m.depth_ms,
        m.target_ms,
        m.jitter_ms,
        loss,
        m.late,
        m.stretched_ms + m.silence_adjusted_ms,
        m.drift_text(),
        s.format.as_deref().unwrap_or("?"),
        s.source.as_deref().unwrap_or("?")
    )
}
