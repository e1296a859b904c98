//! Playback pipelines: the decoder thread that feeds the ring, and the wiring around a sink.

pub mod capture;
pub mod error;
pub mod file;
pub mod rtp;
pub mod source;

pub use file::{play_file, play_source, FilePlayOptions, FilePlayReport, PlayError, PlayProgress};
