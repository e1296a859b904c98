//! Which missing packets to ask for again, and when (RFC 4585 generic NACK).
//!
//! A sequence gap marks packets missing, each with its playout deadline: when the jitter buffer
//! will reach it. A packet is asked for once a short reorder wait has passed (a packet merely
//! reordered must not cost a retransmission), then again after each round trip with backoff,
//! as long as a retransmission could still arrive before the deadline, at most
//! `max_requests` times. All requests share a byte budget of a share (5 %) of the stream's
//! bandwidth. Round trips are measured from the request to the retransmission's arrival, for
//! packets asked for once only (Karn's rule: a later answer could be to either request).

use std::collections::VecDeque;
use std::time::Duration;

use super::budget::TokenBucket;
use crate::rtp::seq::SeqExtender;

/// Most packets tracked as missing; beyond it the oldest are given up (memory stays bounded
/// whatever the loss).
const MAX_MISSING: usize = 2048;

/// Half-life of the reordering the wait remembers.
const REORDER_HALF_LIFE: Duration = Duration::from_secs(30);

/// Longest wait before a first request, however late reordered packets came.
const MAX_REORDER_WAIT: Duration = Duration::from_millis(500);

/// How long a given-up packet is remembered, so that its retransmission, arriving too late, is
/// still recognised as one.
const REMEMBER: Duration = Duration::from_secs(2);

/// IPv4 + UDP headers, charged with each request against the budget.
const LOWER_LAYERS: usize = 28;

/// Two packet durations in wall time, at the nominal rate the scheduler saw (20 ms when
/// unknown); used as slack around arrival times.
fn packet_gap(s: &NackScheduler) -> Duration {
    s.packet_duration().unwrap_or(Duration::from_millis(10)) * 2
}

/// Settings of NACK recovery.
#[derive(Debug, Clone)]
pub struct NackConfig {
    /// Most requests for one packet.
    pub max_requests: u32,
    /// Time kept between a retransmission's expected arrival and the packet's deadline.
    pub margin: Duration,
    /// Round-trip time assumed until one is measured.
    pub initial_rtt: Duration,
    /// Share of the stream's bandwidth requests may use.
    pub bandwidth_share: f64,
    /// A gap of more packets than this is a restart or an outage, not losses to repair.
    pub max_gap: u64,
    /// How late the receiver may see a packet after it arrived (a live network task reads the
    /// socket in batches): a retransmission is waited for this much longer before asking again.
    pub processing_delay: Duration,
}

impl Default for NackConfig {
    fn default() -> Self {
        NackConfig {
            max_requests: 10,
            margin: Duration::from_millis(20),
            initial_rtt: Duration::from_millis(100),
            bandwidth_share: 0.05,
            max_gap: 1000,
            processing_delay: Duration::ZERO,
        }
    }
}

/// Counters of NACK recovery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct NackCounts {
    /// NACK datagrams sent.
    pub nack_sent: u64,
    /// Packets asked for, repeats included.
    pub nack_packets: u64,
    /// Bytes of the NACK datagrams (as sent, without IP/UDP headers).
    pub nack_bytes: u64,
    /// Asked-for packets that arrived in time to play.
    pub recovered: u64,
    /// Asked-for packets that arrived after their turn.
    pub recovered_too_late: u64,
    /// Missing packets given up (deadline too near, or asked for too often) before they came.
    pub given_up: u64,
    /// Requests held back by the bandwidth budget.
    pub rate_limited: u64,
    /// Packets the sender's reports say it sent before the first one received, that did not
    /// arrive in time to play.
    pub lost_before_first: u64,
    /// Packets the sender's reports say it sent after the last one received, that did not
    /// arrive in time to play.
    pub lost_after_last: u64,
}

/// A packet of the source as the scheduler sees it.
#[derive(Debug, Clone, Copy)]
pub struct ReceivedPacket {
    /// Its sequence number.
    pub seq: u16,
    /// Its RTP timestamp.
    pub ts: u32,
    /// Its length in bytes.
    pub len: usize,
    /// When it arrived.
    pub arrival: Duration,
    /// Whether it is the original (`Some(true)`: on the media SSRC while retransmissions come
    /// as RTX), a retransmission (`Some(false)`: RTX), or either (`None`: plain retransmission).
    pub original: Option<bool>,
}

/// What an arriving packet was to the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// A new highest sequence number (or the first packet).
    Next,
    /// A missing packet not asked for yet: reordered, not lost.
    Reordered,
    /// A missing packet that was asked for: a retransmission (or an original, very late).
    Requested,
    /// Neither missing nor new: a duplicate, or from before the first packet.
    Other,
}

/// Where a missing packet lies: between received ones (a gap), or beyond the received range,
/// known only from the sender's reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    Gap,
    BeforeFirst,
    AfterLast,
}

