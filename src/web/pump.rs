//! The web side's heartbeat: every [`PERIOD`] it drains the hub's taps, measures the audio's
//! levels, cuts the audio into listeners' chunks, turns counter changes into events and sends
//! one update to every feed client. It runs on the web server's runtime, never on the player's
//! threads.

use std::sync::Arc;
use std::time::Duration;

use ringbuf::traits::{Consumer, Observer};
use serde_json::{json, Value};

use super::hub::{DelayPoint, PcmChunk, Role, WebHub};

/// How often the feed updates (20 a second).
pub const PERIOD: Duration = Duration::from_millis(50);
/// How much history a new dashboard gets.
pub const HISTORY: Duration = Duration::from_secs(60);
/// Delay points kept per update: more (AES67 at 8,000 packets/s) are thinned to the extremes.
const MAX_POINTS: usize = 200;

/// The counters whose increases make the event lane, per role: (event, JSON pointer).
fn event_counters(role: Role) -> &'static [(&'static str, &'static str)] {
    match role {
        Role::Player => &[
            ("lost", "/metrics/lost"),
            ("late", "/metrics/late"),
            ("concealed", "/metrics/concealed_ms"),
            ("nack", "/metrics/nack_packets"),
            ("recovered", "/metrics/recovered"),
            ("restart", "/metrics/resets"),
            ("underrun", "/metrics/underruns"),
            ("rebuffer", "/metrics/rebuffers"),
            ("stretch", "/metrics/stretched_ms"),
            ("silence", "/metrics/silence_adjusted_ms"),
        ],
        Role::Sender => &[
            ("dropped", "/impairment/dropped"),
            ("duplicated", "/impairment/duplicated"),
            ("reordered", "/impairment/reordered"),
            ("errors", "/errors"),
        ],
        Role::Relay => &[
            ("dropped", "/forward/impairment/dropped"),
            ("duplicated", "/forward/impairment/duplicated"),
            ("reordered", "/forward/impairment/reordered"),
            ("errors", "/forward/errors"),
        ],
    }
}

/// The pump's state between two beats.
pub struct Pump {
    hub: Arc<WebHub>,
    statuses: Vec<Value>,
    delays: Vec<DelayPoint>,
    pcm: Vec<f32>,
    scratch: Vec<f32>,
    popped: u64,
    last_counts: Vec<Option<f64>>,
    audio_dropped: u64,
    elapsed: Duration,
    seq: u64,
}

impl Pump {
    /// A pump for `hub`.
    pub fn new(hub: Arc<WebHub>) -> Self {
        let n = event_counters(hub.role()).len();
        Pump {
            hub,
            statuses: Vec::new(),
            delays: Vec::new(),
            pcm: Vec::new(),
            scratch: vec![0.0; 4096],
            popped: 0,
            last_counts: vec![None; n],
            audio_dropped: 0,
            elapsed: Duration::ZERO,
            seq: 0,
        }
    }

    /// Runs a beat every [`PERIOD`] until the runtime ends.
    pub async fn run(mut self) {
        let mut ticker = tokio::time::interval(PERIOD);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            self.beat();
        }
    }

    /// One beat: drain, measure, publish.
    pub fn beat(&mut self) {
        self.elapsed += PERIOD;
        self.statuses.clear();
        self.hub.drain_status(&mut self.statuses);
        self.delays.clear();
        self.hub.drain_delays(&mut self.delays);
        let levels = self.drain_audio();
        let status = self.statuses.last().cloned();
        let t = status
            .as_ref()
            .and_then(|s| s.get("t"))
            .and_then(Value::as_f64)
            .unwrap_or(self.elapsed.as_secs_f64());
        let mut events = Vec::new();
        let statuses = std::mem::take(&mut self.statuses);
        for s in &statuses {
            self.note_events(s, &mut events);
        }
        self.statuses = statuses;
        let metric = |name: &str| {
            status
                .as_ref()
                .and_then(|s| s.pointer(&format!("/metrics/{name}")))
                .and_then(Value::as_f64)
        };
        let point = json!({
            "t": t,
            "depth": metric("depth_ms"),
            "target": metric("target_ms"),
            "ceiling": self.hub.ceiling_ms(),
            "delays": thin(&self.delays),
            "events": events,
            "levels": levels,
        });
        let point_text: Arc<str> = point.to_string().into();
        let web = self.hub.counts().snapshot();
        self.seq += 1;
        // Numbered, so that a client can tell it missed none.
        let update = json!({
            "seq": self.seq,
            "role": self.hub.role(),
            "point": point,
            "status": status,
            "web": web,
        });
        if let Some(status) = status {
            self.hub.set_latest(status);
        }
        let keep = (HISTORY.as_millis() / PERIOD.as_millis()) as usize;
        self.hub
            .publish(point_text, update.to_string().into(), keep);
    }

    fn note_events(&mut self, status: &Value, events: &mut Vec<Value>) {
        let t = status.get("t").and_then(Value::as_f64);
        for (i, (kind, pointer)) in event_counters(self.hub.role()).iter().enumerate() {
            let Some(now) = status.pointer(pointer).and_then(Value::as_f64) else {
                continue;
            };
            let before = self.last_counts[i].replace(now);
            if let Some(before) = before.filter(|b| now > *b) {
                events.push(json!([t, kind, now - before]));
            }
        }
    }

    /// Takes what the tap queued (silence where silence was played), sends it to listeners
    /// in ≤ 20 ms chunks, and returns each channel's [peak, RMS] in dBFS.
    fn drain_audio(&mut self) -> Vec<[f64; 2]> {
        let hub = Arc::clone(&self.hub);
        let mut feed = hub.audio_feed();
        let Some(feed) = feed.as_mut() else {
            return Vec::new();
        };
        let dropped = self.hub.audio_dropped_frames();
        if dropped > self.audio_dropped {
            self.hub
                .counts()
                .listen_tap_dropped_frames
                .add(dropped - self.audio_dropped);
            self.audio_dropped = dropped;
        }
        self.pcm.clear();
        loop {
            let mark = feed.queue.marks.first().copied();
            let limit = mark.map_or(usize::MAX, |m| m.at.saturating_sub(self.popped) as usize);
            let want = limit.min(self.scratch.len());
            let n = feed.queue.samples.pop_slice(&mut self.scratch[..want]);
            self.popped += n as u64;
            self.pcm.extend_from_slice(&self.scratch[..n]);
            match mark {
                Some(m) if self.popped >= m.at => {
                    let silence = (m.samples as usize).min(feed.rate as usize * 2);
                    self.pcm.resize(self.pcm.len() + silence, 0.0);
                    feed.queue.marks.try_pop();
                }
                _ if n == 0 || feed.queue.samples.is_empty() => break,
                _ => {}
            }
        }
        let channels = usize::from(feed.channels.max(1));
        let chunk = (feed.rate as usize / 50).max(1) * channels;
        for piece in self.pcm.chunks(chunk) {
            self.hub.publish_audio(PcmChunk {
                samples: piece.into(),
                rate: feed.rate,
                channels: feed.channels,
            });
        }
        levels(&self.pcm, channels)
    }
}

