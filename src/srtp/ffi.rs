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

#[link(name = "srtp2")]
extern "C" {
    pub fn srtp_init() -> srtp_err_status_t;
    pub fn srtp_create(
        session: *mut *mut srtp_ctx_t,
        policy: *const srtp_policy_t,
    ) -> srtp_err_status_t;
    pub fn srtp_dealloc(session: *mut srtp_ctx_t) -> srtp_err_status_t;
    pub fn srtp_protect_mki(
        ctx: *mut srtp_ctx_t,
        rtp_hdr: *mut c_void,
        len: *mut c_int,
        use_mki: c_uint,
        mki_index: c_uint,
    ) -> srtp_err_status_t;
    pub fn srtp_unprotect_mki(
        ctx: *mut srtp_ctx_t,
        srtp_hdr: *mut c_void,
        len: *mut c_int,
        use_mki: c_uint,
    ) -> srtp_err_status_t;
    pub fn srtp_protect_rtcp_mki(
        ctx: *mut srtp_ctx_t,
        rtcp_hdr: *mut c_void,
        len: *mut c_int,
        use_mki: c_uint,
        mki_index: c_uint,
    ) -> srtp_err_status_t;
    pub fn srtp_unprotect_rtcp_mki(
        ctx: *mut srtp_ctx_t,
        srtcp_hdr: *mut c_void,
        len: *mut c_int,
        use_mki: c_uint,
    ) -> srtp_err_status_t;
    pub fn srtp_crypto_policy_set_rtp_default(p: *mut srtp_crypto_policy_t);
    pub fn srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(p: *mut srtp_crypto_policy_t);
    pub fn srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(p: *mut srtp_crypto_policy_t);
    pub fn srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(p: *mut srtp_crypto_policy_t);
    pub fn srtp_crypto_policy_set_aes_gcm_128_16_auth(p: *mut srtp_crypto_policy_t);
    pub fn srtp_crypto_policy_set_aes_gcm_256_16_auth(p: *mut srtp_crypto_policy_t);
}
