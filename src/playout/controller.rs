//! The playout controller: when to play, and the resample ratio that absorbs clock drift.
//!
//! Input each tick: the audio actually buffered (jitter buffer depth + decoded audio waiting in the
//! ring), the target delay, and `now`. Output: a [`PlayoutDecision`].
//!
//! States: **Prebuffering** until the level reaches the target; **Playing**; **Rebuffering** after
//! an underrun, resuming once the level is back to `resume_fraction` of the target (default half:
//! with a 3 s target playback restarts 1.5 s after audio starts flowing again, or at once when an
//! outage ends in a burst, as after a network freeze).
//!
//! Fidelity first. The target is the *safe minimum* level, not a set point: any level between
//! the target (less `band`) and the ceiling (the window's maximum, and at least a second above
//! the target) is left alone, so a rising target does not slew a level that is already enough,
//! and the burst after a freeze is latency accepted. The level regulated is the playout delay
//! behind the sender's clock as seen through the fastest network path
//! (`JitterBuffer::playout_delay`), which does not jump with every reordered or delayed packet;
//! without it a peak follower of the buffered amount (instant rise, 1 s release) stands in.
//!
//! Pitch never shifts to move the level. A level below the target asks for
//! [`LevelMove::Expand`], one above the ceiling for [`LevelMove::Accelerate`], until it is back
//! at the target or the ceiling: the receiver then lengthens or shortens silences, else inserts
//! or removes pitch periods (see `stretch.rs`), within 2 % of the audio. **Clock drift is the
//! only thing resampled**: the ratio is `1 / (1 + drift)` once the drift is known (see
//! [`DriftEstimator`]: a minute of evidence, at least 20 ppm and twice its standard error),
//! changing at most `slew` per second, and exactly 1.0 otherwise.

use std::time::Duration;

use super::drift_estimator::DriftEstimator;
use super::stretch::LevelMove;

/// Seconds to a `Duration`, saturating instead of panicking on out-of-range values.
fn secs(v: f64) -> Duration {
    Duration::try_from_secs_f64(v.max(0.0)).unwrap_or(Duration::MAX)
}

/// Smallest known drift that is corrected (20 ppm: 72 ms an hour), and it must also be twice its
/// standard error.
const MIN_CORRECTED_DRIFT: f64 = 20e-6;

/// The zone left alone reaches at least this far above the target, in seconds.
const SLACK_ABOVE_TARGET: f64 = 1.0;

/// Share of the resume threshold that must be real buffered audio when the smooth level says go
/// after an underrun: the smooth level grows while the output waits, whether the network froze or
/// not. The first start needs none: a sender pause or a freeze while prebuffering is no reason to
/// start late (the pause plays as silence, see `DryWait`), and a freeze longer than the audio
/// already there costs the rebuffer it would cost later anyway.
const REAL_FRACTION: f64 = 0.75;

/// Parameters of the [`PlayoutController`].
#[derive(Debug, Clone, PartialEq)]
pub struct ControllerConfig {
    /// Half-width of the tolerance band around the target (default 50 ms; at most a quarter of the target).
    pub band: Duration,
    /// Rebuffering ends when the level reaches this fraction of the target (default 0.5) above
    /// `resume_floor`.
    pub resume_fraction: f64,
    /// The part of the target that is the output ring rather than network jitter (default 0):
    /// rebuffering resumes at `resume_floor + resume_fraction × (target − resume_floor)`, so a
    /// refilled ring alone cannot end a rebuffer when the target is small.
    pub resume_floor: Duration,
    /// Bound of the drift correction (default 0.015 = 1.5 %).
    pub max_correction: f64,
    /// Largest change of the correction per second (default 0.002).
    pub slew: f64,
    /// Release time constant of the level's peak follower (default 1 s).
    pub level_release: Duration,
    /// Window of the drift estimate (default 10 min).
    pub drift_window: Duration,
    /// Highest level left alone (the target window's maximum; at least the target + 1 s).
    pub ceiling: Duration,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            band: Duration::from_millis(50),
            resume_fraction: 0.5,
            resume_floor: Duration::ZERO,
            max_correction: 0.015,
            slew: 0.002,
            level_release: Duration::from_secs(1),
            drift_window: Duration::from_secs(600),
            ceiling: Duration::ZERO,
        }
    }
}

