//! A simulation: the simulated sender and network model feeding the shared virtual-time
//! playout loop, as fast as the CPU allows.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use super::engine::{Arrival, PacketFeed, Played, VirtualPlayout};
use super::opus_sender::{OpusPayloads, SimCodec};
use super::recovery::{SimRecovery, SIM_RTX_PT};
use super::replay_config::ReplayConfig;
use super::report::{Event, EventKind, SimReport};
use super::scenario::{RecoveryBehaviour, Scenario};
use super::sender::{SentPacket, SimSender, SIM_PT};
use crate::netem::model::{Fate, NetworkModel};
use crate::playout::{ReceiveCoreConfig, ReceiveCoreError};
use crate::rtcp::nack::NackConfig;
use crate::rtcp::receiver::{RtcpReceiver, RtcpReceiverConfig};

/// A decoded input to stream.
#[derive(Debug, Clone)]
pub struct SimInput {
    /// Interleaved samples.
    pub samples: Vec<f32>,
    /// Rate in Hz.
    pub rate: u32,
    /// Channels.
    pub channels: u16,
}

/// Parameters of one run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The scenario.
    pub scenario: Scenario,
    /// Seed of every random choice.
    pub seed: u64,
    /// Simulated length (None: the scenario's, else the input once).
    pub duration: Option<Duration>,
    /// Jitter buffer target window floor override.
    pub target_min: Option<Duration>,
    /// Jitter buffer target window ceiling override.
    pub target_max: Option<Duration>,
    /// Leave RTCP and NACK recovery out even if the scenario has them (`--no-nack`).
    pub no_nack: bool,
    /// What telephone events sound like (captures that carry them).
    pub dtmf: crate::playout::DtmfMode,
    /// What the simulated sender encodes (L16 or Opus).
    pub codec: super::opus_sender::SimCodec,
}

impl SimConfig {
    /// Applies the target window (override, else the scenario's, else the default) to `cfg`.
    pub fn set_target_window(&self, cfg: &mut ReceiveCoreConfig) {
        self.replay().set_target_window(cfg);
    }

