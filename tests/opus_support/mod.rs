//! Shared by the Opus tests: a test signal, libopus encoding with varying frame sizes, RTP
//! packets, an Ogg Opus writer (the reference decode goes through ffmpeg) and a virtual-time
//! run of the receive core.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use crate::common::BoundedOutput;
use std::time::Duration;

use jitterplay::playout::metrics::MetricsSnapshot;
use jitterplay::playout::ReceiveCoreConfig;
use jitterplay::rtp::payload::PayloadFormat;
use jitterplay::sim::play_scheduled;

/// Stereo test audio at 48 kHz, speech-like: a voiced harmonic tone whose pitch glides
/// quickly, with syllables (a 4 Hz loudness swing) and a moving spectral tilt, different in
/// each channel, plus a little seeded noise. Its pitch moves too fast for PLC to extrapolate.
pub fn signal(frames: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(frames * 2);
    let mut noise = 0x9E37_79B9u32;
    let mut phase = [0.0f64; 2];
    let tau = std::f64::consts::TAU;
    for i in 0..frames {
        let t = i as f64 / 48_000.0;
        for (ch, ph) in phase.iter_mut().enumerate() {
            let c = ch as f64;
            let f0 = 160.0 + 60.0 * (tau * 2.3 * t + c).sin() + 30.0 * (tau * 5.1 * t).sin();
            *ph += f0 / 48_000.0;
            let syllable = 0.6 + 0.4 * (tau * 4.0 * t + c).sin();
            let tilt = 0.6 + 0.3 * (tau * 1.7 * t + c).sin();
            // Normalised by the harmonics' total weight, so the peak stays below 0.5: no clipping.
            let norm: f64 = (1..16).map(|k| tilt.powi(k)).sum();
            let voiced: f64 = (1..16)
                .map(|k| (tau * *ph * k as f64).sin() * tilt.powi(k))
                .sum::<f64>()
                / norm;
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            let n = (noise as f64 / u32::MAX as f64 - 0.5) * 0.02;
            out.push((0.45 * syllable * voiced + n) as f32);
        }
    }
    out
}

/// How to encode.
pub struct EncodePlan {
    /// Frame sizes in 48 kHz samples, used in turn.
    pub frame_sizes: Vec<usize>,
    /// Bit rates in bit/s, one per packet in turn.
    pub bitrates: Vec<i32>,
    /// In-band FEC on (with a 10 % expected loss, so libopus codes LBRR data).
    pub fec: bool,
}

/// Encodes stereo `audio` into Opus packets (VoIP application, so SILK and hybrid modes appear).
pub fn encode(audio: &[f32], plan: &EncodePlan) -> Vec<Vec<u8>> {
    let mut enc = opus::Encoder::new(48_000, opus::Channels::Stereo, opus::Application::Voip)
        .expect("encoder");
    enc.set_inband_fec(plan.fec).expect("fec");
    enc.set_packet_loss_perc(if plan.fec { 10 } else { 0 })
        .expect("loss");
    let mut packets = Vec::new();
    let mut at = 0;
    let mut buf = vec![0u8; 4000];
    let mut i = 0;
    loop {
        let size = plan.frame_sizes[i % plan.frame_sizes.len()];
        if at + size * 2 > audio.len() {
            break;
        }
        let rate = plan.bitrates[i % plan.bitrates.len()];
        enc.set_bitrate(opus::Bitrate::Bits(rate)).expect("bitrate");
        let n = enc
            .encode_float(&audio[at..at + size * 2], &mut buf)
            .expect("encode");
        packets.push(buf[..n].to_vec());
        at += size * 2;
        i += 1;
    }
    packets
}

/// Samples (per channel, 48 kHz) an Opus packet lasts.
pub fn duration(packet: &[u8]) -> usize {
    opus::packet::get_nb_samples(packet, 48_000).expect("valid packet")
}

/// RTP packets (PT 111) for `payloads`, with their timestamps.
pub fn rtp(payloads: &[Vec<u8>]) -> Vec<(u32, Vec<u8>)> {
    let mut ts = 1_000u32;
    payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut pkt = vec![0x80, 111, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];
            pkt[2..4].copy_from_slice(&(i as u16).wrapping_add(500).to_be_bytes());
            pkt[4..8].copy_from_slice(&ts.to_be_bytes());
            pkt.extend_from_slice(p);
            let this = ts;
            ts = ts.wrapping_add(duration(p) as u32);
            (this, pkt)
        })
        .collect()
}

