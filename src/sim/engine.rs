//! The virtual-time playout loop shared by simulations and capture replays: packets arrive
//! from a feed, go through the real receive core, the ring and the real output callback, one
//! virtual device period per step.

use std::sync::Arc;
use std::time::Duration;

use super::report::{Event, EventKind, SimReport, TimelinePoint};
use super::scenario::DeviceBehaviour;
use crate::playback::ring::audio_ring;
use crate::playback::{OutputStats, RingCallback};
use crate::playout::engine::{EndReason, EventKind as Happened, Output, Playout};
use crate::playout::metrics::Metrics;
use crate::playout::{
    PlayoutDecision, PlayoutEngine, ReceiveCoreConfig, ReceiveCoreError, Segment,
};
use crate::rtcp::receiver::RtcpReceiver;

/// How much audio the decoder side keeps in the ring.
pub const RING_HIGH_WATER: Duration = Duration::from_millis(40);
/// How often the timeline is sampled.
const TIMELINE_STEP: Duration = Duration::from_millis(100);
/// Longer than a packet stays between sending and playout in any built-in scenario (freeze +
/// buffer ceiling); feeds may forget what they know of older packets.
const IN_FLIGHT_HORIZON: Duration = Duration::from_secs(120);
/// Stop even if not drained this long after the last packet arrived.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);

/// A packet handed to the receiver.
#[derive(Debug)]
pub struct Arrival {
    /// When it arrives.
    pub at: Duration,
    /// The datagram.
    pub bytes: Vec<u8>,
}

/// What a feed knows of a packet when its audio comes out.
#[derive(Debug, Clone, Copy)]
pub struct Played {
    /// When it was sent (or, for captures, estimated from its RTP timestamp).
    pub sent: Duration,
    /// Whether its audio came out identical to the source.
    pub exact: bool,
}

/// Where the virtual receiver's packets come from: a simulated sender and network, or a capture.
pub trait PacketFeed {
    /// Appends every packet arriving by `now` to `out`, in arrival order, noting network events
    /// in `report`.
    fn deliver(&mut self, now: Duration, report: &mut SimReport, out: &mut Vec<Arrival>);
    /// True once nothing more will arrive.
    fn exhausted(&self) -> bool;
    /// Takes a datagram back after the receiver has read it.
    fn recycle(&mut self, _bytes: Vec<u8>) {}
    /// The packet with (SSRC, RTP timestamp) `key` produced `samples` (`frames` frames).
    fn played(&mut self, key: (u32, u32), frames: usize, samples: &[f32]) -> Option<Played>;
    /// Packets sent before `horizon` can no longer play: forget them.
    fn forget_before(&mut self, _horizon: Duration) {}
    /// The receiver sent an RTCP datagram at `at` (reports, NACKs) back towards the sender.
    fn feedback(&mut self, _at: Duration, _datagram: &[u8]) {}
}

/// One virtual device period.
#[derive(Debug)]
pub struct Period<'a> {
    /// What the device played (shorter than a period only at the very end).
    pub samples: &'a [f32],
    /// How many of them came from the ring (the rest is silence: prebuffering, rebuffering).
    pub from_ring: usize,
}

/// The loop's state.
pub struct VirtualPlayout<F> {
    feed: F,
    engine: PlayoutEngine,
    callback: RingCallback,
    stats: Arc<OutputStats>,
    channels: usize,
    rate: u32,
    period: Duration,
    device_buf: Vec<f32>,
    report: SimReport,
    arrivals: Vec<Arrival>,
    segments: Vec<Segment>,
    latencies: Vec<f32>,
    last_played_sent: Duration,
    last_underruns: u64,
    next_sample: Duration,
    next_prune: Duration,
    finished_at: Option<Duration>,
    next_top_up: Deadline,
    last_decision: Option<PlayoutDecision>,
    now: Duration,
    done: bool,
    /// The stream did not drain within [`DRAIN_LIMIT`].
    gave_up: bool,
}

/// When the loop next runs the core.
#[derive(Debug, Clone, Copy)]
enum Deadline {
    /// At the next step.
    Now,
    /// When virtual time reaches this.
    At(Duration),
    /// When a packet arrives.
    OnData,
}

