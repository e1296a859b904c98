//! Audio the sender signals instead of sending: RFC 4733 telephone events (DTMF tones) and
//! RFC 3389 comfort noise, placed on the stream's RTP timeline and rendered into what the
//! receive core plays there.
//!
//! Both payloads share the stream's SSRC, clock and sequence numbers, so the jitter buffer
//! already plays their time (as the gaps their sequence numbers and the suppressed audio leave);
//! this module only needs to know which RTP time each produced piece of audio stands for. Real
//! frames carry their timestamp; gaps are placed from the buffer's play position, mapped to the
//! 32-bit RTP timestamp through the last real frame (the buffer's extended timestamps are
//! rebased at restarts, so only differences carry over).

use std::time::Duration;

use crate::playout::comfort_noise::ComfortNoiseSynth;
use crate::playout::dtmf_events::{DtmfMode, DtmfSchedule};
use crate::playout::metrics::Metrics;
use crate::rtp::comfort_noise::parse_comfort_noise;
use crate::rtp::telephone_event::parse_events;

/// Telephone events and comfort noise of one stream.
#[derive(Debug, Clone)]
pub(super) struct SignalledAudio {
    mode: DtmfMode,
    clock_rate: u32,
    events: DtmfSchedule,
    noise: ComfortNoiseSynth,
    /// (extended, RTP) timestamp of the last real audio frame played.
    last_frame: Option<(u64, u32)>,
}

/// One piece of produced audio: where it lies on the RTP timeline and what it is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Piece {
    /// RTP timestamp of its first frame.
    pub start: u32,
    /// Decoded real audio (else a gap: pause, loss, or non-audio sequence numbers).
    pub audio: bool,
    /// Decoder rate and channels of the samples.
    pub rate: u32,
    pub channels: usize,
}

impl SignalledAudio {
    pub(super) fn new(mode: DtmfMode, clock_rate: u32) -> Self {
        SignalledAudio {
            mode,
            clock_rate,
            events: DtmfSchedule::new(clock_rate),
            noise: ComfortNoiseSynth::new(),
            last_frame: None,
        }
    }

    /// Takes a telephone-event payload; false if it is malformed (then ignored).
    pub(super) fn on_event(&mut self, ts: u32, payload: &[u8]) -> bool {
        match parse_events(payload) {
            Ok(events) => {
                events.for_each(|e| self.events.note(ts, &e));
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "telephone event ignored");
                false
            }
        }
    }

    /// Takes a comfort noise payload; false if it is malformed (then ignored).
    pub(super) fn on_comfort_noise(&mut self, ts: u32, payload: &[u8]) -> bool {
        match parse_comfort_noise(payload) {
            Ok(p) => {
                self.noise.note(ts, p);
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "comfort noise packet ignored");
                false
            }
        }
    }

    /// A real frame with these timestamps plays next.
    pub(super) fn frame(&mut self, ext_ts: u64, rtp_ts: u32) {
        self.last_frame = Some((ext_ts, rtp_ts));
    }

    /// The RTP timestamp of the buffer's extended timestamp `ext`, once a frame has played.
    pub(super) fn rtp_ts(&self, ext: u64) -> Option<u32> {
        let (frame_ext, frame_rtp) = self.last_frame?;
        Some(frame_rtp.wrapping_add(ext.wrapping_sub(frame_ext) as u32))
    }

    /// Whether a DTMF event sounds during the `ticks` from `start` (so the level must not be
    /// moved there: it would change the tone's length).
    pub(super) fn has_tone(&self, start: Option<u32>, ticks: u64) -> bool {
        start.is_some_and(|s| self.events.covers(s, ticks))
    }

    /// Renders comfort noise (gaps only) and then events over `samples`, and counts them;
    /// true if an event sounds in them.
    pub(super) fn render(&mut self, piece: Piece, samples: &mut [f32], metrics: &Metrics) -> bool {
        let secs = |frames: usize| Duration::from_secs_f64(frames as f64 / f64::from(piece.rate));
        if let Some((_, audio_ts)) = self.last_frame.filter(|_| !piece.audio) {
            let noise = self.noise.render_gap(
                piece.start,
                audio_ts,
                piece.rate,
                self.clock_rate,
                piece.channels,
                samples,
            );
            if noise > 0 {
                metrics.add_comfort_noise(secs(noise));
            }
        }
        let r = self.events.render(
            piece.start,
            piece.rate,
            self.clock_rate,
            piece.channels,
            self.mode,
            samples,
        );
        if r.frames > 0 || r.new_events > 0 {
            metrics.add_dtmf(r.new_events, secs(r.frames));
        }
        r.frames > 0
    }
}
