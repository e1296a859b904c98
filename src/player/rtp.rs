//! Live RTP playback: network task → datagram queue → decoder thread (receive core) → ring → sink.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::file::PlayError;
use crate::net::datagram_queue::{datagram_queue, DataWake, DatagramReceiver};
use crate::net::packet_saver::{PacketSaver, SaveSnapshot};
use crate::net::receive::{self, NetSnapshot, NetStats, ReceiveError, DEFAULT_RATE_CAP};
use crate::net::rtcp_link::{bind_rtcp, RtcpMode, RtcpSender};
use crate::net::rtp_url::RtpUrl;
use crate::output::recorder::Recorder;
use crate::output::{OutputSpec, OutputStats, Request, RingCallback, Sink};
use crate::playback::record_tap::RecordSnapshot;
use crate::playback::ring::{audio_ring, wait_drained};
use crate::playout::engine::Output;
use crate::playout::metrics::MetricsSnapshot;
use crate::playout::{PlayoutEngine, PlayoutState, ReceiveCoreConfig, ReceiveCounts};
use crate::rtcp::nack::NackConfig;
use crate::rtcp::receiver::{RtcpReceiver, RtcpReceiverConfig, RtcpReceiverStatus};
use crate::rtcp::wire::looks_like_rtcp;
use crate::rtp::header::RtpHeader;
use crate::rtp::stream_format::{resolve, StreamFormat, StreamHint};
use crate::srtp::SrtpReceiver;

/// How often the decoder thread looks while the stream drains at its end.
const WAKE: Duration = Duration::from_millis(5);
/// Datagram queue size between the network task and the decoder thread: the decoder drains it
/// every few tens of ms, and when it fills, the network task leaves datagrams in the socket and
/// wakes the decoder, so 512 KiB (seconds of any audio stream, or eight 64 KiB datagrams) loses
/// nothing to its size.
const QUEUE_BYTES: usize = 1 << 19;

/// Options of live playback.
#[derive(Debug, Clone)]
pub struct RtpPlayOptions {
    /// Where the audio goes.
    pub output: OutputSpec,
    /// Device rate override.
    pub device_rate: Option<u32>,
    /// Device callback size override.
    pub buffer_frames: Option<u32>,
    /// Target window floor.
    pub target_min: Duration,
    /// Target window ceiling.
    pub target_max: Duration,
    /// No packets for this long ends the stream (drained, exit 0).
    pub idle_timeout: Option<Duration>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// SO_RCVBUF to ask for.
    pub recv_buffer: Option<usize>,
    /// Packets-per-second cap for the accepted sender.
    pub rate_cap: u32,
    /// What the stream carries, as far as known.
    pub hint: StreamHint,
    /// How often progress is reported (default 100 ms).
    pub progress_every: Duration,
    /// Also record what is played to this WAV file (`--record`).
    pub record: Option<std::path::PathBuf>,
    /// Save every received datagram with its arrival to this pcap/rtpdump (`--save-packets`).
    pub save_packets: Option<std::path::PathBuf>,
    /// `--metrics-listen` and `--web`: their metrics view and the dashboard's hub (the
    /// servers run on their own thread).
    pub metrics: Option<crate::web::ReceiveExport>,
    /// What telephone events sound like (`--dtmf`).
    pub dtmf: crate::playout::DtmfMode,
    /// RTCP: where it travels, NACK recovery, RTX.
    pub rtcp: RtcpOptions,
    /// The SRTP key (`--srtp`, an SDP's `a=crypto`): everything that arrives is authenticated
    /// and decrypted first, and our RTCP is encrypted.
    pub srtp: Option<crate::srtp::SrtpKeying>,
    /// RFC 7273 `a=mediaclk:direct=OFFSET`: measure the sender's media clock against the
    /// reference clock.
    pub media_clock_offset: Option<u32>,
    /// RFC 7273 `a=ts-refclk`: the clock the sender says it follows (reported as it is).
    pub ts_refclk: Option<String>,
    /// The reference clock's reading at the player's time zero (set when playing starts).
    pub reference_epoch: Duration,
    /// What disciplines that clock (linuxptp's grandmaster, TAI or UTC), for the status.
    pub reference_clock: Option<String>,
}