/// Where the playout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum PlayoutState {
    /// Waiting for the level to reach the target before the first sample plays.
    Prebuffering,
    /// Playing.
    Playing,
    /// Waiting after an underrun for the level to come back.
    Rebuffering,
}

/// What the controller decided for this tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayoutDecision {
    /// The current state.
    pub state: PlayoutState,
    /// Whether the output may consume audio (false: output silence and keep buffering).
    pub playing: bool,
    /// Resample ratio, output frames per input frame: the known clock drift, else exactly 1.0.
    pub ratio: f64,
    /// Which way the level must move (without resampling).
    pub level_move: LevelMove,
    /// How far the level is from where the move should bring it, in seconds (positive).
    pub level_gap: f64,
    /// Progress of (pre/re)buffering, 0..=1 (1 while playing).
    pub progress: f64,
}

/// A plain summary of the controller for metrics and status lines.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PlayoutStatus {
    /// The current state.
    pub state: PlayoutState,
    /// Current resample ratio.
    pub ratio: f64,
    /// Estimated clock drift in ppm (positive: the sender's clock runs fast); 0 while unknown.
    pub drift_ppm: f64,
    /// Whether the drift is known (a minute of evidence); before that it is not corrected.
    pub drift_known: bool,
    /// Rebuffers since the start.
    pub rebuffers: u64,
    /// The level the ratio control acts on, in ms.
    pub level_ms: f64,
    /// Target in ms as of the last tick.
    pub target_ms: f64,
}

/// Prebuffer/play/rebuffer state machine plus the drift-correcting ratio (sans-IO).
#[derive(Debug, Clone)]
pub struct PlayoutController {
    cfg: ControllerConfig,
    state: PlayoutState,
    level_move: LevelMove,
    level_gap: f64,
    correction: f64,
    applied: f64,
    level: f64,
    control_level: f64,
    target: f64,
    progress: f64,
    last_now: Option<Duration>,
    drift: DriftEstimator,
    /// Drift known from outside (RTCP sender reports), preferred to the level-based estimate.
    reference_drift: Option<f64>,
    rebuffers: u64,
    draining: bool,
    /// Smallest band: the level is only known to within a packet, so the band must hold one.
    min_band: f64,
}

impl PlayoutController {
    /// A controller in the prebuffering state.
    pub fn new(cfg: ControllerConfig) -> Self {
        Self {
            drift: DriftEstimator::new(cfg.drift_window),
            reference_drift: None,
            cfg,
            state: PlayoutState::Prebuffering,
            level_move: LevelMove::Hold,
            level_gap: 0.0,
            correction: 0.0,
            applied: 0.0,
            level: 0.0,
            control_level: 0.0,
            target: 0.0,
            progress: 0.0,
            last_now: None,
            rebuffers: 0,
            draining: false,
            min_band: 0.0,
        }
    }

