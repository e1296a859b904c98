//! Tests of the receive core on synthetic streams, in virtual time.

use std::time::Duration;

use super::receive_core::{ReceiveCore, ReceiveCoreConfig, Verdict};
use crate::rtp::payload::PayloadFormat;

/// A PCMU packet: header + 160 bytes of `fill`.
fn pcmu(pt: u8, seq: u16, ts: u32, fill: u8) -> Vec<u8> {
    let mut p = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p.extend(std::iter::repeat_n(fill, if pt == 0 { 160 } else { 4 }));
    p
}

/// Streams `packets` (sent every 20 ms, arriving 10 ms later) and plays them out on a device
/// pulling 8 kHz in 5 ms steps; returns the receiver and the samples it produced. The 400 ms
/// target covers a 240 ms event: audio after it is queued by the time the gap plays.
fn play(packets: &[Vec<u8>]) -> (ReceiveCore, Vec<f32>) {
    let mut cfg = ReceiveCoreConfig::new(PayloadFormat::Pcmu, 8000, 1);
    cfg.set_target_window(Duration::from_millis(400), Duration::from_millis(600));
    let mut rx = ReceiveCore::new(cfg).expect("receiver");
    let mut out = Vec::new();
    let mut ring = 0.0f64;
    let end = Duration::from_millis(20 * packets.len() as u64 + 2000);
    let mut now = Duration::ZERO;
    let mut next = 0;
    while now < end {
        while next < packets.len() && Duration::from_millis(20 * next as u64 + 10) <= now {
            rx.on_datagram(&packets[next], now);
            next += 1;
        }
        if next == packets.len() {
            rx.finish();
        }
        let decision = rx.tick(now, Duration::from_secs_f64(ring / 8000.0));
        if ring < 320.0 {
            let before = out.len();
            rx.produce(now, Duration::from_millis(40), &mut out)
                .expect("produce");
            ring += (out.len() - before) as f64;
        }
        if decision.playing {
            ring = (ring - 40.0).max(0.0);
        }
        now += Duration::from_millis(5);
    }
    (rx, out)
}

#[test]
fn non_audio_packets_are_gaps_not_losses() {
    // 20 audio packets, 12 telephone events (PT 101, same timestamp), 20 more audio packets,
    // one comfort noise packet, 10 more audio packets.
    let mut packets = Vec::new();
    let mut seq = 1000u16;
    let mut ts = 5000u32;
    for (kind, n) in [(0u8, 20), (101, 12), (0, 20), (13, 1), (0, 10)] {
        for i in 0..n {
            let packet_ts = if kind == 101 { ts - 160 * i } else { ts };
            packets.push(pcmu(kind, seq, packet_ts, 0x55));
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(160);
        }
    }
    let (rx, out) = play(&packets);
    let counts = rx.counts();
    let m = rx.metrics().snapshot();
    assert_eq!(counts.non_audio_gaps, 13, "{counts:?}");
    assert_eq!((counts.unexpected_pt, counts.comfort_noise), (12, 1));
    assert_eq!(m.lost, 0, "{m:?}");
    assert_eq!(m.concealed_ms, 0.0);
    assert_eq!(m.played, 50);
    // Timing holds: 50 packets of audio plus 13 packets of gap: the unknown payload type's
    // as silence, the comfort noise packet's as noise at its level (0x55: −85 dBov).
    assert_eq!(out.len(), 63 * 160);
    let silent = out
        .chunks(160)
        .filter(|c| c.iter().all(|&s| s == 0.0))
        .count();
    assert_eq!(silent, 12);
    assert_eq!(m.cn_ms, 20.0);
    let noise = &out[52 * 160..53 * 160];
    let rms = (noise.iter().map(|s| s * s).sum::<f32>() / 160.0).sqrt();
    // 20 ms of shaped noise: its RMS is an estimate (the level itself is tested over seconds
    // in tests/comfort_noise.rs).
    assert!((20.0 * rms.log10() + 85.0).abs() < 3.0, "{rms}");
}

#[test]
fn garbage_is_counted_and_changes_nothing() {
    let good: Vec<Vec<u8>> = (0..30u16)
        .map(|i| pcmu(0, i, 160 * u32::from(i), 0x55))
        .collect();
    let mut cfg = ReceiveCoreConfig::new(PayloadFormat::Pcmu, 8000, 1);
    cfg.set_target_window(Duration::from_millis(100), Duration::from_millis(300));
    let mut rx = ReceiveCore::new(cfg).expect("receiver");
    for junk in [&b""[..], b"\x80", &[0u8; 12], &[0x80, 0, 0][..]] {
        assert!(matches!(
            rx.on_datagram(junk, Duration::ZERO),
            Verdict::Malformed(_)
        ));
    }
    assert!(matches!(
        rx.on_datagram(&pcmu(8, 1, 0, 0), Duration::ZERO),
        Verdict::UnexpectedPayloadType(8)
    ));
    assert_eq!(rx.counts().malformed, 4);
    let (clean, clean_out) = play(&good);
    assert_eq!(clean.metrics().snapshot().played, 30);
    assert_eq!(clean_out.len(), 30 * 160);
}
