//! Capture times turned into arrival times, the one place every consumer (`streams`, `play`,
//! `simulate`) gets them from.
//!
//! A capture's clock can jump: a flipped bit in one record's timestamp (days or millions of
//! years), files concatenated hours apart, a clock stepped back by NTP. Taken literally, a
//! replay would render every second of such a gap. So a jump forward longer than the idle
//! timeout, or any step back, is a *pause*: it takes no time (the record after it arrives when
//! the record before it did), it is counted, and it is listed with its record number and size.
//! A replay then runs in time proportional to the capture's packets, whatever its timestamps
//! say, and arrival times never run backwards. A single flipped record shows as two pauses:
//! the jump away and the jump back.

use std::time::Duration;

use serde::Serialize;

/// The idle timeout captures are read with unless `--idle-timeout` says otherwise. It is
/// longer than the jitter buffer's default ceiling (5 s), so every silence the buffer could
/// bridge replays as captured, and longer than the 4 s gaps real calls show on hold.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Pauses listed one by one (and logged); any beyond are only counted, so memory stays
/// bounded whatever the file holds.
const LISTED: usize = 32;

/// One skipped pause: where the capture's clock jumped.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimeJump {
    /// Number of the record whose time jumped (1-based, as Wireshark numbers frames).
    pub record: u64,
    /// How far its time is from the previous record's, s (negative: backwards).
    pub jump_s: f64,
    /// Where the pause sits in arrival time, s from the capture's first record.
    pub at_s: f64,
}

/// The pauses skipped in a capture (or in one stream's span of it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeJumps {
    /// Forward jumps longer than this were pauses, s.
    pub idle_timeout_s: f64,
    /// Pauses skipped (forward jumps longer than the idle timeout, and backward jumps).
    pub skipped: u64,
    /// The first of them in capture order, at most 32.
    pub listed: Vec<TimeJump>,
}

impl TimeJumps {
    /// None skipped, with `idle_timeout`.
    pub fn none(idle_timeout: Duration) -> Self {
        TimeJumps {
            idle_timeout_s: idle_timeout.as_secs_f64(),
            skipped: 0,
            listed: Vec::new(),
        }
    }

    /// The pauses between a packet of segment `first` and a later one of segment `last`
    /// (segments count the pauses before a record, see [`Timeline::segment`]).
    pub fn between(&self, first: u64, last: u64) -> TimeJumps {
        let listed = self
            .listed
            .iter()
            .take(usize::try_from(last).unwrap_or(usize::MAX))
            .skip(usize::try_from(first).unwrap_or(usize::MAX))
            .copied()
            .collect();
        TimeJumps {
            idle_timeout_s: self.idle_timeout_s,
            skipped: last.saturating_sub(first),
            listed,
        }
    }

    /// The pause numbered `segment` (the last one before a record of that segment), if listed.
    pub fn ending(&self, segment: u64) -> Option<&TimeJump> {
        let index = usize::try_from(segment.checked_sub(1)?).ok()?;
        self.listed.get(index)
    }

    /// "record 200: +259200.000 s, record 201: -259199.980 s" (and how many more).
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .listed
            .iter()
            .map(|j| format!("record {}: {:+.3} s", j.record, j.jump_s))
            .collect();
        let unlisted = self.skipped.saturating_sub(self.listed.len() as u64);
        if unlisted > 0 {
            parts.push(format!("{unlisted} more"));
        }
        parts.join(", ")
    }
}

/// Gives each record, in capture order, its arrival time.
#[derive(Debug)]
pub struct Timeline {
    idle_timeout: Duration,
    /// Capture-clock time of the previous record.
    previous: Option<Duration>,
    /// Arrival time of the previous record.
    now: Duration,
    jumps: TimeJumps,
}

impl Timeline {
    /// A timeline on which forward jumps longer than `idle_timeout` are pauses.
    pub fn new(idle_timeout: Duration) -> Self {
        Timeline {
            idle_timeout,
            previous: None,
            now: Duration::ZERO,
            jumps: TimeJumps::none(idle_timeout),
        }
    }

    /// The arrival time of record number `record`, stamped `captured` by the capture's clock:
    /// time since the first record, less every pause before it.
    pub fn arrival(&mut self, record: u64, captured: Duration) -> Duration {
        if let Some(previous) = self.previous.replace(captured) {
            match captured.checked_sub(previous) {
                Some(step) if step <= self.idle_timeout => {
                    self.now = self.now.saturating_add(step);
                }
                Some(step) => self.skip(record, step.as_secs_f64()),
                None => self.skip(record, -(previous - captured).as_secs_f64()),
            }
        }
        self.now
    }

    /// Pauses skipped so far: records of different segments have a pause between them, and
    /// the time that passed in it is unknown.
    pub fn segment(&self) -> u64 {
        self.jumps.skipped
    }

    /// The pauses skipped.
    pub fn finish(self) -> TimeJumps {
        let unlisted = self
            .jumps
            .skipped
            .saturating_sub(self.jumps.listed.len() as u64);
        if unlisted > 0 {
            tracing::warn!(
                unlisted,
                "{unlisted} more capture time jumps skipped as pauses (not listed)"
            );
        }
        self.jumps
    }

