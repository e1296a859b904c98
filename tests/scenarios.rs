//! Scenario tests: the real receive core under seeded network conditions in virtual time,
//! with the thresholds the jitter-buffer issue asks for.

mod common;

use std::time::Duration;

use jitterplay::netem::model::{Outage, OutageKind};
use jitterplay::sim::{run_simulation, EventKind, Scenario, SimConfig, SimInput, SimReport};

fn input(name: &str) -> SimInput {
    common::sim_input(name)
}

fn simulate(scenario: Scenario, seed: u64, duration: Option<Duration>) -> SimReport {
    let cfg = SimConfig {
        scenario,
        seed,
        duration,
        target_min: None,
        target_max: None,
        no_nack: false,
        dtmf: jitterplay::playout::DtmfMode::Tone,
        codec: jitterplay::sim::opus_sender::SimCodec::L16,
    };
    run_simulation(&input("music-48k-stereo.flac"), &cfg, &mut |_| {}).expect("simulation runs")
}

fn named(name: &str) -> Scenario {
    Scenario::built_in(name).expect("built-in scenario")
}

#[test]
fn benign_networks_deliver_everything_bit_exact() {
    for name in [
        "clean",
        "lan",
        "wifi",
        "reorder-heavy",
        "duplicates",
        "seq-wrap",
        "ts-wrap",
    ] {
        for seed in [1, 2] {
            let r = simulate(named(name), seed, Some(Duration::from_secs(20)));
            assert_eq!(r.bit_exact_frames, r.frames_sent, "{name}/{seed}: {r}");
            assert_eq!(r.metrics.rebuffers, 0, "{name}/{seed}: {r}");
            assert_eq!(r.metrics.late, 0, "{name}/{seed}: {r}");
            assert_eq!(r.metrics.underruns, 0, "{name}/{seed}: {r}");
            assert_eq!(r.out_of_order_frames, 0, "{name}/{seed}");
            assert!(r.drained);
        }
    }
}

#[test]
fn duplicates_and_reordering_are_counted_as_injected() {
    let r = simulate(named("duplicates"), 3, Some(Duration::from_secs(20)));
    assert_eq!(r.metrics.duplicate, r.network.duplicated, "{r}");
    assert_eq!(r.metrics.played, r.packets_sent);
    let r = simulate(named("reorder-heavy"), 3, Some(Duration::from_secs(20)));
    assert!(r.network.reordered > 0);
    assert!(
        r.metrics.reordered > 0 && r.metrics.reordered <= r.network.reordered * 3,
        "{r}"
    );
    assert_eq!(r.metrics.played, r.packets_sent);
}

#[test]
fn one_percent_drift_for_an_hour_never_underruns_and_holds_the_level() {
    for name in ["drift-plus-1pct", "drift-minus-1pct"] {
        let r = simulate(named(name), 1, Some(Duration::from_secs(3600)));
        assert_eq!(r.metrics.underruns, 0, "{name}: {r}");
        assert_eq!(r.metrics.rebuffers, 0, "{name}: {r}");
        // Uncorrected for the first minute (no evidence yet): the level moves by a minute of
        // 1 % drift, then holds.
        assert!(
            r.level_error_max_ms <= 700.0,
            "{name}: level off target by {} ms",
            r.level_error_max_ms
        );
        let est = r.estimated_drift_ppm.expect("known after an hour");
        assert!(
            (est - r.true_drift_ppm).abs() < 20.0,
            "{name}: drift {est} vs {}",
            r.true_drift_ppm
        );
    }
}

#[test]
fn small_drift_is_estimated_and_absorbed() {
    for name in ["drift-plus", "drift-minus"] {
        let r = simulate(named(name), 1, None);
        assert_eq!(r.metrics.underruns, 0, "{name}: {r}");
        let est = r.estimated_drift_ppm.expect("known after ten minutes");
        assert!((est - r.true_drift_ppm).abs() < 20.0, "{name}: {r}");
        assert!(r.level_error_max_ms <= 100.0, "{name}: {r}");
    }
}

