//! Controller tests against a small level model: a sender (with its own clock drift) whose packets
//! arrive with jitter and outages, and a device that consumes at `1 / ratio` of source time.

use super::*;
use crate::jitter::test_rng::TestRng;
use crate::playout::stretch::LevelMove;

const DT: f64 = 0.010;
const PKT: f64 = 0.020;

struct Model {
    ctl: PlayoutController,
    rng: TestRng,
    /// Sender clock relative to the device's (0.01 = 1 % fast).
    drift: f64,
    /// Uniform extra network delay, seconds.
    jitter: f64,
    level: f64,
    next_send: f64,
    last_arrival: f64,
    in_flight: std::collections::VecDeque<f64>,
    now: f64,
    underruns: u64,
    /// (time, raw level, ratio, state) each tick.
    trace: Vec<(f64, f64, f64, PlayoutState)>,
}

impl Model {
    fn new(drift: f64, jitter: f64, seed: u64) -> Self {
        Self {
            ctl: PlayoutController::new(ControllerConfig::default()),
            rng: TestRng::new(seed),
            drift,
            jitter,
            level: 0.0,
            next_send: 0.0,
            last_arrival: 0.0,
            in_flight: Default::default(),
            now: 0.0,
            underruns: 0,
            trace: Vec::new(),
        }
    }

    /// Advances to `until`; `outage(t)` says whether a packet sent at `t` is held (Some(release
    /// time)) or lost (None means delivered normally, Some(None) lost).
    fn run(&mut self, until: f64, target: f64, outage: impl Fn(f64) -> Option<Option<f64>>) {
        while self.now < until {
            self.now += DT;
            while self.next_send <= self.now {
                let sent = self.next_send;
                self.next_send += PKT / (1.0 + self.drift);
                let arrival = match outage(sent) {
                    Some(None) => continue,
                    Some(Some(release)) => release,
                    None => sent + 0.05 + self.jitter * self.rng.unit(),
                };
                self.last_arrival = self.last_arrival.max(arrival);
                self.in_flight.push_back(self.last_arrival);
            }
            while self.in_flight.front().is_some_and(|a| *a <= self.now) {
                self.in_flight.pop_front();
                self.level += PKT;
            }
            let d = self.ctl.tick(
                Duration::from_secs_f64(self.now),
                Duration::from_secs_f64(self.level.max(0.0)),
                None,
                Duration::from_secs_f64(target),
            );
            if d.playing {
                self.level -= DT / d.ratio;
                if self.level < 0.0 {
                    self.level = 0.0;
                    self.underruns += 1;
                    self.ctl.underrun();
                }
            }
            self.trace.push((self.now, self.level, d.ratio, d.state));
        }
    }

    /// Largest raw level in each whole second after `from` (the peaks the controller holds).
    fn peaks_after(&self, from: f64) -> Vec<f64> {
        let mut out: Vec<f64> = Vec::new();
        let mut sec = from.floor();
        for (t, l, _, _) in self.trace.iter().filter(|p| p.0 >= from) {
            if *t >= sec + 1.0 {
                sec += 1.0;
                out.push(0.0);
            }
            if let Some(last) = out.last_mut() {
                *last = last.max(*l);
            } else {
                out.push(*l);
            }
        }
        out
    }
}

#[test]
fn prebuffers_to_target_then_plays_bit_exact() {
    let mut m = Model::new(0.0, 0.040, 1);
    m.run(600.0, 3.0, |_| None);
    let start = m.trace.iter().position(|p| p.3 == PlayoutState::Playing);
    let start_t = start.map(|i| m.trace[i].0).unwrap_or(f64::MAX);
    assert!((3.0..3.2).contains(&start_t), "started at {start_t}");
    assert!(m.trace[..start.unwrap_or(0)]
        .iter()
        .all(|p| p.3 == PlayoutState::Prebuffering));
    assert_eq!(m.underruns, 0);
    assert!(
        m.trace.iter().all(|p| p.2 == 1.0),
        "ratio exactly 1.0 while in band"
    );
}

#[test]
fn progress_reports_prebuffering() {
    let mut c = PlayoutController::new(ControllerConfig::default());
    let t = Duration::from_secs(3);
    let d = c.tick(Duration::ZERO, Duration::from_millis(1500), None, t);
    assert_eq!((d.state, d.playing), (PlayoutState::Prebuffering, false));
    assert!((d.progress - 0.5).abs() < 1e-9);
    let d = c.tick(
        Duration::from_millis(10),
        Duration::from_millis(3000),
        None,
        t,
    );
    assert_eq!(
        (d.state, d.playing, d.progress, d.ratio),
        (PlayoutState::Playing, true, 1.0, 1.0)
    );
}

#[test]
fn freeze_rebuffers_once_and_resumes_with_the_burst() {
    let mut m = Model::new(0.0, 0.010, 2);
    // A 4 s freeze at 100 s: packets sent in [100, 104) are delivered in a burst at 104.05 s.
    m.run(300.0, 3.0, |sent| {
        (100.0..104.0).contains(&sent).then_some(Some(104.05))
    });
    assert_eq!(m.ctl.rebuffers(), 1);
    let resumed = m
        .trace
        .iter()
        .skip_while(|p| p.3 != PlayoutState::Rebuffering)
        .find(|p| p.3 == PlayoutState::Playing)
        .map_or(f64::MAX, |p| p.0);
    assert!((104.05..104.1).contains(&resumed), "resumed at {resumed}");
    assert_eq!(m.ctl.state(), PlayoutState::Playing);
}

