//! The capture-file driver: a pcap, pcapng or rtpdump file fed to the [`Monitor`] in capture
//! order with its captured times, at full speed or (`--realtime`) as it was captured.
//!
//! A plain capture is streamed: each datagram goes to the monitor as it is read, none is kept,
//! so memory stays bounded however large the file. SRTP needs the whole capture first (a
//! flow's key is found by trying the keys its SIP/SDP offered anywhere, or `--srtp`), as for
//! `streams` and `play`: when `--srtp` is given, or a SIP message in the stream offers SRTP, the
//! capture is read whole, decrypted, and fed again from the start. SIP over TCP names payload
//! types as SIP over UDP does.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

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
        let mut paced = Paced::new(new_monitor(), feed);
        let mut offers_srtp = false;
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
        })?;
        if !offers_srtp {
            return Ok(paced.finish());
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
    let mut paced = Paced::new(new_monitor(), feed);
    for d in all {
        if stopped() {
            break;
        }
        paced.feed(d.at, d.src, d.dst, &d.payload, &mut emit);
    }
    Ok(paced.finish())
}

/// Whether `d` is a SIP message whose SDP offers SRTP (a key, or a secure profile).
fn offers_srtp_keys(d: &FoundDatagram<'_>) -> bool {
    sip::is_sip(d.payload)
        && sip::sighting(d.at, d.src, d.payload)
            .is_some_and(|s| s.media.iter().any(|m| !matches!(m.srtp, Ok(None))))
}

/// A monitor fed in capture time: ticked each report interval, paced with `--realtime`.
struct Paced {
    monitor: Monitor,
    feed: CaptureFeed,
    started: Instant,
    next_report: Duration,
    last: Duration,
}

impl Paced {
    fn new(monitor: Monitor, feed: CaptureFeed) -> Self {
        Paced {
            monitor,
            feed,
            started: Instant::now(),
            next_report: feed.interval,
            last: Duration::ZERO,
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
        self.monitor.on_datagram(at, 0, src, dst, payload);
        self.last = at;
    }

    fn finish(mut self) -> MonitorReport {
        self.monitor.finish(self.last);
        self.monitor.report(self.last)
    }
}
