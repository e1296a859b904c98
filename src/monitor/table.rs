//! The monitor's core: every datagram in, streams found, named and measured, idle ones ended,
//! and a report out each second (sans-IO: time is an argument, inputs are numbered sockets).
//!
//! Streams live in a slab (a vector of slots reused as streams end) found by (sender, receiver,
//! SSRC). At most `max_streams` are tracked; the others are counted, never measured. SIP
//! messages seen on the way name payload types per call (live captures and capture files), as
//! `streams` does for a whole capture.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::counts::HealthCounts;
use super::stream::{MonitoredStream, StreamKey, StreamRow};
use super::MonitorConfig;
use crate::capture::bindings::PayloadBindings;
use crate::capture::naming::{name_payload, FirstUse};
use crate::capture::sip;
use crate::rtcp::wire::{self, looks_like_rtcp, Event};
use crate::rtp::header::RtpHeader;

/// Untracked streams remembered (to count each once); past it, only their packets are counted.
const UNTRACKED_KEYS: usize = 65_536;

/// Call-IDs remembered by media endpoint; past it the map starts over.
const CALL_ENDPOINTS: usize = 65_536;

/// A stream that said BYE is ended this long after its last packet (late packets still count).
const AFTER_BYE: Duration = Duration::from_secs(2);

/// What one report holds.
#[derive(Debug, Clone, Serialize)]
pub struct MonitorReport {
    /// Seconds since the monitor started.
    pub t: f64,
    /// The monitor's own counters.
    pub health: HealthCounts,
    /// Every tracked stream.
    pub streams: Vec<StreamRow>,
    /// Streams that ended since the last report, with their final figures.
    pub ended: Vec<StreamRow>,
}

/// Many streams, watched at once.
#[derive(Debug)]
pub struct Monitor {
    cfg: MonitorConfig,
    slab: Vec<Option<MonitoredStream>>,
    free: Vec<usize>,
    index: HashMap<StreamKey, usize>,
    untracked: HashSet<StreamKey>,
    bindings: PayloadBindings,
    call_ids: HashMap<SocketAddr, Arc<str>>,
    /// Per socket: datagrams it dropped that no stream's gap has claimed yet.
    credit: Vec<u64>,
    health: HealthCounts,
    next_id: u64,
    ended: Vec<StreamRow>,
    scratch: Vec<f32>,
}

