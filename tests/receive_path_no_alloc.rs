//! The whole receive path allocates nothing per packet in steady state: datagram → jitter
//! buffer → decoder → concealment → drift correction → ring top-up → output callback.
//!
//! This test binary installs the `AllocDisabler` allocator, so an allocation inside
//! `assert_no_alloc` aborts the process and fails the test. A stream warms up outside it
//! (buffers reach their working sizes), then keeps going inside it with jitter, reordering and
//! losses, packet by packet in virtual time: L16 with the generic concealer, and Opus with
//! in-band FEC and libopus PLC.

use std::sync::Arc;
use std::time::Duration;

use assert_no_alloc::{assert_no_alloc, AllocDisabler};

use jitterplay::playback::ring::audio_ring;
use jitterplay::playback::{OutputStats, RingCallback};
use jitterplay::playout::{Output, PlayoutEngine, ReceiveCoreConfig};
use jitterplay::rtp::payload::PayloadFormat;

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

const RATE: u32 = 48_000;
const PACKET_FRAMES: u32 = 240;

/// 5 ms L16 stereo packets of a tone, the RTP header written by hand.
fn packet(i: u32) -> Vec<u8> {
    let seq = (1000 + i) as u16;
    let ts = 5000 + i * PACKET_FRAMES;
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    for f in 0..PACKET_FRAMES {
        let t = (i * PACKET_FRAMES + f) as f32 / RATE as f32;
        let s = ((2.0 * std::f32::consts::PI * 440.0 * t).sin() * 12_000.0) as i16;
        p.extend_from_slice(&s.to_be_bytes());
        p.extend_from_slice(&s.to_be_bytes());
    }
    p
}

/// One poll round: the output pauses or plays as the engine decides.
fn poll(engine: &mut PlayoutEngine, now: Duration, stats: &OutputStats) {
    loop {
        match engine.poll(now).expect("poll") {
            Output::Playout(p) => stats.set_paused(!p.decision.playing),
            Output::Timeout(_) => return,
            _ => {}
        }
    }
}

#[test]
fn a_jittery_lossy_stream_in_steady_state_allocates_nothing() {
    let format = PayloadFormat::L16 {
        rate: RATE,
        channels: 2,
    };
    let mut cfg = ReceiveCoreConfig::new(format, RATE, 2);
    cfg.payload_type = Some(96);
    cfg.set_target_window(Duration::from_millis(200), Duration::from_secs(1));
    let high_water = Duration::from_millis(40);
    let (producer, consumer) = audio_ring(high_water * 4, RATE, 2);
    let mut engine = PlayoutEngine::new(cfg, producer, high_water).expect("engine");
    let stats = Arc::new(OutputStats::default());
    let mut callback = RingCallback::new(consumer, Arc::clone(&stats));
    let mut device = vec![0.0f32; 480 * 2];
    // 30 s of packets, built before the clock starts. Every 50th is lost, every 7th swaps
    // with its successor, and delays wobble by up to 30 ms.
    let packets: Vec<Vec<u8>> = (0..6000).map(packet).collect();
    let mut schedule: Vec<(Duration, usize)> = (0..6000usize)
        .filter(|i| i % 50 != 17)
        .map(|i| {
            let wobble = (i * 7919 % 31) as u64;
            let swap = if i % 7 == 3 { 6 } else { 0 };
            (Duration::from_millis(5 * i as u64 + 20 + wobble + swap), i)
        })
        .collect();
    schedule.sort();
    let metrics = Arc::clone(engine.metrics());
    let mut next = 0;
    let mut step = |from_ms: u64, to_ms: u64| {
        for ms in (from_ms..to_ms).step_by(5) {
            let now = Duration::from_millis(ms);
            while next < schedule.len() && schedule[next].0 <= now {
                let (at, i) = schedule[next];
                engine.handle_datagram(&packets[i], at);
                next += 1;
            }
            engine.handle_output(stats.underruns(), now);
            poll(&mut engine, now, &stats);
            if ms % 10 == 0 {
                callback.fill(&mut device);
            }
        }
    };
    step(0, 10_000);
    let played_before = metrics.snapshot().played;
    assert_no_alloc(|| step(10_000, 25_000));
    let m = metrics.snapshot();
    assert!(m.played > played_before + 2500, "{m:?}");
    assert!(
        m.lost > 0 && m.reordered > 0 && m.concealed_ms > 0.0,
        "{m:?}"
    );
    assert_eq!(m.underruns, 0, "{m:?}");
}

