//! Decode cost per 20 ms RTP packet: Opus (a mono and a stereo encoding; a lost packet
//! recovered from the next packet's in-band FEC; a lost packet concealed by libopus PLC) beside
//! PCMU and L16, through the receive path's own `RtpDecoder`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

use jitterplay::codec::file::FileDecoder;
use jitterplay::codec::opus::{LossFill, OpusEncodeOptions, OpusPacketEncoder};
use jitterplay::codec::rtp_decoder::RtpDecoder;
use jitterplay::rtp::opus_toc::{self, OpusMode};
use jitterplay::rtp::payload::PayloadFormat;

/// 20 ms at 48 kHz.
const FRAMES: usize = 960;

/// Interleaved samples of a bundled sample.
fn asset(name: &str) -> (Vec<f32>, usize) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join(name);
    let mut decoder = FileDecoder::open(&path).expect("bundled sample");
    let channels = decoder.format().channels;
    let (mut all, mut chunk) = (Vec::new(), Vec::new());
    while decoder.next_chunk(&mut chunk).expect("decode") {
        all.extend_from_slice(&chunk);
    }
    (all, channels)
}

/// 20 ms Opus packets of the first 10 s of `name`.
fn opus_packets(name: &str, options: OpusEncodeOptions) -> Vec<Vec<u8>> {
    let (audio, channels) = asset(name);
    let mut encoder = OpusPacketEncoder::new(channels as u16, Duration::from_millis(20), options)
        .expect("encoder");
    audio
        .chunks_exact(FRAMES * channels)
        .take(500)
        .map(|pcm| {
            let mut p = Vec::new();
            encoder.encode(pcm, &mut p).expect("encode");
            p
        })
        .collect()
}

/// Decodes `packets` round and round, one per iteration.
fn bench_packets(c: &mut Criterion, name: &str, format: PayloadFormat, packets: &[Vec<u8>]) {
    let mut decoder = RtpDecoder::new(&format).expect("decoder");
    let mut out = Vec::with_capacity(FRAMES * 2);
    let mut i = 0;
    c.bench_function(name, |b| {
        b.iter(|| {
            out.clear();
            let n = decoder
                .decode(black_box(&packets[i]), &mut out)
                .expect("decode");
            i = (i + 1) % packets.len();
            black_box(n)
        })
    });
}

fn bench_decode(c: &mut Criterion) {
    let stereo = opus_packets("music-48k-stereo.flac", OpusEncodeOptions::default());
    bench_packets(c, "opus_20ms_stereo_64k", PayloadFormat::Opus, &stereo);
    let voice = OpusEncodeOptions {
        bitrate: 24_000,
        fec: true,
        dtx: false,
    };
    let mono = opus_packets("speech-48k-mono.flac", voice);
    bench_packets(c, "opus_20ms_mono_24k_fec", PayloadFormat::Opus, &mono);

    // A lost packet: recovered from its successor's FEC, or concealed. Each iteration decodes
    // packet i normally (both figures include that decode) and then fills the loss of packet
    // i + 1 from packet i + 2; only the places where libopus can use FEC there (a SILK or
    // hybrid packet before the loss, LBRR data after it: 79 % of this speech) are used.
    let recoverable: Vec<usize> = (0..mono.len() - 2)
        .filter(|&i| {
            let before = opus_toc::parse(&mono[i]).map(|p| p.mode != OpusMode::Celt);
            let after = opus_toc::parse(&mono[i + 2]).map(|p| p.has_fec);
            before == Ok(true) && after == Ok(true)
        })
        .collect();
    for (name, use_fec) in [("opus_20ms_lost_fec", true), ("opus_20ms_lost_plc", false)] {
        let mut decoder = RtpDecoder::new(&PayloadFormat::Opus).expect("decoder");
        let mut out = Vec::with_capacity(FRAMES * 4);
        let (mut k, mut fec, mut fills) = (0, 0u64, 0u64);
        c.bench_function(name, |b| {
            b.iter(|| {
                let i = recoverable[k];
                out.clear();
                decoder.decode(&mono[i], &mut out).expect("decode");
                let next = use_fec.then_some(mono[i + 2].as_slice());
                let fill = decoder.fill_loss(FRAMES, black_box(next), &mut out);
                fills += 1;
                fec += u64::from(matches!(fill, Some(Ok(LossFill::Fec))));
                k = (k + 1) % recoverable.len();
                black_box(out.len())
            })
        });
        // The benchmark measures what it says: every FEC fill came from FEC.
        assert!(
            !use_fec || fec == fills,
            "{name}: {fec} of {fills} from FEC"
        );
    }

    let pcmu: Vec<Vec<u8>> = (0..50u8).map(|k| vec![k.wrapping_mul(37); 160]).collect();
    bench_packets(c, "pcmu_20ms", PayloadFormat::Pcmu, &pcmu);
    let l16: Vec<Vec<u8>> = (0..50u8).map(|k| vec![k; FRAMES * 4]).collect();
    let format = PayloadFormat::L16 {
        rate: 48_000,
        channels: 2,
    };
    bench_packets(c, "l16_20ms_48k_stereo", format, &l16);
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
