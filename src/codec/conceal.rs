//! Loss concealment for decoded audio: a faded repeat of the last audio, then silence, never a click.
//!
//! The repeat plays the last ~20 ms of real audio back and forth ("ping-pong"): backwards from
//! the newest sample, then forwards, and so on. Each step moves between neighbouring samples,
//! so the concealment continues the last played sample without a jump and never jumps at its
//! own loop points, which a plain forward repeat of a packet would do at every wrap. It fades
//! out linearly over ~20 ms, then stays silent for as long as losses last. When real audio
//! resumes it is crossfaded in over ~5 ms against the continuation of the concealment (which is
//! silence once the fade-out has finished, making it a plain fade-in).

use std::time::Duration;

/// How long the concealer remembers, fades out and fades back in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcealTiming {
    /// How much of the most recent real audio is kept and repeated.
    pub history: Duration,
    /// How long the repeat takes to fade to silence.
    pub fade_out: Duration,
    /// How long resumed audio takes to fade (crossfade) back in.
    pub fade_in: Duration,
}

impl Default for ConcealTiming {
    fn default() -> Self {
        ConcealTiming {
            history: Duration::from_millis(20),
            fade_out: Duration::from_millis(20),
            fade_in: Duration::from_millis(5),
        }
    }
}

/// Replaces lost audio with a faded repeat of the last audio; all storage is preallocated.
#[derive(Debug, Clone)]
pub struct Concealer {
    channels: usize,
    /// Ring of the most recent real frames, interleaved, `capacity` frames long.
    history: Vec<f32>,
    capacity: usize,
    /// Valid frames in the ring.
    filled: usize,
    /// Frame index in the ring where the next real frame goes.
    write: usize,
    fade_out_frames: usize,
    fade_in_frames: usize,
    /// Frames concealed since the last real audio (0 while real audio plays).
    run: usize,
    /// Ping-pong position as a logical history index (0 = oldest), and its direction.
    pos: usize,
    forward: bool,
    /// The concealment's continuation, pre-rendered at resume for the crossfade.
    tail: Vec<f32>,
    /// Frames of `tail` already mixed in; equal to `fade_in_frames` when no crossfade runs.
    tail_used: usize,
    total_concealed: u64,
}

/// Frames in `d` at `rate`, at least one.
fn frames_in(d: Duration, rate: u32) -> usize {
    let frames = d.as_nanos() * u128::from(rate) / 1_000_000_000;
    usize::try_from(frames).unwrap_or(usize::MAX).max(1)
}

impl Concealer {
    /// A concealer for interleaved audio at `rate` Hz with `channels` channels and default timing.
    pub fn new(rate: u32, channels: u16) -> Self {
        Self::with_timing(rate, channels, ConcealTiming::default())
    }

    /// A concealer with explicit timing.
    pub fn with_timing(rate: u32, channels: u16, timing: ConcealTiming) -> Self {
        let channels = usize::from(channels.max(1));
        let capacity = frames_in(timing.history, rate);
        let fade_in_frames = frames_in(timing.fade_in, rate);
        Concealer {
            channels,
            history: vec![0.0; capacity * channels],
            capacity,
            filled: 0,
            write: 0,
            fade_out_frames: frames_in(timing.fade_out, rate),
            fade_in_frames,
            run: 0,
            pos: 0,
            forward: false,
            tail: vec![0.0; fade_in_frames * channels],
            tail_used: fade_in_frames,
            total_concealed: 0,
        }
    }

    /// Whether the last output was concealment (real audio has not resumed since).
    pub fn is_concealing(&self) -> bool {
        self.run > 0
    }

    /// Total frames concealed since creation.
    pub fn concealed_frames(&self) -> u64 {
        self.total_concealed
    }

    /// Forgets the remembered audio, for a sender restart: the next loss conceals with silence.
    pub fn reset(&mut self) {
        self.filled = 0;
        self.write = 0;
        self.run = 0;
        self.tail_used = self.fade_in_frames;
    }

    /// Appends `frames` frames of concealment to `out` (interleaved).
    pub fn conceal(&mut self, frames: usize, out: &mut Vec<f32>) {
        let start = out.len();
        out.resize(start + frames * self.channels, 0.0);
        for frame in out[start..].chunks_exact_mut(self.channels) {
            self.next_concealed(frame);
        }
        self.total_concealed += frames as u64;
    }

