//! The interface driver: a live capture (libpcap, through the `pcap` crate) on a SPAN port or
//! any interface, its frames taken apart as capture files are, SIP/SDP naming payload types
//! per call, and libpcap's own drop counts handed to the monitor as the monitor's drops.

use std::time::{Duration, Instant, SystemTime};

use super::{Monitor, MonitorReport};
use crate::capture::link::{FrameContent, Link, UdpExtractor};

/// How long a read waits before the loop looks at the clock and the stop flag.
const READ_TIMEOUT_MS: i32 = 100;

/// The kernel buffer libpcap asks for (a burst of a thousand streams fits).
const CAPTURE_BUFFER: i32 = 64 << 20;

/// Why an interface could not be watched.
#[derive(Debug, thiserror::Error)]
pub enum InterfaceError {
    /// libpcap refused to open or filter it.
    #[error(
        "cannot capture on interface '{interface}': {error} (capturing needs root or CAP_NET_RAW)"
    )]
    Open {
        /// The interface.
        interface: String,
        /// What libpcap said.
        error: pcap::Error,
    },
    /// Its link type is not one jitterplay reads.
    #[error("interface '{interface}' has link type {linktype}, which jitterplay cannot read")]
    Link {
        /// The interface.
        interface: String,
        /// Its LINKTYPE number.
        linktype: i32,
    },
    /// The capture failed while running.
    #[error("capture on '{interface}' failed: {error}")]
    Read {
        /// The interface.
        interface: String,
        /// What libpcap said.
        error: pcap::Error,
    },
}

/// Captures on `interface` with BPF `filter` until `duration` passes or `stopped` says so;
/// `emit` gets a report every `interval`; the last one (every stream ended) is returned, not
/// emitted.
pub fn run(
    interface: &str,
    filter: &str,
    mut monitor: Monitor,
    interval: Duration,
    duration: Option<Duration>,
    stopped: impl Fn() -> bool,
    mut emit: impl FnMut(MonitorReport),
) -> Result<MonitorReport, InterfaceError> {
    let open_error = |error| InterfaceError::Open {
        interface: interface.to_owned(),
        error,
    };
    let mut capture = pcap::Capture::from_device(interface)
        .and_then(|c| {
            c.promisc(true)
                .snaplen(65_535)
                .immediate_mode(true)
                .buffer_size(CAPTURE_BUFFER)
                .timeout(READ_TIMEOUT_MS)
                .open()
        })
        // Non-blocking, and waited on with poll(): in immediate mode libpcap's own read
        // timeout does not fire while nothing arrives, and the clock must still tick.
        .and_then(|c| c.setnonblock())
        .map_err(open_error)?;
    capture.filter(filter, true).map_err(open_error)?;
    let linktype = capture.get_datalink().0;
    let link = Link::from_linktype(linktype).ok_or_else(|| InterfaceError::Link {
        interface: interface.to_owned(),
        linktype,
    })?;
    let started = Instant::now();
    let started_wall = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let mut extractor = UdpExtractor::default();
    let mut next_report = interval;
    let mut dropped_before = 0u64;
    loop {
        let now = started.elapsed();
        if stopped() || duration.is_some_and(|d| now >= d) {
            break;
        }
        if now >= next_report {
            let stats = capture.stats().map_err(|error| InterfaceError::Read {
                interface: interface.to_owned(),
                error,
            })?;
            let dropped = u64::from(stats.dropped) + u64::from(stats.if_dropped);
            if dropped > dropped_before {
                monitor.on_capture_drops(dropped - dropped_before);
                dropped_before = dropped;
            }
            monitor.tick(now);
            emit(monitor.report(now));
            next_report = now + interval;
        }
        match capture.next_packet() {
            Ok(packet) => {
                // The kernel's capture time (wall clock), from when the capture started.
                let ts = packet.header.ts;
                let stamped = Duration::new(
                    u64::try_from(ts.tv_sec).unwrap_or(0),
                    u32::try_from(ts.tv_usec).unwrap_or(0).min(999_999) * 1000,
                );
                let at = stamped
                    .checked_sub(started_wall)
                    .unwrap_or_else(|| started.elapsed());
                match extractor.frame(link, at, packet.data) {
                    FrameContent::Udp(d) | FrameContent::SipOverTcp(d) => {
                        monitor.on_datagram(at, 0, Some(d.src), Some(d.dst), &d.payload);
                    }
                    _ => {}
                }
            }
            Err(pcap::Error::TimeoutExpired | pcap::Error::NoMorePackets) => {
                wait_readable(std::os::fd::AsRawFd::as_raw_fd(&capture));
            }
            Err(error) => {
                return Err(InterfaceError::Read {
                    interface: interface.to_owned(),
                    error,
                })
            }
        }
    }
    let now = started.elapsed();
    monitor.finish(now);
    let report = monitor.report(now);
    Ok(report)
}

/// Waits until `fd` is readable, or [`READ_TIMEOUT_MS`] has passed.
fn wait_readable(fd: std::os::fd::RawFd) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one live pollfd for the call's duration.
    unsafe {
        libc::poll(&mut pfd, 1, READ_TIMEOUT_MS);
    }
}
