//! The steps of `send`'s loop: pace the file's packets out, through the impairment when one is
//! set, answer RTCP (reports, NACK with retransmissions), publish the counters, and end with a
//! final report, a linger for late NACKs and the BYE.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::file_source::PayloadSource;
use super::pacing::Pacer;
use super::rtp_writer::RtpWriter;
use super::send_config::{SendConfig, SendError};
use super::send_report::{SendProgress, SendReport};
use super::send_rtcp::SendRtcp;
use super::traffic_metrics::{TrafficMetrics, TrafficSnapshot};
use crate::netem::queue::ImpairQueue;
use crate::rtcp::sender_session::Transmit;
use crate::rtp::payload::PayloadFormat;
use crate::srtp::{Direction, SrtpError, SrtpKeying, SrtpSession, MAX_TRAILER};

/// Copies of the BYE sent at the end (see [`SendLoop::say_bye`]).
const BYE_COPIES: usize = 3;
/// How often the progress callback runs.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// What an SRTP-encrypted [`Output`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protect {
    /// RTP packets (media and retransmissions).
    Rtp,
    /// RTCP packets.
    Rtcp,
}

/// The socket end: encrypts (with SRTP), sends datagrams and counts what happened.
pub(super) struct Output<'a> {
    socket: &'a tokio::net::UdpSocket,
    destination: SocketAddr,
    datagrams: u64,
    errors: u64,
    /// SRTP at the very end, after the impairment: a duplicate is then the same SRTP packet
    /// twice, as on a real network, and every retransmission is encrypted too.
    srtp: Option<(SrtpSession, Protect, Vec<u8>)>,
}

impl<'a> Output<'a> {
    /// Sends to `destination` through `socket`.
    pub fn new(socket: &'a tokio::net::UdpSocket, destination: SocketAddr) -> Self {
        Output {
            socket,
            destination,
            datagrams: 0,
            errors: 0,
            srtp: None,
        }
    }

    /// Encrypts what it sends as `protect` with `keying`, if there is one.
    pub fn encrypted(
        mut self,
        keying: &Option<SrtpKeying>,
        protect: Protect,
    ) -> Result<Self, SrtpError> {
        if let Some(keying) = keying {
            let session = SrtpSession::new(keying, Direction::Outbound)?;
            self.srtp = Some((session, protect, Vec::with_capacity(2048)));
        }
        Ok(self)
    }

    async fn send(&mut self, datagram: &[u8]) {
        let datagram = match self.srtp.as_mut() {
            None => datagram,
            Some((session, protect, buf)) => {
                buf.clear();
                buf.extend_from_slice(datagram);
                buf.resize(datagram.len() + MAX_TRAILER, 0);
                let protected = match protect {
                    Protect::Rtp => session.protect_rtp(buf, datagram.len()),
                    Protect::Rtcp => session.protect_rtcp(buf, datagram.len()),
                };
                match protected {
                    Ok(n) => &buf[..n],
                    Err(error) => {
                        tracing::warn!(%error, "SRTP could not encrypt a packet; not sent");
                        self.errors += 1;
                        return;
                    }
                }
            }
        };
        match self.socket.send_to(datagram, self.destination).await {
            Ok(_) => self.datagrams += 1,
            Err(error) => {
                // Transient (ENOBUFS) or persistent (no route): say so once, count the rest.
                if self.errors == 0 {
                    tracing::warn!(%error, destination = %self.destination, "send failed");
                } else {
                    tracing::debug!(%error, "send failed");
                }
                self.errors += 1;
            }
        }
    }
}

/// Everything the loop carries from one wake-up to the next.
pub(super) struct SendLoop<'a, 'f> {
    pub config: &'a SendConfig,
    pub format: PayloadFormat,
    pub header: &'a mut RtpWriter,
    pub metrics: &'a TrafficMetrics,
    pub source: PayloadSource<'f>,
    /// The next packet's payload, and its position in RTP ticks (`None`: the input ended).
    pub payload: Vec<u8>,
    pub next: Option<u64>,
    pub pacer: Pacer,
    pub queue: Option<ImpairQueue>,
    pub out: Output<'a>,
    pub rtcp_out: Output<'a>,
    pub rtcp: Option<SendRtcp>,
    pub marker: bool,
    pub frames_sent: u64,
    pub media_bytes: u64,
    /// When the input ran out (the linger counts from then).
    pub media_end: Option<Duration>,
    pub next_progress: Duration,
    pub start: Instant,
    /// SRTCP packets from the receiver that failed authentication.
    pub rtcp_refused: u64,
}

impl SendLoop<'_, '_> {
    /// Reads the next payload, if it is within `--duration`.
    pub fn next_packet(&mut self) -> Result<Option<u64>, SendError> {
        let next = self.source.next_payload(&mut self.payload)?;
        let within = |t: u64| self.config.duration.is_none_or(|d| self.pacer.due(t) < d);
        Ok(next.filter(|&t| within(t)))
    }

