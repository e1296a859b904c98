//! What `monitor` serves: at `/metrics`, every tracked stream's figures as series labelled with
//! the stream (`source`, `destination`, `ssrc`, `codec`, `call_id` where known), its loss
//! bursts as a histogram, and the monitor's own health without labels; at `/streams.json`
//! (the `--web` dashboard's feed), the latest report as JSON.
//!
//! The series come from the per-stream counter table ([`crate::monitor::counts`]), each family
//! written once with a series per stream. How many streams there are is bounded by
//! `--max-streams`; past it, streams are counted (`monitor_streams_untracked`), not exported.

use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use super::exposition::{Exposition, Labels, TableWriter};
use crate::counters::{Kind, Sample, Series};
use crate::monitor::stream::StreamRow;
use crate::monitor::MonitorReport;

/// Upper bounds of the loss-burst histogram's buckets, in packets.
const BURST_BOUNDS: [u64; 8] = [1, 2, 3, 4, 5, 10, 20, 31];

/// The latest report, shared between the monitor's loop and the HTTP server.
#[derive(Debug, Default)]
pub struct MonitorPublished {
    latest: Mutex<Option<Arc<Published>>>,
    max_streams: usize,
}

/// One report and its JSON, written at most once however many clients ask for it.
#[derive(Debug)]
struct Published {
    report: Arc<MonitorReport>,
    finished: bool,
    json: OnceLock<Bytes>,
}

/// The body of `/streams.json`.
#[derive(serde::Serialize)]
struct StreamsJson<'a> {
    /// Whether this is the final report (the input ended or the monitor was stopped).
    finished: bool,
    /// `--max-streams`.
    max_streams: usize,
    #[serde(flatten)]
    report: &'a MonitorReport,
}

impl MonitorPublished {
    /// Nothing published yet; `max_streams` is exported as the bound of the series.
    pub fn new(max_streams: usize) -> Self {
        MonitorPublished {
            latest: Mutex::new(None),
            max_streams,
        }
    }

    /// Replaces the published report.
    pub fn publish(&self, report: Arc<MonitorReport>) {
        self.replace(report, false);
    }

    /// Publishes the final report: the views say the monitor has finished.
    pub fn publish_final(&self, report: Arc<MonitorReport>) {
        self.replace(report, true);
    }

    fn replace(&self, report: Arc<MonitorReport>, finished: bool) {
        let published = Arc::new(Published {
            report,
            finished,
            json: OnceLock::new(),
        });
        if let Ok(mut latest) = self.latest.lock() {
            *latest = Some(published);
        }
    }

    /// Whether the final report has been published.
    pub fn finished(&self) -> bool {
        self.latest_published().is_some_and(|p| p.finished)
    }

    fn latest_published(&self) -> Option<Arc<Published>> {
        self.latest.lock().ok().and_then(|l| l.clone())
    }

    fn latest(&self) -> Option<Arc<MonitorReport>> {
        self.latest_published().map(|p| Arc::clone(&p.report))
    }

    /// The latest report as the JSON of `/streams.json` (`None` before the first report).
    pub fn streams_json(&self) -> Option<Bytes> {
        let published = self.latest_published()?;
        let json = published.json.get_or_init(|| {
            serde_json::to_string(&StreamsJson {
                finished: published.finished,
                max_streams: self.max_streams,
                report: &published.report,
            })
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "cannot write the streams as JSON");
                "{}".to_owned()
            })
            .into()
        });
        Some(json.clone())
    }

    /// How many streams the latest report tracks (`None` before the first report).
    pub fn tracked(&self) -> Option<usize> {
        self.latest().map(|r| r.streams.len())
    }
}

/// The monitor's `/metrics` collector.
#[derive(Debug, Clone)]
pub struct MonitorView(pub Arc<MonitorPublished>);

