//! Simulation scenarios: the network, the sender's and the device's behaviour, by name or TOML.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::netem::model::{
    DelayStep, GilbertElliott, Impairment, Jitter, Outage, OutageKind, Spikes, VeryLate,
};

/// A span of time in a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Span {
    /// Start, in seconds of stream time.
    pub at_s: f64,
    /// Length in ms.
    pub duration_ms: f64,
}

/// What the sender does besides sending packets on time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SenderBehaviour {
    /// Sender clock error in ppm (positive: the sender's clock runs fast, it sends more audio per second).
    pub drift_ppm: f64,
    /// Packet duration in ms.
    pub ptime_ms: u32,
    /// First sequence number (None: seeded random).
    pub initial_seq: Option<u16>,
    /// First RTP timestamp (None: seeded random).
    pub initial_ts: Option<u32>,
    /// Moments the sender restarts: new random sequence and timestamp, same SSRC.
    pub restarts_at_s: Vec<f64>,
    /// Moments the sender switches to a new SSRC (and new sequence/timestamp).
    pub ssrc_changes_at_s: Vec<f64>,
    /// Silence suppression: the sender sends nothing, its timestamps keep running.
    pub pauses: Vec<Span>,
    /// Sequence number jumps with continuous timestamps.
    pub seq_jumps: Vec<SeqJump>,
    /// Changes of the packet duration mid-stream.
    pub ptime_changes: Vec<PtimeChange>,
}

/// The sender's sequence number jumps ahead; its timestamps go on as before.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeqJump {
    /// When, in seconds of stream time.
    pub at_s: f64,
    /// How far the sequence number jumps (wrapping).
    pub by: u16,
}

/// The sender changes its packet duration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PtimeChange {
    /// When, in seconds of stream time.
    pub at_s: f64,
    /// The new packet duration in ms.
    pub ptime_ms: u32,
}

impl Default for SenderBehaviour {
    fn default() -> Self {
        SenderBehaviour {
            drift_ppm: 0.0,
            ptime_ms: 20,
            initial_seq: None,
            initial_ts: None,
            restarts_at_s: Vec::new(),
            ssrc_changes_at_s: Vec::new(),
            pauses: Vec::new(),
            seq_jumps: Vec::new(),
            ptime_changes: Vec::new(),
        }
    }
}

/// The virtual audio device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceBehaviour {
    /// Device clock error in ppm (positive: it plays faster than nominal).
    pub clock_ppm: f64,
    /// Callback period in ms.
    pub period_ms: f64,
}

impl Default for DeviceBehaviour {
    fn default() -> Self {
        DeviceBehaviour {
            clock_ppm: 0.0,
            period_ms: 10.0,
        }
    }
}

/// A complete scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// One line saying what it models.
    pub description: String,
    /// Simulated length in seconds (the input loops); None plays the input once.
    pub duration_s: Option<f64>,
    /// The network.
    pub network: Impairment,
    /// The sender.
    pub sender: SenderBehaviour,
    /// The receiving device.
    pub device: DeviceBehaviour,
    /// Jitter buffer target window floor in ms (None: the player's default).
    pub target_min_ms: Option<f64>,
    /// Jitter buffer target window ceiling in ms (None: the player's default).
    pub target_max_ms: Option<f64>,
    /// RTCP with NACK recovery: the reverse path and the sender's retransmission history
    /// (None: no RTCP at all, as before recovery existed).
    pub recovery: Option<RecoveryBehaviour>,
}

/// RTCP feedback in a scenario: receiver reports and NACKs travel back over `reverse`; the
/// sender answers from its history, and retransmissions take the forward network like any
/// packet (so they can be lost too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecoveryBehaviour {
    /// The receiver-to-sender network.
    pub reverse: Impairment,
    /// Retransmit as RFC 4588 RTX (else plainly, on the media SSRC).
    pub rtx: bool,
    /// How long the sender keeps packets for retransmission, in seconds.
    pub history_s: f64,
}