#[test]
fn blackout_resumes_at_half_the_target() {
    let mut m = Model::new(0.0, 0.010, 3);
    // Everything sent in [100, 106) is lost: the 3 s buffer runs dry.
    m.run(200.0, 3.0, |sent| {
        (100.0..106.0).contains(&sent).then_some(None)
    });
    assert_eq!(m.ctl.rebuffers(), 1);
    let resumed = m
        .trace
        .iter()
        .skip_while(|p| p.3 != PlayoutState::Rebuffering)
        .find(|p| p.3 == PlayoutState::Playing)
        .map_or(f64::MAX, |p| p.0);
    // Flow restarts at ~106.05 s; half of the 3 s target is there 1.5 s later.
    assert!((107.5..107.7).contains(&resumed), "resumed at {resumed}");
}

fn drift_holds_level(drift: f64, seed: u64) {
    let mut m = Model::new(drift, 0.030, seed);
    m.run(3600.0, 3.0, |_| None);
    assert_eq!(m.underruns, 0, "drift {drift}");
    // Uncorrected for the first minute (no evidence yet), the level moves by up to a minute of
    // drift; from then on it holds where it is.
    let peaks = m.peaks_after(300.0);
    let (lo, hi) = peaks
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(*p), hi.max(*p)));
    assert!(hi - lo <= 0.100, "drift {drift}: level wandered {lo}..{hi}");
    assert!(
        (lo - 3.0).abs() <= 70.0 * drift.abs() + 0.1,
        "drift {drift}: level {lo}"
    );
    let est = m.ctl.drift_ppm().expect("known after an hour");
    assert!((est - drift * 1e6).abs() < 20.0, "estimate {est} ppm");
    // The ratio never corrects more than the estimated drift (plus 50 ppm).
    let bound = drift.abs() + 50e-6;
    assert!(m
        .trace
        .iter()
        .filter(|p| p.0 >= 300.0)
        .all(|p| (1.0 / p.2 - 1.0).abs() <= bound));
}

#[test]
fn drift_plus_one_percent_for_an_hour() {
    drift_holds_level(0.01, 4);
}

#[test]
fn drift_minus_one_percent_for_an_hour() {
    drift_holds_level(-0.01, 5);
}

#[test]
fn drift_plus_minus_300_ppm_for_an_hour() {
    drift_holds_level(300e-6, 6);
    drift_holds_level(-300e-6, 7);
}

#[test]
fn a_target_change_never_resamples() {
    let mut m = Model::new(0.0, 0.020, 8);
    m.run(100.0, 3.0, |_| None);
    m.run(300.0, 4.0, |_| None);
    assert!(
        m.trace.iter().all(|p| p.2 == 1.0),
        "no resampling without known drift"
    );
    assert_eq!(m.underruns, 0);
}

#[test]
fn outside_the_safe_zone_the_level_moves_without_resampling() {
    let ms = Duration::from_millis;
    let mut c = PlayoutController::new(ControllerConfig {
        ceiling: Duration::from_secs(5),
        ..ControllerConfig::default()
    });
    let target = ms(3000);
    assert!(c.tick(ms(0), target, Some(target), target).playing);
    let mv = |c: &mut PlayoutController, t: u64, level: u64| {
        let d = c.tick(ms(t), ms(level), Some(ms(level)), target);
        assert_eq!(d.ratio, 1.0, "the level never moves by resampling");
        (d.level_move, (d.level_gap * 1000.0).round())
    };
    assert_eq!(mv(&mut c, 10, 3000), (LevelMove::Hold, 0.0));
    assert_eq!(
        mv(&mut c, 20, 4900),
        (LevelMove::Hold, 0.0),
        "inside the zone"
    );
    assert_eq!(mv(&mut c, 30, 5200), (LevelMove::Accelerate, 200.0));
    assert_eq!(
        mv(&mut c, 40, 5010),
        (LevelMove::Accelerate, 10.0),
        "back to the ceiling"
    );
    assert_eq!(mv(&mut c, 50, 4990), (LevelMove::Hold, 0.0));
    assert_eq!(
        mv(&mut c, 60, 2960),
        (LevelMove::Hold, 0.0),
        "within the band"
    );
    assert_eq!(mv(&mut c, 70, 2500), (LevelMove::Expand, 500.0));
    assert_eq!(
        mv(&mut c, 80, 2990),
        (LevelMove::Expand, 10.0),
        "up to the target"
    );
    assert_eq!(mv(&mut c, 90, 3000), (LevelMove::Hold, 0.0));
}

#[test]
fn a_refilled_output_ring_alone_does_not_end_a_rebuffer() {
    let ring = Duration::from_millis(40);
    let target = Duration::from_millis(80);
    let ms = Duration::from_millis;
    let mut c = PlayoutController::new(ControllerConfig {
        resume_floor: ring,
        ..ControllerConfig::default()
    });
    assert!(c.tick(ms(0), target, Some(target), target).playing);
    c.underrun();
    // Half the target is all ring: still rebuffering.
    let d = c.tick(ms(10), ring, Some(ring), target);
    assert_eq!(d.state, PlayoutState::Rebuffering);
    // Ring plus half the network part (20 ms): resume.
    let d = c.tick(ms(20), ms(60), Some(ms(60)), target);
    assert!(d.playing, "{d:?}");
}
