//! A decoded file as payloads: decode, map channels, resample when needed, cut by ptime, and
//! write each packet as PCM or encode it with Opus.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{FormatRequest, Passes, SourceError};
use crate::audio::channels::ChannelMapper;
use crate::audio::resample::StreamResampler;
use crate::codec::file::{FileDecoder, PcmSpec};
use crate::codec::opus::{is_dtx_frame, OpusEncodeOptions, OpusPacketEncoder};
use crate::rtp::packetize::PcmPacketizer;
use crate::rtp::payload::PayloadFormat;

/// Samples kept before the read position is compacted away.
const COMPACT_AFTER: usize = 1 << 15;

/// A file decoded, converted to the payload format and packetized, pass after pass.
pub struct PcmSource {
    path: PathBuf,
    decoder: FileDecoder,
    file_format: PcmSpec,
    format: PayloadFormat,
    /// `None` when the file already has the payload's channel count.
    mapper: Option<ChannelMapper>,
    /// `None` when the file already has the payload's rate.
    resampler: Option<StreamResampler>,
    coder: PacketCoder,
    channels: usize,
    passes: Passes,
    passes_done: u32,
    /// Decoded samples (reused).
    decoded: Vec<f32>,
    /// Channel-mapped samples (reused).
    mapped: Vec<f32>,
    /// Samples in the payload format waiting to be packetized, from `head` on.
    fifo: Vec<f32>,
    head: usize,
    /// The input is exhausted and the resampler flushed.
    ended: bool,
    /// Sample frames handed out so far: the next payload's media position.
    frames_out: u64,
}

/// What turns a packet's samples into its payload.
enum PacketCoder {
    /// Linear PCM or G.711 bytes.
    Pcm(PcmPacketizer),
    /// Opus; DTX frames are skipped, so the timestamps jump over silence.
    Opus {
        encoder: Box<OpusPacketEncoder>,
        dtx: bool,
        /// A short last packet padded to a whole Opus frame (reused).
        padded: Vec<f32>,
    },
}

impl PacketCoder {
    fn frames_per_packet(&self) -> usize {
        match self {
            PacketCoder::Pcm(p) => p.frames_per_packet(),
            PacketCoder::Opus { encoder, .. } => encoder.frames_per_packet(),
        }
    }
}

impl PcmSource {
    /// Opens `path` and prepares payloads of `request`'s format, `ptime` long and at most
    /// `max_payload` bytes (Opus: encoded with `opus`).
    pub fn open(
        path: &Path,
        request: &FormatRequest,
        ptime: Duration,
        max_payload: usize,
        passes: Passes,
        opus: OpusEncodeOptions,
    ) -> Result<Self, SourceError> {
        let decoder = FileDecoder::open(path)?;
        let file_format = decoder.format();
        let format = request.resolve(file_format)?;
        let (Some(rate), Some(channels)) = (format.sample_rate(), format.channels()) else {
            return Err(SourceError::NotSendable(format.to_string()));
        };
        let channels = usize::from(channels);
        let mapper = (channels != file_format.channels)
            .then(|| ChannelMapper::new(file_format.channels, channels));
        let resampler = if rate == file_format.rate {
            None
        } else {
            Some(StreamResampler::new(file_format.rate, rate, channels)?)
        };
        let coder = if format == PayloadFormat::Opus {
            PacketCoder::Opus {
                encoder: Box::new(OpusPacketEncoder::new(2, ptime, opus)?),
                dtx: opus.dtx,
                padded: Vec::new(),
            }
        } else {
            PacketCoder::Pcm(PcmPacketizer::new(
                &format,
                fitting_ptime(&format, ptime, max_payload),
                max_payload,
            )?)
        };
        tracing::debug!(?file_format, %format, frames = coder.frames_per_packet(), "PCM source");
        Ok(PcmSource {
            path: path.to_owned(),
            decoder,
            file_format,
            format,
            mapper,
            resampler,
            coder,
            channels,
            passes,
            passes_done: 0,
            decoded: Vec::new(),
            mapped: Vec::new(),
            fifo: Vec::new(),
            head: 0,
            ended: false,
            frames_out: 0,
        })
    }

    /// The payload format produced.
    pub fn format(&self) -> PayloadFormat {
        self.format
    }

    /// The packet time actually used (shorter than asked when a packet would exceed the payload limit).
    pub fn ptime(&self) -> Duration {
        match &self.coder {
            PacketCoder::Pcm(p) => p.ptime(),
            PacketCoder::Opus { encoder, .. } => Duration::from_nanos(
                encoder.frames_per_packet() as u64 * 1_000_000_000
                    / u64::from(crate::rtp::payload::OPUS_RATE),
            ),
        }
    }

    /// Sample frames per full packet.
    pub fn frames_per_packet(&self) -> usize {
        self.coder.frames_per_packet()
    }

