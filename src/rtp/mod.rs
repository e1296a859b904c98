//! RTP: packet parsing and validation, sequence/timestamp extension, payload formats, SDP, and
//! deciding a stream's format from what is known and its first packet.
pub mod comfort_noise;
pub mod header;
pub mod media_clock;
pub mod mpa;
pub mod opus_fmtp;
pub mod opus_toc;
pub mod packetize;
pub mod payload;
pub mod sap;
pub mod sap_directory;
pub mod sdp;
pub mod seq;
pub mod seq_window;
pub mod source;
pub mod stream_format;
pub mod telephone_event;
