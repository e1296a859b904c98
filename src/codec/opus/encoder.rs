//! Opus encoding for `send`: interleaved 48 kHz f32 frames of one packet time into RFC 7587
//! payloads, with libopus (the `opus` crate).

use opus::{Application, Bitrate, Channels, Encoder};

use crate::rtp::opus_toc::OPUS_RATE;

/// How `send` encodes Opus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusEncodeOptions {
    /// Target bit rate in bit/s.
    pub bitrate: u32,
    /// In-band FEC: each packet also carries a low-rate copy of the previous one (RFC 6716
    /// §2.1.7); libopus adds it when it expects loss, so 10 % expected loss is set with it.
    pub fec: bool,
    /// Discontinuous transmission: silence is coded as empty frames, which are not sent.
    pub dtx: bool,
}

impl Default for OpusEncodeOptions {
    /// 64 kbit/s, no FEC, no DTX.
    fn default() -> Self {
        OpusEncodeOptions {
            bitrate: 64_000,
            fec: false,
            dtx: false,
        }
    }
}

/// Why libopus refused a setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpusEncodeError {
    /// The packet time is not an Opus frame size.
    #[error("--ptime {0:?} is not an Opus packet time; use 2.5ms, 5ms, 10ms, 20ms, 40ms, 60ms, 80ms, 100ms or 120ms")]
    PacketTime(std::time::Duration),
    /// The bit rate is outside Opus's range.
    #[error("--bitrate {0} is out of Opus's range (6k..=510k)")]
    Bitrate(u32),
    /// libopus failed.
    #[error("libopus encoder: {0}")]
    Libopus(&'static str),
}

/// Packets longer than this many bytes cannot come out of libopus (RFC 6716 §3.4 bounds a
/// 120 ms packet well below it).
const MAX_PACKET_BYTES: usize = 4000;

/// A libopus encoder for one stream.
pub struct OpusPacketEncoder {
    encoder: Encoder,
    channels: usize,
    frames: usize,
    buf: Vec<u8>,
}

impl std::fmt::Debug for OpusPacketEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusPacketEncoder")
            .field("channels", &self.channels)
            .field("frames", &self.frames)
            .finish()
    }
}

impl OpusPacketEncoder {
    /// An encoder of `channels` (1 or 2) channels, packets of `ptime`.
    pub fn new(
        channels: u16,
        ptime: std::time::Duration,
        options: OpusEncodeOptions,
    ) -> Result<Self, OpusEncodeError> {
        let frames = frames_for(ptime).ok_or(OpusEncodeError::PacketTime(ptime))?;
        if !(6_000..=510_000).contains(&options.bitrate) {
            return Err(OpusEncodeError::Bitrate(options.bitrate));
        }
        let ch = if channels == 1 {
            Channels::Mono
        } else {
            Channels::Stereo
        };
        let lib = |e: opus::Error| OpusEncodeError::Libopus(e.description());
        let mut encoder = Encoder::new(OPUS_RATE, ch, Application::Audio).map_err(lib)?;
        encoder
            .set_bitrate(Bitrate::Bits(options.bitrate as i32))
            .map_err(lib)?;
        encoder.set_inband_fec(options.fec).map_err(lib)?;
        encoder
            .set_packet_loss_perc(if options.fec { 10 } else { 0 })
            .map_err(lib)?;
        encoder.set_dtx(options.dtx).map_err(lib)?;
        Ok(OpusPacketEncoder {
            encoder,
            channels: usize::from(channels.clamp(1, 2)),
            frames,
            buf: vec![0; MAX_PACKET_BYTES],
        })
    }

    /// Sample frames per packet.
    pub fn frames_per_packet(&self) -> usize {
        self.frames
    }

    /// Encodes one packet of exactly [`Self::frames_per_packet`] interleaved frames into `out`
    /// (replacing its contents).
    pub fn encode(&mut self, samples: &[f32], out: &mut Vec<u8>) -> Result<(), OpusEncodeError> {
        debug_assert_eq!(samples.len(), self.frames * self.channels);
        let n = self
            .encoder
            .encode_float(samples, &mut self.buf)
            .map_err(|e| OpusEncodeError::Libopus(e.description()))?;
        out.clear();
        out.extend_from_slice(&self.buf[..n]);
        Ok(())
    }
}

/// A DTX frame: libopus codes silence as a TOC byte and at most one more, which senders do not
/// transmit (the receiver hears the timestamp gap as a pause).
pub fn is_dtx_frame(payload: &[u8]) -> bool {
    payload.len() <= 2
}

/// Frames at 48 kHz in `ptime` when it is an Opus packet time (2.5 ms steps up to 120 ms,
/// single frames of 2.5–20 ms or multiples of 20 ms).
fn frames_for(ptime: std::time::Duration) -> Option<usize> {
    let nanos = ptime.as_nanos();
    let frames = usize::try_from(nanos * u128::from(OPUS_RATE) / 1_000_000_000).ok()?;
    let exact = nanos * u128::from(OPUS_RATE) % 1_000_000_000 == 0;
    let allowed = matches!(frames, 120 | 240 | 480 | 960)
        || (frames % 960 == 0 && (960..=5760).contains(&frames));
    (exact && allowed).then_some(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn packet_times_are_opus_frame_sizes() {
        let ms = |m: u64| Duration::from_micros(m);
        assert_eq!(frames_for(ms(2_500)), Some(120));
        assert_eq!(frames_for(ms(20_000)), Some(960));
        assert_eq!(frames_for(ms(120_000)), Some(5760));
        assert_eq!(frames_for(ms(30_000)), None);
        assert_eq!(frames_for(ms(140_000)), None);
        assert!(OpusPacketEncoder::new(2, ms(25_000), OpusEncodeOptions::default()).is_err());
        assert!(matches!(
            OpusPacketEncoder::new(
                2,
                ms(20_000),
                OpusEncodeOptions {
                    bitrate: 1_000,
                    ..Default::default()
                }
            ),
            Err(OpusEncodeError::Bitrate(1_000))
        ));
    }

    #[test]
    fn encodes_packets_that_decode_to_their_length() {
        let mut enc = OpusPacketEncoder::new(
            2,
            Duration::from_millis(40),
            OpusEncodeOptions {
                fec: true,
                dtx: true,
                ..Default::default()
            },
        )
        .unwrap();
        let mut out = Vec::new();
        let tone: Vec<f32> = (0..1920 * 2)
            .map(|i| ((i / 2) as f32 * 0.05).sin() * 0.3)
            .collect();
        enc.encode(&tone, &mut out).unwrap();
        assert_eq!(crate::rtp::opus_toc::packet_samples(&out), Some(1920));
        // Digital silence under DTX soon codes as empty frames.
        let silence = vec![0.0f32; 1920 * 2];
        let mut dtx = false;
        for _ in 0..20 {
            enc.encode(&silence, &mut out).unwrap();
            dtx |= is_dtx_frame(&out);
        }
        assert!(dtx, "no DTX frame in 800 ms of silence");
    }
}
