//! Deterministic jitter simulation: a seeded network model and a virtual audio device (sans-IO).

pub mod capture_feed;
pub mod engine;
pub mod opus_sender;
pub mod recovery;
pub mod replay_config;
pub mod report;
pub mod run;
pub mod scenario;
pub mod scheduled;
pub mod sender;

pub use replay_config::ReplayConfig;
pub use report::{Event, EventKind, SimReport, TimelinePoint};
pub use run::{run_simulation, SimConfig, SimError, SimInput};
pub use scenario::Scenario;
pub use scheduled::{play_scheduled, ScheduledFeed, ScheduledRun};
pub mod plot;
pub mod sender_error;
