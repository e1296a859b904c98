//! What replaying a capture through the virtual-time driver needs: the report's label, the
//! virtual device, the target window and the DTMF rendering (none of the simulator's network
//! or sender).

use std::time::Duration;

use super::scenario::Scenario;
use crate::playout::{DtmfMode, ReceiveCoreConfig};

/// What a capture replay needs beyond the capture: none of the simulator's network or sender.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// What the report is labelled with (the capture's name and description), and the virtual
    /// device (period, clock).
    pub scenario: Scenario,
    /// The seed the report names (a replay draws nothing at random).
    pub seed: u64,
    /// Jitter buffer target window floor (else the scenario's, else the default).
    pub target_min: Option<Duration>,
    /// Jitter buffer target window ceiling.
    pub target_max: Option<Duration>,
    /// What telephone events sound like.
    pub dtmf: DtmfMode,
}

impl ReplayConfig {
    /// Applies the target window (override, else the scenario's, else the default) to `cfg`.
    pub fn set_target_window(&self, cfg: &mut ReceiveCoreConfig) {
        let est = &cfg.jitter.estimator;
        let min = self
            .target_min
            .or(self.scenario.target_min_ms.map(ms))
            .unwrap_or(est.target_min);
        let max = self
            .target_max
            .or(self.scenario.target_max_ms.map(ms))
            .unwrap_or(est.target_max);
        cfg.set_target_window(min, max);
    }
}

fn ms(v: f64) -> Duration {
    Duration::from_secs_f64(v.max(0.0) / 1000.0)
}
