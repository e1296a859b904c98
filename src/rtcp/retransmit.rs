//! Answering NACKs (sans-IO): the NACKed sequence numbers wait in a bounded queue and are
//! answered from the [`SentHistory`], as RFC 4588 RTX or as the original packet again, within
//! a retransmission budget, and at most once per round trip for the same packet.

use std::collections::VecDeque;
use std::time::Duration;

use super::budget::TokenBucket;
use super::history::{SentHistory, DEFAULT_MAX_BYTES};
use super::sender_counts::SenderRtcpCounts;

/// Share of the session bandwidth retransmissions may use: enough to repair 20 % loss in
/// bursts with room for a second try, while a NACK flood cannot double the stream.
const RETRANSMIT_SHARE: f64 = 0.5;
/// Retransmission burst allowance, in seconds of the retransmission rate.
const RETRANSMIT_BURST_S: f64 = 1.0;
/// Most NACKed sequence numbers waiting to be answered; more are counted and dropped.
const MAX_PENDING: usize = 1_024;
/// A repeated NACK for a packet retransmitted less than this long ago (without an RTT yet) is
/// the same request again, not news that the retransmission was lost.
const DEFAULT_REPEAT_WINDOW: Duration = Duration::from_millis(20);
/// The shortest repeat window, whatever the RTT.
const MIN_REPEAT_WINDOW: Duration = Duration::from_millis(5);

/// The RFC 4588 retransmission stream: its payload type and SSRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtxConfig {
    /// RTX payload type (announced with `apt=` the media payload type).
    pub pt: u8,
    /// RTX SSRC, distinct from the media SSRC.
    pub ssrc: u32,
}

/// The sent-packet history and the NACKs waiting on it.
#[derive(Debug)]
pub struct Retransmitter {
    history: SentHistory,
    keep: bool,
    rtx: Option<RtxConfig>,
    rtx_seq: u16,
    budget: TokenBucket,
    session_octets_per_s: f64,
    largest_packet: usize,
    /// NACKed sequence numbers and when the NACK came, oldest first.
    pending: VecDeque<(u16, Duration)>,
}

impl Retransmitter {
    /// Keeps packets for `history` (none if zero), answers as `rtx` (first RTX sequence number
    /// `rtx_seq`) or plainly, within a budget from the stream rate; starts at `now`.
    pub fn new(
        history: Duration,
        rtx: Option<RtxConfig>,
        rtx_seq: u16,
        session_octets_per_s: f64,
        now: Duration,
    ) -> Self {
        let rate = session_octets_per_s.max(1.0);
        let share = rate * RETRANSMIT_SHARE;
        Retransmitter {
            history: SentHistory::new(history, DEFAULT_MAX_BYTES),
            keep: !history.is_zero(),
            rtx,
            rtx_seq,
            budget: TokenBucket::new(share, burst_depth(share, 0), now),
            session_octets_per_s: rate,
            largest_packet: 0,
            pending: VecDeque::with_capacity(MAX_PENDING),
        }
    }

    /// Keeps a sent packet (sequence number `seq`).
    pub fn record(&mut self, seq: u16, packet: &[u8], now: Duration) {
        if packet.len() > self.largest_packet {
            self.largest_packet = packet.len();
            self.resize_budget(now);
        }
        if self.keep {
            self.history.insert(seq, packet, now);
        }
    }

    /// Queues a NACKed sequence number (once, however often it is asked for while waiting).
    pub fn queue(&mut self, seq: u16, now: Duration, counts: &mut SenderRtcpCounts) {
        if self.pending.iter().any(|&(s, _)| s == seq) {
            counts.repeated_nacks += 1;
        } else if self.pending.len() >= MAX_PENDING {
            counts.pending_overflow += 1;
        } else {
            self.pending.push_back((seq, now));
        }
    }

    /// When the oldest waiting NACK came (it is due at once), if one waits.
    pub fn waiting_since(&self) -> Option<Duration> {
        self.pending.front().map(|&(_, at)| at)
    }

    /// Packets held for retransmission now.
    pub fn history_len(&self) -> usize {
        self.history.len()
    }

    /// Updates the stream rate the budget is a share of.
    pub fn set_session_rate(&mut self, octets_per_s: f64, now: Duration) {
        self.session_octets_per_s = octets_per_s.max(1.0);
        self.resize_budget(now);
    }

    /// Answers the oldest answerable NACK into `out` (repeats within `srtt`-ish are answered
    /// once); `false` when none is left.
    pub fn poll(
        &mut self,
        now: Duration,
        srtt: Option<Duration>,
        out: &mut Vec<u8>,
        counts: &mut SenderRtcpCounts,
    ) -> bool {
        self.history.expire(now);
        // A NACK repeated sooner than a round trip after our answer cannot mean the answer was
        // lost: the receiver could not have noticed yet.
        let window = srtt
            .map_or(DEFAULT_REPEAT_WINDOW, |rtt| rtt * 3 / 4)
            .max(MIN_REPEAT_WINDOW);
        while let Some((seq, _)) = self.pending.pop_front() {
            let Some(stored) = self.history.get(seq) else {
                counts.not_in_history += 1;
                continue;
            };
            if stored
                .retransmitted_at
                .is_some_and(|t| now.saturating_sub(t) < window)
            {
                counts.repeated_nacks += 1;
                continue;
            }
            let overhead = if self.rtx.is_some() { 2 } else { 0 };
            if !self
                .budget
                .take((stored.bytes.len() + overhead) as f64, now)
            {
                counts.rate_limited += 1;
                continue;
            }
            let wrote = match self.rtx {
                Some(rtx) => {
                    let ok = super::rtx::wrap(stored.bytes, rtx.pt, self.rtx_seq, rtx.ssrc, out);
                    self.rtx_seq = self.rtx_seq.wrapping_add(u16::from(ok));
                    ok
                }
                None => {
                    out.clear();
                    out.extend_from_slice(stored.bytes);
                    true
                }
            };
            if wrote {
                self.history.mark_retransmitted(seq, now);
                counts.retransmitted += 1;
                counts.retransmitted_bytes += out.len() as u64;
                return true;
            }
        }
        false
    }

    /// Sets the budget from the stream rate and the largest packet so far.
    fn resize_budget(&mut self, now: Duration) {
        // Refill up to `now` at the old rate before the rate changes.
        self.budget.take(0.0, now);
        let share = self.session_octets_per_s * RETRANSMIT_SHARE;
        self.budget
            .set_rate(share, burst_depth(share, self.largest_packet));
    }
}

/// The burst allowance at retransmission rate `rate`: a second of it, and never less than two
/// of the largest packets, so a slow stream of big packets can still be repaired.
fn burst_depth(rate: f64, largest_packet: usize) -> f64 {
    (rate * RETRANSMIT_BURST_S).max(2.0 * (largest_packet + 2) as f64)
}