#[derive(Debug, Clone, Copy)]
struct Missing {
    ext: u64,
    seq: u16,
    edge: Edge,
    /// When the gap was seen.
    detected: Duration,
    deadline: Duration,
    next_at: Duration,
    requests: u32,
    last_request: Duration,
    given_up: bool,
}

/// Missing packets of one source and the requests for them (sans-IO).
#[derive(Debug, Clone)]
pub struct NackScheduler {
    cfg: NackConfig,
    ext: SeqExtender,
    /// Extended sequence number, RTP timestamp and arrival of the highest packet.
    highest: Option<(u64, u32)>,
    /// Packet duration in RTP ticks, from the last two consecutive packets.
    packet_ticks: u32,
    /// The media clock rate, from the packets.
    clock_rate: u32,
    missing: VecDeque<Missing>,
    rtt: Option<Duration>,
    reorder_wait: Duration,
    /// How late reordered packets came after their gap was seen (a peak that halves every
    /// 30 s), and when it was last updated.
    reorder_peak: (Duration, Duration),
    first_arrival: Option<Duration>,
    /// Lowest extended number received (in time to play).
    lowest: Option<u64>,
    /// When the newest packet plays (its arrival plus the buffer's time to play then).
    newest_plays_at: Duration,
    /// When the newest packet (a new highest number) arrived, to tell a stream that stopped.
    last_arrival: Duration,
    /// The first packet the sender sent, once a sender report placed it.
    first_sent: Option<u64>,
    /// The last packet sent by the latest report's count.
    reported_last: Option<u64>,
    /// The latest sender report (packet count, RTP timestamp), until it can be placed.
    unplaced_report: Option<(u32, u32)>,
    /// The latest sender report's RTP timestamp and arrival.
    last_report: Option<(u32, Duration)>,
    bytes: u64,
    budget: TokenBucket,
    counts: NackCounts,
}

impl NackScheduler {
    /// A scheduler with no packet seen yet.
    pub fn new(cfg: NackConfig) -> Self {
        NackScheduler {
            cfg,
            ext: SeqExtender::new(),
            highest: None,
            packet_ticks: 0,
            clock_rate: 0,
            missing: VecDeque::with_capacity(64),
            rtt: None,
            reorder_wait: Duration::from_millis(10),
            reorder_peak: (Duration::ZERO, Duration::ZERO),
            first_arrival: None,
            lowest: None,
            newest_plays_at: Duration::ZERO,
            last_arrival: Duration::ZERO,
            first_sent: None,
            reported_last: None,
            unplaced_report: None,
            last_report: None,
            bytes: 0,
            // Two requests' worth at first: the stream's rate is not known yet.
            budget: TokenBucket::new(0.0, 2.0 * Self::cost(1) as f64, Duration::ZERO),
            counts: NackCounts::default(),
        }
    }

    /// Forgets the source (a new one starts): missing packets, extension and round trip.
    pub fn reset(&mut self) {
        *self = NackScheduler::new(self.cfg.clone());
    }

    /// How long a gap waits before its first request at least: packets reordered by less than
    /// this are never asked for. The receiver sets it from the measured jitter; reordering seen
    /// (a missing packet arriving by itself) lengthens the wait beyond it.
    pub fn set_reorder_wait(&mut self, wait: Duration) {
        self.reorder_wait = wait;
    }

    /// The wait in use at `now`: the floor, or a quarter more than the latest reordering seen.
    fn reorder_wait(&self, now: Duration) -> Duration {
        let (peak, at) = self.reorder_peak;
        let halvings = now.saturating_sub(at).as_secs_f64() / REORDER_HALF_LIFE.as_secs_f64();
        let peak = peak.mul_f64(0.5f64.powf(halvings));
        self.reorder_wait.max(peak + peak / 4).min(MAX_REORDER_WAIT)
    }

    fn note_reordering(&mut self, lateness: Duration, now: Duration) {
        let current = self.reorder_wait(now) * 4 / 5;
        self.reorder_peak = (current.max(lateness), now);
    }

    /// One packet's duration, once two consecutive packets told it.
    fn packet_duration(&self) -> Option<Duration> {
        (self.packet_ticks > 0 && self.clock_rate > 0).then(|| {
            Duration::from_secs_f64(f64::from(self.packet_ticks) / f64::from(self.clock_rate))
        })
    }

    /// The round-trip time in use: measured, or the initial guess.
    pub fn rtt(&self) -> Duration {
        self.rtt.unwrap_or(self.cfg.initial_rtt)
    }

    /// The measured round-trip time, once a retransmission has answered a single request.
    pub fn measured_rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// The counters.
    pub fn counts(&self) -> NackCounts {
        self.counts
    }

    /// Packets currently missing and still being asked for.
    pub fn pending(&self) -> usize {
        self.missing.iter().filter(|m| !m.given_up).count()
    }

