//! Decoders: container files for offline play, and container-less RTP payload decoders.

pub mod file;
