//! Real audio devices through cpal: device lookup, format negotiation and the stream callback.

use std::sync::Arc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};

use super::format::{OutputError, OutputFormat};
use super::negotiate::{negotiate, ConfigRange, Request};
use super::quiet::QuietStderr;
use super::OutputStats;
use crate::playback::RingCallback;

/// Extra time to keep the stream alive after the ring is empty, beyond the device's own latency.
const DRAIN_MARGIN: Duration = Duration::from_millis(100);

/// An opened (not yet playing) or playing cpal output stream.
pub struct DeviceSink {
    device: cpal::Device,
    format: OutputFormat,
    buffer_frames: Option<u32>,
    stream: Option<cpal::Stream>,
    stats: Option<Arc<OutputStats>>,
}

impl DeviceSink {
    /// Finds the device (`None` = the default one) and negotiates a configuration for `request`.
    pub fn open(name: Option<&str>, request: &Request) -> Result<Self, OutputError> {
        let quiet = QuietStderr::new();
        let host = cpal::default_host();
        let device = match name {
            None => host
                .default_output_device()
                .ok_or_else(|| OutputError::NoDevice {
                    reason: "the audio host reports no default output".into(),
                })?,
            Some(name) => find_device(&host, name)?,
        };
        let ranges: Vec<ConfigRange> = device
            .supported_output_configs()
            .map_err(|e| OutputError::NoDevice {
                reason: e.to_string(),
            })?
            .map(|r| ConfigRange {
                channels: r.channels(),
                min_rate: r.min_sample_rate(),
                max_rate: r.max_sample_rate(),
                format: r.sample_format(),
                buffer_frames: match r.buffer_size() {
                    cpal::SupportedBufferSize::Range { min, max } => Some((*min, *max)),
                    cpal::SupportedBufferSize::Unknown => None,
                },
            })
            .collect();
        if ranges.is_empty() {
            return Err(OutputError::NoDevice {
                reason: "the device reports no output configurations".into(),
            });
        }
        drop(quiet);
        let chosen = negotiate(&ranges, request)?;
        tracing::info!(device = %device, ?chosen, "output device negotiated");
        Ok(DeviceSink {
            device,
            format: OutputFormat {
                rate: chosen.rate,
                channels: chosen.channels,
                sample_format: chosen.format,
                period_frames: chosen.buffer_frames.unwrap_or(chosen.rate / 100),
            },
            buffer_frames: chosen.buffer_frames,
            stream: None,
            stats: None,
        })
    }

    /// The negotiated format.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// Builds the stream around `callback` and starts it.
    pub fn start(
        &mut self,
        callback: RingCallback,
        stats: Arc<OutputStats>,
    ) -> Result<(), OutputError> {
        let _quiet = QuietStderr::new();
        let config = cpal::StreamConfig {
            channels: self.format.channels,
            sample_rate: self.format.rate,
            buffer_size: match self.buffer_frames {
                Some(n) => cpal::BufferSize::Fixed(n),
                None => cpal::BufferSize::Default,
            },
        };
        let stream = match self.format.sample_format {
            SampleFormat::F32 => self.build_f32(config, callback),
            SampleFormat::F64 => self.build::<f64>(config, callback),
            SampleFormat::I32 => self.build::<i32>(config, callback),
            SampleFormat::I16 => self.build::<i16>(config, callback),
            SampleFormat::U16 => self.build::<u16>(config, callback),
            SampleFormat::U32 => self.build::<u32>(config, callback),
            SampleFormat::I8 => self.build::<i8>(config, callback),
            SampleFormat::U8 => self.build::<u8>(config, callback),
            other => {
                return Err(OutputError::Stream(format!(
                    "unsupported sample format {other}"
                )))
            }
        }
        .map_err(|e| classify(&e))?;
        stream.play().map_err(|e| classify(&e))?;
        self.stream = Some(stream);
        self.stats = Some(stats);
        Ok(())
    }

    fn build_f32(
        &self,
        config: cpal::StreamConfig,
        mut callback: RingCallback,
    ) -> Result<cpal::Stream, cpal::Error> {
        self.device.build_output_stream(
            config,
            move |data: &mut [f32], info: &cpal::OutputCallbackInfo| {
                assert_no_alloc::assert_no_alloc(|| {
                    note_latency(&callback, info);
                    callback.fill(data);
                })
            },
            stream_error,
            None,
        )
    }

    fn build<T>(
        &self,
        config: cpal::StreamConfig,
        mut callback: RingCallback,
    ) -> Result<cpal::Stream, cpal::Error>
    where
        T: SizedSample + FromSample<f32> + Send + 'static,
    {
        self.device.build_output_stream(
            config,
            move |data: &mut [T], info: &cpal::OutputCallbackInfo| {
                assert_no_alloc::assert_no_alloc(|| {
                    note_latency(&callback, info);
                    callback.fill_converted(data);
                })
            },
            stream_error,
            None,
        )
    }

    /// Keeps the stream alive until the device has played what it was given, then closes it.
    pub fn finish(mut self) -> Result<(), OutputError> {
        if let Some(stats) = &self.stats {
            let latency =
                Duration::from_nanos(stats.latency_ns.load(std::sync::atomic::Ordering::Relaxed));
            let period = Duration::from_secs_f64(
                stats
                    .max_period_samples
                    .load(std::sync::atomic::Ordering::Relaxed) as f64
                    / (self.format.rate as f64 * self.format.channels as f64),
            );
            std::thread::sleep(latency.max(period) + DRAIN_MARGIN);
        }
        self.stream.take();
        Ok(())
    }
}

fn note_latency(callback: &RingCallback, info: &cpal::OutputCallbackInfo) {
    let ts = info.timestamp();
    callback.note_latency(ts.playback.duration_since(ts.callback));
}

fn stream_error(error: cpal::Error) {
    // This runs outside the data callback, so logging here is allowed.
    tracing::warn!(%error, "audio stream error");
}

fn find_device(host: &cpal::Host, name: &str) -> Result<cpal::Device, OutputError> {
    let devices = host.output_devices().map_err(|e| OutputError::NoDevice {
        reason: e.to_string(),
    })?;
    for device in devices {
        let matches = device.to_string() == name
            || device
                .id()
                .map(|id| id.to_string() == name || id.id() == name)
                .unwrap_or(false);
        if matches {
            return Ok(device);
        }
    }
    Err(OutputError::DeviceNotFound(name.to_owned()))
}

/// Turns cpal's error into ours, separating "there is no device" from other failures.
fn classify(error: &cpal::Error) -> OutputError {
    use cpal::ErrorKind as K;
    match error.kind() {
        K::DeviceNotAvailable | K::HostUnavailable | K::DeviceBusy | K::PermissionDenied => {
            OutputError::NoDevice {
                reason: error.to_string(),
            }
        }
        _ => OutputError::Stream(error.to_string()),
    }
}