    /// Runs one control step.
    ///
    /// `buffered` is the audio actually there (jitter buffer depth + ring): it decides when to
    /// start, underrun and resume. `delay` is the smooth level to regulate the ratio on
    /// ([`JitterBuffer::playout_delay`](crate::jitter::JitterBuffer::playout_delay) + ring); with
    /// `None` a peak follower of `buffered` stands in for it.
    pub fn tick(
        &mut self,
        now: Duration,
        buffered: Duration,
        delay: Option<Duration>,
        target: Duration,
    ) -> PlayoutDecision {
        let dt = self
            .last_now
            .map_or(0.0, |t| now.saturating_sub(t).as_secs_f64());
        self.last_now = Some(self.last_now.map_or(now, |t| t.max(now)));
        let buffered = buffered.as_secs_f64();
        self.target = target.as_secs_f64();
        self.follow_level(buffered, dt);
        match self.state {
            PlayoutState::Prebuffering | PlayoutState::Rebuffering => {
                let threshold = if self.state == PlayoutState::Prebuffering {
                    self.target
                } else {
                    let floor = self.cfg.resume_floor.as_secs_f64().min(self.target);
                    floor + (self.target - floor) * self.cfg.resume_fraction.clamp(0.0, 1.0)
                };
                let real = if self.state == PlayoutState::Prebuffering {
                    0.0
                } else {
                    REAL_FRACTION
                };
                let level = delay.map_or(buffered, |d| d.as_secs_f64());
                self.progress = if threshold > 0.0 {
                    let enough = if real > 0.0 { buffered / real } else { level };
                    (level.min(enough) / threshold).clamp(0.0, 1.0)
                } else {
                    1.0
                };
                // Start on the level the ratio regulates, so that playback begins in band.
                if buffered > 0.0 && level >= threshold && buffered >= real * threshold {
                    self.state = PlayoutState::Playing;
                    self.level = buffered;
                    self.progress = 1.0;
                }
            }
            PlayoutState::Playing => {
                if buffered <= 0.0 && !self.draining {
                    self.enter_rebuffering();
                } else {
                    let level = delay.map_or(self.level, |d| d.as_secs_f64());
                    self.control(now, dt, level);
                }
            }
        }
        self.decision()
    }

    /// Peak follower: rises at once, falls with the release time constant.
    fn follow_level(&mut self, buffered: f64, dt: f64) {
        if buffered >= self.level {
            self.level = buffered;
        } else {
            let tau = self.cfg.level_release.as_secs_f64().max(1e-3);
            self.level += (buffered - self.level) * (1.0 - (-dt / tau).exp());
        }
    }

    fn control(&mut self, now: Duration, dt: f64, level: f64) {
        // The uncorrected level (see DriftEstimator) integrates the correction actually applied.
        self.applied += self.correction * dt;
        if !self.draining {
            // While the stream plays out its tail the level falls by design: that is no drift.
            self.drift.observe(now, level + self.applied);
        }
        self.control_level = level;
        let band = self
            .cfg
            .band
            .as_secs_f64()
            .min(self.target / 4.0)
            .max(self.min_band);
        let ceiling = self
            .cfg
            .ceiling
            .as_secs_f64()
            .max(self.target + SLACK_ABOVE_TARGET);
        // Outside the zone the level moves back to its edge, without resampling.
        self.level_move = match self.level_move {
            _ if self.draining => LevelMove::Hold,
            LevelMove::Expand if level < self.target => LevelMove::Expand,
            LevelMove::Accelerate if level > ceiling => LevelMove::Accelerate,
            _ if level < self.target - band => LevelMove::Expand,
            _ if level > ceiling + band => LevelMove::Accelerate,
            _ => LevelMove::Hold,
        };
        self.level_gap = match self.level_move {
            LevelMove::Expand => self.target - level,
            LevelMove::Accelerate => level - ceiling,
            LevelMove::Hold => 0.0,
        };
        // A drift this small moves the level by a few ms an hour, well inside the zone: leaving
        // it uncorrected keeps the audio bit-exact.
        let estimate = match self.reference_drift {
            // Sender reports carry no network delay: no spread to clear beyond the floor.
            Some(d) => Some(d).filter(|d| d.abs() >= MIN_CORRECTED_DRIFT),
            None => {
                let confident = MIN_CORRECTED_DRIFT.max(2.0 * self.drift.confidence());
                self.drift.drift().filter(|d| d.abs() >= confident)
            }
        };
        let desired = match estimate {
            Some(d) if !self.draining => d.clamp(-self.cfg.max_correction, self.cfg.max_correction),
            _ => 0.0,
        };
        let step = self.cfg.slew * dt;
        self.correction = if (desired - self.correction).abs() <= step {
            desired
        } else {
            self.correction + step.copysign(desired - self.correction)
        };
    }

    fn enter_rebuffering(&mut self) {
        self.state = PlayoutState::Rebuffering;
        self.rebuffers += 1;
        self.progress = 0.0;
        self.correction = 0.0;
        self.level_move = LevelMove::Hold;
    }

