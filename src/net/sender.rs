//! `send`: a file streamed as RTP in real time, paced by media time, optionally impaired.
//!
//! [`Sender::open`] does everything that can fail up front (address, file, format, socket), so
//! errors come before any packet; [`Sender::run`] is the tokio loop: produce the next payload,
//! sleep until its absolute due time ([`Pacer`]), send it — or offer it to the seeded
//! [`ImpairQueue`] and send whatever that releases — until the file (or `--duration`) ends or
//! the stop future (Ctrl-C) fires.

use std::future::Future;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::file_source::{MpaFile, MpaSource, PayloadSource, PcmSource};
use super::pacing::Pacer;
use super::rtp_writer::{RtpWriter, RTP_HEADER_LEN};
pub use super::send_config::{SendConfig, SendError, DEFAULT_DYNAMIC_PT};
use super::send_report::{SendProgress, SendReport};
use super::send_rtcp::SendRtcp;
use super::send_sdp::stream_sdp;
use super::socket::{resolve_destination, sending_socket_at};
use super::traffic_metrics::{TrafficMetrics, TrafficSnapshot};
use crate::netem::queue::{ImpairQueue, QueueLimits};
use crate::rtcp::sender_session::Transmit;
use crate::rtp::payload::PayloadFormat;

/// How many times the closing BYE is sent.
const BYE_COPIES: usize = 3;

/// How often [`Sender::run_with_progress`] reports progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);
/// Largest datagram read on the RTCP socket (a muxed port may carry anything).
const MAX_INCOMING: usize = 65_507;

/// The input, opened and checked.
enum Prepared {
    Pcm(Box<PcmSource>),
    Mpa(MpaFile),
}

/// A stream ready to send: everything checked, the socket open.
pub struct Sender {
    config: SendConfig,
    destination: SocketAddr,
    socket: UdpSocket,
    rtcp_socket: Option<UdpSocket>,
    prepared: Prepared,
    format: PayloadFormat,
    header: RtpWriter,
    metrics: Arc<TrafficMetrics>,
}

impl Sender {
    /// Resolves the destination, opens and checks the input, and opens the socket.
    pub fn open(mut config: SendConfig) -> Result<Sender, SendError> {
        let destination = resolve_destination(&config.to)?;
        if config.max_payload <= RTP_HEADER_LEN {
            return Err(SendError::MaxPayload(config.max_payload));
        }
        let (prepared, format) = if config.format.is_mpa() {
            (
                Prepared::Mpa(MpaFile::read(&config.input)?),
                PayloadFormat::Mpa,
            )
        } else {
            let pcm = PcmSource::open(
                &config.input,
                &config.format,
                config.ptime,
                config.max_payload,
                config.passes,
                config.opus,
            )?;
            let format = pcm.format();
            (Prepared::Pcm(Box::new(pcm)), format)
        };
        let pt = config
            .pt
            .unwrap_or_else(|| format.static_pt().unwrap_or(DEFAULT_DYNAMIC_PT));
        if pt > 127 {
            return Err(SendError::PayloadType(pt));
        }
        if let Some(rtx) = config.rtcp.rtx() {
            if rtx > 127 {
                return Err(SendError::RtxPayloadType(rtx));
            }
            if rtx == pt {
                // The media took the RTX default (e.g. --pt 97): the next dynamic type is free.
                let moved = if pt >= 127 { 96 } else { pt + 1 };
                tracing::info!(rtx_pt = moved, "RTX payload type moved off the media's");
                config.rtcp.rtx_pt = Some(moved);
            }
        }
        let header = RtpWriter::new(
            pt,
            config.ssrc.unwrap_or_else(rand::random),
            config.seq.unwrap_or_else(rand::random),
            config.timestamp.unwrap_or_else(rand::random),
        );
        let socket = sending_socket_at(destination, config.ttl, config.local_port.unwrap_or(0))?;
        let rtcp_socket = SendRtcp::open_socket(
            &config.rtcp,
            destination,
            socket.local_addr().ok(),
            config.ttl,
            config.local_port.is_some(),
        )?;
        Ok(Sender {
            config,
            destination,
            socket,
            rtcp_socket,
            prepared,
            format,
            header,
            metrics: Arc::default(),
        })
    }

    /// The counters [`Sender::run`] publishes as it goes (for `--metrics-listen`).
    pub fn metrics(&self) -> &Arc<TrafficMetrics> {
        &self.metrics
    }