impl Default for RecoveryBehaviour {
    fn default() -> Self {
        RecoveryBehaviour {
            reverse: Impairment {
                delay_ms: 25.0,
                ..Impairment::default()
            },
            rtx: true,
            history_s: 5.0,
        }
    }
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: "custom".into(),
            description: String::new(),
            duration_s: None,
            network: Impairment::default(),
            sender: SenderBehaviour::default(),
            device: DeviceBehaviour::default(),
            target_min_ms: None,
            target_max_ms: None,
            recovery: None,
        }
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Not a built-in name and not a readable file.
    #[error("unknown scenario '{0}' (built-in: {names}; or a path to a .toml file)", names = BUILT_IN.join(", "))]
    Unknown(String),
    /// The file could not be read.
    #[error("cannot read scenario {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// The file is not a valid scenario.
    #[error("invalid scenario {path}: {error}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with line and column.
        error: toml::de::Error,
    },
}

/// Names of the built-in scenarios.
pub const BUILT_IN: &[&str] = &[
    "clean",
    "lan",
    "wifi",
    "mobile",
    "freeze-4s",
    "blackout-2s",
    "reorder-heavy",
    "duplicates",
    "drift-plus",
    "drift-minus",
    "drift-plus-1pct",
    "drift-minus-1pct",
    "seq-wrap",
    "ts-wrap",
    "sender-restart",
    "ssrc-change",
    "seq-jump",
    "late-8s",
    "ptime-change",
    "stalls",
    "delay-step",
    "dtx-pauses",
    "dtx-long",
    "overflow",
    "loss-5pct-nack",
    "burst-loss-nack",
];

