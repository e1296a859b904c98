//! jitterplay: a command-line audio streaming player built around an adaptive RTP jitter buffer.
//!
//! The crate is split along the IO boundary described in `DESIGN.md`:
//! - the sans-IO core ([`rtp`], [`jitter`], [`playout`], [`codec`], [`audio`], [`sim`]) takes time
//!   as an argument and never touches clocks, threads, sockets or devices;
//! - the shell ([`output`], [`net`], [`metrics_http`], [`cli`]) wires the core to devices, files,
//!   sockets and threads;
//! - [`fuzzing`] holds one entry function per fuzz target (`fuzz/`, `docs/fuzzing.md`).

pub mod audio;
pub mod capture;
pub mod cli;
pub mod codec;
pub mod counters;
pub mod fuzzing;
pub mod jitter;
pub mod metrics_http;
pub mod net;
pub mod netem;
pub mod output;
pub mod playback;
pub mod player;
pub mod playout;
pub mod rtcp;
pub mod rtp;
pub mod sim;
