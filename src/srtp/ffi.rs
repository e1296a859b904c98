//! The part of libsrtp2's C interface (Debian's `libsrtp2-dev`, 2.x) that jitterplay calls.
//!
//! Declared by hand because the published bindings generate theirs with bindgen at build time
//! (a libclang dependency) and hide the AEAD suites; the layout follows `srtp2/srtp.h` of
//! libsrtp 2.x, and the RFC test vectors in `tests/srtp_vectors.rs` fail if it ever drifts.
#![allow(non_camel_case_types)]

use std::os::raw::{c_int, c_uint, c_ulong, c_void};

/// `srtp_err_status_t`.
pub type srtp_err_status_t = c_int;
/// Nothing to report.
pub const SRTP_OK: srtp_err_status_t = 0;
/// Authentication failure.
pub const SRTP_AUTH_FAIL: srtp_err_status_t = 7;
/// Replay check failed: the index was seen before.
pub const SRTP_REPLAY_FAIL: srtp_err_status_t = 9;
/// Replay check failed: the index is older than the window.
pub const SRTP_REPLAY_OLD: srtp_err_status_t = 10;
/// No context for the packet's SSRC.
pub const SRTP_NO_CTX: srtp_err_status_t = 13;
/// The MKI in the packet names no key.
pub const SRTP_BAD_MKI: srtp_err_status_t = 25;

/// `srtp_crypto_policy_t`: a cipher and an authentication function with their key lengths.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct srtp_crypto_policy_t {
    pub cipher_type: u32,
    pub cipher_key_len: c_int,
    pub auth_type: u32,
    pub auth_key_len: c_int,
    pub auth_tag_len: c_int,
    pub sec_serv: c_int,
}

/// `srtp_ssrc_t`: which SSRCs a policy applies to.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct srtp_ssrc_t {
    pub kind: c_int,
    pub value: c_uint,
}

/// Any SSRC arriving from the network.
pub const SSRC_ANY_INBOUND: c_int = 2;
/// Any SSRC we send.
pub const SSRC_ANY_OUTBOUND: c_int = 3;

/// `srtp_master_key_t`: one master key (key then salt) with its MKI.
#[repr(C)]
#[derive(Debug)]
pub struct srtp_master_key_t {
    pub key: *mut u8,
    pub mki_id: *mut u8,
    pub mki_size: c_uint,
}

/// `srtp_policy_t`.
#[repr(C)]
#[derive(Debug)]
pub struct srtp_policy_t {
    pub ssrc: srtp_ssrc_t,
    pub rtp: srtp_crypto_policy_t,
    pub rtcp: srtp_crypto_policy_t,
    pub key: *mut u8,
    pub keys: *mut *mut srtp_master_key_t,
    pub num_master_keys: c_ulong,
    pub deprecated_ekt: *mut c_void,
    pub window_size: c_ulong,
    pub allow_repeat_tx: c_int,
    pub enc_xtn_hdr: *mut c_int,
    pub enc_xtn_hdr_count: c_int,
    pub next: *mut srtp_policy_t,
}

/// An opaque `srtp_ctx_t`.
#[repr(C)]
pub struct srtp_ctx_t {
    _private: [u8; 0],
}

/// `srtp_unprotect_mki` and `srtp_unprotect_rtcp_mki`: context, packet, length, use MKI.
pub type UnprotectFn =
    unsafe extern "C" fn(*mut srtp_ctx_t, *mut c_void, *mut c_int, c_uint) -> srtp_err_status_t;
/// `srtp_protect_mki` and `srtp_protect_rtcp_mki`: context, packet, length, use MKI, key index.
pub type ProtectFn = unsafe extern "C" fn(
    *mut srtp_ctx_t,
    *mut c_void,
    *mut c_int,
    c_uint,
    c_uint,
) -> srtp_err_status_t;