    fn decision(&self) -> PlayoutDecision {
        PlayoutDecision {
            state: self.state,
            playing: self.state == PlayoutState::Playing,
            ratio: self.ratio(),
            level_move: if self.state == PlayoutState::Playing {
                self.level_move
            } else {
                LevelMove::Hold
            },
            level_gap: self.level_gap,
            progress: self.progress,
        }
    }

    /// The receiver lengthened (positive) or shortened (negative) the audio by `secs` to move
    /// the level: that moved the level too, and is no drift.
    pub fn note_level_moved(&mut self, secs: f64) {
        self.applied -= secs;
    }

    /// The output ran dry while playing: rebuffer (counted once per underrun episode).
    pub fn underrun(&mut self) {
        if self.state == PlayoutState::Playing {
            self.enter_rebuffering();
        }
    }

    /// The rebuffer turned out to be a sender's pause that outlasted the buffer (the receiver
    /// plays the rest of it as silence): play on, and it was no rebuffer.
    pub fn resume_after_pause(&mut self) {
        if self.state == PlayoutState::Rebuffering {
            self.state = PlayoutState::Playing;
            self.rebuffers = self.rebuffers.saturating_sub(1);
            self.progress = 1.0;
        }
    }

    /// End of stream: stop regulating (the ratio returns to 1.0) and never rebuffer; the
    /// remaining audio plays out. During prebuffering, playback starts at once.
    pub fn set_draining(&mut self, draining: bool) {
        self.draining = draining;
        if draining && self.state == PlayoutState::Rebuffering && self.progress == 0.0 {
            // Nothing came back since the output ran dry and now the stream has ended: that
            // silence was the end of the stream, not a rebuffer.
            self.rebuffers = self.rebuffers.saturating_sub(1);
        }
        if draining && self.state != PlayoutState::Playing {
            self.state = PlayoutState::Playing;
            self.progress = 1.0;
        }
    }

    /// Widens the tolerance band to at least `band` (e.g. one packet of a stream with long
    /// packets), so packet-sized steps of the level do not engage resampling.
    pub fn set_min_band(&mut self, band: Duration) {
        self.min_band = band.as_secs_f64();
    }

    /// The current state.
    pub fn state(&self) -> PlayoutState {
        self.state
    }

    /// The resample ratio (output/input frames): exactly 1.0 when no correction is applied.
    pub fn ratio(&self) -> f64 {
        if self.correction == 0.0 {
            1.0
        } else {
            1.0 / (1.0 + self.correction)
        }
    }

    /// Estimated clock drift in ppm (positive: the sender's clock runs faster than the device's);
    /// `None` while unknown (less than a minute of evidence, and no sender reports).
    pub fn drift_ppm(&self) -> Option<f64> {
        self.reference_drift.or(self.drift.drift()).map(|d| d * 1e6)
    }

    /// Sets the drift known from RTCP sender reports (a fraction; `None`: none known). It
    /// replaces the level-based estimate, which keeps running and takes over again without it.
    pub fn set_reference_drift(&mut self, drift: Option<f64>) {
        self.reference_drift = drift;
    }

    /// Rebuffers since the start.
    pub fn rebuffers(&self) -> u64 {
        self.rebuffers
    }

    /// Progress of (pre/re)buffering, 0..=1.
    pub fn progress(&self) -> f64 {
        self.progress
    }

    /// The level the ratio control last acted on (the smooth delay, or the peak-followed buffer).
    pub fn level(&self) -> Duration {
        secs(self.control_level)
    }

    /// A plain summary for metrics.
    pub fn status(&self) -> PlayoutStatus {
        PlayoutStatus {
            state: self.state,
            ratio: self.ratio(),
            drift_ppm: self.drift_ppm().unwrap_or(0.0),
            drift_known: self.drift_ppm().is_some(),
            rebuffers: self.rebuffers,
            level_ms: self.control_level * 1e3,
            target_ms: self.target * 1e3,
        }
    }
}

#[cfg(test)]
#[path = "controller_tests.rs"]
mod tests;
