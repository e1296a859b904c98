//! Counters declared once: [`counter_table!`] turns one table of fields into the lock-free
//! cells a thread publishes into, the plain snapshot every view reads (status line,
//! `--stats-json`, reports), and the Prometheus series each value is exported as.
//!
//! A field's line in the table is the only place that names it, documents it and says how it
//! is exported; the JSON keys are the field names. This module is a leaf: it imports nothing
//! from the crate, so any module may declare a table.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// How a value is exported to Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A counter of events (`NAME_total`).
    Counter,
    /// A counter of audio time, kept in milliseconds (`NAME_seconds_total`).
    SecondsCounter,
    /// A counter of bytes (`NAME_bytes_total`).
    BytesCounter,
    /// A gauge without a unit.
    Gauge,
    /// A gauge of time, kept in milliseconds (`NAME_seconds`).
    SecondsGauge,
    /// A gauge of bytes (`NAME_bytes`).
    BytesGauge,
    /// A clock drift kept in ppm, exported as a ratio (absent while unknown).
    PpmRatio,
    /// One reason under the shared `drop_count{reason}` counter; the name is the reason.
    Drop,
    /// Not exported on its own (another table exports the same value).
    Hidden,
}

/// A value's Prometheus series: name without prefix or suffix, help text, kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Series {
    /// The series name (or the drop reason), without `jitterplay_`, unit or `_total`.
    pub name: &'static str,
    /// The help text.
    pub help: &'static str,
    /// How the value is exported.
    pub kind: Kind,
}

impl Series {
    /// A series of `kind`.
    pub const fn new(kind: Kind, name: &'static str, help: &'static str) -> Self {
        Series { name, help, kind }
    }

    /// One reason under `drop_count{reason}`.
    pub const fn drop(reason: &'static str) -> Self {
        Series::new(Kind::Drop, reason, "")
    }

    /// A value another table exports.
    pub const HIDDEN: Series = Series::new(Kind::Hidden, "", "");
}

/// A value as a snapshot holds it, ready for an exporter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sample {
    /// A whole count.
    Int(u64),
    /// A measurement.
    Float(f64),
    /// Not known yet.
    Absent,
}

impl From<u64> for Sample {
    fn from(v: u64) -> Self {
        Sample::Int(v)
    }
}

impl From<f64> for Sample {
    fn from(v: f64) -> Self {
        Sample::Float(v)
    }
}

impl From<Option<f64>> for Sample {
    fn from(v: Option<f64>) -> Self {
        v.map_or(Sample::Absent, Sample::Float)
    }
}

/// A lock-free cell a table field lives in, read into its snapshot value.
pub trait Cell {
    /// The snapshot's type for this cell.
    type Value;
    /// The current value.
    fn read(&self) -> Self::Value;
    /// Sets the value outright.
    fn write(&self, v: Self::Value);
}

/// A `u64` count; derefs to its atomic for callers that count with `fetch_add`.
#[derive(Debug, Default)]
pub struct Count(AtomicU64);

impl Count {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }

    /// The count.
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }

    /// Sets the count (a published absolute value).
    pub fn set(&self, v: u64) {
        self.0.store(v, Relaxed);
    }
}

impl Deref for Count {
    type Target = AtomicU64;
    fn deref(&self) -> &AtomicU64 {
        &self.0
    }
}

impl Cell for Count {
    type Value = u64;
    fn read(&self) -> u64 {
        self.get()
    }
    fn write(&self, v: u64) {
        self.set(v);
    }
}

/// Audio time counted in whole microseconds, read as milliseconds.
#[derive(Debug, Default)]
pub struct Micros(AtomicU64);

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Micros {
    /// Adds `d`.
    pub fn add(&self, d: Duration) {
        self.0.fetch_add(micros(d), Relaxed);
    }

    /// Sets the total (a published absolute value).
    pub fn set(&self, d: Duration) {
        self.0.store(micros(d), Relaxed);
    }
}

impl Cell for Micros {
    type Value = f64;
    fn read(&self) -> f64 {
        self.0.load(Relaxed) as f64 / 1e3
    }
    fn write(&self, ms: f64) {
        self.0.store((ms * 1e3).round().max(0.0) as u64, Relaxed);
    }
}

/// An `f64` gauge stored as its bits.
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Sets the gauge.
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Relaxed);
    }

    /// Raises the gauge to `v` if larger; valid for non-negative values, whose bit patterns
    /// order like the numbers.
    pub fn set_max(&self, v: f64) {
        self.0.fetch_max(v.max(0.0).to_bits(), Relaxed);
    }
}

impl Cell for Gauge {
    type Value = f64;
    fn read(&self) -> f64 {
        f64::from_bits(self.0.load(Relaxed))
    }
    fn write(&self, v: f64) {
        self.set(v);
    }
}

/// An optional `f64` gauge, `NaN` meaning unknown.
#[derive(Debug)]
pub struct OptGauge(AtomicU64);

impl Default for OptGauge {
    fn default() -> Self {
        OptGauge(AtomicU64::new(f64::NAN.to_bits()))
    }
}

impl OptGauge {
    /// Sets the gauge, or makes it unknown.
    pub fn set(&self, v: Option<f64>) {
        self.0.store(v.unwrap_or(f64::NAN).to_bits(), Relaxed);
    }
}

impl Cell for OptGauge {
    type Value = Option<f64>;
    fn read(&self) -> Option<f64> {
        Some(f64::from_bits(self.0.load(Relaxed))).filter(|v| !v.is_nan())
    }
    fn write(&self, v: Option<f64>) {
        self.set(v);
    }
}

