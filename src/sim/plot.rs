//! SVG plots of a simulation report: three stacked panels on one time axis.
//!
//! (a) buffer depth and target, with the spans where the device was not playing (prebuffering,
//! rebuffering) shaded; (b) every packet's one-way delay as a dot (thinned to per-bucket minima
//! and maxima on long runs, so spikes stay visible); (c) events as ticks on one row per kind.
//! Legends sit in a column on the right so that the three panels' time axes line up exactly.

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::report::{EventKind, SimReport, TimelinePoint};

/// Why a plot could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("plotting failed: {0}")]
pub struct PlotError(String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        PlotError(e.to_string())
    }
}

/// Most delay dots drawn; longer runs keep each time bucket's minimum and maximum.
pub const MAX_DELAY_POINTS: usize = 20_000;

const WIDTH: u32 = 1400;
const HEIGHT: u32 = 960;
const TITLE_HEIGHT: u32 = 64;
const LEGEND_WIDTH: u32 = 250;
const Y_LABEL_AREA: u32 = 72;
/// Events closer than this share of the time axis are drawn as one tick.
const EVENT_COLUMNS: f64 = 2_000.0;

const DEPTH: RGBColor = RGBColor(31, 119, 180);
const TARGET: RGBColor = RGBColor(255, 127, 14);
const NOT_PLAYING: RGBColor = RGBColor(214, 39, 40);
const DELAY: RGBColor = RGBColor(44, 110, 160);
const GREY: RGBColor = RGBColor(120, 120, 120);

/// The event rows of panel (c), top to bottom, with their labels and colours.
const EVENT_ROWS: [(EventKind, &str, RGBColor); 7] = [
    (EventKind::NetworkLoss, "network loss", GREY),
    (EventKind::Late, "late", RGBColor(255, 127, 14)),
    (EventKind::Underrun, "underrun", RGBColor(214, 39, 40)),
    (EventKind::Rebuffer, "rebuffer", RGBColor(148, 103, 189)),
    (EventKind::Reset, "reset", RGBColor(44, 160, 44)),
    (EventKind::Overflow, "overflow", RGBColor(140, 86, 75)),
    (
        EventKind::Recovered,
        "recovered (NACK)",
        RGBColor(31, 119, 180),
    ),
];

/// One line of a legend: its text, colour, and whether the swatch is a box (else a line).
type LegendEntry = (String, RGBAColor, bool);

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws `report` as an SVG at `path`.
pub fn draw(report: &SimReport, path: &Path) -> Result<(), PlotError> {
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let (header, body) = root.split_vertically(TITLE_HEIGHT);
    header.draw(&Text::new(title(report), (12, 10), ("sans-serif", 22)))?;
    let sub = format!(
        "{} — latency mean {:.0} ms, p95 {:.0} ms; network dropped {} of {} packets",
        report.description,
        report.latency_mean_ms,
        report.latency_p95_ms,
        report.network.dropped,
        report.packets_sent
    );
    let grey = ("sans-serif", 15).into_font().color(&BLACK.mix(0.7));
    header.draw(&Text::new(sub, (12, 38), grey))?;

    let t_max = time_span(report);
    let h = (HEIGHT - TITLE_HEIGHT) as i32;
    let panels = body.split_by_breakpoints(Vec::<i32>::new(), [h * 40 / 100, h * 72 / 100]);
    if let [depth, delays, events] = panels.as_slice() {
        draw_depth(report, t_max, depth)?;
        draw_delays(report, t_max, delays)?;
        draw_events(report, t_max, events)?;
    }
    root.present()?;
    Ok(())
}

/// The headline: scenario, seed and the numbers a reader checks first.
pub fn title(report: &SimReport) -> String {
    let m = &report.metrics;
    let exact = if report.captured {
        "bit-exact n/a (no source)".to_string()
    } else if report.lossy {
        format!(
            "{:.2} % equal to lossless decode",
            report.bit_exact_share * 100.0
        )
    } else {
        format!("{:.2} % bit-exact", report.bit_exact_share * 100.0)
    };
    format!(
        "{} (seed {}): {exact}, {} rebuffers, {} late, {:.0} ms concealed, \
         {:.0} ms stretched, {:.0} ms silence adjusted, {:.0} ms dropped",
        report.scenario,
        report.seed,
        m.rebuffers,
        m.late,
        m.concealed_ms,
        m.stretched_ms,
        m.silence_adjusted_ms,
        m.dropped_ms
    )
}