    fn skip(&mut self, record: u64, jump_s: f64) {
        self.jumps.skipped += 1;
        if self.jumps.listed.len() < LISTED {
            let jump = TimeJump {
                record,
                jump_s,
                at_s: self.now.as_secs_f64(),
            };
            tracing::warn!(
                record,
                jump_s,
                "capture time jumps {jump_s:+.3} s at record {record} ({}): skipped as a pause that takes no time",
                if jump_s < 0.0 {
                    "backwards".to_string()
                } else {
                    format!("longer than the {:?} idle timeout", self.idle_timeout)
                }
            );
            self.jumps.listed.push(jump);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPOCH: Duration = Duration::from_secs(1_700_000_000);

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// Arrival times (ms) and the timeline's pauses for records captured at `times`.
    fn run(times: &[Duration]) -> (Vec<u64>, Vec<u64>, TimeJumps) {
        let mut t = Timeline::new(DEFAULT_IDLE_TIMEOUT);
        let mut arrivals = Vec::new();
        let mut segments = Vec::new();
        for (i, &at) in times.iter().enumerate() {
            arrivals.push(t.arrival(i as u64 + 1, at).as_millis() as u64);
            segments.push(t.segment());
        }
        (arrivals, segments, t.finish())
    }

    #[test]
    fn gaps_up_to_the_idle_timeout_keep_their_length() {
        let times = [
            EPOCH,
            EPOCH + ms(20),
            EPOCH + ms(10_020),
            EPOCH + ms(10_040),
        ];
        let (arrivals, segments, jumps) = run(&times);
        assert_eq!(arrivals, [0, 20, 10_020, 10_040]);
        assert_eq!(segments, [0, 0, 0, 0]);
        assert_eq!(jumps.skipped, 0);
    }

    #[test]
    fn one_record_thrown_forward_is_two_pauses_of_no_time() {
        let three_days = Duration::from_secs(3 * 86_400);
        let times = [
            EPOCH,
            EPOCH + ms(20),
            EPOCH + ms(40) + three_days,
            EPOCH + ms(60),
            EPOCH + ms(80),
        ];
        let (arrivals, segments, jumps) = run(&times);
        assert_eq!(arrivals, [0, 20, 20, 20, 40]);
        assert_eq!(segments, [0, 0, 1, 2, 2]);
        assert_eq!(jumps.skipped, 2);
        let records: Vec<u64> = jumps.listed.iter().map(|j| j.record).collect();
        assert_eq!(records, [3, 4]);
        assert!(
            (jumps.listed[0].jump_s - 259_200.020).abs() < 1e-6,
            "{jumps:?}"
        );
        assert!(
            (jumps.listed[1].jump_s + 259_199.980).abs() < 1e-6,
            "{jumps:?}"
        );
        assert!((jumps.listed[0].at_s - 0.020).abs() < 1e-9);
    }

    #[test]
    fn a_clock_stepped_back_or_far_forward_keeps_time_running_on() {
        // Stepped back an hour at record 3; a million years ahead at record 5.
        let hour = Duration::from_secs(3600);
        let eon = Duration::from_secs(1_000_000 * 365 * 86_400);
        let times = [
            EPOCH,
            EPOCH + ms(20),
            EPOCH + ms(40) - hour,
            EPOCH + ms(60) - hour,
            EPOCH + ms(80) - hour + eon,
            EPOCH + ms(100) - hour + eon,
        ];
        let (arrivals, segments, jumps) = run(&times);
        assert_eq!(arrivals, [0, 20, 20, 40, 40, 60]);
        assert_eq!(segments, [0, 0, 1, 1, 2, 2]);
        assert!((jumps.listed[0].jump_s + 3599.98).abs() < 1e-6, "{jumps:?}");
        assert!(jumps.listed[1].jump_s > 3.1e13, "{jumps:?}");
        assert_eq!(jumps.describe().matches("record").count(), 2);
    }

    #[test]
    fn the_idle_timeout_is_the_threshold() {
        let mut t = Timeline::new(ms(500));
        assert_eq!(t.arrival(1, EPOCH), ms(0));
        assert_eq!(t.arrival(2, EPOCH + ms(500)), ms(500));
        assert_eq!(t.arrival(3, EPOCH + ms(1001)), ms(500));
        assert_eq!(t.finish().listed[0].record, 3);
    }

    #[test]
    fn pauses_beyond_the_listed_ones_are_counted_in_bounded_memory() {
        let mut t = Timeline::new(DEFAULT_IDLE_TIMEOUT);
        for i in 0..10_000u64 {
            // Alternately an hour ahead and back again.
            let hour = Duration::from_secs(3600 * (i % 2));
            t.arrival(i + 1, EPOCH + ms(i * 20) + hour);
        }
        let jumps = t.finish();
        assert_eq!(jumps.skipped, 9_999);
        assert_eq!(jumps.listed.len(), LISTED);
        assert!(jumps
            .describe()
            .ends_with(&format!("{} more", 9_999 - LISTED)));
        // The pauses between the 3rd and the 40th pause: 37 of them, the listed ones named.
        let part = jumps.between(3, 40);
        assert_eq!(part.skipped, 37);
        assert_eq!(part.listed.len(), LISTED - 3);
        assert_eq!(part.listed[0].record, 5);
        assert_eq!(jumps.ending(1).map(|j| j.record), Some(2));
        assert_eq!(jumps.ending(0), None);
    }
}
