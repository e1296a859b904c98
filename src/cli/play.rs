//! `jitterplay play`: a file, an `rtp://` stream or an SDP-described stream, to a device, a WAV
//! file or nowhere.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use super::common::{json_line, metrics_summary, stats_writer, warn_record_drops};
pub use super::duration::parse_ssrc;
pub use super::play_args::PlayArgs;
use super::sparkline::DepthHistory;
use super::status::{clock, StatusLine};
use crate::net::rtcp_link::RtcpMode;
use crate::net::rtp_url::RtpUrl;
use crate::player::rtp::{play_rtp, LiveStatus, RtcpOptions, RtpPlayOptions};
use crate::player::{play_file, FilePlayOptions};
use crate::rtp::sdp::{parse_sdp, RtcpAttributes};
use crate::rtp::stream_format::StreamHint;

/// Runs `play`.
pub fn run(args: PlayArgs, quiet: bool) -> anyhow::Result<()> {
    super::stop_signal::install();
    if args.input.starts_with("rtp://") {
        let mut url: RtpUrl = args.input.parse()?;
        if args.interface.is_some() {
            url.interface = args.interface.clone();
        }
        let hint = StreamHint {
            format: args.format,
            payload_type: args.pt.or(args.format.and_then(|f| f.static_pt())),
            telephone_event_pt: None,
        };
        let srtp = super::common::srtp_option(args.srtp.as_deref())?;
        return play_live(
            &url,
            hint,
            &args,
            None,
            srtp,
            quiet,
            &super::stop_signal::STOP,
        );
    }
    let path = Path::new(&args.input);
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("sdp"))
    {
        let text =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let sdp = parse_sdp(&text).with_context(|| format!("{}", path.display()))?;
        return play_sdp(&sdp, &args, quiet, &super::stop_signal::STOP);
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
        anyhow::bail!("--metrics-listen serves the metrics of RTP streams and captures, not files (--web serves a file's dashboard)");
    }
    if args.srtp.is_some() {
        anyhow::bail!("--srtp decrypts RTP streams and captures, not files");
    }
    play_local(path, &args, quiet)
}

/// Plays the stream `sdp` describes until it ends or `stop` is set.
pub(super) fn play_sdp(
    sdp: &crate::rtp::sdp::SdpStream,
    args: &PlayArgs,
    quiet: bool,
    stop: &std::sync::atomic::AtomicBool,
) -> anyhow::Result<()> {
    let (pt, format) = sdp
        .primary()
        .context("the SDP offers no audio format jitterplay decodes")?;
    let url = url_from_sdp(sdp, args.interface.clone());
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
    let srtp = super::common::srtp_option(args.srtp.as_deref())?.or(sdp.srtp.clone());
    play_live(&url, hint, args, Some(sdp), srtp, quiet, stop)
}

fn url_from_sdp(sdp: &crate::rtp::sdp::SdpStream, interface: Option<String>) -> RtpUrl {
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
        interface,
    }
}

