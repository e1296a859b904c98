//! jitterplay: a command-line audio streaming player built around an adaptive RTP jitter buffer.
//!
//! The sans-IO core takes time as an argument and never reads a clock, spawns, sleeps, uses
//! tokio or touches sockets or devices; the live player and the simulator run the same core,
//! [`playout::PlayoutEngine`]. The shell wires it to sockets, devices, files and threads.
//! `docs/architecture.md` describes the data path, the layering and where to add things.
//!
//! Core (sans-IO):
//! - [`rtp`]: RTP parsing, sequence and timestamp extension, payload formats, SDP, packetizing,
//!   deciding a stream's format.
//! - [`audio`]: channel mapping, resampling, G.711, pitch search, DTMF tones, the comfort-noise
//!   filter.
//! - [`jitter`]: the reordering jitter buffer and its delay estimator (the adaptive target).
//! - [`rtcp`]: RTCP reports, BYE, NACK, RTX and retransmission, for receiver and sender.
//! - [`srtp`]: SRTP and SRTCP through libsrtp2, SDES keys (`a=crypto`, `--srtp`).
//! - [`codec`]: RTP payload decoders, file decoding, Opus, loss concealment.
//! - [`netem`]: the seeded network model behind `simulate`, `send --impair` and `relay`.
//! - [`playout`]: the receive core and [`playout::PlayoutEngine`]: playout control, drift
//!   correction, time-stretch, metrics.
//! - [`sim`]: the deterministic simulator: scenarios, simulated sender, virtual-time driver,
//!   report and plot.
//!
//! Shared by both sides:
//! - [`counters`]: counters declared once as a table (lock-free cells, snapshot, Prometheus
//!   series).
//! - [`playback`]: the audio ring and the one callback body every sink calls, which never
//!   allocates, locks or blocks.
//! - [`capture`]: pcap, pcapng and rtpdump files: their RTP streams listed, measured and
//!   replayed.
//! - [`fuzzing`]: one entry function per fuzz target (`fuzz/`, `docs/fuzzing.md`).
//!
//! Shell:
//! - [`net`]: UDP sockets, the live network task, `send` and `relay`, saving packets.
//! - [`output`]: cpal devices, `wav:` and `null` sinks, format negotiation, `--record`.
//! - [`player`]: the playback pipelines (live RTP, files, capture replay) and their decoder
//!   threads.
//! - [`web`]: `--web` (live dashboard, audio, status) and `--metrics-listen`, on axum.
//! - [`cli`]: the commands, one file each.

pub mod audio;
pub mod capture;
pub mod cli;
pub mod codec;
pub mod counters;
pub mod fuzzing;
pub mod jitter;
pub mod monitor;
pub mod net;
pub mod netem;
pub mod output;
pub mod playback;
pub mod player;
pub mod playout;
pub mod rtcp;
pub mod rtp;
pub mod sim;
pub mod srtp;
pub mod web;