/// `SRTP_HMAC_SHA1`: the authentication type id of HMAC-SHA1.
pub const SRTP_HMAC_SHA1: u32 = 3;
/// `srtp_err_status_fail`: unspecified failure.
pub const SRTP_FAIL: srtp_err_status_t = 1;
/// `srtp_err_status_bad_param`.
pub const SRTP_BAD_PARAM: srtp_err_status_t = 2;

/// `srtp_auth_test_case_t` (`srtp2/auth.h`): one known-answer test of an authentication type.
#[repr(C)]
#[derive(Debug)]
pub struct srtp_auth_test_case_t {
    pub key_length_octets: c_int,
    pub key: *const u8,
    pub data_length_octets: c_int,
    pub data: *const u8,
    pub tag_length_octets: c_int,
    pub tag: *const u8,
    pub next_test_case: *const srtp_auth_test_case_t,
}

/// `srtp_auth_t` (`srtp2/auth.h`): one authentication function instance.
#[repr(C)]
#[derive(Debug)]
pub struct srtp_auth_t {
    pub kind: *const srtp_auth_type_t,
    pub state: *mut c_void,
    pub out_len: c_int,
    pub key_len: c_int,
    pub prefix_len: c_int,
}

/// `srtp_auth_type_t` (`srtp2/auth.h`): an authentication function's implementation.
#[repr(C)]
#[derive(Debug)]
pub struct srtp_auth_type_t {
    pub alloc: unsafe extern "C" fn(*mut *mut srtp_auth_t, c_int, c_int) -> srtp_err_status_t,
    pub dealloc: unsafe extern "C" fn(*mut srtp_auth_t) -> srtp_err_status_t,
    pub init: unsafe extern "C" fn(*mut c_void, *const u8, c_int) -> srtp_err_status_t,
    pub compute:
        unsafe extern "C" fn(*mut c_void, *const u8, c_int, c_int, *mut u8) -> srtp_err_status_t,
    pub update: unsafe extern "C" fn(*mut c_void, *const u8, c_int) -> srtp_err_status_t,
    pub start: unsafe extern "C" fn(*mut c_void) -> srtp_err_status_t,
    pub description: *const std::os::raw::c_char,
    pub test_data: *const srtp_auth_test_case_t,
    pub id: u32,
}

impl super::instance::Header for srtp_auth_t {
    fn set_state(&mut self, state: *mut c_void) {
        self.state = state;
    }
}

impl super::instance::Header for srtp_cipher_t {
    fn set_state(&mut self, state: *mut c_void) {
        self.state = state;
    }
}

// SAFETY: the type table and test cases are immutable and their pointers name statics.
unsafe impl Sync for srtp_auth_type_t {}
// SAFETY: as above.
unsafe impl Sync for srtp_auth_test_case_t {}

/// `SRTP_AES_ICM_128`: AES-128 counter mode, keyed with a 14-byte salt.
pub const SRTP_AES_ICM_128: u32 = 1;
/// `SRTP_AES_ICM_256`: AES-256 counter mode, keyed with a 14-byte salt.
pub const SRTP_AES_ICM_256: u32 = 5;
/// `srtp_err_status_terminus`: the counter's keystream is used up.
pub const SRTP_TERMINUS: srtp_err_status_t = 6;

/// `srtp_cipher_test_case_t` (`srtp2/cipher.h`): one known-answer test of a cipher type.
#[repr(C)]
#[derive(Debug)]
pub struct srtp_cipher_test_case_t {
    pub key_length_octets: c_int,
    pub key: *const u8,
    pub idx: *mut u8,
    pub plaintext_length_octets: c_uint,
    pub plaintext: *const u8,
    pub ciphertext_length_octets: c_uint,
    pub ciphertext: *const u8,
    pub aad_length_octets: c_int,
    pub aad: *const u8,
    pub tag_length_octets: c_int,
    pub next_test_case: *const srtp_cipher_test_case_t,
}

