//! `jitterplay streams`: the RTP streams of a capture, like Wireshark's "RTP Streams" dialog,
//! and with `--stream`/`--ssrc` one stream's per-packet analysis ("RTP Stream Analysis").

use std::path::PathBuf;

use clap::Args;

use crate::capture::analysis::{analyse_packets, packet_table};
use crate::capture::table::{report_text, stream_table};
use crate::capture::{analyse, read_capture_with, select, CaptureError, DEFAULT_IDLE_TIMEOUT};

/// Arguments of `streams`.
#[derive(Debug, Args)]
#[command(
    after_help = "Columns: lost = sequence numbers never captured (share of the expected range); dup = repeated\n  sequence numbers; ooo = packets after a higher sequence number; max Δ = largest gap between arrivals;\n  jitter = RFC 3550 interarrival jitter (mean/max of the running value); skew = how much faster the\n  sender's clock runs than the capture's (least-squares fit of arrival time on RTP time; over a few\n  seconds, network delay trends show up in it too).\n\nCodecs: each SDP offer or answer names the payload types its c= address and m= port receive, from\n  when it was captured until a later SDP for that address and port; a stream takes the mapping in\n  force for its receiver (else sender) when the payload type first appears. Without one, a mapping\n  from elsewhere in the capture is marked (guess). Jitter and skew need a clock from the static\n  table or the stream's own SDP: otherwise they read unknown (null in --json).\n\nWireshark (Telephony > RTP > RTP Streams) measures differently, and its figures are shown under a\n  stream where they differ (\"wireshark\" in --json): its jitter runs over every packet of the SSRC,\n  telephone events included, and averages over all packets; its max delta leaves out marker and\n  comfort-noise packets; its lost is the range from first to last packet less all packets,\n  duplicates included. Compare: tshark -q -o rtp.heuristic_rtp:TRUE -z rtp,streams -r call.pcap\n\nWith --stream or --ssrc, a row per packet: delta since the previous packet, running jitter, skew\n  (how early against the first packet and the RTP clock) and what was wrong (sequence errors,\n  payload type changes, telephone events, marker).\n\nExamples:\n  jitterplay streams call.pcap\n  jitterplay streams call.pcapng --json | jq '.streams[] | {index, ssrc, codec}'\n  jitterplay streams call.pcap --stream 2\n  jitterplay play call.pcap --stream 2\n  jitterplay streams sap:// --duration 30s"
)]
pub struct StreamsArgs {
    /// A capture (.pcap, .pcapng or rtpdump), or `sap://` for the sessions announced by SAP,
    /// listed live.
    pub input: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Analyse stream N packet by packet.
    #[arg(long, value_name = "N", conflicts_with = "ssrc")]
    pub stream: Option<usize>,
    /// Analyse the stream with this SSRC packet by packet.
    #[arg(long, value_name = "SSRC", value_parser = super::duration::parse_ssrc)]
    pub ssrc: Option<u32>,
    /// A jump of the capture's clock longer than this (default 10s), or backwards, is a pause
    /// that takes no time (as `play` and `simulate` replay it).
    #[arg(long, value_parser = super::duration::parse_duration)]
    pub idle_timeout: Option<std::time::Duration>,
    /// The key of SRTP streams whose SDP is not in the capture: `SUITE:inline:KEY` (keys
    /// offered in the capture's SIP/SDP are found and tried without it).
    #[arg(long, value_name = "SUITE:inline:KEY")]
    pub srtp: Option<String>,
    /// `sap://`: where to listen.
    #[command(flatten)]
    pub sap: super::sap_args::SapArgs,
    /// `sap://`: stop listening after this long (default: until Ctrl-C).
    #[arg(long, value_parser = super::duration::parse_duration)]
    pub duration: Option<std::time::Duration>,
}

/// Runs `streams`.
pub fn run(args: StreamsArgs) -> anyhow::Result<()> {
    if args.input.to_str().is_some_and(|i| i.starts_with("sap://")) {
        return super::sap::list(&args.sap, args.json, args.duration);
    }
    let idle_timeout = args.idle_timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT);
    let srtp = super::common::srtp_option(args.srtp.as_deref())?;
    let mut capture = read_capture_with(&args.input, idle_timeout)?;
    crate::capture::srtp_flows::decrypt(&mut capture, srtp.as_ref());
    let report = analyse(&capture);
    if args.stream.is_none() && args.ssrc.is_none() {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{}", report_text(&report));
        }
        return Ok(());
    }
    let selector = super::capture_play::selector(args.stream, args.ssrc);
    // Any stream may be analysed, playable or not: only "which one" can fail here.
    let chosen = match select(&args.input, &capture, &report, selector, None) {
        Ok(s) => s.info,
        Err(
            CaptureError::Unsupported { stream, .. }
            | CaptureError::UnknownDynamic { stream, .. }
            | CaptureError::NotAudio { stream, .. },
        ) => report.streams[stream - 1].clone(),
        Err(e) => return Err(e.into()),
    };
    let rows = analyse_packets(&capture, &chosen);
    if args.json {
        let out = serde_json::json!({ "stream": chosen, "packets": rows });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", stream_table(std::slice::from_ref(&chosen)));
        println!();
        print!("{}", packet_table(&rows));
    }
    Ok(())
}