/// The receiver's RTCP settings (`--rtcp`, `--no-nack`, `--rtx-pt`, and the SDP's attributes).
#[derive(Debug, Clone, Default)]
pub struct RtcpOptions {
    /// Where RTCP travels (`--rtcp`; `a=rtcp-mux`, `a=rtcp:`).
    pub mode: RtcpMode,
    /// Ask for lost packets again (off with `--no-nack`).
    pub nack: bool,
    /// The RTX payload type, when announced (`a=fmtp:97 apt=96` or `--rtx-pt`).
    pub rtx_pt: Option<u8>,
    /// Send NACKs as reduced-size RTCP (`a=rtcp-rsize`).
    pub reduced_size: bool,
    /// The target floor (the network task's batch interval follows it).
    pub target_min: Duration,
    /// Send the first receiver report at once (set for unicast sessions, where RFC 3550
    /// allows it).
    pub first_report_at_once: bool,
}

impl Default for RtpPlayOptions {
    fn default() -> Self {
        RtpPlayOptions {
            output: OutputSpec::Default,
            device_rate: None,
            buffer_frames: None,
            target_min: Duration::from_secs(3),
            target_max: Duration::from_secs(5),
            idle_timeout: None,
            duration: None,
            recv_buffer: None,
            rate_cap: DEFAULT_RATE_CAP,
            hint: StreamHint::default(),
            progress_every: Duration::from_millis(100),
            record: None,
            save_packets: None,
            metrics: None,
            dtmf: crate::playout::DtmfMode::Tone,
            rtcp: RtcpOptions {
                nack: true,
                ..RtcpOptions::default()
            },
            srtp: None,
            media_clock_offset: None,
            ts_refclk: None,
            reference_epoch: Duration::ZERO,
            reference_clock: None,
        }
    }
}

/// Where playback stands, for status lines and stats.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveStatus {
    /// Seconds since start.
    pub t: f64,
    /// waiting, prebuffering, playing, rebuffering, draining.
    pub state: &'static str,
    /// Prebuffer/rebuffer progress 0..=1.
    pub progress: f64,
    /// The accepted sender.
    pub source: Option<String>,
    /// The stream's SSRC (hexadecimal), once a packet was buffered.
    pub ssrc: Option<String>,
    /// RFC 7273: the reference clock the sender claims (`a=ts-refclk`, e.g. a PTP
    /// grandmaster), with the media clock measured against the host's (`metrics`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts_refclk: Option<String>,
    /// RFC 7273: the host clock the media clock is measured against, and what disciplines it
    /// (linuxptp's grandmaster when `pmc` answers, else TAI or NTP-disciplined UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_clock: Option<String>,
    /// The stream's format.
    pub format: Option<String>,
    /// The receive core's metrics.
    pub metrics: MetricsSnapshot,
    /// Packets that never reached the jitter buffer.
    pub receiver: ReceiveCounts,
    /// The network task's counters.
    pub net: NetSnapshot,
    /// The recorder's counters (with `--record`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordSnapshot>,
    /// The packet saver's counters (with `--save-packets`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub save: Option<SaveSnapshot>,
    /// What RTCP said and did: the sender's CNAME and reported counts, reports, recovery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtcp: Option<LiveRtcp>,
}

/// The RTCP part of [`LiveStatus`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveRtcp {
    /// The sender's CNAME (SDES), once received.
    pub sender_cname: Option<String>,
    /// Everything else the session knows.
    #[serde(flatten)]
    pub status: RtcpReceiverStatus,
}

