//! `--record PATH.wav|PATH.flac`: a writer thread that saves what the device played, beside any output.
//!
//! The seed's batch-flush buffer: the output callback queues played frames lock-free
//! ([`RecordTap`]); this thread takes them in batches and flushes on size or age (64 KiB or
//! 500 ms), fixing the WAV header up at each flush, so a file cut short by `kill -9` is readable
//! up to its last flush. Nothing here can hold up playback: a slow disk or a FIFO nobody reads
//! only fills the queue, and the tap then drops frames from the recording and counts them.
//!
//! Silence the device played mid-stream (an underrun, a rebuffer) is written where it was heard;
//! silence after the last audio is not, as with the `wav:` sink, so the two files are equal.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ringbuf::traits::{Consumer, Observer};

use super::flac_stream::{FlacError, FlacStream};
use super::writer_thread::{Finished, QueueWriter, WriterThread, FLUSH_BYTES};
use crate::playback::record_tap::{record_queue, RecordQueue, RecordStats, RecordTap};

/// Frames the queue holds (about 5 s at 48 kHz): room for a slow disk's hiccups.
const QUEUE_FRAMES: usize = 1 << 18;

/// Why recording failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Not a format the recorder writes.
    #[error("--record {0}: use a .wav or .flac file")]
    Format(PathBuf),
    /// FLAC encoding failed.
    #[error("cannot write {path}: {error}")]
    Flac {
        /// The file.
        path: PathBuf,
        /// What failed.
        error: FlacError,
    },
    /// The file could not be written.
    #[error("cannot write {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
    /// The writer thread died.
    #[error("the recorder thread panicked")]
    Panicked,
}

/// A running recorder: its thread and its counters.
pub struct Recorder {
    writer: WriterThread<RecordError>,
    stats: Arc<RecordStats>,
}

impl Recorder {
    /// Starts recording `rate` Hz, `channels`-channel audio to `path`; returns the recorder and
    /// the tap to give the output callback. The file is opened on the writer thread (opening a
    /// FIFO blocks until a reader comes), so only the extension is checked here.
    pub fn start(
        path: &Path,
        rate: u32,
        channels: u16,
    ) -> Result<(Recorder, RecordTap), RecordError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let flac = match ext.as_deref() {
            Some("wav") => false,
            Some("flac") => true,
            _ => return Err(RecordError::Format(path.to_owned())),
        };
        let stats = Arc::new(RecordStats::default());
        let (tap, queue) = record_queue(QUEUE_FRAMES, usize::from(channels), Arc::clone(&stats));
        let writer = {
            let (path, stats) = (path.to_owned(), Arc::clone(&stats));
            WriterThread::spawn("jitterplay-record", move || {
                Recording::open(path, flac, rate, channels, queue, stats)
            })
            .map_err(|error| RecordError::Io {
                path: "recorder thread".into(),
                error,
            })?
        };
        Ok((Recorder { writer, stats }, tap))
    }

    /// With `path`, starts recording what `callback` plays (`rate` Hz, `channels`) and taps it.
    pub fn attach(
        path: Option<&Path>,
        callback: &mut crate::playback::RingCallback,
        rate: u32,
        channels: u16,
    ) -> Result<Option<Recorder>, RecordError> {
        let Some(path) = path else {
            return Ok(None);
        };
        let (recorder, tap) = Recorder::start(path, rate, channels)?;
        callback.set_tap(tap);
        Ok(Some(recorder))
    }

    /// The counters (for status views).
    pub fn stats(&self) -> &Arc<RecordStats> {
        &self.stats
    }

    /// Writes what is still queued and closes the file. Call once the output has stopped.
    pub fn finish(self) -> Result<(), RecordError> {
        self.writer.finish().map_err(|e| match e {
            Finished::Failed(e) => e,
            Finished::Panicked => RecordError::Panicked,
        })
    }
}

/// The writer thread's side: the queue, the silence marks taken from it, the open file.
struct Recording {
    path: PathBuf,
    wav: Encoding,
    queue: RecordQueue,
    stats: Arc<RecordStats>,
    channels: usize,
    batch: Vec<f32>,
    marks: VecDeque<crate::playback::record_tap::SilenceMark>,
    popped: u64,
    pending_silence: u64,
}

