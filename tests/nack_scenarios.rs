//! NACK recovery in the simulator: the real receive core and RTCP sessions at both ends, with
//! seeded loss on the way there and back.

mod common;

use jitterplay::sim::scenario::RecoveryBehaviour;
use jitterplay::sim::{run_simulation, EventKind, Scenario, SimConfig, SimReport};

fn simulate(scenario: Scenario, seed: u64, no_nack: bool) -> SimReport {
    let cfg = SimConfig {
        scenario,
        seed,
        duration: None,
        target_min: None,
        target_max: None,
        no_nack,
        dtmf: jitterplay::playout::DtmfMode::Tone,
        codec: jitterplay::sim::opus_sender::SimCodec::L16,
    };
    run_simulation(
        &common::sim_input("music-48k-stereo.flac"),
        &cfg,
        &mut |_| {},
    )
    .expect("simulation runs")
}

fn named(name: &str) -> Scenario {
    Scenario::built_in(name).expect("built-in scenario")
}

#[test]
fn five_percent_loss_each_way_is_recovered_completely() {
    for seed in 1..=3 {
        let r = simulate(named("loss-5pct-nack"), seed, false);
        let m = &r.metrics;
        let rec = r.recovery.expect("recovery report");
        assert!(r.network.dropped > 300, "{seed}: {r}");
        assert_eq!(r.bit_exact_frames, r.frames_sent, "{seed}: {r}");
        assert_eq!((m.lost, m.concealed_ms), (0, 0.0), "{seed}: {r}");
        assert!(m.recovery.recovered > 300, "{seed}: {r}");
        let events = r
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Recovered)
            .count();
        assert_eq!(
            events as u64, m.recovery.recovered,
            "one plotted event per recovery"
        );
        assert!(rec.overhead > 1.0 && rec.overhead <= 1.3, "{seed}: {r}");
        let rtt = m.recovery.rtt_ms.expect("RTT measured");
        assert!((50.0..70.0).contains(&rtt), "{seed}: RTT {rtt}");
        assert!(rec.reverse.dropped > 0, "NACKs were lost too");
    }
}

#[test]
fn twenty_percent_loss_in_bursts_of_three_keeps_999_per_mille() {
    for seed in 1..=3 {
        let r = simulate(named("burst-loss-nack"), seed, false);
        let rec = r.recovery.expect("recovery report");
        assert!(
            r.network.dropped as f64 > 0.18 * r.packets_sent as f64,
            "{seed}: {r}"
        );
        assert!(r.bit_exact_share >= 0.999, "{seed}: {r}");
        assert!(rec.overhead <= 1.3, "{seed}: {r}");
        assert_eq!(r.metrics.recovery.recovered_too_late, 0, "{seed}: {r}");
    }
}

#[test]
fn without_nack_the_run_is_exactly_the_one_without_rtcp() {
    let mut plain = named("loss-5pct-nack");
    plain.recovery = None;
    let off = simulate(named("loss-5pct-nack"), 4, true);
    let none = simulate(plain, 4, false);
    assert!(off.recovery.is_none());
    assert_eq!(off.bit_exact_frames, none.bit_exact_frames);
    assert_eq!(off.metrics, none.metrics);
    assert!(off.metrics.concealed_ms > 1000.0, "{off}");
    assert_eq!(off.metrics.recovery.nack_sent, 0);
}

#[test]
fn sender_reports_give_the_drift_within_seconds() {
    let mut s = named("drift-plus");
    s.recovery = Some(RecoveryBehaviour::default());
    s.duration_s = Some(30.0);
    let r = simulate(s, 1, false);
    let sr = r
        .metrics
        .recovery
        .sr_drift_ppm
        .expect("drift from sender reports");
    assert!((sr - 300.0).abs() < 1.0, "{sr} ppm");
    // The level-based estimate needs a minute; with reports, the controller knows it at 30 s.
    let used = r.estimated_drift_ppm.expect("drift known");
    assert!((used - 300.0).abs() < 1.0, "{used} ppm: {r}");
    assert_eq!(r.metrics.underruns, 0, "{r}");
}