    /// Ends a concealment that real audio follows at once: crossfades the last few ms of
    /// `concealed` (just produced by [`Concealer::conceal`]) into a mirror image of the start of
    /// `next`, the audio that plays right after it. The join is then continuous, and `next`
    /// plays untouched: received audio stays bit-exact, only concealed audio is shaped.
    pub fn merge_into(&mut self, concealed: &mut [f32], next: &[f32]) {
        let ch = self.channels;
        let (frames, next_frames) = (concealed.len() / ch, next.len() / ch);
        if frames == 0 || next_frames == 0 || self.run == 0 {
            return;
        }
        let m = self.fade_in_frames.min(frames);
        for j in 0..m {
            // Frame `j` before the join mirrors frame `j` after it; the concealment's weight
            // falls towards the join.
            let at = (frames - 1 - j) * ch;
            let src = j.min(next_frames - 1) * ch;
            let keep = (j + 1) as f32 / (m + 1) as f32;
            for (s, &n) in concealed[at..at + ch].iter_mut().zip(&next[src..src + ch]) {
                *s = keep * *s + (1.0 - keep) * n;
            }
        }
        self.run = 0;
        self.tail_used = self.fade_in_frames;
    }

    /// Takes freshly decoded real audio (interleaved) before it is played: fades it in if it
    /// follows concealment, then remembers it for the next loss.
    pub fn process_decoded(&mut self, samples: &mut [f32]) {
        debug_assert_eq!(samples.len() % self.channels, 0, "whole interleaved frames");
        if self.run > 0 {
            // Render what the concealment would have played next, to crossfade against.
            let mut tail = std::mem::take(&mut self.tail);
            for frame in tail.chunks_exact_mut(self.channels) {
                self.next_concealed(frame);
            }
            self.tail = tail;
            self.tail_used = 0;
            self.run = 0;
        }
        let fading = self.fade_in_frames.saturating_sub(self.tail_used);
        for frame in samples.chunks_exact_mut(self.channels).take(fading) {
            // Gain rises towards 1 without reaching it inside the fade, so the step into the
            // first unfaded frame is as small as the others.
            let gain = (self.tail_used + 1) as f32 / (self.fade_in_frames + 1) as f32;
            let at = self.tail_used * self.channels;
            for (s, &c) in frame.iter_mut().zip(&self.tail[at..at + self.channels]) {
                *s = gain * *s + (1.0 - gain) * c;
            }
            self.tail_used += 1;
        }
        self.remember_block(samples);
    }

    /// Pushes real frames into the history ring: only the newest `capacity` matter, copied in
    /// at most two slices (a per-frame copy was a third of the simulator's time).
    fn remember_block(&mut self, samples: &[f32]) {
        let ch = self.channels;
        let frames = samples.len() / ch;
        let keep = frames.min(self.capacity);
        if keep == 0 {
            return;
        }
        let src = &samples[(frames - keep) * ch..frames * ch];
        let start = (self.write + frames - keep) % self.capacity;
        let first = (self.capacity - start).min(keep);
        self.history[start * ch..(start + first) * ch].copy_from_slice(&src[..first * ch]);
        self.history[..(keep - first) * ch].copy_from_slice(&src[first * ch..]);
        self.write = (self.write + frames) % self.capacity;
        self.filled = (self.filled + frames).min(self.capacity);
    }

    /// Writes the next concealment frame and advances the ping-pong position and the fade.
    fn next_concealed(&mut self, frame: &mut [f32]) {
        if self.run == 0 {
            // Start just before the newest frame, moving backwards: the first concealed frame
            // is the neighbour of the last one played.
            self.pos = self.filled.saturating_sub(2);
            self.forward = false;
        }
        self.run += 1;
        // Linear fade reaching exactly zero after `fade_out_frames`.
        let remaining = self.fade_out_frames.saturating_sub(self.run);
        if remaining == 0 || self.filled == 0 {
            frame.fill(0.0);
            return;
        }
        let gain = remaining as f32 / self.fade_out_frames as f32;
        let ring = (self.write + self.capacity - self.filled + self.pos) % self.capacity;
        let at = ring * self.channels;
        for (s, &h) in frame.iter_mut().zip(&self.history[at..at + self.channels]) {
            *s = gain * h;
        }
        self.step();
    }