/// Per channel, [peak, RMS] in dBFS (−120 for silence); empty without audio.
pub fn levels(samples: &[f32], channels: usize) -> Vec<[f64; 2]> {
    if samples.len() < channels || channels == 0 {
        return Vec::new();
    }
    let db = |v: f64| if v > 1e-6 { 20.0 * v.log10() } else { -120.0 };
    (0..channels)
        .map(|c| {
            let (mut peak, mut sum, mut n) = (0.0f64, 0.0f64, 0usize);
            for s in samples.iter().skip(c).step_by(channels) {
                let v = f64::from(*s);
                peak = peak.max(v.abs());
                sum += v * v;
                n += 1;
            }
            [db(peak), db((sum / n.max(1) as f64).sqrt())]
        })
        .collect()
}

/// At most [`MAX_POINTS`] [t, delay] pairs: beyond that, each bucket keeps its largest delay
/// (the spikes are what the chart is for).
fn thin(points: &[DelayPoint]) -> Vec<[f64; 2]> {
    let pair = |p: &DelayPoint| [p.at, f64::from(p.delay_ms)];
    if points.len() <= MAX_POINTS {
        return points.iter().map(pair).collect();
    }
    points
        .chunks(points.len().div_ceil(MAX_POINTS))
        .filter_map(|c| {
            c.iter()
                .max_by(|a, b| a.delay_ms.total_cmp(&b.delay_ms))
                .map(pair)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_of_a_full_scale_square_and_silence() {
        let samples: Vec<f32> = (0..96)
            .flat_map(|i| [if i % 2 == 0 { 1.0 } else { -1.0 }, 0.0])
            .collect();
        let l = levels(&samples, 2);
        assert!(l[0][0].abs() < 1e-9 && l[0][1].abs() < 1e-9, "{l:?}");
        assert_eq!(l[1], [-120.0, -120.0]);
    }

    #[test]
    fn thinning_keeps_the_spikes() {
        let points: Vec<DelayPoint> = (0..1000)
            .map(|i| DelayPoint {
                at: f64::from(i) * 0.001,
                delay_ms: if i == 517 { 90.0 } else { 1.0 },
            })
            .collect();
        let thinned = thin(&points);
        assert!(thinned.len() <= MAX_POINTS);
        assert!(thinned.iter().any(|p| p[1] == 90.0));
    }

    #[test]
    fn counter_increases_become_events_and_audio_reaches_listeners_with_its_silence() {
        let hub = WebHub::new(Role::Player, Some(5000.0));
        let mut status = hub.status_tap().expect("first");
        assert!(hub.status_tap().is_none(), "taken once");
        let mut listener = hub.subscribe_audio();
        let mut tap = hub.attach_audio(1000, 1);
        let mut pump = Pump::new(Arc::clone(&hub));
        status.push(json!({"t": 1.0, "metrics": {"lost": 0, "depth_ms": 40.0, "target_ms": 60.0}}));
        tap.record(&[0.5; 10], 5);
        tap.record(&[0.25; 30], 0);
        pump.beat();
        status.push(json!({"t": 1.1, "metrics": {"lost": 3, "depth_ms": 41.0, "target_ms": 60.0}}));
        pump.beat();
        let history = hub.history();
        assert_eq!(history.len(), 2);
        let last: Value = serde_json::from_str(&history[1]).expect("json");
        assert_eq!(last["events"], json!([[1.1, "lost", 3.0]]));
        assert_eq!(last["depth"], 41.0);
        assert_eq!(last["ceiling"], 5000.0);
        let mut heard = Vec::new();
        while let Ok(chunk) = listener.try_recv() {
            assert!(chunk.samples.len() <= 20, "chunks of at most 20 ms");
            heard.extend_from_slice(&chunk.samples);
        }
        let mut expected = vec![0.5; 10];
        expected.extend([0.0; 5]);
        expected.extend([0.25; 30]);
        assert_eq!(heard, expected);
        assert_eq!(hub.latest().expect("latest")["t"], 1.1);
    }
}