#[test]
fn a_four_second_freeze_rebuffers_exactly_once_and_recovers() {
    let r = simulate(named("freeze-4s"), 1, None);
    assert_eq!(r.metrics.rebuffers, 1, "{r}");
    assert_eq!(r.count(EventKind::Rebuffer), 1);
    assert_eq!(
        r.metrics.lost + r.metrics.late,
        0,
        "a freeze delays, it loses nothing: {r}"
    );
    assert_eq!(r.metrics.played, r.packets_sent);
    assert!(r.drained);
    // Recovery: after the burst, playback runs to the end without another underrun.
    let after = r
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Underrun && e.t > 20.0)
        .count();
    assert_eq!(after, 0, "{r}");
}

#[test]
fn a_blackout_is_concealed_not_rebuffered() {
    let r = simulate(named("blackout-2s"), 1, None);
    assert_eq!(r.metrics.rebuffers, 0, "{r}");
    assert_eq!(r.metrics.lost, r.network.dropped, "{r}");
    assert!((r.metrics.concealed_ms - 2000.0).abs() < 50.0, "{r}");
}

/// Share of the packets that arrived in time (neither dropped nor late) that played bit-exact.
fn in_time_exact_share(r: &SimReport) -> f64 {
    let in_time = r.packets_sent - r.network.dropped - r.metrics.late;
    r.bit_exact_share * r.packets_sent as f64 / in_time as f64
}

#[test]
fn restarts_and_jumps_lose_nothing_and_never_play_stale_audio() {
    for name in ["sender-restart", "ssrc-change", "seq-jump"] {
        for seed in [1, 2, 3] {
            let r = simulate(named(name), seed, None);
            assert_eq!(r.metrics.resets, 1, "{name}/{seed}: {r}");
            assert_eq!(r.out_of_order_frames, 0, "{name}/{seed}: stale audio: {r}");
            assert_eq!(r.metrics.played, r.packets_sent, "{name}/{seed}: {r}");
            assert_eq!(r.metrics.rebuffers, 0, "{name}/{seed}: {r}");
            assert!(r.bit_exact_share >= 0.99, "{name}/{seed}: {r}");
        }
    }
}

#[test]
fn very_late_packets_are_late_and_change_nothing_else() {
    for seed in [1, 2, 3] {
        let r = simulate(named("late-8s"), seed, None);
        assert!(r.network.very_late > 0);
        assert_eq!(r.metrics.late, r.network.very_late, "{seed}: {r}");
        assert_eq!(r.metrics.resets + r.metrics.rebuffers, 0, "{seed}: {r}");
        assert!(in_time_exact_share(&r) >= 0.995, "{seed}: {r}");
        assert!(
            (r.timeline.iter()).all(|p| (p.target_ms - 3000.0).abs() < 1.0),
            "{seed}: a late packet moved the target: {r}"
        );
    }
}

#[test]
fn packet_time_changes_and_large_datagrams_play_seamlessly() {
    let r = simulate(named("ptime-change"), 1, None);
    assert_eq!(r.bit_exact_frames, r.frames_sent, "{r}");
    assert_eq!(r.metrics.lost + r.metrics.malformed, 0, "{r}");
}

#[test]
fn stalls_freezes_and_pauses_leave_the_audio_alone() {
    for seed in [1, 2, 3] {
        let r = simulate(named("stalls"), seed, None);
        assert_eq!(r.bit_exact_frames, r.frames_sent, "stalls/{seed}: {r}");
        assert_eq!(r.metrics.rebuffers, 0, "stalls/{seed}: {r}");
        let r = simulate(named("freeze-4s"), seed, None);
        assert!(r.bit_exact_share >= 0.97, "freeze-4s/{seed}: {r}");
        assert_eq!(r.metrics.rebuffers, 1, "freeze-4s/{seed}: {r}");
        let r = simulate(named("dtx-pauses"), seed, None);
        assert_eq!(r.bit_exact_frames, r.frames_sent, "dtx/{seed}: {r}");
        assert_eq!(r.metrics.underruns, 0, "dtx/{seed}: {r}");
        // The first pause falls while prebuffering: the start is not put off by it.
        assert!(r.latency_mean_ms < 3100.0, "dtx/{seed}: {r}");
    }
}

