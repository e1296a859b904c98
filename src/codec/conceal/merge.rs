//! Joining a concealment to the real audio after it, without touching that audio when it can.
//!
//! When the next packet is decoded ahead, the concealment's last few milliseconds are
//! crossfaded into a mirror image of that packet's start ([`into_mirror`]): the join is then
//! continuous and the packet plays bit-exact. When it is not (the packet came too late to be
//! peeked), the packet's start is crossfaded against the concealment's continuation instead
//! ([`fade_in`]).

/// Crossfades the last `len` frames of `concealed` into the mirror image of `next`'s start:
/// frame `j` before the join mixes towards frame `j` after it, the concealment's weight
/// falling towards the join.
pub(super) fn into_mirror(concealed: &mut [f32], next: &[f32], channels: usize, len: usize) {
    let (frames, next_frames) = (concealed.len() / channels, next.len() / channels);
    if frames == 0 || next_frames == 0 {
        return;
    }
    let m = len.min(frames);
    for j in 0..m {
        let at = (frames - 1 - j) * channels;
        let src = j.min(next_frames - 1) * channels;
        let keep = (j + 1) as f32 / (m + 1) as f32;
        for (s, &n) in concealed[at..at + channels]
            .iter_mut()
            .zip(&next[src..src + channels])
        {
            *s = keep * *s + (1.0 - keep) * n;
        }
    }
}

/// Fades real audio in against `tail` (the concealment's continuation, `len` frames), from
/// frame `*used` of the fade on; advances `*used` across calls, so a fade spans small packets.
pub(super) fn fade_in(
    samples: &mut [f32],
    tail: &[f32],
    channels: usize,
    len: usize,
    used: &mut usize,
) {
    let fading = len.saturating_sub(*used);
    for frame in samples.chunks_exact_mut(channels).take(fading) {
        // Gain rises towards 1 without reaching it inside the fade, so the step into the
        // first unfaded frame is as small as the others.
        let gain = (*used + 1) as f32 / (len + 1) as f32;
        let at = *used * channels;
        for (s, &c) in frame.iter_mut().zip(&tail[at..at + channels]) {
            *s = gain * *s + (1.0 - gain) * c;
        }
        *used += 1;
    }
}