fn time_span(report: &SimReport) -> f64 {
    let last_point = report.timeline.last().map_or(0.0, |p| p.t);
    let last_delay = report.delays.last().map_or(0.0, |d| f64::from(d.0));
    let last_event = report.events.iter().map(|e| e.t).fold(0.0, f64::max);
    [report.simulated_s, last_point, last_delay, last_event]
        .into_iter()
        .filter(|t| t.is_finite())
        .fold(1.0, f64::max)
}

/// A panel in ms over time: the chart on the left, the legend column on the right.
fn ms_panel<'a, 'b>(
    area: &'a Area<'b>,
    caption: &str,
    t_max: f64,
    y_max: f64,
) -> Result<(Chart<'a, 'b>, Area<'b>), PlotError> {
    // Built on the whole panel (the chart borrows its area) with the legend column as margin.
    let (_, legend_area) = area.split_horizontally(WIDTH - LEGEND_WIDTH);
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .margin_right(8 + LEGEND_WIDTH)
        .caption(caption, ("sans-serif", 16))
        .x_label_area_size(24)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(0.0..t_max, 0.0..y_max)?;
    chart
        .configure_mesh()
        .light_line_style(BLACK.mix(0.04))
        .y_desc("ms")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    Ok((chart, legend_area))
}

fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v.max(0.0)
    } else {
        0.0
    }
}

fn draw_depth(report: &SimReport, t_max: f64, area: &Area) -> Result<(), PlotError> {
    let points =
        |f: fn(&TimelinePoint) -> f64| report.timeline.iter().map(move |p| (p.t, finite(f(p))));
    let y_max = points(|p| p.depth_ms.max(p.target_ms)).fold(10.0, |m, p| p.1.max(m)) * 1.1;
    let (mut chart, legend_area) = ms_panel(area, "buffer depth and target", t_max, y_max)?;
    let shade = NOT_PLAYING.mix(0.15);
    let spans = not_playing_spans(report).into_iter();
    chart
        .draw_series(spans.map(|(a, b)| Rectangle::new([(a, 0.0), (b, y_max)], shade.filled())))?;
    chart.draw_series(LineSeries::new(
        points(|p| p.target_ms),
        TARGET.stroke_width(2),
    ))?;
    chart.draw_series(LineSeries::new(
        points(|p| p.depth_ms),
        DEPTH.stroke_width(1),
    ))?;
    let entries = [
        (
            "depth (jitter buffer + ring)".into(),
            DEPTH.to_rgba(),
            false,
        ),
        ("target".into(), TARGET.to_rgba(), false),
        ("not playing (pre/rebuffering)".into(), shade, true),
    ];
    legend(&legend_area, &entries)
}

fn draw_delays(report: &SimReport, t_max: f64, area: &Area) -> Result<(), PlotError> {
    let points = thin_delays(&report.delays, t_max, MAX_DELAY_POINTS);
    let y_max = points.iter().map(|p| p.1).fold(10.0, f64::max) * 1.05;
    let caption = "one-way delay per packet (by send time)";
    let (mut chart, legend_area) = ms_panel(area, caption, t_max, y_max)?;
    let dot = DELAY.mix(0.6).filled();
    chart.draw_series(points.iter().map(|&p| Circle::new(p, 1, dot)))?;
    let mut text = format!("delay ({} packets", report.delays.len());
    if points.len() < report.delays.len() {
        text.push_str(&format!("; {} drawn", points.len()));
    }
    text.push(')');
    legend(&legend_area, &[(text, DELAY.to_rgba(), true)])
}

