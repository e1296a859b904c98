//! `--save-packets PATH.pcap|PATH.rtpdump`: every datagram the socket received, with its
//! arrival time, saved so that a live session can be replayed exactly later (`jitterplay play
//! PATH`, `jitterplay simulate PATH`), closing the loop between the field and the simulator.
//!
//! The network task hands each datagram to a lock-free queue ([`SaveTap`]) and never waits on
//! the disk; a writer thread takes them in batches and flushes every 64 KiB or 500 ms (the seed's
//! batch-flush buffer), so a capture cut short by `kill -9` holds everything up to its last
//! flush. A full queue drops from the capture, never from playback, and counts it.
//!
//! pcap records carry IPv4/IPv6 and UDP headers (raw-IP link type) from the sender to the
//! socket's own address, with the kernel's arrival stamp in microseconds; rtpdump records carry
//! the RTP packet with its offset in milliseconds (the format's resolution).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;

use super::datagram_queue::{datagram_queue, DatagramReceiver, DatagramSender};
use crate::output::writer_thread::{Finished, QueueWriter, WriterThread, FLUSH_BYTES};

/// The queue between the network task and the writer (a few seconds of any audio stream).
const QUEUE_BYTES: usize = 8 << 20;
/// Bytes of sender address ahead of each queued datagram: family, 16 address bytes, port.
const ADDR_LEN: usize = 19;

/// Why saving packets failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Not a capture format jitterplay writes.
    #[error("--save-packets {0}: use a .pcap or .rtpdump file")]
    Format(PathBuf),
    /// The file could not be written.
    #[error("cannot write {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
    /// pcap-file refused a record.
    #[error("cannot write {path}: {error}")]
    Pcap {
        /// The file.
        path: PathBuf,
        /// What failed.
        error: pcap_file::PcapError,
    },
    /// The writer thread died.
    #[error("the packet saver thread panicked")]
    Panicked,
}

/// Counters of the saver.
#[derive(Debug, Default)]
pub struct SaveStats {
    saved: AtomicU64,
    dropped: AtomicU64,
}

/// A copy of [`SaveStats`] for `--stats-json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SaveSnapshot {
    /// Datagrams written to the capture.
    pub saved: u64,
    /// Datagrams received but left out of the capture (the writer fell behind).
    pub save_dropped: u64,
}

impl SaveStats {
    /// Copies the counters out.
    pub fn snapshot(&self) -> SaveSnapshot {
        SaveSnapshot {
            saved: self.saved.load(Relaxed),
            save_dropped: self.dropped.load(Relaxed),
        }
    }
}

/// The network task's end: queues each datagram with its sender and arrival.
pub struct SaveTap {
    queue: DatagramSender,
    scratch: Vec<u8>,
    stats: Arc<SaveStats>,
}

impl SaveTap {
    /// Queues one received datagram (dropped and counted if the writer is behind).
    pub fn save(&mut self, from: SocketAddr, datagram: &[u8], arrival: Duration) {
        self.scratch.clear();
        match from.ip() {
            IpAddr::V4(ip) => {
                self.scratch.push(4);
                self.scratch
                    .extend_from_slice(&ip.to_ipv6_mapped().octets());
            }
            IpAddr::V6(ip) => {
                self.scratch.push(6);
                self.scratch.extend_from_slice(&ip.octets());
            }
        }
        self.scratch.extend_from_slice(&from.port().to_be_bytes());
        self.scratch.extend_from_slice(datagram);
        if !self.queue.push(&self.scratch, arrival, None) {
            self.stats.dropped.fetch_add(1, Relaxed);
        }
    }
}

/// The running writer.
pub struct PacketSaver {
    writer: WriterThread<SaveError>,
    stats: Arc<SaveStats>,
}

