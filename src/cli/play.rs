//! `jitterplay play`: play a file to a device, a WAV file or nowhere.

use std::path::PathBuf;

use clap::Args;

use super::status::{clock, StatusLine};
use crate::output::OutputSpec;
use crate::player::{play_file, FilePlayOptions};

/// Arguments of `play`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  jitterplay play assets/music-48k-stereo.flac\n  jitterplay play speech.mp3 --output wav:out.wav --fast\n  jitterplay play song.ogg --output device:pulse --device-rate 48000"
)]
pub struct PlayArgs {
    /// The input: an audio file (WAV, FLAC, MP3, Ogg/Vorbis, AAC/M4A, AIFF, CAF, MKV...).
    pub input: PathBuf,
    /// Where to play: default, device:NAME, wav:PATH or null.
    #[arg(short, long, default_value = "default")]
    pub output: OutputSpec,
    /// Open the device at this rate (resampling if the input differs).
    #[arg(long, value_name = "HZ")]
    pub device_rate: Option<u32>,
    /// Ask the device for callbacks of this many frames.
    #[arg(long, value_name = "FRAMES")]
    pub buffer_frames: Option<u32>,
    /// Run wav:/null outputs as fast as possible instead of in real time.
    #[arg(long)]
    pub fast: bool,
}

/// Runs `play`.
pub fn run(args: PlayArgs, quiet: bool) -> anyhow::Result<()> {
    let options = FilePlayOptions {
        output: args.output.clone(),
        device_rate: args.device_rate,
        buffer_frames: args.buffer_frames,
        fast: args.fast,
        ..FilePlayOptions::default()
    };
    let status = StatusLine::new(quiet);
    let result = play_file(&args.input, &options, &mut |p| {
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
