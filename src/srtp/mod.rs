//! SRTP and SRTCP (RFC 3711, RFC 7714) through libsrtp2, keyed by SDES (RFC 4568).

mod aes_icm;
pub mod counts;
mod ffi;
mod hmac_sha1;
mod instance;
pub mod keys;
pub mod receive;
pub mod session;
pub mod suite;

pub use counts::{SrtpSnapshot, SrtpStats};
pub use keys::{MasterKey, Mki, SrtpKeying};
pub use receive::SrtpReceiver;
pub use session::{Direction, SrtpDrop, SrtpSession, MAX_TRAILER};
pub use suite::Suite;

/// What can go wrong setting SRTP up.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SrtpError {
    /// The suite name is not one we speak.
    #[error(
        "unknown SRTP crypto suite `{0}` (known: AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32, \
         AES_256_CM_HMAC_SHA1_80, AES_256_CM_HMAC_SHA1_32, AEAD_AES_128_GCM, AEAD_AES_256_GCM)"
    )]
    UnknownSuite(String),
    /// The key parameters cannot be used.
    #[error("bad SRTP key: {0}")]
    BadKey(String),
    /// libsrtp2 could not be loaded (the loader's reason).
    #[error("SRTP needs libsrtp2 (Debian package libsrtp2-1), which could not be loaded: {0}")]
    Unavailable(String),
    /// libsrtp refused (its status code).
    #[error("libsrtp failed with status {0}")]
    Library(i32),
    /// A packet buffer has no room for the SRTP trailer.
    #[error("no room for the SRTP trailer in the packet buffer")]
    NoRoom,
}
