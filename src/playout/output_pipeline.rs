//! The output side of the receive core: concealment, time-stretch of gathered audio, drift
//! correction, channel mapping and resampling from the decoder's format to the output's.

use crate::audio::channels::ChannelMapper;
use crate::audio::resample::StreamResampler;
use crate::codec::conceal::{self, Conceal};
use crate::playout::core_config::{ReceiveCoreConfig, ReceiveCoreError, Segment};
use crate::playout::stretch::{LevelMove, StretchResult, TimeStretcher};
use crate::playout::DriftCorrector;

/// Conversion from the decoder's rate/channels to the output's, built once both are known.
pub(super) struct Pipeline {
    pub(super) rate: u32,
    pub(super) channels: usize,
    pub(super) concealer: Box<dyn Conceal>,
    pub(super) drift: DriftCorrector,
    pub(super) mapper: ChannelMapper,
    pub(super) resampler: Option<StreamResampler>,
    pub(super) corrected: Vec<f32>,
    pub(super) mapped: Vec<f32>,
    pub(super) flushed: bool,
    pub(super) stretcher: TimeStretcher,
    /// Real audio gathered for the stretcher, and the packets it came from.
    pub(super) block: Vec<f32>,
    pub(super) block_sources: Vec<(Option<(u32, u32)>, usize)>,
    pub(super) stretched: Vec<f32>,
}

impl Pipeline {
    pub(super) fn new(
        rate: u32,
        channels: u16,
        cfg: &ReceiveCoreConfig,
    ) -> Result<Self, ReceiveCoreError> {
        let ch = usize::from(channels);
        let out_ch = usize::from(cfg.output_channels);
        Ok(Pipeline {
            rate,
            channels: ch,
            concealer: conceal::for_stream(&cfg.format, rate, channels),
            drift: DriftCorrector::for_rate(ch, rate)?,
            mapper: ChannelMapper::new(ch, out_ch),
            resampler: if rate != cfg.output_rate {
                Some(StreamResampler::new(rate, cfg.output_rate, out_ch)?)
            } else {
                None
            },
            corrected: Vec::with_capacity(8192),
            mapped: Vec::with_capacity(8192),
            flushed: false,
            stretcher: TimeStretcher::new(rate, ch),
            block: Vec::with_capacity(8192),
            block_sources: Vec::with_capacity(64),
            stretched: Vec::with_capacity(8192),
        })
    }

    pub(super) fn gathered_frames(&self) -> usize {
        self.block.len() / self.channels
    }

    pub(super) fn gather(&mut self, decoded: &[f32], source: Option<(u32, u32)>) {
        self.block.extend_from_slice(decoded);
        self.block_sources
            .push((source, decoded.len() / self.channels));
    }

    /// Converts the gathered block as it is, one traced segment per packet.
    pub(super) fn flush_gathered(
        &mut self,
        out: &mut Vec<f32>,
        mut trace: Option<&mut Vec<Segment>>,
    ) -> Result<(), ReceiveCoreError> {
        let mut at = 0;
        for i in 0..self.block_sources.len() {
            let (source, frames) = self.block_sources[i];
            let end = (at + frames * self.channels).min(self.block.len());
            let before = out.len();
            self.corrected.clear();
            self.drift
                .process(&self.block[at..end], &mut self.corrected)?;
            self.emit(out)?;
            if let Some(t) = trace.as_deref_mut() {
                t.push(Segment {
                    source,
                    out_len: out.len() - before,
                    frames,
                });
            }
            at = end;
        }
        self.block.clear();
        self.block_sources.clear();
        Ok(())
    }