    /// When to wake next (from the start), or `None` once the input is sent and the linger
    /// after it is over.
    pub fn wake(&mut self, linger: Duration) -> Option<Duration> {
        let packet_due = self.next.map(|t| self.pacer.due(t));
        let release_due = self.queue.as_ref().and_then(ImpairQueue::next_due);
        let media_wake = packet_due.into_iter().chain(release_due).min();
        // After the input ends, NACKs are answered for `linger` more, then the BYE.
        let linger_end = match media_wake {
            Some(_) => None,
            None => {
                if self.media_end.is_none() {
                    // A final report: its count tells the receiver which packets it still
                    // lacks at the end, asked for during the linger.
                    if let Some(r) = self.rtcp.as_mut() {
                        r.report_now(self.start.elapsed());
                    }
                }
                let start = self.start;
                Some(*self.media_end.get_or_insert_with(|| start.elapsed()) + linger)
            }
        };
        if linger_end.is_some_and(|end| self.start.elapsed() >= end) {
            return None;
        }
        let rtcp_due = self.rtcp.as_ref().map(SendRtcp::next_timer);
        media_wake
            .into_iter()
            .chain(linger_end)
            .chain(rtcp_due)
            .min()
    }

    /// Sends (or offers to the impairment) every packet due by `now`.
    pub async fn send_due_media(&mut self, now: Duration) -> Result<(), SendError> {
        let bytes_per_frame = self.format.bytes_per_frame();
        while let Some(t) = self.next.filter(|&t| self.pacer.due(t) <= now) {
            if self.pacer.resync_if_late(t, now) {
                tracing::warn!("sender fell more than 1 s behind; resuming after a pause");
                self.marker = true;
            }
            let due = self.pacer.due(t);
            let ticks = self.pacer.rtp_ticks(t);
            let datagram = self.header.packet(ticks, self.marker, &self.payload);
            self.marker = false;
            self.frames_sent += bytes_per_frame.map_or(0, |b| (self.payload.len() / b) as u64);
            self.media_bytes += datagram.len() as u64;
            if let Some(r) = self.rtcp.as_mut() {
                // Stamped with its schedule, so the SR's clock mapping has no send jitter.
                r.on_rtp_sent(datagram, due);
            }
            match &mut self.queue {
                Some(q) => {
                    q.offer(due, datagram);
                }
                None => self.out.send(datagram).await,
            }
            self.next = self.next_packet()?;
        }
        Ok(())
    }

    /// Sends what the RTCP session has due: reports, and retransmissions NACKs asked for.
    pub async fn serve_rtcp(&mut self, now: Duration) {
        let Some(r) = self.rtcp.as_mut() else {
            return;
        };
        if now >= self.next_progress && now >= Duration::from_secs(5) {
            // The measured rate replaces the nominal one for the budgets.
            r.set_session_rate(self.media_bytes as f64 / now.as_secs_f64(), now);
        }
        while let Some(kind) = r.poll(now) {
            match (kind, &mut self.queue) {
                // Retransmissions cross the same (impaired) network as the media.
                (Transmit::Rtp, Some(q)) => {
                    q.offer(now, &r.outgoing);
                }
                (Transmit::Rtp, None) => self.out.send(&r.outgoing).await,
                (Transmit::Rtcp, _) => self.rtcp_out.send(&r.outgoing).await,
            }
        }
    }

    /// Sends what the impairment releases by `now`.
    pub async fn release_impaired(&mut self, now: Duration) {
        if let Some(q) = &mut self.queue {
            while let Some(bytes) = q.pop_due(now) {
                self.out.send(&bytes).await;
                q.recycle(bytes);
            }
        }
    }

    fn audio(&self) -> Duration {
        let rate = u64::from(self.format.sample_rate().unwrap_or(1)).max(1);
        Duration::from_nanos(self.frames_sent * 1_000_000_000 / rate)
    }

    /// Publishes the counters for `--metrics-listen`.
    pub fn publish(&self) {
        self.metrics.publish(&TrafficSnapshot {
            packets: self.header.packets(),
            datagrams: self.out.datagrams,
            errors: self.out.errors,
            audio: self.audio(),
            impairment: self.queue.as_ref().map(ImpairQueue::counts),
            held: self.queue.as_ref().map_or(0, |q| q.len() as u64),
            ..TrafficSnapshot::default()
        });
    }

    /// Calls `progress` when it is due.
    pub fn report_progress(&mut self, now: Duration, progress: &mut impl FnMut(&SendProgress)) {
        if now >= self.next_progress {
            self.next_progress = now + PROGRESS_EVERY;
            progress(&SendProgress {
                elapsed: now,
                packets: self.header.packets(),
                rtcp: self.rtcp.as_ref().map(SendRtcp::summary),
            });
        }
    }

    /// Leaves the RTCP session with a BYE.
    pub async fn say_bye(&mut self) {
        if let Some(r) = self.rtcp.as_mut() {
            r.bye(self.start.elapsed());
            // A lost BYE leaves the receiver waiting out its idle timeout: send it three times,
            // 20 ms apart, as RFC 4733 repeats its end packets (receivers act on the first).
            for copy in 0..BYE_COPIES {
                if copy > 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                self.rtcp_out.send(&r.outgoing).await;
            }
        }
    }

    /// What the run did.
    pub fn report(&self, interrupted: bool) -> SendReport {
        SendReport {
            packets: self.header.packets(),
            datagrams: self.out.datagrams,
            send_errors: self.out.errors + self.rtcp_out.errors,
            impairment: self.queue.as_ref().map(ImpairQueue::counts),
            discarded: self.queue.as_ref().map_or(0, |q| q.len() as u64),
            audio: self.format.bytes_per_frame().map(|_| self.audio()),
            elapsed: self.start.elapsed(),
            interrupted,
            rtcp: self.rtcp.as_ref().map(SendRtcp::summary),
            srtp: self
                .config
                .srtp
                .as_ref()
                .map(|k| (k.suite, self.rtcp_refused)),
        }
    }
}