/// Plays the stream at `url` until idle, `--duration` or `stop`; reports status every 100 ms.
pub fn play_rtp(
    url: &RtpUrl,
    options: &RtpPlayOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&LiveStatus),
) -> Result<LiveStatus, PlayError> {
    let origin = Instant::now();
    let mut options = options.clone();
    options.reference_epoch = crate::net::ref_clock::reference_now();
    options.rtcp.first_report_at_once = url.group.is_none();
    let options = &options;
    let net_stats = Arc::new(NetStats::default());
    if options.srtp.is_some() {
        net_stats.lock_after_auth.store(true, Ordering::Relaxed);
    }
    let socket = receive::bind(url, options.recv_buffer, &net_stats.recv_buffer)?;
    let rtcp_socket = bind_rtcp(url, options.rtcp.mode, &net_stats)?;
    let rtcp_sender = match options.rtcp.mode {
        RtcpMode::Off => None,
        mode => Some(
            RtcpSender::new(&socket, rtcp_socket.as_ref(), mode).map_err(|error| {
                ReceiveError::Socket {
                    what: "share",
                    addr: url.bind,
                    error,
                }
            })?,
        ),
    };
    let (saver, save_tap) = match &options.save_packets {
        Some(path) => {
            let local = socket.local_addr().unwrap_or(url.bind);
            let (saver, tap) = PacketSaver::start(path, local, origin)?;
            let _ = net_stats.save.set(Arc::clone(saver.stats()));
            (Some(saver), Some(tap))
        }
        None => (None, None),
    };
    let (mut tx, mut rx) = datagram_queue(QUEUE_BYTES);
    // The decoder loop runs on this thread; the network task wakes it when it waits for data.
    let wake = DataWake::new(std::thread::current());
    tx.set_wake(Arc::clone(&wake));
    let net_stop = Arc::new(tokio::sync::Notify::new());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PlayError::Runtime(e.to_string()))?;
    if let Some(metrics) = &options.metrics {
        metrics.view.attach_net(&net_stats);
    }
    let net = {
        let (url, stats, stop) = (url.clone(), Arc::clone(&net_stats), Arc::clone(&net_stop));
        let rate_cap = options.rate_cap;
        let batch = receive::batch_interval(options.target_min);
        std::thread::Builder::new()
            .name("jitterplay-net".into())
            .spawn(move || {
                runtime.block_on(receive::receive(
                    socket,
                    url,
                    rate_cap,
                    origin,
                    tx,
                    stats,
                    stop.notified(),
                    batch,
                    save_tap,
                    rtcp_socket,
                ))
            })
            .map_err(|e| PlayError::Runtime(e.to_string()))?
    };
    let srtp = match &options.srtp {
        Some(keying) => Some(RefCell::new(SrtpReceiver::new(
            keying,
            Arc::clone(&net_stats.srtp),
        )?)),
        None => None,
    };
    let link = Link {
        net: &net_stats,
        rtcp: rtcp_sender,
        srtp,
    };
    let mut result = decode_loop(options, origin, &mut rx, &wake, &link, stop, progress);
    if let Some(srtp) = &link.srtp {
        // Silence would hide a wrong key: say why nothing played.
        if let Some(cause) = srtp.borrow().nothing_authenticated() {
            result = result.and(Err(PlayError::SrtpRefused(cause)));
        }
    }
    net_stop.notify_one();
    let _ = net.join();
    if let Some(saver) = saver {
        // The network task has stopped: everything it saw is queued.
        let stats = Arc::clone(saver.stats());
        saver.finish()?;
        if let Ok(last) = result.as_mut() {
            last.save = Some(stats.snapshot());
        }
    }
    result
}

/// The network side as the decoder thread sees it: the counters, and the way back to the sender.
struct Link<'a> {
    net: &'a NetStats,
    rtcp: Option<RtcpSender>,
    /// SRTP, when the stream is encrypted (the decoder thread is its only user).
    srtp: Option<RefCell<SrtpReceiver>>,
}

impl Link<'_> {
    /// Sends an RTCP datagram the engine handed out (encrypted for an SRTP stream).
    fn send_rtcp(&self, datagram: &[u8]) {
        let Some(rtcp) = &self.rtcp else {
            return;
        };
        match &self.srtp {
            Some(srtp) => {
                if let Some(protected) = srtp.borrow_mut().protect_rtcp(datagram) {
                    rtcp.send(protected, self.net);
                }
            }
            None => rtcp.send(datagram, self.net),
        }
    }

    /// Authenticates and decrypts an arriving datagram in place: false if SRTP refused it.
    fn admit(&self, datagram: &mut Vec<u8>) -> bool {
        self.srtp.as_ref().is_none_or(|srtp| {
            let rtcp = looks_like_rtcp(datagram);
            srtp.borrow_mut().unprotect(datagram, rtcp)
        })
    }
}

