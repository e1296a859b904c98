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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ringbuf::traits::{Consumer, Observer};

use super::flac_stream::{FlacError, FlacStream};
use crate::playback::record_tap::{record_queue, RecordQueue, RecordStats, RecordTap};

/// Flush once this much is waiting…
const FLUSH_BYTES: usize = 64 << 10;
/// …or once the oldest waiting frame is this old.
const FLUSH_AGE: Duration = Duration::from_millis(500);
/// How long the writer sleeps when the queue is empty.
const IDLE: Duration = Duration::from_millis(20);
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
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), RecordError>>>,
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
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (path, stats, stop) = (path.to_owned(), Arc::clone(&stats), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("jitterplay-record".into())
                .spawn(move || write_loop(&path, flac, rate, channels, queue, &stats, &stop))
                .map_err(|error| RecordError::Io {
                    path: "recorder thread".into(),
                    error,
                })?
        };
        Ok((
            Recorder {
                stop,
                thread: Some(thread),
                stats,
            },
            tap,
        ))
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
    pub fn finish(mut self) -> Result<(), RecordError> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| RecordError::Panicked)?,
            None => Ok(()),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

fn write_loop(
    path: &Path,
    flac: bool,
    rate: u32,
    channels: u16,
    mut queue: RecordQueue,
    stats: &RecordStats,
    stop: &AtomicBool,
) -> Result<(), RecordError> {
    let io = |error| RecordError::Io {
        path: path.to_owned(),
        error,
    };
    let file = File::create(path).map_err(io)?;
    let mut wav = if flac {
        let flac_err = |error| RecordError::Flac {
            path: path.to_owned(),
            error,
        };
        Encoding::Flac(Box::new(
            FlacStream::new(file, rate, channels).map_err(flac_err)?,
        ))
    } else {
        Encoding::Wav(WavStream::new(file, rate, channels).map_err(io)?)
    };
    let channels = usize::from(channels.max(1));
    let mut batch = vec![0.0f32; 16_384];
    let mut marks = VecDeque::with_capacity(4096);
    let mut popped = 0u64;
    let mut pending_silence = 0u64;
    let mut unflushed = 0usize;
    let mut oldest: Option<Instant> = None;
    loop {
        // Read the flag first: whatever was queued before it was set is then visible.
        let stopping = stop.load(Ordering::Acquire);
        while let Some(m) = queue.marks.try_pop() {
            marks.push_back(m);
        }
        let n = queue.samples.pop_slice(&mut batch);
        let now = Instant::now();
        if n > 0 || !marks.is_empty() {
            oldest.get_or_insert(now);
        }
        // Real samples, with the silence heard between them; silence waits until real audio
        // follows it, so none is written after the last audio.
        let mut from = 0usize;
        while from < n {
            let next_mark = marks
                .front()
                .map(|m| m.at.saturating_sub(popped))
                .unwrap_or(u64::MAX);
            let upto = n.min(from + usize::try_from(next_mark).unwrap_or(usize::MAX));
            if upto > from {
                write_silence(&mut wav, &mut pending_silence).map_err(io)?;
                wav.write_samples(&batch[from..upto]).map_err(io)?;
                unflushed += (upto - from) * 4;
                popped += (upto - from) as u64;
                stats
                    .written_frames
                    .fetch_add(((upto - from) / channels) as u64, Ordering::Relaxed);
                from = upto;
            }
            while marks.front().is_some_and(|m| m.at <= popped) {
                pending_silence += marks.pop_front().map_or(0, |m| m.samples);
            }
        }
        while marks.front().is_some_and(|m| m.at <= popped) {
            pending_silence += marks.pop_front().map_or(0, |m| m.samples);
        }
        let due = oldest.is_some_and(|t| now.duration_since(t) >= FLUSH_AGE);
        if unflushed > 0 && (unflushed >= FLUSH_BYTES || due || stopping) {
            wav.flush(false).map_err(|e| e.at(path))?;
            unflushed = 0;
            if let Some(t) = oldest.take() {
                let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                stats.flush_latency_us.store(us, Ordering::Relaxed);
            }
            stats.flushes.fetch_add(1, Ordering::Relaxed);
        }
        if stopping && queue.samples.is_empty() {
            break;
        }
        if n == 0 {
            std::thread::sleep(IDLE);
        }
    }
    wav.flush(true).map_err(|e| e.at(path))
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
