//! `jitterplay streams`: the RTP streams of a capture, like Wireshark's "RTP Streams" dialog.

use std::path::PathBuf;

use clap::Args;

use crate::capture::table::report_text;
use crate::capture::{analyse, read_capture};

/// Arguments of `streams`.
#[derive(Debug, Args)]
#[command(
    after_help = "Columns: lost = sequence numbers never captured (share of the expected range); dup = repeated\n  sequence numbers; ooo = packets after a higher sequence number; max Δ = largest gap between arrivals;\n  jitter = RFC 3550 interarrival jitter (mean/max of the running value); skew = sender clock against\n  the capture clock (least-squares fit of arrival time on RTP time).\n\nExamples:\n  jitterplay streams call.pcap\n  jitterplay streams call.pcapng --json | jq '.streams[] | {index, ssrc, codec}'\n  jitterplay play call.pcap --stream 2"
)]
pub struct StreamsArgs {
    /// A capture: .pcap, .pcapng or rtpdump.
    pub input: PathBuf,
    /// Print the whole analysis as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `streams`.
pub fn run(args: StreamsArgs) -> anyhow::Result<()> {
    let capture = read_capture(&args.input)?;
    let report = analyse(&capture);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report_text(&report));
    }
    Ok(())
}
