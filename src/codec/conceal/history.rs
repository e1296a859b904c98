//! The newest real audio, kept in order in one preallocated buffer.
//!
//! Linear rather than a ring: concealment reads it by "frames before the end", and pitch search
//! wants contiguous slices. The buffer holds twice the capacity, so that packets are appended
//! after the newest frame and the window is moved back to the front only once a capacity's
//! worth has been appended (one frame copied per frame kept, not the whole history per packet).

/// The last `capacity` frames of real audio (interleaved), oldest first.
#[derive(Debug, Clone)]
pub(super) struct History {
    channels: usize,
    capacity: usize,
    /// Valid frames, stored just before `end`.
    filled: usize,
    /// Where the newest frame ends in `data` (in samples); never less than a capacity.
    end: usize,
    data: Vec<f32>,
}

impl History {
    pub(super) fn new(capacity: usize, channels: usize) -> Self {
        History {
            channels,
            capacity,
            filled: 0,
            end: capacity * channels,
            data: vec![0.0; 2 * capacity * channels],
        }
    }

    /// Frames remembered (at most the capacity).
    pub(super) fn filled(&self) -> usize {
        self.filled
    }

    /// Forgets everything.
    pub(super) fn clear(&mut self) {
        self.filled = 0;
    }

    /// Appends real frames; only the newest `capacity` stay.
    pub(super) fn push(&mut self, samples: &[f32]) {
        let ch = self.channels;
        let frames = samples.len() / ch;
        let keep = frames.min(self.capacity);
        if keep == 0 {
            return;
        }
        let src = &samples[(frames - keep) * ch..frames * ch];
        let window = self.capacity * ch;
        if self.end + src.len() > self.data.len() {
            // No room after the newest frame: the last capacity's worth goes back to the front.
            self.data.copy_within(self.end - window..self.end, 0);
            self.end = window;
        }
        self.data[self.end..self.end + src.len()].copy_from_slice(src);
        self.end += src.len();
        self.filled = (self.filled + keep).min(self.capacity);
    }

    /// Replaces the contents with `samples` in reverse frame order: `samples`' first frame
    /// becomes the newest. Extending this history forwards extends `samples` backwards.
    pub(super) fn fill_reversed(&mut self, samples: &[f32]) {
        let ch = self.channels;
        let keep = (samples.len() / ch).min(self.capacity);
        self.end = self.capacity * ch;
        for (j, frame) in samples.chunks_exact(ch).take(keep).enumerate() {
            let at = self.end - (j + 1) * ch;
            self.data[at..at + ch].copy_from_slice(frame);
        }
        self.filled = keep;
    }

    /// The frame `back` frames before the end (1 = the newest); `back` must be in `1..=filled`.
    pub(super) fn back(&self, back: usize) -> &[f32] {
        debug_assert!(
            back >= 1 && back <= self.filled,
            "{back} of {}",
            self.filled
        );
        let at = self.end - back.clamp(1, self.capacity) * self.channels;
        &self.data[at..at + self.channels]
    }

    /// Writes the newest `len` frames into `out` in reverse order (newest first), interleaved.
    pub(super) fn newest_first(&self, len: usize, out: &mut Vec<f32>) {
        out.clear();
        let len = len.min(self.filled);
        for b in 1..=len {
            out.extend_from_slice(self.back(b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_frames_in_order() {
        let mut h = History::new(4, 2);
        h.push(&[1.0, -1.0, 2.0, -2.0]);
        assert_eq!(
            (h.filled(), h.back(1), h.back(2)),
            (2, &[2.0, -2.0][..], &[1.0, -1.0][..])
        );
        h.push(&[3.0, -3.0, 4.0, -4.0, 5.0, -5.0]);
        assert_eq!(h.filled(), 4);
        let newest: Vec<f32> = (1..=4).map(|b| h.back(b)[0]).collect();
        assert_eq!(newest, [5.0, 4.0, 3.0, 2.0]);
        let mut rev = Vec::new();
        h.newest_first(9, &mut rev);
        assert_eq!(rev, [5.0, -5.0, 4.0, -4.0, 3.0, -3.0, 2.0, -2.0]);
        h.push(&(0..20).map(|i| i as f32).collect::<Vec<_>>());
        assert_eq!((h.back(1)[0], h.back(4)[1]), (18.0, 13.0));
        h.clear();
        assert_eq!(h.filled(), 0);
        h.fill_reversed(&[1.0, -1.0, 2.0, -2.0, 3.0, -3.0]);
        assert_eq!(
            (h.filled(), h.back(1), h.back(3)),
            (3, &[1.0, -1.0][..], &[3.0, -3.0][..])
        );
    }

    /// Against a plain list of every frame pushed: whatever the packet sizes, the newest
    /// `capacity` frames read back in order, across many moves of the window.
    #[test]
    fn reads_back_the_newest_frames_across_window_moves() {
        let (capacity, ch) = (50, 2);
        let mut h = History::new(capacity, ch);
        let mut all: Vec<f32> = Vec::new();
        let mut next = 0.0f32;
        for n in 0..400usize {
            let frames = (n * 7 + 3) % 61;
            let packet: Vec<f32> = (0..frames * ch)
                .map(|_| {
                    next += 1.0;
                    next
                })
                .collect();
            h.push(&packet);
            all.extend_from_slice(&packet);
            let total = all.len() / ch;
            assert_eq!(h.filled(), total.min(capacity));
            for b in 1..=h.filled() {
                let at = (total - b) * ch;
                assert_eq!(h.back(b), &all[at..at + ch], "packet {n}, back {b}");
            }
        }
    }
}
