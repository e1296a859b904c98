//! Writing metric families for one stream through prometheus-client's encoder, with the
//! stream's labels on every series: the small vocabulary the collectors share.

use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

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

/// An SSRC as a label value, the way `streams` and Wireshark print it: `0x1234ABCD`.
pub fn ssrc_label(ssrc: u32) -> String {
    format!("0x{ssrc:08X}")
}
