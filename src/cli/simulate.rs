//! `jitterplay simulate`: stream a sample through a seeded network and the real receive core in
//! virtual time, then report (and optionally plot) what happened.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;

use super::duration::parse_duration;
use crate::codec::file::FileDecoder;
use crate::codec::opus::OpusEncodeOptions;
use crate::output::OutputSpec;
use crate::rtp::payload::PayloadFormat;
use crate::sim::capture_feed::capture_replay;
use crate::sim::opus_sender::SimCodec;
use crate::sim::{run_simulation, Scenario, SimConfig, SimInput};

/// Arguments of `simulate`.
#[derive(Debug, Args)]
#[command(
    after_help = "Scenarios: clean, lan, wifi, mobile, freeze-4s, blackout-2s, reorder-heavy, duplicates,\n  drift-plus, drift-minus, drift-plus-1pct, drift-minus-1pct, seq-wrap, ts-wrap, sender-restart,\n  ssrc-change, dtx-pauses, overflow, or a TOML file (see docs/scenarios.md).\n\nExamples:\n  jitterplay simulate assets/music-48k-stereo.flac --scenario mobile --plot mobile.svg\n  jitterplay simulate assets/speech-48k-mono.flac --scenario my-link.toml --seed 7 --report out.json\n  jitterplay simulate assets/music-48k-stereo.flac --scenario freeze-4s --output wav:heard.wav\n  jitterplay simulate assets/music-48k-stereo.flac --scenario wifi --format opus --bitrate 96k --fec\n  jitterplay simulate call.pcap --stream 1 --target-min 60ms --plot call.svg"
)]
pub struct SimulateArgs {
    /// The audio file to stream (16-bit sources give a bit-exact reference), or a capture
    /// (.pcap, .pcapng, rtpdump) whose arrival times are the network.
    pub input: PathBuf,
    /// A built-in scenario name or a scenario TOML file (default: clean; not for captures).
    #[arg(short, long)]
    pub scenario: Option<String>,
    /// Captures: simulate stream N of `jitterplay streams FILE`.
    #[arg(long, value_name = "N", conflicts_with = "ssrc")]
    pub stream: Option<usize>,
    /// Captures: simulate the stream with this SSRC.
    #[arg(long, value_name = "SSRC", value_parser = super::duration::parse_ssrc)]
    pub ssrc: Option<u32>,
    /// Captures: a jump of the capture's clock longer than this (default 10s), or backwards,
    /// is a pause the replay skips.
    #[arg(long, value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Captures: the key of SRTP streams whose SDP is not in the capture
    /// (`SUITE:inline:KEY`); keys the capture's SIP/SDP offers are tried without it.
    #[arg(long, value_name = "SUITE:inline:KEY")]
    pub srtp: Option<String>,
    /// Captures: the payload format of a dynamic payload type the capture's SDP does not name.
    /// Files: what the simulated sender encodes, l16 (default; compared with the source) or
    /// opus (48 kHz sources; compared with the lossless decode of the sent packets).
    #[arg(long)]
    pub format: Option<crate::rtp::payload::PayloadFormat>,
    /// Files with --format opus: the encoder's bit rate (as `send`).
    #[arg(long, value_name = "RATE", default_value = "64k", value_parser = super::send::parse_bitrate)]
    pub bitrate: u32,
    /// Files with --format opus: code in-band FEC for 10 % loss (as `send`).
    #[arg(long)]
    pub fec: bool,
    /// Seed of every random choice (same seed, same run).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Simulated stream length (the input loops); default: the scenario's, else the input once.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Write the full report as JSON.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Draw buffer depth/target, packet delays and events as SVG.
    #[arg(long, value_name = "PATH")]
    pub plot: Option<PathBuf>,
    /// Write what the virtual device played (wav:PATH only).
    #[arg(long)]
    pub output: Option<OutputSpec>,
    /// Jitter buffer target floor (default 3s).
    #[arg(long, value_parser = parse_duration)]
    pub target_min: Option<Duration>,
    /// Jitter buffer target ceiling (default 5s).
    #[arg(long, value_parser = parse_duration)]
    pub target_max: Option<Duration>,
    /// Leave RTCP and NACK recovery out of a scenario that has them (loss-5pct-nack,
    /// burst-loss-nack), to compare with concealment alone.
    #[arg(long)]
    pub no_nack: bool,
}

