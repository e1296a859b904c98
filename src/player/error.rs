//! Why playing a file, a capture or a live stream failed.

use crate::audio::resample::ResampleError;
use crate::codec::file::FileError;
use crate::output::recorder::RecordError;
use crate::output::OutputError;

/// Why file playback failed.
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
}
