//! RTP: packet parsing and validation, sequence/timestamp extension, payload formats, SDP.
pub mod header;
pub mod mpa;
pub mod packetize;
pub mod payload;
pub mod sdp;
pub mod seq;
pub mod source;