/// Plays RTP `packets` (sent at their timestamps, arriving 10 ms later; `None` = lost on the
/// way) through the receive path into 48 kHz stereo; returns its metrics and output.
pub fn play(packets: &[(u32, Option<Vec<u8>>)]) -> (MetricsSnapshot, Vec<f32>) {
    let mut cfg = ReceiveCoreConfig::new(PayloadFormat::Opus, 48_000, 2);
    cfg.set_target_window(Duration::from_millis(400), Duration::from_millis(600));
    let first_ts = packets.first().map_or(0, |p| p.0);
    let send_at = |ts: u32| Duration::from_secs_f64(ts.wrapping_sub(first_ts) as f64 / 48_000.0);
    let arrivals = packets
        .iter()
        .filter_map(|(ts, p)| Some((send_at(*ts) + Duration::from_millis(10), p.clone()?)))
        .collect();
    let run = play_scheduled(cfg, arrivals).expect("receiver");
    (run.metrics, run.audio)
}

/// CRC-32 of Ogg pages: polynomial 0x04C11DB7, not reflected, no final XOR.
fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// One Ogg page holding one whole packet.
fn ogg_page(out: &mut Vec<u8>, flags: u8, granule: u64, seq: u32, packet: &[u8]) {
    let start = out.len();
    out.extend_from_slice(b"OggS");
    out.push(0);
    out.push(flags);
    out.extend_from_slice(&granule.to_le_bytes());
    out.extend_from_slice(&0x4A50_4C59u32.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    let lacing: Vec<u8> = std::iter::repeat_n(255u8, packet.len() / 255)
        .chain([(packet.len() % 255) as u8])
        .collect();
    out.push(lacing.len() as u8);
    out.extend_from_slice(&lacing);
    out.extend_from_slice(packet);
    let crc = ogg_crc(&out[start..]);
    out[start + 22..start + 26].copy_from_slice(&crc.to_le_bytes());
}

/// Writes `packets` as an Ogg Opus file (RFC 7845), one packet per page.
pub fn write_ogg_opus(path: &Path, packets: &[Vec<u8>], channels: u8, pre_skip: u16, gain_q8: i16) {
    let mut head = b"OpusHead".to_vec();
    head.push(1);
    head.push(channels);
    head.extend_from_slice(&pre_skip.to_le_bytes());
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&gain_q8.to_le_bytes());
    head.push(0);
    let mut tags = b"OpusTags".to_vec();
    tags.extend_from_slice(&4u32.to_le_bytes());
    tags.extend_from_slice(b"test");
    tags.extend_from_slice(&0u32.to_le_bytes());
    let mut out = Vec::new();
    ogg_page(&mut out, 0x02, 0, 0, &head);
    ogg_page(&mut out, 0, 0, 1, &tags);
    let mut granule = 0u64;
    for (i, p) in packets.iter().enumerate() {
        granule += duration(p) as u64;
        let flags = if i + 1 == packets.len() { 0x04 } else { 0 };
        ogg_page(&mut out, flags, granule, i as u32 + 2, p);
    }
    std::fs::write(path, out).expect("write ogg");
}

/// ffmpeg's libopus decode of an Ogg Opus file: interleaved 16-bit stereo at 48 kHz.
///
/// ffmpeg 5.1's libopus wrapper decodes with `opus_multistream_decode` (16-bit) whatever
/// float format is asked for, so 16-bit is what it can be compared with.
pub fn ffmpeg_libopus_decode(path: &Path) -> Vec<i16> {
    ffmpeg_libopus_decode_native_channels(path, 2)
}

/// ffmpeg's libopus decode of an Ogg Opus file as 16-bit, 48 kHz, `channels` channels.
pub fn ffmpeg_libopus_decode_native_channels(path: &Path, channels: u16) -> Vec<i16> {
    let out = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-c:a",
            "libopus",
            "-i",
        ])
        .arg(path)
        .args([
            "-f",
            "s16le",
            "-ac",
            &channels.to_string(),
            "-ar",
            "48000",
            "-",
        ])
        .bounded_output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// A float sample as libopus's 16-bit decode rounds it (`FLOAT2INT16`: scale, clamp, round
/// half to even).
pub fn to_i16(x: f32) -> i16 {
    (x * 32768.0).clamp(-32768.0, 32767.0).round_ties_even() as i16
}

/// Signal-to-error ratio of `test` against `reference` in dB (over their common length).
pub fn snr_db(reference: &[f32], test: &[f32]) -> f64 {
    let n = reference.len().min(test.len());
    let signal: f64 = reference[..n].iter().map(|&x| f64::from(x).powi(2)).sum();
    let error: f64 = reference[..n]
        .iter()
        .zip(&test[..n])
        .map(|(&a, &b)| f64::from(a - b).powi(2))
        .sum();
    10.0 * (signal / error.max(1e-30)).log10()
}
