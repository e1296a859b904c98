//! The arguments of `play`.

use super::duration::{parse_duration, parse_ssrc};
use crate::net::rtcp_link::RtcpMode;
use crate::output::OutputSpec;
use crate::playout::DtmfMode;
use crate::rtp::payload::PayloadFormat;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `play`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  jitterplay play assets/music-48k-stereo.flac\n  jitterplay play speech.mp3 --output wav:out.wav --fast\n  jitterplay play rtp://@:5004 --format l16/48000/2\n  jitterplay play stream.sdp --stats-json stats.jsonl\n  jitterplay play rtp://@:5004 --format pcmu --metrics-listen 127.0.0.1:9464\n  jitterplay play rtp://10.0.0.7@239.1.2.3:5004 --target-min 200ms --target-max 1s --idle-timeout 5s\n  jitterplay play call.pcap --stream 2 --output wav:heard.wav --fast"
)]
pub struct PlayArgs {
    /// A file (WAV, FLAC, MP3, Ogg/Vorbis, AAC/M4A, AIFF, CAF, MKV), rtp://[SOURCE@]ADDR:PORT, an
    /// .sdp file, or a capture (.pcap, .pcapng, rtpdump .rtp) replayed with its arrival times.
    pub input: String,
    /// Where to play: default, device:NAME, wav:PATH or null.
    #[arg(short, long, default_value = "default")]
    pub output: OutputSpec,
    /// Open the device at this rate (resampling if the input differs).
    #[arg(long, value_name = "HZ")]
    pub device_rate: Option<u32>,
    /// Ask the device for callbacks of this many frames.
    #[arg(long, value_name = "FRAMES")]
    pub buffer_frames: Option<u32>,
    /// Files and captures: run wav:/null outputs as fast as possible instead of in real time.
    #[arg(long)]
    pub fast: bool,
    /// Captures: play stream N of `jitterplay streams FILE`.
    #[arg(long, value_name = "N", conflicts_with = "ssrc")]
    pub stream: Option<usize>,
    /// Captures: play the stream with this SSRC (0x1234abcd or decimal).
    #[arg(long, value_name = "SSRC", value_parser = parse_ssrc)]
    pub ssrc: Option<u32>,
    /// RTP: the payload format, name[/rate[/channels]] (l16/48000/2, l24/48000/2, pcmu, pcma, mpa, opus).
    #[arg(long)]
    pub format: Option<PayloadFormat>,
    /// RTP: the payload type carrying it (default: the format's static type, else the first seen).
    #[arg(long)]
    pub pt: Option<u8>,
    /// RTP: jitter buffer target floor.
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    pub target_min: Duration,
    /// RTP: jitter buffer target ceiling.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub target_max: Duration,
    /// RTP: no packets for this long ends the stream (what is buffered still plays). Captures:
    /// a jump of the capture's clock longer than this (default 10s), or backwards, is a pause
    /// the replay skips (counted, and named by record number).
    #[arg(long, value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// RTP: stop after this long.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// RTP: a JSON line of every metric each second, and a final summary, to PATH or - (stdout).
    #[arg(long, value_name = "PATH|-")]
    pub stats_json: Option<String>,
    /// Also record what is played, beside the output, to PATH.wav (32-bit float) or PATH.flac
    /// (24-bit) (batched
    /// writes on their own thread, header fixed up at every flush; a slow disk drops frames from
    /// the recording, never from playback, counted as record_dropped_frames).
    #[arg(long, value_name = "PATH.wav|PATH.flac")]
    pub record: Option<PathBuf>,
    /// RTP: save every received datagram with its arrival time to PATH.pcap or PATH.rtpdump
    /// (batched writes on their own thread), to replay the session exactly later with
    /// `jitterplay play PATH` or `jitterplay simulate PATH`.
    #[arg(long, value_name = "PATH.pcap|PATH.rtpdump")]
    pub save_packets: Option<PathBuf>,
    /// RTP and captures: serve every metric as Prometheus/OpenMetrics text at
    /// http://ADDR:PORT/metrics while playing, and after the end until one scrape reads the
    /// final values (at most --metrics-linger).
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Serve a live dashboard at http://ADDR:PORT/ while playing: buffer, packet delays,
    /// events, levels and every counter; the audio played at /listen (Ogg Opus), /listen.wav
    /// and /listen.flac; /metrics, /stats.json and /healthz.
    #[arg(long, value_name = "ADDR:PORT")]
    pub web: Option<std::net::SocketAddr>,
    /// Multicast: join the group on this interface (e.g. eth0; IPv6 URLs may also say
    /// `rtp://[ff15::1%eth0]:5004`) instead of the one the routing table gives.
    #[arg(long, value_name = "NAME")]
    pub interface: Option<String>,
    /// `play sap://NAME`: where to listen for the session's announcements.
    #[command(flatten)]
    pub sap: super::sap_args::SapArgs,
    /// After the stream ends, keep serving --metrics-listen's final values until one scrape has
    /// read them, at most this long (a scrape interval; 0s: stop at once).
    #[arg(long, value_name = "DURATION", value_parser = super::duration::parse_duration, default_value = "15s")]
    pub metrics_linger: std::time::Duration,
    /// RTP: socket receive buffer (SO_RCVBUF) to ask for, in bytes [default: 16 MiB, beyond
    /// net.core.rmem_max when run as root].
    #[arg(long, value_name = "BYTES")]
    pub recv_buffer: Option<usize>,
    /// RTP: packets per second accepted from the sender (flood protection).
    #[arg(long, default_value_t = crate::net::receive::DEFAULT_RATE_CAP)]
    pub rate_cap: u32,
    /// RTP: where RTCP travels: auto (port + 1, and muxed on the RTP port once seen), mux (RFC
    /// 5761, the RTP port only), a port number, or off (no reports, no NACKs). An .sdp's
    /// a=rtcp-mux or a=rtcp: is used unless this is given.
    #[arg(long, value_name = "auto|mux|off|PORT")]
    pub rtcp: Option<RtcpMode>,
    /// RTP: do not ask for lost packets again (RFC 4585 generic NACK; on by default, answered
    /// by senders that keep a retransmission history).
    #[arg(long)]
    pub no_nack: bool,
    /// RTP: payload type of RFC 4588 retransmissions (an .sdp announces it as rtx with apt=).
    #[arg(long, value_name = "PT")]
    pub rtx_pt: Option<u8>,
    /// RTP: send NACKs as reduced-size RTCP (RFC 5506; an .sdp says so with a=rtcp-rsize).
    #[arg(long)]
    pub rtcp_rsize: bool,
    /// RTP and captures: the stream is SRTP with this SDES key:
    /// `SUITE:inline:BASE64[|LIFETIME][|MKI:LEN]` (an .sdp gives it in a=crypto; a capture's
    /// SIP/SDP keys are found without it). Suites: AES_CM_128_HMAC_SHA1_80 and _32,
    /// AES_256_CM_HMAC_SHA1_80 and _32, AEAD_AES_128_GCM, AEAD_AES_256_GCM.
    #[arg(long, value_name = "SUITE:inline:KEY")]
    pub srtp: Option<String>,
    /// RTP (.sdp, captures): how RFC 4733 telephone events sound: `tone` (DTMF dual tones at
    /// the signalled duration and volume) or `silence`.
    #[arg(long, default_value = "tone", value_name = "tone|silence")]
    pub dtmf: DtmfMode,
}
