//! The `--impair` option: a one-line network description for `send` and `relay`.
//!
//! `delay=40ms,jitter=20ms,loss=2%,burst=4,reorder=5%,dup=1%,drift=300ppm,seed=7`; every key is
//! optional. `jitter=pareto:20ms:2.5` picks the heavy-tailed model, `spike=2500ms:20s:3s` adds
//! delay spikes (peak, mean interval, length). With `burst=N`, `loss` is the long-run loss
//! rate and losses come in runs of N packets on average (Gilbert–Elliott). `drop-first=N` and
//! `drop-last=N` lose the media stream's first and last N packets, `drop-bye=yes` every RTCP BYE
//! (see [`EdgeDrops`]).

use std::str::FromStr;
use std::time::Duration;

use crate::netem::edge_drop::EdgeDrops;
use crate::netem::model::{GilbertElliott, Impairment, Jitter, Spikes};

/// A parsed `--impair` value.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpairSpec {
    /// What the network does.
    pub impairment: Impairment,
    /// Sender clock error in ppm (for `send`).
    pub drift_ppm: f64,
    /// Seed of the model's random choices.
    pub seed: u64,
    /// Packets lost at the stream's edges, whatever the model does.
    pub edges: EdgeDrops,
}

/// A malformed `--impair` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid impairment '{item}': {reason} (example: delay=40ms,jitter=20ms,loss=2%,burst=4,reorder=5%,dup=1%,drift=300ppm,seed=7)")]
pub struct ImpairSpecError {
    item: String,
    reason: String,
}

fn bad(item: &str, reason: impl Into<String>) -> ImpairSpecError {
    ImpairSpecError {
        item: item.into(),
        reason: reason.into(),
    }
}

fn ms(item: &str, text: &str) -> Result<f64, ImpairSpecError> {
    humantime::parse_duration(text)
        .map(|d: Duration| d.as_secs_f64() * 1000.0)
        .map_err(|e| bad(item, e.to_string()))
}

fn probability(item: &str, text: &str) -> Result<f64, ImpairSpecError> {
    let value = match text.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().map(|p| p / 100.0),
        None => text.parse::<f64>(),
    }
    .map_err(|_| bad(item, "expected a probability like 2% or 0.02"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(bad(item, "probability must be between 0 and 100 %"))
    }
}

/// A packet count for the edge drops (at most 10,000: they are held in memory).
fn count(item: &str, text: &str) -> Result<u32, ImpairSpecError> {
    text.parse::<u32>()
        .ok()
        .filter(|&n| n <= 10_000)
        .ok_or_else(|| bad(item, "expected a number of packets from 0 to 10000"))
}

impl FromStr for ImpairSpec {
    type Err = ImpairSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut spec = ImpairSpec {
            impairment: Impairment::default(),
            drift_ppm: 0.0,
            seed: 1,
            edges: EdgeDrops::default(),
        };
        let mut burst_len: Option<f64> = None;
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| bad(item, "expected key=value"))?;
            let net = &mut spec.impairment;
            match key {
                "delay" => net.delay_ms = ms(item, value)?,
                "jitter" => net.jitter = jitter(item, value)?,
                "loss" => net.loss = probability(item, value)?,
                "burst" => burst_len = Some(burst(item, value)?),
                "reorder" => net.reorder = probability(item, value)?,
                "dup" | "duplicate" => net.duplicate = probability(item, value)?,
                "drift" => spec.drift_ppm = drift(item, value)?,
                "drop-first" => spec.edges.first = count(item, value)?,
                "drop-last" => spec.edges.last = count(item, value)?,
                "drop-bye" => spec.edges.bye = yes_no(item, value)?,
                "seed" => {
                    spec.seed = value
                        .parse()
                        .map_err(|_| bad(item, "expected an integer seed"))?
                }
                "spike" => net.spikes = Some(spike(item, value)?),
                _ => return Err(bad(
                    item,
                    "unknown key (delay, jitter, loss, burst, reorder, dup, drift, seed, spike, \
                     drop-first, drop-last, drop-bye)",
                )),
            }
        }
        if let Some(len) = burst_len {
            // Stationary bad-state probability equal to the loss rate, mean stay of `len` packets,
            // every packet lost in the bad state.
            let p = spec.impairment.loss.min(0.99);
            let bad_to_good = 1.0 / len;
            spec.impairment.burst = Some(GilbertElliott {
                p_good_to_bad: (p * bad_to_good / (1.0 - p)).min(1.0),
                p_bad_to_good: bad_to_good,
                loss_good: 0.0,
                loss_bad: 1.0,
            });
            spec.impairment.loss = 0.0;
        }
        Ok(spec)
    }
}

