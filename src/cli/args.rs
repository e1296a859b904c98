//! The command line: global flags and one command, each with its own arguments.

use clap::{Parser, Subcommand};

use super::completions_args::{CompletionsArgs, ManArgs};
use super::{demo, devices, monitor, play_args, relay, send, simulate, streams};

/// jitterplay: play audio files and RTP streams cleanly over bad networks.
#[derive(Debug, Parser)]
#[command(name = "jitterplay", version, about, long_about = None)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// No status line (errors still go to stderr).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Play an audio file, an rtp:// stream, an SDP-described stream or a captured stream.
    Play(play_args::PlayArgs),
    /// List the RTP streams of a capture (pcap, pcapng, rtpdump) with loss, jitter and skew.
    Streams(streams::StreamsArgs),
    /// Watch many live RTP streams (port ranges, groups, SDP files, a capture or an interface):
    /// loss, bursts, jitter, late packets, MOS, silence and loudness per stream.
    Monitor(monitor::MonitorArgs),
    /// Stream a bundled sample over loopback through a bad network and play it: start here.
    Demo(demo::DemoArgs),
    /// List audio hosts, output devices and their configurations.
    Devices(devices::DevicesArgs),
    /// Stream a file as RTP in real time (optionally through a simulated bad network).
    Send(send::SendArgs),
    /// Forward UDP datagrams through a simulated bad network (a userspace netem).
    Relay(relay::RelayArgs),
    /// Stream a sample through a simulated network (or a capture's arrival times) and the real
    /// receive core, in virtual time.
    Simulate(simulate::SimulateArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (or one command's), or write them all with --out-dir.
    Man(ManArgs),
}
