//! Opus for the simulated sender: each packet's audio encoded with libopus (the encoder `send
//! --format opus` uses), and the reference its output is judged against.
//!
//! Opus is lossy, so the source is no reference: a packet's output is judged *exact* when it
//! equals the lossless decode, i.e. what a fresh decoder makes of the sent packets decoded in
//! order. The receiver's decoder follows that decode sample for sample until a loss; after it,
//! FEC or PLC leave the decoder state a little different, and the frames it plays until the
//! state has converged again are not counted exact.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::audio::channels::ChannelMapper;
use crate::codec::opus::{OpusEncodeOptions, OpusPacketEncoder};
use crate::codec::rtp_decoder::RtpDecoder;
use crate::rtp::opus_toc::OPUS_RATE;
use crate::rtp::payload::PayloadFormat;

use super::sender_error::SenderError;

/// What the simulated sender puts on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SimCodec {
    /// L16 at the source's rate and channels: the output is compared with the source.
    #[default]
    L16,
    /// Opus (48 kHz sources): the output is compared with the lossless decode.
    Opus(OpusEncodeOptions),
}

impl SimCodec {
    /// The payload format the receiver is configured for.
    pub fn payload_format(&self, rate: u32, channels: u16) -> PayloadFormat {
        match self {
            SimCodec::L16 => PayloadFormat::L16 { rate, channels },
            SimCodec::Opus(_) => PayloadFormat::Opus,
        }
    }
}

/// Reference decodes kept for packets not played yet: 80 s of 20 ms packets, far beyond any
/// jitter buffer window (older ones were lost and are forgotten).
const KEPT: usize = 4096;

/// The Opus encoder of the simulated sender and the lossless reference decode.
pub struct OpusPayloads {
    options: OpusEncodeOptions,
    channels: u16,
    encoder: OpusPacketEncoder,
    padded: Vec<f32>,
    payload: Vec<u8>,
    reference: RtpDecoder,
    decoded: Vec<f32>,
    mapper: ChannelMapper,
    expected: HashMap<(u32, u32), Vec<f32>>,
    order: VecDeque<(u32, u32)>,
    /// Energy of the lossless decode and of the played audio's difference from it, over the
    /// packets played so far.
    signal_energy: f64,
    error_energy: f64,
}

impl OpusPayloads {
    /// An encoder for a `rate` Hz source of `channels` in packets of `ptime`.
    pub fn new(
        rate: u32,
        channels: u16,
        ptime: Duration,
        options: OpusEncodeOptions,
    ) -> Result<Self, SenderError> {
        if rate != OPUS_RATE {
            return Err(SenderError::Packetize(format!(
                "Opus is simulated from 48 kHz sources; this one is {rate} Hz"
            )));
        }
        let encoder = OpusPacketEncoder::new(channels, ptime, options)
            .map_err(|e| SenderError::Packetize(e.to_string()))?;
        let reference = RtpDecoder::new(&PayloadFormat::Opus)
            .map_err(|e| SenderError::Packetize(e.to_string()))?;
        // The receiver decodes to the decoder's channels and maps them to the source's.
        let decoded_channels = usize::from(reference.channels().unwrap_or(2));
        Ok(OpusPayloads {
            options,
            channels,
            encoder,
            padded: Vec::new(),
            payload: Vec::new(),
            reference,
            decoded: Vec::new(),
            mapper: ChannelMapper::new(decoded_channels, usize::from(channels)),
            expected: HashMap::new(),
            order: VecDeque::new(),
            signal_energy: 0.0,
            error_energy: 0.0,
        })
    }

    /// Frames of the packet time it was built for.
    pub fn frames_per_packet(&self) -> usize {
        self.encoder.frames_per_packet()
    }

    /// Appends the payload of `samples` (interleaved; fewer frames than a packet are padded
    /// with silence, and a new packet time starts a new encoder) to `out`, and decodes it for
    /// the reference of the packet `key` (SSRC, timestamp).
    pub fn encode(
        &mut self,
        samples: &[f32],
        frames_per_packet: usize,
        key: (u32, u32),
        out: &mut Vec<u8>,
    ) -> Result<(), SenderError> {
        let err = |e: &dyn std::fmt::Display| SenderError::Packetize(e.to_string());
        if frames_per_packet != self.encoder.frames_per_packet() {
            let ptime = Duration::from_secs_f64(frames_per_packet as f64 / f64::from(OPUS_RATE));
            self.encoder =
                OpusPacketEncoder::new(self.channels, ptime, self.options).map_err(|e| err(&e))?;
        }
        let want = self.encoder.frames_per_packet() * usize::from(self.channels);
        self.padded.clear();
        self.padded
            .extend_from_slice(&samples[..samples.len().min(want)]);
        self.padded.resize(want, 0.0);
        self.encoder
            .encode(&self.padded, &mut self.payload)
            .map_err(|e| err(&e))?;
        out.extend_from_slice(&self.payload);
        self.decoded.clear();
        self.reference
            .decode(&self.payload, &mut self.decoded)
            .map_err(|e| err(&e))?;
        let mut expected = Vec::with_capacity(self.decoded.len());
        self.mapper.map_into(&self.decoded, &mut expected);
        if self.order.len() == KEPT {
            if let Some(old) = self.order.pop_front() {
                self.expected.remove(&old);
            }
        }
        self.order.push_back(key);
        self.expected.insert(key, expected);
        Ok(())
    }

    /// True if `samples` played for packet `key` equal its lossless decode; either way their
    /// difference counts towards [`Self::snr_db`].
    pub fn matches(&mut self, key: (u32, u32), samples: &[f32]) -> bool {
        let Some(want) = self.expected.remove(&key) else {
            return false;
        };
        if want.len() == samples.len() {
            for (w, s) in want.iter().zip(samples) {
                self.signal_energy += f64::from(*w) * f64::from(*w);
                self.error_energy += f64::from(w - s) * f64::from(w - s);
            }
        }
        want.as_slice() == samples
    }

    /// Signal-to-noise ratio in dB of the played packets' audio against their lossless decode
    /// (concealed stretches have no packet and are not included); None before any played, and
    /// infinite when every one was equal.
    pub fn snr_db(&self) -> Option<f64> {
        (self.signal_energy > 0.0).then(|| 10.0 * (self.signal_energy / self.error_energy).log10())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_is_the_in_order_decode() {
        let mut op = OpusPayloads::new(
            48_000,
            2,
            Duration::from_millis(20),
            OpusEncodeOptions::default(),
        )
        .unwrap();
        let tone: Vec<f32> = (0..1920).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        op.encode(&tone, 960, (1, 0), &mut a).unwrap();
        op.encode(&tone[..1000], 960, (1, 960), &mut b).unwrap();
        let mut fresh = RtpDecoder::new(&PayloadFormat::Opus).unwrap();
        let (mut first, mut second) = (Vec::new(), Vec::new());
        fresh.decode(&a, &mut first).unwrap();
        fresh.decode(&b, &mut second).unwrap();
        assert!(op.matches((1, 960), &second), "short packets are padded");
        assert!(
            !op.matches((1, 960), &second),
            "each reference is used once"
        );
        first[7] += 1e-3;
        assert!(!op.matches((1, 0), &first));
        assert!(
            OpusPayloads::new(44_100, 2, Duration::from_millis(20), Default::default()).is_err()
        );
    }
}
