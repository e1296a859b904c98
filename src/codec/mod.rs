//! Decoders: container files for offline play, and container-less RTP payload decoders.
pub mod conceal;
pub mod file;
pub mod rtp_decoder;
