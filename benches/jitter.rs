//! The jitter buffer's per-packet cost and the simulator's speed (the issue asks ≥ 1000× real time).
//!
//! `insert_pop`: one `insert` plus one `pop` in steady state, with ~300 packets queued, in
//! order and with every block of 8 packets arriving partly reordered; 48 kHz stereo L16 in
//! 365-frame packets (as the simulator sends) and in 5 ms packets (`_5ms`). `simulate_1h`: the wall
//! time of one simulated hour of the `lan` scenario over the bundled music sample; the realtime
//! factor of every run is printed at the end.
//!
//! Run with `cargo bench --bench jitter` (add `-- insert_pop` or `-- simulate_1h` for one group).

use std::cell::RefCell;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use jitterplay::codec::file::FileDecoder;
use jitterplay::jitter::{JitterBuffer, JitterConfig, PopOutcome};
use jitterplay::rtp::header::RtpHeader;
use jitterplay::sim::{run_simulation, Scenario, SimConfig, SimInput};

const RATE: u32 = 48_000;
/// Frames per packet as the simulator sends L16 stereo: 365 frames fit a 1460-byte payload.
const FRAMES: u32 = 365;
/// Packets queued ahead of the play position in steady state.
const QUEUED: u64 = 300;
/// Arrival order inside each block of 8 sent packets: three of the eight arrive 1–2 places late.
/// (It keeps some in-sequence pairs: RFC 3550 A.1 probation needs two in a row to accept the
/// source, so a stream where no two consecutive packets ever arrive in a row never starts.)
const REORDERED: [u64; 8] = [0, 1, 3, 2, 4, 6, 7, 5];
const IN_ORDER: [u64; 8] = [0, 1, 2, 3, 4, 5, 6, 7];

/// Frames in a 5 ms packet at 48 kHz (the packet time the goal names).
const FRAMES_5MS: u32 = 240;

/// A stream being fed to a jitter buffer one packet at a time, in `pattern`'s arrival order.
struct Feed {
    buffer: JitterBuffer,
    payload: Vec<u8>,
    pattern: [u64; 8],
    arrived: u64,
    frames: u32,
}

impl Feed {
    fn new(pattern: [u64; 8], frames: u32) -> Self {
        let mut feed = Feed {
            buffer: JitterBuffer::new(JitterConfig::new(RATE)),
            payload: vec![0x11; frames as usize * 4],
            pattern,
            arrived: 0,
            frames,
        };
        for _ in 0..QUEUED {
            feed.insert_next();
        }
        feed
    }

    fn packet_time(&self, n: u64) -> Duration {
        Duration::from_nanos(n * u64::from(self.frames) * 1_000_000_000 / u64::from(RATE))
    }

    /// Inserts the next packet to arrive; returns the arrival time.
    fn insert_next(&mut self) -> Duration {
        let n = self.arrived;
        self.arrived += 1;
        let seq_index = n - n % 8 + self.pattern[(n % 8) as usize];
        let arrival = self.packet_time(n) + Duration::from_millis(40);
        let header = RtpHeader::synthetic(
            96,
            (seq_index as u16).wrapping_add(1000),
            (seq_index as u32).wrapping_mul(self.frames),
            0x1234_5678,
            seq_index == 0,
        );
        black_box(self.buffer.insert(&header, &self.payload, arrival));
        arrival
    }

    /// One packet in, one packet out; returns the payload length popped.
    fn step(&mut self) -> usize {
        let now = self.insert_next();
        match self.buffer.pop(now) {
            PopOutcome::Frame { payload, .. } => payload.len(),
            _ => 0,
        }
    }
}

fn bench_insert_pop(c: &mut Criterion) {
    let mut group = c.benchmark_group("insert_pop");
    group.throughput(Throughput::Elements(1));
    let cases = [
        ("in_order", IN_ORDER, FRAMES),
        ("reordered", REORDERED, FRAMES),
        ("in_order_5ms", IN_ORDER, FRAMES_5MS),
        ("reordered_5ms", REORDERED, FRAMES_5MS),
    ];
    for (name, pattern, frames) in cases {
        let mut feed = Feed::new(pattern, frames);
        let payload = frames as usize * 4;
        // Steady state is reached and every pop hands out a frame.
        assert!(
            (0..1000).all(|_| feed.step() == payload),
            "{name}: pop must yield frames"
        );
        group.bench_function(name, |b| b.iter(|| black_box(feed.step())));
        let stats = feed.buffer.stats();
        assert_eq!(
            stats.lost + stats.late + stats.overflow,
            0,
            "{name}: {stats:?}"
        );
    }
    group.finish();
}

fn music() -> SimInput {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/music-48k-stereo.flac");
    let mut decoder = FileDecoder::open(&path).expect("bundled sample");
    let format = decoder.format();
    let (mut samples, mut chunk) = (Vec::new(), Vec::new());
    while decoder.next_chunk(&mut chunk).expect("decodes") {
        samples.extend_from_slice(&chunk);
    }
    SimInput {
        samples,
        rate: format.rate,
        channels: format.channels as u16,
    }
}

fn bench_simulate_hour(c: &mut Criterion) {
    let input = music();
    let cfg = SimConfig {
        scenario: Scenario::built_in("lan").expect("built-in"),
        seed: 1,
        duration: Some(Duration::from_secs(3600)),
        target_min: None,
        target_max: None,
        no_nack: false,
        dtmf: jitterplay::playout::DtmfMode::Tone,
        codec: jitterplay::sim::opus_sender::SimCodec::L16,
    };
    let factors = RefCell::new(Vec::new());
    let mut group = c.benchmark_group("simulate_1h");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(40));
    group.warm_up_time(Duration::from_secs(1));
    group.bench_function("lan", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let report = run_simulation(&input, &cfg, &mut |out| {
                    black_box(out);
                })
                .expect("simulation runs");
                let wall = started.elapsed();
                factors
                    .borrow_mut()
                    .push(report.simulated_s / wall.as_secs_f64());
                total += wall;
            }
            total
        })
    });
    group.finish();
    let mut f = factors.into_inner();
    f.sort_by(f64::total_cmp);
    if let (Some(min), Some(max)) = (f.first(), f.last()) {
        println!(
            "simulate_1h/lan realtime factor: median {:.0}×, min {:.0}×, max {:.0}× over {} runs",
            f[f.len() / 2],
            min,
            max,
            f.len()
        );
    }
}

criterion_group!(benches, bench_insert_pop, bench_simulate_hour);
criterion_main!(benches);
