//! Applies the playout controller's resample ratio to interleaved f32 audio, with rubato's `Slip`.
//!
//! `Slip` is a clutch, not a filter: it copies samples through and, when the accumulated timing
//! error reaches a whole frame, inserts or drops one frame hidden by a short linear crossfade. It
//! has no filter delay and no history between chunks, so switching it in and out is seamless.
//! At a ratio of exactly 1.0 the corrector does not call it at all and copies input to output,
//! which is bit-exact by construction (and zero-latency: nothing is staged).
//!
//! `Slip` works on fixed input chunks, and the correction it can apply is one frame per crossfade
//! length: about 0.7 % with 1024-frame chunks (128-frame fades, the most transparent), 1.56 % with
//! 64-frame chunks (31-frame fades). The corrector picks the largest chunk from [`CHUNKS`] that
//! can carry the requested ratio, so small corrections use the longest fades. Input that does not
//! fill a chunk is staged until the next call ([`DriftCorrector::staged_frames`] frames, at most one
//! chunk); [`DriftCorrector::flush`] hands it out unchanged at the end of a stream.
//!
//! All buffers are allocated in [`DriftCorrector::new`]; `process` allocates nothing as long as the
//! output vector has room for [`DriftCorrector::max_output_len`] samples.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::audioadapter_buffers::SizeError;
use rubato::{Adjustable, FixedAsync, ResampleError, Resampler, Resizable, Slip};
use thiserror::Error;

/// Chunk sizes tried, largest (longest crossfade) first.
pub const CHUNKS: [usize; 6] = [1024, 128, 96, 64, 48, 32];

/// Longest chunk in time: what a chunk stages is audio the output cannot have yet, so at low
/// rates (1024 frames are 128 ms at 8 kHz) the long chunks would starve a small buffer.
pub const MAX_CHUNK_TIME_S: f64 = 0.025;

/// Why the drift corrector could not do its job.
#[derive(Debug, Error)]
pub enum DriftError {
    /// The channel count is zero.
    #[error("the drift corrector needs at least one channel")]
    NoChannels,
    /// rubato refused to build the resampler.
    #[error("cannot build the drift corrector: {0}")]
    Construction(#[from] rubato::ResamplerConstructionError),
    /// The ratio is not a positive finite number.
    #[error("resample ratio {0} is not a positive finite number")]
    InvalidRatio(f64),
    /// The ratio is beyond what one-frame slips can carry; the nearest limit is applied instead.
    #[error("resample ratio {ratio} is outside {min}..={max}; {applied} applied instead")]
    RatioOutOfRange {
        /// Requested ratio.
        ratio: f64,
        /// Smallest ratio possible.
        min: f64,
        /// Largest ratio possible.
        max: f64,
        /// Ratio actually applied.
        applied: f64,
    },
    /// The input holds a partial frame.
    #[error("{samples} samples are not a whole number of {channels}-channel frames")]
    PartialFrame {
        /// Samples given.
        samples: usize,
        /// Channels configured.
        channels: usize,
    },
    /// A buffer did not have the size rubato expects (an internal inconsistency).
    #[error("drift corrector buffer size: {0}")]
    Size(#[from] SizeError),
    /// rubato failed while processing.
    #[error("drift corrector: {0}")]
    Resample(#[from] ResampleError),
}

/// Applies a resample ratio close to 1 to interleaved f32 audio by slipping single frames.
pub struct DriftCorrector {
    slip: Slip<f32>,
    channels: usize,
    chunk: usize,
    /// Largest chunk allowed (see [`MAX_CHUNK_TIME_S`]).
    max_chunk: usize,
    ratio: f64,
    stage: Vec<f32>,
    staged: usize,
    out: Vec<f32>,
}

impl std::fmt::Debug for DriftCorrector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriftCorrector")
            .field("channels", &self.channels)
            .field("chunk", &self.chunk)
            .field("ratio", &self.ratio)
            .field("staged", &self.staged)
            .finish()
    }
}

impl DriftCorrector {
    /// A corrector for `channels`-channel interleaved audio, starting at ratio 1.0.
    pub fn new(channels: usize) -> Result<Self, DriftError> {
        Self::with_max_chunk(channels, CHUNKS[0])
    }

    /// A corrector for audio at `rate` Hz: chunks stage at most [`MAX_CHUNK_TIME_S`] of it.
    pub fn for_rate(channels: usize, rate: u32) -> Result<Self, DriftError> {
        Self::with_max_chunk(channels, (f64::from(rate) * MAX_CHUNK_TIME_S) as usize)
    }

    fn with_max_chunk(channels: usize, max_chunk: usize) -> Result<Self, DriftError> {
        if channels == 0 {
            return Err(DriftError::NoChannels);
        }
        let max_chunk_allowed = max_chunk.max(CHUNKS[CHUNKS.len() - 1]);
        let max_chunk = CHUNKS[0];
        let slip = Slip::<f32>::new(max_chunk, channels, FixedAsync::Input)?;
        Ok(Self {
            slip,
            channels,
            chunk: max_chunk,
            max_chunk: max_chunk_allowed,
            ratio: 1.0,
            stage: vec![0.0; max_chunk * channels],
            staged: 0,
            out: vec![0.0; slip_output_max(max_chunk) * channels],
        })
    }

