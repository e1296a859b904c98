//! `jitterplay send`: stream a file as RTP in real time, optionally through a simulated bad network.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::duration::parse_duration;
use super::send_rtcp::{status_text, RtcpSendArgs};
use super::status::StatusLine;
use crate::codec::opus::OpusEncodeOptions;
use std::sync::Arc;

use crate::net::file_source::{FormatRequest, Passes};
use crate::net::sender::{SendConfig, Sender};
use crate::net::traffic_metrics::{TrafficMetrics, TrafficSnapshot};
use crate::netem::spec::ImpairSpec;
use crate::rtp::packetize::DEFAULT_MAX_PAYLOAD;
use crate::srtp::SrtpKeying;
use crate::web::traffic::TrafficView;
use crate::web::{Role, Servers, WebHub};

/// Arguments of `send`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  jitterplay send assets/speech-48k-mono.wav --to 127.0.0.1:5004 --sdp-out stream.sdp
  jitterplay send music.flac --to 239.1.2.3:5004 --ttl 4 --format l16/48000/2 --loop
  jitterplay send speech.wav --to 127.0.0.1:5004 --format pcmu --impair \"delay=40ms,jitter=20ms,loss=2%,reorder=5%,seed=7\"
  jitterplay send speech.mp3 --to [::1]:5004 --format mpa --duration 30s
  jitterplay send speech.wav --to 127.0.0.1:5004 --format opus --bitrate 32k --fec --dtx --sdp-out opus.sdp
  jitterplay send speech.wav --to 127.0.0.1:5004 --metrics-listen 127.0.0.1:9465
  jitterplay send speech.wav --to 127.0.0.1:6004 --local-port 7004 --sdp-out s.sdp   # RTCP 6005 <-> 7005
  jitterplay send speech.wav --to 127.0.0.1:5004 --rtcp-mux --no-rtx --rtx-time 3s

