//! The output callback never allocates: every fill path runs inside `assert_no_alloc`.
//!
//! This test binary installs the `AllocDisabler` allocator, so an allocation inside
//! `assert_no_alloc` aborts the process and fails the test.

use std::sync::Arc;

use assert_no_alloc::{assert_no_alloc, AllocDisabler};
use ringbuf::traits::Producer;

use jitterplay::output::{OutputStats, RingCallback};
use jitterplay::playback::ring::audio_ring;

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

const PERIOD: usize = 960;

fn callback_with(
    samples: usize,
) -> (
    RingCallback,
    Arc<OutputStats>,
    jitterplay::playback::ring::RingProducer,
) {
    let (mut producer, consumer) = audio_ring(std::time::Duration::from_millis(100), 48_000, 2);
    let ramp: Vec<f32> = (0..samples).map(|i| (i % 100) as f32 / 100.0).collect();
    assert_eq!(producer.push_slice(&ramp), samples);
    let stats = Arc::new(OutputStats::default());
    (
        RingCallback::new(consumer, Arc::clone(&stats)),
        stats,
        producer,
    )
}

#[test]
fn f32_fill_from_full_partial_and_empty_ring_allocates_nothing() {
    let (mut cb, stats, _producer) = callback_with(PERIOD + PERIOD / 2);
    let mut out = vec![1.0f32; PERIOD];
    let (full, partial, empty) = assert_no_alloc(|| {
        let full = cb.fill(&mut out);
        let partial = cb.fill(&mut out);
        let empty = cb.fill(&mut out);
        (full, partial, empty)
    });
    assert_eq!((full, partial, empty), (PERIOD, PERIOD / 2, 0));
    assert!(out.iter().all(|&s| s == 0.0), "shortfall must be silence");
    assert_eq!(
        stats.underruns(),
        2,
        "a partial and an empty period are underruns"
    );
}

#[test]
fn tail_after_finish_is_not_an_underrun() {
    let (mut cb, stats, _producer) = callback_with(PERIOD / 2);
    stats.mark_finished();
    let mut out = vec![0.0f32; PERIOD];
    let got = assert_no_alloc(|| cb.fill(&mut out));
    assert_eq!(got, PERIOD / 2);
    assert_eq!(stats.underruns(), 0);
}

fn converted_fill_allocates_nothing<T>(silence: T)
where
    T: cpal::Sample + cpal::FromSample<f32> + Copy + PartialEq + std::fmt::Debug,
{
    let (mut cb, stats, _producer) = callback_with(PERIOD + 300);
    let mut out = vec![silence; PERIOD];
    let (full, partial, empty) = assert_no_alloc(|| {
        let full = cb.fill_converted(&mut out);
        let partial = cb.fill_converted(&mut out);
        let empty = cb.fill_converted(&mut out);
        (full, partial, empty)
    });
    assert_eq!((full, partial, empty), (PERIOD, 300, 0));
    assert!(
        out.iter().all(|&s| s == T::EQUILIBRIUM),
        "silence is the format's equilibrium"
    );
    assert_eq!(stats.underruns(), 2);
}

#[test]
fn every_integer_and_float_format_fills_without_allocating() {
    converted_fill_allocates_nothing::<i16>(7);
    converted_fill_allocates_nothing::<i32>(7);
    converted_fill_allocates_nothing::<u16>(7);
    converted_fill_allocates_nothing::<u32>(7);
    converted_fill_allocates_nothing::<i8>(7);
    converted_fill_allocates_nothing::<u8>(7);
    converted_fill_allocates_nothing::<f64>(7.0);
}

#[test]
fn converted_samples_keep_their_values() {
    let (mut producer, consumer) = audio_ring(std::time::Duration::from_millis(10), 48_000, 1);
    producer.push_slice(&[0.0, 0.5, -0.5, -1.0]);
    let mut cb = RingCallback::new(consumer, Arc::new(OutputStats::default()));
    let mut out = [7i16; 4];
    cb.fill_converted(&mut out);
    assert_eq!(out, [0, 16384, -16384, -32768]);
}

#[test]
fn paused_output_plays_silence_and_keeps_the_ring() {
    let (mut cb, stats, _producer) = callback_with(PERIOD);
    stats.set_paused(true);
    let mut out = vec![1.0f32; PERIOD];
    let mut out16 = vec![1i16; PERIOD];
    let got = assert_no_alloc(|| cb.fill(&mut out) + cb.fill_converted(&mut out16));
    assert_eq!(got, 0);
    assert!(out.iter().all(|&s| s == 0.0) && out16.iter().all(|&s| s == 0));
    assert_eq!((cb.available(), stats.underruns()), (PERIOD, 0));
    stats.set_paused(false);
    assert_eq!(assert_no_alloc(|| cb.fill(&mut out)), PERIOD);
}

#[test]
fn recording_and_web_listening_taps_allocate_nothing() {
    // `--record` and `--web` both tap what the callback plays; neither may cost it anything.
    let (mut cb, _stats, _producer) = callback_with(PERIOD + PERIOD / 2);
    let record_stats = Arc::new(jitterplay::playback::record_tap::RecordStats::default());
    let (tap, queue) =
        jitterplay::playback::record_tap::record_queue(48_000, 2, Arc::clone(&record_stats));
    cb.set_tap(tap);
    let hub = jitterplay::web::WebHub::new(jitterplay::web::Role::Player, None);
    cb.set_listen_tap(hub.attach_audio(48_000, 2));
    let mut out = vec![1.0f32; PERIOD];
    let played = assert_no_alloc(|| cb.fill(&mut out) + cb.fill(&mut out) + cb.fill(&mut out));
    assert_eq!(played, PERIOD + PERIOD / 2);
    use ringbuf::traits::Observer;
    assert_eq!(
        queue.samples.occupied_len(),
        PERIOD + PERIOD / 2,
        "the recording got it all"
    );
    assert_eq!(record_stats.snapshot().record_dropped_frames, 0);
}
