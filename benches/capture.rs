//! Capture handling speed: reading and analysing a real capture (`jitterplay streams`), and
//! replaying its stream through the receive core in virtual time (`play --fast`, `simulate`).
//!
//! The input is tests/data/ulaw-2013785496.pcap: 974 packets, 19.5 s of PCMU with telephone
//! events, Linux cooked link type. Run with `cargo bench --bench capture`; the replay's real-time
//! factor is printed at the end.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use jitterplay::capture::{analyse, read_capture, select, Selector};
use jitterplay::sim::capture_feed::capture_replay;
use jitterplay::sim::{Scenario, SimConfig};

fn capture_path() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/ulaw-2013785496.pcap"
    ))
}

fn read_and_analyse(c: &mut Criterion) {
    let records = read_capture(capture_path()).expect("capture").records;
    let mut group = c.benchmark_group("capture");
    group.throughput(Throughput::Elements(records));
    group.bench_function("read_and_analyse", |b| {
        b.iter(|| {
            let capture = read_capture(black_box(capture_path())).expect("capture");
            black_box(analyse(&capture).streams.len())
        })
    });
    group.finish();
}

fn replay(c: &mut Criterion) {
    let path = capture_path();
    let capture = read_capture(path).expect("capture");
    let report = analyse(&capture);
    let stream = select(path, &capture, &report, Selector::Auto, None).expect("one stream");
    let cfg = SimConfig {
        scenario: Scenario::default(),
        seed: 0,
        duration: None,
        target_min: None,
        target_max: None,
        no_nack: false,
        dtmf: jitterplay::playout::DtmfMode::Tone,
        codec: jitterplay::sim::opus_sender::SimCodec::L16,
    };
    let cfg = cfg.replay();
    let mut factors = Vec::new();
    let mut group = c.benchmark_group("capture");
    group.sample_size(20);
    group.bench_function("replay_virtual_time", |b| {
        b.iter(|| {
            let started = Instant::now();
            let (replay, _) = capture_replay(&stream, &cfg).expect("replay");
            let mut samples = 0usize;
            let (report, _) = replay
                .run(&mut |s| samples += s.len())
                .expect("replay runs");
            factors.push(report.simulated_s / started.elapsed().as_secs_f64());
            black_box(samples)
        })
    });
    group.finish();
    factors.sort_by(f64::total_cmp);
    if let (Some(lo), Some(hi)) = (factors.first(), factors.last()) {
        println!("capture replay: {lo:.0}–{hi:.0}× real time");
    }
}

criterion_group!(benches, read_and_analyse, replay);
criterion_main!(benches);
