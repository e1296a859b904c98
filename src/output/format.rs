//! What an output plays (rate, channels, sample format, period) and why one failed.

use std::path::PathBuf;

use super::negotiate::NegotiateError;

/// Why audio could not be played.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// No usable audio device.
    #[error("no audio output device available ({reason}); use --output wav:FILE or --output null, or start an audio server")]
    NoDevice {
        /// What the audio host said.
        reason: String,
    },
    /// `device:NAME` named nothing.
    #[error("no output device named '{0}' (run `jitterplay devices` to list them)")]
    DeviceNotFound(String),
    /// No configuration of the device fits.
    #[error(transparent)]
    Negotiate(#[from] NegotiateError),
    /// The stream could not be built or failed.
    #[error("audio stream failed: {0}")]
    Stream(String),
    /// The WAV file could not be written.
    #[error("cannot write {path}: {reason}")]
    Wav {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The format a sink plays: what the decoder thread must convert to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputFormat {
    /// Rate in Hz.
    pub rate: u32,
    /// Interleaved channels.
    pub channels: u16,
    /// The device's sample type (the ring always carries f32).
    pub sample_format: cpal::SampleFormat,
    /// Frames per callback period (what the timer sinks pull at a time; a device's hint).
    pub period_frames: u32,
}