impl Monitor {
    /// A monitor configured by `cfg`; `bindings` names payload types from the SDP given up
    /// front (files, `--format`).
    pub fn new(cfg: MonitorConfig, bindings: PayloadBindings) -> Self {
        Monitor {
            cfg,
            slab: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            untracked: HashSet::new(),
            bindings,
            call_ids: HashMap::new(),
            credit: Vec::new(),
            health: HealthCounts::default(),
            next_id: 1,
            ended: Vec::new(),
            scratch: Vec::with_capacity(8192),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MonitorConfig {
        &self.cfg
    }

    /// Streams tracked now.
    pub fn tracked(&self) -> usize {
        self.index.len()
    }

    /// Takes one UDP datagram from `src` to `dst` that arrived at `now` on input `socket`.
    pub fn on_datagram(
        &mut self,
        now: Duration,
        socket: usize,
        src: Option<SocketAddr>,
        dst: Option<SocketAddr>,
        data: &[u8],
    ) {
        self.health.datagrams += 1;
        if sip::is_sip(data) {
            self.on_sip(now, src, data);
            return;
        }
        if looks_like_rtcp(data) {
            self.health.rtcp += 1;
            self.on_rtcp(now, src, data);
            return;
        }
        let Ok(header) = RtpHeader::parse(data) else {
            self.health.not_rtp += 1;
            return;
        };
        let key = (src, dst, header.ssrc);
        let Some(slot) = self.find_or_start(key, socket, now) else {
            self.health.untracked_packets += 1;
            if self.untracked.len() < UNTRACKED_KEYS && self.untracked.insert(key) {
                self.health.untracked_streams += 1;
            }
            return;
        };
        let stream = self.slab[slot].as_mut().expect("indexed slots are full");
        if stream.payload_index(header.payload_type).is_none() {
            let first = FirstUse {
                src,
                dst,
                at: now,
                packets: 0,
            };
            let named = name_payload(
                header.payload_type,
                first,
                &self.bindings,
                std::iter::empty(),
            );
            stream.add_payload(named, &self.cfg);
        }
        if self.credit.len() <= socket {
            self.credit.resize(socket + 1, 0);
        }
        stream.on_rtp(
            now,
            &header,
            data,
            &mut self.credit[socket],
            &mut self.scratch,
        );
    }

    /// The kernel dropped `n` datagrams on the monitor's socket `socket` just before the next
    /// one it reads: the next gap a stream of that socket shows is the monitor's.
    pub fn on_monitor_drops(&mut self, socket: usize, n: u64) {
        if self.credit.len() <= socket {
            self.credit.resize(socket + 1, 0);
        }
        self.credit[socket] += n;
        self.health.kernel_drops += n;
    }

    /// The capture library dropped `n` packets since it last said (a live capture reports
    /// its drops only now and then, after the gaps were seen): they are taken back from the
    /// streams' gaps not yet settled, and what no gap accounts for is unattributed.
    pub fn on_capture_drops(&mut self, n: u64) {
        self.health.capture_drops += n;
        let mut left = n;
        for s in self.slab.iter_mut().flatten() {
            if left == 0 {
                break;
            }
            left -= s.credit_recent(left);
        }
        self.health.unattributed_drops += left;
    }

    /// Runs the clock to `now`: plays the player models out and ends streams idle for longer
    /// than `--idle` (or past a BYE). Monitor drops no gap claimed by now are counted as
    /// unattributed: a stream's next packet shows its gap well within a tick.
    pub fn tick(&mut self, now: Duration) {
        for c in &mut self.credit {
            self.health.unattributed_drops += std::mem::take(c);
        }
        let idle = self.cfg.idle;
        let mut ending = Vec::new();
        for (i, s) in self.slab.iter_mut().enumerate() {
            let Some(s) = s.as_mut() else { continue };
            let quiet = now.saturating_sub(s.last_at);
            if quiet > idle || (s.said_bye && quiet > AFTER_BYE) {
                ending.push(i);
            } else {
                s.advance(now);
            }
        }
        for i in ending {
            self.end(i, now);
        }
    }

    /// Ends every stream (the input is over).
    pub fn finish(&mut self, now: Duration) {
        for i in 0..self.slab.len() {
            if self.slab[i].is_some() {
                self.end(i, now);
            }
        }
    }

    /// The report as of `now`: every tracked stream's row, and the streams ended since the last.
    pub fn report(&mut self, now: Duration) -> MonitorReport {
        let mut health = self.health;
        health.tracked = self.index.len() as f64;
        let cfg = &self.cfg;
        let streams = self
            .slab
            .iter_mut()
            .flatten()
            .map(|s| s.row(now, cfg))
            .collect();
        MonitorReport {
            t: now.as_secs_f64(),
            health,
            streams,
            ended: std::mem::take(&mut self.ended),
        }
    }

    fn find_or_start(&mut self, key: StreamKey, socket: usize, now: Duration) -> Option<usize> {
        if let Some(&i) = self.index.get(&key) {
            return Some(i);
        }
        if self.index.len() >= self.cfg.max_streams {
            return None;
        }
        let mut stream = MonitoredStream::new(self.next_id, key, socket, now);
        self.next_id += 1;
        stream.call_id = [key.1, key.0]
            .iter()
            .flatten()
            .find_map(|a| self.call_ids.get(a).cloned());
        let i = match self.free.pop() {
            Some(i) => {
                self.slab[i] = Some(stream);
                i
            }
            None => {
                self.slab.push(Some(stream));
                self.slab.len() - 1
            }
        };
        self.index.insert(key, i);
        self.untracked.remove(&key);
        self.health.started += 1;
        Some(i)
    }

    fn end(&mut self, i: usize, now: Duration) {
        let Some(mut s) = self.slab[i].take() else {
            return;
        };
        s.advance(now);
        s.settle();
        self.ended.push(s.row(now, &self.cfg));
        self.index.remove(&s.key);
        self.free.push(i);
        self.health.ended += 1;
    }

    fn on_sip(&mut self, now: Duration, src: Option<SocketAddr>, data: &[u8]) {
        self.health.sip += 1;
        self.bindings.sip_messages += 1;
        let Some(sighting) = sip::sighting(now, src, data) else {
            return;
        };
        if let Some(call) = sip::call_id(data) {
            let call: Arc<str> = Arc::from(call);
            if self.call_ids.len() > CALL_ENDPOINTS {
                self.call_ids.clear();
            }
            for m in &sighting.media {
                if let Some(ip) = m.connection.or(src.map(|a| a.ip())) {
                    self.call_ids
                        .insert(SocketAddr::new(ip, m.port), Arc::clone(&call));
                }
            }
        }
        self.bindings.add(sighting);
    }

    fn on_rtcp(&mut self, now: Duration, src: Option<SocketAddr>, data: &[u8]) {
        let slab = &mut self.slab;
        let mut each = |ssrc: u32, from_source: bool, f: &mut dyn FnMut(&mut MonitoredStream)| {
            for s in slab.iter_mut().flatten() {
                // The source's own reports come from its address (RTCP on the next port).
                let ours = !from_source || s.key.0.map(|a| a.ip()) == src.map(|a| a.ip());
                if s.key.2 == ssrc && ours {
                    f(s);
                }
            }
        };
        let _ = wire::parse(data, |event| match event {
            Event::SenderReport { ssrc, info } => {
                each(ssrc, true, &mut |s| s.on_sender_report(now, &info));
            }
            Event::Reception { block, .. } => {
                each(block.ssrc, false, &mut |s| {
                    s.on_reception_report(now, &block)
                });
            }
            Event::Bye { ssrc } => each(ssrc, true, &mut |s| s.said_bye = true),
            _ => {}
        });
    }
}
