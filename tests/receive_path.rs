//! The receive path on synthetic streams, through the engine and the one virtual-time driver.

use std::time::Duration;

use jitterplay::playback::ring::audio_ring;
use jitterplay::playout::{PlayoutEngine, ReceiveCoreConfig, Verdict};
use jitterplay::rtp::payload::PayloadFormat;
use jitterplay::sim::{play_scheduled, ScheduledRun};

/// A PCMU packet: header + 160 bytes of `fill`.
fn pcmu(pt: u8, seq: u16, ts: u32, fill: u8) -> Vec<u8> {
    let mut p = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p.extend(std::iter::repeat_n(fill, if pt == 0 { 160 } else { 4 }));
    p
}

/// Streams `packets` (sent every 20 ms, arriving 10 ms later) and plays them out on a virtual
/// 8 kHz device; returns what the receiver played. The 400 ms target covers a 240 ms event:
/// audio after it is queued by the time the gap plays.
fn play(packets: &[Vec<u8>]) -> ScheduledRun {
    let mut cfg = ReceiveCoreConfig::new(PayloadFormat::Pcmu, 8000, 1);
    cfg.set_target_window(Duration::from_millis(400), Duration::from_millis(600));
    let arrivals = packets
        .iter()
        .enumerate()
        .map(|(i, p)| (Duration::from_millis(20 * i as u64 + 10), p.clone()))
        .collect();
    play_scheduled(cfg, arrivals).expect("receiver")
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
    let ScheduledRun {
        metrics: m,
        counts,
        audio: out,
    } = play(&packets);
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
    let (producer, _consumer) = audio_ring(Duration::from_millis(100), 8000, 1);
    let mut rx = PlayoutEngine::new(cfg, producer, Duration::from_millis(40)).expect("engine");
    for junk in [&b""[..], b"\x80", &[0u8; 12], &[0x80, 0, 0][..]] {
        assert!(matches!(
            rx.handle_datagram(junk, Duration::ZERO),
            Verdict::Malformed(_)
        ));
    }
    assert!(matches!(
        rx.handle_datagram(&pcmu(8, 1, 0, 0), Duration::ZERO),
        Verdict::UnexpectedPayloadType(8)
    ));
    assert_eq!(rx.counts().malformed, 4);
    let clean = play(&good);
    assert_eq!(clean.metrics.played, 30);
    assert_eq!(clean.audio.len(), 30 * 160);
}
