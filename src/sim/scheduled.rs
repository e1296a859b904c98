//! Datagrams with known arrival times, played through the one virtual-time driver
//! ([`VirtualPlayout`]): how tests and tools run the receive path on a list of packets.

use std::collections::VecDeque;
use std::time::Duration;

use super::engine::{Arrival, PacketFeed, Played, VirtualPlayout};
use super::report::SimReport;
use super::scenario::{DeviceBehaviour, Scenario};
use crate::playout::metrics::MetricsSnapshot;
use crate::playout::{ReceiveCoreConfig, ReceiveCoreError, ReceiveCounts};

/// A feed of datagrams with their arrival times (in arrival order).
#[derive(Debug, Default)]
pub struct ScheduledFeed {
    datagrams: VecDeque<(Duration, Vec<u8>)>,
}

impl ScheduledFeed {
    /// A feed of `datagrams`, each with its arrival time; sorted by arrival (stable).
    pub fn new(mut datagrams: Vec<(Duration, Vec<u8>)>) -> Self {
        datagrams.sort_by_key(|d| d.0);
        ScheduledFeed {
            datagrams: datagrams.into(),
        }
    }
}

impl PacketFeed for ScheduledFeed {
    fn deliver(&mut self, now: Duration, _report: &mut SimReport, out: &mut Vec<Arrival>) {
        while let Some((at, _)) = self.datagrams.front() {
            if *at > now {
                break;
            }
            if let Some((at, bytes)) = self.datagrams.pop_front() {
                out.push(Arrival { at, bytes });
            }
        }
    }

    fn exhausted(&self) -> bool {
        self.datagrams.is_empty()
    }

    fn played(&mut self, _key: (u32, u32), _frames: usize, _samples: &[f32]) -> Option<Played> {
        None
    }
}

/// What a scheduled run played.
#[derive(Debug)]
pub struct ScheduledRun {
    /// The receiver's metrics at the end.
    pub metrics: MetricsSnapshot,
    /// What never reached the jitter buffer or the decoder.
    pub counts: ReceiveCounts,
    /// The audio the receiver put in the ring, in order (the device's own silence while
    /// buffering or after an underrun left out).
    pub audio: Vec<f32>,
}

/// Plays `datagrams` (arrival time, bytes) through a receiver built from `cfg` into a virtual
/// device with 10 ms periods, to the end of the stream.
pub fn play_scheduled(
    cfg: ReceiveCoreConfig,
    datagrams: Vec<(Duration, Vec<u8>)>,
) -> Result<ScheduledRun, ReceiveCoreError> {
    let last = datagrams.iter().map(|d| d.0).max().unwrap_or_default();
    let report = SimReport::new(&Scenario::default(), 0, last);
    let feed = ScheduledFeed::new(datagrams);
    let mut playout = VirtualPlayout::new(cfg, &DeviceBehaviour::default(), report, feed)?;
    let mut audio = Vec::new();
    while let Some(period) = playout.step()? {
        audio.extend_from_slice(&period.samples[..period.from_ring.min(period.samples.len())]);
    }
    let metrics = playout.metrics().snapshot();
    let (report, _) = playout.finish();
    Ok(ScheduledRun {
        metrics,
        counts: report.receiver,
        audio,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::payload::PayloadFormat;

    #[test]
    fn a_scheduled_stream_plays_all_its_audio_in_order() {
        let packets: Vec<(Duration, Vec<u8>)> = (0..50u16)
            .map(|i| {
                let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
                p[2..4].copy_from_slice(&i.to_be_bytes());
                p[4..8].copy_from_slice(&(160 * u32::from(i)).to_be_bytes());
                p.extend(std::iter::repeat_n(0x20 + (i % 64) as u8, 160));
                (Duration::from_millis(20 * u64::from(i) + 10), p)
            })
            .collect();
        let mut cfg = ReceiveCoreConfig::new(PayloadFormat::Pcmu, 8000, 1);
        cfg.set_target_window(Duration::from_millis(100), Duration::from_millis(300));
        let run = play_scheduled(cfg, packets).expect("run");
        assert_eq!((run.metrics.played, run.metrics.lost), (50, 0));
        assert_eq!(run.audio.len(), 50 * 160);
        // Packet by packet, in order: each packet's samples are one value.
        let firsts: Vec<f32> = run.audio.chunks(160).map(|c| c[0]).collect();
        let distinct = firsts.windows(2).filter(|w| w[0] != w[1]).count();
        assert_eq!(distinct, 49);
    }
}