    /// Moves the ping-pong position one frame, turning around at either end of the history.
    fn step(&mut self) {
        let last = self.filled.saturating_sub(1);
        if last == 0 {
            return;
        }
        if self.forward && self.pos == last {
            self.forward = false;
        } else if !self.forward && self.pos == 0 {
            self.forward = true;
        }
        if self.forward {
            self.pos += 1;
        } else {
            self.pos -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    /// Interleaved stereo sine frames `from..to` at `freq` Hz and amplitude 0.8.
    fn sine(freq: f32, from: usize, to: usize) -> Vec<f32> {
        (from..to)
            .flat_map(|i| {
                let x = 0.8 * (std::f32::consts::TAU * freq * i as f32 / RATE as f32).sin();
                [x, -x]
            })
            .collect()
    }

    fn max_jump(signal: &[f32]) -> f32 {
        (0..2)
            .flat_map(|ch| {
                let chan: Vec<f32> = signal.iter().skip(ch).step_by(2).copied().collect();
                chan.windows(2)
                    .map(|w| (w[1] - w[0]).abs())
                    .collect::<Vec<_>>()
            })
            .fold(0.0, f32::max)
    }

    /// Plays `before` frames of sine, conceals `lost` frames, resumes with the sine's own
    /// continuation in 480-frame packets; returns the output.
    fn run(freq: f32, before: usize, lost: usize, after: usize) -> (Vec<f32>, Concealer) {
        let mut c = Concealer::new(RATE, 2);
        let mut out = Vec::new();
        for start in (0..before).step_by(480) {
            let mut packet = sine(freq, start, (start + 480).min(before));
            c.process_decoded(&mut packet);
            out.extend_from_slice(&packet);
        }
        c.conceal(lost, &mut out);
        for start in (before + lost..before + lost + after).step_by(480) {
            let mut packet = sine(freq, start, start + 480);
            c.process_decoded(&mut packet);
            out.extend_from_slice(&packet);
        }
        (out, c)
    }

    #[test]
    fn merging_into_the_next_packet_leaves_it_untouched_and_the_join_smooth() {
        let signal = sine(440.0, 0, 4800);
        let mut c = Concealer::new(RATE, 1);
        let mut first = signal[..960].to_vec();
        c.process_decoded(&mut first);
        let mut concealed = Vec::new();
        c.conceal(240, &mut concealed);
        let next = signal[1200..1440].to_vec();
        c.merge_into(&mut concealed, &next);
        let mut resumed = next.clone();
        c.process_decoded(&mut resumed);
        assert_eq!(resumed, next, "received audio is bit-exact");
        let mut all = first;
        all.extend_from_slice(&concealed);
        all.extend_from_slice(&resumed);
        assert!(max_jump(&all) < 0.1, "{}", max_jump(&all));
    }

    #[test]
    fn no_clicks_at_loss_or_resume() {
        for freq in [100.0, 440.0, 1000.0, 3000.0] {
            let clean = max_jump(&sine(freq, 0, 4800));
            // Short loss (resume mid-fade), one fade long, long loss (resume from silence),
            // and a loss that does not fall on a packet boundary.
            for (before, lost) in [(4800, 120), (4800, 960), (4800, 9600), (4500, 333)] {
                let (out, c) = run(freq, before, lost, 2400);
                // Bound: the signal's own steepest step, plus what the fades add per step
                // (the crossfade gain moves 1/241 per frame between two values ≤ 0.8 apart in
                // magnitude each); a click would be a step of up to 1.6.
                let bound = clean * 1.01 + 2.0 * 0.8 / 241.0;
                let jump = max_jump(&out);
                assert!(
                    jump <= bound,
                    "{freq} Hz, lost {lost}: jump {jump} vs clean {clean}"
                );
                assert_eq!(c.concealed_frames(), lost as u64);
                assert!(!c.is_concealing());
            }
        }
    }

    #[test]
    fn a_naive_repeat_would_click() {
        // Control for the test above: repeating the last packet as it is jumps at its start.
        let clean = max_jump(&sine(1000.0, 0, 4800));
        let mut naive = sine(1000.0, 0, 4800);
        naive.extend_from_slice(&sine(1000.0, 4800 - 470, 4800));
        assert!(max_jump(&naive) > clean * 2.0);
    }

    #[test]
    fn fades_to_silence_and_stays_silent() {
        let (out, _) = run(440.0, 4800, 4800, 0);
        let concealed = &out[4800 * 2..];
        let fade = 960 * 2;
        assert!(
            concealed[..fade / 4].iter().any(|x| x.abs() > 0.3),
            "starts as a repeat"
        );
        assert!(
            concealed[fade - 2..].iter().all(|&x| x == 0.0),
            "silent after 20 ms"
        );
    }

    #[test]
    fn conceals_with_silence_when_nothing_was_heard() {
        let mut c = Concealer::new(RATE, 2);
        let mut out = Vec::new();
        c.conceal(100, &mut out);
        assert!(out.len() == 200 && out.iter().all(|&x| x == 0.0));
        // Resuming fades in from silence.
        let mut loud = vec![1.0f32; 2 * 480];
        c.process_decoded(&mut loud);
        assert!(loud[0] < 0.01 && loud[2 * 240 - 1] > 0.99 && loud[2 * 479] == 1.0);
    }

    #[test]
    fn fade_in_spans_small_packets_and_reset_forgets() {
        let mut c = Concealer::new(RATE, 1);
        let mut first = vec![0.5f32; 48];
        c.process_decoded(&mut first);
        assert_eq!(first, vec![0.5; 48], "no fade without a preceding loss");
        c.conceal(2000, &mut Vec::new());
        let mut resumed = Vec::new();
        for _ in 0..10 {
            let mut p = vec![0.5f32; 48];
            c.process_decoded(&mut p);
            resumed.extend_from_slice(&p);
        }
        assert!(
            resumed.windows(2).all(|w| w[1] >= w[0]),
            "monotonic fade-in across packets"
        );
        assert!(resumed[0] < 0.01 && resumed[300] == 0.5);
        c.reset();
        let mut out = Vec::new();
        c.conceal(10, &mut out);
        assert!(out.iter().all(|&x| x == 0.0));
    }
}
