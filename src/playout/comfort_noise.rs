//! RFC 3389 comfort noise turned into sound: the noise a CN packet describes, at its level and
//! spectral shape, for the time from its timestamp until real audio resumes.
//!
//! The packets sit in a small table keyed by timestamp; what plays in a gap after the last
//! real audio (a pause, the sequence numbers the CN packets took, a loss) is replaced by white
//! noise from the crate's one noise source, shaped by the all-pole lattice filter of the
//! packet's reflection coefficients and scaled so its RMS is the signalled level whatever the
//! filter's gain. Later CN packets update the description from their own timestamp on.

use crate::audio::lattice::LatticeFilter;
use crate::codec::conceal::WhiteNoise;
use crate::rtp::comfort_noise::ComfortNoiseParams;

/// CN packets remembered: senders repeat them every few hundred ms, and only those since the
/// last real audio matter.
const SLOTS: usize = 8;

/// Noise seed: runs repeat exactly.
const SEED: u64 = 0x3389;

/// Synthesises the comfort noise of one stream.
#[derive(Debug, Clone)]
pub struct ComfortNoiseSynth {
    entries: [Option<(u32, ComfortNoiseParams)>; SLOTS],
    next: usize,
    noise: WhiteNoise,
    filter: LatticeFilter,
    /// Timestamp of the description loaded into the filter.
    loaded: Option<u32>,
    excitation: f32,
}

impl Default for ComfortNoiseSynth {
    fn default() -> Self {
        Self::new()
    }
}

impl ComfortNoiseSynth {
    /// Nothing described yet.
    pub fn new() -> Self {
        ComfortNoiseSynth {
            entries: [None; SLOTS],
            next: 0,
            noise: WhiteNoise::new(SEED),
            filter: LatticeFilter::new(),
            loaded: None,
            excitation: 0.0,
        }
    }

    /// Takes a CN packet with RTP timestamp `ts`.
    pub fn note(&mut self, ts: u32, params: ComfortNoiseParams) {
        if let Some(e) = self.entries.iter_mut().flatten().find(|(t, _)| *t == ts) {
            e.1 = params;
            return;
        }
        self.entries[self.next] = Some((ts, params));
        self.next = (self.next + 1) % SLOTS;
    }

    /// Replaces the gap audio in `out` (interleaved, `channels` at `rate` Hz, first frame at
    /// RTP time `start` of a `clock_rate` clock) by comfort noise wherever a CN packet after
    /// the last real audio (`audio_ts`, its timestamp) describes it. Returns the frames filled.
    pub fn render_gap(
        &mut self,
        start: u32,
        audio_ts: u32,
        rate: u32,
        clock_rate: u32,
        channels: usize,
        out: &mut [f32],
    ) -> usize {
        let channels = channels.max(1);
        let (rate, clock) = (u64::from(rate.max(1)), u64::from(clock_rate.max(1)));
        let since_audio = i64::from(audio_ts.wrapping_sub(start) as i32);
        let mut filled = 0;
        for (i, frame) in out.chunks_exact_mut(channels).enumerate() {
            let at = (i as u64 * clock / rate) as i64;
            // The newest description that began by this frame and after the last audio.
            let current = self
                .entries
                .iter()
                .flatten()
                .map(|&(ts, p)| (i64::from(ts.wrapping_sub(start) as i32), ts, p))
                .filter(|&(d, _, _)| d <= at && d > since_audio)
                .max_by_key(|&(d, _, _)| d);
            let Some((_, ts, params)) = current else {
                continue;
            };
            if self.loaded != Some(ts) {
                self.filter.set_coefficients(params.coefficients());
                self.excitation = params.rms() / self.filter.power_gain().sqrt();
                self.loaded = Some(ts);
            }
            let s = self.filter.process(self.noise.sample(self.excitation));
            frame.fill(s);
            filled += 1;
        }
        filled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::comfort_noise::parse_comfort_noise;

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn fills_from_the_packet_on_at_its_level_and_only_after_audio() {
        let mut cn = ComfortNoiseSynth::new();
        cn.note(1000, parse_comfort_noise(&[40, 60, 140]).unwrap());
        let mut out = vec![0.25f32; 16_000];
        let n = cn.render_gap(900, 800, 8000, 8000, 1, &mut out);
        assert_eq!(n, 15_900);
        assert!(
            out[..100].iter().all(|&x| x == 0.25),
            "before the CN packet"
        );
        let level = rms(&out[100..]);
        assert!((20.0 * level.log10() + 40.0).abs() < 0.5, "{level}");
        // Audio played after the CN packet: it no longer applies.
        let mut later = vec![0.25f32; 100];
        assert_eq!(cn.render_gap(3000, 2000, 8000, 8000, 1, &mut later), 0);
    }
}
