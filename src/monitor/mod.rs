//! `jitterplay monitor`: many RTP streams watched at once, each measured as the network
//! delivered it and as a player with the configured buffer would have suffered it.
//!
//! The measuring core is sans-IO ([`table::Monitor`] and the per-stream parts it holds); the
//! shell around it reads sockets, capture files or a live interface and shows the reports
//! (the terminal table, JSON lines, Prometheus).

pub mod capture_feed;
pub mod counts;
mod deferred;
pub mod emodel;
pub mod inputs;
pub mod level;
pub mod live;
pub mod loss;
pub mod pcap_live;
pub mod playout_account;
pub mod stream;
mod stream_slab;
pub mod table;
pub mod view;

use std::time::Duration;

pub use table::{Monitor, MonitorReport};

use crate::jitter::JitterConfig;
use crate::playout::{ControllerConfig, ReceiveCoreConfig};
use crate::rtp::payload::PayloadFormat;

/// How the monitor measures every stream.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// A stream with no packet for this long has ended.
    pub idle: Duration,
    /// Streams tracked at most; the rest are counted, not measured.
    pub max_streams: usize,
    /// The modelled player's jitter buffer.
    pub jitter: JitterConfig,
    /// The modelled player's controller.
    pub controller: ControllerConfig,
    /// Decode and measure the level (silence, and loudness if asked).
    pub level_enabled: bool,
    /// Silence threshold and loudness.
    pub level: level::LevelConfig,
    /// One-way network delay the E-model assumes when RTCP gives no round trip.
    pub assumed_delay: Duration,
}

impl MonitorConfig {
    /// The player's own buffer configuration for the target window `min`–`max`, and defaults
    /// for the rest.
    pub fn new(target_min: Duration, target_max: Duration) -> Self {
        // The format only sets byte budgets, which the payload-free model replaces.
        let mut core = ReceiveCoreConfig::new(PayloadFormat::Pcmu, 8000, 1);
        core.set_target_window(target_min, target_max);
        MonitorConfig {
            idle: Duration::from_secs(10),
            max_streams: 2000,
            jitter: core.jitter,
            controller: core.controller,
            level_enabled: true,
            level: level::LevelConfig::default(),
            assumed_delay: Duration::ZERO,
        }
    }
}
