//! The level of one monitored stream: silence (under a threshold for a while) and, when asked,
//! EBU R128 momentary and short-term loudness (the `ebur128` crate) (sans-IO).
//!
//! G.711 is decoded through a 256-entry table filled once from symphonia's own decoder, so a
//! thousand streams cost a table lookup per sample; other formats use a decoder per stream.
//! Without loudness, G.711's level needs no samples at all: a second table holds each code's
//! square, summed straight from the payload (by the monitor's router, as it reads: see
//! [`g711_squares`]).

use std::sync::OnceLock;
use std::time::Duration;

use ebur128::{EbuR128, Mode};
use serde::Serialize;

use crate::codec::pcm_chunks::g711_table;
use crate::codec::rtp_decoder::RtpDecoder;
use crate::rtp::payload::PayloadFormat;

/// What counts as silence, and whether loudness is measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelConfig {
    /// A packet whose RMS level is below this (dBFS) is quiet.
    pub silence_below_dbfs: f64,
    /// Quiet for this long is silence.
    pub silence_after: Duration,
    /// Measure EBU R128 loudness.
    pub loudness: bool,
}

impl Default for LevelConfig {
    fn default() -> Self {
        LevelConfig {
            silence_below_dbfs: -60.0,
            silence_after: Duration::from_secs(5),
            loudness: false,
        }
    }
}

/// The level figures of a stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LevelFigures {
    /// RMS level of the packets of the last report period, dBFS (None: nothing decoded).
    pub level_dbfs: Option<f64>,
    /// Quiet for at least the configured time, now.
    pub silent: bool,
    /// How long it has been quiet, s.
    pub quiet_for_s: f64,
    /// Times it fell silent.
    pub silences: u64,
    /// EBU R128 momentary loudness (400 ms), LUFS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub momentary_lufs: Option<f64>,
    /// EBU R128 short-term loudness (3 s), LUFS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short_term_lufs: Option<f64>,
    /// Payloads that failed to decode.
    pub decode_errors: u64,
}

enum Decode {
    /// A G.711 table, and its squares.
    Table(&'static [f32; 256], &'static [f64; 256]),
    /// A decoder of the stream's own.
    Codec(Box<RtpDecoder>),
}

/// The level meter of one stream.
pub struct LevelMeter {
    cfg: LevelConfig,
    decode: Decode,
    channels: usize,
    quiet_since: Option<Duration>,
    figures: LevelFigures,
    sum_squares: f64,
    samples: u64,
    /// The silence threshold as a mean square.
    quiet_mean_square: f64,
    loudness: Option<Box<EbuR128>>,
}

impl std::fmt::Debug for LevelMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LevelMeter")
            .field("figures", &self.figures)
            .finish_non_exhaustive()
    }
}

impl LevelMeter {
    /// A meter for `format`; None if it is not audio we decode.
    pub fn new(format: PayloadFormat, cfg: LevelConfig) -> Option<Self> {
        let decode = match format {
            PayloadFormat::Pcmu | PayloadFormat::Pcma => {
                let (samples, squares) = g711_tables(format)?;
                Decode::Table(samples, squares)
            }
            other => Decode::Codec(Box::new(RtpDecoder::new(&other).ok()?)),
        };
        let channels = usize::from(format.channels().unwrap_or(1).max(1));
        let rate = format.sample_rate().unwrap_or(format.clock_rate());
        let loudness = cfg
            .loudness
            .then(|| EbuR128::new(channels as u32, rate, Mode::M | Mode::S).ok())
            .flatten()
            .map(Box::new);
        Some(LevelMeter {
            cfg,
            decode,
            channels,
            quiet_since: None,
            figures: LevelFigures::default(),
            sum_squares: 0.0,
            samples: 0,
            quiet_mean_square: 10f64.powf(cfg.silence_below_dbfs / 10.0),
            loudness,
        })
    }

