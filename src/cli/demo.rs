//! `jitterplay demo`: a bundled sample streamed over loopback through a visibly bad network,
//! received and played through the jitter buffer, then the final report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::duration::parse_duration;
use super::status::StatusLine;
use crate::net::file_source::Passes;
use crate::net::rtp_url::RtpUrl;
use crate::net::sender::{SendConfig, Sender};
use crate::netem::spec::ImpairSpec;
use crate::output::{OutputError, OutputSpec, Request, Sink};
use crate::player::rtp::{play_rtp, RtpPlayOptions};
use crate::rtp::stream_format::StreamHint;

/// The demo's sample, built into the binary so that `jitterplay demo` runs in any directory
/// (6.5 s of synthesised music, 48 kHz stereo FLAC, 323 KB; see assets/README.md).
const DEMO_SAMPLE: &[u8] = include_bytes!("../../assets/music-48k-stereo.flac");

/// The network the demo streams through.
pub const DEMO_IMPAIRMENT: &str =
    "delay=30ms,jitter=15ms,loss=2%,burst=2,reorder=5%,dup=2%,spike=700ms:6s:1s,seed=7";

/// Arguments of `demo`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  jitterplay demo\n  jitterplay demo --output wav:demo.wav\n  jitterplay demo --impair \"delay=50ms,jitter=40ms,loss=5%,seed=3\""
)]
pub struct DemoArgs {
    /// The file to stream (default: the sample built into jitterplay).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Where to play (default: the audio device, or demo-output.wav without one).
    #[arg(short, long)]
    pub output: Option<OutputSpec>,
    /// The network between sender and player.
    #[arg(long, default_value = DEMO_IMPAIRMENT)]
    pub impair: String,
    /// How many times the sample is sent.
    #[arg(long, default_value_t = 2)]
    pub passes: u32,
    /// Jitter buffer target floor (the demo keeps it short; `play` defaults to 3s).
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub target_min: Duration,
    /// Jitter buffer target ceiling.
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    pub target_max: Duration,
    /// Serve the player's live dashboard at http://ADDR:PORT/ (and the audio at /listen).
    #[arg(long, value_name = "ADDR:PORT")]
    pub web: Option<std::net::SocketAddr>,
}

