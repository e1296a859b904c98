//! `--record PATH.flac`: the recording as 24-bit FLAC, written a frame at a time (flacenc), with
//! STREAMINFO fixed up at every flush so that a file cut short is readable up to its last flush.
//!
//! A fixed-block-size FLAC stream may end with a short frame only at its very end, so a flush
//! writes the whole 4096-frame blocks gathered so far; the rest waits for the next one, or for the
//! end. MD5 stays zero ("not computed"), which the format allows for a stream written as it goes.

use std::io::{Seek, SeekFrom, Write};

use flacenc::bitsink::ByteSink;
use flacenc::component::{BitRepr, Stream, StreamInfo};
use flacenc::config::Encoder;
use flacenc::error::{Verified, Verify};
use flacenc::source::{Fill, FrameBuf};

/// Bits per sample written: what a 32-bit float holds of audio, to the LSB of 24-bit converters.
const BITS: usize = 24;
/// Full scale of a 24-bit sample.
const SCALE: f32 = 8_388_608.0;

/// Why FLAC encoding failed.
#[derive(Debug, thiserror::Error)]
pub enum FlacError {
    /// The stream's parameters are outside what FLAC or flacenc takes.
    #[error("cannot encode FLAC: {0}")]
    Encode(String),
    /// Writing failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A FLAC file being written.
pub struct FlacStream<W: Write + Seek> {
    out: W,
    config: Verified<Encoder>,
    info: StreamInfo,
    channels: usize,
    block: usize,
    pending: Vec<i32>,
    framebuf: FrameBuf,
    frames: usize,
    sink: ByteSink,
    seekable: bool,
}

impl<W: Write + Seek> FlacStream<W> {
    /// Starts a stream of `rate` Hz, `channels` channels into `out` (header written now).
    pub fn new(out: W, rate: u32, channels: u16) -> Result<Self, FlacError> {
        Self::with_block_size(out, rate, channels, Encoder::default().block_size)
    }

    /// [`FlacStream::new`] with blocks of `block` frames (small blocks for a live stream).
    pub fn with_block_size(
        mut out: W,
        rate: u32,
        channels: u16,
        block: usize,
    ) -> Result<Self, FlacError> {
        let enc = |e: &dyn std::fmt::Debug| FlacError::Encode(format!("{e:?}"));
        let channels = usize::from(channels.max(1));
        let mut config = Encoder::default();
        config.block_size = block;
        let config = config.into_verified().map_err(|(_, e)| enc(&e))?;
        let block = config.block_size;
        let info = StreamInfo::new(rate as usize, channels, BITS).map_err(|e| enc(&e))?;
        let framebuf = FrameBuf::with_size(channels, block).map_err(|e| enc(&e))?;
        let seekable = out.stream_position().is_ok();
        let mut this = Self {
            out,
            config,
            info,
            channels,
            block,
            pending: Vec::with_capacity(block * channels * 2),
            framebuf,
            frames: 0,
            sink: ByteSink::new(),
            seekable,
        };
        let header = this.header()?;
        this.out.write_all(&header)?;
        Ok(this)
    }

    /// The output written to so far.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Queues interleaved samples (full scale ±1.0); whole blocks are encoded at the next flush.
    pub fn write_samples(&mut self, samples: &[f32]) {
        self.pending.extend(
            samples
                .iter()
                .map(|s| (s * SCALE).round().clamp(-SCALE, SCALE - 1.0) as i32),
        );
    }

    /// Encodes and writes every whole block queued (all of it when `last`), then fixes the
    /// header up.
    pub fn flush(&mut self, last: bool) -> Result<(), FlacError> {
        let whole = self.block * self.channels;
        let mut at = 0;
        while self.pending.len() - at >= whole || (last && at < self.pending.len()) {
            let end = (at + whole).min(self.pending.len());
            let frames = (end - at) / self.channels;
            if frames < self.block {
                self.framebuf.resize(frames);
            }
            self.framebuf
                .fill_interleaved(&self.pending[at..at + frames * self.channels])
                .map_err(|e| FlacError::Encode(format!("{e:?}")))?;
            let frame = flacenc::encode_fixed_size_frame(
                &self.config,
                &self.framebuf,
                self.frames,
                &self.info,
            )
            .map_err(|e| FlacError::Encode(format!("{e:?}")))?;
            self.info.update_frame_info(&frame);
            self.sink.clear();
            frame
                .write(&mut self.sink)
                .map_err(|e| FlacError::Encode(format!("{e:?}")))?;
            self.out.write_all(self.sink.as_slice())?;
            self.frames += 1;
            at += frames * self.channels;
        }
        self.pending.drain(..at);
        self.out.flush()?;
        if self.seekable {
            let header = self.header()?;
            self.out.seek(SeekFrom::Start(0))?;
            self.out.write_all(&header)?;
            self.out.seek(SeekFrom::End(0))?;
            self.out.flush()?;
        }
        Ok(())
    }

    /// "fLaC" and the STREAMINFO block as they stand (always 42 bytes).
    fn header(&mut self) -> Result<Vec<u8>, FlacError> {
        let stream = Stream::with_stream_info(self.info.clone());
        self.sink.clear();
        stream
            .write(&mut self.sink)
            .map_err(|e| FlacError::Encode(format!("{e:?}")))?;
        let mut header = self.sink.as_slice().to_vec();
        if self.frames > 0 || !self.seekable {
            // STREAMINFO's minimum block size leaves out the last block (RFC 9639 8.2);
            // flacenc counts a short last block in it, which symphonia then refuses. A fixed
            // block size stream has the same minimum and maximum. A stream that cannot seek
            // writes its header once, before any block: it states the block size it will use.
            let block = u16::try_from(self.block).unwrap_or(u16::MAX).to_be_bytes();
            for range in [8..10, 10..12] {
                if let Some(field) = header.get_mut(range) {
                    field.copy_from_slice(&block);
                }
            }
        }
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symphonia_reads_back_the_samples_after_each_flush() {
        let dir = std::env::temp_dir().join(format!("jp-flac-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.flac");
        let mut f = FlacStream::new(std::fs::File::create(&path).unwrap(), 48_000, 2).unwrap();
        let signal: Vec<f32> = (0..10_000 * 2)
            .map(|i| ((i / 2) as f32 * 0.01).sin() * 0.5)
            .collect();
        f.write_samples(&signal);
        f.flush(false).unwrap();
        // Two whole 4096-frame blocks are on disk, with a header that says so, as after a kill.
        let (early, _, _) = decode_all(&path);
        assert_eq!(early.len(), 2 * 4096 * 2);
        assert_eq!(
            early[..],
            signal[..early.len()]
                .iter()
                .map(|s| (s * SCALE).round() / SCALE)
                .collect::<Vec<_>>()[..]
        );
        f.flush(true).unwrap();
        let (got, rate, channels) = decode_all(&path);
        assert_eq!((rate, channels), (48_000, 2));
        assert_eq!(got.len(), signal.len());
        let worst = got
            .iter()
            .zip(&signal)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 1.0 / SCALE, "{worst}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn decode_all(path: &std::path::Path) -> (Vec<f32>, u32, usize) {
        let mut d = crate::codec::file::FileDecoder::open(path).unwrap();
        let spec = d.format();
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while d.next_chunk(&mut buf).unwrap() {
            out.extend_from_slice(&buf);
        }
        (out, spec.rate, spec.channels)
    }
}