/// The live parts built once the first packet settles the format.
struct Playing {
    engine: PlayoutEngine,
    format: StreamFormat,
    sink: Option<Sink>,
    callback: Option<RingCallback>,
    out_stats: Arc<OutputStats>,
    recorder: Option<Recorder>,
    final_record: Option<RecordSnapshot>,
    ts_refclk: Option<String>,
    reference_clock: Option<String>,
}

fn decode_loop(
    options: &RtpPlayOptions,
    origin: Instant,
    rx: &mut DatagramReceiver,
    wake: &DataWake,
    link: &Link<'_>,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&LiveStatus),
) -> Result<LiveStatus, PlayError> {
    let net_stats = link.net;
    let mut datagram = Vec::with_capacity(2048);
    let mut live: Option<Playing> = None;
    // Before the stream's format is known, the idle timeout counts from any datagram.
    let mut last_datagram = Duration::ZERO;
    let mut next_progress = Duration::ZERO;
    let mut early_malformed = 0u64;
    let mut delay_tap = options
        .metrics
        .as_ref()
        .and_then(|m| m.hub())
        .and_then(|h| h.delay_tap());
    loop {
        let now = origin.elapsed();
        while let Some((arrival, from)) = rx.pop_from(&mut datagram) {
            if !link.admit(&mut datagram) {
                continue;
            }
            if let (Some(_), Some(from)) = (&link.srtp, from) {
                if net_stats.source.set(from).is_ok() {
                    tracing::info!(%from, "sender locked: its packet authenticated");
                }
            }
            if live.is_none() {
                last_datagram = arrival;
                match resolve(&options.hint, &datagram)? {
                    Some(format) => {
                        let mut p = start(format, options, origin.elapsed(), link.rtcp.is_some())?;
                        p.engine.count_malformed(early_malformed);
                        live = Some(p);
                    }
                    None if RtpHeader::parse(&datagram).is_err() => early_malformed += 1,
                    None => {}
                }
            }
            if let Some(p) = live.as_mut() {
                let verdict = p.engine.handle_datagram(&datagram, arrival);
                if let Some(tap) = delay_tap.as_mut() {
                    note_delay(tap, &p.engine, verdict, arrival);
                }
            }
        }
        let out_of_time = options.duration.is_some_and(|d| now >= d);
        let stopped = stop.load(Ordering::Acquire);
        let idle = options
            .idle_timeout
            .is_some_and(|t| now.saturating_sub(last_datagram) >= t);
        match live.as_mut() {
            // Stop and --duration end now; the idle timeout and BYE are the engine's.
            Some(p) if out_of_time || stopped => return finish(p, now, link, false),
            None if idle || out_of_time || stopped => {
                return Ok(status(None, now, net_stats, "stopped"));
            }
            _ => {}
        }
        let mut deadline = None;
        let mut ending = false;
        if let Some(p) = live.as_mut() {
            match step(p, now, link)? {
                Step::Ended => return finish(p, now, link, true),
                Step::Next(d) => deadline = d,
            }
            ending = p.engine.has_ended();
        }
        if now >= next_progress {
            progress(&status(live.as_ref(), now, net_stats, ""));
            next_progress = now + options.progress_every;
        }
        // Sleep until the engine's deadline, the next report or a time limit; a push wakes the
        // thread early only while the engine waits for data (no deadline of its own).
        let mut wake_at = next_progress;
        let before_stream = options
            .idle_timeout
            .filter(|_| live.is_none())
            .map(|t| last_datagram + t);
        for t in [
            deadline,
            ending.then_some(now + WAKE),
            before_stream,
            options.duration.filter(|_| !ending),
        ]
        .into_iter()
        .flatten()
        {
            wake_at = wake_at.min(t);
        }
        wake.want(deadline.is_none());
        let now = origin.elapsed();
        if rx.is_empty() && wake_at > now {
            std::thread::park_timeout(wake_at - now);
        }
        wake.want(false);
    }
}

