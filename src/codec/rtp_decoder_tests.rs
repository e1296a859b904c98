//! Tests of `RtpDecoder`: decoded values, round trips with the packetizers, MPEG audio, malformed input.

use super::*;
use crate::audio::g711::{linear_to_alaw, linear_to_ulaw};
use crate::rtp::mpa::MpaError;
use crate::rtp::mpa::MpaPacketizer;
use crate::rtp::packetize::encode_pcm;
use proptest::prelude::*;

/// `ffmpeg -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=0.12" -ac 1 -c:a mp2
/// -b:a 64k -f mp2 tone-48k-mono.mp2` (ffmpeg 5.1.9): five 192-byte frames.
const MP2: &[u8] = include_bytes!("testdata/tone-48k-mono.mp2");
/// `ffmpeg -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=0.15" -ac 2 -c:a libmp3lame
/// -b:a 32k -write_xing 0 -id3v2_version 0 -f mp3 tone-44k1-stereo.mp3` (ffmpeg 5.1.9): seven frames.
const MP3: &[u8] = include_bytes!("testdata/tone-44k1-stereo.mp3");

const L16_STEREO: PayloadFormat = PayloadFormat::L16 {
    rate: 48_000,
    channels: 2,
};

fn decode(format: &PayloadFormat, payload: &[u8]) -> Result<Vec<f32>, CodecError> {
    let mut out = Vec::new();
    let frames = RtpDecoder::new(format)?.decode(payload, &mut out)?;
    assert_eq!(
        frames * usize::from(format.channels().unwrap_or(1)),
        out.len()
    );
    Ok(out)
}

#[test]
fn pcm_values() {
    let l16 = decode(
        &L16_STEREO,
        &[0x40, 0x00, 0xC0, 0x00, 0x7F, 0xFF, 0x80, 0x00],
    )
    .unwrap();
    assert_eq!(l16, [0.5, -0.5, 32_767.0 / 32_768.0, -1.0]);
    let l24 = PayloadFormat::L24 {
        rate: 96_000,
        channels: 1,
    };
    assert_eq!(
        decode(&l24, &[0x40, 0, 0, 0xFF, 0xFF, 0xFF]).unwrap(),
        [0.5, -1.0 / 8_388_608.0]
    );
    assert_eq!(
        decode(&PayloadFormat::Pcmu, &[0xFF, 0x80, 0x00]).unwrap()[0],
        0.0
    );
    assert_eq!(
        decode(&PayloadFormat::Pcma, &[0xD5]).unwrap(),
        [8.0 / 32_768.0]
    );
}

#[test]
fn rates_and_channels() {
    let d = RtpDecoder::new(&L16_STEREO).unwrap();
    assert_eq!(
        (d.rate(), d.channels(), d.format()),
        (Some(48_000), Some(2), L16_STEREO)
    );
    let m = RtpDecoder::new(&PayloadFormat::Mpa).unwrap();
    assert_eq!((m.rate(), m.channels()), (None, None));
    let cn = PayloadFormat::ComfortNoise { rate: 8000 };
    assert!(matches!(RtpDecoder::new(&cn), Err(CodecError::NotAudio(_))));
}

#[test]
fn malformed_pcm_is_a_typed_error_and_leaves_out_alone() {
    let mut d = RtpDecoder::new(&L16_STEREO).unwrap();
    let mut out = vec![9.0];
    for len in [1, 2, 3, 5, 7, 3841] {
        let err = d.decode(&vec![0u8; len], &mut out).unwrap_err();
        assert_eq!(
            err,
            CodecError::PartialFrame {
                len,
                bytes_per_frame: 4
            }
        );
        assert_eq!(out, [9.0]);
    }
    assert_eq!(d.decode(&[], &mut out), Ok(0));
    assert_eq!(out, [9.0]);
}

#[test]
fn every_packet_size_decodes_through_the_chunked_decoders() {
    let mut d = RtpDecoder::new(&L16_STEREO).unwrap();
    let mut out = Vec::new();
    for frames in 0..300usize {
        let samples: Vec<i16> = (0..frames * 2)
            .map(|i| (i as i16).wrapping_mul(97))
            .collect();
        let payload: Vec<u8> = samples.iter().flat_map(|s| s.to_be_bytes()).collect();
        out.clear();
        assert_eq!(d.decode(&payload, &mut out), Ok(frames));
        let want: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32_768.0).collect();
        assert_eq!(out, want, "{frames} frames");
    }
}

