//! Opus with real peers: ffmpeg's libopus RTP sender → `jitterplay play` (from ffmpeg's own
//! SDP), and `jitterplay send --format opus` → ffmpeg and GStreamer decoding it from our SDP.
//!
//! Opus is lossy, so the source is judged by alignment and correlation with the original
//! speech (measured: ≥ 0.97 at 64 kbit/s), and the length by the packets sent.

mod common;
mod net_support;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use net_support::*;

const SPEECH: &str = "speech-48k-mono.wav";
/// Lowest correlation with the source accepted after alignment (first channel).
const MIN_CORRELATION: f64 = 0.9;

fn speech() -> Vec<f32> {
    let (samples, rate, channels) = read_wav(&asset(SPEECH));
    assert_eq!((rate, channels), (48_000, 1));
    samples
}

/// How well `got` (interleaved, `channels`) matches the speech source: (lag, correlation).
fn match_source(got: &[f32], channels: usize) -> (isize, f64) {
    let source = speech();
    // Opus's encoder delay (6.5 ms, 312 samples) and the jitter of the first packet are all
    // the lag there should be.
    let mono: Vec<f32> = got.iter().step_by(channels).copied().collect();
    best_lag(&source, &mono, 1, 2_400)
}

#[test]
fn ffmpeg_libopus_rtp_plays_from_its_sdp() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("opus_from_ffmpeg");
    let port = free_port();
    let sender = |extra: &[&str], sdp: &std::path::Path| {
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-nostdin", "-v", "error", "-re", "-i"])
            .arg(asset(SPEECH))
            .args(extra)
            .args([
                "-c:a",
                "libopus",
                "-b:a",
                "64k",
                "-ac",
                "2",
                "-payload_type",
                "111",
            ])
            .args(["-f", "rtp", "-sdp_file"])
            .arg(sdp)
            .arg(format!("rtp://127.0.0.1:{port}"));
        cmd
    };
    // ffmpeg writes the SDP when it starts: a 10 ms run writes it before the player needs it.
    let sdp = dir.join("ffmpeg.sdp");
    run_ok(&mut sender(&["-t", "0.01"], &sdp));
    let text = std::fs::read_to_string(&sdp).unwrap();
    assert!(text.contains("a=rtpmap:111 opus/48000/2"), "{text}");
    let stats = dir.join("stats.jsonl");
    let player = spawn_player(
        &dir,
        sdp.to_str().unwrap(),
        &[
            "--target-min",
            "200ms",
            "--target-max",
            "500ms",
            "--idle-timeout",
            "500ms",
            "--stats-json",
            stats.to_str().unwrap(),
        ],
    );
    wait_until_bound(port);
    let again = dir.join("again.sdp");
    run_ok(&mut sender(&["-t", "2"], &again));
    let wav = player.wav.clone();
    player.wait(Duration::from_secs(30)).assert_success();
    let stats = final_stats(&std::fs::read_to_string(&stats).unwrap());
    assert_eq!(stats["format"], "opus", "{stats}");
    assert_eq!(stat(&stats, "/metrics/lost"), 0.0, "{stats}");
    let played = stat(&stats, "/metrics/played");
    let (got, rate, channels) = read_wav(&wav);
    assert_eq!((rate, channels), (48_000, 2));
    // 2 s in 20 ms packets (ffmpeg's libopus default), the last one padded.
    assert!((100.0..=102.0).contains(&played), "{played} packets");
    assert_eq!(got.len(), played as usize * 960 * 2);
    let (lag, score) = match_source(&got, 2);
    eprintln!("ffmpeg → jitterplay: lag {lag} frames, correlation {score:.4}");
    assert!(score > MIN_CORRELATION, "correlation {score}");
}

/// `jitterplay send --format opus` of speech to `port` for `duration`, with `--sdp-out` to `sdp`.
fn send_opus(
    port: u16,
    sdp: Option<&std::path::Path>,
    duration: &str,
    fec: bool,
) -> std::process::Output {
    let to = SocketAddr::from(([127, 0, 0, 1], port)).to_string();
    let mut cmd = jitterplay();
    cmd.arg("send")
        .arg(asset(SPEECH))
        .args(["--to", &to, "--format", "opus", "--bitrate", "64k"])
        .args(["--ptime", "20ms", "--duration", duration]);
    if fec {
        cmd.arg("--fec");
    }
    if let Some(sdp) = sdp {
        cmd.arg("--sdp-out").arg(sdp);
    }
    run_ok(&mut cmd)
}