Receive it with `jitterplay play stream.sdp`, `ffmpeg -protocol_whitelist file,udp,rtp -i stream.sdp`
or GStreamer. RTCP goes to port + 1 (or the RTP port with --rtcp-mux): sender reports with a CNAME,
a BYE at the end (also on Ctrl-C); NACKs are answered from the last --rtx-time of packets as RTX
(payload type --rtx-pt) or, with --no-rtx, by resending the packet. The status line shows what the
receiver reports (loss, jitter, RTT); the summary line on stdout says what was sent, what the
impairment did (retransmissions cross it too) and the receiver's last report.")]
pub struct SendArgs {
    /// The audio file to stream (any format `play` reads; an .mp3/.mp2 file for --format mpa).
    pub input: PathBuf,
    /// Destination HOST:PORT: unicast or multicast, IPv4 or IPv6 (in brackets, as in the examples).
    #[arg(long, value_name = "HOST:PORT")]
    pub to: String,
    /// Payload format: l16[/RATE[/CHANNELS]], l24[/RATE[/CHANNELS]], pcmu, pcma, mpa or opus (default: l16 as the file is).
    #[arg(short, long, value_name = "FORMAT", default_value = "l16")]
    pub format: FormatRequest,
    /// Packet time of PCM formats (shortened if a packet would not fit --max-payload).
    #[arg(long, value_name = "DURATION", default_value = "20ms", value_parser = parse_duration)]
    pub ptime: Duration,
    /// RTP payload type (default: the format's static type, else 96).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=127))]
    pub pt: Option<u8>,
    /// SSRC, decimal or 0x-hex (default: random).
    #[arg(long, value_parser = parse_u32)]
    pub ssrc: Option<u32>,
    /// First sequence number (default: random, so wrap-around gets exercised).
    #[arg(long)]
    pub seq: Option<u16>,
    /// First RTP timestamp (default: random).
    #[arg(long, value_parser = parse_u32)]
    pub ts: Option<u32>,
    /// Play the input again and again (--loop), or N times in all (--loop=N); timestamps continue.
    #[arg(long = "loop", value_name = "N", num_args = 0..=1, require_equals = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: Option<Option<u32>>,
    /// Write an SDP describing the stream to FILE (for ffmpeg, GStreamer, `jitterplay play`).
    #[arg(long, value_name = "FILE")]
    pub sdp_out: Option<PathBuf>,
    /// Encrypt RTP and RTCP as SRTP: `--srtp` (AES_CM_128_HMAC_SHA1_80) or `--srtp SUITE`
    /// generate a key, which --sdp-out offers in a=crypto; `--srtp SUITE:inline:KEY` uses KEY.
    #[arg(long, value_name = "SUITE", num_args = 0..=1,
          default_missing_value = "AES_CM_128_HMAC_SHA1_80")]
    pub srtp: Option<String>,
    /// Announce the session by SAP while sending (and delete the announcement at the end), on
    /// 239.255.255.255 (AES67, Dante) for a destination in 239.0.0.0/8, else on 224.2.127.254
    /// (ffmpeg, VLC); --sap-group chooses.
    #[arg(long)]
    pub sap: bool,
    /// With --sap: the SAP group to announce on.
    #[arg(long, value_name = "GROUP", requires = "sap")]
    pub sap_group: Option<std::net::Ipv4Addr>,
    /// With --sap: how often to announce.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s", requires = "sap")]
    pub sap_interval: Duration,
    /// The session's name (the SDP's s=, what SAP listeners list; default "jitterplay").
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// RFC 7273: timestamps follow the host's clock (TAI, or UTC without a TAI offset) in
    /// samples plus OFFSET, as AES67 senders' follow PTP; the SDP says
    /// `a=mediaclk:direct=OFFSET` and `a=ts-refclk:ntp=/traceable/`.
    #[arg(long, value_name = "OFFSET", conflicts_with = "ts")]
    pub mediaclk_offset: Option<u32>,
    /// For a multicast destination: send from this local address (IPv4: and its interface).
    #[arg(long, value_name = "ADDR")]
    pub multicast_if: Option<std::net::IpAddr>,
    /// Multicast TTL (IPv6: hop limit); for a unicast destination, the unicast TTL.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=255))]
    pub ttl: Option<u32>,
    /// Stop after this long (e.g. 30s, 1m30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Simulate a bad network: delay=40ms,jitter=20ms,loss=2%,burst=4,reorder=5%,dup=1%,drift=300ppm,seed=7.
    #[arg(long, value_name = "SPEC")]
    pub impair: Option<ImpairSpec>,
    /// Largest RTP payload in bytes (default fits a 1500-byte Ethernet MTU).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_PAYLOAD)]
    pub max_payload: usize,
    /// Serve the sender's counters as Prometheus/OpenMetrics text at http://ADDR:PORT/metrics.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Serve a live dashboard at http://ADDR:PORT/: the stream sent, its pacing and what the impairment did, with /metrics and /stats.json.
    #[arg(long, value_name = "ADDR:PORT")]
    pub web: Option<std::net::SocketAddr>,
    /// After the stream ends, keep serving --metrics-listen's final values until one scrape has
    /// read them, at most this long (a scrape interval; 0s: stop at once).
    #[arg(long, value_name = "DURATION", value_parser = super::duration::parse_duration, default_value = "15s")]
    pub metrics_linger: std::time::Duration,
    /// Opus: the target bit rate, in bit/s or with k/M (e.g. 64k).
    #[arg(long, value_name = "RATE", default_value = "64k", value_parser = parse_bitrate)]
    pub bitrate: u32,
    /// Opus: in-band forward error correction (each packet carries a low-rate copy of the one
    /// before, tuned for 10 % loss).
    #[arg(long)]
    pub fec: bool,
    /// Opus: discontinuous transmission (silence is not sent; timestamps jump over it).
    #[arg(long)]
    pub dtx: bool,
    /// RTCP, NACK and retransmission.
    #[command(flatten)]
    pub rtcp: RtcpSendArgs,
}

