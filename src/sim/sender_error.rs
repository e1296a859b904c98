//! Why the simulated sender could not be built.

/// Why the sender could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    /// The source cannot be packetized as L16.
    #[error("cannot packetize the source: {0}")]
    Packetize(String),
    /// The source is empty.
    #[error("the input holds no audio")]
    Empty,
}