    /// The file's own format.
    pub fn file_format(&self) -> PcmSpec {
        self.file_format
    }

    /// Writes the next payload into `out`; returns its position in sample frames, or `None` at the end.
    pub fn next_payload(&mut self, out: &mut Vec<u8>) -> Result<Option<u64>, SourceError> {
        loop {
            let Some(position) = self.next_packet(out)? else {
                return Ok(None);
            };
            // Opus DTX: silence coded as an empty frame is not sent; the next payload's
            // position (its timestamp) then jumps over it.
            let skip =
                matches!(self.coder, PacketCoder::Opus { dtx: true, .. }) && is_dtx_frame(out);
            if !skip {
                return Ok(Some(position));
            }
        }
    }

    /// Codes the next packet's samples into `out`; returns its position in sample frames.
    fn next_packet(&mut self, out: &mut Vec<u8>) -> Result<Option<u64>, SourceError> {
        let want = self.coder.frames_per_packet() * self.channels;
        while self.fifo.len() - self.head < want && !self.ended {
            self.refill()?;
        }
        let available = (self.fifo.len() - self.head).min(want);
        if available == 0 {
            return Ok(None);
        }
        let samples = &self.fifo[self.head..self.head + available];
        match &mut self.coder {
            PacketCoder::Pcm(p) => p.encode(samples, out)?,
            PacketCoder::Opus {
                encoder, padded, ..
            } => {
                // Opus frames have fixed sizes: the file's short tail is padded with silence.
                let samples = if available < want {
                    padded.clear();
                    padded.extend_from_slice(samples);
                    padded.resize(want, 0.0);
                    padded.as_slice()
                } else {
                    samples
                };
                encoder.encode(samples, out)?;
            }
        }
        self.head += available;
        if self.head >= COMPACT_AFTER && self.head * 2 >= self.fifo.len() {
            self.fifo.drain(..self.head);
            self.head = 0;
        }
        let position = self.frames_out;
        self.frames_out += match self.coder {
            // An Opus packet lasts its whole frame, padding included.
            PacketCoder::Opus { .. } => (want / self.channels) as u64,
            PacketCoder::Pcm(_) => (available / self.channels) as u64,
        };
        Ok(Some(position))
    }

    /// Decodes one more chunk into the FIFO, starting the next pass or flushing at the end.
    fn refill(&mut self) -> Result<(), SourceError> {
        if !self.decoder.next_chunk(&mut self.decoded)? {
            self.passes_done += 1;
            if self.passes.another_after(self.passes_done) {
                self.decoder = FileDecoder::open(&self.path)?;
                let now = self.decoder.format();
                if now != self.file_format {
                    return Err(SourceError::FormatChanged {
                        path: self.path.clone(),
                        first: self.file_format,
                        now,
                    });
                }
                return Ok(());
            }
            if let Some(resampler) = &mut self.resampler {
                resampler.finish(&mut self.fifo)?;
            }
            self.ended = true;
            return Ok(());
        }
        let input = match &self.mapper {
            Some(mapper) => {
                self.mapped.clear();
                mapper.map_into(&self.decoded, &mut self.mapped);
                &self.mapped
            }
            None => &self.decoded,
        };
        match &mut self.resampler {
            Some(resampler) => resampler.process(input, &mut self.fifo)?,
            None => self.fifo.extend_from_slice(input),
        }
        Ok(())
    }
}

