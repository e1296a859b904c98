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
use super::send_loop::{Output, Protect, SendLoop};
use super::send_report::{SendProgress, SendReport};
use super::send_rtcp::SendRtcp;
use super::send_sdp::stream_sdp;
use super::socket::{resolve_destination, sending_socket_from, SocketError};
use super::traffic_metrics::TrafficMetrics;
use crate::netem::queue::{ImpairQueue, QueueLimits};
use crate::rtp::payload::PayloadFormat;
use crate::srtp::{Direction, SrtpSession};

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
        if let Some(srtp) = &config.srtp {
            // The tag (and MKI) travel after the payload: the datagram must still fit.
            let trailer = srtp.suite.rtp_tag_len() + srtp.mki_len();
            config.max_payload = config.max_payload.saturating_sub(trailer);
        }
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
        let multicast_if = match config.multicast_if {
            Some(addr)
                if destination.ip().is_multicast() && addr.is_ipv4() == destination.is_ipv4() =>
            {
                Some(addr)
            }
            Some(addr) => {
                return Err(SendError::MulticastInterface {
                    addr,
                    error: std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "the destination is not a multicast group of that family",
                    ),
                })
            }
            None => None,
        };
        let socket = sending_socket_from(
            destination,
            config.ttl,
            config.local_port.unwrap_or(0),
            multicast_if,
        )
        .map_err(|e| match (multicast_if, e) {
            // Binding to an address that is not local is the user's mistake, said plainly.
            (
                Some(addr),
                SocketError::Io {
                    what: "bind",
                    error,
                    ..
                },
            ) => SendError::MulticastInterface { addr, error },
            (_, e) => SendError::Socket(e),
        })?;
        if let Some(std::net::IpAddr::V4(addr)) = multicast_if {
            socket2::SockRef::from(&socket)
                .set_multicast_if_v4(&addr)
                .map_err(|error| SendError::MulticastInterface {
                    addr: addr.into(),
                    error,
                })?;
        }
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
            self.ssrc(),
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
        let source = match prepared {
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
        let rtcp = config.rtcp.enabled.then(|| {
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
        let rtcp_destination = rtcp.as_ref().map_or(destination, SendRtcp::destination);
        let mut incoming = vec![0u8; if rtcp.is_some() { MAX_INCOMING } else { 0 }];
        // The receiver's RTCP (reports, NACK) comes back as SRTCP under the same key.
        let mut rtcp_srtp = match &config.srtp {
            Some(keying) => Some(SrtpSession::new(keying, Direction::Inbound)?),
            None => None,
        };
        let mut run = SendLoop {
            config: &config,
            format,
            header: &mut header,
            metrics: &metrics,
            source,
            payload: Vec::with_capacity(config.max_payload),
            next: None,
            pacer: Pacer::new(format.clock_rate(), drift),
            queue: config
                .impair
                .as_ref()
                .map(|spec| ImpairQueue::new(spec, QueueLimits::default())),
            out: Output::new(&socket, destination).encrypted(&config.srtp, Protect::Rtp)?,
            rtcp_out: Output::new(rtcp_in, rtcp_destination)
                .encrypted(&config.srtp, Protect::Rtcp)?,
            rtcp,
            marker: true,
            frames_sent: 0,
            media_bytes: 0,
            media_end: None,
            next_progress: Duration::ZERO,
            start: Instant::now(),
            rtcp_refused: 0,
        };
        if let Some(offset) = config.media_clock_offset {
            // The first sample is due now: its timestamp is the reference clock's time now.
            let nanos = crate::net::ref_clock::reference_now().as_nanos();
            let ticks = nanos * u128::from(format.clock_rate()) / 1_000_000_000;
            run.start = Instant::now();
            run.header
                .set_first_timestamp((ticks as u64).wrapping_add(u64::from(offset)) as u32);
        }
        run.next = run.next_packet()?;
        // Nothing sent, nothing to NACK: no linger (e.g. `--duration 0s` to write the SDP).
        let linger = if run.rtcp.is_some() && run.next.is_some() {
            config.rtcp.linger
        } else {
            Duration::ZERO
        };
        let mut interrupted = false;
        let sleep = tokio::time::sleep_until(run.start.into());
        tokio::pin!(sleep, stop);
        while let Some(wake) = run.wake(linger) {
            sleep.as_mut().reset((run.start + wake).into());
            tokio::select! {
                biased;
                () = &mut stop => { interrupted = true; break; }
                received = rtcp_in.recv_from(&mut incoming), if run.rtcp.is_some() => {
                    if let (Ok((len, _)), Some(r)) = (received, run.rtcp.as_mut()) {
                        let len = match rtcp_srtp.as_mut() {
                            Some(srtp) => srtp.unprotect_rtcp(&mut incoming, len).ok(),
                            None => Some(len),
                        };
                        match len {
                            Some(len) => r.on_datagram(&incoming[..len], run.start.elapsed()),
                            None => run.rtcp_refused += 1,
                        }
                    }
                }
                () = &mut sleep => {}
            }
            let now = run.start.elapsed();
            run.send_due_media(now).await?;
            run.serve_rtcp(now).await;
            run.release_impaired(now).await;
            run.publish();
            run.report_progress(now, &mut progress);
        }
        run.say_bye().await;
        Ok(run.report(interrupted))
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
