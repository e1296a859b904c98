//! Playback pipelines: the decoder thread that feeds the ring, and the wiring around a sink.

pub mod file;
pub mod rtp;
pub mod stream_format;

pub use file::{play_file, FilePlayOptions, FilePlayReport, PlayError, PlayProgress};