/// Binds `--metrics-listen` and `--web` for a sender or relay, if asked: `view` makes each
/// server's metrics; the dashboard reads `metrics` itself, with `info` (the stream's fixed
/// facts) beside them.
pub(crate) fn traffic_servers(
    metrics_listen: Option<std::net::SocketAddr>,
    web: Option<std::net::SocketAddr>,
    role: Role,
    metrics: &Arc<TrafficMetrics>,
    info: serde_json::Value,
    view: impl Fn() -> TrafficView,
) -> anyhow::Result<Option<Servers>> {
    let hub = || {
        let hub = WebHub::new(role, None);
        let (metrics, started) = (Arc::clone(metrics), std::time::Instant::now());
        hub.poll_status_with(Box::new(move || {
            traffic_status(role, &metrics.snapshot(), started.elapsed(), &info)
        }));
        hub
    };
    Ok(Servers::bind(metrics_listen, web, hub, view)?)
}

/// The dashboard's status object of a sender or relay.
fn traffic_status(
    role: Role,
    s: &TrafficSnapshot,
    t: std::time::Duration,
    info: &serde_json::Value,
) -> serde_json::Value {
    let counts = serde_json::json!({
        "received": s.received,
        "packets": s.packets,
        "datagrams": s.datagrams,
        "errors": s.errors,
        "audio_s": s.audio.as_secs_f64(),
        "held": s.held,
        "impairment": s.impairment,
    });
    match role {
        Role::Relay => serde_json::json!({
            "t": t.as_secs_f64(),
            "state": "relaying",
            "info": info,
            "forward": counts,
            "reverse": { "impairment": s.reverse },
        }),
        _ => {
            let mut status = counts;
            status["t"] = t.as_secs_f64().into();
            status["state"] = "sending".into();
            status["info"] = info.clone();
            status
        }
    }
}

/// Parses a decimal or `0x` hexadecimal 32-bit number.
/// A bit rate: `64000`, `64k`, `1.5M`.
pub(crate) fn parse_bitrate(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let (number, scale) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1e3),
        Some((i, 'm' | 'M')) => (&t[..i], 1e6),
        _ => (t, 1.0),
    };
    number
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|b| b.is_finite() && *b >= 1.0 && *b <= f64::from(u32::MAX))
        .map(|b| b.round() as u32)
        .ok_or_else(|| format!("invalid bit rate '{s}': expected e.g. 64k, 64000 or 1.5M"))
}

fn parse_u32(s: &str) -> Result<u32, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("invalid number '{s}': expected 0..=4294967295 or 0x hex"))
}

/// Resolves when Ctrl-C, SIGTERM or SIGHUP arrives (see [`super::stop_signal`]).
pub(crate) async fn ctrl_c() {
    super::stop_signal::install();
    super::stop_signal::signalled().await;
}

/// A single-threaded tokio runtime for one network command.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the network runtime")
}

