//! Cost of one 10 ms output callback period (480 stereo frames at 48 kHz): the real-time budget.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use ringbuf::traits::Producer;

use jitterplay::output::{OutputStats, RingCallback};
use jitterplay::playback::ring::audio_ring;

const PERIOD: usize = 480 * 2;

fn bench_callback(c: &mut Criterion) {
    let (mut producer, consumer) = audio_ring(Duration::from_millis(200), 48_000, 2);
    let mut callback = RingCallback::new(consumer, Arc::new(OutputStats::default()));
    let block = vec![0.25f32; PERIOD];
    let mut group = c.benchmark_group("callback_10ms_period");
    group.bench_function("f32", |b| {
        let mut out = vec![0.0f32; PERIOD];
        b.iter(|| {
            producer.push_slice(&block);
            black_box(callback.fill(black_box(&mut out)));
        })
    });
    group.bench_function("i16", |b| {
        let mut out = vec![0i16; PERIOD];
        b.iter(|| {
            producer.push_slice(&block);
            black_box(callback.fill_converted(black_box(&mut out)));
        })
    });
    group.bench_function("f32_underrun", |b| {
        let mut out = vec![0.0f32; PERIOD];
        b.iter(|| black_box(callback.fill(black_box(&mut out))))
    });
    group.finish();
}

criterion_group!(benches, bench_callback);
criterion_main!(benches);
