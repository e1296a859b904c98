//! Every bundled sample decodes to what ffmpeg decodes, and `play --output wav:` writes exactly that.
//!
//! WAV and FLAC must match bit for bit. MP3 and Vorbis are decoded by different decoders here and
//! in ffmpeg, so they must align at lag 0 and agree within a stated error bound.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// symphonia and ffmpeg implement MP3 and Vorbis independently, so float rounding differs; measured
/// here: RMS ≤ 1e-7 and peak ≤ 1.2e-6 (about -120 dBFS). The bounds leave 10× headroom and still
/// catch any misalignment, gap, gain or channel error.
const LOSSY_MAX_RMS_ERROR: f64 = 1e-6;
const LOSSY_MAX_ABS_ERROR: f32 = 1e-5;

fn assets(exts: &[&str]) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets"))
            .expect("assets dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| exts.contains(&e))
            })
            .collect();
    files.sort();
    assert!(!files.is_empty(), "no {exts:?} assets");
    files
}

fn play_to_wav(input: &Path, out: &Path, fast: bool) -> (Vec<f32>, u32, u16) {
    let mut cmd = jitterplay();
    cmd.arg("play")
        .arg(input)
        .arg("--output")
        .arg(format!("wav:{}", out.display()))
        .arg("--quiet");
    if fast {
        cmd.arg("--fast");
    }
    run_ok(&mut cmd);
    read_wav(out)
}

#[test]
fn lossless_samples_are_bit_exact_with_ffmpeg() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("lossless");
    for file in assets(&["wav", "flac"]) {
        let reference = ffmpeg_decode(&file);
        let (ours, _, _) = play_to_wav(&file, &dir.join("out.wav"), true);
        assert_eq!(ours.len(), reference.len(), "{}: length", file.display());
        let first_diff = ours
            .iter()
            .zip(&reference)
            .position(|(a, b)| a.to_bits() != b.to_bits());
        assert_eq!(first_diff, None, "{}: samples differ", file.display());
    }
}

#[test]
fn lossy_samples_match_ffmpeg_within_bound() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("lossy");
    for file in assets(&["mp3", "ogg"]) {
        let reference = ffmpeg_decode(&file);
        let (ours, _, channels) = play_to_wav(&file, &dir.join("out.wav"), true);
        let channels = usize::from(channels);
        let (lag, score) = best_lag(&reference, &ours, channels, 1200);
        assert_eq!(
            lag,
            0,
            "{}: misaligned by {lag} frames (correlation {score:.4})",
            file.display()
        );
        let frames_diff = (ours.len() as isize - reference.len() as isize) / channels as isize;
        assert!(
            frames_diff.abs() <= 1,
            "{}: {frames_diff} frames longer than ffmpeg's",
            file.display()
        );
        let n = ours.len().min(reference.len());
        let max_abs = ours[..n]
            .iter()
            .zip(&reference[..n])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        let rms = (ours[..n]
            .iter()
            .zip(&reference[..n])
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>()
            / n as f64)
            .sqrt();
        eprintln!("{}: rms error {rms:.2e}, max {max_abs:.2e}", file.display());
        assert!(
            rms < LOSSY_MAX_RMS_ERROR,
            "{}: rms error {rms}",
            file.display()
        );
        assert!(
            max_abs < LOSSY_MAX_ABS_ERROR,
            "{}: max error {max_abs}",
            file.display()
        );
    }
}

#[test]
fn paced_wav_output_writes_the_same_samples_in_real_time() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("paced");
    let file = asset("speech-48k-mono.flac");
    let reference = ffmpeg_decode(&file);
    let started = std::time::Instant::now();
    let (ours, rate, _) = play_to_wav(&file, &dir.join("paced.wav"), false);
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(ours, reference, "paced output differs from the decode");
    // Paced means it took at least the audio's duration (a functional check, not a benchmark).
    let duration = reference.len() as f64 / f64::from(rate);
    assert!(
        elapsed >= duration * 0.98,
        "paced play took {elapsed:.2}s for {duration:.2}s of audio"
    );
}

#[test]
fn resampled_output_has_the_right_length_and_content() {
    let dir = scratch("resampled");
    let file = asset("speech-48k-mono.wav");
    let (source, _, _) = read_wav(&file);
    let out = dir.join("44k.wav");
    run_ok(
        jitterplay()
            .args([
                "play",
                "--quiet",
                "--fast",
                "--device-rate",
                "44100",
                "--output",
            ])
            .arg(format!("wav:{}", out.display()))
            .arg(&file),
    );
    let (ours, rate, channels) = read_wav(&out);
    assert_eq!((rate, channels), (44_100, 1));
    let expected = (source.len() as f64 * 44_100.0 / 48_000.0).round() as usize;
    assert_eq!(ours.len(), expected);
}

/// Encodes a 1.5 s stereo tone with ffmpeg into `name` and returns its path.
fn ffmpeg_tone(dir: &Path, name: &str, codec: &str) -> PathBuf {
    let path = dir.join(name);
    run_ok(
        std::process::Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=523:sample_rate=44100:duration=1.5",
                "-ac",
                "2",
                "-c:a",
                codec,
            ])
            .arg(&path),
    );
    path
}

#[test]
fn aiff_caf_and_matroska_decode_bit_exact() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("containers");
    for (name, codec) in [
        ("t.aiff", "pcm_s16be"),
        ("t.caf", "pcm_s16le"),
        ("t.mkv", "flac"),
    ] {
        let file = ffmpeg_tone(&dir, name, codec);
        let reference = ffmpeg_decode(&file);
        let (ours, _, _) = play_to_wav(&file, &dir.join("out.wav"), true);
        assert_eq!(ours, reference, "{name}");
    }
}

#[test]
fn aac_in_mp4_decodes_to_the_same_audio() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("aac");
    let file = ffmpeg_tone(&dir, "t.m4a", "aac");
    let reference = ffmpeg_decode(&file);
    let (ours, _, _) = play_to_wav(&file, &dir.join("out.wav"), true);
    // symphonia 0.6 does not apply the MP4 edit list, so its output keeps the AAC encoder's
    // 1024 priming frames that ffmpeg trims: the same audio, 1024 frames later.
    let (lag, score) = best_lag(&reference, &ours, 2, 1200);
    assert!(
        lag == 0 || lag == 1024,
        "misaligned by {lag} frames (correlation {score})"
    );
    let lag = lag as usize * 2;
    let n = reference.len().min(ours.len() - lag);
    let max_abs = reference[..n]
        .iter()
        .zip(&ours[lag..lag + n])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(max_abs < LOSSY_MAX_ABS_ERROR, "max error {max_abs}");
}