/// Runs `send`, with a status line unless `quiet`, printing a summary line to stdout at the end.
pub fn run(args: SendArgs, quiet: bool) -> anyhow::Result<()> {
    let passes = match args.repeat {
        None => Passes::Once,
        Some(None) => Passes::Forever,
        Some(Some(n)) => Passes::Times(n),
    };
    let srtp = match args.srtp.as_deref() {
        Some(spec) => {
            let (keying, generated) = SrtpKeying::for_sending(spec)?;
            if generated && args.sdp_out.is_none() {
                anyhow::bail!(
                    "--srtp {} generates a key that only --sdp-out hands over; add --sdp-out \
                     FILE, or give the key as SUITE:inline:KEY",
                    keying.suite
                );
            }
            tracing::info!(key = %keying.redacted(), "SRTP");
            Some(keying)
        }
        None => None,
    };
    let config = SendConfig {
        format: args.format,
        ptime: args.ptime,
        max_payload: args.max_payload,
        pt: args.pt,
        ssrc: args.ssrc,
        seq: args.seq,
        timestamp: args.ts,
        passes,
        duration: args.duration,
        ttl: args.ttl,
        impair: args.impair,
        opus: OpusEncodeOptions {
            bitrate: args.bitrate,
            fec: args.fec,
            dtx: args.dtx,
        },
        rtcp: args.rtcp.options(),
        local_port: args.rtcp.local_port,
        srtp,
        session_name: args.name.clone(),
        multicast_if: args.multicast_if,
        media_clock_offset: args.mediaclk_offset,
        ..SendConfig::new(args.input, args.to)
    };
    let sender = Sender::open(config)?;
    if let Some(path) = &args.sdp_out {
        std::fs::write(path, sender.sdp())
            .with_context(|| format!("cannot write the SDP to {}", path.display()))?;
    }
    tracing::info!(
        to = %sender.destination(),
        rtcp = ?sender.rtcp_local_addr(),
        format = %sender.format(),
        pt = sender.payload_type(),
        ssrc = format_args!("{:#010x}", sender.ssrc()),
        ptime = ?sender.ptime(),
        "sending"
    );
    let info = serde_json::json!({
        "source": sender.local_addr().map(|a| a.to_string()),
        "destination": sender.destination().to_string(),
        "ssrc": format!("{:#010x}", sender.ssrc()),
        "format": sender.format().to_string(),
        "ptime_ms": sender.ptime().map(|p| p.as_secs_f64() * 1e3),
    });
    let servers = traffic_servers(
        args.metrics_listen,
        args.web,
        Role::Sender,
        sender.metrics(),
        info,
        || {
            TrafficView::sender(
                sender.metrics(),
                sender.local_addr(),
                sender.destination(),
                sender.ssrc(),
                sender.format().to_string(),
            )
        },
    )?;
    let runtime = runtime()?;
    if let Some(servers) = &servers {
        servers.spawn_on(&runtime);
    }
    let announcer = if args.sap {
        let group = args.sap_group.unwrap_or(match sender.destination().ip() {
            std::net::IpAddr::V4(a) if a.octets()[0] == 239 => crate::rtp::sap::ADMIN_GROUP,
            _ => crate::rtp::sap::GLOBAL_GROUP,
        });
        let announcer = Arc::new(crate::net::sap_announce::SapAnnouncer::new(
            &sender.sdp(),
            group,
            args.ttl.unwrap_or(1),
            match args.multicast_if {
                Some(std::net::IpAddr::V4(a)) => Some(a),
                _ => None,
            },
        )?);
        tracing::info!(%group, "announcing the session by SAP");
        runtime.spawn(Arc::clone(&announcer).run(args.sap_interval));
        Some(announcer)
    } else {
        None
    };
    let status = StatusLine::new(quiet);
    let report = if status.is_visible() {
        runtime.block_on(sender.run_with_progress(ctrl_c(), |p| status.set(status_text(p))))?
    } else {
        runtime.block_on(sender.run(ctrl_c()))?
    };
    status.finish();
    if let Some(announcer) = &announcer {
        announcer.delete();
    }
    println!("{report}");
    if let Some(servers) = &servers {
        let stop = &super::stop_signal::STOP;
        runtime.block_on(servers.linger_async(args.metrics_linger, stop));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_rates_with_units() {
        assert_eq!(parse_bitrate("64k"), Ok(64_000));
        assert_eq!(parse_bitrate("1.5M"), Ok(1_500_000));
        assert_eq!(parse_bitrate("24000"), Ok(24_000));
        assert!(parse_bitrate("fast").is_err() && parse_bitrate("-3k").is_err());
    }

    #[test]
    fn numbers_in_decimal_or_hex() {
        assert_eq!(parse_u32("0xDEADBEEF"), Ok(0xDEAD_BEEF));
        assert_eq!(parse_u32("42"), Ok(42));
        assert!(parse_u32("0x1_0000_0000").is_err());
        assert!(parse_u32("-1").is_err());
    }
}