/// Runs `simulate`.
pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    if crate::capture::is_capture_path(&args.input) {
        return run_capture(args);
    }
    if args.stream.is_some() || args.ssrc.is_some() || args.idle_timeout.is_some() {
        anyhow::bail!(
            "--stream, --ssrc and --idle-timeout apply to captures; {} is an audio file",
            args.input.display()
        );
    }
    let codec = match args.format {
        None | Some(PayloadFormat::L16 { .. }) => SimCodec::L16,
        Some(PayloadFormat::Opus) => SimCodec::Opus(OpusEncodeOptions {
            bitrate: args.bitrate,
            fec: args.fec,
            dtx: false,
        }),
        Some(other) => anyhow::bail!(
            "the simulated sender sends l16 or opus, not {other}; {other} plays from captures"
        ),
    };
    let scenario = Scenario::load(args.scenario.as_deref().unwrap_or("clean"))?;
    let mut decoder = FileDecoder::open(&args.input)?;
    let format = decoder.format();
    let mut samples = Vec::new();
    let mut chunk = Vec::new();
    while decoder.next_chunk(&mut chunk)? {
        samples.extend_from_slice(&chunk);
    }
    let input = SimInput {
        samples,
        rate: format.rate,
        channels: u16::try_from(format.channels).context("too many channels")?,
    };
    let mut writer = output_writer(args.output.as_ref(), input.rate, input.channels)?;
    let cfg = SimConfig {
        scenario,
        seed: args.seed,
        duration: args.duration,
        target_min: args.target_min,
        target_max: args.target_max,
        no_nack: args.no_nack,
        dtmf: crate::playout::DtmfMode::Tone,
        codec,
    };
    let started = Instant::now();
    let mut write_error = None;
    let report = run_simulation(&input, &cfg, &mut |samples| {
        write_samples(&mut writer, samples, &mut write_error)
    })?;
    finish(args, report, started, writer, write_error)
}

/// Simulates a captured stream: its arrival times are the network.
fn run_capture(args: SimulateArgs) -> anyhow::Result<()> {
    if args.scenario.is_some() || args.duration.is_some() {
        anyhow::bail!(
            "a capture is its own network and length: --scenario and --duration do not apply to {}",
            args.input.display()
        );
    }
    let selector = super::capture_play::selector(args.stream, args.ssrc);
    let (stream, _) = super::capture_play::open(
        &args.input,
        selector,
        args.format,
        args.idle_timeout,
        super::common::srtp_option(args.srtp.as_deref())?.as_ref(),
    )?;
    let cfg = SimConfig {
        scenario: super::capture_play::capture_scenario(&args.input, &stream),
        seed: args.seed,
        duration: None,
        target_min: args.target_min,
        target_max: args.target_max,
        no_nack: args.no_nack,
        dtmf: crate::playout::DtmfMode::Tone,
        codec: SimCodec::L16,
    };
    let started = Instant::now();
    let (replay, format) = capture_replay(&stream, &cfg.replay())?;
    let mut writer = output_writer(args.output.as_ref(), format.rate, format.channels)?;
    let mut write_error = None;
    let (report, _) =
        replay.run(&mut |samples| write_samples(&mut writer, samples, &mut write_error))?;
    finish(args, report, started, writer, write_error)
}

type Writer = Option<(hound::WavWriter<std::io::BufWriter<std::fs::File>>, PathBuf)>;

fn output_writer(output: Option<&OutputSpec>, rate: u32, channels: u16) -> anyhow::Result<Writer> {
    Ok(match output {
        None | Some(OutputSpec::Null) => None,
        Some(OutputSpec::Wav(path)) => {
            let spec = hound::WavSpec {
                channels,
                sample_rate: rate,
                bits_per_sample: 32,
                sample_format: hound::SampleFormat::Float,
            };
            Some((
                hound::WavWriter::create(path, spec)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                path.clone(),
            ))
        }
        Some(other) => anyhow::bail!(
            "simulate plays into a virtual device; use --output wav:PATH (not {other})"
        ),
    })
}

fn write_samples(writer: &mut Writer, samples: &[f32], error: &mut Option<hound::Error>) {
    if let Some((w, _)) = writer.as_mut() {
        for &s in samples {
            if let Err(e) = w.write_sample(s) {
                error.get_or_insert(e);
            }
        }
    }
}

fn finish(
    args: SimulateArgs,
    report: crate::sim::SimReport,
    started: Instant,
    writer: Writer,
    write_error: Option<hound::Error>,
) -> anyhow::Result<()> {
    let wall = started.elapsed();
    if let Some(e) = write_error {
        anyhow::bail!("cannot write the output WAV: {e}");
    }
    if let Some((w, path)) = writer {
        w.finalize()
            .with_context(|| format!("cannot finish {}", path.display()))?;
    }
    println!("{report}");
    println!(
        "  speed     {:.1} s simulated in {:.2} s wall ({:.0}× real time)",
        report.simulated_s,
        wall.as_secs_f64(),
        report.simulated_s / wall.as_secs_f64().max(1e-9)
    );
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.plot {
        crate::sim::plot::draw(&report, path)
            .with_context(|| format!("cannot draw {}", path.display()))?;
    }
    Ok(())
}