    /// Measures one payload that arrived at `now`; `scratch` is reused for decoded samples.
    pub fn on_payload(&mut self, now: Duration, payload: &[u8], scratch: &mut Vec<f32>) {
        scratch.clear();
        let (energy, samples) = match &mut self.decode {
            Decode::Table(_, squares) if self.loudness.is_none() => {
                (sum_of_squares(payload, squares), payload.len())
            }
            Decode::Table(table, _) => {
                scratch.extend(payload.iter().map(|&c| table[usize::from(c)]));
                (energy_of(scratch), scratch.len())
            }
            Decode::Codec(d) => {
                if d.decode(payload, scratch).is_err() {
                    self.figures.decode_errors += 1;
                    return;
                }
                self.channels = usize::from(d.channels().unwrap_or(1).max(1));
                (energy_of(scratch), scratch.len())
            }
        };
        self.measured(now, energy, samples, scratch);
    }

    /// Measures one G.711 payload that arrived at `now` from its sum of squares `energy` over
    /// `samples` samples (from [`g711_squares`]); only a G.711 meter without loudness takes it.
    pub fn on_energy(&mut self, now: Duration, energy: f64, samples: usize) {
        if matches!(self.decode, Decode::Table(..)) && self.loudness.is_none() {
            self.measured(now, energy, samples, &mut []);
        }
    }

    /// Folds one payload's `energy` over `samples` samples (decoded into `scratch` unless the
    /// squares were summed from a table) into the level, silence and loudness.
    fn measured(&mut self, now: Duration, energy: f64, samples: usize, scratch: &mut [f32]) {
        if samples == 0 {
            return;
        }
        self.sum_squares += energy;
        self.samples += samples as u64;
        let quiet = self.is_quiet(energy / samples as f64);
        if quiet {
            let since = *self.quiet_since.get_or_insert(now);
            let quiet_for = now.saturating_sub(since);
            if !self.figures.silent && quiet_for >= self.cfg.silence_after {
                self.figures.silent = true;
                self.figures.silences += 1;
            }
        } else {
            self.quiet_since = None;
            self.figures.silent = false;
        }
        if let Some(l) = self.loudness.as_mut().filter(|_| !scratch.is_empty()) {
            // The frames are whole: a payload carries every channel of each frame.
            let whole = scratch.len() - scratch.len() % self.channels;
            let _ = l.add_frames_f32(&scratch[..whole]);
        }
    }

    /// Whether a packet whose mean square is `mean_square` is under the silence threshold:
    /// `dbfs(√mean_square) < threshold`, compared as squares (no root or logarithm per packet).
    fn is_quiet(&self, mean_square: f64) -> bool {
        if mean_square > DBFS_FLOOR_RMS * DBFS_FLOOR_RMS {
            mean_square < self.quiet_mean_square
        } else {
            DBFS_FLOOR < self.cfg.silence_below_dbfs
        }
    }

    /// The figures as of `now`, starting a new level period.
    pub fn report(&mut self, now: Duration) -> LevelFigures {
        let f = &mut self.figures;
        if self.samples > 0 {
            f.level_dbfs = Some(dbfs((self.sum_squares / self.samples as f64).sqrt()));
        }
        f.quiet_for_s = self
            .quiet_since
            .map_or(0.0, |s| now.saturating_sub(s).as_secs_f64());
        if let Some(l) = self.loudness.as_ref() {
            f.momentary_lufs = l.loudness_momentary().ok().filter(|v| v.is_finite());
            f.short_term_lufs = l.loudness_shortterm().ok().filter(|v| v.is_finite());
        }
        self.sum_squares = 0.0;
        self.samples = 0;
        *f
    }
}

/// The sum of the samples' squares.
fn energy_of(samples: &[f32]) -> f64 {
    samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum()
}

/// The table of squares that gives the level of a stream of `format` without decoding it, if
/// there is one and `cfg` asks for level without loudness (loudness needs the samples).
pub fn g711_squares(format: PayloadFormat, cfg: &LevelConfig) -> Option<&'static [f64; 256]> {
    if cfg.loudness {
        return None;
    }
    match format {
        PayloadFormat::Pcmu | PayloadFormat::Pcma => g711_tables(format).map(|(_, sq)| sq),
        _ => None,
    }
}

