//! Where a running command meets the web server: take-once lock-free taps the player pushes
//! into (status, packet delays, the audio played), and what the server hands to its clients
//! (the latest status, 60 s of history, the live feed, the audio for listeners).
//!
//! The player side only ever pushes into SPSC rings and never blocks: if the web side falls
//! behind, points and frames are dropped and counted. It does not know whether any client
//! exists. The web side (the pump, `pump.rs`) drains the rings on its own runtime.

use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::Utf8Bytes;
use ringbuf::traits::{Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};
use tokio::sync::broadcast;

use super::counts::WebStats;
use crate::playback::record_tap::{record_queue, RecordQueue, RecordStats, RecordTap};

/// Status objects queued between two drains (the player pushes at most 10 a second).
const STATUS_QUEUE: usize = 64;
/// Packet delay points queued between two drains (8,000 packets/s for 50 ms is 400).
const DELAY_QUEUE: usize = 16_384;
/// Seconds of played audio the tap holds for the web side.
const AUDIO_QUEUE_SECONDS: usize = 2;
/// Feed updates a client may have queued (the feed runs at 20 a second: about 1 s).
pub const CLIENT_QUEUE: usize = 20;
/// Audio chunks a listener may have queued (≤ 20 ms each: about 1.3 s).
pub const LISTENER_QUEUE: usize = 64;

/// What kind of command feeds the hub: it decides the dashboard's charts and event lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// `play` and `demo`: a receiving player.
    Player,
    /// `send`: a sender.
    Sender,
    /// `relay`: an impairing relay.
    Relay,
}

/// One packet's delay as the jitter buffer saw it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DelayPoint {
    /// Arrival, in seconds since the command started.
    pub at: f64,
    /// One-way delay above the smallest seen lately, in milliseconds.
    pub delay_ms: f32,
}

/// A piece of the audio played (≤ 20 ms), interleaved.
#[derive(Debug, Clone)]
pub struct PcmChunk {
    /// The samples, full scale ±1.0.
    pub samples: Arc<[f32]>,
    /// Frames per second.
    pub rate: u32,
    /// Channels.
    pub channels: u16,
}

/// The played audio's queue as the web side drains it.
pub struct AudioFeed {
    /// Frames per second.
    pub rate: u32,
    /// Channels.
    pub channels: u16,
    /// The tap's queue.
    pub queue: RecordQueue,
}

/// A status source read by the web side itself (send and relay keep lock-free counters).
pub type StatusPoll = Box<dyn Fn() -> serde_json::Value + Send + Sync>;

/// The meeting point of one command and its web server.
pub struct WebHub {
    role: Role,
    ceiling_ms: Option<f64>,
    status_tap: Mutex<Option<HeapProd<serde_json::Value>>>,
    status_queue: Mutex<HeapCons<serde_json::Value>>,
    status_poll: Mutex<Option<StatusPoll>>,
    delay_tap: Mutex<Option<HeapProd<DelayPoint>>>,
    delay_queue: Mutex<HeapCons<DelayPoint>>,
    audio: Mutex<Option<AudioFeed>>,
    audio_stats: Arc<RecordStats>,
    latest: Mutex<Option<serde_json::Value>>,
    history: Mutex<VecDeque<Arc<str>>>,
    updates: broadcast::Sender<Utf8Bytes>,
    pcm: broadcast::Sender<PcmChunk>,
    counts: Arc<WebStats>,
    /// Feed clients connected now.
    pub ws_active: AtomicUsize,
    /// Listeners connected now.
    pub listen_active: AtomicUsize,
}

impl std::fmt::Debug for WebHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebHub").field("role", &self.role).finish()
    }
}

