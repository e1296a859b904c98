//! Command-line commands, one file each; this is the only place that uses `anyhow`.

pub mod args;
pub mod capture_play;
pub mod common;
pub mod completions;
pub mod completions_args;
pub mod demo;
pub mod devices;
pub mod duration;
pub mod monitor;
pub mod play;
pub mod play_args;
pub mod relay;
pub mod sap;
pub mod sap_args;
pub mod send;
pub mod send_rtcp;
pub mod simulate;
pub mod sparkline;
pub mod status;
pub mod stop_signal;
pub mod streams;

pub use args::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Play(args) => match args.input.strip_prefix("sap://") {
            Some(name) => sap::play(name, &args, cli.quiet),
            None => play::run(args, cli.quiet),
        },
        Command::Demo(args) => demo::run(args, cli.quiet),
        Command::Devices(args) => devices::run(args),
        Command::Streams(args) => streams::run(args),
        Command::Monitor(args) => monitor::run(args, cli.quiet),
        Command::Send(args) => send::run(args, cli.quiet),
        Command::Relay(args) => relay::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => completions::man(args),
    }
}
