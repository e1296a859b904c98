//! RFC 3389 comfort noise is heard: through the receive core, the noise that fills the gap
//! after a CN packet has the signalled level (±1.5 dB) and the spectral tilt of its
//! reflection coefficients, and it stops when the audio resumes.

mod signalled_support;

use std::time::Duration;

use jitterplay::playout::metrics::MetricsSnapshot;
use jitterplay::playout::DtmfMode;
use jitterplay::rtp::comfort_noise::reflection_to_quantized;
use signalled_support::*;

/// Payload type of comfort noise (static).
const CN_PT: u8 = 13;

/// 0.5 s of silent audio, then a CN packet (re-sent every 400 ms, as senders refresh it)
/// and 2 s without audio, then 0.5 s of audio: a constant the noise cannot be confused with.
fn stream(cn_payload: &[u8]) -> Vec<Sent> {
    let mut packets: Vec<Sent> = (0..25).map(|i| Sent::audio(i * 160, ULAW_ZERO)).collect();
    let gap_start = 25 * 160;
    for k in 0..5u32 {
        let ts = gap_start + k * 3200;
        packets.push(Sent {
            at_ms: f64::from(ts) / 8.0,
            pt: CN_PT,
            ts,
            marker: k == 0,
            payload: cn_payload.to_vec(),
            lost: false,
        });
    }
    let resume = gap_start + 16_000;
    packets.extend((0..25).map(|i| Sent::audio(resume + i * 160, 0x55)));
    packets
}

/// The 2 s gap in the output (it starts at 0.5 s: the output follows the RTP timeline).
fn gap(out: &[f32]) -> &[f32] {
    &out[4000..20_000]
}

/// Plays with a 3 s target (the player's default floor), deeper than the 2 s gap.
fn play(packets: &[Sent]) -> (MetricsSnapshot, Vec<f32>) {
    play_with_target(packets, DtmfMode::Tone, Duration::from_secs(3))
}

fn level_db(x: &[f32]) -> f64 {
    20.0 * rms(x).log10()
}

#[test]
fn noise_has_the_signalled_level_and_spectral_tilt() {
    let low_pass = [
        50u8,
        reflection_to_quantized(-0.8),
        reflection_to_quantized(0.2),
    ];
    let high_pass = [50u8, reflection_to_quantized(0.8)];
    let white = [50u8];
    let mut splits = Vec::new();
    for payload in [&low_pass[..], &high_pass[..], &white[..]] {
        let (m, out) = play(&stream(payload));
        assert!((m.cn_ms - 2000.0).abs() < 0.5, "{m:?}");
        assert_eq!((m.lost, m.concealed_ms), (0, 0.0), "{m:?}");
        let noise = gap(&out);
        assert!(
            (level_db(noise) + 50.0).abs() < 1.5,
            "{payload:?}: {:.2} dBov",
            level_db(noise)
        );
        assert!(
            out[..3990].iter().all(|&s| s == 0.0),
            "no noise before the packet"
        );
        assert!(
            out[20_000..24_000]
                .iter()
                .all(|&s| s == out[20_000] && s.abs() > 0.01),
            "the audio after the gap plays untouched"
        );
        let (below, above) = energy_split(noise, 1000.0);
        splits.push(below / (below + above));
    }
    // White noise at 8 kHz has a quarter of its energy below 1 kHz; the shaped ones tilt away.
    let [low, high, flat] = splits[..] else {
        unreachable!()
    };
    assert!((flat - 0.25).abs() < 0.05, "white: {flat:.3} below 1 kHz");
    assert!(low > 0.6, "low-pass: {low:.3} below 1 kHz");
    assert!(high < 0.1, "high-pass: {high:.3} below 1 kHz");
}

#[test]
fn runs_repeat_exactly_and_malformed_packets_are_ignored() {
    let (_, a) = play(&stream(&[40, 100]));
    let (_, b) = play(&stream(&[40, 100]));
    assert_eq!(a, b, "seeded noise");
    // An empty CN payload says nothing: counted, ignored, the gap stays silent.
    let (m, out) = play(&stream(&[]));
    assert_eq!(m.cn_ms, 0.0);
    assert!(gap(&out).iter().all(|&s| s == 0.0));
}
