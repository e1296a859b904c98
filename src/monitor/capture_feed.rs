//! The capture-file driver: a pcap, pcapng or rtpdump file fed to the [`Monitor`] in capture
//! order with its captured times, at full speed or (`--realtime`) as it was captured.
//!
//! SRTP in the capture is decrypted first with the keys its SIP/SDP offered (or `--srtp`), as
//! for `streams` and `play`; SIP over TCP names payload types as SIP over UDP does.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{Monitor, MonitorReport};
use crate::capture::{read_capture_with, srtp_flows, CaptureError, Datagram};

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

/// Feeds the capture at `path` to `monitor`; `emit` gets a report each `interval` of capture
/// time when pacing; the last report (every stream ended) is returned, not emitted.
/// `stopped` is asked between datagrams.
pub fn run(
    path: &Path,
    mut monitor: Monitor,
    feed: CaptureFeed,
    srtp: Option<&crate::srtp::SrtpKeying>,
    stopped: impl Fn() -> bool,
    mut emit: impl FnMut(MonitorReport),
) -> Result<MonitorReport, CaptureError> {
    let mut capture = read_capture_with(path, feed.idle_timeout)?;
    srtp_flows::decrypt(&mut capture, srtp);
    let mut all: Vec<&Datagram> = capture
        .datagrams
        .iter()
        .chain(&capture.sip_over_tcp)
        .collect();
    // Stable: capture order holds among equal times.
    all.sort_by_key(|d| d.at);
    let started = Instant::now();
    let mut next_report = feed.interval;
    let mut last = Duration::ZERO;
    for d in all {
        if stopped() {
            break;
        }
        while d.at >= next_report {
            monitor.tick(next_report);
            if feed.realtime {
                emit(monitor.report(next_report));
            }
            next_report += feed.interval;
        }
        if feed.realtime {
            if let Some(wait) = d.at.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        monitor.on_datagram(d.at, 0, d.src, d.dst, &d.payload);
        last = d.at;
    }
    monitor.finish(last);
    let report = monitor.report(last);
    Ok(report)
}