impl PacketSaver {
    /// Starts saving to `path` what arrives at `local` (the socket's address); arrival times
    /// count from `origin`. Returns the saver and the tap for the network task.
    pub fn start(
        path: &Path,
        local: SocketAddr,
        origin: Instant,
    ) -> Result<(PacketSaver, SaveTap), SaveError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let format = match ext.as_deref() {
            Some("pcap") => Format::Pcap,
            Some("rtpdump" | "rtp") => Format::Rtpdump,
            _ => return Err(SaveError::Format(path.to_owned())),
        };
        let io = |error| SaveError::Io {
            path: path.to_owned(),
            error,
        };
        let file = File::create(path).map_err(io)?;
        // The wall-clock time of `origin`, so records carry real dates.
        let wall = SystemTime::now()
            .checked_sub(origin.elapsed())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let sink = Sink::new(
            format,
            BufWriter::with_capacity(FLUSH_BYTES * 2, file),
            local,
            wall,
        )
        .map_err(|e| e.at(path))?;
        let stats = Arc::new(SaveStats::default());
        let (tx, rx) = datagram_queue(QUEUE_BYTES);
        let saving = Saving {
            sink,
            queue: rx,
            buf: Vec::with_capacity(ADDR_LEN + 65_536),
            stats: Arc::clone(&stats),
            path: path.to_owned(),
        };
        let writer = WriterThread::spawn("jitterplay-save", move || Ok(saving)).map_err(io)?;
        let tap = SaveTap {
            queue: tx,
            scratch: Vec::with_capacity(ADDR_LEN + 65_536),
            stats: Arc::clone(&stats),
        };
        Ok((PacketSaver { writer, stats }, tap))
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<SaveStats> {
        &self.stats
    }