#[test]
fn pauses_longer_than_the_buffer_play_as_silence_of_their_length() {
    for seed in [1, 2, 3] {
        let r = simulate(named("dtx-long"), seed, None);
        assert_eq!(r.bit_exact_frames, r.frames_sent, "{seed}: {r}");
        assert_eq!(r.metrics.underruns, 0, "{seed}: {r}");
        assert_eq!(r.metrics.rebuffers, 0, "{seed}: {r}");
        // The level after each pause is the level before it (the silence the output waited in
        // is part of the pause, and only the rest of it plays).
        assert!(
            (r.latency_mean_ms - 3020.0).abs() < 30.0 && r.latency_p95_ms < 3100.0,
            "{seed}: {r}"
        );
        assert_eq!(
            r.metrics.stretched_ms + r.metrics.silence_adjusted_ms,
            0.0,
            "{seed}: {r}"
        );
    }
}

#[test]
fn a_delay_step_does_not_look_like_drift() {
    for seed in [1, 2, 3] {
        let r = simulate(named("delay-step"), seed, Some(Duration::from_secs(180)));
        assert_eq!(r.bit_exact_frames, r.frames_sent, "{seed}: {r}");
        let est = r.estimated_drift_ppm.expect("known after three minutes");
        assert!(est.abs() <= 100.0, "{seed}: {r}");
    }
    let short = simulate(named("delay-step"), 1, None);
    assert_eq!(
        short.estimated_drift_ppm, None,
        "30 s: unknown, not a number"
    );
}

#[test]
fn mobile_network_keeps_late_loss_under_a_tenth_of_a_percent() {
    for seed in [1, 2, 3] {
        let r = simulate(named("mobile"), seed, None);
        assert!(
            r.late_share <= 0.001,
            "seed {seed}: late {} of {}: {r}",
            r.metrics.late,
            r.packets_sent
        );
        assert!(r.drained);
    }
}

#[test]
fn a_burst_larger_than_the_buffer_is_bounded_and_counted() {
    let r = simulate(named("overflow"), 1, None);
    assert!(r.metrics.overflow > 0, "{r}");
    assert!(
        r.metrics.max_buffer_depth_ms <= 6100.0,
        "buffer grew to {} ms",
        r.metrics.max_buffer_depth_ms
    );
    assert_eq!(r.metrics.played + r.metrics.overflow, r.packets_sent, "{r}");
}

#[test]
fn the_target_sits_at_the_floor_on_a_calm_network() {
    let r = simulate(named("lan"), 1, Some(Duration::from_secs(60)));
    assert!(
        r.timeline
            .iter()
            .all(|p| (p.target_ms - 3000.0).abs() < 1.0),
        "{r}"
    );
}

#[test]
fn the_target_rises_fast_with_multi_second_spikes_and_decays_slowly() {
    let mut s = named("lan");
    s.network.outages.push(Outage {
        at_s: 10.0,
        duration_ms: 4200.0,
        kind: OutageKind::Freeze,
    });
    let r = simulate(s, 1, Some(Duration::from_secs(240)));
    let target_at = |t: f64| {
        r.timeline
            .iter()
            .find(|p| p.t >= t)
            .map(|p| p.target_ms)
            .unwrap_or(0.0)
    };
    let peak = r.timeline.iter().map(|p| p.target_ms).fold(0.0, f64::max);
    assert!(peak >= 4500.0, "target peaked at {peak} ms");
    // Rises within a second of the burst landing.
    assert!(
        target_at(15.0) >= 4500.0,
        "target at 15 s: {}",
        target_at(15.0)
    );
    // Still high half a minute after calm returned, back at the floor two minutes later.
    assert!(
        target_at(45.0) > 4000.0,
        "decayed too fast: {}",
        target_at(45.0)
    );
    assert!(
        target_at(220.0) < 3100.0,
        "never decayed: {}",
        target_at(220.0)
    );
}

#[test]
fn the_same_seed_gives_the_same_report() {
    let a = simulate(named("mobile"), 9, Some(Duration::from_secs(30)));
    let b = simulate(named("mobile"), 9, Some(Duration::from_secs(30)));
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}