impl Scenario {
    /// A built-in scenario by name, or a TOML file by path.
    pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        if let Some(s) = Scenario::built_in(name_or_path) {
            return Ok(s);
        }
        let path = Path::new(name_or_path);
        if path.extension().and_then(|e| e.to_str()) != Some("toml") && !path.exists() {
            return Err(ScenarioError::Unknown(name_or_path.into()));
        }
        let text = std::fs::read_to_string(path).map_err(|error| ScenarioError::Read {
            path: name_or_path.into(),
            error,
        })?;
        Scenario::from_toml(&text).map_err(|error| ScenarioError::Parse {
            path: name_or_path.into(),
            error,
        })
    }

    /// Parses a scenario from TOML text.
    pub fn from_toml(text: &str) -> Result<Scenario, toml::de::Error> {
        toml::from_str(text)
    }

    /// The built-in scenario called `name`.
    pub fn built_in(name: &str) -> Option<Scenario> {
        let mut s = Scenario {
            name: name.into(),
            ..Scenario::default()
        };
        let net = &mut s.network;
        s.description = match name {
            "clean" => "a perfect network: constant 20 ms delay".into(),
            "lan" => {
                net.delay_ms = 1.0;
                net.jitter = Jitter::Normal { std_ms: 0.5 };
                "a wired LAN: 1 ms delay, 0.5 ms normal jitter".into()
            }
            "wifi" => {
                net.delay_ms = 5.0;
                net.jitter = Jitter::Normal { std_ms: 15.0 };
                net.spikes = Some(Spikes {
                    every_s: 10.0,
                    extra_ms: 200.0,
                    duration_ms: 400.0,
                });
                "busy Wi-Fi: 5 ms delay, 15 ms normal jitter, 200 ms spikes every ~10 s".into()
            }
            "mobile" => {
                net.delay_ms = 60.0;
                net.jitter = Jitter::Pareto {
                    scale_ms: 20.0,
                    shape: 2.5,
                };
                net.spikes = Some(Spikes {
                    every_s: 20.0,
                    extra_ms: 2500.0,
                    duration_ms: 3000.0,
                });
                net.burst = Some(GilbertElliott {
                    p_good_to_bad: 0.002,
                    p_bad_to_good: 0.3,
                    loss_good: 0.0,
                    loss_bad: 0.5,
                });
                s.duration_s = Some(120.0);
                "cellular: 60 ms + Pareto jitter, 2.5 s delay spikes every ~20 s, bursty loss"
                    .into()
            }
            "freeze-4s" => {
                net.delay_ms = 20.0;
                net.outages.push(Outage {
                    at_s: 10.0,
                    duration_ms: 4000.0,
                    kind: OutageKind::Freeze,
                });
                s.duration_s = Some(30.0);
                "the link freezes for 4 s at 10 s; queued packets then arrive in a burst".into()
            }
            "blackout-2s" => {
                net.delay_ms = 20.0;
                net.outages.push(Outage {
                    at_s: 10.0,
                    duration_ms: 2000.0,
                    kind: OutageKind::Blackout,
                });
                s.duration_s = Some(30.0);
                "everything sent during 2 s from 10 s is lost".into()
            }
            "reorder-heavy" => {
                net.delay_ms = 20.0;
                net.jitter = Jitter::Normal { std_ms: 10.0 };
                net.reorder = 0.2;
                "20 % of packets held back behind 1–3 successors".into()
            }
            "duplicates" => {
                net.delay_ms = 20.0;
                net.duplicate = 0.2;
                "20 % of packets arrive twice".into()
            }
            "drift-plus" | "drift-minus" | "drift-plus-1pct" | "drift-minus-1pct" => {
                let sign = if name.starts_with("drift-plus") {
                    1.0
                } else {
                    -1.0
                };
                let ppm = if name.ends_with("1pct") {
                    10_000.0
                } else {
                    300.0
                };
                net.delay_ms = 20.0;
                s.sender.drift_ppm = sign * ppm;
                s.duration_s = Some(600.0);
                format!(
                    "the sender's clock is {:+} ppm off the receiver's",
                    sign * ppm
                )
            }
            "seq-wrap" => {
                net.delay_ms = 20.0;
                s.sender.initial_seq = Some(65_400);
                "the sequence number wraps 65535 → 0 after 136 packets".into()
            }
            "ts-wrap" => {
                net.delay_ms = 20.0;
                s.sender.initial_ts = Some(u32::MAX - 96_000);
                "the RTP timestamp wraps after 2 s".into()
            }
            "sender-restart" => {
                net.delay_ms = 20.0;
                net.jitter = Jitter::Normal { std_ms: 5.0 };
                s.sender.pauses.push(Span {
                    at_s: 6.0,
                    duration_ms: 200.0,
                });
                s.sender.restarts_at_s.push(6.2);
                s.duration_s = Some(12.0);
                "the sender pauses 200 ms at 6 s and restarts with a new sequence and \
                 timestamp, same SSRC"
                    .into()
            }
            "ssrc-change" => {
                net.delay_ms = 20.0;
                net.jitter = Jitter::Normal { std_ms: 5.0 };
                s.sender.ssrc_changes_at_s.push(6.0);
                s.duration_s = Some(12.0);
                "the sender switches to a new SSRC, sequence and timestamp at 6 s".into()
            }
            "seq-jump" => {
                net.delay_ms = 20.0;
                net.jitter = Jitter::Normal { std_ms: 5.0 };
                s.sender.seq_jumps.push(SeqJump {
                    at_s: 6.0,
                    by: 5000,
                });
                s.duration_s = Some(12.0);
                "the sequence number jumps by 5000 at 6 s; timestamps continue".into()
            }
            "late-8s" => {
                net.delay_ms = 20.0;
                net.jitter = Jitter::Normal { std_ms: 5.0 };
                net.very_late = Some(VeryLate {
                    share: 0.01,
                    extra_ms: 8000.0,
                });
                s.duration_s = Some(12.0);
                "1 % of packets arrive 8 s late, beyond any window".into()
            }
            "ptime-change" => {
                net.delay_ms = 20.0;
                net.jitter = Jitter::Normal { std_ms: 5.0 };
                s.sender.ptime_ms = 5;
                s.sender.ptime_changes = [(3.0, 10), (5.0, 20), (7.0, 40), (9.0, 5)]
                    .into_iter()
                    .map(|(at_s, ptime_ms)| PtimeChange { at_s, ptime_ms })
                    .collect();
                s.duration_s = Some(12.0);
                "packets of 5 ms, then 10, 20, 40 ms (7680-byte datagrams) and back to 5 ms".into()
            }
            "stalls" => {
                net.delay_ms = 20.0;
                net.outages = (1..10)
                    .map(|k| Outage {
                        at_s: 3.0 * f64::from(k),
                        duration_ms: 1500.0,
                        kind: OutageKind::Freeze,
                    })
                    .collect();
                s.duration_s = Some(30.0);
                "the link stalls for 1.5 s every 3 s; each stall ends in a burst".into()
            }
            "delay-step" => {
                net.delay_ms = 20.0;
                net.jitter = Jitter::Normal { std_ms: 2.0 };
                net.steps.push(DelayStep {
                    at_s: 0.8,
                    extra_ms: 30.0,
                });
                s.duration_s = Some(30.0);
                "the one-way delay steps up by 30 ms at 0.8 s (a route change); no drift".into()
            }
            "dtx-pauses" => {
                net.delay_ms = 20.0;
                s.sender.pauses = vec![
                    Span {
                        at_s: 2.0,
                        duration_ms: 1500.0,
                    },
                    Span {
                        at_s: 5.0,
                        duration_ms: 600.0,
                    },
                ];
                s.duration_s = Some(10.0);
                "silence suppression: the sender pauses 1.5 s at 2 s and 0.6 s at 5 s".into()
            }
            "dtx-long" => {
                net.delay_ms = 20.0;
                s.sender.pauses = vec![
                    Span {
                        at_s: 8.0,
                        duration_ms: 7000.0,
                    },
                    Span {
                        at_s: 20.0,
                        duration_ms: 4000.0,
                    },
                ];
                s.duration_s = Some(30.0);
                "silence suppression longer than the buffer: the far end is silent 7 s at 8 s \
                 and 4 s at 20 s"
                    .into()
            }
            "overflow" => {
                net.delay_ms = 20.0;
                net.outages.push(Outage {
                    at_s: 5.0,
                    duration_ms: 15_000.0,
                    kind: OutageKind::Freeze,
                });
                s.duration_s = Some(30.0);
                "a 15 s freeze releases a burst larger than the buffer".into()
            }
            "loss-5pct-nack" => {
                net.delay_ms = 25.0;
                net.loss = 0.05;
                let mut recovery = RecoveryBehaviour::default();
                recovery.reverse.loss = 0.05;
                s.recovery = Some(recovery);
                s.duration_s = Some(60.0);
                "5 % random loss each way, 50 ms round trip; lost packets are asked for again \
                 (NACK) and retransmitted (RTX), and NACKs and retransmissions are lost too"
                    .into()
            }
            "burst-loss-nack" => {
                net.delay_ms = 25.0;
                // Bursts of 3 on average (leaving the bad state 1 time in 3), 20 % of the time.
                net.burst = Some(GilbertElliott {
                    p_good_to_bad: 0.2 / 3.0 / 0.8,
                    p_bad_to_good: 1.0 / 3.0,
                    loss_good: 0.0,
                    loss_bad: 1.0,
                });
                let mut recovery = RecoveryBehaviour::default();
                recovery.reverse.loss = 0.05;
                s.recovery = Some(recovery);
                s.duration_s = Some(60.0);
                "20 % loss in bursts of 3 (5 % on the way back), 50 ms round trip, recovered \
                 by NACK and RTX"
                    .into()
            }
            _ => return None,
        };
        if s.network == Impairment::default() {
            s.network.delay_ms = 20.0;
        }
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_name_loads_and_is_described() {
        for name in BUILT_IN {
            let s = Scenario::load(name).unwrap();
            assert_eq!(s.name, *name);
            assert!(!s.description.is_empty());
        }
    }

    #[test]
    fn a_toml_scenario_round_trips_and_unknown_keys_are_refused() {
        let text = r#"
            name = "my-link"
            duration_s = 60
            [network]
            delay_ms = 40
            loss = 0.01
            jitter = { kind = "pareto", scale_ms = 10, shape = 2.0 }
            outages = [{ at_s = 5, duration_ms = 1000, kind = "freeze" }]
            [sender]
            drift_ppm = 150
        "#;
        let s = Scenario::from_toml(text).unwrap();
        assert_eq!(
            s.network.jitter,
            Jitter::Pareto {
                scale_ms: 10.0,
                shape: 2.0
            }
        );
        assert_eq!(s.sender.ptime_ms, 20);
        assert_eq!(
            Scenario::from_toml(&toml::to_string(&s).unwrap()).unwrap(),
            s
        );
        assert!(Scenario::from_toml("[network]\ndelay = 4").is_err());
    }

    #[test]
    fn unknown_names_list_the_built_ins() {
        let err = Scenario::load("no-such-scenario").unwrap_err().to_string();
        assert!(err.contains("mobile") && err.contains(".toml"), "{err}");
    }
}
