//! Plays through a real audio server and checks what it actually played.
//!
//! A private PulseAudio instance with a paced null sink stands in for a sound card. We play a
//! bundled sample with `--output default` (cpal), record the sink's monitor with parecord, and
//! show by alignment and comparison that the recording is the sample: the same content, at the
//! right speed, without gaps.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Kills the processes it holds when the test ends, even on panic.
struct Reaper(Vec<Child>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct PulseServer {
    home: PathBuf,
    runtime: PathBuf,
    processes: Reaper,
}

impl PulseServer {
    fn start(dir: &Path) -> PulseServer {
        let home = dir.join("home");
        let runtime = dir.join("run");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&runtime).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        let config = dir.join("pulse.pa");
        std::fs::write(
            &config,
            format!(
                "load-module module-native-protocol-unix auth-anonymous=1 socket={}/pulse/native\n\
                 load-module module-null-sink sink_name=nullsink rate=48000 channels=2 sink_properties=device.description=NullSink\n\
                 set-default-sink nullsink\nset-default-source nullsink.monitor\n",
                runtime.display()
            ),
        )
        .unwrap();
        let mut server = PulseServer {
            home,
            runtime,
            processes: Reaper(Vec::new()),
        };
        let daemon = server
            .command("pulseaudio")
            .args(["-n", "-F"])
            .arg(&config)
            .args(["--daemonize=no", "--exit-idle-time=-1", "--system=false"])
            .arg(format!(
                "--log-target=file:{}",
                dir.join("pulse.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pulseaudio");
        server.processes.0.push(daemon);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server
            .command("pactl")
            .arg("info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            assert!(Instant::now() < deadline, "pulseaudio did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("HOME", &self.home)
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env_remove("PULSE_SERVER");
        cmd
    }

    fn spawn(&mut self, cmd: &mut Command) {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        self.processes.0.push(child);
    }
}

impl PulseServer {
    /// Records the null sink's monitor while `play` runs (with this server's environment) and
    /// returns the recording.
    fn record(&mut self, dir: &Path, play: &mut Command) -> Vec<f32> {
        // An idle null sink sleeps with a 2 s latency; a low-latency reader attached for a while
        // keeps it awake so playback does not stall at its start (see ENV-RECIPES.md).
        let mut keeper = self.command("pacat");
        keeper.args(["-r", "--latency-msec=10", "-d", "nullsink.monitor"]);
        self.spawn(&mut keeper);
        std::thread::sleep(Duration::from_millis(2500));
        let recording = dir.join("recording.wav");
        let mut recorder = self
            .command("parecord")
            .args([
                "--latency-msec=10",
                "-d",
                "nullsink.monitor",
                "--file-format=wav",
                "--rate=48000",
                "--channels=2",
                "--format=s16le",
            ])
            .arg(&recording)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start parecord");
        std::thread::sleep(Duration::from_millis(500));
        let played = play
            .env("HOME", &self.home)
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env_remove("PULSE_SERVER")
            .bounded_output()
            .expect("run jitterplay");
        std::thread::sleep(Duration::from_millis(500));
        // SIGINT lets parecord finish the WAV header.
        let _ = Command::new("kill")
            .args(["-INT", &recorder.id().to_string()])
            .status();
        let _ = recorder.wait();
        assert!(
            played.status.success(),
            "play failed: {}",
            String::from_utf8_lossy(&played.stderr)
        );
        let (recorded, rate, channels) = read_wav(&recording);
        assert_eq!((rate, channels), (48_000, 2));
        recorded
    }
}

/// Checks that `recorded` holds `reference` (stereo, 48 kHz): same content, right speed, no gaps.
fn assert_recording_is(reference: &[f32], recorded: &[f32]) {
    let threshold = 0.01;
    let src_start = onset(reference, 2, threshold).expect("reference has sound");
    let rec_start =
        onset(recorded, 2, threshold).expect("the recording is silent: nothing was played");
    // Coarse alignment by onset, refined by correlation over ±20 ms.
    let coarse = rec_start as isize - src_start as isize;
    assert!(coarse >= 0, "recording starts before the source?");
    // Correlate from the onsets: what comes before may be near-silence that aligns anywhere.
    let (fine, score) = best_lag(
        &reference[src_start * 2..],
        &recorded[rec_start * 2..],
        2,
        960,
    );
    let lag = (coarse + fine) as usize;
    assert!(score > 0.999, "content differs: correlation {score}");
    let frames = reference.len() / 2;
    assert!(
        recorded.len() / 2 >= lag + frames,
        "recording is shorter than the sample: cut off or gaps"
    );

    // Right speed: the sound spans the same time in both (within 1 %).
    let last = |s: &[f32]| {
        s.chunks_exact(2)
            .rposition(|f| f[0].abs() > threshold)
            .unwrap_or(0)
    };
    let src_span = (last(reference) - src_start) as f64;
    let rec_span = (last(&recorded[..(lag + frames) * 2]) - rec_start) as f64;
    assert!(
        (rec_span / src_span - 1.0).abs() < 0.01,
        "duration off: {rec_span} vs {src_span} frames"
    );

    // No gaps or glitches: after alignment every 10 ms block equals the source up to s16
    // rounding. PulseAudio zeroes about the first 0.5 ms of a new stream (seen in every run
    // here), so the comparison starts 2 ms in.
    const SKIP: usize = 96 * 2;
    let aligned = &recorded[lag * 2 + SKIP..(lag + frames) * 2];
    for (i, (a, b)) in aligned
        .chunks(960)
        .zip(reference[SKIP..].chunks(960))
        .enumerate()
    {
        let err = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(
            err < 1e-4,
            "block {i} (at {} ms) differs by {err}: gap or glitch",
            2 + i * 10
        );
    }
}

fn reference(dir: &Path, sample: &Path) -> Vec<f32> {
    let reference_wav = dir.join("reference.wav");
    run_ok(
        jitterplay()
            .args(["play", "--quiet", "--fast", "--output"])
            .arg(format!("wav:{}", reference_wav.display()))
            .arg(sample),
    );
    read_wav(&reference_wav).0
}

#[test]
fn default_output_really_plays_the_sample() {
    if !(require_tool("pulseaudio") && require_tool("parecord")) {
        return;
    }
    let dir = scratch("real_audio_server");
    let sample = asset("music-48k-stereo.flac");
    let reference = reference(&dir, &sample);
    let mut server = PulseServer::start(&dir);
    let mut play = Command::new(env!("CARGO_BIN_EXE_jitterplay"));
    play.args(["play", "--quiet", "--output", "default"])
        .arg(&sample);
    let recorded = server.record(&dir, &mut play);
    assert_recording_is(&reference, &recorded);
}

#[test]
fn a_live_jittery_rtp_stream_really_plays() {
    if !(require_tool("pulseaudio") && require_tool("parecord")) {
        return;
    }
    let dir = scratch("real_audio_server_live");
    let sample = asset("music-48k-stereo.flac");
    let reference = reference(&dir, &sample);
    let mut server = PulseServer::start(&dir);
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free port")
        .port();
    // The player runs through a shell so the sender starts once it is listening: the player
    // binds immediately, and the sender's first packets are simply buffered.
    let mut play = Command::new("sh");
    play.arg("-c").arg(format!(
        "{bin} play --quiet rtp://127.0.0.1:{port} --format l16/48000/2 --target-min 300ms --target-max 1s --idle-timeout 1s --output default & P=$!; \
         until grep -q \":$(printf %04X {port}) \" /proc/net/udp; do sleep 0.05; done; \
         {bin} send {sample} --to 127.0.0.1:{port} --impair 'delay=20ms,jitter=15ms,reorder=5%,dup=3%,seed=11' >/dev/null || exit 1; \
         wait $P",
        bin = env!("CARGO_BIN_EXE_jitterplay"),
        sample = sample.display(),
    ));
    let recorded = server.record(&dir, &mut play);
    assert_recording_is(&reference, &recorded);
}

#[test]
fn a_capture_replays_in_real_time_to_the_device() {
    if !(require_tool("pulseaudio") && require_tool("parecord")) {
        return;
    }
    let dir = scratch("real_audio_server_capture");
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/g711a.pcap");
    // jitterplay resamples the 8 kHz call to 48 kHz itself, for the device and the reference alike.
    let reference_wav = dir.join("reference.wav");
    run_ok(
        jitterplay()
            .args([
                "play",
                "--quiet",
                "--fast",
                "--device-rate",
                "48000",
                "--output",
            ])
            .arg(format!("wav:{}", reference_wav.display()))
            .arg(&capture),
    );
    let (mono, rate, channels) = read_wav(&reference_wav);
    assert_eq!((rate, channels), (48_000, 1));
    // PulseAudio plays a mono stream on both channels of the stereo sink.
    let reference: Vec<f32> = mono.iter().flat_map(|&s| [s, s]).collect();
    let mut server = PulseServer::start(&dir);
    let mut play = Command::new(env!("CARGO_BIN_EXE_jitterplay"));
    play.args([
        "play",
        "--quiet",
        "--device-rate",
        "48000",
        "--output",
        "default",
    ])
    .arg(&capture);
    let recorded = server.record(&dir, &mut play);
    assert_recording_is(&reference, &recorded);
}