/// Locks a mutex the web side and set-up share, whatever a panicking holder left.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl WebHub {
    /// A hub for a command of `role`; `ceiling_ms` is the buffer's configured maximum target.
    pub fn new(role: Role, ceiling_ms: Option<f64>) -> Arc<Self> {
        let (status_tx, status_rx) = HeapRb::new(STATUS_QUEUE).split();
        let (delay_tx, delay_rx) = HeapRb::new(DELAY_QUEUE).split();
        Arc::new(WebHub {
            role,
            ceiling_ms,
            status_tap: Mutex::new(Some(status_tx)),
            status_queue: Mutex::new(status_rx),
            status_poll: Mutex::new(None),
            delay_tap: Mutex::new(Some(delay_tx)),
            delay_queue: Mutex::new(delay_rx),
            audio: Mutex::new(None),
            audio_stats: Arc::default(),
            latest: Mutex::new(None),
            history: Mutex::new(VecDeque::new()),
            updates: broadcast::channel(CLIENT_QUEUE).0,
            pcm: broadcast::channel(LISTENER_QUEUE).0,
            counts: Arc::default(),
            ws_active: AtomicUsize::new(0),
            listen_active: AtomicUsize::new(0),
        })
    }

    /// The command's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The buffer's configured ceiling, in ms (players).
    pub fn ceiling_ms(&self) -> Option<f64> {
        self.ceiling_ms
    }

    /// The web server's counters.
    pub fn counts(&self) -> &Arc<WebStats> {
        &self.counts
    }

    /// The producer of status objects (the `--stats-json` object), for the thread that builds
    /// them; `None` after the first call.
    pub fn status_tap(&self) -> Option<StatusTap> {
        lock(&self.status_tap).take().map(|ring| StatusTap { ring })
    }

    /// Lets the web side read the status itself, for commands whose counters are lock-free.
    pub fn poll_status_with(&self, poll: StatusPoll) {
        *lock(&self.status_poll) = Some(poll);
    }

    /// The producer of packet delay points, for the thread that runs the jitter buffer;
    /// `None` after the first call.
    pub fn delay_tap(&self) -> Option<DelayTap> {
        lock(&self.delay_tap).take().map(|ring| DelayTap {
            ring,
            counts: Arc::clone(&self.counts),
        })
    }

    /// The played audio is `rate` Hz, `channels` channels: returns the tap the output
    /// callback feeds (it only ever pushes into a lock-free queue).
    pub fn attach_audio(&self, rate: u32, channels: u16) -> RecordTap {
        let frames = rate as usize * AUDIO_QUEUE_SECONDS;
        let (tap, queue) =
            record_queue(frames, usize::from(channels), Arc::clone(&self.audio_stats));
        *lock(&self.audio) = Some(AudioFeed {
            rate,
            channels,
            queue,
        });
        tap
    }

    /// The latest status object (what `/stats.json` serves).
    pub fn latest(&self) -> Option<serde_json::Value> {
        lock(&self.latest).clone()
    }

    /// The history a new dashboard starts with (oldest first).
    pub fn history(&self) -> Vec<Arc<str>> {
        lock(&self.history).iter().cloned().collect()
    }

    /// A new feed client's queue.
    pub fn subscribe_updates(&self) -> broadcast::Receiver<Utf8Bytes> {
        self.updates.subscribe()
    }

    /// A new listener's queue.
    pub fn subscribe_audio(&self) -> broadcast::Receiver<PcmChunk> {
        self.pcm.subscribe()
    }

    /// The audio format, once the player knows it.
    pub fn audio_format(&self) -> Option<(u32, u16)> {
        lock(&self.audio).as_ref().map(|a| (a.rate, a.channels))
    }

    // The pump's side.

    pub(super) fn drain_status(&self, into: &mut Vec<serde_json::Value>) {
        use ringbuf::traits::Consumer;
        into.extend(lock(&self.status_queue).pop_iter());
        if let Some(poll) = lock(&self.status_poll).as_ref() {
            into.push(poll());
        }
    }

    pub(super) fn drain_delays(&self, into: &mut Vec<DelayPoint>) {
        use ringbuf::traits::Consumer;
        into.extend(lock(&self.delay_queue).pop_iter());
    }

    pub(super) fn audio_feed(&self) -> MutexGuard<'_, Option<AudioFeed>> {
        lock(&self.audio)
    }

    pub(super) fn audio_dropped_frames(&self) -> u64 {
        self.audio_stats.snapshot().record_dropped_frames
    }

    pub(super) fn set_latest(&self, status: serde_json::Value) {
        *lock(&self.latest) = Some(status);
    }

    pub(super) fn publish(&self, point: Arc<str>, update: Utf8Bytes, keep: usize) {
        {
            let mut history = lock(&self.history);
            if history.len() == keep {
                history.pop_front();
            }
            history.push_back(point);
        }
        // No receiver is not an error: nobody is watching.
        let _ = self.updates.send(update);
    }

    pub(super) fn publish_audio(&self, chunk: PcmChunk) {
        if self.pcm.receiver_count() > 0 {
            let _ = self.pcm.send(chunk);
        }
    }
}

/// The status producer: pushes never block; a full queue drops the object.
pub struct StatusTap {
    ring: HeapProd<serde_json::Value>,
}

impl StatusTap {
    /// Queues one status object (dropped if the web side is behind).
    pub fn push(&mut self, status: serde_json::Value) {
        let _ = self.ring.try_push(status);
    }
}

/// The packet delay producer: pushes never block; a full queue drops and counts the point.
pub struct DelayTap {
    ring: HeapProd<DelayPoint>,
    counts: Arc<WebStats>,
}

impl DelayTap {
    /// Queues one packet's delay.
    pub fn push(&mut self, point: DelayPoint) {
        if self.ring.try_push(point).is_err() {
            self.counts.feed_dropped_points.add(1);
        }
    }
}