/// `jitter=20ms` (normal) or `jitter=pareto:20ms[:2.5]`.
fn jitter(item: &str, value: &str) -> Result<Jitter, ImpairSpecError> {
    Ok(match value.split(':').collect::<Vec<_>>().as_slice() {
        ["pareto", scale] => Jitter::Pareto {
            scale_ms: ms(item, scale)?,
            shape: 2.5,
        },
        ["pareto", scale, shape] => Jitter::Pareto {
            scale_ms: ms(item, scale)?,
            shape: shape
                .parse()
                .map_err(|_| bad(item, "shape must be a number"))?,
        },
        [std] => Jitter::Normal {
            std_ms: ms(item, std)?,
        },
        _ => {
            return Err(bad(
                item,
                "expected jitter=20ms or jitter=pareto:20ms[:2.5]",
            ))
        }
    })
}

/// `burst=N`: a mean burst length in packets, at least 1.
fn burst(item: &str, value: &str) -> Result<f64, ImpairSpecError> {
    let len: f64 = value
        .parse()
        .map_err(|_| bad(item, "expected a mean burst length in packets"))?;
    if len < 1.0 {
        return Err(bad(item, "mean burst length must be at least 1"));
    }
    Ok(len)
}

/// `drift=300ppm`.
fn drift(item: &str, value: &str) -> Result<f64, ImpairSpecError> {
    value
        .strip_suffix("ppm")
        .unwrap_or(value)
        .trim()
        .parse()
        .map_err(|_| bad(item, "expected drift=300ppm"))
}

/// `drop-bye=yes|no`.
fn yes_no(item: &str, value: &str) -> Result<bool, ImpairSpecError> {
    match value {
        "yes" | "on" | "true" | "1" => Ok(true),
        "no" | "off" | "false" | "0" => Ok(false),
        _ => Err(bad(item, "expected drop-bye=yes or drop-bye=no")),
    }
}

/// `spike=PEAK:EVERY:LENGTH`.
fn spike(item: &str, value: &str) -> Result<Spikes, ImpairSpecError> {
    let parts: Vec<&str> = value.split(':').collect();
    let [peak, every, length] = parts.as_slice() else {
        return Err(bad(
            item,
            "expected spike=PEAK:EVERY:LENGTH, e.g. 2500ms:20s:3s",
        ));
    };
    Ok(Spikes {
        extra_ms: ms(item, peak)?,
        every_s: ms(item, every)? / 1000.0,
        duration_ms: ms(item, length)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netem::model::{Fate, NetworkModel};

    #[test]
    fn parses_the_documented_example() {
        let spec: ImpairSpec =
            "delay=40ms,jitter=20ms,loss=2%,reorder=5%,dup=1%,drift=300ppm,seed=7"
                .parse()
                .unwrap();
        assert_eq!(spec.impairment.delay_ms, 40.0);
        assert_eq!(spec.impairment.jitter, Jitter::Normal { std_ms: 20.0 });
        assert_eq!(spec.impairment.loss, 0.02);
        assert_eq!(spec.impairment.reorder, 0.05);
        assert_eq!(spec.impairment.duplicate, 0.01);
        assert_eq!((spec.drift_ppm, spec.seed), (300.0, 7));
        let pareto: ImpairSpec = "jitter=pareto:10ms:1.8,spike=2s:20s:3s".parse().unwrap();
        assert_eq!(
            pareto.impairment.jitter,
            Jitter::Pareto {
                scale_ms: 10.0,
                shape: 1.8
            }
        );
        assert_eq!(pareto.impairment.spikes.map(|s| s.every_s), Some(20.0));
    }

    #[test]
    fn burst_keeps_the_long_run_loss_rate() {
        let spec: ImpairSpec = "loss=5%,burst=4,seed=3".parse().unwrap();
        let mut model = NetworkModel::new(spec.impairment, spec.seed);
        let n = 200_000;
        let lost = (0..n)
            .filter(|i| model.transmit(Duration::from_millis(20 * i)) == Fate::Dropped)
            .count();
        let rate = lost as f64 / n as f64;
        assert!((rate - 0.05).abs() < 0.005, "loss rate {rate}");
    }

    #[test]
    fn mistakes_are_explained() {
        for (input, needle) in [
            ("delay", "key=value"),
            ("loss=150%", "between 0 and 100"),
            ("jitter=fast", "invalid"),
            ("speed=2", "unknown key"),
            ("burst=0.5", "at least 1"),
        ] {
            let err = input.parse::<ImpairSpec>().unwrap_err().to_string();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }
}
