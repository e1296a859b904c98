//! What `/listen` streams: the played audio as Ogg Opus, WAV or FLAC, encoded chunk by chunk
//! for one listener. Each encoder starts from the first chunk it sees (the container header
//! comes with it), so a listener may join at any moment.

use std::io::{Seek, SeekFrom, Write};

use ogg::writing::{PacketWriteEndInfo, PacketWriter};

use super::super::hub::PcmChunk;
use crate::audio::resample::StreamResampler;
use crate::codec::opus::{OpusEncodeOptions, OpusPacketEncoder};
use crate::output::flac_stream::FlacStream;

/// The container a listener asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenFormat {
    /// Ogg Opus (RFC 7845), 48 kHz, at most two channels.
    OggOpus,
    /// 16-bit PCM WAV with open-ended sizes.
    Wav,
    /// 24-bit FLAC in 20 ms blocks.
    Flac,
}

impl ListenFormat {
    /// The `Content-Type` served.
    pub fn content_type(self) -> &'static str {
        match self {
            ListenFormat::OggOpus => "audio/ogg; codecs=opus",
            ListenFormat::Wav => "audio/wav",
            ListenFormat::Flac => "audio/flac",
        }
    }

    /// The encoder for a stream whose first chunk is `first`.
    pub fn encoder(self, first: &PcmChunk) -> Result<Box<dyn ChunkEncoder>, String> {
        Ok(match self {
            ListenFormat::OggOpus => Box::new(OggOpus::new(first.rate, first.channels)?),
            ListenFormat::Wav => Box::new(Wav::new(first.rate, first.channels)),
            ListenFormat::Flac => Box::new(Flac::new(first.rate, first.channels)?),
        })
    }
}

/// Turns chunks of played audio into bytes of one container stream.
pub trait ChunkEncoder: Send {
    /// Appends the bytes for `chunk` (the container's header before the first) to `out`.
    fn encode(&mut self, chunk: &PcmChunk, out: &mut Vec<u8>) -> Result<(), String>;
}

/// Opus takes 48 kHz; libopus's encoder delay at 48 kHz, announced as pre-skip.
const OPUS_RATE: u32 = 48_000;
const PRE_SKIP: u16 = 312;
/// 20 ms at 48 kHz.
const OPUS_FRAME: usize = 960;

/// Ogg Opus: one 20 ms packet per page, so each page is a small chunk.
pub struct OggOpus {
    encoder: OpusPacketEncoder,
    resampler: Option<StreamResampler>,
    source_channels: usize,
    channels: usize,
    pending: Vec<f32>,
    resampled: Vec<f32>,
    packet: Vec<u8>,
    writer: PacketWriter<'static, Vec<u8>>,
    granule: u64,
    started: bool,
}

impl OggOpus {
    fn new(rate: u32, channels: u16) -> Result<Self, String> {
        let out_channels = channels.clamp(1, 2);
        let options = OpusEncodeOptions {
            bitrate: 64_000 * u32::from(out_channels),
            ..OpusEncodeOptions::default()
        };
        let encoder =
            OpusPacketEncoder::new(out_channels, std::time::Duration::from_millis(20), options)
                .map_err(|e| e.to_string())?;
        let resampler = (rate != OPUS_RATE)
            .then(|| StreamResampler::new(rate, OPUS_RATE, usize::from(out_channels)))
            .transpose()
            .map_err(|e| e.to_string())?;
        Ok(OggOpus {
            encoder,
            resampler,
            source_channels: usize::from(channels.max(1)),
            channels: usize::from(out_channels),
            pending: Vec::new(),
            resampled: Vec::new(),
            packet: Vec::new(),
            writer: PacketWriter::new(Vec::new()),
            granule: u64::from(PRE_SKIP),
            started: false,
        })
    }

