//! Sample-level processing shared by every input and output: channel mapping, resampling,
//! the G.711 companding laws (used by the RTP packetizer and, through symphonia, the decoder),
//! the pitch-period search (used by time-stretch and loss concealment), DTMF tones and the
//! lattice filter that shapes comfort noise.

pub mod channels;
pub mod dtmf;
pub mod g711;
pub mod lattice;
pub mod pitch;
pub mod resample;
