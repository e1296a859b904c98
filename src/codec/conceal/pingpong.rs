//! The faded repeat for audio without a pitch: the newest audio played back and forth.
//!
//! Backwards from the newest sample, then forwards, and so on ("ping-pong"): each step moves
//! between neighbouring samples, so the repeat continues the last played sample without a jump
//! and never jumps at its own turning points, as a plain forward repeat would at every wrap.

use super::history::History;

/// Position of the back-and-forth repeat inside the newest `span` frames of a history.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PingPong {
    /// Frames before the end of the history (1 = the newest).
    back: usize,
    /// Moving towards older audio.
    receding: bool,
    span: usize,
}

impl PingPong {
    /// Starts just before the newest frame, moving back, within the newest `span` frames.
    pub(super) fn start(history: &History, span: usize) -> Self {
        let span = span.min(history.filled());
        PingPong {
            back: 2.min(span),
            receding: true,
            span,
        }
    }

    /// The current frame (silence if the history is empty), then a step.
    pub(super) fn next<'h>(&mut self, history: &'h History) -> Option<&'h [f32]> {
        if self.span == 0 {
            return None;
        }
        let frame = history.back(self.back.clamp(1, self.span));
        if self.span > 1 {
            if self.receding && self.back == self.span {
                self.receding = false;
            } else if !self.receding && self.back == 1 {
                self.receding = true;
            }
            if self.receding {
                self.back += 1;
            } else {
                self.back -= 1;
            }
        }
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goes_back_and_forth_between_neighbours() {
        let mut h = History::new(8, 1);
        h.push(&[1.0, 2.0, 3.0, 4.0]);
        let mut p = PingPong::start(&h, 3);
        let seq: Vec<f32> = (0..8).filter_map(|_| p.next(&h).map(|f| f[0])).collect();
        assert_eq!(seq, [3.0, 2.0, 3.0, 4.0, 3.0, 2.0, 3.0, 4.0]);
        let empty = History::new(8, 1);
        assert!(PingPong::start(&empty, 3).next(&empty).is_none());
    }
}
