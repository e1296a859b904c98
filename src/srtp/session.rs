//! One libsrtp session: decrypts what arrives (in place, without allocating) or encrypts what
//! we send, for every SSRC, with RFC 3711's replay window.

use std::os::raw::{c_int, c_uint, c_ulong};
use std::sync::OnceLock;

use super::ffi;
use super::keys::SrtpKeying;
use super::SrtpError;
use super::{aes_icm, hmac_sha1};

/// The replay window in packets: libsrtp's largest. A 5 s buffer at 1,000 packets/s keeps
/// 5,000 packets in play, and a packet the jitter buffer can still use must not be called a
/// replay because it came late.
pub const REPLAY_WINDOW: u32 = 0x7fff;

/// The most bytes SRTP adds to an RTP or RTCP packet: tag, MKI and SRTCP index.
pub const MAX_TRAILER: usize = 16 + 8 + 4;

/// Why a packet was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrtpDrop {
    /// The tag did not match: wrong key, wrong suite, a corrupted or forged packet, or a
    /// packet too short to hold a tag.
    AuthFailed,
    /// The packet's index was seen before or is older than the replay window.
    Replayed,
    /// The packet's MKI names none of our keys.
    UnknownMki,
    /// There is no key for this packet.
    NoKey,
}

/// Which way a session protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Decrypts and authenticates packets from any SSRC that arrives.
    Inbound,
    /// Encrypts the packets we send, from any SSRC.
    Outbound,
}

/// An SRTP and SRTCP session of libsrtp, for one direction.
pub struct SrtpSession {
    lib: &'static ffi::Library,
    ctx: *mut ffi::srtp_ctx_t,
    use_mki: bool,
    direction: Direction,
}

// SAFETY: a libsrtp session is plain memory owned by this value; libsrtp keeps no thread-local
// state for it, so it may move to another thread (it is not shared: no Sync).
unsafe impl Send for SrtpSession {}

static INIT: OnceLock<Result<&'static ffi::Library, SrtpError>> = OnceLock::new();

/// libsrtp, loaded and initialised once per process, with our ciphers registered.
fn init_library() -> Result<&'static ffi::Library, SrtpError> {
    INIT.get_or_init(|| {
        let lib = ffi::library().map_err(SrtpError::Unavailable)?;
        // SAFETY: srtp_init takes no arguments; OnceLock runs it once per process.
        let status = match unsafe { (lib.srtp_init)() } {
            ffi::SRTP_OK => match aes_icm::register(lib) {
                ffi::SRTP_OK => hmac_sha1::register(lib),
                failed => failed,
            },
            failed => failed,
        };
        match status {
            ffi::SRTP_OK => Ok(lib),
            status => Err(SrtpError::Library(status)),
        }
    })
    .clone()
}

impl SrtpSession {
    /// A session for `keying` in `direction`.
    pub fn new(keying: &SrtpKeying, direction: Direction) -> Result<Self, SrtpError> {
        let lib = init_library()?;
        let (rtp, rtcp) = keying.suite.policies(lib);
        let mut keying_bytes: Vec<Vec<u8>> = keying
            .keys
            .iter()
            .map(|k| {
                // Padded so that libsrtp can never read past the buffer, whatever length it
                // takes for the suite.
                let mut bytes = k.keying().to_vec();
                bytes.resize(64, 0);
                bytes
            })
            .collect();
        let mut mki_bytes: Vec<Vec<u8>> = keying
            .keys
            .iter()
            .map(|k| k.mki.map(|m| m.bytes()).unwrap_or_default())
            .collect();
        let use_mki = keying.keys.iter().any(|k| k.mki.is_some());
        if use_mki && keying.suite.rtp_tag_len() != keying.suite.rtcp_tag_len() {
            // libsrtp 2 looks for an SRTCP packet's MKI at the RTP tag's offset: with the 32-bit
            // suites (80-bit tag on RTCP) every SRTCP packet would be refused as "unknown MKI".
            return Err(SrtpError::BadKey(format!(
                "{} with an MKI is not supported: libsrtp cannot find the MKI in its SRTCP \
                 packets; use a suite whose RTP tag is 80 bits (or AEAD), or no MKI",
                keying.suite
            )));
        }
        let mut master_keys: Vec<ffi::srtp_master_key_t> = keying_bytes
            .iter_mut()
            .zip(mki_bytes.iter_mut())
            .map(|(key, mki)| ffi::srtp_master_key_t {
                key: key.as_mut_ptr(),
                mki_id: if use_mki {
                    mki.as_mut_ptr()
                } else {
                    std::ptr::null_mut()
                },
                mki_size: mki.len() as c_uint,
            })
            .collect();
        let mut key_pointers: Vec<*mut ffi::srtp_master_key_t> =
            master_keys.iter_mut().map(|k| k as *mut _).collect();
        let policy = ffi::srtp_policy_t {
            ssrc: ffi::srtp_ssrc_t {
                kind: match direction {
                    Direction::Inbound => ffi::SSRC_ANY_INBOUND,
                    Direction::Outbound => ffi::SSRC_ANY_OUTBOUND,
                },
                value: 0,
            },
            rtp,
            rtcp,
            key: if use_mki {
                std::ptr::null_mut()
            } else {
                keying_bytes[0].as_mut_ptr()
            },
            keys: if use_mki {
                key_pointers.as_mut_ptr()
            } else {
                std::ptr::null_mut()
            },
            num_master_keys: if use_mki {
                key_pointers.len() as c_ulong
            } else {
                0
            },
            deprecated_ekt: std::ptr::null_mut(),
            window_size: c_ulong::from(REPLAY_WINDOW),
            // Our own retransmissions (NACK answered on the media SSRC) repeat an index.
            allow_repeat_tx: c_int::from(direction == Direction::Outbound),
            enc_xtn_hdr: std::ptr::null_mut(),
            enc_xtn_hdr_count: 0,
            next: std::ptr::null_mut(),
        };
        let mut ctx = std::ptr::null_mut();
        // SAFETY: the policy and everything it points to live until srtp_create returns;
        // libsrtp derives its session keys and copies the MKIs, keeping no pointer into them.
        let status = unsafe { (lib.srtp_create)(&mut ctx, &policy) };
        for key in &mut keying_bytes {
            key.fill(0);
        }
        if status != ffi::SRTP_OK || ctx.is_null() {
            return Err(SrtpError::Library(status));
        }
        Ok(SrtpSession {
            lib,
            ctx,
            use_mki,
            direction,
        })
    }

