//! RTP Opus through the receive core: the decode equals ffmpeg's libopus decode of the same
//! packets, and with 10 % loss in-band FEC recovers every lost packet whose successor arrived
//! and brings the output closer to the lossless decode than PLC alone.

mod common;
mod opus_support;

use common::{require_tool, scratch};
use jitterplay::rtp::opus_toc;
use opus_support::*;

/// ffmpeg's libopus wrapper hands out 16-bit samples: ours, rounded the way libopus rounds,
/// must equal them exactly, so the float difference is at most half a 16-bit step.
const MAX_ABS_DIFF: f32 = 0.5 / 32768.0;

#[test]
fn decode_of_varying_frame_sizes_and_modes_equals_ffmpeg_libopus() {
    if !require_tool("ffmpeg") {
        return;
    }
    let audio = signal(48_000 * 3);
    // Every Opus frame size from 2.5 to 120 ms, and bit rates that move the encoder through
    // SILK, hybrid and CELT.
    let plan = EncodePlan {
        frame_sizes: vec![120, 240, 480, 960, 1920, 2880, 3840, 4800, 5760, 960, 960],
        bitrates: vec![12_000, 24_000, 40_000, 96_000, 16_000],
        fec: true,
    };
    let payloads = encode(&audio, &plan);
    let sizes: std::collections::BTreeSet<usize> = payloads.iter().map(|p| duration(p)).collect();
    assert!(sizes.len() >= 9, "frame sizes used: {sizes:?}");
    let dir = scratch("opus_rtp_ffmpeg");
    let file = dir.join("ref.opus");
    write_ogg_opus(&file, &payloads, 2, 0, 0);
    let reference = ffmpeg_libopus_decode(&file);

    let packets: Vec<(u32, Option<Vec<u8>>)> = rtp(&payloads)
        .into_iter()
        .map(|(ts, p)| (ts, Some(p)))
        .collect();
    let (m, ours) = play(&packets);
    let total: usize = payloads.iter().map(|p| duration(p)).sum();
    assert_eq!(ours.len(), total * 2, "our decode's length");
    assert_eq!(reference.len(), total * 2, "ffmpeg's decode length");
    let differing = ours
        .iter()
        .zip(&reference)
        .filter(|(a, b)| to_i16(**a) != **b)
        .count();
    let max = ours
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - f32::from(*b) / 32768.0).abs())
        .fold(0.0f32, f32::max);
    eprintln!(
        "{} packets, {total} frames: {differing} samples differ after 16-bit rounding; \
         max |ours - ffmpeg| = {max:e}",
        payloads.len()
    );
    assert_eq!(differing, 0, "samples that differ from ffmpeg's");
    assert!(max <= MAX_ABS_DIFF, "max difference {max}");
    assert_eq!((m.lost, m.fec_recovered, m.plc_ms), (0, 0, 0.0));
}

/// Packets lost on the way: a seeded 10 %, none among the first and last five.
fn lost_set(n: usize) -> Vec<bool> {
    let mut state = 0x2545_F491u32;
    (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            i >= 5 && i + 5 < n && state % 10 == 0
        })
        .collect()
}

/// Plays `payloads` without loss and with the `lost` ones dropped; returns the lossy run's
/// metrics and its signal-to-error ratio (dB) against the lossless run.
fn lossy_run(
    payloads: &[Vec<u8>],
    lost: &[bool],
) -> (jitterplay::playout::metrics::MetricsSnapshot, f64) {
    let all = rtp(payloads);
    let whole: Vec<_> = all.iter().map(|(ts, p)| (*ts, Some(p.clone()))).collect();
    let (_, lossless) = play(&whole);
    let holed: Vec<_> = all
        .iter()
        .zip(lost)
        .map(|((ts, p), &l)| (*ts, (!l).then(|| p.clone())))
        .collect();
    let (m, lossy) = play(&holed);
    assert_eq!(lossy.len(), lossless.len(), "the timeline holds");
    (m, snr_db(&lossless, &lossy))
}

