//! Fixed-ratio sample-rate conversion for streams whose rate differs from the output's.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};

/// Input frames per resampler chunk: large enough for FFT efficiency, small enough to keep latency low.
const CHUNK_FRAMES: usize = 1024;

/// Why the resampler could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    /// rubato refused the parameters.
    #[error("cannot resample {from} Hz to {to} Hz: {reason}")]
    Construction {
        /// Input rate.
        from: u32,
        /// Output rate.
        to: u32,
        /// rubato's reason.
        reason: String,
    },
    /// rubato failed while processing.
    #[error("resampling failed: {0}")]
    Process(String),
}

/// A streaming, band-limited (FFT) resampler with exact output length.
///
/// It hides rubato's chunking and filter delay: the first output sample corresponds to the first
/// input sample, and after [`finish`](Self::finish) exactly `round(input_frames * to / from)`
/// frames have come out.
pub struct StreamResampler {
    inner: Fft<f32>,
    channels: usize,
    from: u32,
    to: u32,
    pending: Vec<f32>,
    out_buf: Vec<f32>,
    delay_left: usize,
    frames_in: u64,
    frames_out: u64,
}

impl StreamResampler {
    /// Builds a resampler from `from` Hz to `to` Hz for `channels` interleaved channels.
    pub fn new(from: u32, to: u32, channels: usize) -> Result<Self, ResampleError> {
        let inner = Fft::<f32>::new(
            from as usize,
            to as usize,
            CHUNK_FRAMES,
            channels,
            FixedSync::Input,
        )
        .map_err(|e| ResampleError::Construction {
            from,
            to,
            reason: e.to_string(),
        })?;
        let out_buf = vec![0.0; inner.output_frames_max() * channels];
        let delay_left = inner.output_delay();
        Ok(StreamResampler {
            inner,
            channels,
            from,
            to,
            pending: Vec::with_capacity(CHUNK_FRAMES * channels),
            out_buf,
            delay_left,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// Feeds interleaved `input` and appends whatever output is ready to `out`.
    pub fn process(&mut self, mut input: &[f32], out: &mut Vec<f32>) -> Result<(), ResampleError> {
        self.frames_in += (input.len() / self.channels) as u64;
        let chunk = CHUNK_FRAMES * self.channels;
        while !input.is_empty() {
            let take = (chunk - self.pending.len()).min(input.len());
            self.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.pending.len() == chunk {
                self.run_chunk(None, out)?;
                self.pending.clear();
            }
        }
        Ok(())
    }

    /// Flushes the filter tail so the output has exactly the length the input implies.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), ResampleError> {
        let expected = (self.frames_in as f64 * self.to as f64 / self.from as f64).round() as u64;
        // Each partial chunk pads with silence; a few rounds push the delayed tail out.
        let mut rounds = 0;
        while self.frames_out < expected && rounds < 16 {
            let partial = self.pending.len() / self.channels;
            self.pending.resize(CHUNK_FRAMES * self.channels, 0.0);
            self.run_chunk(Some(partial), out)?;
            self.pending.clear();
            rounds += 1;
        }
        let excess = (self.frames_out.saturating_sub(expected)) as usize * self.channels;
        out.truncate(out.len().saturating_sub(excess));
        self.frames_out = self.frames_out.min(expected);
        Ok(())
    }

    fn run_chunk(
        &mut self,
        partial: Option<usize>,
        out: &mut Vec<f32>,
    ) -> Result<(), ResampleError> {
        let frames_out_max = self.out_buf.len() / self.channels;
        let input = InterleavedSlice::new(&self.pending[..], self.channels, CHUNK_FRAMES)
            .map_err(|e| ResampleError::Process(e.to_string()))?;
        let mut output =
            InterleavedSlice::new_mut(&mut self.out_buf[..], self.channels, frames_out_max)
                .map_err(|e| ResampleError::Process(e.to_string()))?;
        let indexing = partial.map(|p| Indexing::new().partial_len(p));
        let (_, written) = self
            .inner
            .process_into_buffer(&input, &mut output, indexing.as_ref())
            .map_err(|e| ResampleError::Process(e.to_string()))?;
        let skip = self.delay_left.min(written);
        self.delay_left -= skip;
        out.extend_from_slice(&self.out_buf[skip * self.channels..written * self.channels]);
        self.frames_out += (written - skip) as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f32, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|n| (2.0 * std::f32::consts::PI * freq * n as f32 / rate as f32).sin() * 0.5)
            .collect()
    }

    fn resample_all(from: u32, to: u32, input: &[f32], piece: usize) -> Vec<f32> {
        let mut r = StreamResampler::new(from, to, 1).unwrap();
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            r.process(chunk, &mut out).unwrap();
        }
        r.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn output_length_is_exact_whatever_the_feeding_pattern() {
        let input = sine(44_100, 440.0, 44_100 + 37);
        for piece in [1, 100, 1024, 5000] {
            let out = resample_all(44_100, 48_000, &input, piece);
            assert_eq!(
                out.len(),
                ((44_137.0f64 * 48_000.0 / 44_100.0).round()) as usize
            );
        }
    }

    #[test]
    fn a_tone_keeps_its_phase_and_level() {
        // Compare against the ideal 48 kHz sine, skipping the filter's edge effects at both ends.
        let input = sine(44_100, 1000.0, 44_100);
        let out = resample_all(44_100, 48_000, &input, 777);
        let ideal = sine(48_000, 1000.0, out.len());
        let err = out[2000..out.len() - 2000]
            .iter()
            .zip(&ideal[2000..ideal.len() - 2000])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-3, "max error {err}");
    }
}
