//! Losses and pauses filled by the codec itself (Opus: in-band FEC or libopus PLC) instead of
//! the generic concealer, with the counters that say which.

use std::time::Duration;

use crate::codec::opus::LossFill;
use crate::codec::rtp_decoder::RtpDecoder;
use crate::jitter::JitterBuffer;
use crate::playout::metrics::Metrics;

/// Fills a loss with the codec's own means (Opus: in-band FEC from the next packet when it is
/// here, else PLC) and counts which; false when the codec failed and the generic concealer
/// must step in.
pub(super) fn fill_by_codec(
    decoder: &mut RtpDecoder,
    buffer: &JitterBuffer,
    peek: &mut Vec<u8>,
    frames: usize,
    out: &mut Vec<f32>,
    metrics: &Metrics,
) -> bool {
    let next = buffer.peek_next(peek).then_some(peek.as_slice());
    match decoder.fill_loss(frames, next, out) {
        Some(Ok(LossFill::Fec)) => metrics.add_fec_recovered(),
        Some(Ok(LossFill::Plc)) => metrics.add_plc(frames_duration(frames)),
        Some(Err(e)) => {
            tracing::debug!(error = %e, "codec concealment failed; generic concealment instead");
            out.clear();
            return false;
        }
        None => return false,
    }
    true
}

/// Longest stretch of a sender pause (Opus DTX) given to the codec's concealment: by then it
/// has faded to silence, and the rest is plain silence.
const PAUSE_PLC_FRAMES: usize = 4_800;

/// Starts a sender pause with up to 100 ms of the codec's concealment, counted as PLC, faded
/// out linearly to its end: libopus's own concealment decays too slowly to stop without a click.
pub(super) fn fill_pause(
    decoder: &mut RtpDecoder,
    frames: usize,
    channels: usize,
    out: &mut Vec<f32>,
    metrics: &Metrics,
) {
    let plc = frames.min(PAUSE_PLC_FRAMES);
    if plc == 0 {
        return;
    }
    match decoder.fill_loss(plc, None, out) {
        Some(Ok(_)) => {
            metrics.add_plc(frames_duration(plc));
            for (i, frame) in out.chunks_exact_mut(channels.max(1)).enumerate() {
                let gain = 1.0 - (i + 1) as f32 / plc as f32;
                frame.iter_mut().for_each(|s| *s *= gain);
            }
        }
        _ => out.clear(),
    }
}

/// Duration of `frames` frames of Opus audio (48 kHz, the only codec that fills its losses).
fn frames_duration(frames: usize) -> Duration {
    Duration::from_secs_f64(frames as f64 / f64::from(crate::rtp::payload::OPUS_RATE))
}