    /// The ratio in use (output frames per input frame).
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// Sets the ratio (output/input frames; above 1 plays slower and lengthens the audio).
    pub fn set_ratio(&mut self, ratio: f64) -> Result<(), DriftError> {
        if !ratio.is_finite() || ratio <= 0.0 {
            return Err(DriftError::InvalidRatio(ratio));
        }
        if ratio == self.ratio {
            return Ok(());
        }
        self.ratio = ratio;
        if ratio == 1.0 {
            // Passthrough does not call Slip; its accumulated sub-frame error is simply kept.
            return self.slip.set_resample_ratio(1.0, false).map_err(Into::into);
        }
        for chunk in CHUNKS.into_iter().filter(|&c| c <= self.max_chunk) {
            if self.slip.set_chunk_size(chunk).is_ok()
                && self.slip.set_resample_ratio(ratio, false).is_ok()
            {
                self.chunk = chunk;
                return Ok(());
            }
        }
        // Even the smallest chunk cannot carry it: Slip applied the nearest limit.
        self.chunk = CHUNKS[CHUNKS.len() - 1];
        let applied = self.slip.resample_ratio();
        self.ratio = applied;
        let f = 1.0 / self.chunk as f64;
        Err(DriftError::RatioOutOfRange {
            ratio,
            min: 1.0 - f,
            max: 1.0 + f,
            applied,
        })
    }

    /// Most samples one `process` call can append for `input_samples` of input.
    pub fn max_output_len(&self, input_samples: usize) -> usize {
        let frames = input_samples / self.channels + self.staged + CHUNKS[0];
        (frames + frames / 32 + 1) * self.channels
    }

    /// Frames held back because they do not fill a chunk yet.
    pub fn staged_frames(&self) -> usize {
        self.staged
    }

    /// Whether `process` would append `input` unchanged (ratio 1.0, nothing staged), so that a
    /// caller may use it as it is; an error for a partial frame, as `process` gives.
    pub fn passes_through(&self, input: &[f32]) -> Result<bool, DriftError> {
        self.whole_frames(input)?;
        Ok(self.ratio == 1.0 && self.staged == 0)
    }

    fn whole_frames(&self, input: &[f32]) -> Result<(), DriftError> {
        if input.len() % self.channels != 0 {
            return Err(DriftError::PartialFrame {
                samples: input.len(),
                channels: self.channels,
            });
        }
        Ok(())
    }

    /// Appends `input` (interleaved) to `output` at the current ratio; returns samples appended.
    pub fn process(&mut self, input: &[f32], output: &mut Vec<f32>) -> Result<usize, DriftError> {
        self.whole_frames(input)?;
        let before = output.len();
        if self.ratio == 1.0 {
            self.flush(output);
            output.extend_from_slice(input);
            return Ok(output.len() - before);
        }
        let ch = self.channels;
        let chunk_len = self.chunk * ch;
        let mut rest = input;
        if self.staged > 0 {
            let have = self.staged * ch;
            let take = chunk_len.saturating_sub(have).min(rest.len());
            if let (Some(dst), Some(src)) =
                (self.stage.get_mut(have..have + take), rest.get(..take))
            {
                dst.copy_from_slice(src);
            }
            self.staged += take / ch;
            rest = rest.get(take..).unwrap_or(&[]);
            // A smaller chunk chosen since staging may leave more than one chunk staged.
            while self.staged >= self.chunk {
                let chunk = self.stage.get(..chunk_len).unwrap_or(&[]);
                run_chunk(&mut self.slip, chunk, ch, &mut self.out, output)?;
                self.stage.copy_within(chunk_len..self.staged * ch, 0);
                self.staged -= self.chunk;
            }
            if self.staged > 0 {
                return Ok(output.len() - before);
            }
        }
        while rest.len() >= chunk_len {
            let (chunk, tail) = rest.split_at(chunk_len);
            run_chunk(&mut self.slip, chunk, ch, &mut self.out, output)?;
            rest = tail;
        }
        if let Some(dst) = self.stage.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
            self.staged = rest.len() / ch;
        }
        Ok(output.len() - before)
    }

    /// Appends the staged frames unchanged (end of stream, or on the way back to ratio 1.0).
    pub fn flush(&mut self, output: &mut Vec<f32>) {
        let n = self.staged * self.channels;
        output.extend_from_slice(self.stage.get(..n).unwrap_or(&[]));
        self.staged = 0;
    }

    /// Drops staged audio and returns to ratio 1.0 (after a stream restart).
    pub fn reset(&mut self) {
        self.staged = 0;
        self.ratio = 1.0;
        self.chunk = CHUNKS[0];
        self.slip.reset();
    }
}

/// Room for a Slip's output from `chunk` input frames: the chunk plus far more than the largest
/// correction any of [`CHUNKS`] allows (one frame per crossfade).
fn slip_output_max(chunk: usize) -> usize {
    chunk + chunk / 2
}

/// Runs one input chunk through Slip and appends the result to `output`.
fn run_chunk(
    slip: &mut Slip<f32>,
    chunk: &[f32],
    channels: usize,
    scratch: &mut [f32],
    output: &mut Vec<f32>,
) -> Result<(), DriftError> {
    let frames_in = chunk.len() / channels;
    let frames_out = slip.output_frames_next();
    let input = InterleavedSlice::new(chunk, channels, frames_in)?;
    let mut out = InterleavedSlice::new_mut(scratch, channels, frames_out)?;
    let (_, written) = slip.process_into_buffer(&input, &mut out, None)?;
    output.extend_from_slice(scratch.get(..written * channels).unwrap_or(&[]));
    Ok(())
}

#[cfg(test)]
#[path = "drift_tests.rs"]
mod tests;