impl Collector for MonitorView {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let Some(report) = self.0.latest() else {
            return Ok(());
        };
        {
            let none = Labels::new();
            let mut out = Exposition::new(&mut encoder, &none);
            out.gauge(
                "monitor_max_streams",
                "Streams tracked (and exported) at most: --max-streams",
                None,
                self.0.max_streams as i64,
            )?;
            let mut tables = TableWriter::new(&mut out);
            report
                .health
                .visit(&mut |series, sample| tables.take(series, sample, false));
            tables.finish()?;
        }
        // Streams that ended since the last report keep their final figures for one report (the
        // last report of all holds every stream): a scrape then sees how each one ended.
        let rows: Vec<&StreamRow> = report.streams.iter().chain(&report.ended).collect();
        if rows.is_empty() {
            return Ok(());
        }
        let labels: Vec<Labels> = rows.iter().map(|r| labels_of(r)).collect();
        // Every row visits the same series in the same order: the first gives the families.
        let mut columns: Vec<(Series, Vec<Sample>)> = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let mut at = 0;
            row.counts.visit(&mut |series, sample| {
                if i == 0 {
                    columns.push((*series, Vec::with_capacity(rows.len())));
                }
                columns[at].1.push(sample);
                at += 1;
            });
        }
        for (series, samples) in &columns {
            write_family(&mut encoder, series, samples, &labels)?;
        }
        write_bursts(&mut encoder, &rows, &labels)
    }
}

/// The labels of a stream's series.
fn labels_of(row: &StreamRow) -> Labels {
    let mut l = Labels::new();
    if let Some(src) = row.src {
        l.push(("source", src.to_string()));
    }
    if let Some(dst) = row.dst {
        l.push(("destination", dst.to_string()));
    }
    l.push(("ssrc", row.ssrc.clone()));
    l.push(("codec", row.codec.clone()));
    if let Some(call) = &row.call_id {
        l.push(("call_id", call.clone()));
    }
    l
}

/// One family, a series per stream whose value is known.
fn write_family(
    encoder: &mut DescriptorEncoder<'_>,
    series: &Series,
    samples: &[Sample],
    labels: &[Labels],
) -> std::fmt::Result {
    let (metric_type, unit, scale) = match series.kind {
        Kind::Counter => (MetricType::Counter, None, 1.0),
        Kind::Gauge => (MetricType::Gauge, None, 1.0),
        Kind::SecondsGauge => (MetricType::Gauge, Some(Unit::Seconds), 1e-3),
        // The per-stream table uses no other kinds.
        _ => return Ok(()),
    };
    if samples.iter().all(|s| *s == Sample::Absent) {
        return Ok(());
    }
    let mut family =
        encoder.encode_descriptor(series.name, series.help, unit.as_ref(), metric_type)?;
    for (sample, labels) in samples.iter().zip(labels) {
        let mut metric = family.encode_family(labels)?;
        match (metric_type, sample) {
            (MetricType::Counter, Sample::Int(v)) => {
                metric.encode_counter::<NoLabelSet, _, u64>(v, None)?
            }
            (_, Sample::Int(v)) => metric.encode_gauge(&(*v as f64 * scale))?,
            (_, Sample::Float(v)) => metric.encode_gauge(&(v * scale))?,
            (_, Sample::Absent) => {}
        }
    }
    Ok(())
}

/// The loss-burst histogram of every stream: bursts by length, the sum being the packets lost
/// in them.
fn write_bursts(
    encoder: &mut DescriptorEncoder<'_>,
    rows: &[&StreamRow],
    labels: &[Labels],
) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(
        "monitor_stream_loss_burst_length",
        "Bursts of consecutive packets the network lost, by length in packets",
        None,
        MetricType::Histogram,
    )?;
    for (row, labels) in rows.iter().zip(labels) {
        let h = &row.loss_bursts;
        let mut below = 0;
        let mut buckets: Vec<(f64, u64)> = BURST_BOUNDS
            .iter()
            .map(|&bound| {
                let upto = h.at_most(bound);
                let n = upto - below;
                below = upto;
                (bound as f64, n)
            })
            .collect();
        buckets.push((f64::INFINITY, h.bursts() - below));
        family
            .encode_family(labels)?
            .encode_histogram::<NoLabelSet>(h.packets as f64, h.bursts(), &buckets, None)?;
    }
    Ok(())
}
