//! A token bucket on virtual time: how much may be sent (bytes, or packets with cost 1) at a
//! sustained rate with a bounded burst. Retransmissions and NACKs are both limited this way.

use std::time::Duration;

/// Tokens refill at `rate` per second up to `depth`; a send takes its cost or is refused.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    depth: f64,
    tokens: f64,
    last: Duration,
}

impl TokenBucket {
    /// A full bucket at `now`, refilling `rate` per second, holding at most `depth`.
    pub fn new(rate: f64, depth: f64, now: Duration) -> Self {
        let rate = rate.max(0.0);
        let depth = depth.max(0.0);
        TokenBucket {
            rate,
            depth,
            tokens: depth,
            last: now,
        }
    }

    /// Changes the refill rate and depth, keeping what is in the bucket (clamped to the depth).
    pub fn set_rate(&mut self, rate: f64, depth: f64) {
        self.rate = rate.max(0.0);
        self.depth = depth.max(0.0);
        self.tokens = self.tokens.min(self.depth);
    }

    /// Takes `cost` at `now` if that much is there; a time earlier than the last call refills
    /// nothing (the caller's clock is assumed monotonic, a step back is not trusted).
    pub fn take(&mut self, cost: f64, now: Duration) -> bool {
        let dt = now.saturating_sub(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + dt * self.rate).min(self.depth);
        if self.tokens >= cost {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let ms = Duration::from_millis;
        let mut b = TokenBucket::new(1_000.0, 500.0, ms(0));
        assert!(b.take(300.0, ms(0)) && b.take(200.0, ms(0)));
        assert!(!b.take(1.0, ms(0)));
        // 100 ms later, 100 tokens are back.
        assert!(!b.take(101.0, ms(100)));
        assert!(b.take(100.0, ms(100)));
        // Never more than the depth, however long it rests.
        assert!(!b.take(501.0, ms(60_000)));
        assert!(b.take(500.0, ms(60_000)));
    }
}