impl Recording {
    fn open(
        path: PathBuf,
        flac: bool,
        rate: u32,
        channels: u16,
        queue: RecordQueue,
        stats: Arc<RecordStats>,
    ) -> Result<Self, RecordError> {
        let io = |error| RecordError::Io {
            path: path.clone(),
            error,
        };
        let file = File::create(&path).map_err(io)?;
        let wav = if flac {
            let flac_err = |error| RecordError::Flac {
                path: path.clone(),
                error,
            };
            Encoding::Flac(Box::new(
                FlacStream::new(file, rate, channels).map_err(flac_err)?,
            ))
        } else {
            Encoding::Wav(WavStream::new(file, rate, channels).map_err(io)?)
        };
        Ok(Recording {
            path,
            wav,
            queue,
            stats,
            channels: usize::from(channels.max(1)),
            batch: vec![0.0f32; 16_384],
            marks: VecDeque::with_capacity(4096),
            popped: 0,
            pending_silence: 0,
        })
    }

    /// Takes the silence marks now due (at or before the samples written so far).
    fn take_due_marks(&mut self) {
        while self.marks.front().is_some_and(|m| m.at <= self.popped) {
            self.pending_silence += self.marks.pop_front().map_or(0, |m| m.samples);
        }
    }
}

impl QueueWriter for Recording {
    type Error = RecordError;

    /// Real samples, with the silence heard between them; silence waits until real audio
    /// follows it, so none is written after the last audio.
    fn drain(&mut self) -> Result<usize, RecordError> {
        while let Some(m) = self.queue.marks.try_pop() {
            self.marks.push_back(m);
        }
        let n = self.queue.samples.pop_slice(&mut self.batch);
        let mut from = 0usize;
        while from < n {
            let next_mark = self
                .marks
                .front()
                .map(|m| m.at.saturating_sub(self.popped))
                .unwrap_or(u64::MAX);
            let upto = n.min(from + usize::try_from(next_mark).unwrap_or(usize::MAX));
            if upto > from {
                let err = |e| RecordError::Io {
                    path: self.path.clone(),
                    error: e,
                };
                write_silence(&mut self.wav, &mut self.pending_silence).map_err(err)?;
                let err = |e| RecordError::Io {
                    path: self.path.clone(),
                    error: e,
                };
                self.wav
                    .write_samples(&self.batch[from..upto])
                    .map_err(err)?;
                self.popped += (upto - from) as u64;
                self.stats
                    .written_frames
                    .fetch_add(((upto - from) / self.channels) as u64, Ordering::Relaxed);
                from = upto;
            }
            self.take_due_marks();
        }
        self.take_due_marks();
        Ok(n * 4)
    }

    fn is_empty(&self) -> bool {
        self.queue.samples.is_empty()
    }

