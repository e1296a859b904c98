//! The jitterplay command: parse arguments, set up logging, run, map errors to exit codes.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use jitterplay::cli::{run, Cli};

// Debug builds abort on any allocation inside `assert_no_alloc`, which wraps the audio callback.
#[cfg(debug_assertions)]
#[global_allocator]
static ALLOCATOR: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // symphonia logs recoverable trouble (probe misses, resyncs) at error level; we report
    // those ourselves, so its own lines only appear when asked for with -vv or RUST_LOG.
    let default_level = match cli.verbose {
        0 => "warn,symphonia_core=off,symphonia_bundle_mp3=off,symphonia_bundle_flac=off,pulseaudio=off",
        1 => "info,symphonia_core=off,pulseaudio=off",
        2 => "debug",
        _ => "trace",
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // Plain "WARN ..." lines for users; timestamps and targets only when debugging.
    if cli.verbose == 0 && std::env::var_os("RUST_LOG").is_none() {
        logs.without_time().with_target(false).init();
    } else {
        logs.init();
    }
    jitterplay::codec::file::quiet_decoder_panics();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
