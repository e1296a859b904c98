//! Helpers shared by the integration tests: the binary, assets, peer tools and WAV reading.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long any command a test runs may take before it is killed and the test fails: a peer
/// that hangs (a GStreamer pipeline that never reaches EOS) must fail its test, not stall CI.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(180);

/// The jitterplay binary cargo built for these tests.
pub fn jitterplay() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jitterplay"))
}

/// Path of a bundled sample.
pub fn asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join(name)
}

/// A fresh scratch directory for one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// True if `tool` runs. Without it, tests fail under CI and skip (with a reason) elsewhere.
pub fn require_tool(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("-version")
        .output()
        .or_else(|_| Command::new(tool).arg("--version").output())
        .is_ok();
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("{tool} is required in CI but is not installed (.ci/run installs it)");
        }
        eprintln!("skipping: {tool} is not installed");
    }
    found
}

/// Runs a command to its end like `Command::output`, but kills it and panics (with what it
/// printed) if it has not ended within `limit`.
pub fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    // Pipes are drained on their own threads so that a chatty child never blocks on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let err = stderr.join().unwrap_or_default();
            panic!(
                "{cmd:?} still running after {limit:?}, killed; stderr:\n{}",
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// `Command::output` bounded by [`COMMAND_LIMIT`], for the tests' peers and players.
pub trait BoundedOutput {
    /// The command's output once it has ended; it is killed, and the test fails, if it has
    /// not ended within [`COMMAND_LIMIT`].
    fn bounded_output(&mut self) -> std::io::Result<Output>;
}

impl BoundedOutput for Command {
    fn bounded_output(&mut self) -> std::io::Result<Output> {
        Ok(output_within(self, COMMAND_LIMIT))
    }
}

/// Runs a command (within [`COMMAND_LIMIT`]), panicking with its stderr if it fails.
pub fn run_ok(cmd: &mut Command) -> Output {
    run_ok_within(cmd, COMMAND_LIMIT)
}

/// Runs a command within `limit`, panicking with its stderr if it fails or outlives it.
pub fn run_ok_within(cmd: &mut Command, limit: Duration) -> Output {
    let out = output_within(cmd, limit);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Interleaved f32 samples of a WAV file with its rate and channel count.
pub fn read_wav(path: &Path) -> (Vec<f32>, u32, u16) {
    let mut reader =
        hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = reader.spec();
    let samples = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .map(|s| s.expect("sample"))
            .collect(),
        hound::SampleFormat::Int => {
            let scale = (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.expect("sample") as f32 / scale)
                .collect()
        }
    };
    (samples, spec.sample_rate, spec.channels)
}

/// ffmpeg's decode of `path` as interleaved f32 at the file's own rate and channels.
pub fn ffmpeg_decode(path: &Path) -> Vec<f32> {
    let out = run_ok(
        Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(path)
            .args(["-f", "f32le", "-c:a", "pcm_f32le", "-"]),
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The lag (in frames, of `candidate` relative to `reference`) that best aligns two signals,
/// searched over `-max_lag..=max_lag` on the first channel.
pub fn best_lag(
    reference: &[f32],
    candidate: &[f32],
    channels: usize,
    max_lag: isize,
) -> (isize, f64) {
    let r: Vec<f32> = reference.iter().step_by(channels).copied().collect();
    let c: Vec<f32> = candidate.iter().step_by(channels).copied().collect();
    let window = r.len().min(c.len()).min(24_000);
    let mut best = (0isize, f64::MIN);
    // Nearest lags first, and only a clearly better score moves away: periodic content (a tone)
    // correlates equally well one period off, and the onset alignment is then the right one.
    let lags = (0..=max_lag).flat_map(|l| if l == 0 { vec![0] } else { vec![-l, l] });
    for lag in lags {
        let mut dot = 0.0f64;
        let (mut er, mut ec) = (0.0f64, 0.0f64);
        for (i, &a) in r.iter().enumerate().take(window) {
            let j = i as isize + lag;
            if j < 0 || j as usize >= c.len() {
                continue;
            }
            let (a, b) = (f64::from(a), f64::from(c[j as usize]));
            dot += a * b;
            er += a * a;
            ec += b * b;
        }
        let score = dot / (er.sqrt() * ec.sqrt()).max(1e-12);
        if score > best.1 + 1e-6 {
            best = (lag, score);
        }
    }
    best
}

/// The first frame whose first-channel magnitude exceeds `threshold`.
pub fn onset(signal: &[f32], channels: usize, threshold: f32) -> Option<usize> {
    signal
        .iter()
        .step_by(channels)
        .position(|s| s.abs() > threshold)
}

/// An asset decoded for the simulator: interleaved f32 with its rate and channels.
pub fn sim_input(name: &str) -> jitterplay::sim::SimInput {
    let mut decoder = jitterplay::codec::file::FileDecoder::open(&asset(name)).expect("asset");
    let format = decoder.format();
    let (mut samples, mut chunk) = (Vec::new(), Vec::new());
    while decoder.next_chunk(&mut chunk).expect("decode") {
        samples.extend_from_slice(&chunk);
    }
    jitterplay::sim::SimInput {
        samples,
        rate: format.rate,
        channels: format.channels as u16,
    }
}
