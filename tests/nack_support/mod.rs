//! Shared by the NACK and edge-recovery tests: the music asset as the player writes it, how
//! much of it an output holds bit-exact, and `send` and `relay` runs.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{asset, read_wav, scratch, BoundedOutput};
use crate::net_support::{free_port, read_stats, spawn_player, wait_until_bound};
use jitterplay::codec::file::FileDecoder;

/// Frames of two full packets (1460-byte L16 stereo payloads): a lost first or last packet.
pub const EDGE_FRAMES: usize = 2 * 1460 / 4;

/// The source as interleaved f32, as the player's WAV output holds it.
pub fn source() -> Vec<f32> {
    let mut d = FileDecoder::open(&asset("music-48k-stereo.flac")).expect("asset");
    let (mut all, mut chunk) = (Vec::new(), Vec::new());
    while d.next_chunk(&mut chunk).expect("decode") {
        all.extend_from_slice(&chunk);
    }
    all
}

/// Frames of `source` found bit-exact in `out`, aligned by the first frame that matches.
pub fn exact_frames(source: &[f32], out: &[f32]) -> usize {
    let frame = |s: &[f32], i: usize| [s[2 * i], s[2 * i + 1]];
    let frames = out.len() / 2;
    // The first non-silent source frame fixes the alignment.
    let first = (0..source.len() / 2)
        .find(|&i| frame(source, i) != [0.0, 0.0])
        .expect("audio");
    let Some(at) = (0..frames).find(|&j| frame(out, j) == frame(source, first)) else {
        return 0;
    };
    let offset = at as isize - first as isize;
    (0..source.len() / 2)
        .filter(|&i| {
            let j = i as isize + offset;
            j >= 0 && (j as usize) < frames && frame(out, j as usize) == frame(source, i)
        })
        .count()
}

/// Runs `send` of the music asset to `to_port` from `local_port` with `extra` options; its
/// output once it has finished (it must succeed).
pub fn run_send(to_port: u16, local_port: u16, extra: &[&str]) -> std::process::Output {
    let send = Command::new(env!("CARGO_BIN_EXE_jitterplay"))
        .arg("send")
        .arg(asset("music-48k-stereo.flac"))
        .args(["--to", &format!("127.0.0.1:{to_port}")])
        .args(["--local-port", &local_port.to_string(), "--quiet"])
        .args(extra)
        .bounded_output()
        .expect("run send");
    assert!(
        send.status.success(),
        "{}",
        String::from_utf8_lossy(&send.stderr)
    );
    send
}

/// A child process killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A relay from `listen` to `to` (sending from `out`), impairing the way there with `forward`
/// and the way back with `reverse`.
pub fn relay(listen: u16, to: u16, out: u16, forward: &str, reverse: &str) -> Killed {
    let child = Command::new(env!("CARGO_BIN_EXE_jitterplay"))
        .args(["relay", "--listen", &format!("127.0.0.1:{listen}")])
        .args([
            "--to",
            &format!("127.0.0.1:{to}"),
            "--out-port",
            &out.to_string(),
        ])
        .args(["--impair", forward, "--reverse", reverse])
        .args(["--idle-timeout", "20s", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn relay");
    wait_until_bound(listen);
    Killed(child)
}

/// What one `send` → `relay` → `play` run left.
pub struct RelayedRun {
    /// The player's final stats line.
    pub stats: serde_json::Value,
    /// The player's WAV output, interleaved.
    pub out: Vec<f32>,
    /// The sender's summary (stdout and stderr).
    pub summary: String,
    /// From the sender's end to the player's.
    pub player_outlived_sender: Duration,
}

/// `play rtp://… --format l16/48000/2 --rtx-pt 97 ARGS` fed by `send SEND_ARGS` of the music
/// asset through a relay impairing the way there with `forward` and back with `reverse`. No
/// --idle-timeout unless `play_args` has one: the stream must end by itself.
pub fn play_through_relay(
    test: &str,
    forward: &str,
    reverse: &str,
    play_args: &[&str],
    send_args: &[&str],
) -> RelayedRun {
    let dir = scratch(test);
    let (play_port, relay_port, relay_out, send_port) =
        (free_port(), free_port(), free_port(), free_port());
    let stats = dir.join("stats.jsonl");
    let stats_arg = stats.display().to_string();
    let mut args = vec!["--format", "l16/48000/2", "--rtx-pt", "97", "--stats-json"];
    args.push(&stats_arg);
    args.extend_from_slice(play_args);
    let player = spawn_player(&dir, &format!("rtp://@:{play_port}"), &args);
    wait_until_bound(play_port);
    let _relay = relay(relay_port, play_port, relay_out, forward, reverse);
    let send = run_send(relay_port, send_port, send_args);
    let sender_done = Instant::now();
    player.wait(Duration::from_secs(40)).assert_success();
    let player_outlived_sender = sender_done.elapsed();
    let (_, last) = read_stats(&stats);
    let (out, _, _) = read_wav(&dir.join("out.wav"));
    let summary =
        String::from_utf8_lossy(&send.stdout).into_owned() + &String::from_utf8_lossy(&send.stderr);
    RelayedRun {
        stats: last,
        out,
        summary,
        player_outlived_sender,
    }
}
