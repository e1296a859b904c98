//! The adaptive jitter buffer and its delay estimator (sans-IO: time is an argument).
//!
//! [`JitterBuffer`] stores packets by extended sequence number and hands them out in order;
//! it owns a [`DelayEstimator`] (the target delay) and an [`InterarrivalJitter`] (RFC 3550 A.8),
//! both fed from its arrivals.

mod buffer;
pub mod estimator;
pub mod interarrival;
mod pool;
/// Bytes of the payload pool one packet takes at least.
pub mod slope;
mod slots;
#[cfg(test)]
pub(crate) mod test_rng;
mod trend;
mod types;

pub use buffer::JitterBuffer;
pub use estimator::{DelayEstimator, EstimatorConfig};
pub use interarrival::InterarrivalJitter;
pub use types::{
    InsertOutcome, JitterConfig, JitterStats, PopOutcome, ResetReason, DEFAULT_MAX_BYTES,
};