#[test]
fn g711_round_trips_through_symphonia() {
    for (format, encode) in [
        (PayloadFormat::Pcmu, linear_to_ulaw as fn(i16) -> u8),
        (PayloadFormat::Pcma, linear_to_alaw),
    ] {
        let codes: Vec<u8> = (0..=255).collect();
        let decoded = decode(&format, &codes).unwrap();
        for (&code, &x) in codes.iter().zip(&decoded) {
            let again = encode(f32_to_i16_exact(x));
            // 0x7F is mu-law's negative zero: it decodes to 0, which encodes as 0xFF.
            let want = if format == PayloadFormat::Pcmu && code == 0x7F {
                0xFF
            } else {
                code
            };
            assert_eq!(again, want, "{format} code {code:#04x}");
        }
        // decode(encode(x)) ≈ x: within half a quantisation step, which grows with the segment.
        let mut out = Vec::new();
        let xs: Vec<f32> = (-32_768..32_768)
            .step_by(7)
            .map(|i| i as f32 / 32_768.0)
            .collect();
        encode_pcm(&format, &xs, &mut out).unwrap();
        for (&x, &y) in xs.iter().zip(&decode(&format, &out).unwrap()) {
            assert!(
                (x - y).abs() <= x.abs() / 16.0 + 8.0 / 32_768.0,
                "{format}: {x} -> {y}"
            );
        }
    }
}

/// Exact f32 → i16 for decoder output, which is always a multiple of 2^-15.
fn f32_to_i16_exact(x: f32) -> i16 {
    let v = x * 32_768.0;
    assert_eq!(v.fract(), 0.0);
    v as i16
}

proptest! {
    #[test]
    fn l16_round_trip_is_bit_exact(samples in prop::collection::vec(any::<i16>(), 0..400)) {
        let samples: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32_768.0).collect();
        let even = &samples[..samples.len() / 2 * 2];
        let mut payload = Vec::new();
        encode_pcm(&L16_STEREO, even, &mut payload).unwrap();
        prop_assert_eq!(decode(&L16_STEREO, &payload).unwrap(), even);
    }

    #[test]
    fn l24_round_trip_is_bit_exact(samples in prop::collection::vec(-8_388_608i32..8_388_608, 0..300)) {
        let format = PayloadFormat::L24 { rate: 48_000, channels: 1 };
        let samples: Vec<f32> = samples.iter().map(|&s| s as f32 / 8_388_608.0).collect();
        let mut payload = Vec::new();
        encode_pcm(&format, &samples, &mut payload).unwrap();
        prop_assert_eq!(decode(&format, &payload).unwrap(), samples);
    }

    #[test]
    fn arbitrary_payloads_never_panic(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..1500), 1..8),
        mpa_like in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let formats = [
            L16_STEREO,
            PayloadFormat::L24 { rate: 48_000, channels: 2 },
            PayloadFormat::Pcmu,
            PayloadFormat::Pcma,
            PayloadFormat::Mpa,
        ];
        // Garbage that starts like a real RFC 2250 payload reaches deeper into the MPA decoder.
        let mut mpa = vec![0, 0, 0, 0];
        mpa.extend_from_slice(&MP3[..4]);
        mpa.extend_from_slice(&mpa_like);
        for format in formats {
            let mut d = RtpDecoder::new(&format).unwrap();
            let mut out = vec![0.25];
            for p in payloads.iter().chain([&mpa]) {
                let before = out.len();
                if d.decode(p, &mut out).is_err() {
                    prop_assert_eq!(out.len(), before);
                }
            }
        }
    }
}

/// Packetizes an elementary stream and decodes it through `RtpDecoder`, optionally losing packets.
fn decode_stream(stream: &[u8], max_payload: usize, lose: &[usize]) -> (RtpDecoder, Vec<f32>) {
    let mut p = MpaPacketizer::new(stream, max_payload).unwrap();
    let mut d = RtpDecoder::new(&PayloadFormat::Mpa).unwrap();
    let (mut payload, mut out) = (Vec::new(), Vec::new());
    let mut n = 0;
    while p.next_packet(&mut payload).is_some() {
        if lose.contains(&n) {
            d.note_loss();
        } else {
            d.decode(&payload, &mut out).unwrap();
        }
        n += 1;
    }
    (d, out)
}