/// Runs the demo.
pub fn run(args: DemoArgs, quiet: bool) -> anyhow::Result<()> {
    super::stop_signal::install();
    let impair: ImpairSpec = args.impair.parse()?;
    let sample = match &args.input {
        Some(path) if !path.exists() => anyhow::bail!("{} not found", path.display()),
        Some(path) => Sample::File(path.clone()),
        None => Sample::write_built_in()?,
    };
    let output = match args.output.clone() {
        Some(o) => o,
        None => default_output(),
    };
    // A port the player will bind: ask the kernel for a free one.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .context("no free UDP port on loopback")?
        .port();
    let mut send = SendConfig::new(sample.path(), format!("127.0.0.1:{port}"));
    send.passes = Passes::Times(args.passes.max(1));
    send.impair = Some(impair);
    let sender = Sender::open(send)?;
    let format = sender.format();
    let pt = sender.payload_type();
    eprintln!(
        "demo: streaming {} as {} to 127.0.0.1:{port} through: {}",
        sample.name(),
        format,
        args.impair
    );
    eprintln!(
        "demo: playing to {output} through a {:?}..{:?} adaptive jitter buffer",
        args.target_min, args.target_max
    );
    let send_thread = std::thread::Builder::new()
        .name("jitterplay-demo-sender".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime
                .block_on(sender.run(super::stop_signal::signalled()))
                .map_err(anyhow::Error::from)
        })?;

    let url: RtpUrl = format!("rtp://127.0.0.1:{port}").parse()?;
    let metrics = crate::web::ReceiveExport::bind(
        None,
        args.web,
        Some(args.target_max.max(args.target_min)),
    )?;
    let _serving = metrics
        .as_ref()
        .map(|e| e.servers.spawn_threads())
        .transpose()?;
    if let Some(addr) = args.web {
        eprintln!("demo: dashboard at http://{addr}/");
    }
    let mut web = metrics
        .as_ref()
        .and_then(|e| e.hub())
        .and_then(|h| h.status_tap());
    let options = RtpPlayOptions {
        metrics,
        output,
        target_min: args.target_min,
        target_max: args.target_max.max(args.target_min),
        idle_timeout: Some(Duration::from_secs(1)),
        hint: StreamHint {
            format: Some(format),
            payload_type: Some(pt),
            telephone_event_pt: None,
        },
        ..RtpPlayOptions::default()
    };
    let status = StatusLine::new(quiet);
    let result = play_rtp(&url, &options, &super::stop_signal::STOP, &mut |s| {
        if let Some(web) = web.as_mut() {
            web.push(serde_json::to_value(s).unwrap_or_default());
        }
        let m = &s.metrics;
        status.set(format!(
            "{:<13} {:>3.0}%  buffer {:>5.0}/{:.0} ms  jitter {:>4.1} ms  lost {}  late {}  reordered {}  dup {}  concealed {:.0} ms",
            s.state, s.progress * 100.0, m.depth_ms, m.target_ms, m.jitter_ms, m.lost, m.late, m.reordered, m.duplicate, m.concealed_ms
        ));
    });
    status.finish();
    let last = result?;
    let sent = match send_thread.join() {
        Ok(r) => r?,
        Err(_) => anyhow::bail!("the demo sender panicked"),
    };
    let m = &last.metrics;
    println!("network   {sent}");
    println!(
        "received  {} packets: played {}, lost {} (concealed {:.0} ms), late {}, duplicate {}, reordered {}",
        m.received, m.played, m.lost, m.concealed_ms, m.late, m.duplicate, m.reordered
    );
    println!(
        "buffer    target {:.0} ms (max depth {:.0} ms), RFC 3550 jitter {:.1} ms, underruns {}, rebuffers {}, drift {}",
        m.target_ms, m.max_buffer_depth_ms, m.jitter_ms, m.underruns, m.rebuffers, m.drift_text()
    );
    Ok(())
}

/// What the demo streams: a file the user named, or the built-in sample written to a temporary
/// file for the sender to read (removed when the demo ends).
enum Sample {
    File(PathBuf),
    BuiltIn(PathBuf),
}

impl Sample {
    fn write_built_in() -> anyhow::Result<Sample> {
        let path =
            std::env::temp_dir().join(format!("jitterplay-demo-{}.flac", std::process::id()));
        std::fs::write(&path, DEMO_SAMPLE)
            .with_context(|| format!("cannot write the demo sample to {}", path.display()))?;
        Ok(Sample::BuiltIn(path))
    }

    fn path(&self) -> &Path {
        match self {
            Sample::File(p) | Sample::BuiltIn(p) => p,
        }
    }

    fn name(&self) -> String {
        match self {
            Sample::File(p) => p.display().to_string(),
            Sample::BuiltIn(_) => "the built-in sample (6.5 s of music, FLAC)".into(),
        }
    }
}

impl Drop for Sample {
    fn drop(&mut self) {
        if let Sample::BuiltIn(path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The default device if there is one; otherwise one line saying so and a WAV file.
fn default_output() -> OutputSpec {
    let probe = Request {
        rate: 48_000,
        channels: 2,
        device_rate: None,
        buffer_frames: None,
    };
    match Sink::open(&OutputSpec::Default, &probe, false) {
        Ok(_) => OutputSpec::Default,
        Err(e @ (OutputError::NoDevice { .. } | OutputError::DeviceNotFound(_))) => {
            tracing::debug!(error = %e, "no device for the demo");
            eprintln!("demo: no audio device available; writing demo-output.wav instead");
            OutputSpec::Wav(Path::new("demo-output.wav").to_path_buf())
        }
        Err(_) => OutputSpec::Default,
    }
}
