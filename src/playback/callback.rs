//! The output callback body: ring to device buffer, silence on shortfall, no alloc/lock/block.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use dasp_sample::{FromSample, Sample};
use ringbuf::traits::{Consumer, Observer};

use super::record_tap::RecordTap;
use super::ring::RingConsumer;
use super::stats::OutputStats;

/// Samples converted per step for integer devices; a stack buffer keeps conversion allocation-free.
const CONVERT_BLOCK: usize = 256;

/// Everything the real-time callback owns: the ring's consumer end and the shared counters.
pub struct RingCallback {
    consumer: RingConsumer,
    stats: Arc<OutputStats>,
    started: bool,
    tap: Option<RecordTap>,
    listen: Option<RecordTap>,
}

impl RingCallback {
    /// Wraps the consumer end of the ring and the counters it reports to.
    pub fn new(consumer: RingConsumer, stats: Arc<OutputStats>) -> Self {
        RingCallback {
            consumer,
            stats,
            started: false,
            tap: None,
            listen: None,
        }
    }

    /// Also hands everything played (and where silence was played) to `tap` (`--record`).
    pub fn set_tap(&mut self, tap: RecordTap) {
        self.tap = Some(tap);
    }

    /// Also hands everything played to `tap` for the web side (`--web`'s meters and
    /// `/listen`); like the recording's, its pushes never block.
    pub fn set_listen_tap(&mut self, tap: RecordTap) {
        self.listen = Some(tap);
    }

    /// Samples waiting in the ring.
    pub fn available(&self) -> usize {
        self.consumer.occupied_len()
    }

    /// Samples the ring holds when full.
    pub fn capacity(&self) -> usize {
        self.consumer.capacity().get()
    }

    /// Fills `out` from the ring and the rest with silence; returns how many samples were real.
    ///
    /// A shortfall while the stream is playing counts one underrun. Before the first sample,
    /// while paused and after the producer finished, silence is expected and not counted.
    pub fn fill(&mut self, out: &mut [f32]) -> usize {
        let finished = self.stats.is_finished();
        if self.stats.paused.load(Ordering::Acquire) {
            out.fill(0.0);
            self.account(0, 0, finished);
            self.tap(&[], out.len(), finished);
            return 0;
        }
        let got = self.pop_into(out);
        self.account(got, out.len(), finished);
        if let Some((real, _)) = out.split_at_checked(got) {
            self.tap(real, out.len() - got, finished);
        }
        got
    }

    /// [`fill`](Self::fill) for devices that take another sample type, converting block by block.
    pub fn fill_converted<T>(&mut self, out: &mut [T]) -> usize
    where
        T: Sample + FromSample<f32>,
    {
        let finished = self.stats.is_finished();
        if self.stats.paused.load(Ordering::Acquire) {
            out.fill(T::EQUILIBRIUM);
            self.account(0, 0, finished);
            self.tap(&[], out.len(), finished);
            return 0;
        }
        let mut block = [0.0f32; CONVERT_BLOCK];
        let mut real = 0;
        let mut short = false;
        for chunk in out.chunks_mut(CONVERT_BLOCK) {
            let scratch = &mut block[..chunk.len()];
            // After a shortfall the rest of this period is silence, as with `fill`, so that a
            // sample arriving mid-callback cannot be played out of place.
            let got = if short {
                scratch.fill(0.0);
                0
            } else {
                self.pop_into(scratch)
            };
            short = got < chunk.len();
            real += got;
            if let Some((played, _)) = scratch.split_at_checked(got) {
                self.tap(played, chunk.len() - got, finished);
            }
            for (dst, &src) in chunk.iter_mut().zip(scratch.iter()) {
                *dst = T::from_sample(src);
            }
        }
        self.account(real, out.len(), finished);
        real
    }

    /// Silence after the producer finished is the end, not something the listener heard.
    fn tap(&mut self, real: &[f32], silence: usize, finished: bool) {
        let silence = if finished { 0 } else { silence };
        for tap in [self.tap.as_mut(), self.listen.as_mut()]
            .into_iter()
            .flatten()
        {
            tap.record(real, silence);
        }
    }

    fn pop_into(&mut self, out: &mut [f32]) -> usize {
        let got = self.consumer.pop_slice(out);
        out[got..].fill(0.0);
        if got > 0 {
            self.started = true;
        }
        got
    }

    fn account(&self, real: usize, len: usize, finished: bool) {
        if real < len && self.started && !finished {
            self.stats.underruns.fetch_add(1, Ordering::Relaxed);
        }
        self.stats
            .samples_played
            .fetch_add(real as u64, Ordering::Relaxed);
        self.stats.callbacks.fetch_add(1, Ordering::Relaxed);
        self.stats
            .max_period_samples
            .fetch_max(len as u64, Ordering::Relaxed);
    }

    /// Records the device's reported output latency (callback to playback).
    pub fn note_latency(&self, latency: std::time::Duration) {
        self.stats
            .latency_ns
            .store(latency.as_nanos() as u64, Ordering::Relaxed);
    }
}
