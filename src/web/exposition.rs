//! Writing metric families for one stream through prometheus-client's encoder, with the
//! stream's labels on every series: the small vocabulary the collectors share.

use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use crate::counters::{Kind, Sample, Series};

/// Label pairs of one stream (`source`, `ssrc`, `format`, …); unknown ones are left out.
pub type Labels = Vec<(&'static str, String)>;

/// One collector's output in progress: every family it writes carries `labels`.
pub struct Exposition<'a, 'e> {
    encoder: &'e mut DescriptorEncoder<'a>,
    labels: &'e Labels,
}

impl<'a, 'e> Exposition<'a, 'e> {
    /// Writes families to `encoder`, each series labelled with `labels`.
    pub fn new(encoder: &'e mut DescriptorEncoder<'a>, labels: &'e Labels) -> Self {
        Exposition { encoder, labels }
    }

    /// A counter; the encoder appends `_total` (and the unit before it, if any).
    pub fn counter(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        value: impl EncodeCounterValue,
    ) -> std::fmt::Result {
        let mut family =
            self.encoder
                .encode_descriptor(name, help, unit.as_ref(), MetricType::Counter)?;
        family
            .encode_family(self.labels)?
            .encode_counter::<NoLabelSet, _, u64>(&value, None)
    }

    /// A counter split by one more label (`reason="late"`, …), one series per value.
    pub fn counter_by(
        &mut self,
        name: &str,
        help: &str,
        key: &'static str,
        values: &[(&str, u64)],
    ) -> std::fmt::Result {
        let mut family = self
            .encoder
            .encode_descriptor(name, help, None, MetricType::Counter)?;
        for (value, count) in values {
            let mut labels = self.labels.clone();
            labels.push((key, (*value).to_string()));
            family
                .encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(count, None)?;
        }
        Ok(())
    }

    /// A gauge (the unit, if any, is appended to the name).
    pub fn gauge(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        value: impl EncodeGaugeValue,
    ) -> std::fmt::Result {
        let mut family =
            self.encoder
                .encode_descriptor(name, help, unit.as_ref(), MetricType::Gauge)?;
        family.encode_family(self.labels)?.encode_gauge(&value)
    }
}

/// Writes the values of counter tables (see [`crate::counters`]) as their series say; the drop
/// reasons of every table go into one `drop_count{reason}` family, written by [`Self::finish`].
pub struct TableWriter<'o, 'a, 'e> {
    out: &'o mut Exposition<'a, 'e>,
    drops: Vec<(&'static str, u64)>,
    result: std::fmt::Result,
}

impl<'o, 'a, 'e> TableWriter<'o, 'a, 'e> {
    /// Writes to `out`.
    pub fn new(out: &'o mut Exposition<'a, 'e>) -> Self {
        TableWriter {
            out,
            drops: Vec::new(),
            result: Ok(()),
        }
    }

    /// Takes one value; `drops_only` keeps just the drop reasons (a stream not known yet
    /// still shows them, at zero).
    pub fn take(&mut self, series: &Series, sample: Sample, drops_only: bool) {
        if self.result.is_err() || (drops_only && series.kind != Kind::Drop) {
            return;
        }
        let (name, help) = (series.name, series.help);
        let seconds = Some(Unit::Seconds);
        let bytes = Some(Unit::Bytes);
        let o = &mut *self.out;
        self.result = match (series.kind, sample) {
            (Kind::Hidden, _) | (_, Sample::Absent) => Ok(()),
            (Kind::Drop, Sample::Int(v)) => {
                self.drops.push((name, v));
                Ok(())
            }
            (Kind::Counter, Sample::Int(v)) => o.counter(name, help, None, v),
            (Kind::BytesCounter, Sample::Int(v)) => o.counter(name, help, bytes, v),
            (Kind::SecondsCounter, Sample::Float(ms)) => o.counter(name, help, seconds, ms / 1e3),
            (Kind::Gauge, Sample::Float(v)) => o.gauge(name, help, None, v),
            (Kind::SecondsGauge, Sample::Float(ms)) => o.gauge(name, help, seconds, ms / 1e3),
            (Kind::BytesGauge, Sample::Int(v)) => o.gauge(name, help, bytes, v),
            (Kind::PpmRatio, Sample::Float(ppm)) => o.gauge(name, help, None, ppm * 1e-6),
            (kind, sample) => {
                debug_assert!(false, "{name}: {kind:?} cannot export {sample:?}");
                Ok(())
            }
        };
    }

    /// Writes the drop reasons gathered, as one family.
    pub fn finish(self) -> std::fmt::Result {
        self.result?;
        if self.drops.is_empty() {
            return Ok(());
        }
        self.out.counter_by(
            "drop_count",
            "Packets dropped, each under one reason",
            "reason",
            &self.drops,
        )
    }
}

/// An SSRC as a label value, the way `streams` and Wireshark print it: `0x1234ABCD`.
pub fn ssrc_label(ssrc: u32) -> String {
    format!("0x{ssrc:08X}")
}
