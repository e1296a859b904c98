//! The simulation loop: sender → network model → receiver core → ring → virtual device, in
//! virtual time, as fast as the CPU allows.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use ringbuf::traits::{Observer, Producer};

use super::network::{Fate, NetworkModel};
use super::report::{Event, EventKind, SimReport, TimelinePoint};
use super::scenario::Scenario;
use super::sender::{SentPacket, SimSender, SIM_PT};
use crate::jitter::InsertOutcome;
use crate::output::ring::audio_ring;
use crate::output::{OutputStats, RingCallback};
use crate::playout::{Receiver, ReceiverConfig, ReceiverError, Segment, Verdict};
use crate::rtp::payload::PayloadFormat;

/// How much audio the decoder side keeps in the ring.
const RING_HIGH_WATER: Duration = Duration::from_millis(40);
/// How often the timeline is sampled.
const TIMELINE_STEP: Duration = Duration::from_millis(100);
/// Longer than a packet stays between sending and playout in any built-in scenario (freeze +
/// buffer ceiling); a custom scenario freezing longer would undercount its bit-exact frames.
const IN_FLIGHT_HORIZON: Duration = Duration::from_secs(120);
/// Stop even if not drained this long after the sender's last packet.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);

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
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The sender could not be built.
    #[error(transparent)]
    Sender(#[from] super::sender::SenderError),
    /// The receiver core failed.
    #[error(transparent)]
    Receiver(#[from] ReceiverError),
}

/// Facts about a sent packet, looked up when its audio comes out.
struct InFlight {
    sent: Duration,
    source_frame: u64,
    frames: usize,
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
    let channels = usize::from(input.channels);
    let mut sender = SimSender::new(
        input.samples.clone(),
        input.rate,
        input.channels,
        total_frames,
        scenario.sender.clone(),
        cfg.seed,
    )?;
    let mut network = NetworkModel::new(scenario.network.clone(), cfg.seed);

    let format = PayloadFormat::L16 {
        rate: input.rate,
        channels: input.channels,
    };
    let mut rcfg = ReceiverConfig::new(format, input.rate, input.channels);
    rcfg.payload_type = Some(SIM_PT);
    rcfg.trace = true;
    let est = &rcfg.jitter.estimator;
    let min = cfg
        .target_min
        .or(scenario.target_min_ms.map(ms))
        .unwrap_or(est.target_min);
    let max = cfg
        .target_max
        .or(scenario.target_max_ms.map(ms))
        .unwrap_or(est.target_max);
    rcfg.set_target_window(min, max);
    // The level the controller holds includes the output ring, so the target's margin must too.
    rcfg.jitter.estimator.margin += RING_HIGH_WATER;
    let mut receiver = Receiver::new(rcfg)?;

    let (mut producer, consumer) = audio_ring(Duration::from_millis(200), input.rate, channels);
    let stats = Arc::new(OutputStats::default());
    let mut callback = RingCallback::new(consumer, Arc::clone(&stats));
    stats.set_paused(true);

    let period_frames = ((scenario.device.period_ms / 1000.0) * f64::from(input.rate))
        .round()
        .max(1.0) as usize;
    let period_true = Duration::from_secs_f64(
        period_frames as f64 / f64::from(input.rate) / (1.0 + scenario.device.clock_ppm * 1e-6),
    );
    let mut device_buf = vec![0.0f32; period_frames * channels];

    let mut report = SimReport::new(scenario, cfg.seed, duration);
    let mut in_air: BinaryHeap<Reverse<(Duration, u64, Vec<u8>)>> = BinaryHeap::new();
    let mut in_flight: HashMap<(u32, u32), InFlight> = HashMap::new();
    let mut next_prune = IN_FLIGHT_HORIZON;
    let mut next_packet: Option<SentPacket> = sender.next_packet();
    let mut order = 0u64;
    let mut produced: Vec<f32> = Vec::new();
    let mut segments: Vec<Segment> = Vec::new();
    let mut latencies: Vec<f32> = Vec::new();
    let mut last_played_sent = Duration::ZERO;
    let mut last_underruns = 0;
    let mut last_rebuffers = 0;
    let mut last_resets = 0;
    let mut next_sample = Duration::ZERO;
    let mut finished_at: Option<Duration> = None;
    let mut now = Duration::ZERO;
    let frame_time = |frames: usize| Duration::from_secs_f64(frames as f64 / f64::from(input.rate));

    loop {
        // The sender and the network up to now.
        while let Some(p) = next_packet.take() {
            if p.sent > now {
                next_packet = Some(p);
                break;
            }
            report.packets_sent += 1;
            report.frames_sent += p.frames as u64;
            in_flight.insert(
                p.key,
                InFlight {
                    sent: p.sent,
                    source_frame: p.source_frame,
                    frames: p.frames,
                },
            );
            match network.transmit(p.sent) {
                Fate::Dropped => report.events.push(Event {
                    t: p.sent.as_secs_f64(),
                    kind: EventKind::NetworkLoss,
                }),
                Fate::Delivered(at) => {
                    report
                        .delays
                        .push((p.sent.as_secs_f32(), (at - p.sent).as_secs_f32() * 1000.0));
                    in_air.push(Reverse((at, order, p.bytes)));
                }
                Fate::Duplicated(a, b) => {
                    report
                        .delays
                        .push((p.sent.as_secs_f32(), (a - p.sent).as_secs_f32() * 1000.0));
                    in_air.push(Reverse((a, order, sender.copy_of(&p.bytes))));
                    order += 1;
                    in_air.push(Reverse((b, order, p.bytes)));
                }
            }
            order += 1;
            next_packet = sender.next_packet();
        }
        while in_air.peek().is_some_and(|Reverse((at, _, _))| *at <= now) {
            let Some(Reverse((at, _, bytes))) = in_air.pop() else {
                break;
            };
            let verdict = receiver.on_datagram(&bytes, at);
            sender.recycle(bytes);
            match verdict {
                Verdict::Buffered(InsertOutcome::Late) => report.events.push(Event {
                    t: at.as_secs_f64(),
                    kind: EventKind::Late,
                }),
                Verdict::Buffered(InsertOutcome::Overflow { .. }) => report.events.push(Event {
                    t: at.as_secs_f64(),
                    kind: EventKind::Overflow,
                }),
                _ => {}
            }
        }
        if finished_at.is_none() && next_packet.is_none() && in_air.is_empty() {
            report.estimated_drift_ppm = receiver.controller().drift_ppm();
            receiver.finish();
            finished_at = Some(now);
        }

        // The decoder side: control, then top the ring up.
        let ring = frame_time(producer.occupied_len() / channels);
        let decision = receiver.tick(now, ring);
        stats.set_paused(!decision.playing);
        if ring < RING_HIGH_WATER {
            produced.clear();
            receiver.produce(now, RING_HIGH_WATER - ring, &mut produced)?;
            let pushed = producer.push_slice(&produced);
            if pushed < produced.len() {
                report.ring_overflow_samples += (produced.len() - pushed) as u64;
            }
            receiver.drain_segments(&mut segments);
            let mut pos = 0;
            for seg in segments.drain(..) {
                if let Some(info) = seg.source.and_then(|key| in_flight.remove(&key)) {
                    if info.sent < last_played_sent {
                        report.out_of_order_frames += info.frames as u64;
                    }
                    last_played_sent = last_played_sent.max(info.sent);
                    let plays_at = now + ring + frame_time(pos / channels);
                    latencies.push((plays_at.saturating_sub(info.sent)).as_secs_f32() * 1000.0);
                    let exact = seg.frames == info.frames
                        && produced.get(pos..pos + seg.out_len).is_some_and(|out| {
                            sender.matches_source(info.source_frame, info.frames, out)
                        });
                    if exact {
                        report.bit_exact_frames += info.frames as u64;
                    }
                }
                pos += seg.out_len;
            }
        }
        if finished_at.is_some() && receiver.is_drained() {
            // Everything is in the ring: what the device finds missing from now on is the end.
            stats.mark_finished();
        }

        // The virtual device pulls one period through the real callback.
        let real = callback.fill(&mut device_buf);
        let keep = if stats.is_finished() {
            real
        } else {
            device_buf.len()
        };
        on_output(&device_buf[..keep]);
        let underruns = stats.underruns();
        for _ in last_underruns..underruns {
            receiver.underrun();
            report.events.push(Event {
                t: now.as_secs_f64(),
                kind: EventKind::Underrun,
            });
        }
        last_underruns = underruns;
        let rebuffers = receiver.controller().rebuffers();
        if rebuffers > last_rebuffers {
            report.events.push(Event {
                t: now.as_secs_f64(),
                kind: EventKind::Rebuffer,
            });
            last_rebuffers = rebuffers;
        }
        let resets = receiver.buffer().stats().resets;
        if resets > last_resets {
            report.events.push(Event {
                t: now.as_secs_f64(),
                kind: EventKind::Reset,
            });
            last_resets = resets;
        }
        if now >= next_prune {
            // Packets lost, evicted or discarded never come out: forget them once no buffer
            // could still hold them, so memory stays bounded over hour-long runs.
            let horizon = now.saturating_sub(IN_FLIGHT_HORIZON);
            in_flight.retain(|_, info| info.sent >= horizon);
            next_prune = now + IN_FLIGHT_HORIZON;
        }
        if now >= next_sample {
            let m = receiver.metrics().snapshot();
            report.timeline.push(TimelinePoint {
                t: now.as_secs_f64(),
                depth_ms: m.depth_ms,
                target_ms: m.target_ms,
                playing: decision.playing,
                ratio: decision.ratio,
                drift_ppm: m.drift_ppm,
            });
            next_sample += TIMELINE_STEP;
        }
        if stats.is_finished() && real < device_buf.len() {
            break;
        }
        if finished_at.is_some_and(|f| now > f + DRAIN_LIMIT) {
            report.drained = false;
            break;
        }
        now += period_true;
    }
    report.metrics = receiver.metrics().snapshot();
    report.receiver = receiver.counts();
    report.network = network.counts();
    report.true_drift_ppm = scenario.sender.drift_ppm - scenario.device.clock_ppm;
    report.finish(&mut latencies, now, finished_at.unwrap_or(now));
    Ok(report)
}

fn ms(v: f64) -> Duration {
    Duration::from_secs_f64(v.max(0.0) / 1000.0)
}
