//! The capture-file driver: a pcap, pcapng or rtpdump file fed to the [`Monitor`] in capture
//! order with its captured times, at full speed or (`--realtime`) as it was captured.
//!
//! A plain capture is streamed: each datagram goes to the monitor as it is read, none is kept,
//! so memory stays bounded however large the file. SRTP needs the whole capture first (a
//! flow's key is found by trying the keys its SIP/SDP offered anywhere, or `--srtp`), as for
//! `streams` and `play`: when `--srtp` is given, or a SIP message in the stream offers SRTP, the
//! capture is read whole, decrypted, and fed again from the start. SIP over TCP names payload
//! types as SIP over UDP does.
//!
//! At full speed the monitor's measuring side runs on a second thread: the reader routes each
//! batch of datagrams to its streams while the last batch is measured (see `deferred.rs`).

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::deferred::Deferred;
use super::stream_slab::StreamSlab;
use super::{Monitor, MonitorReport};
use crate::capture::reader::{stream_capture, FoundDatagram};
use crate::capture::{read_capture_with, sip, srtp_flows, CaptureError, Datagram};

/// How a capture is fed.
#[derive(Debug, Clone, Copy)]
pub struct CaptureFeed {
    /// Pace the datagrams by their captured times (else as fast as they are read).
    pub realtime: bool,
    /// Report every this long of capture time, while pacing.
    pub interval: Duration,
    /// A clock jump longer than this (or backwards) is a pause, skipped.
    pub idle_timeout: Duration,
}

/// Feeds the capture at `path` to a monitor made by `new_monitor`; `emit` gets a report each
/// `interval` of capture time when pacing; the last report (every stream ended) is returned,
/// not emitted. `stopped` is asked between datagrams.
pub fn run(
    path: &Path,
    new_monitor: impl Fn() -> Monitor,
    feed: CaptureFeed,
    srtp: Option<&crate::srtp::SrtpKeying>,
    stopped: impl Fn() -> bool,
    mut emit: impl FnMut(MonitorReport),
) -> Result<MonitorReport, CaptureError> {
    if srtp.is_none() {
        let mut offers_srtp = false;
        let report = with_measurer(new_monitor(), feed, |paced| {
            stream_capture(path, feed.idle_timeout, |d: FoundDatagram<'_>| {
                if stopped() {
                    return ControlFlow::Break(());
                }
                if offers_srtp_keys(&d) {
                    offers_srtp = true;
                    return ControlFlow::Break(());
                }
                paced.feed(d.at, d.src, d.dst, d.payload, &mut emit);
                ControlFlow::Continue(())
            })
            .map(drop)
        })?;
        if !offers_srtp {
            return Ok(report);
        }
        tracing::info!("the capture's SIP offers SRTP: reading it whole to find each flow's key");
    }
    let mut capture = read_capture_with(path, feed.idle_timeout)?;
    srtp_flows::decrypt(&mut capture, srtp);
    let mut all: Vec<&Datagram> = capture
        .datagrams
        .iter()
        .chain(&capture.sip_over_tcp)
        .collect();
    // Stable: capture order holds among equal times.
    all.sort_by_key(|d| d.at);
    with_measurer(new_monitor(), feed, |paced| {
        for d in all {
            if stopped() {
                break;
            }
            paced.feed(d.at, d.src, d.dst, &d.payload, &mut emit);
        }
        Ok(())
    })
}

/// Batches of queued work, at most this many in flight between the threads (each bounded).
const BATCHES_IN_FLIGHT: usize = 2;