    /// The part of this configuration a capture replay uses.
    pub fn replay(&self) -> ReplayConfig {
        ReplayConfig {
            scenario: self.scenario.clone(),
            seed: self.seed,
            target_min: self.target_min,
            target_max: self.target_max,
            dtmf: self.dtmf,
        }
    }
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The sender could not be built.
    #[error(transparent)]
    Sender(#[from] super::sender::SenderError),
    /// The receiver core failed.
    #[error(transparent)]
    Core(#[from] ReceiveCoreError),
    /// A capture could not be replayed.
    #[error("{0}")]
    Capture(String),
}

/// Facts about a sent packet, looked up when its audio comes out.
struct InFlight {
    sent: Duration,
    source_frame: u64,
    frames: usize,
}

/// The simulated sender and network as a packet feed.
struct SimulatedNetwork {
    sender: SimSender,
    network: NetworkModel,
    next_packet: Option<SentPacket>,
    in_air: BinaryHeap<Reverse<(Duration, u64, Vec<u8>)>>,
    /// Keyed by (SSRC, timestamp): our own packets, so a fast unkeyed hash is safe here.
    in_flight: HashMap<(u32, u32), InFlight, rustc_hash::FxBuildHasher>,
    order: u64,
    /// RTCP and NACK recovery, when the scenario has them.
    recovery: Option<SimRecovery>,
}

impl PacketFeed for SimulatedNetwork {
    fn deliver(&mut self, now: Duration, report: &mut SimReport, out: &mut Vec<Arrival>) {
        while let Some(p) = self.next_packet.take() {
            if p.sent > now {
                self.next_packet = Some(p);
                break;
            }
            report.packets_sent += 1;
            report.frames_sent += p.frames as u64;
            self.in_flight.insert(
                p.key,
                InFlight {
                    sent: p.sent,
                    source_frame: p.source_frame,
                    frames: p.frames,
                },
            );
            let fate = self.network.transmit(p.sent);
            if let Some(r) = self.recovery.as_mut() {
                r.on_sent(p.key.0, &p.bytes, p.sent, fate == Fate::Dropped);
            }
            match fate {
                Fate::Dropped => report.events.push(Event {
                    t: p.sent.as_secs_f64(),
                    kind: EventKind::NetworkLoss,
                }),
                Fate::Delivered(at) => {
                    report
                        .delays
                        .push((p.sent.as_secs_f32(), (at - p.sent).as_secs_f32() * 1000.0));
                    self.in_air.push(Reverse((at, self.order, p.bytes)));
                }
                Fate::Duplicated(a, b) => {
                    report
                        .delays
                        .push((p.sent.as_secs_f32(), (a - p.sent).as_secs_f32() * 1000.0));
                    let copy = self.sender.copy_of(&p.bytes);
                    self.in_air.push(Reverse((a, self.order, copy)));
                    self.order += 1;
                    self.in_air.push(Reverse((b, self.order, p.bytes)));
                }
            }
            self.order += 1;
            self.next_packet = self.sender.next_packet();
        }
        if let Some(r) = self.recovery.as_mut() {
            let (network, in_air, order) = (&mut self.network, &mut self.in_air, &mut self.order);
            // Retransmissions and sender reports take the forward network like any packet.
            r.poll(now, |bytes| {
                let mut push = |at: Duration, bytes: Vec<u8>| {
                    in_air.push(Reverse((at, *order, bytes)));
                    *order += 1;
                };
                match network.transmit(now) {
                    Fate::Dropped => {}
                    Fate::Delivered(at) => push(at, bytes),
                    Fate::Duplicated(a, b) => {
                        push(a, bytes.clone());
                        push(b, bytes);
                    }
                }
            });
        }
        while self
            .in_air
            .peek()
            .is_some_and(|Reverse((at, _, _))| *at <= now)
        {
            let Some(Reverse((at, _, bytes))) = self.in_air.pop() else {
                break;
            };
            out.push(Arrival { at, bytes });
        }
    }

    fn exhausted(&self) -> bool {
        self.next_packet.is_none()
            && self.in_air.is_empty()
            && !self.recovery.as_ref().is_some_and(SimRecovery::busy)
    }

    fn feedback(&mut self, at: Duration, datagram: &[u8]) {
        if let Some(r) = self.recovery.as_mut() {
            r.feedback(at, datagram);
        }
    }

    fn recycle(&mut self, bytes: Vec<u8>) {
        self.sender.recycle(bytes);
    }

    fn played(&mut self, key: (u32, u32), frames: usize, samples: &[f32]) -> Option<Played> {
        let info = self.in_flight.remove(&key)?;
        let exact = frames == info.frames
            && self
                .sender
                .matches_sent(key, info.source_frame, info.frames, samples);
        Some(Played {
            sent: info.sent,
            exact,
        })
    }

    fn forget_before(&mut self, horizon: Duration) {
        self.in_flight.retain(|_, info| info.sent >= horizon);
    }
}

/// Runs the scenario over `input`; `on_output` receives what the virtual device played.
pub fn run_simulation(
    input: &SimInput,
    cfg: &SimConfig,
    on_output: &mut dyn FnMut(&[f32]),
) -> Result<SimReport, SimError> {
    let scenario = &cfg.scenario;
    let duration = cfg
        .duration
        .or(scenario.duration_s.map(Duration::from_secs_f64))
        .unwrap_or(Duration::from_secs_f64(
            input.samples.len() as f64 / f64::from(input.channels) / f64::from(input.rate),
        ));
    let total_frames = (duration.as_secs_f64() * f64::from(input.rate)) as u64;
    let mut sender = SimSender::new(
        input.samples.clone(),
        input.rate,
        input.channels,
        total_frames,
        scenario.sender.clone(),
        cfg.seed,
    )?;
    if let SimCodec::Opus(options) = cfg.codec {
        let ptime = Duration::from_millis(u64::from(scenario.sender.ptime_ms.max(1)));
        sender.use_opus(OpusPayloads::new(
            input.rate,
            input.channels,
            ptime,
            options,
        )?);
    }
    let next_packet = sender.next_packet();
    let recovery = scenario.recovery.clone().filter(|_| !cfg.no_nack);
    let session_rate = f64::from(input.rate) * f64::from(input.channels) * 2.0;
    let feed = SimulatedNetwork {
        recovery: recovery
            .clone()
            .map(|b| SimRecovery::new(b, cfg.seed, input.rate, session_rate)),
        sender,
        network: NetworkModel::new(scenario.network.clone(), cfg.seed),
        next_packet,
        in_air: BinaryHeap::new(),
        in_flight: HashMap::default(),
        order: 0,
    };
    let format = cfg.codec.payload_format(input.rate, input.channels);
    let mut rcfg = ReceiveCoreConfig::new(format, input.rate, input.channels);
    rcfg.payload_type = Some(SIM_PT);
    cfg.set_target_window(&mut rcfg);
    let mut report = SimReport::new(scenario, cfg.seed, duration);
    report.lossy = matches!(cfg.codec, SimCodec::Opus(_));
    let mut playout = VirtualPlayout::new(rcfg, &scenario.device, report, feed)?;
    if let Some(b) = &recovery {
        playout.attach_rtcp(receiver_session(b, input.rate, session_rate, cfg.seed));
    }
    let (mut report, feed) = playout.run(on_output)?;
    report.network = feed.network.counts();
    report.lossless_snr_db = feed.sender.lossless_snr_db();
    report.recovery = feed
        .recovery
        .as_ref()
        .map(|r| r.report(report.metrics.recovery.nack_bytes));
    report.true_drift_ppm = scenario.sender.drift_ppm - scenario.device.clock_ppm;
    Ok(report)
}

/// The simulated receiver's RTCP session: NACKs on, RTX as the sender uses it.
fn receiver_session(
    b: &RecoveryBehaviour,
    clock_rate: u32,
    session_rate: f64,
    seed: u64,
) -> RtcpReceiver {
    let cfg = RtcpReceiverConfig {
        ssrc: 0x5157_0001,
        cname: "sim-receiver".to_owned(),
        clock_rate,
        nack: Some(NackConfig::default()),
        rtx: b.rtx.then_some((SIM_RTX_PT, SIM_PT)),
        reduced_size: false,
        session_octets_per_s: session_rate,
        seed,
        // RFC 3550's initial wait, as in the runs the scenario tables were made with.
        first_report_at_once: false,
    };
    RtcpReceiver::new(cfg, Duration::ZERO)
}
