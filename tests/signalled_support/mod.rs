//! Helpers for the telephone-event and comfort-noise tests: a PCMU stream with packets of
//! other payload types built by hand, played through the receive core in virtual time, and
//! spectrum measurements with rustfft.
#![allow(dead_code)]

use std::time::Duration;

use jitterplay::playout::metrics::MetricsSnapshot;
use jitterplay::playout::DtmfMode;
use jitterplay::playout::ReceiveCoreConfig;
use jitterplay::rtp::payload::PayloadFormat;
use jitterplay::sim::play_scheduled;
use rustfft::{num_complex::Complex, FftPlanner};

/// Output rate of the PCMU stream.
pub const RATE: f64 = 8000.0;
/// Payload type of telephone events in these streams.
pub const EVENT_PT: u8 = 101;
/// μ-law byte that decodes to 0.0.
pub const ULAW_ZERO: u8 = 0xFF;

/// One packet of the stream: when it is sent (ms), and what, in sequence-number order.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at_ms: f64,
    pub pt: u8,
    pub ts: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
    /// Lost on the way: it takes a sequence number but never arrives.
    pub lost: bool,
}

impl Sent {
    /// A 20 ms PCMU packet of `fill` bytes at timestamp `ts`, sent at its own time.
    pub fn audio(ts: u32, fill: u8) -> Self {
        Sent {
            at_ms: f64::from(ts) / 8.0,
            pt: 0,
            ts,
            marker: false,
            payload: vec![fill; 160],
            lost: false,
        }
    }
}

/// Numbers `packets` (already in send order) with consecutive sequence numbers and writes
/// their datagrams.
pub fn datagrams(packets: &[Sent]) -> Vec<(f64, Option<Vec<u8>>)> {
    packets
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let seq = (40_000 + i) as u16;
            let mut d = vec![0x80, p.pt | if p.marker { 0x80 } else { 0 }];
            d.extend_from_slice(&seq.to_be_bytes());
            d.extend_from_slice(&p.ts.to_be_bytes());
            d.extend_from_slice(&0x1234_5678u32.to_be_bytes());
            d.extend_from_slice(&p.payload);
            (p.at_ms, (!p.lost).then_some(d))
        })
        .collect()
}

/// Plays `packets` (each arriving 10 ms after it is sent) through a PCMU receive core with
/// telephone events on [`EVENT_PT`] and comfort noise on PT 13, a 400 ms target; returns
/// metrics and output.
pub fn play(packets: &[Sent], dtmf: DtmfMode) -> (MetricsSnapshot, Vec<f32>) {
    play_with_target(packets, dtmf, Duration::from_millis(400))
}

/// [`play`] with another target. A sender pause longer than the buffer lets the output run
/// dry and wait (its silence comes from the output's own fill, not from the core), so gaps
/// whose content is checked must be shorter than the target.
pub fn play_with_target(
    packets: &[Sent],
    dtmf: DtmfMode,
    target: Duration,
) -> (MetricsSnapshot, Vec<f32>) {
    let mut cfg = ReceiveCoreConfig::new(PayloadFormat::Pcmu, 8000, 1);
    cfg.telephone_event_pt = Some(EVENT_PT);
    cfg.dtmf = dtmf;
    cfg.set_target_window(target, target + Duration::from_millis(200));
    let arrivals = datagrams(packets)
        .into_iter()
        .filter_map(|(at_ms, d)| Some((Duration::from_secs_f64((at_ms + 10.0) / 1e3), d?)))
        .collect();
    let run = play_scheduled(cfg, arrivals).expect("receiver");
    (run.metrics, run.audio)
}

/// Power spectrum of `x` (Hann window, zero-padded to `n`): (bin width Hz, power per bin).
pub fn spectrum(x: &[f32], n: usize) -> (f64, Vec<f64>) {
    let len = x.len().min(n);
    let mut buf: Vec<Complex<f64>> = (0..n)
        .map(|i| {
            let v = if i < len {
                let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / len as f64).cos();
                f64::from(x[i]) * w
            } else {
                0.0
            };
            Complex::new(v, 0.0)
        })
        .collect();
    FftPlanner::new().plan_fft_forward(n).process(&mut buf);
    let power = buf[..n / 2].iter().map(|c| c.norm_sqr()).collect();
    (RATE / n as f64, power)
}

/// The frequency (Hz) of the strongest component of `x` between `lo` and `hi` Hz.
pub fn peak_between(x: &[f32], lo: f64, hi: f64) -> f64 {
    let (bin, power) = spectrum(x, 1 << 16);
    let (i, _) = power
        .iter()
        .enumerate()
        .filter(|(i, _)| (lo..=hi).contains(&(*i as f64 * bin)))
        .max_by(|a, b| a.1.total_cmp(b.1))
        .expect("bins in range");
    i as f64 * bin
}

/// Energy of `x` below and above `split` Hz.
pub fn energy_split(x: &[f32], split: f64) -> (f64, f64) {
    let (bin, power) = spectrum(x, x.len().next_power_of_two());
    let below = power
        .iter()
        .enumerate()
        .filter(|(i, _)| (*i as f64 * bin) < split)
        .map(|(_, p)| p)
        .sum();
    (below, power.iter().sum::<f64>() - below)
}

/// RMS of `x`.
pub fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// Runs of samples above `threshold` in magnitude, merging gaps shorter than `gap` samples
/// (a tone's own zero crossings): (start, end) pairs.
pub fn active_runs(x: &[f32], threshold: f32, gap: usize) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, s) in x.iter().enumerate() {
        if s.abs() <= threshold {
            continue;
        }
        match runs.last_mut() {
            Some(r) if i - r.1 <= gap => r.1 = i + 1,
            _ => runs.push((i, i + 1)),
        }
    }
    runs
}
