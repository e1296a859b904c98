//! The IO shell towards the listener: cpal devices, WAV files and the null sink, fed from one ring.
//!
//! Every sink pulls through the same [`RingCallback::fill`]; a real device calls it from cpal's
//! real-time thread, `wav:` and `null` from a timer thread at the device's pace.

pub mod device;
pub mod flac_stream;
pub mod format;
pub mod negotiate;
mod quiet;
pub mod recorder;
pub mod spec;
pub mod timer;
pub mod writer_thread;

use std::sync::Arc;

pub use crate::playback::OutputStats;
pub use crate::playback::RingCallback;
pub use negotiate::{NegotiateError, Request};
pub use spec::OutputSpec;

use device::DeviceSink;
pub use format::{OutputError, OutputFormat};
use timer::TimerSink;

/// An opened sink of any kind.
pub enum Sink {
    /// A cpal device (boxed: cpal's handles dwarf the timer sink).
    Device(Box<DeviceSink>),
    /// A WAV file or the null sink on a timer thread.
    Timer(TimerSink),
}

impl Sink {
    /// Opens the sink named by `spec` for a stream described by `request`.
    ///
    /// Devices negotiate; `wav:` and `null` take the stream's own rate and channels unless
    /// `--device-rate` overrides the rate. `fast` unpaces the timer sinks.
    pub fn open(spec: &OutputSpec, request: &Request, fast: bool) -> Result<Sink, OutputError> {
        // Timer sinks pull 20 ms a period, a desktop audio server's pace (PulseAudio's default
        // fragment is 25 ms): finer periods only cost wake-ups.
        let timer_format = || OutputFormat {
            rate: request.device_rate.unwrap_or(request.rate),
            channels: request.channels,
            sample_format: cpal::SampleFormat::F32,
            period_frames: request
                .buffer_frames
                .unwrap_or(request.device_rate.unwrap_or(request.rate) / 50)
                .max(1),
        };
        Ok(match spec {
            OutputSpec::Default => Sink::Device(Box::new(DeviceSink::open(None, request)?)),
            OutputSpec::Device(name) => {
                Sink::Device(Box::new(DeviceSink::open(Some(name), request)?))
            }
            OutputSpec::Wav(path) => {
                Sink::Timer(TimerSink::wav(path.clone(), timer_format(), fast)?)
            }
            OutputSpec::Null => Sink::Timer(TimerSink::null(timer_format(), fast)),
        })
    }

    /// The format the decoder thread must deliver.
    pub fn format(&self) -> OutputFormat {
        match self {
            Sink::Device(d) => d.format(),
            Sink::Timer(t) => t.format(),
        }
    }

    /// Starts pulling from the ring through `callback`.
    pub fn start(
        &mut self,
        callback: RingCallback,
        stats: Arc<OutputStats>,
    ) -> Result<(), OutputError> {
        match self {
            Sink::Device(d) => d.start(callback, stats),
            Sink::Timer(t) => t.start(callback, stats),
        }
    }

    /// Plays out what is buffered, then closes. Call once the producer has finished.
    pub fn finish(self) -> Result<(), OutputError> {
        match self {
            Sink::Device(d) => d.finish(),
            Sink::Timer(t) => t.finish(),
        }
    }
}
