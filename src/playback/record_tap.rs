//! The callback's side of `--record`: what the device plays goes into a lock-free queue for the
//! recorder's writer thread, without allocating, locking or blocking.
//!
//! Real samples go into one SPSC ring; silence the device played (an underrun, a rebuffer) goes
//! into a second one as (position, length) marks, so the writer can write it where it was heard
//! and leave out the silence after the last audio, as the `wav:` sink does. When the writer falls
//! behind, whole frames are dropped from the recording (never from playback) and counted.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use ringbuf::traits::{Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

/// The recorder's counters, shared by the tap, the writer thread and the status views.
#[derive(Debug, Default)]
pub struct RecordStats {
    /// Frames written to the file.
    pub written_frames: AtomicU64,
    /// Frames played but dropped from the recording because the writer fell behind.
    pub dropped_frames: AtomicU64,
    /// Flushes done.
    pub flushes: AtomicU64,
    /// How long the oldest frame of the last flushed batch waited before the flush ended (µs).
    pub flush_latency_us: AtomicU64,
}

/// A plain copy of [`RecordStats`] for `--stats-json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct RecordSnapshot {
    /// Frames written to the file.
    pub written_frames: u64,
    /// Frames dropped from the recording (the writer fell behind).
    pub record_dropped_frames: u64,
    /// Flushes done.
    pub flushes: u64,
    /// The last flush's latency (oldest frame's wait until it was on disk), in ms.
    pub flush_latency_ms: f64,
}

impl RecordStats {
    /// Copies the counters out.
    pub fn snapshot(&self) -> RecordSnapshot {
        RecordSnapshot {
            written_frames: self.written_frames.load(Relaxed),
            record_dropped_frames: self.dropped_frames.load(Relaxed),
            flushes: self.flushes.load(Relaxed),
            flush_latency_ms: self.flush_latency_us.load(Relaxed) as f64 / 1e3,
        }
    }
}

/// Where silence was played: after `at` real samples of the recording, `samples` of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SilenceMark {
    /// Real samples queued before the silence.
    pub at: u64,
    /// Samples of silence.
    pub samples: u64,
}

/// The producer ends, owned by the output callback.
pub struct RecordTap {
    samples: HeapProd<f32>,
    marks: HeapProd<SilenceMark>,
    channels: usize,
    queued: u64,
    stats: Arc<RecordStats>,
}

/// The consumer ends, owned by the writer thread.
pub struct RecordQueue {
    /// Real samples, interleaved.
    pub samples: HeapCons<f32>,
    /// Silence marks, in order.
    pub marks: HeapCons<SilenceMark>,
}

/// A tap and its queue holding `capacity_frames` frames of `channels` channels.
pub fn record_queue(
    capacity_frames: usize,
    channels: usize,
    stats: Arc<RecordStats>,
) -> (RecordTap, RecordQueue) {
    let channels = channels.max(1);
    let (samples, samples_rx) = HeapRb::<f32>::new(capacity_frames.max(1) * channels).split();
    let (marks, marks_rx) = HeapRb::<SilenceMark>::new(4096).split();
    (
        RecordTap {
            samples,
            marks,
            channels,
            queued: 0,
            stats,
        },
        RecordQueue {
            samples: samples_rx,
            marks: marks_rx,
        },
    )
}

impl RecordTap {
    /// One callback period: `real` samples played, then `silence` samples of silence.
    pub fn record(&mut self, real: &[f32], silence: usize) {
        let room = self.samples.vacant_len() / self.channels * self.channels;
        let take = real.len().min(room) / self.channels * self.channels;
        let pushed = self.samples.push_slice(&real[..take]);
        self.queued += pushed as u64;
        let dropped = real.len() - pushed;
        if dropped > 0 {
            self.stats
                .dropped_frames
                .fetch_add((dropped / self.channels) as u64, Relaxed);
        }
        if silence > 0 {
            let mark = SilenceMark {
                at: self.queued,
                samples: silence as u64,
            };
            if self.marks.try_push(mark).is_err() {
                self.stats
                    .dropped_frames
                    .fetch_add((silence / self.channels) as u64, Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringbuf::traits::Consumer;

    #[test]
    fn a_full_queue_drops_whole_frames_and_counts_them() {
        let stats = Arc::new(RecordStats::default());
        let (mut tap, mut q) = record_queue(4, 2, Arc::clone(&stats));
        tap.record(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2);
        tap.record(&[7.0, 8.0, 9.0, 10.0], 0);
        let mut out = [0.0f32; 16];
        let n = q.samples.pop_slice(&mut out);
        assert_eq!(&out[..n], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        assert_eq!(stats.snapshot().record_dropped_frames, 1);
        assert_eq!(q.marks.try_pop(), Some(SilenceMark { at: 6, samples: 2 }));
    }
}
