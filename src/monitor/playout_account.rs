//! What a player with the configured buffer would have suffered from one stream: the real
//! [`JitterBuffer`] and [`PlayoutController`], fed each packet's header and arrival time but no
//! payload, with an output that consumes audio at the nominal rate in virtual time (sans-IO).
//!
//! Nothing is decoded. Packets whose turn passed before they came are `late`; numbers missing
//! at their turn are `lost` (the network's losses and the late ones). The model plays at the
//! nominal rate and does not stretch: where the real player would lengthen audio to follow a
//! rising target, the model shows the lateness a fixed-rate player would have.

use std::time::Duration;

use serde::Serialize;

use crate::jitter::{JitterBuffer, JitterConfig, PopOutcome};
use crate::playout::{ControllerConfig, PlayoutController, PlayoutState};
use crate::rtp::header::RtpHeader;

/// Slots the model's buffer starts with; it grows to hold the target when packets are short.
const START_SLOTS: usize = 256;

/// The output's step while nothing plays or the packet length is not yet known.
const IDLE_STEP: Duration = Duration::from_millis(10);

/// The figures of the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PlayoutFigures {
    /// Packets that arrived after their turn to play.
    pub late: u64,
    /// Numbers missing when their turn came (network loss plus late packets).
    pub lost: u64,
    /// Packets played.
    pub played: u64,
    /// Times the output ran dry while playing.
    pub underruns: u64,
    /// The buffer's adaptive target, ms.
    pub target_ms: f64,
    /// Audio buffered, ms.
    pub depth_ms: f64,
}

/// A payload-free player for one stream.
#[derive(Debug)]
pub struct PlayoutAccount {
    buffer: JitterBuffer,
    controller: PlayoutController,
    /// Output time the next piece plays at (None before the first packet).
    out_at: Option<Duration>,
    underruns: u64,
}

impl PlayoutAccount {
    /// A model of a player whose buffer is configured as `jitter`/`controller` (from the same
    /// `ReceiveCoreConfig` the player builds), for a stream on `clock_rate`.
    pub fn new(mut jitter: JitterConfig, controller: ControllerConfig, clock_rate: u32) -> Self {
        jitter.clock_rate = clock_rate;
        jitter.capacity = START_SLOTS;
        // No payload is stored: a pool of no bytes, which holds empty payloads only.
        jitter.bytes_per_tick = None;
        jitter.opus_durations = false;
        jitter.max_bytes = 0;
        PlayoutAccount {
            buffer: JitterBuffer::new(jitter),
            controller: PlayoutController::new(controller),
            out_at: None,
            underruns: 0,
        }
    }

    /// Takes the packet with header `header` that arrived at `arrival`, after playing out what
    /// was due before it.
    pub fn on_packet(&mut self, header: &RtpHeader, arrival: Duration) {
        self.advance(arrival);
        self.buffer.insert(header, &[], arrival);
        self.out_at.get_or_insert(arrival);
    }

    /// Plays out what is due up to `now`.
    pub fn advance(&mut self, now: Duration) {
        let Some(mut at) = self.out_at else {
            return;
        };
        while at <= now {
            let target = self.buffer.update_target(at);
            let rate = f64::from(self.buffer.clock_rate().max(1));
            if let Some(ticks) = self.buffer.packet_ticks() {
                self.controller
                    .set_min_band(Duration::from_secs_f64(ticks as f64 / rate));
            }
            let decision = self.controller.tick(
                at,
                self.buffer.depth(),
                self.buffer.playout_delay(at),
                target,
            );
            let step = match decision.state {
                PlayoutState::Playing => self.play_one(at),
                _ => None,
            };
            at += step.unwrap_or_else(|| self.idle_step());
        }
        self.out_at = Some(at);
    }

