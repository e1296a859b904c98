//! Playout control: prebuffering, rebuffering and the drift-correcting resample ratio (sans-IO).

mod codec_fill;
pub mod comfort_noise;
pub mod controller;
pub mod core_config;
pub mod drift;
pub mod drift_estimator;
mod dry_wait;
pub mod dtmf_events;
#[cfg(test)]
mod e2e_tests;
pub mod engine;
mod feeder;
pub mod metrics;
mod output_pipeline;
pub(crate) mod receive_core;
pub mod receive_counts;
pub mod recovery_metrics;
mod signalled;
pub mod stretch;

pub use controller::{
    ControllerConfig, PlayoutController, PlayoutDecision, PlayoutState, PlayoutStatus,
};
pub use core_config::{ReceiveCoreConfig, ReceiveCoreError, Segment};
pub use drift::{DriftCorrector, DriftError};
pub use drift_estimator::DriftEstimator;
pub use dtmf_events::DtmfMode;
pub use engine::{Output, PlayoutEngine};
pub use receive_core::Verdict;
pub use receive_counts::ReceiveCounts;
pub use stretch::{LevelMove, TimeStretcher};
