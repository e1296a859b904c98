//! The simulated sender: a looping source cut into RTP packets on the sender's own clock.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rtp_rs::{RtpPacketBuilder, Seq};

use super::scenario::SenderBehaviour;
use crate::rtp::packetize::{PcmPacketizer, DEFAULT_MAX_PAYLOAD};
use crate::rtp::payload::PayloadFormat;

/// The payload type the simulator sends L16 on.
pub const SIM_PT: u8 = 96;

/// A packet as it leaves the sender.
#[derive(Debug, Clone)]
pub struct SentPacket {
    /// When it was sent (true time).
    pub sent: Duration,
    /// The datagram.
    pub bytes: Vec<u8>,
    /// SSRC and RTP timestamp, to recognise its audio at the output.
    pub key: (u32, u32),
    /// Absolute frame index of its first sample in the looped source.
    pub source_frame: u64,
    /// Frames it carries.
    pub frames: usize,
}

/// Why the sender could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    /// The source cannot be packetized as L16.
    #[error("cannot packetize the source: {0}")]
    Packetize(String),
    /// The source is empty.
    #[error("the input holds no audio")]
    Empty,
}

/// Cuts a looping source into packets, applying the scenario's sender behaviour.
pub struct SimSender {
    source: Vec<f32>,
    channels: usize,
    rate: u32,
    packetizer: PcmPacketizer,
    behaviour: SenderBehaviour,
    rng: ChaCha8Rng,
    total_frames: u64,
    index: u64,
    ssrc: u32,
    seq: u16,
    ts_base: u32,
    base_index: u64,
    marker_next: bool,
    next_restart: usize,
    next_ssrc_change: usize,
    scratch: Vec<f32>,
    payload: Vec<u8>,
}

impl SimSender {
    /// A sender of `source` (interleaved, `rate` Hz, `channels`) for `total_frames` frames.
    pub fn new(
        source: Vec<f32>,
        rate: u32,
        channels: u16,
        total_frames: u64,
        behaviour: SenderBehaviour,
        seed: u64,
    ) -> Result<Self, SenderError> {
        if source.is_empty() {
            return Err(SenderError::Empty);
        }
        let format = PayloadFormat::L16 { rate, channels };
        let ptime = Duration::from_millis(u64::from(behaviour.ptime_ms.max(1)));
        let packetizer = PcmPacketizer::new(&format, ptime, DEFAULT_MAX_PAYLOAD)
            .map_err(|e| SenderError::Packetize(e.to_string()))?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x005e_4de5);
        let seq = behaviour.initial_seq.unwrap_or_else(|| rng.random());
        let ts_base = behaviour.initial_ts.unwrap_or_else(|| rng.random());
        let ssrc = rng.random();
        Ok(SimSender {
            source,
            channels: usize::from(channels),
            rate,
            packetizer,
            behaviour,
            rng,
            total_frames,
            index: 0,
            ssrc,
            seq,
            ts_base,
            base_index: 0,
            marker_next: true,
            next_restart: 0,
            next_ssrc_change: 0,
            scratch: Vec::new(),
            payload: Vec::new(),
        })
    }

    /// Frames per packet.
    pub fn frames_per_packet(&self) -> usize {
        self.packetizer.frames_per_packet()
    }

    /// Source frames `[start, start + frames)` of the looped source, interleaved, into `out`.
    pub fn source_frames(&self, start: u64, frames: usize, out: &mut Vec<f32>) {
        out.clear();
        let len = (self.source.len() / self.channels) as u64;
        for f in start..start + frames as u64 {
            let at = ((f % len) as usize) * self.channels;
            out.extend_from_slice(&self.source[at..at + self.channels]);
        }
    }

    /// The send time of the next packet, or None when the stream is over.
    pub fn next_send_time(&self) -> Option<Duration> {
        let fpp = self.frames_per_packet() as u64;
        let frame = self.index * fpp;
        if frame >= self.total_frames {
            return None;
        }
        let stream_time = frame as f64 / f64::from(self.rate);
        // A fast sender clock (positive ppm) finishes its nominal second early.
        Some(Duration::from_secs_f64(
            stream_time / (1.0 + self.behaviour.drift_ppm * 1e-6),
        ))
    }

    /// The next packet (None when the stream is over); packets in a pause are skipped silently.
    pub fn next_packet(&mut self) -> Option<SentPacket> {
        loop {
            let sent = self.next_send_time()?;
            let fpp = self.frames_per_packet();
            let frame = self.index * fpp as u64;
            let stream_s = frame as f64 / f64::from(self.rate);
            self.apply_restarts(stream_s);
            let paused = self
                .behaviour
                .pauses
                .iter()
                .any(|p| stream_s >= p.at_s && stream_s < p.at_s + p.duration_ms / 1000.0);
            let ts = self
                .ts_base
                .wrapping_add(((self.index - self.base_index) * fpp as u64) as u32);
            self.index += 1;
            if paused {
                self.marker_next = true;
                continue;
            }
            let frames = fpp.min((self.total_frames - frame) as usize);
            let mut scratch = std::mem::take(&mut self.scratch);
            self.source_frames(frame, frames, &mut scratch);
            self.payload.clear();
            let encoded = self.packetizer.encode(&scratch, &mut self.payload);
            self.scratch = scratch;
            if encoded.is_err() {
                return None;
            }
            let bytes = RtpPacketBuilder::new()
                .payload_type(SIM_PT)
                .ssrc(self.ssrc)
                .sequence(Seq::from(self.seq))
                .timestamp(ts)
                .marked(std::mem::replace(&mut self.marker_next, false))
                .payload(&self.payload)
                .build()
                .ok()?;
            self.seq = self.seq.wrapping_add(1);
            return Some(SentPacket {
                sent,
                bytes,
                key: (self.ssrc, ts),
                source_frame: frame,
                frames,
            });
        }
    }

    fn apply_restarts(&mut self, stream_s: f64) {
        if let Some(&at) = self.behaviour.restarts_at_s.get(self.next_restart) {
            if stream_s >= at {
                self.next_restart += 1;
                self.renumber();
            }
        }
        if let Some(&at) = self.behaviour.ssrc_changes_at_s.get(self.next_ssrc_change) {
            if stream_s >= at {
                self.next_ssrc_change += 1;
                self.ssrc = self.rng.random();
                self.renumber();
            }
        }
    }

    fn renumber(&mut self) {
        self.seq = self.rng.random();
        self.ts_base = self.rng.random();
        self.base_index = self.index;
        self.marker_next = true;
    }
}