impl<F: PacketFeed> VirtualPlayout<F> {
    /// A loop playing `feed` through a receiver built from `cfg` into a virtual device at the
    /// receiver's output rate and channels.
    pub fn new(
        mut cfg: ReceiveCoreConfig,
        device: &DeviceBehaviour,
        report: SimReport,
        feed: F,
    ) -> Result<Self, ReceiveCoreError> {
        let (rate, channels) = (cfg.output_rate, usize::from(cfg.output_channels));
        cfg.trace = true;
        let (producer, consumer) = audio_ring(Duration::from_millis(200), rate, channels);
        let engine =
            PlayoutEngine::new(cfg, producer, RING_HIGH_WATER)?.with_drain_limit(Some(DRAIN_LIMIT));
        let stats = Arc::new(OutputStats::default());
        let callback = RingCallback::new(consumer, Arc::clone(&stats));
        stats.set_paused(true);
        let period_frames = ((device.period_ms / 1000.0) * f64::from(rate))
            .round()
            .max(1.0) as usize;
        let period = Duration::from_secs_f64(
            period_frames as f64 / f64::from(rate) / (1.0 + device.clock_ppm * 1e-6),
        );
        Ok(VirtualPlayout {
            feed,
            engine,
            callback,
            stats,
            channels,
            rate,
            period,
            device_buf: vec![0.0; period_frames * channels],
            report,
            arrivals: Vec::new(),
            segments: Vec::new(),
            latencies: Vec::new(),
            last_played_sent: Duration::ZERO,
            last_underruns: 0,
            next_sample: Duration::ZERO,
            next_prune: IN_FLIGHT_HORIZON,
            finished_at: None,
            next_top_up: Deadline::Now,
            last_decision: None,
            now: Duration::ZERO,
            done: false,
            gave_up: false,
        })
    }

    /// Runs an RTCP session beside the receiver; what it sends goes to the feed's
    /// [`PacketFeed::feedback`].
    pub fn attach_rtcp(&mut self, rtcp: RtcpReceiver) {
        self.engine.attach_rtcp(rtcp);
    }

