//! The status line's picture of the last ~30 s: buffer depth against the target, one cell per
//! second. A cell's height is the depth in eighths of twice the target (the target sits half-way
//! up), so a level drifting down or a rebuffer shows at a glance; cells below the target are red
//! on a colour terminal (plain with NO_COLOR).

use std::collections::VecDeque;

/// Cells kept (seconds of history).
const CELLS: usize = 30;
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The depth history behind the sparkline.
#[derive(Debug)]
pub struct DepthHistory {
    cells: VecDeque<(f64, f64)>,
    next_at: f64,
    colour: bool,
}

impl DepthHistory {
    /// An empty history; `colour` marks the cells below target in red.
    pub fn new(colour: bool) -> Self {
        Self {
            cells: VecDeque::with_capacity(CELLS),
            next_at: 0.0,
            colour,
        }
    }

    /// Whether colour is allowed: not when NO_COLOR is set (any value, see no-color.org).
    pub fn colour_allowed() -> bool {
        std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    }

    /// Notes the depth and target (ms) at `t` seconds; keeps one cell per second.
    pub fn push(&mut self, t: f64, depth_ms: f64, target_ms: f64) {
        if t < self.next_at {
            return;
        }
        self.next_at = t.floor() + 1.0;
        if self.cells.len() == CELLS {
            self.cells.pop_front();
        }
        self.cells
            .push_back((depth_ms.max(0.0), target_ms.max(0.0)));
    }

    /// The sparkline, oldest cell first.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(self.cells.len() * 12);
        for &(depth, target) in &self.cells {
            let full = (2.0 * target).max(1.0);
            let level = ((depth / full) * BARS.len() as f64).floor() as usize;
            let bar = BARS[level.min(BARS.len() - 1)];
            if self.colour && depth < target {
                out.push_str("\x1b[31m");
                out.push(bar);
                out.push_str("\x1b[0m");
            } else {
                out.push(bar);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cell_a_second_scaled_to_twice_the_target() {
        let mut h = DepthHistory::new(false);
        for tenth in 0..50 {
            let t = f64::from(tenth) / 10.0;
            // 3 s target: full, on target, empty, a burst above, half.
            let depth = [6000.0, 3000.0, 0.0, 9000.0, 1500.0][tenth as usize / 10];
            h.push(t, depth, 3000.0);
        }
        assert_eq!(h.render(), "█▅▁█▃");
    }

    #[test]
    fn keeps_the_last_thirty_seconds_and_colours_below_target() {
        let mut h = DepthHistory::new(true);
        for s in 0..40 {
            h.push(f64::from(s), if s == 39 { 100.0 } else { 3000.0 }, 3000.0);
        }
        let line = h.render();
        assert_eq!(line.matches('▅').count(), 29);
        assert!(line.ends_with("\x1b[31m▁\x1b[0m"), "{line:?}");
        let plain = DepthHistory::new(false);
        assert_eq!(plain.render(), "");
    }
}
