//! What SRTP costs per packet: authenticating and decrypting a 20 ms G.711 packet (12-byte
//! header, 160-byte payload) in place, for each suite (the target: under 1 µs).
//!
//! Each iteration decrypts a fresh packet: the sender encrypts ahead in batches (not timed), so
//! the replay window sees a new index every time, as on the wire.
//!
//! Run with `cargo bench --bench srtp`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use jitterplay::srtp::{
    Direction, SrtpKeying, SrtpReceiver, SrtpSession, SrtpStats, Suite, MAX_TRAILER,
};

fn g711_packet(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend(std::iter::repeat_n(0xd5, 160));
    p
}

fn decrypt(c: &mut Criterion) {
    let mut group = c.benchmark_group("srtp_unprotect_g711_20ms");
    group.throughput(Throughput::Elements(1));
    for suite in Suite::ALL {
        let keying = SrtpKeying::single(suite, vec![3; suite.keying_len()]);
        let mut tx = SrtpSession::new(&keying, Direction::Outbound).unwrap();
        let mut rx = SrtpReceiver::new(&keying, Arc::new(SrtpStats::default())).unwrap();
        let mut seq = 0u16;
        group.bench_function(suite.name(), |b| {
            b.iter_batched_ref(
                || {
                    seq = seq.wrapping_add(1);
                    let mut p = g711_packet(seq);
                    let len = p.len();
                    p.resize(len + MAX_TRAILER, 0);
                    let n = tx.protect_rtp(&mut p, len).unwrap();
                    p.truncate(n);
                    p
                },
                |p| assert!(rx.unprotect(black_box(p), false)),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, decrypt);
criterion_main!(benches);
