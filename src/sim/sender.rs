//! The simulated sender: a looping source cut into RTP packets on the sender's own clock.
//!
//! The source is encoded to L16 once, when the sender is built (the encoding is per sample and
//! stateless, so a packet's payload is a slice of it), and datagrams are written into buffers
//! the simulation hands back with [`SimSender::recycle`]: an hour-long run allocates nothing per
//! packet once the pool has grown to the number of packets in flight.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rtp_rs::{RtpPacketBuilder, Seq};

use super::opus_sender::OpusPayloads;
use super::scenario::SenderBehaviour;
pub use super::sender_error::SenderError;
use crate::rtp::packetize::{PcmPacketizer, DEFAULT_MAX_PAYLOAD};
use crate::rtp::payload::PayloadFormat;

/// The payload type the simulator sends L16 on.
pub const SIM_PT: u8 = 96;

/// Length of the fixed RTP header the sender writes (no CSRCs, no extension).
const RTP_HEADER_LEN: usize = 12;

/// A packet as it leaves the sender.
#[derive(Debug, Clone)]
pub struct SentPacket {
    /// When it was sent (true time).
    pub sent: Duration,
    /// The datagram (hand it back with [`SimSender::recycle`] when done).
    pub bytes: Vec<u8>,
    /// SSRC and RTP timestamp, to recognise its audio at the output.
    pub key: (u32, u32),
    /// Absolute frame index of its first sample in the looped source.
    pub source_frame: u64,
    /// Frames it carries.
    pub frames: usize,
}

