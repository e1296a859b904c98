//! Playout control: prebuffering, rebuffering and the drift-correcting resample ratio (sans-IO).

pub mod controller;
pub mod drift;
pub mod drift_estimator;
#[cfg(test)]
mod e2e_tests;
pub mod feeder;
pub mod receiver;
#[cfg(test)]
mod receiver_tests;
pub mod stretch;

pub use controller::{
    ControllerConfig, PlayoutController, PlayoutDecision, PlayoutState, PlayoutStatus,
};
pub use drift::{DriftCorrector, DriftError};
pub use drift_estimator::DriftEstimator;
pub use feeder::{RingFeeder, TopUp};
pub use receiver::{Receiver, ReceiverConfig, ReceiverCounts, ReceiverError, Segment, Verdict};
pub use stretch::{LevelMove, TimeStretcher};
