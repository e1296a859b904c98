//! Sample-level processing shared by every input and output: channel mapping, resampling,
//! the G.711 companding laws (used by the RTP packetizer and, through symphonia, the decoder)
//! and the pitch-period search (used by time-stretch and loss concealment).

pub mod channels;
pub mod g711;
pub mod pitch;
pub mod resample;