/// Cuts a looping source into packets, applying the scenario's sender behaviour.
pub struct SimSender {
    source: Vec<f32>,
    /// `source` as L16 payload bytes, frame for frame.
    encoded: Vec<u8>,
    channels: usize,
    /// Whole frames in `source`.
    source_len: u64,
    rate: u32,
    frames_per_packet: usize,
    behaviour: SenderBehaviour,
    rng: ChaCha8Rng,
    total_frames: u64,
    /// The next frame to send.
    frame: u64,
    ssrc: u32,
    seq: u16,
    ts_base: u32,
    /// The frame `ts_base` belongs to.
    base_frame: u64,
    marker_next: bool,
    next_restart: usize,
    next_ssrc_change: usize,
    next_seq_jump: usize,
    next_ptime_change: usize,
    pool: Vec<Vec<u8>>,
    /// Opus instead of L16 (see `opus_sender`), with a scratch buffer for a packet's samples.
    opus: Option<OpusPayloads>,
    pcm: Vec<f32>,
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
        let ch = usize::from(channels.max(1));
        let mut source = source;
        source.truncate(source.len() - source.len() % ch);
        if source.is_empty() {
            return Err(SenderError::Empty);
        }
        let format = PayloadFormat::L16 { rate, channels };
        let ptime = Duration::from_millis(u64::from(behaviour.ptime_ms.max(1)));
        let packetizer = PcmPacketizer::new(&format, ptime, DEFAULT_MAX_PAYLOAD)
            .map_err(|e| SenderError::Packetize(e.to_string()))?;
        let mut encoded = Vec::with_capacity(source.len() * 2);
        packetizer
            .encode(&source, &mut encoded)
            .map_err(|e| SenderError::Packetize(e.to_string()))?;
        // Bit-exactness is judged against what was sent: the source as L16 carries it (the same
        // samples for a 16-bit source; a 24-bit or float source is rounded to 16 bits on the wire).
        for (s, b) in source.iter_mut().zip(encoded.chunks_exact(2)) {
            *s = f32::from(i16::from_be_bytes([b[0], b[1]])) / 32768.0;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x005e_4de5);
        let seq = behaviour.initial_seq.unwrap_or_else(|| rng.random());
        let ts_base = behaviour.initial_ts.unwrap_or_else(|| rng.random());
        let ssrc = rng.random();
        Ok(SimSender {
            source_len: (source.len() / ch) as u64,
            source,
            encoded,
            channels: ch,
            rate,
            frames_per_packet: packetizer.frames_per_packet(),
            behaviour,
            rng,
            total_frames,
            frame: 0,
            ssrc,
            seq,
            ts_base,
            base_frame: 0,
            marker_next: true,
            next_restart: 0,
            next_ssrc_change: 0,
            next_seq_jump: 0,
            next_ptime_change: 0,
            pool: Vec::new(),
            opus: None,
            pcm: Vec::new(),
        })
    }

    /// Sends Opus encoded by `opus` instead of L16, in packets of its packet time (an L16
    /// packet is bounded by the payload size instead).
    pub fn use_opus(&mut self, opus: OpusPayloads) {
        self.frames_per_packet = opus.frames_per_packet();
        self.opus = Some(opus);
    }

    /// Opus: SNR of the played packets against the lossless decode (see `opus_sender`).
    pub fn lossless_snr_db(&self) -> Option<f64> {
        self.opus.as_ref().and_then(OpusPayloads::snr_db)
    }

    /// True if `samples`, played for the packet `key` of source frames `[start, start +
    /// frames)`, are what that packet should give: the source for L16, the lossless decode of
    /// the sent packets for Opus.
    pub fn matches_sent(
        &mut self,
        key: (u32, u32),
        start: u64,
        frames: usize,
        samples: &[f32],
    ) -> bool {
        match self.opus.as_mut() {
            Some(opus) => opus.matches(key, samples),
            None => self.matches_source(start, frames, samples),
        }
    }

    /// Frames per packet (now: packet time changes move it).
    pub fn frames_per_packet(&self) -> usize {
        self.frames_per_packet
    }

    /// The pieces of the looped source covering frames `[start, start + frames)`, as ranges of
    /// frame indices into one loop of the source (at most a few: one per loop boundary crossed).
    fn runs(&self, start: u64, frames: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
        let len = self.source_len;
        let mut at = start;
        let end = start + frames as u64;
        std::iter::from_fn(move || {
            if at >= end {
                return None;
            }
            let from = at % len;
            let n = (len - from).min(end - at);
            at += n;
            Some(from as usize..(from + n) as usize)
        })
    }

    /// Source frames `[start, start + frames)` of the looped source, interleaved, into `out`.
    pub fn source_frames(&self, start: u64, frames: usize, out: &mut Vec<f32>) {
        out.clear();
        for run in self.runs(start, frames) {
            out.extend_from_slice(&self.source[run.start * self.channels..run.end * self.channels]);
        }
    }

    /// True if `samples` (interleaved) equal source frames `[start, start + frames)` exactly.
    pub fn matches_source(&self, start: u64, frames: usize, samples: &[f32]) -> bool {
        if samples.len() != frames * self.channels {
            return false;
        }
        let mut pos = 0;
        self.runs(start, frames).all(|run| {
            let want = &self.source[run.start * self.channels..run.end * self.channels];
            let got = &samples[pos..pos + want.len()];
            pos += want.len();
            // Without early exit: the comparison vectorises (same meaning as `==` on slices).
            got.iter()
                .zip(want)
                .fold(true, |same, (g, w)| same & (g == w))
        })
    }

    /// The send time of the next packet, or None when the stream is over.
    pub fn next_send_time(&self) -> Option<Duration> {
        if self.frame >= self.total_frames {
            return None;
        }
        let stream_time = self.frame as f64 / f64::from(self.rate);
        // A fast sender clock (positive ppm) finishes its nominal second early.
        Some(Duration::from_secs_f64(
            stream_time / (1.0 + self.behaviour.drift_ppm * 1e-6),
        ))
    }

    /// Gives a datagram buffer back for reuse by later packets.
    pub fn recycle(&mut self, mut bytes: Vec<u8>) {
        bytes.clear();
        self.pool.push(bytes);
    }

    /// A pooled copy of `bytes` (for the network's duplicates).
    pub fn copy_of(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut copy = self.pool.pop().unwrap_or_default();
        copy.extend_from_slice(bytes);
        copy
    }

    /// The next packet (None when the stream is over); packets in a pause are skipped silently.
    pub fn next_packet(&mut self) -> Option<SentPacket> {
        loop {
            let sent = self.next_send_time()?;
            let frame = self.frame;
            let stream_s = frame as f64 / f64::from(self.rate);
            self.apply_restarts(stream_s);
            let fpp = self.frames_per_packet;
            let paused = self
                .behaviour
                .pauses
                .iter()
                .any(|p| stream_s >= p.at_s && stream_s < p.at_s + p.duration_ms / 1000.0);
            let ts = self.ts_base.wrapping_add((frame - self.base_frame) as u32);
            self.frame += fpp as u64;
            if paused {
                self.marker_next = true;
                continue;
            }
            let frames = fpp.min((self.total_frames - frame) as usize);
            let mut header = [0u8; RTP_HEADER_LEN];
            RtpPacketBuilder::new()
                .payload_type(SIM_PT)
                .ssrc(self.ssrc)
                .sequence(Seq::from(self.seq))
                .timestamp(ts)
                .marked(std::mem::replace(&mut self.marker_next, false))
                .build_into(&mut header)
                .ok()?;
            let mut bytes = self.pool.pop().unwrap_or_default();
            bytes.reserve(RTP_HEADER_LEN + frames * self.channels * 2);
            bytes.extend_from_slice(&header);
            let frame_bytes = self.channels * 2;
            if self.opus.is_some() {
                let mut pcm = std::mem::take(&mut self.pcm);
                self.source_frames(frame, frames, &mut pcm);
                let key = (self.ssrc, ts);
                let encoded = self
                    .opus
                    .as_mut()
                    .map(|o| o.encode(&pcm, fpp, key, &mut bytes));
                self.pcm = pcm;
                if let Some(Err(e)) = encoded {
                    tracing::warn!(error = %e, "simulated Opus sender stopped");
                    return None;
                }
            } else {
                for run in self.runs(frame, frames) {
                    bytes.extend_from_slice(
                        &self.encoded[run.start * frame_bytes..run.end * frame_bytes],
                    );
                }
            }
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
        if let Some(jump) = self.behaviour.seq_jumps.get(self.next_seq_jump) {
            if stream_s >= jump.at_s {
                self.next_seq_jump += 1;
                self.seq = self.seq.wrapping_add(jump.by);
            }
        }
        if let Some(change) = self.behaviour.ptime_changes.get(self.next_ptime_change) {
            if stream_s >= change.at_s {
                self.next_ptime_change += 1;
                let frames = u64::from(change.ptime_ms.max(1)) * u64::from(self.rate) / 1000;
                self.frames_per_packet = (frames as usize).max(1);
            }
        }
    }

    fn renumber(&mut self) {
        self.seq = self.rng.random();
        self.ts_base = self.rng.random();
        self.base_frame = self.frame;
        self.marker_next = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short source (1000 stereo frames) so that packets of 365 frames cross the loop point.
    fn sender(total_frames: u64) -> SimSender {
        let source: Vec<f32> = (0..2000)
            .map(|i| ((i * 37) % 2001) as f32 / 2048.0 - 0.5)
            .collect();
        let behaviour = SenderBehaviour {
            initial_seq: Some(65_534),
            ..SenderBehaviour::default()
        };
        SimSender::new(source, 48_000, 2, total_frames, behaviour, 9).unwrap()
    }

    #[test]
    fn packets_match_the_packetizer_and_builder_byte_for_byte() {
        let mut s = sender(5_000);
        let format = PayloadFormat::L16 {
            rate: 48_000,
            channels: 2,
        };
        let packetizer =
            PcmPacketizer::new(&format, Duration::from_millis(20), DEFAULT_MAX_PAYLOAD).unwrap();
        let (mut samples, mut payload) = (Vec::new(), Vec::new());
        let mut count = 0;
        while let Some(p) = s.next_packet() {
            s.source_frames(p.source_frame, p.frames, &mut samples);
            packetizer.encode(&samples, &mut payload).unwrap();
            let (ssrc, ts) = p.key;
            let expected = RtpPacketBuilder::new()
                .payload_type(SIM_PT)
                .ssrc(ssrc)
                .sequence(Seq::from(65_534u16.wrapping_add(count)))
                .timestamp(ts)
                .marked(count == 0)
                .payload(&payload)
                .build()
                .unwrap();
            assert_eq!(p.bytes, expected, "packet {count}");
            assert!(s.matches_source(p.source_frame, p.frames, &samples));
            s.recycle(p.bytes);
            count += 1;
        }
        // 5000 frames in packets of 365: 13 full ones and a last one of 255 frames.
        assert_eq!(count, 14);
    }

    #[test]
    fn source_frames_loop_and_mismatches_are_seen() {
        let s = sender(10_000);
        let mut out = Vec::new();
        s.source_frames(990, 20, &mut out);
        assert_eq!(out.len(), 40);
        assert_eq!(out[20..24], s.source[0..4]);
        assert!(s.matches_source(990, 20, &out));
        assert!(
            s.matches_source(1990, 20, &out),
            "one loop later is the same audio"
        );
        out[25] += 1.0 / 32_768.0;
        assert!(!s.matches_source(990, 20, &out));
        assert!(!s.matches_source(990, 19, &out), "length must match");
    }

    #[test]
    fn recycled_buffers_are_reused() {
        let mut s = sender(10_000);
        let first = s.next_packet().unwrap();
        let ptr = first.bytes.as_ptr();
        s.recycle(first.bytes);
        let second = s.next_packet().unwrap();
        assert_eq!(second.bytes.as_ptr(), ptr);
        let copy = s.copy_of(&second.bytes);
        assert_eq!(copy, second.bytes);
    }
}