    fn headers(&mut self) -> Result<(), String> {
        let mut head = b"OpusHead".to_vec();
        head.push(1);
        head.push(self.channels as u8);
        head.extend(PRE_SKIP.to_le_bytes());
        head.extend(OPUS_RATE.to_le_bytes());
        head.extend(0i16.to_le_bytes());
        head.push(0);
        let mut tags = b"OpusTags".to_vec();
        let vendor = b"jitterplay";
        tags.extend((vendor.len() as u32).to_le_bytes());
        tags.extend(vendor);
        tags.extend(0u32.to_le_bytes());
        let io = |e: std::io::Error| e.to_string();
        self.writer
            .write_packet(head, SERIAL, PacketWriteEndInfo::EndPage, 0)
            .map_err(io)?;
        self.writer
            .write_packet(tags, SERIAL, PacketWriteEndInfo::EndPage, 0)
            .map_err(io)
    }
}

/// The Ogg stream's serial number (one logical stream per listener).
const SERIAL: u32 = 0x6a70_6c79;

impl ChunkEncoder for OggOpus {
    fn encode(&mut self, chunk: &PcmChunk, out: &mut Vec<u8>) -> Result<(), String> {
        if !self.started {
            self.started = true;
            self.headers()?;
        }
        // More than two channels: the first two are heard (a listening aid, not an archive).
        let mapped = chunk
            .samples
            .chunks(self.source_channels)
            .flat_map(|frame| {
                (0..self.channels).map(move |c| frame.get(c).copied().unwrap_or(0.0))
            });
        match self.resampler.as_mut() {
            Some(r) => {
                let input: Vec<f32> = mapped.collect();
                self.resampled.clear();
                r.process(&input, &mut self.resampled)
                    .map_err(|e| e.to_string())?;
                self.pending.extend_from_slice(&self.resampled);
            }
            None => self.pending.extend(mapped),
        }
        let whole = OPUS_FRAME * self.channels;
        let mut at = 0;
        while self.pending.len() - at >= whole {
            self.encoder
                .encode(&self.pending[at..at + whole], &mut self.packet)
                .map_err(|e| e.to_string())?;
            self.granule += OPUS_FRAME as u64;
            self.writer
                .write_packet(
                    self.packet.clone(),
                    SERIAL,
                    PacketWriteEndInfo::EndPage,
                    self.granule,
                )
                .map_err(|e| e.to_string())?;
            at += whole;
        }
        self.pending.drain(..at);
        out.append(self.writer.inner_mut());
        Ok(())
    }
}

/// WAV whose RIFF and data sizes say "unknown" (0xFFFFFFFF), as live WAV streams do.
pub struct Wav {
    rate: u32,
    channels: u16,
    started: bool,
}

impl Wav {
    fn new(rate: u32, channels: u16) -> Self {
        Wav {
            rate,
            channels: channels.max(1),
            started: false,
        }
    }
}

impl ChunkEncoder for Wav {
    fn encode(&mut self, chunk: &PcmChunk, out: &mut Vec<u8>) -> Result<(), String> {
        if !self.started {
            self.started = true;
            let block = self.channels * 2;
            out.extend(b"RIFF");
            out.extend(u32::MAX.to_le_bytes());
            out.extend(b"WAVEfmt ");
            out.extend(16u32.to_le_bytes());
            out.extend(1u16.to_le_bytes());
            out.extend(self.channels.to_le_bytes());
            out.extend(self.rate.to_le_bytes());
            out.extend((self.rate * u32::from(block)).to_le_bytes());
            out.extend(block.to_le_bytes());
            out.extend(16u16.to_le_bytes());
            out.extend(b"data");
            out.extend(u32::MAX.to_le_bytes());
        }
        for s in chunk.samples.iter() {
            let v = (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
            out.extend(v.to_le_bytes());
        }
        Ok(())
    }
}

/// A byte sink that cannot seek: FLAC's header is then written once and never fixed up.
struct Unseekable(Vec<u8>);

impl Write for Unseekable {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for Unseekable {
    fn seek(&mut self, _: SeekFrom) -> std::io::Result<u64> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "a live stream cannot seek",
        ))
    }
}