    /// The local address packets leave from, if the system says.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.socket.local_addr().ok()
    }

    /// Where packets go.
    pub fn destination(&self) -> SocketAddr {
        self.destination
    }

    /// The payload format sent.
    pub fn format(&self) -> PayloadFormat {
        self.format
    }

    /// The local RTCP address (with rtcp-mux: the RTP socket's), if RTCP is on.
    pub fn rtcp_local_addr(&self) -> Option<SocketAddr> {
        if !self.config.rtcp.enabled {
            return None;
        }
        match &self.rtcp_socket {
            Some(s) => s.local_addr().ok(),
            None => self.local_addr(),
        }
    }

    /// The payload type sent.
    pub fn payload_type(&self) -> u8 {
        self.header.pt()
    }

    /// The SSRC sent.
    pub fn ssrc(&self) -> u32 {
        self.header.ssrc()
    }

    /// The packet time of PCM formats (`None` for MPEG audio, whose packets hold whole frames).
    pub fn ptime(&self) -> Option<Duration> {
        match &self.prepared {
            Prepared::Pcm(p) => Some(p.ptime()),
            Prepared::Mpa(_) => None,
        }
    }

    /// An SDP describing the stream, for receivers (`ffmpeg -i`, GStreamer, `jitterplay play`).
    pub fn sdp(&self) -> String {
        stream_sdp(
            &self.config,
            self.destination,
            self.header.pt(),
            self.format,
            self.ptime(),
        )
    }

    /// Streams until the input or `--duration` ends, or `stop` completes (Ctrl-C).
    ///
    /// Must run inside a tokio runtime with time and IO enabled.
    pub async fn run(self, stop: impl Future<Output = ()>) -> Result<SendReport, SendError> {
        self.run_with_progress(stop, |_| {}).await
    }

    /// [`Sender::run`], calling `progress` about twice a second (for a status line).
    pub async fn run_with_progress(
        self,
        stop: impl Future<Output = ()>,
        mut progress: impl FnMut(&SendProgress),
    ) -> Result<SendReport, SendError> {
        let Sender {
            config,
            destination,
            socket,
            rtcp_socket,
            prepared,
            format,
            mut header,
            metrics,
        } = self;
        let tokio_socket = |s: UdpSocket| {
            tokio::net::UdpSocket::from_std(s).map_err(|error| SendError::Runtime {
                addr: destination,
                error,
            })
        };
        let socket = tokio_socket(socket)?;
        let rtcp_socket = rtcp_socket.map(tokio_socket).transpose()?;
        let mpa_file;
        let mut source = match prepared {
            Prepared::Pcm(pcm) => PayloadSource::Pcm(pcm),
            Prepared::Mpa(file) => {
                mpa_file = file;
                PayloadSource::Mpa(MpaSource::new(
                    &mpa_file,
                    config.max_payload,
                    config.passes,
                )?)
            }
        };
        let drift = config.impair.as_ref().map_or(0.0, |s| s.drift_ppm);
        let mut pacer = Pacer::new(format.clock_rate(), drift);
        let mut queue = config
            .impair
            .as_ref()
            .map(|spec| ImpairQueue::new(spec, QueueLimits::default()));
        let mut out = Output {
            socket: &socket,
            destination,
            datagrams: 0,
            errors: 0,
        };
        let mut rtcp = config.rtcp.enabled.then(|| {
            SendRtcp::new(
                &config.rtcp,
                destination,
                header.ssrc(),
                format.clock_rate(),
                nominal_octets_per_s(format, &config),
            )
        });
        // RTCP arrives on its own socket, or muxed on the RTP socket.
        let rtcp_in = rtcp_socket.as_ref().unwrap_or(&socket);
        let rtcp_out = Output {
            socket: rtcp_in,
            destination: rtcp.as_ref().map_or(destination, SendRtcp::destination),
            datagrams: 0,
            errors: 0,
        };
        let mut rtcp_out = rtcp_out;
        let mut incoming = vec![0u8; if rtcp.is_some() { MAX_INCOMING } else { 0 }];
        let bytes_per_frame = format.bytes_per_frame();
        let mut payload = Vec::with_capacity(config.max_payload);
        let within = |pacer: &Pacer, t: u64| config.duration.is_none_or(|d| pacer.due(t) < d);
        let mut next = source
            .next_payload(&mut payload)?
            .filter(|&t| within(&pacer, t));
        let (mut marker, mut interrupted, mut frames_sent) = (true, false, 0u64);
        let rate = u64::from(format.sample_rate().unwrap_or(1)).max(1);
        let audio_of = |frames: u64| Duration::from_nanos(frames * 1_000_000_000 / rate);
        // Nothing sent, nothing to NACK: no linger (e.g. `--duration 0s` to write the SDP).
        let linger = if rtcp.is_some() && next.is_some() {
            config.rtcp.linger
        } else {
            Duration::ZERO
        };
        let mut media_end: Option<Duration> = None;
        let mut next_progress = Duration::ZERO;
        let mut media_bytes = 0u64;
        let start = Instant::now();
        let sleep = tokio::time::sleep_until(start.into());
        tokio::pin!(sleep, stop);
        loop {
            let packet_due = next.map(|t| pacer.due(t));
            let release_due = queue.as_ref().and_then(ImpairQueue::next_due);
            let media_wake = packet_due.into_iter().chain(release_due).min();
            // After the input ends, NACKs are answered for `linger` more, then the BYE.
            let linger_end = match media_wake {
                Some(_) => None,
                None => {
                    if media_end.is_none() {
                        // A final report: its count tells the receiver which packets it still
                        // lacks at the end, asked for during the linger.
                        if let Some(r) = rtcp.as_mut() {
                            r.report_now(start.elapsed());
                        }
                    }
                    Some(*media_end.get_or_insert_with(|| start.elapsed()) + linger)
                }
            };
            if linger_end.is_some_and(|end| start.elapsed() >= end) {
                break;
            }
            let rtcp_due = rtcp.as_ref().map(|r| r.next_timer());
            let Some(wake) = media_wake
                .into_iter()
                .chain(linger_end)
                .chain(rtcp_due)
                .min()
            else {
                break;
            };
            sleep.as_mut().reset((start + wake).into());
            tokio::select! {
                biased;
                () = &mut stop => { interrupted = true; break; }
                received = rtcp_in.recv_from(&mut incoming), if rtcp.is_some() => {
                    if let (Ok((len, _)), Some(r)) = (received, rtcp.as_mut()) {
                        r.on_datagram(&incoming[..len], start.elapsed());
                    }
                }
                () = &mut sleep => {}
            }
            let now = start.elapsed();
            while let Some(t) = next.filter(|&t| pacer.due(t) <= now) {
                if pacer.resync_if_late(t, now) {
                    tracing::warn!("sender fell more than 1 s behind; resuming after a pause");
                    marker = true;
                }
                let due = pacer.due(t);
                let datagram = header.packet(pacer.rtp_ticks(t), marker, &payload);
                marker = false;
                frames_sent += bytes_per_frame.map_or(0, |b| (payload.len() / b) as u64);
                media_bytes += datagram.len() as u64;
                if let Some(r) = rtcp.as_mut() {
                    // Stamped with its schedule, so the SR's clock mapping has no send jitter.
                    r.on_rtp_sent(datagram, due);
                }
                match &mut queue {
                    Some(q) => {
                        q.offer(due, datagram);
                    }
                    None => out.send(datagram).await,
                }
                next = source
                    .next_payload(&mut payload)?
                    .filter(|&t| within(&pacer, t));
            }
            if let Some(r) = rtcp.as_mut() {
                if now >= next_progress && now >= Duration::from_secs(5) {
                    // The measured rate replaces the nominal one for the budgets.
                    r.set_session_rate(media_bytes as f64 / now.as_secs_f64(), now);
                }
                while let Some(kind) = r.poll(now) {
                    match (kind, &mut queue) {
                        // Retransmissions cross the same (impaired) network as the media.
                        (Transmit::Rtp, Some(q)) => {
                            q.offer(now, &r.outgoing);
                        }
                        (Transmit::Rtp, None) => out.send(&r.outgoing).await,
                        (Transmit::Rtcp, _) => rtcp_out.send(&r.outgoing).await,
                    }
                }
            }
            if let Some(q) = &mut queue {
                while let Some(bytes) = q.pop_due(now) {
                    out.send(&bytes).await;
                    q.recycle(bytes);
                }
            }
            metrics.publish(&TrafficSnapshot {
                packets: header.packets(),
                datagrams: out.datagrams,
                errors: out.errors,
                audio: audio_of(frames_sent),
                impairment: queue.as_ref().map(ImpairQueue::counts),
                held: queue.as_ref().map_or(0, |q| q.len() as u64),
                ..TrafficSnapshot::default()
            });
            if now >= next_progress {
                next_progress = now + PROGRESS_EVERY;
                progress(&SendProgress {
                    elapsed: now,
                    packets: header.packets(),
                    rtcp: rtcp.as_ref().map(SendRtcp::summary),
                });
            }
        }
        if let Some(r) = rtcp.as_mut() {
            r.bye(start.elapsed());
            // A lost BYE leaves the receiver waiting out its idle timeout: send it three times,
            // 20 ms apart, as RFC 4733 repeats its end packets (receivers act on the first).
            for copy in 0..BYE_COPIES {
                if copy > 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                rtcp_out.send(&r.outgoing).await;
            }
        }
        Ok(SendReport {
            packets: header.packets(),
            datagrams: out.datagrams,
            send_errors: out.errors + rtcp_out.errors,
            impairment: queue.as_ref().map(ImpairQueue::counts),
            discarded: queue.as_ref().map_or(0, |q| q.len() as u64),
            audio: bytes_per_frame.map(|_| audio_of(frames_sent)),
            elapsed: start.elapsed(),
            interrupted,
            rtcp: rtcp.as_ref().map(SendRtcp::summary),
        })
    }
}

/// The media rate before it is measured: PCM from its frame size, Opus from its bit rate,
/// MPEG audio at a typical 128 kbit/s; plus 40 bytes of headers per 20 ms packet.
fn nominal_octets_per_s(format: PayloadFormat, config: &SendConfig) -> f64 {
    let payload = match (format.bytes_per_frame(), format.sample_rate()) {
        (Some(b), Some(rate)) => (b as f64) * f64::from(rate),
        _ if format == PayloadFormat::Opus => f64::from(config.opus.bitrate) / 8.0,
        _ => 16_000.0,
    };
    payload + 40.0 * 50.0
}

/// The socket end: sends datagrams and counts what happened.
struct Output<'a> {
    socket: &'a tokio::net::UdpSocket,
    destination: SocketAddr,
    datagrams: u64,
    errors: u64,
}

impl Output<'_> {
    async fn send(&mut self, datagram: &[u8]) {
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
