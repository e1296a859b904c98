//! Real RTP peers → `jitterplay play`: ffmpeg (L16 described by its own `-sdp_file`, PCMU on static
//! payload type 0 with no SDP) and GStreamer (a file through `rtpL16pay`, `audiotestsrc` tones
//! through `rtpL16pay` and `mulawenc ! rtppcmupay`).
//!
//! Sources that are files must come out bit for bit; test tones must come out clean: the right
//! frequency, no gap, the right duration. Peers start only once the player's socket is bound
//! (watched in /proc/net/udp). The tools are required under CI (.ci/run installs them).

mod common;
mod interop_support;
mod net_support;

use std::process::Command;

use common::*;
use interop_support::*;
use net_support::*;

#[test]
fn ffmpeg_l16_with_its_sdp_file_is_bit_exact() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("interop_ffmpeg_l16");
    let (clip, source) = speech_clip(&dir);
    let port = free_port();
    let codec = [
        "-af",
        "asetnsamples=n=240",
        "-c:a",
        "pcm_s16be",
        "-payload_type",
        "96",
    ];
    // ffmpeg writes the SDP when it starts sending; a 10 ms run writes it before the player
    // needs it (its one packet goes nowhere).
    let sdp = dir.join("ffmpeg.sdp");
    run_peer(
        ffmpeg_sender(&clip, &codec, port)
            .args(["-t", "0.01", "-sdp_file"])
            .arg(&sdp),
    );
    let again = dir.join("again.sdp");
    let mut peer = ffmpeg_sender(&clip, &codec, port);
    peer.arg("-sdp_file").arg(&again);
    let sdp_arg = sdp.to_str().expect("utf-8 path");
    let got = receive(&dir, sdp_arg, &[], port, &mut peer);
    assert_eq!(
        std::fs::read_to_string(&sdp).expect("sdp"),
        std::fs::read_to_string(&again).expect("sdp"),
        "the SDP describes another stream than the one sent"
    );
    assert_eq!((got.rate, got.channels), (48_000, 1));
    assert_eq!(got.stats["format"], "l16/48000/1", "{}", got.stats);
    assert_eq!(stat(&got.stats, "/metrics/played"), 400.0, "{}", got.stats);
    assert_starts_with(&got.out, &source);
}

#[test]
fn ffmpeg_pcmu_on_static_pt_0_needs_no_sdp() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("interop_ffmpeg_pcmu");
    let (clip, _) = speech_clip(&dir);
    // What ffmpeg's resampler and encoder make of the clip, decoded by ffmpeg: the same bytes it
    // sends (both runs are deterministic).
    let encoded = dir.join("pcmu.wav");
    let resample = ["-af", "aresample=8000", "-ac", "1", "-c:a", "pcm_mulaw"];
    run_ok(
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(&clip)
            .args(resample)
            .arg(&encoded),
    );
    let reference = ffmpeg_decode(&encoded);
    assert_eq!(reference.len(), SECONDS * 8_000);
    let port = free_port();
    let codec = [
        "-af",
        "aresample=8000,asetnsamples=n=160",
        "-ac",
        "1",
        "-c:a",
        "pcm_mulaw",
    ];
    let mut peer = ffmpeg_sender(&clip, &codec, port);
    let got = receive(
        &dir,
        &format!("rtp://127.0.0.1:{port}"),
        &[],
        port,
        &mut peer,
    );
    assert_eq!((got.rate, got.channels), (8_000, 1));
    assert_eq!(got.stats["format"], "pcmu", "{}", got.stats);
    assert_eq!(stat(&got.stats, "/metrics/played"), 100.0, "{}", got.stats);
    assert_starts_with(&got.out, &reference);
}

/// GStreamer sending the speech clip from its file, paced by `udpsink`'s clock, with `payloader`
/// settings; the output must be the clip bit for bit.
fn gstreamer_l16_file(name: &str, payloader: &[&str], packets: f64) {
    if !require_tool("gst-launch-1.0") {
        return;
    }
    let dir = scratch(name);
    let (clip, source) = speech_clip(&dir);
    let port = free_port();
    let location = format!("location={}", clip.display());
    let head = [
        "filesrc",
        &location,
        "!",
        "decodebin",
        "!",
        "audioconvert",
        "!",
        "audioresample",
        "!",
        "audio/x-raw,format=S16BE,rate=48000,channels=1",
        "!",
        "rtpL16pay",
        "pt=96",
    ];
    let mut peer = gst_sender(&[&head[..], payloader].concat(), port);
    let got = receive(
        &dir,
        &format!("rtp://127.0.0.1:{port}"),
        &["--format", "l16/48000/1", "--pt", "96"],
        port,
        &mut peer,
    );
    assert_eq!((got.rate, got.channels), (48_000, 1));
    assert_eq!(
        stat(&got.stats, "/metrics/played"),
        packets,
        "{}",
        got.stats
    );
    assert_starts_with(&got.out, &source);
    let extra = got.out.len() - source.len();
    assert!(
        got.out[source.len()..].iter().all(|&s| s == 0.0) && extra <= 48_000,
        "{extra} samples after the clip, not all silence"
    );
}

#[test]
fn gstreamer_l16_from_a_file_is_bit_exact() {
    // Every packet 10 ms: 200 of them.
    gstreamer_l16_file(
        "interop_gst_l16_file",
        &["min-ptime=10000000", "max-ptime=10000000"],
        200.0,
    );
}

