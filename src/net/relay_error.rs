//! Why `relay` could not run.

use super::socket::SocketError;

/// Why the relay could not run.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// An address is not usable or a socket could not be set up.
    #[error(transparent)]
    Socket(#[from] SocketError),
    /// The async runtime could not take over a socket.
    #[error("cannot use the relay sockets: {0}")]
    Runtime(std::io::Error),
}
