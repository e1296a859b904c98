//! RTP: packet parsing and validation, sequence/timestamp extension, payload formats, SDP.
