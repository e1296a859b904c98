//! Counters shared between the output callback and the rest of the player, read without locks.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::Thread;

/// What the output side has done so far; every field is an atomic the callback may update.
#[derive(Debug, Default)]
pub struct OutputStats {
    /// Callbacks that could not be served in full while the stream was playing.
    pub underruns: AtomicU64,
    /// Samples (not frames) taken from the ring and handed to the sink.
    pub samples_played: AtomicU64,
    /// Callback invocations.
    pub callbacks: AtomicU64,
    /// The largest callback buffer seen, in samples.
    pub max_period_samples: AtomicU64,
    /// The device's latest reported latency from callback to playback, in nanoseconds.
    pub latency_ns: AtomicU64,
    /// Samples in the ring as the producer last saw it (for status displays).
    pub ring_samples: AtomicU64,
    /// Set while the player holds playback (prebuffering, rebuffering): the callback plays
    /// silence and leaves the ring alone, so buffered audio is not trickled out.
    pub paused: AtomicBool,
    /// Set by the producer once it has pushed its last sample; silence after that is no underrun.
    pub finished: AtomicBool,
    /// Unpaced (`--fast`) runs only: the producer and consumer threads, each woken when the
    /// other has made room or pushed audio, so that neither sleeps on a timer. A real device's
    /// callback never takes part.
    handoff: [OnceLock<Thread>; 2],
    /// Samples the unpaced consumer waits for before it wakes again (0: any push wakes it), so
    /// that the two threads hand over half a ring at a time instead of every period.
    consumer_batch: AtomicUsize,
}

impl OutputStats {
    /// Marks the stream complete: whatever is still in the ring is the tail.
    pub fn mark_finished(&self) {
        self.finished.store(true, Ordering::Release);
    }

    /// Holds or releases playback.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Release);
    }

    /// True once the producer has pushed its last sample.
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Underruns counted so far.
    pub fn underruns(&self) -> u64 {
        self.underruns.load(Ordering::Relaxed)
    }

    /// Samples played so far.
    pub fn samples_played(&self) -> u64 {
        self.samples_played.load(Ordering::Relaxed)
    }

    /// The calling thread pushes into the ring: [`OutputStats::wake_producer`] wakes it.
    pub fn register_producer(&self) {
        let _ = self.handoff[0].set(std::thread::current());
    }

    /// The calling thread (an unpaced sink) takes from the ring once `batch` samples are in it:
    /// [`OutputStats::wake_consumer_at`] wakes it then, [`OutputStats::wake_consumer`] always.
    pub fn register_consumer(&self, batch: usize) {
        self.consumer_batch.store(batch, Ordering::Relaxed);
        let _ = self.handoff[1].set(std::thread::current());
    }

    /// The consumer made room: wakes a producer parked on a full ring (if one registered).
    pub fn wake_producer(&self) {
        if let Some(t) = self.handoff[0].get() {
            t.unpark();
        }
    }

    /// The producer pushed audio and the ring holds `occupied` samples: wakes an unpaced
    /// consumer once that is the batch it waits for.
    pub fn wake_consumer_at(&self, occupied: usize) {
        if occupied >= self.consumer_batch.load(Ordering::Relaxed) {
            self.wake_consumer();
        }
    }

    /// Wakes an unpaced consumer waiting for audio (if one registered), whatever the ring holds:
    /// the producer is about to wait, or has finished.
    pub fn wake_consumer(&self) {
        if let Some(t) = self.handoff[1].get() {
            t.unpark();
        }
    }
}
