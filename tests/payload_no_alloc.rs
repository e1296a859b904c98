//! The receive-side payload path allocates nothing in steady state: RTP payload decoding for
//! every format (any PCM packet size, whole and fragmented MPEG audio) and loss concealment.
//!
//! This test binary installs the `AllocDisabler` allocator, so an allocation inside
//! `assert_no_alloc` aborts the process and fails the test.

use assert_no_alloc::{assert_no_alloc, AllocDisabler};

use jitterplay::codec::conceal::{Conceal, PitchConcealer};
use jitterplay::codec::rtp_decoder::RtpDecoder;
use jitterplay::rtp::mpa::MpaPacketizer;
use jitterplay::rtp::payload::PayloadFormat;

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

const MP3: &[u8] = include_bytes!("../src/codec/testdata/tone-44k1-stereo.mp3");

#[test]
fn pcm_payloads_of_any_size_decode_without_allocating() {
    let formats = [
        PayloadFormat::L16 {
            rate: 48_000,
            channels: 2,
        },
        PayloadFormat::L24 {
            rate: 48_000,
            channels: 2,
        },
        PayloadFormat::Pcmu,
        PayloadFormat::Pcma,
    ];
    for format in formats {
        let mut decoder = RtpDecoder::new(&format).unwrap();
        let bpf = format.bytes_per_frame().unwrap();
        // Sizes seen in the wild (5 ms, 1 ms AES67, 20 ms G.711, ffmpeg's MTU-sized L16) and odd ones.
        let sizes = [240usize, 48, 160, 365, 1, 63, 64, 65, 127, 441, 882, 960];
        let payloads: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![0x5A; n * bpf]).collect();
        let mut out = Vec::with_capacity(960 * 2 * 4);
        let decoded = assert_no_alloc(|| {
            let mut total = 0;
            for p in &payloads {
                out.clear();
                total += decoder.decode(p, &mut out).unwrap_or(0);
            }
            total
        });
        assert_eq!(decoded, sizes.iter().sum::<usize>(), "{format}");
    }
}

#[test]
fn mpeg_audio_decodes_without_allocating_after_the_first_frame() {
    let mut packets = Vec::new();
    // First all seven frames in one payload, then the stream again as fragments.
    for max_payload in [1460, 40] {
        let mut p = MpaPacketizer::new(MP3, max_payload).unwrap();
        let mut buf = Vec::new();
        while p.next_packet(&mut buf).is_some() {
            packets.push(buf.clone());
        }
    }
    let mut decoder = RtpDecoder::new(&PayloadFormat::Mpa).unwrap();
    let mut out = Vec::with_capacity(1152 * 2 * 16);
    // Warm-up: the first frame builds symphonia's decoder and its buffers.
    decoder.decode(&packets[0], &mut out).unwrap();
    let frames = assert_no_alloc(|| {
        let mut frames = 0;
        for (i, p) in packets[1..].iter().enumerate() {
            if i == 20 {
                decoder.note_loss();
                continue;
            }
            out.clear();
            frames += decoder.decode(p, &mut out).unwrap_or(0);
        }
        frames
    });
    // The whole stream again as 40-byte fragments, less the one frame whose fragment was lost.
    assert_eq!(frames, 6 * 1152);
    assert_eq!(decoder.dropped_fragments(), 1);
}

#[test]
fn concealment_does_not_allocate() {
    let mut concealer = PitchConcealer::new(48_000, 2);
    let mut out = Vec::with_capacity(48_000);
    // A voiced-like stereo signal (two harmonics of 150 Hz), so the pitch path runs; then a
    // noisy one, which has no pitch and takes the faded repeat.
    let voiced: Vec<f32> = (0..960 * 5)
        .flat_map(|i| {
            let t = i as f32 / 48_000.0;
            let x = 0.3 * (std::f32::consts::TAU * 150.0 * t).sin()
                + 0.2 * (std::f32::consts::TAU * 300.0 * t).sin();
            [x, -x]
        })
        .collect();
    let mut seed = 5u32;
    let mut noise: Vec<f32> = (0..960 * 2)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        })
        .collect();
    let mut packets: Vec<Vec<f32>> = voiced.chunks(960 * 2).map(<[f32]>::to_vec).collect();
    let mut next = vec![0.1f32; 960 * 2];
    let mut done = jitterplay::codec::conceal::ConcealedFrames::default();
    assert_no_alloc(|| {
        for packet in packets.iter_mut() {
            concealer.process_decoded(packet);
            out.clear();
            done += concealer.conceal(960, None, &mut out);
            done += concealer.conceal(4800, None, &mut out);
            concealer.merge_into(&mut out, &next);
            concealer.process_decoded(&mut next);
        }
        concealer.process_decoded(&mut noise);
        out.clear();
        done += concealer.conceal(960, None, &mut out);
    });
    assert_eq!(done.total(), 5 * 5760 + 960);
    assert!(
        done.pitch > 0 && done.fade > 0 && done.noise > 0,
        "{done:?}"
    );
    assert_eq!(concealer.concealed(), done);
}

#[test]
fn opus_decodes_and_fills_losses_without_allocating() {
    // 20 ms stereo packets with in-band FEC, from a 440 Hz tone.
    let mut enc =
        opus::Encoder::new(48_000, opus::Channels::Stereo, opus::Application::Voip).unwrap();
    enc.set_inband_fec(true).unwrap();
    enc.set_packet_loss_perc(10).unwrap();
    enc.set_bitrate(opus::Bitrate::Bits(24_000)).unwrap();
    let pcm: Vec<f32> = (0..960 * 2 * 30)
        .map(|i| (i as f32 / 2.0 * 440.0 / 48_000.0 * std::f32::consts::TAU).sin() * 0.3)
        .collect();
    let packets: Vec<Vec<u8>> = pcm
        .chunks_exact(960 * 2)
        .map(|frame| enc.encode_vec_float(frame, 1500).unwrap())
        .collect();
    let mut decoder = RtpDecoder::new(&PayloadFormat::Opus).unwrap();
    // Room for the longest packet (120 ms) and the longest loss asked for below.
    let mut out = Vec::with_capacity(5_760 * 2 * 2);
    decoder.decode(&packets[0], &mut out).unwrap();
    let frames = assert_no_alloc(|| {
        let mut frames = 0;
        for (i, p) in packets[1..].iter().enumerate() {
            out.clear();
            if i % 5 == 3 {
                // A loss filled from this packet's FEC, one by PLC, then the packet itself.
                decoder.fill_loss(960, Some(p), &mut out);
                decoder.fill_loss(2_000, None, &mut out);
                frames += out.len() / 2;
                out.clear();
            }
            frames += decoder.decode(p, &mut out).unwrap_or(0);
        }
        frames
    });
    assert_eq!(frames, 29 * 960 + 6 * (960 + 2_000));
}
