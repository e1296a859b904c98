//! The timing core allocates nothing in steady state: jitter buffer insert/pop (with reordering,
//! loss, duplicates and a pause), the delay estimator, the playout controller, the drift corrector
//! at ratios on and off 1.0, and publishing metrics.
//!
//! This test binary installs the `AllocDisabler` allocator, so an allocation inside
//! `assert_no_alloc` aborts the process and fails the test.

use std::time::Duration;

use assert_no_alloc::{assert_no_alloc, AllocDisabler};

use jitterplay::jitter::{JitterBuffer, JitterConfig, PopOutcome};
use jitterplay::playout::metrics::Metrics;
use jitterplay::playout::{ControllerConfig, DriftCorrector, PlayoutController};
use jitterplay::rtp::header::RtpHeader;

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

#[test]
fn insert_pop_control_and_correct_without_allocating() {
    let mut buf = JitterBuffer::new(JitterConfig::new(48_000));
    let mut ctl = PlayoutController::new(ControllerConfig::default());
    let mut drift = DriftCorrector::new(2).unwrap();
    let metrics = Metrics::new();
    let payload = [7u8; 960];
    let pcm = vec![0.25f32; 480 * 2];
    let mut out: Vec<f32> = Vec::with_capacity(drift.max_output_len(pcm.len()) * 4);
    let step = |i: u32, buf: &mut JitterBuffer, ctl: &mut PlayoutController| {
        // Every 7th pair swapped, every 50th lost, every 31st duplicated, a pause at 2000.
        let k = if i % 7 == 0 {
            i + 1
        } else if i % 7 == 1 && i > 1 {
            i - 1
        } else {
            i
        };
        let pause = if k > 2000 { 48_000 } else { 0 };
        let at = Duration::from_millis(u64::from(i) * 10 + u64::from(pause / 48));
        if k % 50 != 3 {
            let h = RtpHeader::synthetic(96, k as u16, k * 480 + pause, 42, false);
            buf.insert(&h, &payload, at);
            if k % 31 == 0 {
                buf.insert(&h, &payload, at);
            }
        }
        let target = buf.update_target(at);
        let d = ctl.tick(at, buf.depth(), buf.playout_delay(at), target);
        if buf.depth() > Duration::from_millis(200) {
            let _ = matches!(buf.pop(at), PopOutcome::Frame { .. });
        }
        metrics.publish_jitter(buf.stats());
        metrics.publish_buffer(
            buf.depth(),
            target,
            buf.message_age(at),
            buf.last_flush_latency(),
            buf.interarrival_jitter(),
        );
        metrics.publish_playout(&ctl.status());
        d.ratio
    };
    // Warm-up outside the check (first packets, estimator rings filling).
    for i in 0..1000 {
        step(i, &mut buf, &mut ctl);
    }
    let played = assert_no_alloc(|| {
        for i in 1000..4000 {
            step(i, &mut buf, &mut ctl);
            let ratio = if (i / 500) % 2 == 0 { 1.0 } else { 1.004 };
            let _ = drift.set_ratio(ratio);
            out.clear();
            let _ = drift.process(&pcm, &mut out);
        }
        buf.stats().played
    });
    assert!(played > 1000);
    assert!(metrics.snapshot().received > 3000);
}