/// `srtp_cipher_t` (`srtp2/cipher.h`): one cipher instance.
#[repr(C)]
#[derive(Debug)]
pub struct srtp_cipher_t {
    pub kind: *const srtp_cipher_type_t,
    pub state: *mut c_void,
    pub key_len: c_int,
    pub algorithm: c_int,
}

/// `srtp_cipher_alloc_func_t`: out, key length, tag length.
pub type CipherAllocFn =
    unsafe extern "C" fn(*mut *mut srtp_cipher_t, c_int, c_int) -> srtp_err_status_t;

/// `srtp_cipher_type_t` (`srtp2/cipher.h`): a cipher's implementation. Counter mode has no
/// associated data and no tag, so those two entries are null, as in libsrtp's own.
#[repr(C)]
#[derive(Debug)]
pub struct srtp_cipher_type_t {
    pub alloc: CipherAllocFn,
    pub dealloc: unsafe extern "C" fn(*mut srtp_cipher_t) -> srtp_err_status_t,
    pub init: unsafe extern "C" fn(*mut c_void, *const u8) -> srtp_err_status_t,
    pub set_aad: Option<unsafe extern "C" fn(*mut c_void, *const u8, u32) -> srtp_err_status_t>,
    pub encrypt: unsafe extern "C" fn(*mut c_void, *mut u8, *mut c_uint) -> srtp_err_status_t,
    pub decrypt: unsafe extern "C" fn(*mut c_void, *mut u8, *mut c_uint) -> srtp_err_status_t,
    pub set_iv: unsafe extern "C" fn(*mut c_void, *mut u8, c_int) -> srtp_err_status_t,
    pub get_tag: Option<unsafe extern "C" fn(*mut c_void, *mut u8, *mut u32) -> srtp_err_status_t>,
    pub description: *const std::os::raw::c_char,
    pub test_data: *const srtp_cipher_test_case_t,
    pub id: u32,
}

// SAFETY: cipher types and their test cases are immutable statics (libsrtp never writes a test
// case's `idx`, it only reads it as an IV).
unsafe impl Sync for srtp_cipher_type_t {}
// SAFETY: as above.
unsafe impl Sync for srtp_cipher_test_case_t {}

/// The shared library of Debian's `libsrtp2-1`, loaded when SRTP is first used: linking it
/// would load it, and the NSS libraries it links (six in all, about 0.6 MiB resident and
/// 0.4 ms of start-up), into every run of jitterplay, SRTP or not.
pub const SONAME: &str = "libsrtp2.so.1";