    /// Writes what is queued and closes the file (call once the network task has stopped).
    pub fn finish(self) -> Result<(), SaveError> {
        self.writer.finish().map_err(|e| match e {
            Finished::Failed(e) => e,
            Finished::Panicked => SaveError::Panicked,
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Format {
    Pcap,
    Rtpdump,
}

/// A write error not yet tied to its file.
enum WriteError {
    Io(std::io::Error),
    Pcap(pcap_file::PcapError),
}

impl WriteError {
    fn at(self, path: &Path) -> SaveError {
        let path = path.to_owned();
        match self {
            WriteError::Io(error) => SaveError::Io { path, error },
            WriteError::Pcap(error) => SaveError::Pcap { path, error },
        }
    }
}

/// The open capture file.
enum Sink {
    Pcap {
        /// pcap-file writes into `pending`, which goes to `out` at each flush (its writer has no
        /// flush of its own to call).
        writer: PcapWriter<Pending>,
        pending: Pending,
        out: BufWriter<File>,
        local: SocketAddr,
        wall: SystemTime,
        frame: Vec<u8>,
    },
    Rtpdump {
        out: BufWriter<File>,
    },
}

impl Sink {
    fn new(
        format: Format,
        mut out: BufWriter<File>,
        local: SocketAddr,
        wall: SystemTime,
    ) -> Result<Sink, WriteError> {
        match format {
            Format::Pcap => {
                let header = PcapHeader {
                    datalink: DataLink::RAW,
                    ..PcapHeader::default()
                };
                let pending = Pending::default();
                let writer =
                    PcapWriter::with_header(pending.clone(), header).map_err(WriteError::Pcap)?;
                Ok(Sink::Pcap {
                    writer,
                    pending,
                    out,
                    local,
                    wall,
                    frame: Vec::with_capacity(65_600),
                })
            }
            Format::Rtpdump => {
                // rtptools' header: the text line, then start time, source address, port, padding.
                let since = wall
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default();
                let ip = match local.ip() {
                    IpAddr::V4(ip) => ip,
                    IpAddr::V6(ip) => ip.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
                };
                let line = format!("#!rtpplay1.0 {}/{}\n", local.ip(), local.port());
                let write = |out: &mut BufWriter<File>| -> std::io::Result<()> {
                    out.write_all(line.as_bytes())?;
                    out.write_all(&(since.as_secs() as u32).to_be_bytes())?;
                    out.write_all(&since.subsec_micros().to_be_bytes())?;
                    out.write_all(&ip.octets())?;
                    out.write_all(&local.port().to_be_bytes())?;
                    out.write_all(&[0, 0])
                };
                write(&mut out).map_err(WriteError::Io)?;
                Ok(Sink::Rtpdump { out })
            }
        }
    }

    /// Writes one datagram that came from `from` at `arrival` (after the recording's start).
    fn record(
        &mut self,
        from: SocketAddr,
        datagram: &[u8],
        arrival: Duration,
    ) -> Result<(), WriteError> {
        match self {
            Sink::Pcap {
                writer,
                local,
                wall,
                frame,
                ..
            } => {
                frame.clear();
                let built = match (from.ip(), local.ip()) {
                    (IpAddr::V4(s), IpAddr::V4(d)) => {
                        etherparse::PacketBuilder::ipv4(s.octets(), d.octets(), 64)
                            .udp(from.port(), local.port())
                            .write(frame, datagram)
                    }
                    (s, d) => etherparse::PacketBuilder::ipv6(v6(s), v6(d), 64)
                        .udp(from.port(), local.port())
                        .write(frame, datagram),
                };
                if built.is_err() {
                    // Larger than an IPv4 packet can be: not something a socket delivers.
                    return Ok(());
                }
                let at = wall
                    .checked_add(arrival)
                    .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .unwrap_or_default();
                let len = frame.len() as u32;
                writer
                    .write_packet(&PcapPacket::new(at, len, frame))
                    .map_err(WriteError::Pcap)?;
                Ok(())
            }
            Sink::Rtpdump { out } => {
                let Ok(plen) = u16::try_from(datagram.len()) else {
                    return Ok(());
                };
                let Some(len) = plen.checked_add(8) else {
                    return Ok(());
                };
                let ms = u32::try_from(arrival.as_millis()).unwrap_or(u32::MAX);
                out.write_all(&len.to_be_bytes()).map_err(WriteError::Io)?;
                out.write_all(&plen.to_be_bytes()).map_err(WriteError::Io)?;
                out.write_all(&ms.to_be_bytes()).map_err(WriteError::Io)?;
                out.write_all(datagram).map_err(WriteError::Io)
            }
        }
    }

    fn flush(&mut self) -> Result<(), WriteError> {
        match self {
            Sink::Pcap { pending, out, .. } => {
                let mut bytes = pending.bytes();
                out.write_all(&bytes).map_err(WriteError::Io)?;
                bytes.clear();
                out.flush().map_err(WriteError::Io)
            }
            Sink::Rtpdump { out } => out.flush().map_err(WriteError::Io),
        }
    }
}

/// Bytes written but not yet flushed to the file, shared with the pcap writer.
#[derive(Debug, Clone, Default)]
struct Pending(Arc<std::sync::Mutex<Vec<u8>>>);

impl Pending {
    /// Only the writer thread touches it, so the lock is never contended.
    fn bytes(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Write for Pending {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn v6(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The writer thread's side: the queue and the open file.
struct Saving {
    sink: Sink,
    queue: DatagramReceiver,
    buf: Vec<u8>,
    stats: Arc<SaveStats>,
    path: PathBuf,
}

impl QueueWriter for Saving {
    type Error = SaveError;

    fn drain(&mut self) -> Result<usize, SaveError> {
        let mut wrote = 0;
        while let Some(arrival) = self.queue.pop(&mut self.buf) {
            let Some((head, datagram)) = self.buf.split_at_checked(ADDR_LEN) else {
                continue;
            };
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&head[1..17]);
            let v6 = std::net::Ipv6Addr::from(octets);
            let ip = match head[0] {
                4 => IpAddr::V4(v6.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED)),
                _ => IpAddr::V6(v6),
            };
            let from = SocketAddr::new(ip, u16::from_be_bytes([head[17], head[18]]));
            self.sink
                .record(from, datagram, arrival)
                .map_err(|e| e.at(&self.path))?;
            self.stats.saved.fetch_add(1, Relaxed);
            // At least one byte, so an empty datagram still counts as written.
            wrote += datagram.len().max(1);
        }
        Ok(wrote)
    }

    fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    fn flush(&mut self, _last: bool, _age: Duration) -> Result<(), SaveError> {
        self.sink.flush().map_err(|e| e.at(&self.path))
    }
}
