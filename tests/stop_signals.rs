//! Every way of stopping is graceful: SIGTERM (`systemctl stop`, `docker stop`) and SIGHUP end
//! `play` and `send` as Ctrl-C does, with exit code 0, the final stats line, recordings that
//! decode to the length their headers give, and a BYE.

mod common;
mod net_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{asset, scratch};
use jitterplay::codec::file::FileDecoder;
use net_support::{free_port, read_stats, send_signal, spawn_player, stat, wait_until_bound};

/// Waits until the player's `--stats-json` says it is playing.
fn wait_until_playing(stats: &Path) {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(stats).unwrap_or_default();
        if text.lines().any(|l| l.contains(r#""state":"playing""#)) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never played: {text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `send` of the music asset to `port`, looping, until signalled.
fn spawn_send(port: u16) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_jitterplay"))
        .arg("send")
        .arg(asset("music-48k-stereo.flac"))
        .args(["--to", &format!("127.0.0.1:{port}"), "--loop"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn send")
}

/// Frames in a WAV file, by reading every sample (a truncated file fails).
fn wav_frames(path: &Path) -> usize {
    let mut r = hound::WavReader::open(path).expect("open WAV");
    let channels = usize::from(r.spec().channels);
    let declared = r.duration() as usize;
    let read = match r.spec().sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().inspect(|s| assert!(s.is_ok())).count(),
        hound::SampleFormat::Int => r.samples::<i32>().inspect(|s| assert!(s.is_ok())).count(),
    } / channels;
    assert_eq!(read, declared, "the WAV's header and its data disagree");
    read
}

/// Frames in a FLAC file, decoded to the end.
fn flac_frames(path: &Path) -> usize {
    let mut d = FileDecoder::open(path).expect("open FLAC");
    let mut chunk = Vec::new();
    let mut samples = 0;
    while d.next_chunk(&mut chunk).expect("decode FLAC") {
        samples += chunk.len();
    }
    samples / 2
}

/// Plays a live stream, stops the player with `signal` once it plays, and checks the run's
/// record.
fn player_stopped_by(signal: i32, name: &str) {
    let dir = scratch(name);
    let port = free_port();
    let stats = dir.join("stats.jsonl");
    let flac = dir.join("heard.flac");
    let player = spawn_player(
        &dir,
        &format!("rtp://127.0.0.1:{port}"),
        &[
            "--format",
            "l16/48000/2",
            "--target-min",
            "500ms",
            "--target-max",
            "1s",
            "--record",
            flac.to_str().expect("utf-8"),
            "--stats-json",
            stats.to_str().expect("utf-8"),
        ],
    );
    wait_until_bound(port);
    let mut send = spawn_send(port);
    wait_until_playing(&stats);
    // A second of playing, so that the recordings have something to lose.
    std::thread::sleep(Duration::from_secs(1));
    send_signal(player.pid(), signal);
    let played = player.wait(Duration::from_secs(20));
    send_signal(send.id(), libc::SIGTERM);
    let _ = send.wait();
    played.assert_success();
    let (_, last) = read_stats(&stats);
    assert_eq!(last["final"], true, "{last}");
    assert!(stat(&last, "/metrics/played") > 0.0, "{last}");
    let wav = wav_frames(&dir.join("out.wav"));
    let heard = flac_frames(&flac);
    assert!(wav >= 48_000, "only {wav} frames in the WAV");
    assert_eq!(
        heard, wav,
        "the FLAC record and the WAV output differ in length"
    );
}

#[test]
fn sigterm_ends_a_live_player_like_ctrl_c() {
    player_stopped_by(libc::SIGTERM, "stop_signals_term");
}

#[test]
fn sighup_ends_a_live_player_like_ctrl_c() {
    player_stopped_by(libc::SIGHUP, "stop_signals_hup");
}

#[test]
fn sigterm_ends_send_with_its_bye_and_summary() {
    let dir = scratch("stop_signals_send");
    let port = free_port();
    let stats = dir.join("stats.jsonl");
    let player = spawn_player(
        &dir,
        &format!("rtp://127.0.0.1:{port}"),
        &[
            "--format",
            "l16/48000/2",
            "--target-min",
            "500ms",
            "--target-max",
            "1s",
            "--stats-json",
            stats.to_str().expect("utf-8"),
        ],
    );
    wait_until_bound(port);
    let send = spawn_send(port);
    wait_until_playing(&stats);
    send_signal(send.id(), libc::SIGTERM);
    let out = send.wait_with_output().expect("send");
    assert!(out.status.success(), "send exited {}", out.status);
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("(interrupted)"), "{summary}");
    // The BYE ends the player once its buffer has played out: no idle timeout was given.
    player.wait(Duration::from_secs(20)).assert_success();
    let (_, last) = read_stats(&stats);
    assert_eq!(last["rtcp"]["bye_received"], true, "{last}");
}