fn start(
    format: StreamFormat,
    options: &RtpPlayOptions,
    now: Duration,
    with_rtcp: bool,
) -> Result<Playing, PlayError> {
    let request = Request {
        rate: format.rate,
        channels: format.channels,
        device_rate: options.device_rate,
        buffer_frames: options.buffer_frames,
    };
    let sink = Sink::open(&options.output, &request, false)?;
    let out = sink.format();
    // The ring stays a few device periods ahead: the jitter buffer does the real buffering. It
    // counts within the target, so with a deep target it may hold more (a 25th of the floor)
    // and the decoder thread wakes less often, at no cost in latency.
    let period = Duration::from_secs_f64(f64::from(out.period_frames) / f64::from(out.rate));
    let high_water = (period * 3)
        .max(Duration::from_millis(60))
        .max(options.target_min / 25);
    let mut cfg = ReceiveCoreConfig::new(format.format, out.rate, out.channels);
    cfg.payload_type = Some(format.payload_type);
    cfg.telephone_event_pt = options.hint.telephone_event_pt;
    cfg.dtmf = options.dtmf;
    cfg.set_target_window(options.target_min, options.target_max);
    let (producer, consumer) = audio_ring(high_water * 2, out.rate, usize::from(out.channels));
    let mut engine =
        PlayoutEngine::new(cfg, producer, high_water)?.with_idle_timeout(options.idle_timeout);
    if with_rtcp {
        engine = engine.with_rtcp(rtcp_session(&format, &options.rtcp, now));
    }
    if let Some(offset) = options.media_clock_offset {
        engine.measure_media_clock(crate::rtp::media_clock::MediaClock::new(
            format.format.clock_rate(),
            offset,
            options.reference_epoch,
        ));
    }
    if let Some(m) = &options.metrics {
        m.view
            .attach_stream(engine.metrics(), format.format.to_string(), None);
    }
    let out_stats = Arc::new(OutputStats::default());
    out_stats.set_paused(true);
    tracing::info!(?format, ?out, "stream format settled");
    let mut callback = RingCallback::new(consumer, Arc::clone(&out_stats));
    let recorder = Recorder::attach(
        options.record.as_deref(),
        &mut callback,
        out.rate,
        out.channels,
    )?;
    if let Some(hub) = options.metrics.as_ref().and_then(|m| m.hub()) {
        callback.set_listen_tap(hub.attach_audio(out.rate, out.channels));
    }
    Ok(Playing {
        engine,
        format,
        sink: Some(sink),
        callback: Some(callback),
        out_stats,
        recorder,
        final_record: None,
        ts_refclk: options.ts_refclk.clone(),
        reference_clock: options.reference_clock.clone(),
    })
}

/// Hands the dashboard the delay of a packet the jitter buffer took in time.
fn note_delay(
    tap: &mut crate::web::hub::DelayTap,
    engine: &PlayoutEngine,
    verdict: crate::playout::Verdict,
    arrival: Duration,
) {
    use crate::jitter::InsertOutcome;
    let crate::playout::Verdict::Buffered(outcome) = verdict else {
        return;
    };
    if matches!(
        outcome,
        InsertOutcome::Late | InsertOutcome::Duplicate | InsertOutcome::TooLarge
    ) {
        return;
    }
    if let Some(delay) = engine.last_delay() {
        tap.push(crate::web::hub::DelayPoint {
            at: arrival.as_secs_f64(),
            delay_ms: (delay.as_secs_f64() * 1e3) as f32,
        });
    }
}

/// The receiver's RTCP session for `format`: a random SSRC, `user@host` as CNAME.
fn rtcp_session(format: &StreamFormat, o: &RtcpOptions, now: Duration) -> RtcpReceiver {
    let seed: u64 = rand::random();
    let cfg = RtcpReceiverConfig {
        ssrc: (seed >> 32) as u32,
        cname: crate::net::socket::cname(),
        clock_rate: format.format.clock_rate(),
        nack: o.nack.then(|| NackConfig {
            // The network task hands datagrams over in batches; the decoder thread wakes at its
            // own deadlines: a retransmission may be seen that much after it arrived.
            processing_delay: receive::batch_interval(o.target_min) + Duration::from_millis(40),
            ..NackConfig::default()
        }),
        rtx: o.rtx_pt.map(|pt| (pt, format.payload_type)),
        reduced_size: o.reduced_size,
        session_octets_per_s: session_rate(format),
        seed,
        first_report_at_once: o.first_report_at_once,
    };
    RtcpReceiver::new(cfg, now)
}