/// Declares a table of counters once.
///
/// ```text
/// counter_table! {
///     /// Doc of the cells.
///     cells NetCells;
///     /// Doc of the snapshot.
///     snapshot NetSnapshot {
///         /// Datagrams received.
///         datagrams: u64 = Count => Series::new(Kind::Counter, "datagrams_received", "…"),
///     }
///     nested {
///         /// RTCP datagrams.
///         rtcp: RtcpCells => RtcpSnapshot,
///     }
///     extra {
///         /// Not a counter: kept beside them, not in the snapshot.
///         source: OnceLock<SocketAddr>,
///     }
/// }
/// ```
///
/// generates `NetCells` (a `Default` struct of one cell per field plus the nested cells and the
/// extra fields, with
/// `snapshot()` and `write_all(&snapshot)`) and `NetSnapshot` (a `Copy`, `Serialize` struct of
/// plain values whose nested snapshots are flattened, with `visit` giving each value with its
/// [`Series`]).
macro_rules! counter_table {
    (
        $(#[$cells_meta:meta])*
        cells $cells:ident;
        $(#[$snap_meta:meta])*
        snapshot $snap:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident : $ty:ty = $cell:ident => $series:expr,
            )*
        }
        $(nested {
            $(
                $(#[doc = $ndoc:literal])*
                $nfield:ident : $ncells:ty => $nsnap:ty,
            )*
        })?
        $(extra {
            $(
                $(#[doc = $edoc:literal])*
                $efield:ident : $ety:ty,
            )*
        })?
    ) => {
        $(#[$cells_meta])*
        #[derive(Debug, Default)]
        pub struct $cells {
            $( $(#[doc = $doc])* pub $field: $crate::counters::$cell, )*
            $($( $(#[doc = $ndoc])* pub $nfield: $ncells, )*)?
            $($( $(#[doc = $edoc])* pub $efield: $ety, )*)?
        }

        impl $cells {
            /// Copies every value out.
            pub fn snapshot(&self) -> $snap {
                $snap {
                    $( $field: $crate::counters::Cell::read(&self.$field), )*
                    $($( $nfield: self.$nfield.snapshot(), )*)?
                }
            }

            /// Sets every value of this table (not the nested ones) from `s`.
            #[allow(dead_code)]
            pub fn write_all(&self, s: &$snap) {
                $( $crate::counters::Cell::write(&self.$field, s.$field); )*
            }
        }

        $(#[$snap_meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
        pub struct $snap {
            $( $(#[doc = $doc])* pub $field: $ty, )*
            $($( $(#[doc = $ndoc])* #[serde(flatten)] pub $nfield: $nsnap, )*)?
        }

        impl $snap {
            /// Each value with its series, in declaration order, then the nested tables'.
            pub fn visit(
                &self,
                f: &mut dyn FnMut(&$crate::counters::Series, $crate::counters::Sample),
            ) {
                $( f(&$series, $crate::counters::Sample::from(self.$field)); )*
                $($( self.$nfield.visit(f); )*)?
            }
        }
    };
}

pub(crate) use counter_table;

#[cfg(test)]
mod tests {
    use super::*;

    counter_table! {
        /// Test cells.
        cells InnerCells;
        /// Test snapshot.
        snapshot InnerSnapshot {
            /// Inner count.
            inner: u64 = Count => Series::new(Kind::Counter, "inner", "Inner"),
        }
    }

    counter_table! {
        /// Test cells.
        cells TestCells;
        /// Test snapshot.
        snapshot TestSnapshot {
            /// A count.
            events: u64 = Count => Series::new(Kind::Counter, "events", "Events"),
            /// Audio time.
            audio_ms: f64 = Micros => Series::new(Kind::SecondsCounter, "audio", "Audio"),
            /// A peak.
            peak_ms: f64 = Gauge => Series::new(Kind::SecondsGauge, "peak", "Peak"),
            /// Unknown at first.
            drift_ppm: Option<f64> = OptGauge => Series::new(Kind::PpmRatio, "drift_ratio", "Drift"),
            /// A drop reason.
            late: u64 = Count => Series::drop("late"),
        }
        nested {
            /// Nested.
            nested: InnerCells => InnerSnapshot,
        }
    }

    #[test]
    fn cells_snapshot_serialise_and_visit_in_declaration_order() {
        let cells = TestCells::default();
        cells.events.add(2);
        cells.events.fetch_add(1, Relaxed);
        cells.audio_ms.add(Duration::from_micros(1500));
        cells.peak_ms.set_max(20.0);
        cells.peak_ms.set_max(10.0);
        cells.late.set(4);
        cells.nested.inner.add(7);
        let s = cells.snapshot();
        assert_eq!(s.events, 3);
        assert_eq!(s.audio_ms, 1.5);
        assert_eq!(s.peak_ms, 20.0);
        assert_eq!(s.drift_ppm, None);
        let json = serde_json::to_string(&s).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"events":3,"audio_ms":1.5,"peak_ms":20.0,"drift_ppm":null,"late":4,"inner":7}"#
        );
        let mut seen = Vec::new();
        s.visit(&mut |series, sample| seen.push((series.name, sample)));
        assert_eq!(
            seen,
            [
                ("events", Sample::Int(3)),
                ("audio", Sample::Float(1.5)),
                ("peak", Sample::Float(20.0)),
                ("drift_ratio", Sample::Absent),
                ("late", Sample::Int(4)),
                ("inner", Sample::Int(7)),
            ]
        );
        let copy = TestCells::default();
        copy.write_all(&s);
        let back = copy.snapshot();
        assert_eq!((back.events, back.audio_ms, back.late), (3, 1.5, 4));
        assert_eq!(back.nested.inner, 0, "nested tables are not written");
    }
}
