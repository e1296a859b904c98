//! How the receive core is configured, how it fails, and what it reports of each piece of
//! output it produced (shared by the core and its output pipeline).

use std::time::Duration;

use crate::audio::resample::ResampleError;
use crate::codec::error::CodecError;
use crate::jitter::JitterConfig;
use crate::playout::dtmf_events::DtmfMode;
use crate::playout::{ControllerConfig, DriftError};
use crate::rtp::payload::PayloadFormat;

/// What the receive core is built for.
#[derive(Debug, Clone)]
pub struct ReceiveCoreConfig {
    /// The stream's payload format.
    pub format: PayloadFormat,
    /// The payload type carrying it (None: the first audio packet's PT is taken).
    pub payload_type: Option<u8>,
    /// Payload type of RFC 3389 comfort noise (counted, and synthesised in the gap it starts).
    pub comfort_noise_pt: Option<u8>,
    /// Payload type of RFC 4733 telephone events (counted, and heard as `dtmf` says), if any.
    pub telephone_event_pt: Option<u8>,
    /// What DTMF events sound like.
    pub dtmf: DtmfMode,
    /// Output rate in Hz.
    pub output_rate: u32,
    /// Output channels.
    pub output_channels: u16,
    /// Jitter buffer parameters (its estimator holds the target window).
    pub jitter: JitterConfig,
    /// Playout controller parameters.
    pub controller: ControllerConfig,
    /// Record a [`Segment`] per produced piece of audio (for the simulator's bit-exact check).
    pub trace: bool,
}

/// Why the receive core could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveCoreError {
    /// The payload decoder could not be built.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The drift corrector failed.
    #[error(transparent)]
    Drift(#[from] DriftError),
    /// Rate conversion to the output failed.
    #[error(transparent)]
    Resample(#[from] ResampleError),
}

/// One piece of produced audio and where it came from (recorded when tracing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// SSRC and RTP timestamp of the packet it decodes, or None for concealment and silence.
    pub source: Option<(u32, u32)>,
    /// Samples appended to the output for it (0 while they sit in the drift corrector).
    pub out_len: usize,
    /// Frames the packet decoded to, before drift correction and conversion.
    pub frames: usize,
}

impl ReceiveCoreConfig {
    /// Defaults for `format` played at `output_rate`/`output_channels`.
    pub fn new(format: PayloadFormat, output_rate: u32, output_channels: u16) -> Self {
        let mut cfg = ReceiveCoreConfig {
            format,
            payload_type: format.static_pt(),
            comfort_noise_pt: Some(13),
            telephone_event_pt: None,
            dtmf: DtmfMode::Tone,
            output_rate,
            output_channels,
            jitter: JitterConfig {
                // PCM formats tick at their sample rate, so bytes per frame are bytes per tick.
                bytes_per_tick: format
                    .bytes_per_frame()
                    .filter(|_| format.sample_rate() == Some(format.clock_rate())),
                opus_durations: format == PayloadFormat::Opus,
                ..JitterConfig::new(format.clock_rate())
            },
            controller: ControllerConfig::default(),
            trace: false,
        };
        let (min, max) = (
            cfg.jitter.estimator.target_min,
            cfg.jitter.estimator.target_max,
        );
        cfg.set_target_window(min, max);
        cfg
    }
}

impl ReceiveCoreConfig {
    /// Sets the target window, and bounds the buffer a second above its ceiling: a burst after
    /// a long outage then keeps only its newest audio (counted as overflow) instead of playing
    /// many seconds late for minutes.
    pub fn set_target_window(&mut self, min: Duration, max: Duration) {
        let max = max.max(min);
        self.jitter.estimator.target_min = min;
        self.jitter.estimator.target_max = max;
        self.jitter.max_depth = max + MAX_DEPTH_MARGIN;
        self.controller.ceiling = max;
        self.jitter.max_bytes = byte_budget(&self.format, self.jitter.max_depth);
    }
}

impl ReceiveCoreConfig {
    /// Accounts for `ring` of decoded audio held between the receiver and the device: the
    /// level the controller holds includes it, so the target's margin must too, and a rebuffer
    /// must not end on a refilled ring alone.
    pub fn add_output_ring(&mut self, ring: Duration) {
        self.jitter.estimator.margin += ring;
        self.controller.resume_floor = ring;
    }
}

/// How far above the target ceiling the buffer may fill before the oldest audio is dropped.
pub const MAX_DEPTH_MARGIN: Duration = Duration::from_secs(1);

/// Payload bytes the jitter buffer may hold: twice the stream's bit rate over `depth` (room for
/// block rounding and for the packets of a burst), or the default where the rate is not fixed.
fn byte_budget(format: &PayloadFormat, depth: Duration) -> usize {
    let per_second = format
        .bytes_per_frame()
        .zip(format.sample_rate())
        .map(|(bytes, rate)| bytes * rate as usize);
    match per_second {
        Some(rate) => {
            let bytes = (rate as f64 * depth.as_secs_f64() * 2.0) as usize;
            bytes.clamp(1 << 20, 256 << 20)
        }
        None => crate::jitter::DEFAULT_MAX_BYTES,
    }
}
