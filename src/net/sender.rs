//! `send`: a file streamed as RTP in real time, paced by media time, optionally impaired.
//!
//! [`Sender::open`] does everything that can fail up front (address, file, format, socket), so
//! errors come before any packet; [`Sender::run`] is the tokio loop: produce the next payload,
//! sleep until its absolute due time ([`Pacer`]), send it — or offer it to the seeded
//! [`ImpairQueue`] and send whatever that releases — until the file (or `--duration`) ends or
//! the stop future (Ctrl-C) fires.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::file_source::SourceError;
use super::file_source::{FormatRequest, MpaFile, MpaSource, Passes, PayloadSource, PcmSource};
use super::pacing::Pacer;
use super::rtp_writer::{RtpWriter, RTP_HEADER_LEN};
use super::socket::{resolve_destination, sending_socket, SocketError};
use super::traffic_metrics::{TrafficMetrics, TrafficSnapshot};
use crate::netem::queue::{ImpairCounts, ImpairQueue, QueueLimits};
use crate::netem::spec::ImpairSpec;
use crate::rtp::packetize::DEFAULT_MAX_PAYLOAD;
use crate::rtp::payload::PayloadFormat;
use crate::rtp::sdp::{write_sdp, ConnectionAddress, SdpStream};

/// The first payload type above the static range: the usual dynamic choice.
pub const DEFAULT_DYNAMIC_PT: u8 = 96;

/// Why sending could not start or went wrong.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The destination is not usable or the socket could not be set up.
    #[error(transparent)]
    Socket(#[from] SocketError),
    /// The input could not be read or converted.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The payload type is outside RTP's 7 bits.
    #[error("payload type {0} is out of range (0..=127; dynamic types are 96..=127)")]
    PayloadType(u8),
    /// The payload limit leaves no room for the RTP header.
    #[error("maximum payload {0} bytes is too small")]
    MaxPayload(usize),
    /// The async runtime could not take over the socket.
    #[error("cannot use the socket for {addr}: {error}")]
    Runtime {
        /// The destination.
        addr: SocketAddr,
        /// What failed.
        error: std::io::Error,
    },
}

/// What to send and how.
#[derive(Debug, Clone)]
pub struct SendConfig {
    /// The file to stream.
    pub input: PathBuf,
    /// Destination `HOST:PORT`.
    pub to: String,
    /// Payload format; L16 at the file's rate and channels by default.
    pub format: FormatRequest,
    /// Packet time for PCM formats (MPEG audio packs as many whole frames as fit).
    pub ptime: Duration,
    /// Largest payload in bytes; PCM packets are shortened to fit (default: Ethernet MTU).
    pub max_payload: usize,
    /// Payload type; the static one of the format if it has one, else 96.
    pub pt: Option<u8>,
    /// SSRC; random if not given.
    pub ssrc: Option<u32>,
    /// First sequence number; random if not given.
    pub seq: Option<u16>,
    /// First RTP timestamp; random if not given.
    pub timestamp: Option<u32>,
    /// How many times to play the input.
    pub passes: Passes,
    /// Stop after this long (wall time of the schedule).
    pub duration: Option<Duration>,
    /// Multicast TTL / hop limit (unicast TTL for unicast destinations).
    pub ttl: Option<u32>,
    /// Network impairment and sender clock drift.
    pub impair: Option<ImpairSpec>,
}

impl SendConfig {
    /// Defaults for streaming `input` to `to`: L16, 20 ms, random SSRC/sequence/timestamp, once.
    pub fn new(input: impl Into<PathBuf>, to: impl Into<String>) -> Self {
        SendConfig {
            input: input.into(),
            to: to.into(),
            format: FormatRequest::default(),
            ptime: Duration::from_millis(20),
            max_payload: DEFAULT_MAX_PAYLOAD,
            pt: None,
            ssrc: None,
            seq: None,
            timestamp: None,
            passes: Passes::Once,
            duration: None,
            ttl: None,
            impair: None,
        }
    }
}

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
    prepared: Prepared,
    format: PayloadFormat,
    header: RtpWriter,
    metrics: Arc<TrafficMetrics>,
}

