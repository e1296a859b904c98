//! Loss concealment: what plays in place of a packet that never came, and how it joins the
//! audio around it.
//!
//! [`Conceal`] is the interface the receive core drives; [`for_stream`] picks the
//! implementation for a payload format. Every format decoded today (L16, L24, PCMU, PCMA, MPEG
//! audio) conceals in the decoded domain with [`PitchConcealer`]: pitch-period replication in
//! the spirit of ITU-T G.711 Appendix I and WebRTC NetEq's expand, a faded repeat for audio
//! that does not repeat, then comfort noise or silence; from both sides of the loss when the
//! audio after it is already buffered. A codec with its own concealment
//! (Opus PLC, or FEC decoded from the next packet) implements the same trait around its
//! decoder; `conceal` is handed the next packet's payload whenever it is already buffered.

mod expand;
mod extend;
mod history;
mod merge;
mod noise;
mod pingpong;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use expand::PitchConcealer;
pub use noise::WhiteNoise;

use crate::rtp::payload::PayloadFormat;

/// Frames of one concealment, by how they were made (the metrics' `concealed_*_ms`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConcealedFrames {
    /// Pitch periods of the last audio replicated (attenuating after the first 10 ms).
    pub pitch: usize,
    /// A faded repeat of the last audio, for audio without a pitch.
    pub fade: usize,
    /// Comfort noise at the stream's background level, or silence, once the rest faded out.
    pub noise: usize,
}

impl ConcealedFrames {
    /// All frames, whatever the method.
    pub fn total(&self) -> usize {
        self.pitch + self.fade + self.noise
    }
}

impl std::ops::AddAssign for ConcealedFrames {
    fn add_assign(&mut self, o: Self) {
        self.pitch += o.pitch;
        self.fade += o.fade;
        self.noise += o.noise;
    }
}

/// A loss concealer for one stream's decoded audio (interleaved f32, fixed rate and channels).
///
/// Contract: received audio passes through [`Conceal::process_decoded`] before it plays;
/// each loss is [`Conceal::conceal`]d in one or more calls; when the packet after a loss is
/// known in advance, [`Conceal::merge_into`] shapes the concealment's end to join it, and the
/// packet itself then plays bit-exact. Implementations allocate nothing after construction.
pub trait Conceal: Send {
    /// Takes received audio before it plays: remembers it for the next loss, and fades it in
    /// if a concealment ended without a merge.
    fn process_decoded(&mut self, samples: &mut [f32]);

    /// At the start of a loss, hands over the audio that resumes after it, when the jitter
    /// buffer already holds it: `future` (decoded, interleaved) begins `gap` frames after the
    /// concealment about to be produced. A concealer may shape the whole gap towards it; the
    /// default ignores it.
    fn resume_with(&mut self, gap: usize, future: &[f32]) {
        let _ = (gap, future);
    }

    /// Appends `frames` frames of concealment to `out`. `next_payload` is the encoded packet
    /// after the loss when it is already buffered (for codecs that can recover a lost frame
    /// from it, such as Opus in-band FEC); decoded-domain concealers ignore it.
    fn conceal(
        &mut self,
        frames: usize,
        next_payload: Option<&[u8]>,
        out: &mut Vec<f32>,
    ) -> ConcealedFrames;

    /// Ends the concealment just produced into `concealed` so that `next` (the decoded audio
    /// that plays right after it) follows without a click; `next` itself is not changed.
    fn merge_into(&mut self, concealed: &mut [f32], next: &[f32]);

    /// Whether the last output was concealment (real audio has not resumed since).
    fn is_concealing(&self) -> bool;

    /// Forgets the remembered audio, for a sender restart.
    fn reset(&mut self);
}

/// The concealer for a stream of `format`, decoded at `rate` Hz with `channels` channels.
pub fn for_stream(format: &PayloadFormat, rate: u32, channels: u16) -> Box<dyn Conceal> {
    // Every decoder so far produces plain PCM and keeps no concealment of its own; a native
    // concealer (Opus) would be matched here.
    let _ = format;
    Box::new(PitchConcealer::new(rate, channels))
}

/// How the pitch concealer behaves; [`ConcealConfig::default`] is what the player uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConcealConfig {
    /// Real audio remembered for pitch search and replication.
    pub history: Duration,
    /// Replicated periods play at full level this long before attenuating.
    pub hold: Duration,
    /// Time from full level to the comfort-noise level once attenuation starts.
    pub fade_out: Duration,
    /// Length of the faded repeat used for audio without a pitch.
    pub fallback_fade: Duration,
    /// How much of the newest audio the faded repeat plays back and forth.
    pub fallback_span: Duration,
    /// Crossfade into the audio after a loss.
    pub fade_in: Duration,
    /// Correlation between the newest audio and its copy one period earlier above which the
    /// audio counts as periodic. Low on purpose: on speech and music alike the pitch loop
    /// scored better than the faded repeat at every threshold tried (0.1–0.7; see
    /// docs/concealment.md), so only audio that does not repeat at all takes the repeat.
    pub min_voicing: f32,
    /// Whether comfort noise at the stream's background level replaces silence after the fade.
    pub comfort_noise: bool,
}

impl Default for ConcealConfig {
    fn default() -> Self {
        ConcealConfig {
            history: Duration::from_millis(60),
            hold: Duration::from_millis(10),
            fade_out: Duration::from_millis(50),
            fallback_fade: Duration::from_millis(20),
            fallback_span: Duration::from_millis(20),
            fade_in: Duration::from_millis(5),
            min_voicing: 0.2,
            comfort_noise: true,
        }
    }
}

/// Frames in `d` at `rate`, at least one.
fn frames_in(d: Duration, rate: u32) -> usize {
    let frames = d.as_nanos() * u128::from(rate) / 1_000_000_000;
    usize::try_from(frames).unwrap_or(usize::MAX).max(1)
}