/// The sum of the squares of G.711 `codes`, from a table of each code's square. Every square
/// is a multiple of 2^-30 below 1 (a 16-bit sample over 32768, squared), so a packet's sum is
/// exact in an f64 whatever the order: four running sums give the same bits as one.
pub fn sum_of_squares(codes: &[u8], squares: &[f64; 256]) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut quads = codes.chunks_exact(4);
    for q in &mut quads {
        for (a, &c) in acc.iter_mut().zip(q) {
            *a += squares[usize::from(c)];
        }
    }
    let tail: f64 = quads
        .remainder()
        .iter()
        .map(|&c| squares[usize::from(c)])
        .sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// The G.711 table of `format` and the table of its squares (None for other formats).
fn g711_tables(format: PayloadFormat) -> Option<(&'static [f32; 256], &'static [f64; 256])> {
    static ULAW: OnceLock<[f64; 256]> = OnceLock::new();
    static ALAW: OnceLock<[f64; 256]> = OnceLock::new();
    let samples = g711_table(format)?;
    let cell = match format {
        PayloadFormat::Pcmu => &ULAW,
        _ => &ALAW,
    };
    let squares = cell.get_or_init(|| samples.map(|s| f64::from(s) * f64::from(s)));
    Some((samples, squares))
}

/// The RMS at and under which [`dbfs`] reads [`DBFS_FLOOR`].
const DBFS_FLOOR_RMS: f64 = 1e-6;

/// What digital silence reads, dBFS.
const DBFS_FLOOR: f64 = -120.0;