    /// The receiver's shared metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        self.engine.metrics()
    }

    /// Virtual time now.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Runs one device period; `None` once everything has played.
    pub fn step(&mut self) -> Result<Option<Period<'_>>, ReceiveCoreError> {
        if self.done {
            return Ok(None);
        }
        let now = self.now;
        let arrived = self.arrive(now);
        if self.finished_at.is_none() && self.feed.exhausted() {
            self.report.estimated_drift_ppm = self.engine.drift_ppm();
            self.engine.end_of_stream(now);
            self.finished_at = Some(now);
        }
        // Like the live decoder thread: the core runs when data arrives, at its own deadline,
        // and every period while the stream drains; otherwise the device plays on alone.
        let due = match self.next_top_up {
            _ if arrived > 0 || self.finished_at.is_some() => true,
            Deadline::At(t) => now >= t,
            Deadline::OnData => false,
            Deadline::Now => true,
        };
        if due {
            self.top_up(now)?;
        }
        self.sample_timeline(now);
        // The virtual device pulls one period through the real callback.
        let from_ring = self.callback.fill(&mut self.device_buf);
        let keep = if self.stats.is_finished() {
            from_ring
        } else {
            self.device_buf.len()
        };
        self.note_events(now);
        if self.stats.is_finished() && from_ring < self.device_buf.len() {
            self.done = true;
        }
        if self.gave_up {
            self.report.drained = false;
            self.done = true;
        }
        self.now += self.period;
        Ok(Some(Period {
            samples: &self.device_buf[..keep],
            from_ring,
        }))
    }

    /// Runs to the end, handing every period to `on_output`, and returns the report.
    pub fn run(
        mut self,
        on_output: &mut dyn FnMut(&[f32]),
    ) -> Result<(SimReport, F), ReceiveCoreError> {
        while let Some(p) = self.step()? {
            on_output(p.samples);
        }
        Ok(self.finish())
    }

    /// The report of the run so far (call after the last step), and the feed.
    pub fn finish(mut self) -> (SimReport, F) {
        let now = self.now.saturating_sub(self.period);
        let left: Vec<_> = self.engine.take_events().collect();
        for e in left {
            self.note(e.at, e.kind);
        }
        self.report.metrics = self.engine.metrics().snapshot();
        self.report.receiver = self.engine.counts();
        let end = self.finished_at.unwrap_or(now);
        self.report.finish(&mut self.latencies, now, end);
        (self.report, self.feed)
    }

    /// Hands the packets arriving by `now` to the core; returns how many.
    fn arrive(&mut self, now: Duration) -> usize {
        self.feed.deliver(now, &mut self.report, &mut self.arrivals);
        let arrived = self.arrivals.len();
        for Arrival { at, bytes } in self.arrivals.drain(..) {
            self.engine.handle_datagram(&bytes, at);
            self.feed.recycle(bytes);
        }
        arrived
    }

    /// Polls the engine at `now` until its next deadline: control, the ring topped up, RTCP
    /// to the feed, events into the report, the end.
    fn top_up(&mut self, now: Duration) -> Result<(), ReceiveCoreError> {
        loop {
            match self.engine.poll(now)? {
                Output::Playout(step) => self.played(now, step),
                Output::Transmit(d) => self.feed.feedback(now, d),
                Output::Event(e) => self.note(e.at, e.kind),
                // Everything is in the ring: what the device finds missing from now on is the end.
                Output::Ended(EndReason::DrainLimit) => self.gave_up = true,
                Output::Ended(_) => self.stats.mark_finished(),
                Output::Timeout(deadline) => {
                    self.next_top_up = deadline.map_or(Deadline::OnData, Deadline::At);
                    return Ok(());
                }
            }
        }
    }

    /// Records an engine event in the report.
    fn note(&mut self, at: Duration, what: Happened) {
        let kind = match what {
            Happened::Late => EventKind::Late,
            Happened::Overflow => EventKind::Overflow,
            Happened::Recovered => EventKind::Recovered,
            Happened::Restart => EventKind::Reset,
            Happened::Rebuffer => EventKind::Rebuffer,
        };
        self.report.events.push(Event {
            t: at.as_secs_f64(),
            kind,
        });
    }

    /// What one step produced: where each packet's audio went, its latency and exactness.
    fn played(&mut self, now: Duration, step: Playout) {
        let channels = self.channels;
        let rate = f64::from(self.rate);
        let frame_time = |frames: usize| Duration::from_secs_f64(frames as f64 / rate);
        self.last_decision = Some(step.decision);
        let (decision, ring) = (step.decision, step.waiting);
        self.stats.set_paused(!decision.playing);
        if !step.produced {
            return;
        }
        self.engine.drain_segments(&mut self.segments);
        let produced = self.engine.produced();
        let mut pos = 0;
        for seg in self.segments.drain(..) {
            let out = produced.get(pos..pos + seg.out_len).unwrap_or(&[]);
            if let Some(info) = seg
                .source
                .and_then(|key| self.feed.played(key, seg.frames, out))
            {
                if info.sent < self.last_played_sent {
                    self.report.out_of_order_frames += seg.frames as u64;
                }
                self.last_played_sent = self.last_played_sent.max(info.sent);
                let plays_at = now + ring + frame_time(pos / channels);
                self.latencies
                    .push(plays_at.saturating_sub(info.sent).as_secs_f32() * 1000.0);
                if info.exact {
                    self.report.bit_exact_frames += seg.frames as u64;
                }
            }
            pos += seg.out_len;
        }
    }

    fn sample_timeline(&mut self, now: Duration) {
        let Some(decision) = self.last_decision else {
            return;
        };
        if self.timeline_due(now) {
            let m = self.engine.metrics().snapshot();
            self.report.timeline.push(TimelinePoint {
                t: now.as_secs_f64(),
                depth_ms: m.depth_ms,
                target_ms: m.target_ms,
                playing: decision.playing,
                ratio: decision.ratio,
                drift_ppm: m.drift_ppm.unwrap_or(0.0),
            });
        }
    }

    fn timeline_due(&mut self, now: Duration) -> bool {
        let due = now >= self.next_sample;
        if due {
            self.next_sample += TIMELINE_STEP;
        }
        due
    }

    fn note_events(&mut self, now: Duration) {
        let t = now.as_secs_f64();
        let underruns = self.stats.underruns();
        self.engine.handle_output(underruns, now);
        for _ in self.last_underruns..underruns {
            self.report.events.push(Event {
                t,
                kind: EventKind::Underrun,
            });
        }
        self.last_underruns = underruns;
        if now >= self.next_prune {
            // Packets lost, evicted or discarded never come out: forget them once no buffer
            // could still hold them, so memory stays bounded over hour-long runs.
            self.feed
                .forget_before(now.saturating_sub(IN_FLIGHT_HORIZON));
            self.next_prune = now + IN_FLIGHT_HORIZON;
        }
    }
}