    /// Moves the level with the gathered block (or passes it on unchanged when it cannot).
    /// Packets whose audio comes out verbatim keep their own traced segments.
    pub(super) fn stretch_gathered(
        &mut self,
        dir: LevelMove,
        out: &mut Vec<f32>,
        mut trace: Option<&mut Vec<Segment>>,
    ) -> Result<StretchResult, ReceiveCoreError> {
        self.stretched.clear();
        let r = self
            .stretcher
            .process(&self.block, dir, &mut self.stretched);
        if r.stretched == 0 && r.silence == 0 {
            self.flush_gathered(out, trace)?;
            return Ok(r);
        }
        let ch = self.channels;
        let total_out = self.stretched.len() / ch;
        let total_in = self.gathered_frames();
        // The reshaped head: every packet that starts before the unchanged part.
        let (mut head_in, mut head_frames) = (0, 0);
        for &(_, frames) in &self.block_sources {
            if head_in >= r.unchanged_from {
                break;
            }
            head_in += frames;
            head_frames += frames;
        }
        let head_out = total_out - (total_in - head_in.min(total_in));
        let mut piece = |this: &mut Self,
                         from: usize,
                         to: usize,
                         source: Option<(u32, u32)>,
                         frames: usize|
         -> Result<(), ReceiveCoreError> {
            let before = out.len();
            this.corrected.clear();
            this.drift
                .process(&this.stretched[from * ch..to * ch], &mut this.corrected)?;
            this.emit(out)?;
            if let Some(t) = trace.as_deref_mut() {
                t.push(Segment {
                    source,
                    out_len: out.len() - before,
                    frames,
                });
            }
            Ok(())
        };
        piece(self, 0, head_out, None, head_frames)?;
        let mut at_out = head_out;
        let mut at_in = 0;
        for i in 0..self.block_sources.len() {
            let (source, frames) = self.block_sources[i];
            at_in += frames;
            if at_in <= head_in {
                continue;
            }
            piece(
                self,
                at_out,
                (at_out + frames).min(total_out),
                source,
                frames,
            )?;
            at_out += frames;
        }
        self.block.clear();
        self.block_sources.clear();
        Ok(r)
    }

    /// decoded → drift correction → channel map → rate conversion → `out`.
    pub(super) fn convert(
        &mut self,
        decoded: &[f32],
        out: &mut Vec<f32>,
    ) -> Result<(), ReceiveCoreError> {
        if self.drift.passes_through(decoded)? {
            // Drift correction would copy the audio unchanged: map and convert it from here.
            return Self::map_and_resample(
                &mut self.mapper,
                &mut self.mapped,
                self.resampler.as_mut(),
                decoded,
                out,
            );
        }
        self.corrected.clear();
        self.drift.process(decoded, &mut self.corrected)?;
        self.emit(out)
    }

    pub(super) fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), ReceiveCoreError> {
        if std::mem::replace(&mut self.flushed, true) {
            return Ok(());
        }
        self.corrected.clear();
        self.drift.flush(&mut self.corrected);
        self.emit(out)?;
        if let Some(r) = self.resampler.as_mut() {
            r.finish(out)?;
        }
        Ok(())
    }

    pub(super) fn emit(&mut self, out: &mut Vec<f32>) -> Result<(), ReceiveCoreError> {
        Self::map_and_resample(
            &mut self.mapper,
            &mut self.mapped,
            self.resampler.as_mut(),
            &self.corrected,
            out,
        )
    }

    /// `corrected` → channel map → rate conversion → `out`.
    fn map_and_resample(
        mapper: &mut ChannelMapper,
        mapped_buf: &mut Vec<f32>,
        resampler: Option<&mut StreamResampler>,
        corrected: &[f32],
        out: &mut Vec<f32>,
    ) -> Result<(), ReceiveCoreError> {
        let mapped: &[f32] = if mapper.is_identity() {
            corrected
        } else {
            mapped_buf.clear();
            mapper.map_into(corrected, mapped_buf);
            mapped_buf
        };
        match resampler {
            Some(r) => r.process(mapped, out)?,
            None => out.extend_from_slice(mapped),
        }
        Ok(())
    }
}