    /// Takes a packet of the source arriving when the newest audio plays `time_to_play` later
    /// (the buffer's depth); `in_time` if the jitter buffer took it to play.
    pub fn on_packet(
        &mut self,
        p: ReceivedPacket,
        time_to_play: Duration,
        clock_rate: u32,
        in_time: bool,
    ) -> Arrival {
        let ReceivedPacket {
            seq,
            ts,
            len,
            arrival,
            original,
        } = p;
        self.bytes += len as u64;
        self.clock_rate = clock_rate;
        self.first_arrival.get_or_insert(arrival);
        let e = match self.highest {
            // Extended numbers keep the RTP number in their low 16 bits (requests name it).
            None => self.ext.restart_at(seq, (1 << 16) | u64::from(seq)),
            Some(_) => self.ext.extend(seq),
        };
        if self.lowest.is_none_or(|l| e < l) && in_time {
            self.lowest = Some(e);
        }
        let Some((h, h_ts)) = self.highest else {
            self.highest = Some((e, ts));
            self.last_arrival = arrival;
            self.newest_plays_at = arrival + time_to_play;
            return Arrival::Next;
        };
        if e <= h {
            return self.on_earlier(e, arrival, original, in_time);
        }
        self.highest = Some((e, ts));
        self.last_arrival = self.last_arrival.max(arrival);
        self.newest_plays_at = arrival + time_to_play;
        // Packets after the reported last: the stream went on, so the tail was a gap (the
        // jitter buffer counts what of it is lost).
        for m in self
            .missing
            .iter_mut()
            .filter(|m| m.edge == Edge::AfterLast)
        {
            m.edge = Edge::Gap;
            if m.given_up {
                self.counts.lost_after_last = self.counts.lost_after_last.saturating_sub(1);
            }
        }
        let steps = e - h;
        let ticks = ts.wrapping_sub(h_ts);
        let per_step = u64::from(ticks) / steps;
        if (1..=u64::from(clock_rate)).contains(&per_step) && (steps == 1 || self.packet_ticks == 0)
        {
            self.packet_ticks = per_step as u32;
        }
        if steps == 1 {
            return Arrival::Next;
        }
        if steps - 1 > self.cfg.max_gap {
            // A restart or a long outage: nothing there can be repaired in time.
            self.give_up_all();
            return Arrival::Next;
        }
        let packet =
            Duration::from_secs_f64(f64::from(self.packet_ticks) / f64::from(clock_rate.max(1)));
        for m in h + 1..e {
            if self.missing.len() == MAX_MISSING {
                if let Some(old) = self.missing.pop_front() {
                    if !old.given_up {
                        self.counts.given_up += 1;
                    }
                }
            }
            let before = u32::try_from(e - m).unwrap_or(u32::MAX);
            let deadline = (arrival + time_to_play).saturating_sub(packet * before);
            self.missing.push_back(Missing {
                ext: m,
                seq: m as u16,
                edge: Edge::Gap,
                detected: arrival,
                deadline,
                next_at: arrival + self.reorder_wait(arrival),
                requests: 0,
                last_request: arrival,
                given_up: false,
            });
        }
        Arrival::Next
    }

    fn on_earlier(
        &mut self,
        e: u64,
        arrival: Duration,
        original: Option<bool>,
        in_time: bool,
    ) -> Arrival {
        let Ok(i) = self.missing.binary_search_by_key(&e, |m| m.ext) else {
            return Arrival::Other;
        };
        let Some(m) = self.missing.remove(i) else {
            return Arrival::Other;
        };
        if !in_time && !m.given_up {
            self.count_edge_loss(m.edge);
        }
        // Asked for or not, the original itself came late: reordering, to wait out next time
        // (its request, if any, was spurious).
        if m.requests == 0 || original == Some(true) {
            self.note_reordering(arrival.saturating_sub(m.detected), arrival);
            return Arrival::Reordered;
        }
        if m.requests == 1 && !m.given_up {
            let sample = arrival.saturating_sub(m.last_request);
            self.rtt = Some(match self.rtt {
                None => sample,
                Some(r) => (r * 7 + sample) / 8,
            });
        }
        Arrival::Requested
    }

    /// Counts a requested packet's fate: in time to play, or not.
    pub fn count_recovery(&mut self, in_time: bool) {
        if in_time {
            self.counts.recovered += 1;
        } else {
            self.counts.recovered_too_late += 1;
        }
    }

    /// Whether `seq` is missing and was asked for (so a packet with it is a retransmission).
    pub fn was_requested(&self, seq: u16) -> bool {
        let e = self.ext.peek(seq);
        self.missing
            .binary_search_by_key(&e, |m| m.ext)
            .is_ok_and(|i| self.missing[i].requests > 0)
    }

