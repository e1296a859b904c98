//! What the interop tests share: a speech clip, peers bounded in time, a player run that
//! collects its output and final stats, and the bit-exact comparison.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::common::*;
use crate::net_support::*;
use serde_json::Value;

/// Small window: the network is loopback, and the window is not under test here. Before the
/// first datagram the idle timeout counts from the player's start, so it must outlast the peer's
/// start-up: 500 ms once ended a player before `gst-launch-1.0`, starting beside the other test
/// binaries, had sent anything.
pub const PLAY_ARGS: [&str; 6] = [
    "--target-min",
    "200ms",
    "--target-max",
    "500ms",
    "--idle-timeout",
    "2s",
];
/// Longer than any peer here needs to send 2 s of audio; a peer still running then has hung.
pub const PEER_LIMIT: Duration = Duration::from_secs(20);
/// Longer than any player here needs once its peer has finished.
pub const PLAYER_LIMIT: Duration = Duration::from_secs(30);
/// Seconds of audio each peer sends.
pub const SECONDS: usize = 2;

/// Runs a peer to completion, killing it (and failing) if it outlives [`PEER_LIMIT`].
pub fn run_peer(cmd: &mut Command) -> Output {
    run_ok_within(cmd, PEER_LIMIT)
}

/// The first [`SECONDS`] of the speech sample as a 16-bit 48 kHz mono WAV in `dir`, and its
/// samples as `read_wav` gives them.
pub fn speech_clip(dir: &Path) -> (PathBuf, Vec<f32>) {
    let (samples, rate, channels) = read_wav(&asset("speech-48k-mono.wav"));
    assert_eq!((rate, channels), (48_000, 1));
    let clip = &samples[..SECONDS * 48_000];
    let path = dir.join("clip.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).expect("create clip");
    for &s in clip {
        w.write_sample((s * 32_768.0) as i16).expect("write clip");
    }
    w.finalize().expect("finish clip");
    (path, clip.to_vec())
}

/// What a player run produced.
pub struct Received {
    /// The final stats line.
    pub stats: Value,
    /// The WAV output, interleaved.
    pub out: Vec<f32>,
    /// Its rate.
    pub rate: u32,
    /// Its channels.
    pub channels: usize,
}

/// Starts `jitterplay play INPUT` (with `args` and [`PLAY_ARGS`]), waits until `port` is bound,
/// runs `peer` to completion, and collects the player's output once it ends on its idle timeout.
pub fn receive(dir: &Path, input: &str, args: &[&str], port: u16, peer: &mut Command) -> Received {
    let stats_path = dir.join("stats.jsonl");
    let stats_arg = stats_path.to_str().expect("utf-8 path");
    let all = [args, &PLAY_ARGS[..], &["--stats-json", stats_arg]].concat();
    let player = spawn_player(dir, input, &all);
    wait_until_bound(port);
    run_peer(peer);
    let wav = player.wav.clone();
    let played = player.wait(PLAYER_LIMIT);
    played.assert_success();
    let stats = final_stats(&std::fs::read_to_string(&stats_path).expect("stats file"));
    eprintln!("player: {}", stats["metrics"]);
    for quiet in ["/metrics/lost", "/metrics/late", "/metrics/malformed"] {
        assert_eq!(stat(&stats, quiet), 0.0, "{quiet} on loopback: {stats}");
    }
    let (out, rate, channels) = read_wav(&wav);
    Received {
        stats,
        out,
        rate,
        channels: usize::from(channels),
    }
}

/// `out` starts with exactly `reference`.
pub fn assert_starts_with(out: &[f32], reference: &[f32]) {
    assert!(
        out.len() >= reference.len(),
        "output has {} samples, the source {}",
        out.len(),
        reference.len()
    );
    if let Some(i) = out.iter().zip(reference).position(|(a, b)| a != b) {
        let zeros = out[i..].iter().take_while(|&&s| s == 0.0).count();
        let (lag, score) = best_lag(reference, out, 1, 4_800);
        panic!(
            "output differs from the source at sample {i}, where it has {zeros} samples of \
             silence the source does not (best alignment overall: lag {lag}, correlation \
             {score:.4})"
        );
    }
}

/// An ffmpeg RTP sender of `input` with `codec_args`, to 127.0.0.1:`port`.
pub fn ffmpeg_sender(input: &Path, codec_args: &[&str], port: u16) -> Command {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-re", "-i"])
        .arg(input)
        .args(codec_args)
        .args(["-f", "rtp"])
        .arg(format!("rtp://127.0.0.1:{port}"));
    cmd
}

/// A `gst-launch-1.0` pipeline ending in `udpsink` to 127.0.0.1:`port`.
pub fn gst_sender(pipeline: &[&str], port: u16) -> Command {
    let mut cmd = Command::new("gst-launch-1.0");
    cmd.arg("-q")
        .args(pipeline)
        .args(["!", "udpsink", "host=127.0.0.1", &format!("port={port}")]);
    cmd
}
