//! The stream's edges for the NACK scheduler: packets the sender's reports count before the
//! first one received and after the last, which no sequence gap reveals (see [`edges`]).

use std::time::Duration;

use super::{packet_gap, Edge, Missing, NackScheduler, MAX_MISSING};
use crate::rtcp::edges;

impl NackScheduler {
    /// Takes a sender report of the source that arrived at `now`: `count` packets sent up to
    /// the instant its RTP timestamp `report_ts` names.
    ///
    /// The first report places the stream's first packet (see [`edges`]): what was sent before
    /// the first one received is asked for while it can still play before it (playback does
    /// not start later for it), or counted lost. Every report names the last packet sent by
    /// then, for [`NackScheduler::ask_for_tail`].
    pub fn on_sender_report(&mut self, count: u32, report_ts: u32, now: Duration) {
        self.unplaced_report = Some((count, report_ts));
        self.last_report = Some((report_ts, now));
        self.place_report(now);
    }

    fn place_report(&mut self, now: Duration) {
        let Some((count, report_ts)) = self.unplaced_report else {
            return;
        };
        let (Some((h, h_ts)), Some(lowest)) = (self.highest, self.lowest) else {
            return;
        };
        if self.packet_ticks == 0 {
            // One packet so far: the next one gives the packet duration.
            return;
        }
        self.unplaced_report = None;
        if self.first_sent.is_none() {
            // A report's timestamp places it only while packets flow: in a pause it runs on
            // with no packets behind it.
            let flowing = self.last_report.is_some_and(|(_, at)| {
                at.saturating_sub(self.last_arrival) <= self.reorder_wait(now) + packet_gap(self)
            });
            let first = edges::sent_at_report(report_ts, (h, h_ts), self.packet_ticks)
                .and_then(|at| edges::first_sent(at, count))
                .filter(|&first| flowing && first <= lowest);
            let Some(first) = first else {
                tracing::debug!(count, "a sender report that cannot be placed in the stream");
                return;
            };
            self.first_sent = Some(first);
            // The lowest packet's turn: anything before it must be in by then (playback does
            // not start later for it).
            let packet = self.packet_duration().unwrap_or_default();
            let steps = u32::try_from(h.saturating_sub(lowest)).unwrap_or(u32::MAX);
            let deadline = self.newest_plays_at.saturating_sub(packet * steps);
            self.ask_before_first(first, lowest, deadline, now);
        }
        self.reported_last = self.first_sent.and_then(|f| edges::last_sent(f, count));
    }

    /// Marks the packets from `first` up to the lowest received as missing, to play before it.
    fn ask_before_first(&mut self, first: u64, lowest: u64, deadline: Duration, now: Duration) {
        let n = lowest.saturating_sub(first);
        if n == 0 {
            return;
        }
        if n > self.cfg.max_gap {
            tracing::info!(
                packets = n,
                "joined a stream under way: its earlier packets are not asked for"
            );
            return;
        }
        if now + self.rtt() + self.cfg.margin > deadline {
            tracing::info!(packets = n, "the first packets were lost, too late to ask");
            self.counts.lost_before_first += n;
            return;
        }
        tracing::debug!(
            packets = n,
            "the sender's report shows packets before the first"
        );
        let first_arrival = self.first_arrival.unwrap_or(now);
        let next_at = now.max(first_arrival + self.reorder_wait(now));
        for ext in (first..lowest).rev() {
            if self.missing.len() == MAX_MISSING {
                self.counts.lost_before_first += ext + 1 - first;
                break;
            }
            // Below every number tracked: the list stays sorted.
            self.missing.push_front(Missing {
                ext,
                seq: ext as u16,
                edge: Edge::BeforeFirst,
                detected: now,
                deadline,
                next_at,
                requests: 0,
                last_request: now,
                given_up: false,
            });
        }
    }

    /// Asks for the packets the latest sender report counted after the newest one received,
    /// once the stream has stopped (nothing new for a reorder wait and two packets, or
    /// `ended`: the sender said BYE), while the newest audio plays `time_to_play` from `now`.
    pub fn ask_for_tail(
        &mut self,
        now: Duration,
        time_to_play: Duration,
        clock_rate: u32,
        ended: bool,
    ) {
        self.place_report(now);
        let (Some(last), Some((h, h_ts))) = (self.reported_last, self.highest) else {
            return;
        };
        if last <= h || self.packet_ticks == 0 {
            return;
        }
        let packet =
            Duration::from_secs_f64(f64::from(self.packet_ticks) / f64::from(clock_rate.max(1)));
        let stall = self.reorder_wait(now) + packet * 2;
        if !ended && now < self.last_arrival + stall {
            return;
        }
        let n = last - h;
        if n > self.cfg.max_gap {
            return;
        }
        tracing::debug!(
            packets = n,
            "the sender's report shows packets after the last"
        );
        for (k, ext) in (h + 1..=last).enumerate() {
            if self.missing.len() == MAX_MISSING {
                if let Some(old) = self.missing.pop_front() {
                    if !old.given_up {
                        self.counts.given_up += 1;
                        self.count_edge_loss(old.edge);
                    }
                }
            }
            let ahead = u32::try_from(k + 1).unwrap_or(u32::MAX);
            self.missing.push_back(Missing {
                ext,
                seq: ext as u16,
                edge: Edge::AfterLast,
                detected: now,
                deadline: now + time_to_play + packet * ahead,
                next_at: now,
                requests: 0,
                last_request: now,
                given_up: false,
            });
        }
        let ticks = (n as u32).wrapping_mul(self.packet_ticks);
        self.highest = Some((last, h_ts.wrapping_add(ticks)));
    }

    /// Whether packets beyond the received range are still being asked for (the stream must
    /// not end before they come or are given up).
    pub fn awaits_edges(&self) -> bool {
        self.missing
            .iter()
            .any(|m| !m.given_up && m.edge != Edge::Gap)
    }

    /// Whether the latest sender report looks like the sender's last: everything it counted
    /// has arrived or been given up, it was made within two packets of the newest packet's
    /// timestamp (a report during a pause runs on), and nothing came after it.
    pub fn report_says_finished(&self) -> bool {
        let (Some(last), Some((h, h_ts)), Some((report_ts, at))) =
            (self.reported_last, self.highest, self.last_report)
        else {
            return false;
        };
        let since_newest = report_ts.wrapping_sub(h_ts);
        last == h
            && self.unplaced_report.is_none()
            && self.packet_ticks > 0
            && since_newest <= self.packet_ticks * 2
            && self.last_arrival <= at
            && !self.awaits_edges()
    }

    /// Counts a packet beyond the received range as lost (gaps are the jitter buffer's to count).
    pub(super) fn count_edge_loss(&mut self, edge: Edge) {
        match edge {
            Edge::Gap => {}
            Edge::BeforeFirst => self.counts.lost_before_first += 1,
            Edge::AfterLast => self.counts.lost_after_last += 1,
        }
    }
}