/// FLAC in blocks of 20 ms (a live stream's STREAMINFO leaves the length unknown).
pub struct Flac {
    stream: FlacStream<Unseekable>,
}

impl Flac {
    fn new(rate: u32, channels: u16) -> Result<Self, String> {
        let block = (rate as usize / 50).max(16);
        let stream = FlacStream::with_block_size(Unseekable(Vec::new()), rate, channels, block)
            .map_err(|e| e.to_string())?;
        Ok(Flac { stream })
    }
}

impl ChunkEncoder for Flac {
    fn encode(&mut self, chunk: &PcmChunk, out: &mut Vec<u8>) -> Result<(), String> {
        self.stream.write_samples(&chunk.samples);
        self.stream.flush(false).map_err(|e| e.to_string())?;
        out.append(&mut self.stream.get_mut().0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, channels: u16, ms: usize) -> Vec<PcmChunk> {
        let frames = rate as usize * ms / 1000;
        let samples: Vec<f32> = (0..frames)
            .flat_map(|i| {
                let v = (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 0.5;
                std::iter::repeat_n(v, usize::from(channels))
            })
            .collect();
        samples
            .chunks(rate as usize / 50 * usize::from(channels))
            .map(|c| PcmChunk {
                samples: c.into(),
                rate,
                channels,
            })
            .collect()
    }

    fn stream(format: ListenFormat, chunks: &[PcmChunk]) -> Vec<u8> {
        let mut enc = format.encoder(&chunks[0]).expect("encoder");
        let mut out = Vec::new();
        for c in chunks {
            enc.encode(c, &mut out).expect("encode");
        }
        out
    }

    #[test]
    fn wav_and_flac_streams_decode_back_to_what_was_played() {
        let chunks = tone(8000, 1, 500);
        let played: Vec<f32> = chunks
            .iter()
            .flat_map(|c| c.samples.iter().copied())
            .collect();
        for format in [ListenFormat::Wav, ListenFormat::Flac] {
            let bytes = stream(format, &chunks);
            let ext = if format == ListenFormat::Flac {
                "flac"
            } else {
                "wav"
            };
            let mut file =
                crate::codec::file::FileDecoder::from_bytes(bytes, Some(ext)).expect("opens");
            let (mut decoded, mut chunk) = (Vec::new(), Vec::new());
            while file.next_chunk(&mut chunk).expect("decodes") {
                decoded.extend_from_slice(&chunk);
            }
            // FLAC holds back the last partial block; WAV has everything.
            assert!(
                decoded.len() + 160 >= played.len(),
                "{format:?}: {}",
                decoded.len()
            );
            for (a, b) in decoded.iter().zip(&played) {
                assert!((a - b).abs() < 1.0 / 16384.0, "{format:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn ogg_opus_pages_carry_the_headers_and_20_ms_packets() {
        let chunks = tone(44_100, 2, 1000);
        let bytes = stream(ListenFormat::OggOpus, &chunks);
        let mut reader = ogg::PacketReader::new(std::io::Cursor::new(bytes));
        let head = reader.read_packet_expected().expect("head");
        assert!(head.data.starts_with(b"OpusHead") && head.data[9] == 2);
        let tags = reader.read_packet_expected().expect("tags");
        assert!(tags.data.starts_with(b"OpusTags"));
        let mut packets = 0;
        let mut decoder = opus::Decoder::new(48_000, opus::Channels::Stereo).expect("decoder");
        let mut pcm = vec![0.0f32; 960 * 2];
        while let Ok(Some(p)) = reader.read_packet() {
            assert_eq!(
                decoder
                    .decode_float(&p.data, &mut pcm, false)
                    .expect("decode"),
                960
            );
            packets += 1;
        }
        // One second at 44.1 kHz resampled to 48 kHz, less the resampler's delay.
        assert!((45..=50).contains(&packets), "{packets}");
    }
}