/// Sends 1 s of Opus (with or without FEC) to an ffmpeg reading our SDP with `decoder`;
/// returns (seconds, lag, correlation).
fn ffmpeg_receives(name: &str, fec: bool, decoder: &str) -> (f64, isize, f64) {
    let dir = scratch(name);
    let port = free_port();
    let sdp = dir.join("stream.sdp");
    send_opus(port, Some(&sdp), "0s", fec);
    let text = std::fs::read_to_string(&sdp).unwrap();
    assert!(text.contains("a=rtpmap:96 opus/48000/2"), "{text}");
    let fmtp = format!(
        "a=fmtp:96 maxaveragebitrate=64000; stereo=1; sprop-stereo=1; useinbandfec={}",
        u8::from(fec)
    );
    assert!(text.contains(&fmtp), "{text}");
    let wav = dir.join("rx.wav");
    let ffmpeg = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-c:a", decoder])
        .args(["-protocol_whitelist", "file,udp,rtp", "-i"])
        .arg(&sdp)
        .args(["-c:a", "pcm_s16le", "-y"])
        .arg(&wav)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_bound(port);
    send_opus(port, None, "1s", fec);
    wait_until_drained(port);
    interrupt(&ffmpeg);
    let done = ffmpeg.wait_with_output().unwrap();
    eprintln!("ffmpeg: {}", String::from_utf8_lossy(&done.stderr));
    let (got, rate, channels) = read_wav(&wav);
    assert_eq!((rate, channels), (48_000, 2));
    let seconds = got.len() as f64 / 2.0 / 48_000.0;
    let (lag, score) = match_source(&got, 2);
    eprintln!("jitterplay → ffmpeg ({decoder}, fec {fec}): {seconds:.3} s, lag {lag}, correlation {score:.4}");
    (seconds, lag, score)
}

#[test]
fn ffmpeg_decodes_what_send_format_opus_sends() {
    if !require_tool("ffmpeg") {
        return;
    }
    // ffmpeg 5.1's own Opus decoder garbles packets carrying LBRR data (correlation 0.12
    // where libopus gets 0.98), so the FEC stream is decoded with its libopus wrapper.
    for (name, fec, decoder) in [
        ("opus_to_ffmpeg", false, "opus"),
        ("opus_fec_to_ffmpeg", true, "libopus"),
    ] {
        let (seconds, _, score) = ffmpeg_receives(name, fec, decoder);
        assert!((0.95..=1.05).contains(&seconds), "{seconds} s");
        assert!(score > MIN_CORRELATION, "{decoder}: correlation {score}");
    }
}

#[test]
fn gstreamer_decodes_what_send_format_opus_sends() {
    if !require_tool("gst-launch-1.0") {
        return;
    }
    let dir = scratch("opus_to_gstreamer");
    let port = free_port();
    let wav = dir.join("rx.wav");
    let caps = "application/x-rtp,media=(string)audio,clock-rate=(int)48000,\
                encoding-name=(string)OPUS,payload=(int)96";
    let gst = Command::new("gst-launch-1.0")
        .args(["-q", "-e", "udpsrc"])
        .arg(format!("port={port}"))
        .arg("address=127.0.0.1")
        .arg(format!("caps={caps}"))
        .args([
            "!",
            "rtpjitterbuffer",
            "latency=500",
            "!",
            "rtpopusdepay",
            "!",
            "opusdec",
        ])
        .args([
            "!",
            "audioconvert",
            "!",
            "audio/x-raw,format=S16LE,channels=2",
            "!",
            "wavenc",
        ])
        .args(["!", "filesink"])
        .arg(format!("location={}", wav.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_bound(port);
    send_opus(port, None, "1s", true);
    wait_until_drained(port);
    std::thread::sleep(Duration::from_millis(700));
    interrupt(&gst);
    let done = gst.wait_with_output().unwrap();
    eprintln!("gst: {}", String::from_utf8_lossy(&done.stderr));
    let (got, rate, channels) = read_wav(&wav);
    assert_eq!((rate, channels), (48_000, 2));
    let seconds = got.len() as f64 / 2.0 / 48_000.0;
    assert!((0.95..=1.05).contains(&seconds), "{seconds} s");
    let (lag, score) = match_source(&got, 2);
    eprintln!("jitterplay → GStreamer: {seconds:.3} s, lag {lag} frames, correlation {score:.4}");
    assert!(score > MIN_CORRELATION, "correlation {score}");
}
