//! Decoders: container files for offline play, and container-less RTP payload decoders
//! (symphonia for PCM and MPEG audio, libopus behind a trait for Opus).
pub mod conceal;
pub mod error;
pub mod file;
mod file_track;
pub mod opus;
pub mod pcm_chunks;
pub mod pcm_spec;
pub mod rtp_decoder;