/// RMS to dBFS; digital silence (and anything quieter than 24-bit audio) reads −120 dBFS.
fn dbfs(rms: f64) -> f64 {
    if rms > DBFS_FLOOR_RMS {
        20.0 * rms.log10()
    } else {
        DBFS_FLOOR
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn tone(amplitude: f64, n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| {
                let s = amplitude * (i as f64 * 2.0 * std::f64::consts::PI * 1000.0 / 8000.0).sin();
                crate::audio::g711::linear_to_ulaw((s * 32767.0) as i16)
            })
            .collect()
    }

    #[test]
    fn the_table_agrees_with_symphonia_and_a_tone_has_its_level() {
        let table = g711_table(PayloadFormat::Pcmu).unwrap();
        let mut d = RtpDecoder::new(&PayloadFormat::Pcmu).unwrap();
        let mut out = Vec::new();
        d.decode(&[0x00, 0x7f, 0x80, 0xff, 0x12], &mut out).unwrap();
        assert_eq!(
            out,
            [table[0], table[0x7f], table[0x80], table[0xff], table[0x12]]
        );
        let mut m = LevelMeter::new(PayloadFormat::Pcmu, LevelConfig::default()).unwrap();
        let mut scratch = Vec::new();
        m.on_payload(Duration::ZERO, &tone(0.5, 160), &mut scratch);
        // A sine at half scale: −6 dB peak, −9 dBFS RMS.
        let level = m.report(Duration::ZERO).level_dbfs.unwrap();
        assert!((level + 9.03).abs() < 0.2, "{level}");
    }

    #[test]
    fn the_table_of_squares_gives_the_same_bits_as_the_decoded_samples_in_order() {
        for format in [PayloadFormat::Pcmu, PayloadFormat::Pcma] {
            let (samples, squares) = g711_tables(format).unwrap();
            // Every code's sample is a 16-bit value over 32768: the premise of exact sums.
            assert!(samples.iter().all(|s| (s * 32768.0).fract() == 0.0));
            let mut rng = ChaCha8Rng::seed_from_u64(0x2545_f491);
            for len in [1usize, 3, 4, 7, 160, 161, 320, 1500] {
                let codes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                let decoded: Vec<f32> = codes.iter().map(|&c| samples[usize::from(c)]).collect();
                let in_order = energy_of(&decoded);
                assert_eq!(
                    sum_of_squares(&codes, squares).to_bits(),
                    in_order.to_bits()
                );
            }
            // And the meter's two paths (with loudness: decoded; without: squares) agree.
            let loud = tone(0.3, 160);
            let mut plain = LevelMeter::new(format, LevelConfig::default()).unwrap();
            let with = LevelConfig {
                loudness: true,
                ..LevelConfig::default()
            };
            let mut decoded = LevelMeter::new(format, with).unwrap();
            let mut scratch = Vec::new();
            plain.on_payload(Duration::ZERO, &loud, &mut scratch);
            decoded.on_payload(Duration::ZERO, &loud, &mut scratch);
            let level = |m: &mut LevelMeter| m.report(Duration::ZERO).level_dbfs.unwrap();
            assert_eq!(level(&mut plain).to_bits(), level(&mut decoded).to_bits());
        }
    }

    #[test]
    fn the_quiet_test_on_squares_agrees_with_the_level_in_dbfs() {
        for threshold in [-130.0, -120.0, -90.0, -60.0, -45.5, -20.0, 0.0] {
            let cfg = LevelConfig {
                silence_below_dbfs: threshold,
                ..LevelConfig::default()
            };
            let m = LevelMeter::new(PayloadFormat::Pcmu, cfg).unwrap();
            for i in 0..2000 {
                // Mean squares from 1e-16 to 1 on a log scale, and both sides of the threshold.
                let mean_square = 10f64.powf(-16.0 + f64::from(i) * 0.008);
                let near = 10f64.powf(threshold / 10.0) * (1.0 + (f64::from(i) - 1000.0) * 1e-9);
                for ms in [mean_square, near] {
                    let by_dbfs = dbfs(ms.sqrt()) < threshold;
                    assert_eq!(m.is_quiet(ms), by_dbfs, "{ms} at {threshold}");
                }
            }
        }
    }

    #[test]
    fn silence_is_told_after_the_configured_time_and_counted_once_per_episode() {
        let cfg = LevelConfig {
            silence_after: Duration::from_secs(2),
            ..LevelConfig::default()
        };
        let mut m = LevelMeter::new(PayloadFormat::Pcmu, cfg).unwrap();
        let mut scratch = Vec::new();
        let quiet = tone(0.0, 160);
        let loud = tone(0.5, 160);
        let ms = Duration::from_millis;
        // 1 s of tone, 3 s quiet, 1 s tone, 1 s quiet.
        for i in 0..300u64 {
            let p = if (50..200).contains(&i) || i >= 250 {
                &quiet
            } else {
                &loud
            };
            m.on_payload(ms(i * 20), p, &mut scratch);
            if i == 140 {
                let f = m.report(ms(i * 20));
                assert!(!f.silent && (f.quiet_for_s - 1.8).abs() < 1e-9, "{f:?}");
            }
            if i == 199 {
                assert!(m.report(ms(i * 20)).silent);
            }
        }
        let f = m.report(ms(6000));
        assert!(!f.silent, "{f:?}");
        assert_eq!(f.silences, 1);
    }

    #[test]
    fn loudness_of_a_half_scale_sine_is_about_minus_nine_lufs() {
        let cfg = LevelConfig {
            loudness: true,
            ..LevelConfig::default()
        };
        let format = PayloadFormat::L16 {
            rate: 48000,
            channels: 1,
        };
        let mut m = LevelMeter::new(format, cfg).unwrap();
        let mut scratch = Vec::new();
        for p in 0..200u64 {
            let payload: Vec<u8> = (0..960u64)
                .flat_map(|i| {
                    let n = p * 960 + i;
                    let s = 0.5 * (n as f64 * 2.0 * std::f64::consts::PI * 997.0 / 48000.0).sin();
                    ((s * 32767.0) as i16).to_be_bytes()
                })
                .collect();
            m.on_payload(Duration::from_millis(p * 20), &payload, &mut scratch);
        }
        let f = m.report(Duration::from_secs(4));
        // A 997 Hz sine at −6 dBFS peak reads about −9 LUFS (mono, K-weighting ≈ +0.7 dB at 1 kHz).
        let st = f.short_term_lufs.unwrap();
        assert!((st + 9.0).abs() < 1.0, "{f:?}");
        assert!((f.momentary_lufs.unwrap() - st).abs() < 0.5, "{f:?}");
    }
}
