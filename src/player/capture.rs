//! Playing a captured stream: the capture's arrival times drive the receive core in virtual
//! time (the one virtual-time driver the simulator also runs), and what its virtual device plays goes through the
//! offline pipeline to a real device in real time, or to a WAV file.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::file::{play_source, FilePlayOptions, FilePlayReport, PlayError, PlayProgress};
use super::source::AudioSource;
use crate::capture::CapturedStream;
use crate::codec::file::PcmSpec;
use crate::playout::metrics::{Metrics, MetricsSnapshot};
use crate::sim::capture_feed::{capture_replay, CaptureReplay};
use crate::sim::{ReplayConfig, SimReport};

/// Device periods handed over per chunk.
const PERIODS_PER_CHUNK: usize = 5;

/// The replay as an [`AudioSource`]: what the virtual device played, from the first sample
/// that came out of the jitter buffer (the prebuffering silence is not part of the stream).
struct CaptureSource {
    replay: Option<CaptureReplay>,
    format: PcmSpec,
    duration: Duration,
    started: bool,
    report: Arc<Mutex<Option<SimReport>>>,
}

impl AudioSource for CaptureSource {
    fn format(&self) -> PcmSpec {
        self.format
    }

    fn duration(&self) -> Option<Duration> {
        Some(self.duration)
    }

    fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<bool, PlayError> {
        out.clear();
        let Some(replay) = self.replay.as_mut() else {
            return Ok(false);
        };
        let mut periods = 0;
        while periods < PERIODS_PER_CHUNK {
            let period = replay.step().map_err(crate::sim::SimError::from)?;
            let Some(period) = period else {
                self.publish();
                break;
            };
            self.started |= period.from_ring > 0;
            if self.started {
                out.extend_from_slice(period.samples);
                periods += 1;
            }
        }
        Ok(!out.is_empty() || self.replay.is_some())
    }
}

impl CaptureSource {
    /// Hands the report over (at the end, or early when playback is interrupted).
    fn publish(&mut self) {
        if let Some(replay) = self.replay.take() {
            let (report, _) = replay.finish();
            if let Ok(mut slot) = self.report.lock() {
                *slot = Some(report);
            }
        }
    }
}

impl Drop for CaptureSource {
    fn drop(&mut self) {
        self.publish();
    }
}

/// Replays `stream` with its captured timing to `options.output`; returns what the output did
/// and what the receive core measured. `started` gets the receive core's shared metrics before
/// the replay begins; `progress` also gets their values now.
pub fn play_capture(
    stream: &CapturedStream,
    cfg: &ReplayConfig,
    options: &FilePlayOptions,
    started: &mut dyn FnMut(&Arc<Metrics>),
    progress: &mut dyn FnMut(PlayProgress, &MetricsSnapshot),
) -> Result<(FilePlayReport, SimReport), PlayError> {
    let (replay, format) = capture_replay(stream, cfg)?;
    let metrics = Arc::clone(replay.metrics());
    started(&metrics);
    let report = Arc::new(Mutex::new(None));
    let source = CaptureSource {
        replay: Some(replay),
        format: PcmSpec {
            rate: format.rate,
            channels: usize::from(format.channels),
        },
        duration: Duration::from_secs_f64(stream.info.stats.duration_s),
        started: false,
        report: Arc::clone(&report),
    };
    let played = play_source(Box::new(source), options, &mut |p| {
        progress(p, &metrics.snapshot())
    })?;
    let report = report
        .lock()
        .ok()
        .and_then(|mut r| r.take())
        .ok_or_else(|| PlayError::Thread("the replay ended without a report".into()))?;
    Ok((played, report))
}
