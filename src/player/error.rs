//! Why playing a file, a capture or a live stream failed.

use crate::audio::resample::ResampleError;
use crate::codec::file::FileError;
use crate::net::bind::ReceiveError;
use crate::net::packet_saver::SaveError;
use crate::output::recorder::RecordError;
use crate::output::OutputError;
use crate::playout::ReceiveCoreError;
use crate::rtp::stream_format::FormatError;

/// Why playback (of a file, a capture or a live stream) failed.
#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    /// The file could not be read.
    #[error(transparent)]
    File(#[from] FileError),
    /// Recording failed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The sink failed.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Rate conversion failed.
    #[error(transparent)]
    Resample(#[from] ResampleError),
    /// The decoder thread died.
    #[error("the decoder thread failed: {0}")]
    Thread(String),
    /// A replayed capture's receive core failed.
    #[error(transparent)]
    Replay(#[from] crate::sim::SimError),
    /// The live stream's socket could not be set up.
    #[error(transparent)]
    Receive(#[from] ReceiveError),
    /// The live stream's format could not be decided.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The live stream's receive core failed.
    #[error(transparent)]
    ReceiveCore(#[from] ReceiveCoreError),
    /// Saving packets failed.
    #[error(transparent)]
    Save(#[from] SaveError),
    /// The network task's runtime could not start.
    #[error("cannot start the network task: {0}")]
    Runtime(String),
    /// SRTP could not be set up.
    #[error(transparent)]
    Srtp(#[from] crate::srtp::SrtpError),
    /// Packets arrived but none authenticated: the likely cause.
    #[error("{0}")]
    SrtpRefused(String),
}