/// What a finished (or stopped) send did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendReport {
    /// RTP packets produced.
    pub packets: u64,
    /// Datagrams that left the socket (after impairment: minus dropped, plus duplicates).
    pub datagrams: u64,
    /// Datagrams the socket refused (logged).
    pub send_errors: u64,
    /// What the impairment did, when one was applied.
    pub impairment: Option<ImpairCounts>,
    /// Impaired copies still held when sending was stopped, never sent.
    pub discarded: u64,
    /// Audio sent, for PCM formats.
    pub audio: Option<Duration>,
    /// Wall time from the first packet's schedule to the end.
    pub elapsed: Duration,
    /// Whether the stop future (Ctrl-C) ended it.
    pub interrupted: bool,
}

impl fmt::Display for SendReport {
    /// One line: `sent packets=50 datagrams=45 dropped=5 ... elapsed=1.000s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent packets={} datagrams={} {}",
            self.packets,
            self.datagrams,
            self.impairment.unwrap_or_default()
        )?;
        if self.discarded > 0 {
            write!(f, " discarded={}", self.discarded)?;
        }
        if self.send_errors > 0 {
            write!(f, " errors={}", self.send_errors)?;
        }
        if let Some(audio) = self.audio {
            write!(f, " audio={:.3}s", audio.as_secs_f64())?;
        }
        write!(f, " elapsed={:.3}s", self.elapsed.as_secs_f64())?;
        if self.interrupted {
            f.write_str(" (interrupted)")?;
        }
        Ok(())
    }
}

impl Sender {
    /// Resolves the destination, opens and checks the input, and opens the socket.
    pub fn open(config: SendConfig) -> Result<Sender, SendError> {
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
        let header = RtpWriter::new(
            pt,
            config.ssrc.unwrap_or_else(rand::random),
            config.seq.unwrap_or_else(rand::random),
            config.timestamp.unwrap_or_else(rand::random),
        );
        let socket = sending_socket(destination, config.ttl)?;
        Ok(Sender {
            config,
            destination,
            socket,
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
        let addr = self.destination.ip();
        let ttl = match addr {
            IpAddr::V4(a) if a.is_multicast() => {
                Some(u8::try_from(self.config.ttl.unwrap_or(1)).unwrap_or(u8::MAX))
            }
            _ => None,
        };
        let mut stream = SdpStream::new(
            ConnectionAddress { addr, ttl },
            self.destination.port(),
            self.header.pt(),
            self.format,
        );
        stream.ptime = self.ptime();
        write_sdp(&stream)
    }

    /// Streams until the input or `--duration` ends, or `stop` completes (Ctrl-C).
    ///
    /// Must run inside a tokio runtime with time and IO enabled.
    pub async fn run(self, stop: impl Future<Output = ()>) -> Result<SendReport, SendError> {
        let Sender {
            config,
            destination,
            socket,
            prepared,
            format,
            mut header,
            metrics,
        } = self;
        let socket =
            tokio::net::UdpSocket::from_std(socket).map_err(|error| SendError::Runtime {
                addr: destination,
                error,
            })?;
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
        let bytes_per_frame = format.bytes_per_frame();
        let mut payload = Vec::with_capacity(config.max_payload);
        let within = |pacer: &Pacer, t: u64| config.duration.is_none_or(|d| pacer.due(t) < d);
        let mut next = source
            .next_payload(&mut payload)?
            .filter(|&t| within(&pacer, t));
        let (mut marker, mut interrupted, mut frames_sent) = (true, false, 0u64);
        let rate = u64::from(format.sample_rate().unwrap_or(1)).max(1);
        let audio_of = |frames: u64| Duration::from_nanos(frames * 1_000_000_000 / rate);
        let start = Instant::now();
        let sleep = tokio::time::sleep_until(start.into());
        tokio::pin!(sleep, stop);
        loop {
            let packet_due = next.map(|t| pacer.due(t));
            let release_due = queue.as_ref().and_then(ImpairQueue::next_due);
            let Some(wake) = packet_due.into_iter().chain(release_due).min() else {
                break;
            };
            sleep.as_mut().reset((start + wake).into());
            tokio::select! {
                biased;
                () = &mut stop => { interrupted = true; break; }
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
        }
        Ok(SendReport {
            packets: header.packets(),
            datagrams: out.datagrams,
            send_errors: out.errors,
            impairment: queue.as_ref().map(ImpairQueue::counts),
            discarded: queue.as_ref().map_or(0, |q| q.len() as u64),
            audio: bytes_per_frame.map(|_| audio_of(frames_sent)),
            elapsed: start.elapsed(),
            interrupted,
        })
    }
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
