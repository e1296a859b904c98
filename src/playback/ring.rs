//! The lock-free SPSC ring between the decoder thread and the output callback.

use std::time::Duration;

use ringbuf::traits::{Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

/// The decoder's end of the ring.
pub type RingProducer = HeapProd<f32>;
/// The callback's end of the ring.
pub type RingConsumer = HeapCons<f32>;

/// Allocates a ring holding `duration` of audio at `rate` Hz and `channels` channels.
pub fn audio_ring(duration: Duration, rate: u32, channels: usize) -> (RingProducer, RingConsumer) {
    let samples = (duration.as_secs_f64() * rate as f64).ceil() as usize * channels;
    HeapRb::<f32>::new(samples.max(channels * 64)).split()
}

/// Pushes all of `samples`, waiting politely while the ring is full.
///
/// The wait is a short sleep sized to a fraction of the ring, not a spin: the consumer is a
/// real-time callback that must not be asked to wake anyone. Before each wait, `full` is told
/// (an unpaced consumer may be waiting for exactly this). Returns `false` if `stop` says to
/// give up before everything was pushed.
pub fn push_all(
    producer: &mut RingProducer,
    mut samples: &[f32],
    pause: Duration,
    stop: &dyn Fn() -> bool,
    full: &dyn Fn(),
) -> bool {
    loop {
        let pushed = producer.push_slice(samples);
        samples = &samples[pushed..];
        if samples.is_empty() {
            return true;
        }
        if stop() {
            return false;
        }
        full();
        // Woken early when a consumer that registered makes room (see
        // `OutputStats::wake_producer`); otherwise this is a plain pause.
        std::thread::park_timeout(pause);
    }
}

/// Waits until the callback has taken everything out of the ring (or `stop` says to give up).
pub fn wait_drained(producer: &RingProducer, pause: Duration, stop: &dyn Fn() -> bool) {
    while !producer.is_empty() && !stop() {
        std::thread::sleep(pause);
    }
}