    /// Pops one piece at `at`; its length, or None if the buffer was dry.
    fn play_one(&mut self, at: Duration) -> Option<Duration> {
        let before = self.buffer.play_position();
        if matches!(self.buffer.pop(at), PopOutcome::Empty) {
            self.controller.underrun();
            self.underruns += 1;
            return None;
        }
        let ticks = self.buffer.play_position().saturating_sub(before);
        // A piece shorter than a nanosecond (an absurd signalled clock rate) would never move
        // the output on: the idle step stands in for it.
        Some(self.buffer.duration_of(ticks)).filter(|d| !d.is_zero())
    }

    fn idle_step(&self) -> Duration {
        self.buffer
            .packet_ticks()
            .map(|t| self.buffer.duration_of(t))
            .filter(|d| !d.is_zero())
            .unwrap_or(IDLE_STEP)
    }

    /// The stream's packet duration, once known.
    pub fn packet_duration(&self) -> Option<Duration> {
        self.buffer
            .packet_ticks()
            .map(|t| self.buffer.duration_of(t))
    }

    /// The figures so far.
    pub fn figures(&self) -> PlayoutFigures {
        let s = self.buffer.stats();
        PlayoutFigures {
            late: s.late,
            lost: s.lost,
            played: s.played,
            underruns: self.underruns,
            target_ms: self.controller.status().target_ms,
            depth_ms: self.buffer.depth().as_secs_f64() * 1e3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playout::ReceiveCoreConfig;
    use crate::rtp::payload::PayloadFormat;

    fn model(min_ms: u64, max_ms: u64) -> PlayoutAccount {
        let mut cfg = ReceiveCoreConfig::new(PayloadFormat::Pcmu, 8000, 1);
        cfg.set_target_window(Duration::from_millis(min_ms), Duration::from_millis(max_ms));
        PlayoutAccount::new(cfg.jitter, cfg.controller, 8000)
    }

    fn header(seq: u16) -> RtpHeader {
        RtpHeader {
            payload_type: 0,
            sequence: seq,
            timestamp: u32::from(seq) * 160,
            ssrc: 7,
            marker: false,
            csrc_count: 0,
            has_extension: false,
            padding: 0,
            payload_offset: 12,
            payload_len: 0,
        }
    }

    /// 20 ms packets, 0..500, each arriving at 20 ms × n plus `delay(n)`.
    fn feed(m: &mut PlayoutAccount, delay: impl Fn(u16) -> Option<u64>) {
        let mut arrivals: Vec<(Duration, u16)> = (0..500u16)
            .filter_map(|n| delay(n).map(|d| (Duration::from_millis(u64::from(n) * 20 + d), n)))
            .collect();
        arrivals.sort();
        for (at, n) in arrivals {
            m.on_packet(&header(n), at);
        }
        m.advance(Duration::from_secs(12));
    }

    #[test]
    fn a_steady_stream_plays_every_packet_and_nothing_is_late() {
        let mut m = model(100, 300);
        feed(&mut m, |_| Some(5));
        let f = m.figures();
        assert_eq!((f.late, f.lost, f.underruns), (0, 0, 0), "{f:?}");
        assert_eq!(f.played, 500);
    }

    #[test]
    fn a_delay_spike_beyond_the_buffer_makes_packets_late_and_a_loss_counts_once() {
        let mut m = model(100, 150);
        // Packets 200..210 are held 600 ms: past a buffer of at most 150 ms. Packet 300 is lost.
        feed(&mut m, |n| match n {
            200..210 => Some(600),
            300 => None,
            _ => Some(5),
        });
        let f = m.figures();
        assert!(f.late >= 8, "{f:?}");
        assert!(f.lost > f.late, "{f:?}");
        // The same with a buffer that holds a second: nothing late, only the real loss.
        let mut m = model(1000, 2000);
        feed(&mut m, |n| match n {
            200..210 => Some(600),
            300 => None,
            _ => Some(5),
        });
        let f = m.figures();
        assert_eq!((f.late, f.lost), (0, 1), "{f:?}");
    }
}
