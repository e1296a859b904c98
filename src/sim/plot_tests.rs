use std::time::Duration;

use super::*;
use crate::sim::report::{Event, TimelinePoint};
use crate::sim::Scenario;

fn synthetic() -> SimReport {
    let scenario = Scenario::built_in("mobile").expect("built-in");
    let mut r = SimReport::new(&scenario, 7, Duration::from_secs(10));
    r.simulated_s = 10.0;
    r.bit_exact_share = 0.987;
    r.metrics.rebuffers = 1;
    r.metrics.late = 3;
    r.metrics.concealed_ms = 120.0;
    for i in 0..100 {
        let t = f64::from(i) * 0.1;
        r.timeline.push(TimelinePoint {
            t,
            depth_ms: if i < 30 { t * 100.0 } else { 3000.0 },
            target_ms: 3000.0,
            playing: !(i < 30 || (60..65).contains(&i)),
            ratio: 1.0,
            drift_ppm: 0.0,
        });
    }
    r.delays = (0..500)
        .map(|i| (i as f32 * 0.02, 60.0 + (i % 7) as f32))
        .collect();
    for (t, kind) in [
        (1.0, EventKind::NetworkLoss),
        (2.0, EventKind::Late),
        (6.0, EventKind::Underrun),
        (6.0, EventKind::Rebuffer),
        (7.0, EventKind::Reset),
        (8.0, EventKind::Overflow),
    ] {
        r.events.push(Event { t, kind });
    }
    r
}

#[test]
fn a_small_report_draws_every_series_and_the_title() {
    let report = synthetic();
    let path = std::env::temp_dir().join(format!("jitterplay-plot-{}.svg", std::process::id()));
    draw(&report, &path).expect("drawn");
    let svg = std::fs::read_to_string(&path).expect("written");
    let _ = std::fs::remove_file(&path);
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
    for text in [
        "mobile (seed 7): 98.70 % bit-exact, 1 rebuffers, 3 late, 120 ms concealed",
        "buffer depth and target",
        "one-way delay",
        "network loss (1)",
        "overflow (1)",
    ] {
        assert!(svg.contains(text), "missing {text:?}");
    }
    // depth + target lines, six event rows (one tick each) and their legend swatches.
    let polylines = svg.matches("<polyline").count();
    assert!(polylines >= 2 + 6 + 6 + 2, "{polylines} polylines");
    assert!(svg.matches("<circle").count() >= 500, "a dot per packet");
    // Two shaded spans (prebuffering, rebuffering) plus the legend swatches.
    assert!(svg.matches("<rect").count() >= 3);
}

#[test]
fn a_capture_title_says_bit_exactness_is_not_measured() {
    let mut report = synthetic();
    assert!(title(&report).contains("98.70 % bit-exact"));
    report.captured = true;
    let t = title(&report);
    assert!(t.contains("bit-exact n/a (no source)"), "{t}");
    assert!(!t.contains('%'), "{t}");
}

#[test]
fn not_playing_spans_cover_prebuffering_and_rebuffering() {
    let spans = not_playing_spans(&synthetic());
    assert_eq!(spans.len(), 2);
    assert!((spans[0].0 - 0.0).abs() < 1e-9 && (spans[0].1 - 3.0).abs() < 1e-9);
    assert!((spans[1].0 - 6.0).abs() < 1e-9 && (spans[1].1 - 6.5).abs() < 1e-9);
}

#[test]
fn thinning_keeps_spikes_and_is_deterministic() {
    let mut delays: Vec<(f32, f32)> = (0..100_000).map(|i| (i as f32 * 0.01, 50.0)).collect();
    delays[54_321].1 = 2_500.0;
    delays[12_345].1 = 1.0;
    let a = thin_delays(&delays, 1000.0, 1000);
    assert!(a.len() <= 1000);
    assert!(a.iter().any(|p| p.1 == 2_500.0) && a.iter().any(|p| p.1 == 1.0));
    assert!(a.windows(2).all(|w| w[0].0 <= w[1].0), "in time order");
    assert_eq!(a, thin_delays(&delays, 1000.0, 1000));
    assert_eq!(thin_delays(&delays[..10], 1000.0, 1000).len(), 10);
}

#[test]
fn an_unwritable_path_is_an_error_not_a_panic() {
    let err = draw(&synthetic(), Path::new("/nonexistent-dir/x/plot.svg"));
    assert!(err.is_err());
}
