//! The level of one monitored stream: silence (under a threshold for a while) and, when asked,
//! EBU R128 momentary and short-term loudness (the `ebur128` crate) (sans-IO).
//!
//! G.711 is decoded through a 256-entry table filled once from symphonia's own decoder, so a
//! thousand streams cost a table lookup per sample; other formats use a decoder per stream.

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
    /// A G.711 table.
    Table(&'static [f32; 256]),
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
            PayloadFormat::Pcmu => Decode::Table(g711_table(PayloadFormat::Pcmu)?),
            PayloadFormat::Pcma => Decode::Table(g711_table(PayloadFormat::Pcma)?),
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
            loudness,
        })
    }

    /// Measures one payload that arrived at `now`; `scratch` is reused for decoded samples.
    pub fn on_payload(&mut self, now: Duration, payload: &[u8], scratch: &mut Vec<f32>) {
        scratch.clear();
        match &mut self.decode {
            Decode::Table(table) => scratch.extend(payload.iter().map(|&c| table[usize::from(c)])),
            Decode::Codec(d) => {
                if d.decode(payload, scratch).is_err() {
                    self.figures.decode_errors += 1;
                    return;
                }
                self.channels = usize::from(d.channels().unwrap_or(1).max(1));
            }
        }
        if scratch.is_empty() {
            return;
        }
        let energy: f64 = scratch.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
        self.sum_squares += energy;
        self.samples += scratch.len() as u64;
        let rms = (energy / scratch.len() as f64).sqrt();
        let quiet = dbfs(rms) < self.cfg.silence_below_dbfs;
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
        if let Some(l) = self.loudness.as_mut() {
            // The frames are whole: a payload carries every channel of each frame.
            let whole = scratch.len() - scratch.len() % self.channels;
            let _ = l.add_frames_f32(&scratch[..whole]);
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

/// RMS to dBFS; digital silence (and anything quieter than 24-bit audio) reads −120 dBFS.
fn dbfs(rms: f64) -> f64 {
    if rms > 1e-6 {
        20.0 * rms.log10()
    } else {
        -120.0
    }
}

#[cfg(test)]
mod tests {
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
