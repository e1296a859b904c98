//! Sample-level processing shared by every input and output: channel mapping, resampling and
//! the G.711 companding laws (used by the RTP packetizer and, through symphonia, the decoder).

pub mod channels;
pub mod g711;
pub mod resample;
