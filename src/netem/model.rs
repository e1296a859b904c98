//! A seeded, sans-IO network model: what happens to each packet between sender and receiver.
//!
//! The same model drives `simulate` (virtual time), `send --impair` and `relay` (real sockets):
//! give it the time a packet is sent and it answers when (and how often) the packet arrives.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Pareto};
use serde::{Deserialize, Serialize};

/// Random variation added to the base delay of each packet.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Jitter {
    /// No variation.
    #[default]
    None,
    /// |N(0, std_ms)|: the everyday wobble of a loaded link.
    Normal {
        /// Standard deviation in ms.
        std_ms: f64,
    },
    /// Pareto(scale_ms, shape) minus scale: mostly small, with a heavy tail of long delays.
    Pareto {
        /// Scale in ms (the smallest extra delay is 0, typical values near this).
        scale_ms: f64,
        /// Shape; smaller is heavier-tailed (1.5–3 is realistic for cellular links).
        shape: f64,
    },
}

/// Bursty loss: the Gilbert–Elliott two-state model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GilbertElliott {
    /// Chance per packet of moving from the good to the bad state.
    pub p_good_to_bad: f64,
    /// Chance per packet of moving from the bad back to the good state.
    pub p_bad_to_good: f64,
    /// Loss probability in the good state.
    pub loss_good: f64,
    /// Loss probability in the bad state.
    pub loss_bad: f64,
}

/// Delay spikes: at random moments the delay climbs by `extra_ms` and drains back over `duration_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spikes {
    /// Mean time between spikes in seconds (exponentially distributed).
    pub every_s: f64,
    /// Peak extra delay in ms.
    pub extra_ms: f64,
    /// How long the spike lasts, rising at once and falling linearly, in ms.
    pub duration_ms: f64,
}

/// What an outage does to packets sent during it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutageKind {
    /// Packets queue and arrive in a burst when the outage ends.
    Freeze,
    /// Packets are lost.
    Blackout,
}

/// A scheduled outage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    /// Start, in seconds of stream time.
    pub at_s: f64,
    /// Length in ms.
    pub duration_ms: f64,
    /// Freeze or blackout.
    pub kind: OutageKind,
}

/// A share of packets held back far beyond any buffer (a stuck queue, a misrouted path).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VeryLate {
    /// Chance per packet.
    pub share: f64,
    /// Extra delay in ms.
    pub extra_ms: f64,
}

/// A lasting change of the one-way delay (a route change).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayStep {
    /// From this moment, in seconds of stream time.
    pub at_s: f64,
    /// Added to the delay from then on, in ms (may be negative).
    pub extra_ms: f64,
}

/// Everything the network does to the stream; all fields default to a perfect network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Impairment {
    /// Constant one-way delay in ms.
    pub delay_ms: f64,
    /// Per-packet random delay.
    pub jitter: Jitter,
    /// Independent random loss probability (on top of bursty loss).
    pub loss: f64,
    /// Bursty loss.
    pub burst: Option<GilbertElliott>,
    /// Chance that a packet is held back behind 1–3 of its successors.
    pub reorder: f64,
    /// Chance that a packet arrives twice.
    pub duplicate: f64,
    /// Random delay spikes.
    pub spikes: Option<Spikes>,
    /// Scheduled freezes and blackouts.
    pub outages: Vec<Outage>,
    /// Packets that arrive far too late.
    pub very_late: Option<VeryLate>,
    /// Lasting delay changes.
    pub steps: Vec<DelayStep>,
}

/// What the network did with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Lost.
    Dropped,
    /// Arrives once, at this time.
    Delivered(Duration),
    /// Arrives twice.
    Duplicated(Duration, Duration),
}

/// Counts of what the model did, for reports and for checking the receiver's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NetworkCounts {
    /// Packets offered.
    pub sent: u64,
    /// Packets lost (random, bursty or blackout).
    pub dropped: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Packets held back behind successors.
    pub reordered: u64,
    /// Packets held by a freeze.
    pub frozen: u64,
    /// Packets made very late.
    pub very_late: u64,
}

/// The seeded network model.
#[derive(Debug, Clone)]
pub struct NetworkModel {
    config: Impairment,
    rng: ChaCha8Rng,
    bad_state: bool,
    /// Latest arrival of an in-order packet: a FIFO link never delivers out of order by itself.
    fifo_floor: Duration,
    next_spike_at: Option<f64>,
    spike_started: Option<f64>,
    counts: NetworkCounts,
}

/// The longest interval a reordered packet is held back by, in multiples of 20 ms.
const REORDER_HOLD_MS: (f64, f64) = (25.0, 65.0);