/// The stream's bandwidth in octets per second, for the report interval: exact for PCM, a
/// typical 8 kB/s for compressed formats (the 5 s minimum interval rules above that anyway).
fn session_rate(format: &StreamFormat) -> f64 {
    let per_frame = format.format.bytes_per_frame().unwrap_or(0) as f64;
    (per_frame * f64::from(format.format.clock_rate())).max(8_000.0)
}

/// What a decoder-thread step leaves to do.
enum Step {
    /// Step again by then (`None`: when data arrives).
    Next(Option<Duration>),
    /// The stream ended and everything is in the ring.
    Ended,
}

/// One decoder-thread step: the engine's poll round (control, ring top-up, RTCP out), and the
/// sink started when playback begins.
fn step(p: &mut Playing, now: Duration, link: &Link<'_>) -> Result<Step, PlayError> {
    p.engine.handle_output(p.out_stats.underruns(), now);
    loop {
        match p.engine.poll(now)? {
            Output::Playout(step) => {
                let playing = step.decision.playing;
                p.out_stats.set_paused(!playing);
                if playing {
                    if let (Some(sink), Some(callback)) = (p.sink.as_mut(), p.callback.take()) {
                        // Opening the device only now keeps a WAV free of the prebuffering
                        // silence.
                        sink.start(callback, Arc::clone(&p.out_stats))?;
                    }
                }
            }
            Output::Transmit(datagram) => link.send_rtcp(datagram),
            Output::Event(_) => {}
            Output::Ended(reason) => {
                tracing::debug!(?reason, "the stream ended");
                return Ok(Step::Ended);
            }
            Output::Timeout(deadline) => return Ok(Step::Next(deadline)),
        }
    }
}

fn finish(
    p: &mut Playing,
    now: Duration,
    link: &Link<'_>,
    drain: bool,
) -> Result<LiveStatus, PlayError> {
    let net = link.net;
    p.engine.leave(now);
    while let Output::Transmit(datagram) = p.engine.poll(now)? {
        link.send_rtcp(datagram);
    }
    p.out_stats.mark_finished();
    p.out_stats.set_paused(false);
    if let Some(callback) = p.callback.take() {
        // Playback never started (the stream ended while prebuffering): play what there is.
        if let Some(sink) = p.sink.as_mut() {
            sink.start(callback, Arc::clone(&p.out_stats))?;
        }
    }
    if drain {
        wait_drained(p.engine.producer(), WAKE, &|| false);
    }
    if let Some(sink) = p.sink.take() {
        sink.finish()?;
    }
    if let Some(recorder) = p.recorder.take() {
        // The output has stopped: everything it played is queued.
        let stats = Arc::clone(recorder.stats());
        recorder.finish()?;
        p.final_record = Some(stats.snapshot());
    }
    Ok(status(Some(p), now, net, "finished"))
}

fn status(p: Option<&Playing>, now: Duration, net: &NetStats, forced: &'static str) -> LiveStatus {
    let (state, progress) = match p {
        None => ("waiting", 0.0),
        Some(p) => match p.engine.state() {
            (PlayoutState::Prebuffering, progress) => ("prebuffering", progress),
            (PlayoutState::Rebuffering, progress) => ("rebuffering", progress),
            (PlayoutState::Playing, _) => ("playing", 1.0),
        },
    };
    LiveStatus {
        t: now.as_secs_f64(),
        state: if forced.is_empty() { state } else { forced },
        progress,
        source: net.source.get().map(|s| s.to_string()),
        ssrc: p
            .and_then(|p| p.engine.metrics().ssrc())
            .map(|s| format!("{s:#010x}")),
        ts_refclk: p.and_then(|p| p.ts_refclk.clone()),
        reference_clock: p.and_then(|p| p.reference_clock.clone()),
        format: p.map(|p| p.format.format.to_string()),
        metrics: p.map(|p| p.engine.metrics().snapshot()).unwrap_or_default(),
        receiver: p.map(|p| p.engine.counts()).unwrap_or_default(),
        net: net.snapshot(),
        save: net.save.get().map(|s| s.snapshot()),
        rtcp: p.and_then(|p| p.engine.rtcp()).map(|r| LiveRtcp {
            sender_cname: r.sender_cname().map(str::to_owned),
            status: r.status(),
        }),
        record: p.and_then(|p| {
            (p.recorder.as_ref())
                .map(|r| r.stats().snapshot())
                .or(p.final_record)
        }),
    }
}
