//! Sample-level processing shared by every input: channel mapping and resampling.

pub mod channels;
pub mod resample;