    /// Decrypts and authenticates the SRTP packet in `packet[..len]` in place; the RTP
    /// packet's length on success.
    pub fn unprotect_rtp(&mut self, packet: &mut [u8], len: usize) -> Result<usize, SrtpDrop> {
        self.unprotect_with(self.lib.srtp_unprotect_mki, packet, len)
    }

    /// Decrypts and authenticates the SRTCP packet in `packet[..len]` in place.
    pub fn unprotect_rtcp(&mut self, packet: &mut [u8], len: usize) -> Result<usize, SrtpDrop> {
        self.unprotect_with(self.lib.srtp_unprotect_rtcp_mki, packet, len)
    }

    /// Encrypts the RTP packet in `packet[..len]` in place, with the first key; `packet` must
    /// have [`MAX_TRAILER`] bytes to spare after it. The SRTP packet's length.
    pub fn protect_rtp(&mut self, packet: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        self.protect_with(self.lib.srtp_protect_mki, packet, len)
    }

    /// Encrypts the RTCP packet in `packet[..len]` in place, as `protect_rtp`.
    pub fn protect_rtcp(&mut self, packet: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        self.protect_with(self.lib.srtp_protect_rtcp_mki, packet, len)
    }

    fn unprotect_with(
        &mut self,
        unprotect: ffi::UnprotectFn,
        packet: &mut [u8],
        len: usize,
    ) -> Result<usize, SrtpDrop> {
        debug_assert_eq!(self.direction, Direction::Inbound);
        let mut n = c_int::try_from(len.min(packet.len())).map_err(|_| SrtpDrop::AuthFailed)?;
        // SAFETY: libsrtp reads and writes at most `n` bytes of `packet`, all of it ours.
        let status = unsafe {
            unprotect(
                self.ctx,
                packet.as_mut_ptr().cast(),
                &mut n,
                c_uint::from(self.use_mki),
            )
        };
        result(status, n)
    }

    fn protect_with(
        &mut self,
        protect: ffi::ProtectFn,
        packet: &mut [u8],
        len: usize,
    ) -> Result<usize, SrtpError> {
        debug_assert_eq!(self.direction, Direction::Outbound);
        let mut n = self.room(packet, len)?;
        // SAFETY: `packet` has room for the trailer (checked by `room`).
        let status = unsafe {
            protect(
                self.ctx,
                packet.as_mut_ptr().cast(),
                &mut n,
                c_uint::from(self.use_mki),
                0,
            )
        };
        protected(status, n)
    }

    fn room(&self, packet: &[u8], len: usize) -> Result<c_int, SrtpError> {
        if len + MAX_TRAILER > packet.len() {
            return Err(SrtpError::NoRoom);
        }
        c_int::try_from(len).map_err(|_| SrtpError::NoRoom)
    }
}

fn result(status: ffi::srtp_err_status_t, n: c_int) -> Result<usize, SrtpDrop> {
    match status {
        ffi::SRTP_OK => Ok(usize::try_from(n).unwrap_or(0)),
        ffi::SRTP_REPLAY_FAIL | ffi::SRTP_REPLAY_OLD => Err(SrtpDrop::Replayed),
        ffi::SRTP_BAD_MKI => Err(SrtpDrop::UnknownMki),
        ffi::SRTP_NO_CTX => Err(SrtpDrop::NoKey),
        ffi::SRTP_AUTH_FAIL => Err(SrtpDrop::AuthFailed),
        // Packets too short or malformed to authenticate fail authentication too.
        _ => Err(SrtpDrop::AuthFailed),
    }
}

fn protected(status: ffi::srtp_err_status_t, n: c_int) -> Result<usize, SrtpError> {
    match status {
        ffi::SRTP_OK => Ok(usize::try_from(n).unwrap_or(0)),
        status => Err(SrtpError::Library(status)),
    }
}

impl Drop for SrtpSession {
    fn drop(&mut self) {
        // SAFETY: ctx came from srtp_create and is freed once, here.
        unsafe {
            (self.lib.srtp_dealloc)(self.ctx);
        }
    }
}

impl std::fmt::Debug for SrtpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpSession")
            .field("direction", &self.direction)
            .field("use_mki", &self.use_mki)
            .finish_non_exhaustive()
    }
}