/// Every `step`-th sample of ffmpeg's decode of the same file (see testdata/README.md).
fn ffmpeg_reference(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn mpeg_audio_decodes_like_ffmpeg() {
    let cases = [
        (
            MP2,
            &include_bytes!("testdata/tone-48k-mono.mp2.ref64.f32le")[..],
            64,
            (48_000, 1),
            5,
            1e-4,
        ),
        (
            MP3,
            &include_bytes!("testdata/tone-44k1-stereo.mp3.ref128.f32le")[..],
            128,
            (44_100, 2),
            7,
            1e-6,
        ),
    ];
    for (stream, reference, step, (rate, channels), frames, tolerance) in cases {
        let (d, out) = decode_stream(stream, 1460, &[]);
        assert_eq!((d.rate(), d.channels()), (Some(rate), Some(channels)));
        assert_eq!(out.len(), frames * 1152 * usize::from(channels));
        let ours: Vec<f32> = out.iter().copied().step_by(step).collect();
        let reference = ffmpeg_reference(reference);
        assert_eq!(ours.len(), reference.len());
        // ffmpeg's MP2 decoder is fixed-point: within 1e-4 (3 LSB at 16 bits); MP3 within 1e-6.
        let max_diff = ours
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(max_diff < tolerance, "{rate} Hz: max difference {max_diff}");
        assert!(
            reference.iter().any(|x| x.abs() > 0.05),
            "the reference holds the tone"
        );
    }
}

#[test]
fn mp3_fragments_reassemble_and_losses_are_counted() {
    let (whole_d, whole) = decode_stream(MP3, 1460, &[]);
    assert_eq!(
        (whole_d.rate(), whole_d.channels()),
        (Some(44_100), Some(2))
    );
    assert_eq!(whole.len(), 7 * 1152 * 2);
    let (frag_d, frag) = decode_stream(MP3, 40, &[]);
    assert_eq!(frag, whole);
    assert_eq!(frag_d.dropped_fragments(), 0);
    // Losing the second packet (a middle fragment of frame 0) drops that frame and only that one.
    let (lossy_d, lossy) = decode_stream(MP3, 40, &[1]);
    assert_eq!(lossy_d.dropped_fragments(), 1);
    assert_eq!(lossy.len(), 6 * 1152 * 2);
}

#[test]
fn mpa_garbage_and_layer_changes() {
    let mut d = RtpDecoder::new(&PayloadFormat::Mpa).unwrap();
    let mut out = vec![1.0];
    assert!(matches!(
        d.decode(&[0, 0, 0, 0, 1, 2, 3, 4], &mut out),
        Err(CodecError::Mpa(_))
    ));
    assert!(matches!(
        d.decode(&[0, 0], &mut out),
        Err(CodecError::Mpa(MpaError::TooShort(2)))
    ));
    assert_eq!(out, [1.0]);
    // The sender switches from MP2 at 48 kHz mono to MP3 at 44.1 kHz stereo.
    let mut payload = vec![0, 0, 0, 0];
    payload.extend_from_slice(&MP2[..192]);
    assert_eq!(d.decode(&payload, &mut out), Ok(1152));
    assert_eq!((d.rate(), d.channels()), (Some(48_000), Some(1)));
    let (_, first_mp3) = split_first_frame(MP3);
    payload.truncate(4);
    payload.extend_from_slice(first_mp3);
    assert_eq!(d.decode(&payload, &mut out), Ok(1152));
    assert_eq!((d.rate(), d.channels()), (Some(44_100), Some(2)));
    assert_eq!(out.len(), 1 + 1152 + 1152 * 2);
}

fn split_first_frame(stream: &[u8]) -> (MpaHeader, &[u8]) {
    let h = parse_header(stream).unwrap();
    (h, &stream[..h.frame_len])
}

/// Real RFC 2250 payloads from `ffmpeg -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=0.5"
/// -ac 2 -c:a libmp3lame -b:a 128k -f rtp -pkt_size 200 rtp://127.0.0.1:5020` (ffmpeg 5.1.9),
/// captured off the socket: the first nine payloads, each as a little-endian u16 length and the
/// bytes. 417/418-byte frames in fragments of 184, 184 and 49/50 bytes (Frag_offset 0, 184, 368).
const FFMPEG_RTP_MP3: &[u8] = include_bytes!("testdata/ffmpeg-rtp-mp3-fragments.bin");

fn ffmpeg_payloads() -> Vec<&'static [u8]> {
    let mut rest = FFMPEG_RTP_MP3;
    let mut payloads = Vec::new();
    while let [lo, hi, tail @ ..] = rest {
        let (payload, next) = tail.split_at(usize::from(u16::from_le_bytes([*lo, *hi])));
        payloads.push(payload);
        rest = next;
    }
    payloads
}

#[test]
fn decodes_ffmpeg_fragmented_mp3_packets() {
    let payloads = ffmpeg_payloads();
    assert_eq!(payloads.len(), 9);
    for lose in [None, Some(4)] {
        let mut d = RtpDecoder::new(&PayloadFormat::Mpa).unwrap();
        let mut out = Vec::new();
        let mut frames = 0;
        for (i, p) in payloads.iter().enumerate() {
            if Some(i) == lose {
                d.note_loss();
            } else {
                frames += d.decode(p, &mut out).unwrap();
            }
        }
        assert_eq!(
            (d.rate(), d.channels(), d.frame_errors()),
            (Some(44_100), Some(2), 0)
        );
        let (want_frames, want_dropped) = if lose.is_some() { (2, 1) } else { (3, 0) };
        assert_eq!(
            (frames, d.dropped_fragments()),
            (want_frames * 1152, want_dropped)
        );
        assert_eq!(out.len(), frames * 2);
    }
}
