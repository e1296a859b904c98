//! The one "top up the ring" both drivers run: the live decoder thread and the virtual-time
//! loop of the simulator and capture replay.
//!
//! Each step pushes what the ring could not take last time first (a long concealment or pause
//! can produce more than the ring holds, and none of it may be dropped), runs the controller
//! with the audio waiting between the core and the device (ring plus that backlog), and asks
//! the core for more only when the backlog is gone and the ring is below its high-water mark.

use std::time::Duration;

use ringbuf::traits::{Observer, Producer};

use super::receive_core::{ReceiveCore, ReceiveCoreError};
use super::PlayoutDecision;
use crate::playback::ring::RingProducer;

/// Shortest sleep between two steps while playing.
const MIN_WAIT: Duration = Duration::from_millis(2);

/// How often the core looks at its level while waiting to start or resume.
const BUFFERING_POLL: Duration = Duration::from_millis(20);

/// What one top-up did.
#[derive(Debug, Clone, Copy)]
pub struct TopUp {
    /// The controller's decision for this step.
    pub decision: PlayoutDecision,
    /// Audio that was waiting for the device before this step (ring plus backlog).
    pub waiting: Duration,
    /// Whether the core was asked for audio (then [`RingFeeder::produced`] holds it).
    pub produced: bool,
}

/// Feeds the playback ring from the receive core.
pub struct RingFeeder {
    producer: RingProducer,
    pending: Vec<f32>,
    pushed: usize,
    high_water: Duration,
    rate: f64,
    channels: usize,
}

impl RingFeeder {
    /// A feeder keeping `high_water` of audio (at `rate` Hz, `channels`) in the ring.
    pub fn new(producer: RingProducer, high_water: Duration, rate: u32, channels: usize) -> Self {
        Self {
            producer,
            pending: Vec::with_capacity(16_384),
            pushed: 0,
            high_water,
            rate: f64::from(rate.max(1)),
            channels: channels.max(1),
        }
    }

    /// One step: backlog first, then control, then more audio if there is room.
    pub fn top_up(
        &mut self,
        core: &mut ReceiveCore,
        now: Duration,
    ) -> Result<TopUp, ReceiveCoreError> {
        if self.pushed < self.pending.len() {
            self.pushed += self.producer.push_slice(&self.pending[self.pushed..]);
        }
        let backlog = self.pending.len() - self.pushed;
        let waiting = Duration::from_secs_f64(
            (self.producer.occupied_len() + backlog) as f64 / self.channels as f64 / self.rate,
        );
        let decision = core.tick(now, waiting);
        let produced = backlog == 0 && waiting < self.high_water;
        if produced {
            self.pending.clear();
            core.produce(now, self.high_water - waiting, &mut self.pending)?;
            self.pushed = self.producer.push_slice(&self.pending);
        }
        Ok(TopUp {
            decision,
            waiting,
            produced,
        })
    }

    /// When the driver must come back at the latest: while playing, when the ring has fallen
    /// to half its high-water mark (the device drains it in real time, whatever backlog waits
    /// behind it); while (pre/re)buffering,
    /// soon, because the level the start waits for grows with time as well as with data (a
    /// sender pause must not delay the start); `None` before the first packet.
    pub fn next_deadline(
        &self,
        core: &ReceiveCore,
        step: &TopUp,
        now: Duration,
    ) -> Option<Duration> {
        let timer = core.next_timer();
        if !step.decision.playing {
            if !core.has_stream() {
                return timer;
            }
            let poll = now + BUFFERING_POLL;
            return Some(timer.map_or(poll, |t| t.min(poll)));
        }
        // Only the ring drains in real time: a backlog (a long pause's silence, say) waits
        // behind it, so it must be pushed before the ring runs out, not when it would.
        let in_ring = Duration::from_secs_f64(
            self.producer.occupied_len() as f64 / self.channels as f64 / self.rate,
        );
        let refill = now + in_ring.saturating_sub(self.high_water / 2).max(MIN_WAIT);
        Some(timer.map_or(refill, |t| t.min(refill)))
    }

    /// The audio the last producing step got from the core (pushed, or still in the backlog).
    pub fn produced(&self) -> &[f32] {
        &self.pending
    }

    /// True when everything produced is in the ring.
    pub fn is_flushed(&self) -> bool {
        self.pushed >= self.pending.len()
    }

    /// The ring's producer end (to wait for the device to drain it).
    pub fn producer(&self) -> &RingProducer {
        &self.producer
    }
}