#[test]
fn gstreamer_l16_in_packets_of_varying_size_is_bit_exact() {
    // rtpL16pay cuts each 4096-byte buffer from wavparse into 10 ms packets and a 128-frame
    // remainder: 480, 480, 480, 480, 128 frames, … (234 packets). RTP allows any packet size;
    // the timestamps say where each one goes.
    gstreamer_l16_file("interop_gst_l16_varying", &["max-ptime=10000000"], 234.0);
}

/// Where a tone is in `signal` (first channel): its first and last frame above -40 dBFS.
fn tone_span(signal: &[f32], channels: usize) -> (usize, usize) {
    let first = onset(signal, channels, 0.01).expect("no tone in the output");
    let last = signal
        .iter()
        .step_by(channels)
        .rposition(|s| s.abs() > 0.01)
        .expect("no tone in the output");
    (first, last)
}

/// Checks `signal` holds a clean tone of `freq` Hz lasting `seconds`: frequency from the upward
/// zero crossings within 0.5 %, no 10 ms of silence inside it, its length within 1 %, the same on
/// every channel.
fn assert_clean_tone(signal: &[f32], rate: u32, channels: usize, freq: f64, seconds: f64) {
    let (first, last) = tone_span(signal, channels);
    let frames = last + 1 - first;
    let duration = frames as f64 / f64::from(rate);
    assert!(
        (duration - seconds).abs() <= seconds * 0.01,
        "the tone lasts {duration:.4} s, not {seconds} s (frames {first}..={last})"
    );
    let tone = &signal[first * channels..(last + 1) * channels];
    let mono: Vec<f32> = tone.iter().step_by(channels).copied().collect();
    let crossings: Vec<usize> = mono
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0.0 && w[1] >= 0.0)
        .map(|(i, _)| i)
        .collect();
    assert!(crossings.len() > 10, "{} zero crossings", crossings.len());
    let (a, b) = (crossings[0], crossings[crossings.len() - 1]);
    let measured = (crossings.len() - 1) as f64 * f64::from(rate) / (b - a) as f64;
    assert!(
        (measured - freq).abs() <= freq * 0.005,
        "tone at {measured:.2} Hz, not {freq} Hz"
    );
    // A gap shows as a run of silence; a single period of the tone is far shorter than 10 ms.
    let block = (rate / 100) as usize;
    if let Some(i) = mono
        .chunks(block)
        .position(|c| c.len() == block && c.iter().all(|s| s.abs() < 1e-3))
    {
        panic!(
            "10 ms of silence {:.3} s into the tone",
            (i * block) as f64 / f64::from(rate)
        );
    }
    // The largest step between neighbours stays what the tone itself allows (no click).
    let peak = mono.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    let max_step = mono
        .windows(2)
        .fold(0.0f32, |m, w| m.max((w[1] - w[0]).abs()));
    let allowed = 1.1 * peak * (2.0 * std::f64::consts::PI * freq / f64::from(rate)) as f32;
    assert!(
        max_step <= allowed,
        "a step of {max_step} between samples (a click): the tone allows {allowed}"
    );
    for c in 1..channels {
        assert!(
            tone.chunks(channels).all(|f| f[c] == f[0]),
            "channel {c} differs from channel 0"
        );
    }
}

#[test]
fn gstreamer_audiotestsrc_l16_stereo_is_a_clean_tone() {
    if !require_tool("gst-launch-1.0") {
        return;
    }
    let dir = scratch("interop_gst_l16_tone");
    let port = free_port();
    // 200 buffers of 10 ms: 2 s of 1 kHz, in 5 ms packets (as in ENV-RECIPES.md).
    let mut peer = gst_sender(
        &[
            "audiotestsrc",
            "is-live=true",
            "freq=1000",
            "num-buffers=200",
            "samplesperbuffer=480",
            "!",
            "audioconvert",
            "!",
            "audio/x-raw,format=S16BE,rate=48000,channels=2",
            "!",
            "rtpL16pay",
            "pt=96",
            "max-ptime=5000000",
        ],
        port,
    );
    let got = receive(
        &dir,
        &format!("rtp://127.0.0.1:{port}"),
        &["--format", "l16/48000/2"],
        port,
        &mut peer,
    );
    assert_eq!((got.rate, got.channels), (48_000, 2));
    assert_clean_tone(&got.out, 48_000, 2, 1_000.0, SECONDS as f64);
}

#[test]
fn gstreamer_pcmu_is_a_clean_tone() {
    if !require_tool("gst-launch-1.0") {
        return;
    }
    let dir = scratch("interop_gst_pcmu_tone");
    let port = free_port();
    // 100 buffers of 20 ms: 2 s of 440 Hz, sent as 20 ms packets on PT 0.
    let mut peer = gst_sender(
        &[
            "audiotestsrc",
            "is-live=true",
            "freq=440",
            "num-buffers=100",
            "samplesperbuffer=160",
            "!",
            "audioconvert",
            "!",
            "audio/x-raw,rate=8000,channels=1",
            "!",
            "mulawenc",
            "!",
            "rtppcmupay",
            "max-ptime=20000000",
        ],
        port,
    );
    let got = receive(
        &dir,
        &format!("rtp://127.0.0.1:{port}"),
        &[],
        port,
        &mut peer,
    );
    assert_eq!((got.rate, got.channels), (8_000, 1));
    assert_eq!(got.stats["format"], "pcmu", "{}", got.stats);
    assert_clean_tone(&got.out, 8_000, 1, 440.0, SECONDS as f64);
}
