//! Ogg Opus files play offline as ffmpeg's libopus decodes them: pre-skip dropped, the end
//! trimmed to the last granule position, the header's output gain applied.

mod common;
mod opus_support;

use common::*;
use opus_support::*;

/// Our samples rounded as libopus rounds, against ffmpeg's 16-bit decode: (differing, max step).
fn compare(ours: &[f32], reference: &[i16]) -> (usize, i32) {
    assert_eq!(ours.len(), reference.len(), "length");
    ours.iter()
        .zip(reference)
        .map(|(a, b)| (i32::from(to_i16(*a)) - i32::from(*b)).abs())
        .fold((0, 0), |(n, max), d| (n + usize::from(d > 0), max.max(d)))
}

fn play(file: &std::path::Path, wav: &std::path::Path) -> (Vec<f32>, u32, u16) {
    run_ok(
        jitterplay()
            .args(["play", "--fast", "--quiet", "--output"])
            .arg(format!("wav:{}", wav.display()))
            .arg(file),
    );
    read_wav(wav)
}

#[test]
fn an_ffmpeg_encoded_opus_file_plays_as_ffmpeg_decodes_it() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("opus_file_ffmpeg");
    let file = dir.join("speech.opus");
    run_ok(
        std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(asset("speech-48k-mono.wav"))
            .args(["-t", "3", "-c:a", "libopus", "-b:a", "48k"])
            .arg(&file),
    );
    let reference = ffmpeg_libopus_decode_native_channels(&file, 1);
    let (ours, rate, channels) = play(&file, &dir.join("out.wav"));
    assert_eq!((rate, channels), (48_000, 1));
    // 3 s exactly: ffmpeg's 312-sample pre-skip dropped, the last page's padding trimmed.
    assert_eq!(ours.len(), 3 * 48_000);
    let (differing, max) = compare(&ours, &reference);
    eprintln!("{differing} samples differ, by at most {max}");
    assert_eq!(differing, 0);
}

#[test]
fn pre_skip_and_output_gain_are_honoured() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("opus_file_gain");
    let audio = signal(48_000 * 2);
    let plan = EncodePlan {
        frame_sizes: vec![960, 480, 1920],
        bitrates: vec![64_000],
        fec: false,
    };
    let payloads = encode(&audio, &plan);
    let file = dir.join("gain.opus");
    // 1000 samples of pre-skip and -6 dB (Q7.8).
    write_ogg_opus(&file, &payloads, 2, 1_000, -1_536);
    let reference = ffmpeg_libopus_decode(&file);
    let (ours, _, channels) = play(&file, &dir.join("out.wav"));
    assert_eq!(channels, 2);
    let total: usize = payloads.iter().map(|p| duration(p)).sum();
    assert_eq!(ours.len(), (total - 1_000) * 2);
    // libopus applies the gain inside its decoder, we after it: float rounding could move a
    // sample by one 16-bit step (measured: none moved).
    let (differing, max) = compare(&ours, &reference);
    eprintln!(
        "{differing} of {} samples differ, by at most {max}",
        ours.len()
    );
    assert!(max <= 1, "max difference {max} steps");
    // The gain is there: without it the output would be twice as loud as ffmpeg's.
    let energy = |x: &[f32]| x.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>();
    let ref_f: Vec<f32> = reference.iter().map(|&s| f32::from(s) / 32768.0).collect();
    let ratio = energy(&ours) / energy(&ref_f);
    assert!((ratio - 1.0).abs() < 0.01, "energy ratio {ratio}");
}