#[test]
fn fec_recovers_each_loss_whose_successor_carries_fec_and_beats_plc() {
    let audio = signal(48_000 * 8);
    let plan = |fec| EncodePlan {
        frame_sizes: vec![960],
        bitrates: vec![24_000],
        fec,
    };
    let with_fec = encode(&audio, &plan(true));
    let without = encode(&audio, &plan(false));
    // libopus codes LBRR data only after frames its VAD calls active, so not every packet
    // carries it; without FEC none may.
    let carries = |p: &Vec<u8>| opus_toc::parse(p).is_ok_and(|i| i.has_fec);
    assert_eq!(without.iter().filter(|p| carries(p)).count(), 0);
    let lost = lost_set(with_fec.len());
    let n_lost = lost.iter().filter(|&&l| l).count();
    let successor_arrived = (0..lost.len()).filter(|&i| lost[i] && !lost[i + 1]).count();
    let recoverable = (0..lost.len())
        .filter(|&i| lost[i] && !lost[i + 1] && carries(&with_fec[i + 1]))
        .count();
    assert!(n_lost >= 30 && successor_arrived < n_lost, "{n_lost} lost");
    assert!(
        recoverable * 4 >= successor_arrived * 3,
        "only {recoverable} of {successor_arrived} successors carry FEC"
    );

    let (m_fec, snr_fec) = lossy_run(&with_fec, &lost);
    let (m_plc, snr_plc) = lossy_run(&without, &lost);
    eprintln!(
        "{} packets, {n_lost} lost ({successor_arrived} with successor, {recoverable} of \
         those carrying FEC): FEC on {snr_fec:.1} dB \
         (fec_recovered {}, plc {} ms), FEC off {snr_plc:.1} dB (plc {} ms)",
        lost.len(),
        m_fec.fec_recovered,
        m_fec.plc_ms,
        m_plc.plc_ms
    );
    assert_eq!(m_fec.lost, n_lost as u64);
    assert_eq!(m_fec.fec_recovered, recoverable as u64);
    let lost_ms = (n_lost - recoverable) as f64 * 20.0;
    assert!(
        (m_fec.plc_ms - lost_ms).abs() < 0.01,
        "plc {} ms",
        m_fec.plc_ms
    );
    assert_eq!(m_plc.fec_recovered, 0);
    assert!((m_plc.plc_ms - n_lost as f64 * 20.0).abs() < 0.01);
    assert!(
        snr_fec > snr_plc + 3.0,
        "FEC {snr_fec:.1} dB is not clearly better than PLC {snr_plc:.1} dB"
    );
}

#[test]
fn a_dtx_pause_plays_for_its_rtp_length_fading_through_plc() {
    let audio = signal(48_000 * 4);
    let plan = EncodePlan {
        frame_sizes: vec![960],
        bitrates: vec![32_000],
        fec: false,
    };
    let payloads = encode(&audio, &plan);
    // The sender stops for packets 80..95 (300 ms, less than the 400 ms buffered): the
    // sequence runs on, the timestamp jumps.
    let mut packets: Vec<(u32, Option<Vec<u8>>)> = Vec::new();
    for (i, (ts, mut p)) in rtp(&payloads).into_iter().enumerate() {
        if (80..95).contains(&i) {
            continue;
        }
        let seq = (packets.len() as u16).wrapping_add(500);
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        packets.push((ts, Some(p)));
    }
    let (m, out) = play(&packets);
    assert_eq!(
        out.len(),
        payloads.len() * 960 * 2,
        "the pause keeps its length"
    );
    assert_eq!(m.lost, 0);
    // 100 ms of concealment fading out, then silence, with no step anywhere.
    assert!((m.plc_ms - 100.0).abs() < 0.01, "plc {} ms", m.plc_ms);
    let pause = &out[(80 * 960 + 4_800) * 2..95 * 960 * 2];
    assert!(pause.iter().all(|&s| s == 0.0));
    let fade = &out[(80 * 960 + 4_000) * 2..(80 * 960 + 4_800) * 2];
    let peak = fade.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(peak < 0.03, "the concealment has not faded: {peak}");
    let start = 80 * 960 * 2;
    let step = out[start - 2..start + 4_800 * 2 + 2]
        .windows(3)
        .map(|w| (w[2] - w[0]).abs())
        .fold(0.0f32, f32::max);
    assert!(step < 0.1, "a click in the pause: step {step}");
}

#[test]
fn a_lost_packet_longer_than_the_cadence_is_filled_whole() {
    let audio = signal(48_000 * 3);
    // 20, 20 and 60 ms packets in turn; the cadence (shortest step) is 20 ms.
    let plan = EncodePlan {
        frame_sizes: vec![960, 960, 2880],
        bitrates: vec![24_000],
        fec: true,
    };
    let payloads = encode(&audio, &plan);
    assert_eq!(duration(&payloads[8]), 2880);
    let packets: Vec<(u32, Option<Vec<u8>>)> = rtp(&payloads)
        .into_iter()
        .enumerate()
        .map(|(i, (ts, p))| (ts, (i != 8).then_some(p)))
        .collect();
    let (m, out) = play(&packets);
    let total: usize = payloads.iter().map(|p| duration(p)).sum();
    assert_eq!(out.len(), total * 2);
    assert_eq!(m.lost, 1);
    // All 60 ms by the codec (from the next packet's FEC when it carries some, else PLC),
    // none of it as a pause.
    let by_codec = m.plc_ms + m.fec_recovered as f64 * 60.0;
    assert!((by_codec - 60.0).abs() < 0.01, "{m:?}");
    assert!((m.concealed_ms - 60.0).abs() < 0.01, "{m:?}");
}