impl NetworkModel {
    /// A model of `config`, reproducible from `seed`.
    pub fn new(config: Impairment, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let next_spike_at = config.spikes.map(|s| exp_sample(&mut rng, s.every_s));
        NetworkModel {
            config,
            rng,
            bad_state: false,
            fifo_floor: Duration::ZERO,
            next_spike_at,
            spike_started: None,
            counts: NetworkCounts::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Impairment {
        &self.config
    }

    /// What the model has done so far.
    pub fn counts(&self) -> NetworkCounts {
        self.counts
    }

    /// Decides the fate of a packet sent at `sent` (packets must be offered in sending order).
    pub fn transmit(&mut self, sent: Duration) -> Fate {
        self.counts.sent += 1;
        let t = sent.as_secs_f64();
        let mut release = sent;
        for outage in &self.config.outages {
            let (start, end) = (outage.at_s, outage.at_s + outage.duration_ms / 1000.0);
            if t >= start && t < end {
                match outage.kind {
                    OutageKind::Blackout => {
                        self.counts.dropped += 1;
                        return Fate::Dropped;
                    }
                    OutageKind::Freeze => {
                        self.counts.frozen += 1;
                        release = Duration::from_secs_f64(end);
                    }
                }
            }
        }
        if self.lost() {
            self.counts.dropped += 1;
            return Fate::Dropped;
        }
        let step_ms: f64 = (self.config.steps.iter())
            .filter(|s| t >= s.at_s)
            .map(|s| s.extra_ms)
            .sum();
        let delay_ms = self.config.delay_ms + step_ms + self.jitter_ms() + self.spike_ms(t);
        let mut arrival = release + Duration::from_secs_f64(delay_ms.max(0.0) / 1000.0);
        let very_late = self
            .config
            .very_late
            .filter(|v| v.share > 0.0 && self.rng.random_bool(v.share.clamp(0.0, 1.0)));
        if let Some(v) = very_late {
            self.counts.very_late += 1;
            arrival = arrival.max(self.fifo_floor) + Duration::from_secs_f64(v.extra_ms / 1000.0);
        } else if self.config.reorder > 0.0
            && self.rng.random_bool(self.config.reorder.clamp(0.0, 1.0))
        {
            self.counts.reordered += 1;
            let hold = self.rng.random_range(REORDER_HOLD_MS.0..REORDER_HOLD_MS.1);
            arrival = arrival.max(self.fifo_floor) + Duration::from_secs_f64(hold / 1000.0);
        } else {
            arrival = arrival.max(self.fifo_floor);
            self.fifo_floor = arrival;
        }
        if self.config.duplicate > 0.0
            && self.rng.random_bool(self.config.duplicate.clamp(0.0, 1.0))
        {
            self.counts.duplicated += 1;
            let again = arrival + Duration::from_millis(self.rng.random_range(0..40));
            return Fate::Duplicated(arrival, again);
        }
        Fate::Delivered(arrival)
    }

    fn lost(&mut self) -> bool {
        let mut p = self.config.loss;
        if let Some(ge) = self.config.burst {
            let flip = if self.bad_state {
                ge.p_bad_to_good
            } else {
                ge.p_good_to_bad
            };
            if self.rng.random_bool(flip.clamp(0.0, 1.0)) {
                self.bad_state = !self.bad_state;
            }
            let state_loss = if self.bad_state {
                ge.loss_bad
            } else {
                ge.loss_good
            };
            p = 1.0 - (1.0 - p) * (1.0 - state_loss);
        }
        p > 0.0 && self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    fn jitter_ms(&mut self) -> f64 {
        match self.config.jitter {
            Jitter::None => 0.0,
            Jitter::Normal { std_ms } => Normal::new(0.0, std_ms.max(0.0))
                .map(|d| d.sample(&mut self.rng).abs())
                .unwrap_or(0.0),
            Jitter::Pareto { scale_ms, shape } => Pareto::new(scale_ms.max(1e-6), shape.max(0.1))
                .map(|d| d.sample(&mut self.rng) - scale_ms)
                .unwrap_or(0.0),
        }
    }

    fn spike_ms(&mut self, t: f64) -> f64 {
        let Some(spikes) = self.config.spikes else {
            return 0.0;
        };
        while let Some(next) = self.next_spike_at {
            if t < next {
                break;
            }
            self.spike_started = Some(next);
            self.next_spike_at = Some(
                next + spikes.duration_ms / 1000.0 + exp_sample(&mut self.rng, spikes.every_s),
            );
        }
        match self.spike_started {
            Some(start) => {
                let into = (t - start) * 1000.0;
                if into < spikes.duration_ms {
                    spikes.extra_ms * (1.0 - into / spikes.duration_ms)
                } else {
                    0.0
                }
            }
            None => 0.0,
        }
    }
}

fn exp_sample(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    -mean.max(1e-3) * u.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(config: Impairment, seed: u64, packets: u64) -> (Vec<Fate>, NetworkCounts) {
        let mut model = NetworkModel::new(config, seed);
        let fates = (0..packets)
            .map(|i| model.transmit(Duration::from_millis(20 * i)))
            .collect();
        (fates, model.counts())
    }

    #[test]
    fn a_perfect_network_delivers_everything_in_order_after_the_delay() {
        let (fates, counts) = run(
            Impairment {
                delay_ms: 30.0,
                ..Default::default()
            },
            1,
            100,
        );
        for (i, fate) in fates.iter().enumerate() {
            assert_eq!(
                *fate,
                Fate::Delivered(Duration::from_millis(20 * i as u64 + 30))
            );
        }
        assert_eq!(counts.dropped + counts.duplicated + counts.reordered, 0);
    }

    #[test]
    fn the_same_seed_gives_the_same_network() {
        let config = Impairment {
            jitter: Jitter::Pareto {
                scale_ms: 10.0,
                shape: 2.0,
            },
            loss: 0.05,
            reorder: 0.05,
            duplicate: 0.05,
            ..Default::default()
        };
        assert_eq!(run(config.clone(), 7, 500), run(config.clone(), 7, 500));
        assert_ne!(run(config.clone(), 7, 500).0, run(config, 8, 500).0);
    }

    #[test]
    fn bursty_loss_comes_in_runs() {
        let config = Impairment {
            burst: Some(GilbertElliott {
                p_good_to_bad: 0.01,
                p_bad_to_good: 0.2,
                loss_good: 0.0,
                loss_bad: 0.9,
            }),
            ..Default::default()
        };
        let (fates, counts) = run(config, 3, 20_000);
        let lost: Vec<bool> = fates.iter().map(|f| *f == Fate::Dropped).collect();
        let runs = lost.windows(2).filter(|w| w[0] && !w[1]).count() as f64;
        let mean_run = counts.dropped as f64 / runs;
        assert!(counts.dropped > 200, "{counts:?}");
        assert!(mean_run > 2.5, "losses should cluster, mean run {mean_run}");
    }

    #[test]
    fn a_freeze_releases_its_packets_in_a_burst_and_a_blackout_drops_them() {
        let freeze = Impairment {
            outages: vec![Outage {
                at_s: 1.0,
                duration_ms: 500.0,
                kind: OutageKind::Freeze,
            }],
            ..Default::default()
        };
        let (fates, counts) = run(freeze, 1, 100);
        assert_eq!(counts.frozen, 25);
        assert!(fates[50..75]
            .iter()
            .all(|f| *f == Fate::Delivered(Duration::from_millis(1500))));
        let blackout = Impairment {
            outages: vec![Outage {
                at_s: 1.0,
                duration_ms: 500.0,
                kind: OutageKind::Blackout,
            }],
            ..Default::default()
        };
        let (fates, counts) = run(blackout, 1, 100);
        assert_eq!(counts.dropped, 25);
        assert!(fates[50..75].iter().all(|f| *f == Fate::Dropped));
    }

    #[test]
    fn only_chosen_packets_are_reordered() {
        let config = Impairment {
            reorder: 0.1,
            jitter: Jitter::Normal { std_ms: 5.0 },
            ..Default::default()
        };
        let (fates, counts) = run(config, 11, 5000);
        let arrivals: Vec<Duration> = fates
            .iter()
            .filter_map(|f| match f {
                Fate::Delivered(a) => Some(*a),
                _ => None,
            })
            .collect();
        let inversions = arrivals.windows(2).filter(|w| w[1] < w[0]).count() as u64;
        assert!(
            counts.reordered > 400 && counts.reordered < 600,
            "{counts:?}"
        );
        assert!(
            inversions <= counts.reordered,
            "{inversions} inversions for {counts:?}"
        );
        assert!(inversions > 0);
    }

    #[test]
    fn spikes_raise_delay_by_up_to_their_peak() {
        let config = Impairment {
            spikes: Some(Spikes {
                every_s: 5.0,
                extra_ms: 3000.0,
                duration_ms: 4000.0,
            }),
            ..Default::default()
        };
        let (fates, _) = run(config, 5, 3000);
        let max_delay = fates
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match f {
                Fate::Delivered(a) => Some(a.as_secs_f64() - 0.02 * i as f64),
                _ => None,
            })
            .fold(0.0, f64::max);
        assert!(
            max_delay > 2.5 && max_delay <= 3.01,
            "max delay {max_delay}"
        );
    }
}
