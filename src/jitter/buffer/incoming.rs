//! A packet as the jitter buffer takes it in: its header fields and arrival.

use std::time::Duration;

/// The fields of a packet that storage needs, whichever slot it comes from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Incoming {
    pub ssrc: u32,
    pub seq: u16,
    pub ts: u32,
    pub marker: bool,
    pub payload_type: u8,
    pub arrival: Duration,
}
