//! Drift corrector tests: bit-exact passthrough, lengths at a ratio, and no clicks.

use super::*;
use crate::jitter::test_rng::TestRng;

const FS: f64 = 48_000.0;

/// `frames` of a stereo signal: a 440 Hz sine left and a 1 kHz sine right, amplitude 0.8.
fn stereo_sines(start: usize, frames: usize) -> Vec<f32> {
    (start..start + frames)
        .flat_map(|n| {
            let t = n as f64 / FS;
            [
                (0.8 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as f32,
                (0.8 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as f32,
            ]
        })
        .collect()
}

/// Feeds `total` frames in uneven pieces (like decoded packets) and returns all output.
fn run(dc: &mut DriftCorrector, total: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(dc.max_output_len(total * 2) + total * 4);
    let mut pos = 0;
    let sizes = [960usize, 160, 1152, 7, 480, 2048];
    let mut i = 0;
    while pos < total {
        let n = sizes[i % sizes.len()].min(total - pos);
        let input = stereo_sines(pos, n);
        let cap = out.capacity();
        dc.process(&input, &mut out).unwrap();
        assert_eq!(out.capacity(), cap, "no reallocation of a reserved output");
        pos += n;
        i += 1;
    }
    dc.flush(&mut out);
    out
}

/// Largest sample-to-sample step in one channel.
fn max_step(signal: &[f32], channel: usize) -> f32 {
    let ch: Vec<f32> = signal.iter().skip(channel).step_by(2).copied().collect();
    ch.windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max)
}

fn natural_step(freq: f64) -> f32 {
    (0.8 * 2.0 * std::f64::consts::PI * freq / FS) as f32
}

#[test]
fn ratio_one_is_bit_exact() {
    let mut dc = DriftCorrector::new(2).unwrap();
    let mut rng = TestRng::new(9);
    let input: Vec<f32> = (0..2 * 10_000)
        .map(|_| rng.unit() as f32 * 2.0 - 1.0)
        .collect();
    let mut out = Vec::new();
    for piece in input.chunks(2 * 333) {
        dc.process(piece, &mut out).unwrap();
    }
    assert_eq!(out, input);
    assert_eq!(dc.staged_frames(), 0, "nothing held back at 1.0");
}

fn check_ratio(ratio: f64) {
    let mut dc = DriftCorrector::new(2).unwrap();
    dc.set_ratio(ratio).unwrap();
    let total = 480_000; // 10 s
    let out = run(&mut dc, total);
    let frames = out.len() / 2;
    let expect = total as f64 * ratio;
    assert!(
        (frames as f64 - expect).abs() <= 2.0 + CHUNKS[0] as f64 * (ratio - 1.0).abs(),
        "ratio {ratio}: {frames} frames, expected {expect}"
    );
    // No clicks: a slip is a crossfade with a one-frame-shifted copy, so steps stay near the
    // sine's own largest step.
    assert!(
        max_step(&out, 0) <= natural_step(440.0) * 1.1,
        "left clicks"
    );
    assert!(
        max_step(&out, 1) <= natural_step(1000.0) * 1.1,
        "right clicks"
    );
}

#[test]
fn ratio_above_one_lengthens() {
    check_ratio(1.005);
}

#[test]
fn ratio_below_one_shortens() {
    check_ratio(1.0 / 1.005);
}

#[test]
fn one_and_a_half_percent_uses_short_chunks() {
    check_ratio(1.0 / 1.015);
    check_ratio(1.015);
}

#[test]
fn switching_in_and_out_is_seamless() {
    let mut dc = DriftCorrector::new(2).unwrap();
    let mut out = Vec::new();
    let mut pos = 0;
    for (ratio, frames) in [
        (1.0, 5000),
        (1.004, 20_000),
        (1.0, 5000),
        (0.997, 9000),
        (1.0, 3000),
    ] {
        dc.set_ratio(ratio).unwrap();
        let input = stereo_sines(pos, frames);
        dc.process(&input, &mut out).unwrap();
        pos += frames;
    }
    assert!(max_step(&out, 0) <= natural_step(440.0) * 1.1);
    assert!(max_step(&out, 1) <= natural_step(1000.0) * 1.1);
    // Back at 1.0, the tail is the input itself, untouched.
    let tail = stereo_sines(pos - 3000, 3000);
    assert_eq!(&out[out.len() - tail.len()..], &tail[..]);
}

#[test]
fn errors_are_reported() {
    assert!(matches!(
        DriftCorrector::new(0),
        Err(DriftError::NoChannels)
    ));
    let mut dc = DriftCorrector::new(2).unwrap();
    assert!(matches!(
        dc.process(&[0.0; 3], &mut Vec::new()),
        Err(DriftError::PartialFrame { .. })
    ));
    assert!(matches!(
        dc.set_ratio(f64::NAN),
        Err(DriftError::InvalidRatio(_))
    ));
    assert!(matches!(
        dc.set_ratio(0.0),
        Err(DriftError::InvalidRatio(_))
    ));
    match dc.set_ratio(1.2) {
        Err(DriftError::RatioOutOfRange { applied, .. }) => {
            assert!(applied > 1.0 && applied < 1.04, "{applied}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn low_rates_stage_at_most_25_ms() {
    // 1024-frame chunks would hold back 128 ms of 8 kHz audio, starving a small buffer.
    let mut dc = DriftCorrector::for_rate(1, 8000).unwrap();
    dc.set_ratio(1.003).unwrap();
    let mut out = Vec::new();
    let mut most = 0;
    for _ in 0..200 {
        dc.process(&[0.25; 160], &mut out).unwrap();
        most = most.max(dc.staged_frames());
    }
    assert!(most <= 200, "staged {most} frames at 8 kHz");
    assert!(most > 0, "a correcting corrector stages part of a chunk");
    let frames = out.len() as f64;
    assert!(
        (frames / 32_000.0 - 1.003).abs() < 0.001,
        "ratio applied: {frames}"
    );
}