/// 20 ms Opus packets (stereo, 24 kbit/s, in-band FEC) of a gliding tone, with RTP headers.
fn opus_packets(n: u32) -> Vec<Vec<u8>> {
    let mut enc =
        opus::Encoder::new(RATE, opus::Channels::Stereo, opus::Application::Voip).expect("encoder");
    enc.set_inband_fec(true).expect("fec");
    enc.set_packet_loss_perc(10).expect("loss");
    enc.set_bitrate(opus::Bitrate::Bits(24_000))
        .expect("bitrate");
    (0..n)
        .map(|i| {
            let pcm: Vec<f32> = (0..960 * 2)
                .map(|k| {
                    let t = (i * 960 + k / 2) as f32 / RATE as f32;
                    let f = 200.0 + 100.0 * (t * 1.7).sin();
                    (std::f32::consts::TAU * f * t).sin() * 0.3
                })
                .collect();
            let mut p = vec![0x80, 111];
            p.extend_from_slice(&((1000 + i) as u16).to_be_bytes());
            p.extend_from_slice(&(5000 + i * 960).to_be_bytes());
            p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
            p.extend(enc.encode_vec_float(&pcm, 1500).expect("encode"));
            p
        })
        .collect()
}

#[test]
fn a_lossy_opus_stream_with_fec_and_plc_allocates_nothing() {
    let mut cfg = ReceiveCoreConfig::new(PayloadFormat::Opus, RATE, 2);
    cfg.payload_type = Some(111);
    cfg.set_target_window(Duration::from_millis(200), Duration::from_secs(1));
    let high_water = Duration::from_millis(40);
    let (producer, consumer) = audio_ring(high_water * 4, RATE, 2);
    let mut engine = PlayoutEngine::new(cfg, producer, high_water).expect("engine");
    let stats = Arc::new(OutputStats::default());
    let mut callback = RingCallback::new(consumer, Arc::clone(&stats));
    let mut device = vec![0.0f32; 480 * 2];
    // 30 s: every 13th packet lost (its successor carries FEC), every 29th and 30th both lost
    // (the first of them has no successor: PLC), delays wobbling by up to 30 ms.
    let packets = opus_packets(1500);
    let mut schedule: Vec<(Duration, usize)> = (0..1500usize)
        .filter(|i| i % 13 != 5 && i % 29 != 7 && i % 29 != 8)
        .map(|i| {
            let wobble = (i * 7919 % 31) as u64;
            (Duration::from_millis(20 * i as u64 + 20 + wobble), i)
        })
        .collect();
    schedule.sort();
    let metrics = Arc::clone(engine.metrics());
    let mut next = 0;
    let mut step = |from_ms: u64, to_ms: u64| {
        for ms in (from_ms..to_ms).step_by(5) {
            let now = Duration::from_millis(ms);
            while next < schedule.len() && schedule[next].0 <= now {
                let (at, i) = schedule[next];
                engine.handle_datagram(&packets[i], at);
                next += 1;
            }
            engine.handle_output(stats.underruns(), now);
            poll(&mut engine, now, &stats);
            if ms % 10 == 0 {
                callback.fill(&mut device);
            }
        }
    };
    step(0, 10_000);
    let before = metrics.snapshot();
    assert_no_alloc(|| step(10_000, 25_000));
    let m = metrics.snapshot();
    assert!(m.played > before.played + 600, "{m:?}");
    assert!(m.fec_recovered > before.fec_recovered, "{m:?}");
    assert!(m.plc_ms > before.plc_ms, "{m:?}");
    assert_eq!(m.underruns, 0, "{m:?}");
}