/// `ptime`, or if a packet that long would exceed `max_payload`, the longest whole number of
/// milliseconds that fits (20 ms of L16 48 kHz mono is 1920 bytes: 15 ms is sent instead), so
/// the SDP's `a=ptime` stays a round number. Below 1 ms the packetizer's own cut applies.
fn fitting_ptime(format: &PayloadFormat, ptime: Duration, max_payload: usize) -> Duration {
    let (Some(bpf), Some(frames), Some(rate)) = (
        format.bytes_per_frame(),
        format.frames_per_ptime(ptime),
        format.sample_rate(),
    ) else {
        return ptime;
    };
    if frames * bpf <= max_payload {
        return ptime;
    }
    let whole_ms = (max_payload / bpf) as u64 * 1000 / u64::from(rate);
    if whole_ms == 0 {
        return ptime;
    }
    let fitted = Duration::from_millis(whole_ms);
    tracing::info!(
        "{ptime:?} of {format} does not fit a {max_payload}-byte payload; packets carry {fitted:?}"
    );
    fitted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets")
            .join(name)
    }

    fn all_payloads(source: &mut PcmSource) -> Vec<(u64, usize)> {
        let mut out = Vec::new();
        let mut v = Vec::new();
        while let Some(pos) = source.next_payload(&mut out).unwrap() {
            v.push((pos, out.len()));
        }
        v
    }

    #[test]
    fn l16_at_the_file_format_is_the_file_bit_exact() {
        let path = asset("speech-48k-mono.wav");
        let ms20 = Duration::from_millis(20);
        let mut source = PcmSource::open(
            &path,
            &FormatRequest::default(),
            ms20,
            1460,
            Passes::Once,
            OpusEncodeOptions::default(),
        )
        .unwrap();
        assert_eq!(
            source.format(),
            PayloadFormat::L16 {
                rate: 48_000,
                channels: 1
            }
        );
        let mut reference = FileDecoder::open(&path).unwrap();
        let mut samples = Vec::new();
        let mut chunk = Vec::new();
        while reference.next_chunk(&mut chunk).unwrap() {
            samples.extend_from_slice(&chunk);
        }
        let mut bytes = Vec::new();
        let mut out = Vec::new();
        let mut expected_pos = 0;
        while let Some(pos) = source.next_payload(&mut out).unwrap() {
            assert_eq!(pos, expected_pos);
            expected_pos += (out.len() / 2) as u64;
            bytes.extend_from_slice(&out);
        }
        let expected: Vec<u8> = samples
            .iter()
            .flat_map(|&s| ((s * 32768.0).round() as i16).to_be_bytes())
            .collect();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn long_packets_are_cut_to_whole_milliseconds() {
        let ms = Duration::from_millis;
        let mono = PayloadFormat::L16 {
            rate: 48_000,
            channels: 1,
        };
        let stereo = PayloadFormat::L16 {
            rate: 48_000,
            channels: 2,
        };
        assert_eq!(fitting_ptime(&mono, ms(20), 1460), ms(15));
        assert_eq!(fitting_ptime(&stereo, ms(20), 1460), ms(7));
        assert_eq!(fitting_ptime(&mono, ms(10), 1460), ms(10));
        assert_eq!(fitting_ptime(&PayloadFormat::Pcmu, ms(20), 1460), ms(20));
        assert_eq!(fitting_ptime(&stereo, ms(20), 100), ms(20));
    }

    #[test]
    fn pcmu_is_8khz_mono_and_loops_continue_the_clock() {
        let path = asset("music-48k-stereo.flac");
        let ms20 = Duration::from_millis(20);
        let pcmu = FormatRequest::Fixed(PayloadFormat::Pcmu);
        let once = all_payloads(
            &mut PcmSource::open(
                &path,
                &pcmu,
                ms20,
                1460,
                Passes::Once,
                OpusEncodeOptions::default(),
            )
            .unwrap(),
        );
        assert!(once[..once.len() - 1].iter().all(|&(_, len)| len == 160));
        let twice = all_payloads(
            &mut PcmSource::open(
                &path,
                &pcmu,
                ms20,
                1460,
                Passes::Times(2),
                OpusEncodeOptions::default(),
            )
            .unwrap(),
        );
        let frames = |v: &[(u64, usize)]| v.iter().map(|&(_, n)| n as u64).sum::<u64>();
        // One resampler runs across both passes, so the total is exact to a frame.
        assert!(frames(&twice).abs_diff(2 * frames(&once)) <= 1);
        assert!(twice.windows(2).all(|w| w[1].0 == w[0].0 + w[0].1 as u64));
    }

    #[test]
    fn opus_packets_step_by_their_frame_and_dtx_skips_silence() {
        // 0.5 s of tone, 1 s of digital silence, 0.5 s of tone.
        let path = std::env::temp_dir().join(format!("jp-dtx-{}.wav", std::process::id()));
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 48_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..96_000u32 {
            let on = !(24_000..72_000).contains(&i);
            let s = if on {
                (i as f32 * 0.06).sin() * 8_000.0
            } else {
                0.0
            };
            w.write_sample(s as i16).unwrap();
        }
        w.finalize().unwrap();
        let opus: FormatRequest = "opus".parse().unwrap();
        let ms20 = Duration::from_millis(20);
        let run = |dtx| {
            let options = OpusEncodeOptions {
                dtx,
                ..OpusEncodeOptions::default()
            };
            let mut source =
                PcmSource::open(&path, &opus, ms20, 1460, Passes::Once, options).unwrap();
            assert_eq!(
                (source.format(), source.ptime()),
                (PayloadFormat::Opus, ms20)
            );
            all_payloads(&mut source)
        };
        let plain = run(false);
        let dtx = run(true);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(plain.len(), 100);
        assert!(plain.iter().enumerate().all(|(i, p)| p.0 == i as u64 * 960));
        // Under DTX the silence is not sent: fewer packets, none of them empty frames, and
        // a timestamp jump where the silence was.
        assert!(dtx.len() < 80, "{} packets", dtx.len());
        assert!(dtx.iter().all(|p| p.1 > 2));
        let longest_jump = dtx.windows(2).map(|w| w[1].0 - w[0].0).max().unwrap();
        assert!(longest_jump >= 960 * 20, "{longest_jump}");
    }
}