fn draw_events(report: &SimReport, t_max: f64, area: &Area) -> Result<(), PlotError> {
    let (_, legend_area) = area.split_horizontally(WIDTH - LEGEND_WIDTH);
    let rows = EVENT_ROWS.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .margin_right(8 + LEGEND_WIDTH)
        .caption("events", ("sans-serif", 16))
        .x_label_area_size(40)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(0.0..t_max, -0.5..rows - 0.5)?;
    // Row 0 (network loss) at the top, as in the legend.
    let row_name = |y: &f64| {
        let from_top = rows - 1.0 - y;
        match EVENT_ROWS.get(from_top.round() as usize) {
            Some((_, name, _)) if (from_top - from_top.round()).abs() < 1e-6 => name.to_string(),
            _ => String::new(),
        }
    };
    chart
        .configure_mesh()
        .light_line_style(BLACK.mix(0.04))
        .x_desc("time (s)")
        .y_labels(EVENT_ROWS.len())
        .y_label_formatter(&row_name)
        .disable_y_mesh()
        .draw()?;
    let mut entries = Vec::new();
    for (row, (kind, name, color)) in EVENT_ROWS.iter().enumerate() {
        let y = rows - 1.0 - row as f64;
        let ticks = event_ticks(report, *kind, t_max).into_iter();
        let tick = |t| PathElement::new(vec![(t, y - 0.35), (t, y + 0.35)], color.stroke_width(2));
        chart.draw_series(ticks.map(tick))?;
        let text = format!("{name} ({})", report.count(*kind));
        entries.push((text, color.to_rgba(), false));
    }
    legend(&legend_area, &entries)
}

fn legend(area: &Area, entries: &[LegendEntry]) -> Result<(), PlotError> {
    for (i, (text, color, filled)) in entries.iter().enumerate() {
        let y = 40 + 20 * i as i32;
        if *filled {
            area.draw(&Rectangle::new([(8, y - 5), (28, y + 5)], color.filled()))?;
        } else {
            area.draw(&PathElement::new(
                vec![(8, y), (28, y)],
                color.stroke_width(3),
            ))?;
        }
        area.draw(&Text::new(text.as_str(), (34, y - 7), ("sans-serif", 13)))?;
    }
    Ok(())
}

/// Time spans (start, end) in seconds where the device was not playing.
pub fn not_playing_spans(report: &SimReport) -> Vec<(f64, f64)> {
    let mut spans = Vec::new();
    let mut start = None;
    for p in &report.timeline {
        match (p.playing, start) {
            (false, None) => start = Some(p.t),
            (true, Some(s)) => {
                spans.push((s, p.t));
                start = None;
            }
            _ => {}
        }
    }
    if let (Some(s), Some(last)) = (start, report.timeline.last()) {
        spans.push((s, last.t.max(s)));
    }
    spans
}

/// A point of a chart: (time s, value).
type Point = (f64, f64);

/// The delay dots to draw: all of them up to `max_points`, otherwise each time bucket's
/// minimum and maximum (in time order), which keeps spikes and floors visible.
pub fn thin_delays(delays: &[(f32, f32)], t_max: f64, max_points: usize) -> Vec<Point> {
    let finite = delays
        .iter()
        .filter(|(t, d)| t.is_finite() && d.is_finite())
        .map(|&(t, d)| (f64::from(t), f64::from(d)));
    if delays.len() <= max_points {
        return finite.collect();
    }
    let buckets = (max_points / 2).max(1);
    let mut extremes: Vec<Option<(Point, Point)>> = vec![None; buckets];
    for p in finite {
        let b = ((p.0 / t_max) * buckets as f64).clamp(0.0, (buckets - 1) as f64) as usize;
        extremes[b] = Some(match extremes[b] {
            None => (p, p),
            Some((lo, hi)) => (
                if p.1 < lo.1 { p } else { lo },
                if p.1 > hi.1 { p } else { hi },
            ),
        });
    }
    let mut points = Vec::with_capacity(max_points);
    for (lo, hi) in extremes.into_iter().flatten() {
        let (first, second) = if lo.0 <= hi.0 { (lo, hi) } else { (hi, lo) };
        points.push(first);
        if second != first {
            points.push(second);
        }
    }
    points
}

/// Event times of `kind` in order, at most one per column of the time axis.
fn event_ticks(report: &SimReport, kind: EventKind, t_max: f64) -> Vec<f64> {
    let mut times: Vec<f64> = report
        .events
        .iter()
        .filter(|e| e.kind == kind && e.t.is_finite())
        .map(|e| e.t)
        .collect();
    times.sort_by(f64::total_cmp);
    times.dedup_by_key(|t| (*t / t_max * EVENT_COLUMNS) as i64);
    times
}

#[cfg(test)]
#[path = "plot_tests.rs"]
mod tests;
