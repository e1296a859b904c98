//! Sinks that imitate a device: a timer thread pulls from the ring at the device's pace.
//!
//! `wav:` and `null` go through the same [`RingCallback::fill`] as a real device, so they test
//! the real path. With `fast`, the thread does not wait for wall-clock periods; it waits only for
//! a period's worth of samples to exist, so unpaced conversion never inserts silence.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::format::{OutputError, OutputFormat};
use crate::playback::RingCallback;

type WavWriter = hound::WavWriter<BufWriter<File>>;

/// The longest the fast sink waits for the decoder: it is woken as soon as audio is pushed,
/// so this only bounds a lost wake-up.
const FAST_WAIT: Duration = Duration::from_millis(20);

/// A WAV file or nothing, written by a timer thread at the device's pace.
pub struct TimerSink {
    format: OutputFormat,
    fast: bool,
    writer: Option<(WavWriter, PathBuf)>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), OutputError>>>,
}

impl TimerSink {
    /// A sink that writes 32-bit float WAV to `path` (created now, so a bad path fails early).
    pub fn wav(path: PathBuf, format: OutputFormat, fast: bool) -> Result<Self, OutputError> {
        let spec = hound::WavSpec {
            channels: format.channels,
            sample_rate: format.rate,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let writer = hound::WavWriter::create(&path, spec).map_err(|e| OutputError::Wav {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self::new(Some((writer, path)), format, fast))
    }

    /// A sink that discards audio at the device's pace.
    pub fn null(format: OutputFormat, fast: bool) -> Self {
        Self::new(None, format, fast)
    }

    fn new(writer: Option<(WavWriter, PathBuf)>, format: OutputFormat, fast: bool) -> Self {
        TimerSink {
            format,
            fast,
            writer,
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
        }
    }

    /// The format the sink plays.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// Starts the timer thread pulling from `callback`.
    pub fn start(
        &mut self,
        callback: RingCallback,
        stats: Arc<super::OutputStats>,
    ) -> Result<(), OutputError> {
        let period = self.format.period_frames as usize * self.format.channels as usize;
        let period_time =
            Duration::from_secs_f64(self.format.period_frames as f64 / self.format.rate as f64);
        let writer = self.writer.take();
        let fast = self.fast;
        let stop = Arc::clone(&self.stop);
        let thread = std::thread::Builder::new()
            .name("jitterplay-sink".into())
            .spawn(move || run(callback, stats, writer, period, period_time, fast, &stop))
            .map_err(|e| OutputError::Stream(e.to_string()))?;
        self.thread = Some(thread);
        Ok(())
    }

    /// Waits for the thread to play the tail of the stream and close the file.
    pub fn finish(mut self) -> Result<(), OutputError> {
        self.join()
    }

    /// Stops at once, dropping what is still buffered; the file is still closed properly.
    pub fn abort(mut self) -> Result<(), OutputError> {
        self.stop.store(true, Ordering::Release);
        self.join()
    }

    fn join(&mut self) -> Result<(), OutputError> {
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| OutputError::Stream("the sink thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

fn run(
    mut callback: RingCallback,
    stats: Arc<super::OutputStats>,
    mut writer: Option<(WavWriter, PathBuf)>,
    period: usize,
    period_time: Duration,
    fast: bool,
    stop: &AtomicBool,
) -> Result<(), OutputError> {
    let mut buf = vec![0.0f32; period];
    let mut pending_silence = 0usize;
    let mut deadline = Instant::now();
    // Unpaced, the two threads hand over half a ring at a time: the producer wakes this thread
    // once that much is queued (or it is full, or done), and this thread wakes the producer once
    // it has taken the ring under half, not for every period.
    let batch = (callback.capacity() / 2)
        .max(period)
        .min(callback.capacity());
    let mut producer_woken = false;
    if fast {
        stats.register_consumer(batch);
    }
    while !stop.load(Ordering::Acquire) {
        if fast && callback.available() < period {
            if !producer_woken {
                stats.wake_producer();
            }
            producer_woken = false;
            while callback.available() < batch
                && !stats.is_finished()
                && !stop.load(Ordering::Acquire)
            {
                // Woken by the producer (`OutputStats::wake_consumer_at`, `wake_consumer`).
                std::thread::park_timeout(FAST_WAIT);
            }
        } else if !fast {
            deadline += period_time;
            if let Some(wait) = deadline.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        // Read the flag before filling: everything pushed before it was set is then visible.
        let finished = stats.is_finished();
        let real = callback.fill(&mut buf);
        if fast && !producer_woken && callback.available() < batch {
            stats.wake_producer();
            producer_woken = true;
        }
        // Silence the ring did not supply (an underrun, a rebuffer, the wait for an idle
        // timeout) is written only once real audio follows it: mid-stream it is what a device
        // would play, but after the last audio the file ends, so it holds exactly the stream.
        if let Some((w, path)) = writer.as_mut() {
            let werr = |e: hound::Error| OutputError::Wav {
                path: path.clone(),
                reason: e.to_string(),
            };
            if real > 0 {
                for _ in 0..std::mem::take(&mut pending_silence) {
                    w.write_sample(0.0f32).map_err(werr)?;
                }
            }
            for &s in &buf[..real] {
                w.write_sample(s).map_err(werr)?;
            }
        }
        pending_silence += buf.len() - real;
        if finished && real < buf.len() {
            break;
        }
    }
    if let Some((w, path)) = writer {
        w.finalize().map_err(|e| OutputError::Wav {
            path,
            reason: e.to_string(),
        })?;
    }
    Ok(())
}