/// Feeds `monitor` through `read` and returns the final report. At full speed the streams are
/// measured on a second thread, a batch behind the reader; paced, all on this one.
fn with_measurer(
    mut monitor: Monitor,
    feed: CaptureFeed,
    read: impl FnOnce(&mut Paced) -> Result<(), CaptureError>,
) -> Result<MonitorReport, CaptureError> {
    let streams = match feed.realtime {
        true => None,
        false => monitor.lend_streams(),
    };
    let Some(streams) = streams else {
        return measure_here(monitor, feed, read);
    };
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = mpsc::sync_channel::<Deferred>(BATCHES_IN_FLIGHT);
        let (empty_tx, empty_rx) = mpsc::channel::<Deferred>();
        // The slab goes over only once the thread runs, so that it is still here if it cannot.
        let (slab_tx, slab_rx) = mpsc::channel::<StreamSlab>();
        let spawned = std::thread::Builder::new()
            .name("monitor-measure".into())
            .spawn_scoped(scope, move || {
                let streams = slab_rx.recv().ok()?;
                Some(measure(streams, &full_rx, &empty_tx))
            });
        let measurer = match spawned {
            Ok(m) => m,
            Err(error) => {
                tracing::warn!(%error, "no second thread: measuring on the reader's");
                monitor.return_streams(streams);
                return measure_here(monitor, feed, read);
            }
        };
        slab_tx
            .send(streams)
            .expect("the measuring thread waits for the slab");
        let mut paced = Paced::new(
            monitor,
            feed,
            Some(Handoff {
                full: full_tx,
                empty: empty_rx,
            }),
        );
        let read = read(&mut paced);
        paced.hand_off();
        // Closing the channel lets the measurer finish the last batch and give the streams back.
        paced.handoff = None;
        let streams = measurer
            .join()
            .expect("the measuring thread does not panic")
            .expect("the measuring thread was given the slab");
        paced.monitor.return_streams(streams);
        read?;
        Ok(paced.finish())
    })
}

/// Feeds `monitor` through `read` with every stream measured on this thread.
fn measure_here(
    monitor: Monitor,
    feed: CaptureFeed,
    read: impl FnOnce(&mut Paced) -> Result<(), CaptureError>,
) -> Result<MonitorReport, CaptureError> {
    let mut paced = Paced::new(monitor, feed, None);
    read(&mut paced)?;
    Ok(paced.finish())
}

/// The measuring thread: runs each batch it is sent and sends the emptied queue back.
fn measure(
    mut streams: StreamSlab,
    full: &mpsc::Receiver<Deferred>,
    empty: &mpsc::Sender<Deferred>,
) -> StreamSlab {
    for mut batch in full {
        streams.run(&mut batch);
        // The reader may have finished and gone; the queue is then simply dropped.
        let _ = empty.send(batch);
    }
    streams
}

/// The reader's ends of the channels to the measuring thread.
struct Handoff {
    full: mpsc::SyncSender<Deferred>,
    empty: mpsc::Receiver<Deferred>,
}

/// Whether `d` is a SIP message whose SDP offers SRTP (a key, or a secure profile).
fn offers_srtp_keys(d: &FoundDatagram<'_>) -> bool {
    sip::is_sip(d.payload)
        && sip::sighting(d.at, d.src, d.payload)
            .is_some_and(|s| s.media.iter().any(|m| !matches!(m.srtp, Ok(None))))
}

/// A monitor fed in capture time: ticked each report interval, paced with `--realtime`; with
/// a handoff, its queued work goes to the measuring thread a batch at a time.
struct Paced {
    monitor: Monitor,
    feed: CaptureFeed,
    handoff: Option<Handoff>,
    started: Instant,
    next_report: Duration,
    last: Duration,
}

impl Paced {
    fn new(monitor: Monitor, feed: CaptureFeed, handoff: Option<Handoff>) -> Self {
        Paced {
            monitor,
            feed,
            handoff,
            started: Instant::now(),
            next_report: feed.interval,
            last: Duration::ZERO,
        }
    }

    /// Sends the queued work to the measuring thread, taking an emptied queue back to fill.
    fn hand_off(&mut self) {
        let Some(h) = self.handoff.as_ref() else {
            return;
        };
        let empty = h.empty.try_recv().unwrap_or_default();
        let batch = self.monitor.swap_queue(empty);
        if h.full.send(batch).is_err() {
            tracing::error!("the monitor's measuring thread has stopped");
        }
    }

    fn feed(
        &mut self,
        at: Duration,
        src: Option<std::net::SocketAddr>,
        dst: Option<std::net::SocketAddr>,
        payload: &[u8],
        emit: &mut impl FnMut(MonitorReport),
    ) {
        while at >= self.next_report {
            self.monitor.tick(self.next_report);
            if self.feed.realtime {
                emit(self.monitor.report(self.next_report));
            }
            self.next_report += self.feed.interval;
        }
        if self.feed.realtime {
            if let Some(wait) = at.checked_sub(self.started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        if self.feed.realtime {
            self.monitor.on_datagram(at, 0, src, dst, payload);
        } else {
            self.monitor.queue_datagram(at, src, dst, payload);
            if self.handoff.is_some() && self.monitor.queue_is_full() {
                self.hand_off();
            }
        }
        self.last = at;
    }

    fn finish(mut self) -> MonitorReport {
        self.monitor.finish(self.last);
        self.monitor.report(self.last)
    }
}