/// Declares [`Library`]: one function pointer per libsrtp function, resolved by name.
macro_rules! libsrtp_functions {
    ($($(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?;)*) => {
        /// The libsrtp2 functions jitterplay calls, resolved from [`SONAME`].
        pub struct Library {
            $($(#[$meta])* pub $name: unsafe extern "C" fn($($ty),*) $(-> $ret)?,)*
            // The pointers above stay valid while the library is loaded: for the process's
            // life, since the one Library is a static.
            _library: libloading::Library,
        }

        impl Library {
            /// Loads the library and resolves every function.
            ///
            /// # Safety
            /// Loading runs the library's initialisers; the declared signatures must be
            /// libsrtp 2's (the RFC test vectors in `tests/srtp_vectors.rs` check them).
            unsafe fn load() -> Result<Self, libloading::Error> {
                let library = unsafe { libloading::Library::new(SONAME)? };
                Ok(Self {
                    $($name: unsafe { *library.get(concat!(stringify!($name), "\0").as_bytes())? },)*
                    _library: library,
                })
            }
        }
    };
}

libsrtp_functions! {
    /// Registers `ct` in place of the cipher type `id`, after running its self-test and the
    /// replaced type's.
    fn srtp_replace_cipher_type(ct: *const srtp_cipher_type_t, id: u32) -> srtp_err_status_t;
    /// Runs libsrtp's cipher test (the known answers, then random round trips) on `ct`.
    #[cfg_attr(not(test), allow(dead_code, reason = "the unit tests' check of our ciphers"))]
    fn srtp_cipher_type_test(
        ct: *const srtp_cipher_type_t,
        test_data: *const srtp_cipher_test_case_t,
    ) -> srtp_err_status_t;
    /// Runs libsrtp's authentication test on `at`.
    #[cfg_attr(not(test), allow(dead_code, reason = "the unit tests' check of our HMAC"))]
    fn srtp_auth_type_test(
        at: *const srtp_auth_type_t,
        test_data: *const srtp_auth_test_case_t,
    ) -> srtp_err_status_t;
    /// Initialises libsrtp (once per process).
    fn srtp_init() -> srtp_err_status_t;
    /// Registers `at` in place of the authentication type `id`, after running its self-test.
    fn srtp_replace_auth_type(at: *const srtp_auth_type_t, id: u32) -> srtp_err_status_t;
    /// Creates a session from a policy.
    fn srtp_create(session: *mut *mut srtp_ctx_t, policy: *const srtp_policy_t) -> srtp_err_status_t;
    /// Frees a session.
    fn srtp_dealloc(session: *mut srtp_ctx_t) -> srtp_err_status_t;
    /// Encrypts an RTP packet in place.
    fn srtp_protect_mki(
        ctx: *mut srtp_ctx_t,
        rtp_hdr: *mut c_void,
        len: *mut c_int,
        use_mki: c_uint,
        mki_index: c_uint,
    ) -> srtp_err_status_t;
    /// Authenticates and decrypts an SRTP packet in place.
    fn srtp_unprotect_mki(
        ctx: *mut srtp_ctx_t,
        srtp_hdr: *mut c_void,
        len: *mut c_int,
        use_mki: c_uint,
    ) -> srtp_err_status_t;
    /// Encrypts an RTCP packet in place.
    fn srtp_protect_rtcp_mki(
        ctx: *mut srtp_ctx_t,
        rtcp_hdr: *mut c_void,
        len: *mut c_int,
        use_mki: c_uint,
        mki_index: c_uint,
    ) -> srtp_err_status_t;
    /// Authenticates and decrypts an SRTCP packet in place.
    fn srtp_unprotect_rtcp_mki(
        ctx: *mut srtp_ctx_t,
        srtcp_hdr: *mut c_void,
        len: *mut c_int,
        use_mki: c_uint,
    ) -> srtp_err_status_t;
    /// The AES_CM_128_HMAC_SHA1_80 policy.
    fn srtp_crypto_policy_set_rtp_default(p: *mut srtp_crypto_policy_t);
    /// The AES_CM_128_HMAC_SHA1_32 policy.
    fn srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(p: *mut srtp_crypto_policy_t);
    /// The AES_256_CM_HMAC_SHA1_80 policy.
    fn srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(p: *mut srtp_crypto_policy_t);
    /// The AES_256_CM_HMAC_SHA1_32 policy.
    fn srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(p: *mut srtp_crypto_policy_t);
    /// The AEAD_AES_128_GCM policy.
    fn srtp_crypto_policy_set_aes_gcm_128_16_auth(p: *mut srtp_crypto_policy_t);
    /// The AEAD_AES_256_GCM policy.
    fn srtp_crypto_policy_set_aes_gcm_256_16_auth(p: *mut srtp_crypto_policy_t);
}

/// libsrtp2, loaded on the first call; the loader's message if it cannot be.
pub fn library() -> Result<&'static Library, String> {
    static LIBRARY: std::sync::OnceLock<Result<Library, String>> = std::sync::OnceLock::new();
    LIBRARY
        // SAFETY: libsrtp2's initialisers only set up its own state; the signatures above are
        // libsrtp 2's.
        .get_or_init(|| unsafe { Library::load() }.map_err(|e| e.to_string()))
        .as_ref()
        .map_err(Clone::clone)
}