    fn flush(&mut self, last: bool, age: Duration) -> Result<(), RecordError> {
        self.wav.flush(last).map_err(|e| e.at(&self.path))?;
        if !last {
            let us = u64::try_from(age.as_micros()).unwrap_or(u64::MAX);
            self.stats.flush_latency_us.store(us, Ordering::Relaxed);
            self.stats.flushes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// The file being written, in the format its extension names.
enum Encoding {
    Wav(WavStream<File>),
    Flac(Box<FlacStream<File>>),
}

/// A write error not yet tied to its file.
enum EncodingError {
    Io(std::io::Error),
    Flac(FlacError),
}

impl EncodingError {
    fn at(self, path: &Path) -> RecordError {
        let path = path.to_owned();
        match self {
            EncodingError::Io(error) => RecordError::Io { path, error },
            EncodingError::Flac(error) => RecordError::Flac { path, error },
        }
    }
}

impl Encoding {
    fn write_samples(&mut self, samples: &[f32]) -> std::io::Result<()> {
        match self {
            Encoding::Wav(w) => w.write_samples(samples),
            Encoding::Flac(f) => {
                f.write_samples(samples);
                Ok(())
            }
        }
    }

    /// Writes what is pending and fixes the header up (`last`: the end of the stream).
    fn flush(&mut self, last: bool) -> Result<(), EncodingError> {
        match self {
            Encoding::Wav(w) => w.flush().map_err(EncodingError::Io),
            Encoding::Flac(f) => f.flush(last).map_err(EncodingError::Flac),
        }
    }
}

fn write_silence(wav: &mut Encoding, pending: &mut u64) -> std::io::Result<()> {
    const ZEROS: [f32; 1024] = [0.0; 1024];
    while *pending > 0 {
        let n = usize::try_from(*pending)
            .unwrap_or(usize::MAX)
            .min(ZEROS.len());
        wav.write_samples(&ZEROS[..n])?;
        *pending -= n as u64;
    }
    Ok(())
}

/// A 32-bit float WAV written as a stream: the header's sizes are fixed up at every flush when
/// the file can seek, and left at "unknown" (0xFFFFFFFF, as ffmpeg does) on a pipe or FIFO.
/// hound cannot write to a file that does not seek, which is why this is not hound.
struct WavStream<W: Write + Seek> {
    out: BufWriter<W>,
    data_bytes: u64,
    seekable: bool,
}

impl<W: Write + Seek> WavStream<W> {
    fn new(mut inner: W, rate: u32, channels: u16) -> std::io::Result<Self> {
        let seekable = inner.stream_position().is_ok();
        let mut out = BufWriter::with_capacity(FLUSH_BYTES * 2, inner);
        out.write_all(&header(rate, channels))?;
        Ok(Self {
            out,
            data_bytes: 0,
            seekable,
        })
    }

    fn write_samples(&mut self, samples: &[f32]) -> std::io::Result<()> {
        for s in samples {
            self.out.write_all(&s.to_le_bytes())?;
        }
        self.data_bytes += samples.len() as u64 * 4;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        if self.seekable {
            let file = self.out.get_mut();
            let riff = u32::try_from(self.data_bytes + HEADER_LEN - 8).unwrap_or(u32::MAX);
            let data = u32::try_from(self.data_bytes).unwrap_or(u32::MAX);
            file.seek(SeekFrom::Start(4))?;
            file.write_all(&riff.to_le_bytes())?;
            file.seek(SeekFrom::Start(HEADER_LEN - 4))?;
            file.write_all(&data.to_le_bytes())?;
            file.seek(SeekFrom::End(0))?;
            file.flush()?;
        }
        Ok(())
    }
}

/// Bytes before the samples: the RIFF, fmt (IEEE float) and data chunk headers.
const HEADER_LEN: u64 = 46;

/// The header of a 32-bit float WAV with its sizes unknown (0xFFFFFFFF) until fixed up.
fn header(rate: u32, channels: u16) -> Vec<u8> {
    let block = channels.max(1) * 4;
    let mut h = Vec::with_capacity(HEADER_LEN as usize);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&18u32.to_le_bytes());
    h.extend_from_slice(&3u16.to_le_bytes()); // WAVE_FORMAT_IEEE_FLOAT
    h.extend_from_slice(&channels.max(1).to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    h.extend_from_slice(&block.to_le_bytes());
    h.extend_from_slice(&32u16.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // no extension
    h.extend_from_slice(b"data");
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_fixed_up_at_each_flush_and_hound_reads_the_file() {
        let dir = std::env::temp_dir().join(format!("jp-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.wav");
        let mut w = WavStream::new(File::create(&path).unwrap(), 48_000, 2).unwrap();
        w.write_samples(&[0.5, -0.5, 0.25, -0.25]).unwrap();
        w.flush().unwrap();
        // Read while still open, as after a kill -9 right after this flush.
        let r = hound::WavReader::open(&path).unwrap();
        assert_eq!(r.spec().channels, 2);
        assert_eq!(r.spec().sample_format, hound::SampleFormat::Float);
        let got: Vec<f32> = r.into_samples().map(|s| s.unwrap()).collect();
        assert_eq!(got, vec![0.5, -0.5, 0.25, -0.25]);
        w.write_samples(&[1.0, 1.0]).unwrap();
        w.flush().unwrap();
        assert_eq!(hound::WavReader::open(&path).unwrap().len(), 6);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