fn play_local(path: &Path, args: &PlayArgs, quiet: bool) -> anyhow::Result<()> {
    let servers = crate::web::Servers::bind(
        None,
        args.web,
        || crate::web::WebHub::new(crate::web::Role::Player, None),
        crate::web::ReceiveView::new,
    )?;
    let _serving = servers.as_ref().map(|s| s.spawn_threads()).transpose()?;
    let hub = servers.as_ref().and_then(|s| s.hub.clone());
    let mut web = hub.as_ref().and_then(|h| h.status_tap());
    let options = FilePlayOptions {
        web: hub,
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
        if let Some(web) = web.as_mut() {
            web.push(serde_json::json!({
                "t": p.position.as_secs_f64(),
                "state": "playing",
                "source": path.display().to_string(),
                "position_s": p.position.as_secs_f64(),
                "duration_s": p.duration.map(|d| d.as_secs_f64()),
                "ring_fill": p.ring_fill,
                "underruns": p.underruns,
            }));
        }
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

fn play_live(
    url: &RtpUrl,
    hint: StreamHint,
    args: &PlayArgs,
    sdp: Option<&crate::rtp::sdp::SdpStream>,
    srtp: Option<crate::srtp::SrtpKeying>,
    quiet: bool,
    stop: &std::sync::atomic::AtomicBool,
) -> anyhow::Result<()> {
    let mut options = live_options(args, hint);
    options.rtcp = rtcp_options(args, sdp.map(|s| &s.rtcp));
    options.media_clock_offset = sdp
        .and_then(|s| s.mediaclk.as_deref())
        .and_then(crate::rtp::media_clock::direct_offset);
    options.ts_refclk = sdp.and_then(|s| s.ts_refclk.clone());
    if options.media_clock_offset.is_some() {
        let clock = crate::net::host_clock::describe();
        tracing::info!(reference = %clock, "measuring the sender's media clock (RFC 7273)");
        options.reference_clock = Some(clock);
    }
    if let Some(keying) = &srtp {
        tracing::info!(key = %keying.redacted(), "SRTP");
    }
    options.srtp = srtp;
    options.metrics = crate::web::ReceiveExport::bind(
        args.metrics_listen,
        args.web,
        Some(args.target_max.max(args.target_min)),
    )?;
    let _serving = options
        .metrics
        .as_ref()
        .map(|e| e.servers.spawn_threads())
        .transpose()?;
    // Progress feeds the status line and the dashboard (10 Hz) and --stats-json (1 Hz);
    // without a line to draw or a dashboard, waking ten times a second would only cost CPU.
    let status_tap = options
        .metrics
        .as_ref()
        .and_then(|m| m.hub())
        .and_then(|h| h.status_tap());
    if !StatusLine::would_draw(quiet || args.stats_json.as_deref() == Some("-"))
        && status_tap.is_none()
    {
        options.progress_every = Duration::from_secs(1);
    }
    report_live(url, args, quiet, status_tap, |progress| {
        play_rtp(url, &options, stop, progress)
    })?;
    if let Some(export) = &options.metrics {
        // The final stats line is written: serve the final values until a scrape read them.
        export.servers.linger(args.metrics_linger, stop);
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

/// Runs a live player with the status line and --stats-json, then prints the summary.
fn report_live(
    url: &RtpUrl,
    args: &PlayArgs,
    quiet: bool,
    mut web: Option<crate::web::hub::StatusTap>,
    play: impl FnOnce(&mut dyn FnMut(&LiveStatus)) -> Result<LiveStatus, crate::player::PlayError>,
) -> anyhow::Result<()> {
    let mut stats_out = stats_writer(args.stats_json.as_deref())?;
    let status = StatusLine::new(quiet || args.stats_json.as_deref() == Some("-"));
    let mut next_line = 0.0;
    let mut write_error = None;
    let mut history = DepthHistory::new(DepthHistory::colour_allowed());
    let result = play(&mut |s| {
        if let Some(web) = web.as_mut() {
            web.push(serde_json::to_value(s).unwrap_or_default());
        }
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
    if let Some(web) = web.as_mut() {
        web.push(serde_json::to_value(&last).unwrap_or_default());
    }
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

fn live_line(s: &LiveStatus, url: &RtpUrl, history: &DepthHistory) -> String {
    let m = &s.metrics;
    let x = &s.net.srtp;
    // SRTP, once it has seen a packet: what authenticated, and refusals by cause.
    let srtp = if x.srtp_decrypted + x.refused() > 0 {
        format!(
            "  srtp ok {} auth-failed {} replayed {} unknown-mki {}",
            x.srtp_decrypted, x.srtp_auth_failed, x.srtp_replayed, x.srtp_unknown_mki
        )
    } else {
        String::new()
    };
    let head = match s.state {
        "waiting" => return format!("waiting for RTP on {}{srtp}", url.bind),
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
        "{head}  {} buffer {:.0}/{:.0} ms  jitter {:.1} ms  loss {:.1}%{recovery}{srtp}  late {}  stretched {:.0} ms  drift {}  {}  from {}",
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