    fn give_up_all(&mut self) {
        let mut edges = Vec::new();
        for m in self.missing.iter_mut().filter(|m| !m.given_up) {
            m.given_up = true;
            self.counts.given_up += 1;
            edges.push(m.edge);
        }
        for edge in edges {
            self.count_edge_loss(edge);
        }
    }

    /// When [`NackScheduler::poll`] has something to do next.
    pub fn next_due(&self) -> Option<Duration> {
        self.missing
            .iter()
            .filter(|m| !m.given_up)
            .map(|m| m.next_at.min(self.give_up_at(m)))
            .min()
    }

    /// When a missing packet stops being worth asking for: a retransmission asked for later
    /// could not arrive before its deadline.
    fn give_up_at(&self, m: &Missing) -> Duration {
        (m.deadline + Duration::from_millis(1)).saturating_sub(self.rtt() + self.cfg.margin)
    }

    /// Bytes of a NACK for `n` packets, lower layers included (one FCI entry per packet at
    /// worst, after a reduced-size header and the two SSRCs).
    fn cost(n: usize) -> usize {
        12 + 4 * n + LOWER_LAYERS
    }

    /// Fills `seqs` with the packets to ask for at `now` (empty: none).
    pub fn poll(&mut self, now: Duration, seqs: &mut Vec<u16>) {
        seqs.clear();
        let rate = self.refill_rate(now);
        self.budget
            .set_rate(rate, rate.max(4.0 * Self::cost(1) as f64));
        let rtt = self.rtt();
        let latest_useful = |m: &Missing| now + rtt + self.cfg.margin <= m.deadline;
        let max = self.cfg.max_requests;
        let mut given_up = 0;
        let (mut before, mut after) = (0, 0);
        for m in self.missing.iter_mut().filter(|m| !m.given_up) {
            // Given up as soon as no retransmission could arrive in time, before the jitter
            // buffer reaches it: every loss it conceals was asked for while that could help.
            if m.next_at > now && now + rtt + self.cfg.margin <= m.deadline {
                continue;
            }
            if m.requests >= max || !latest_useful(m) {
                m.given_up = true;
                given_up += 1;
                match m.edge {
                    Edge::Gap => {}
                    Edge::BeforeFirst => before += 1,
                    Edge::AfterLast => after += 1,
                }
                continue;
            }
            seqs.push(m.seq);
        }
        self.counts.given_up += given_up;
        self.counts.lost_before_first += before;
        self.counts.lost_after_last += after;
        // Forget given-up packets once no retransmission of them can still be on its way.
        while self
            .missing
            .front()
            .is_some_and(|m| m.given_up && m.deadline + REMEMBER < now)
        {
            self.missing.pop_front();
        }
        if seqs.is_empty() {
            return;
        }
        // As many of the due packets as the budget affords, oldest (nearest deadline) first.
        let wanted = seqs.len();
        let affordable = (1..=wanted)
            .rev()
            .find(|&k| self.budget.take(Self::cost(k) as f64, now))
            .unwrap_or(0);
        self.counts.rate_limited += (wanted - affordable) as u64;
        seqs.truncate(affordable);
        if seqs.is_empty() {
            // Wait for the budget to hold one request.
            let wait = Duration::from_secs_f64(Self::cost(1) as f64 / rate);
            for m in self
                .missing
                .iter_mut()
                .filter(|m| !m.given_up && m.next_at <= now)
            {
                m.next_at = now + wait;
            }
            return;
        }
        let processing = self.cfg.processing_delay;
        let retry = |requests: u32| {
            let base = rtt + (rtt / 4).max(Duration::from_millis(10)) + processing;
            base.mul_f64(1.5f64.powi(requests.saturating_sub(1) as i32))
                .min(Duration::from_secs(1))
        };
        let mut asked = seqs.iter().peekable();
        for m in self.missing.iter_mut().filter(|m| !m.given_up) {
            if asked.peek() == Some(&&m.seq) && m.next_at <= now {
                asked.next();
                m.requests += 1;
                m.last_request = now;
                m.next_at = now + retry(m.requests);
            }
        }
        self.counts.nack_sent += 1;
        self.counts.nack_packets += seqs.len() as u64;
    }

    /// Counts the bytes of a NACK datagram as sent.
    pub fn count_sent_bytes(&mut self, len: usize) {
        self.counts.nack_bytes += len as u64;
    }

    /// The budget's refill rate in bytes per second: a share of the stream's rate so far.
    fn refill_rate(&self, now: Duration) -> f64 {
        let elapsed = self
            .first_arrival
            .map_or(0.0, |t| now.saturating_sub(t).as_secs_f64())
            .max(1.0);
        (self.bytes as f64 / elapsed * self.cfg.bandwidth_share).max(1.0)
    }
}

mod edge_requests;

#[cfg(test)]
#[path = "nack_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "nack_edge_tests.rs"]
mod edge_tests;
