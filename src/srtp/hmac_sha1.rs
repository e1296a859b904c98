//! HMAC-SHA1 for libsrtp, from the `hmac` and `sha1` crates, registered in place of libsrtp's own.
//!
//! Debian builds libsrtp2 with NSS, whose HMAC creates and frees a context (with a `malloc` and
//! locks) for every packet: that set-up cost more than the hash and the AES together. libsrtp
//! lets an application replace an authentication type (`srtp_replace_auth_type`, public in
//! `srtp2/auth.h`) and runs the replacement's known-answer test before accepting it. Here the
//! key's inner and outer pads are hashed once per key, each packet clones that state (no
//! allocation), and `sha1` uses the CPU's SHA extensions where it has them.

use std::os::raw::{c_int, c_void};

use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::{ffi, instance};

type HmacSha1 = Hmac<Sha1>;

/// Longest tag and key HMAC-SHA1 takes in SRTP: the digest's 20 bytes.
const DIGEST_LEN: c_int = 20;

/// The keyed state (pads hashed) and the packet being authenticated.
struct State {
    keyed: Option<HmacSha1>,
    running: Option<HmacSha1>,
}

/// RFC 2202, test case 1: libsrtp runs it on the replacement before taking it.
const TEST_KEY: [u8; 20] = [0x0b; 20];
const TEST_DATA: &[u8; 8] = b"Hi There";
const TEST_TAG: [u8; 20] = [
    0xb6, 0x17, 0x31, 0x86, 0x55, 0x05, 0x72, 0x64, 0xe2, 0x8b, 0xc0, 0xb6, 0xfb, 0x37, 0x8c, 0x8e,
    0xf1, 0x46, 0xbe, 0x00,
];

static TEST_CASE: ffi::srtp_auth_test_case_t = ffi::srtp_auth_test_case_t {
    key_length_octets: 20,
    key: TEST_KEY.as_ptr(),
    data_length_octets: 8,
    data: TEST_DATA.as_ptr(),
    tag_length_octets: 20,
    tag: TEST_TAG.as_ptr(),
    next_test_case: std::ptr::null(),
};

static AUTH_TYPE: ffi::srtp_auth_type_t = ffi::srtp_auth_type_t {
    alloc,
    dealloc,
    init,
    compute,
    update,
    start,
    description: c"HMAC-SHA1 (RustCrypto hmac + sha1)".as_ptr(),
    test_data: &TEST_CASE,
    id: ffi::SRTP_HMAC_SHA1,
};

/// Puts this HMAC-SHA1 in place of libsrtp's; libsrtp must be initialised. Returns libsrtp's
/// status: anything but OK means its self-test refused the replacement.
pub(super) fn register(lib: &ffi::Library) -> ffi::srtp_err_status_t {
    // SAFETY: AUTH_TYPE is a static whose functions follow auth.h's contracts below.
    unsafe { (lib.srtp_replace_auth_type)(&AUTH_TYPE, ffi::SRTP_HMAC_SHA1) }
}

/// `len` bytes at `ptr` as a slice; an empty slice when there are none.
///
/// # Safety
/// When `len` > 0, `ptr` must point to `len` readable bytes for the call's duration.
unsafe fn bytes<'a>(ptr: *const u8, len: c_int) -> &'a [u8] {
    if ptr.is_null() || len <= 0 {
        &[]
    } else {
        std::slice::from_raw_parts(ptr, len as usize)
    }
}

unsafe extern "C" fn alloc(
    out: *mut *mut ffi::srtp_auth_t,
    key_len: c_int,
    out_len: c_int,
) -> ffi::srtp_err_status_t {
    if out.is_null() || !(0..=DIGEST_LEN).contains(&key_len) || !(0..=DIGEST_LEN).contains(&out_len)
    {
        return ffi::SRTP_BAD_PARAM;
    }
    let head = ffi::srtp_auth_t {
        kind: &AUTH_TYPE,
        state: std::ptr::null_mut(),
        out_len,
        key_len,
        prefix_len: 0,
    };
    let state = State {
        keyed: None,
        running: None,
    };
    // SAFETY: `out` is non-null and libsrtp's to write; `dealloc` frees it as a State.
    unsafe { instance::leak(head, state, out) };
    ffi::SRTP_OK
}

unsafe extern "C" fn dealloc(auth: *mut ffi::srtp_auth_t) -> ffi::srtp_err_status_t {
    // SAFETY: every srtp_auth_t of this type was made by `alloc` with a State.
    unsafe { instance::free::<_, State>(auth) };
    ffi::SRTP_OK
}

/// The state behind libsrtp's `void *`.
///
/// # Safety
/// `s` must be the state pointer `alloc` set, not used elsewhere during the call.
unsafe fn state<'a>(s: *mut c_void) -> Option<&'a mut State> {
    unsafe { instance::state(s) }
}

unsafe extern "C" fn init(
    s: *mut c_void,
    key: *const u8,
    key_len: c_int,
) -> ffi::srtp_err_status_t {
    let Some(state) = (unsafe { state(s) }) else {
        return ffi::SRTP_BAD_PARAM;
    };
    // SAFETY: libsrtp passes the derived key of key_len bytes.
    let key = unsafe { bytes(key, key_len) };
    match HmacSha1::new_from_slice(key) {
        Ok(mac) => {
            // Ready to compute at once, as libsrtp's own types are: its self-test calls no start.
            state.running = Some(mac.clone());
            state.keyed = Some(mac);
            ffi::SRTP_OK
        }
        Err(_) => ffi::SRTP_BAD_PARAM,
    }
}

unsafe extern "C" fn start(s: *mut c_void) -> ffi::srtp_err_status_t {
    let Some(state) = (unsafe { state(s) }) else {
        return ffi::SRTP_BAD_PARAM;
    };
    match &state.keyed {
        Some(keyed) => {
            state.running = Some(keyed.clone());
            ffi::SRTP_OK
        }
        None => ffi::SRTP_FAIL,
    }
}

unsafe extern "C" fn update(s: *mut c_void, data: *const u8, len: c_int) -> ffi::srtp_err_status_t {
    let Some(state) = (unsafe { state(s) }) else {
        return ffi::SRTP_BAD_PARAM;
    };
    // SAFETY: libsrtp passes len readable bytes of the packet.
    let data = unsafe { bytes(data, len) };
    match &mut state.running {
        Some(mac) => {
            mac.update(data);
            ffi::SRTP_OK
        }
        None => ffi::SRTP_FAIL,
    }
}

unsafe extern "C" fn compute(
    s: *mut c_void,
    data: *const u8,
    len: c_int,
    tag_len: c_int,
    tag: *mut u8,
) -> ffi::srtp_err_status_t {
    if tag.is_null() || !(0..=DIGEST_LEN).contains(&tag_len) {
        return ffi::SRTP_BAD_PARAM;
    }
    let Some(state) = (unsafe { state(s) }) else {
        return ffi::SRTP_BAD_PARAM;
    };
    // SAFETY: libsrtp passes len readable bytes (the rollover counter, or the whole test data).
    let data = unsafe { bytes(data, len) };
    let Some(mut mac) = state.running.take() else {
        return ffi::SRTP_FAIL;
    };
    mac.update(data);
    let digest = mac.finalize().into_bytes();
    let tag_len = tag_len as usize;
    // SAFETY: libsrtp's tag buffer holds at least tag_len (its auth's out_len) bytes.
    unsafe { std::ptr::copy_nonoverlapping(digest.as_ptr(), tag, tag_len) };
    ffi::SRTP_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(key: &[u8], data: &[u8], tag: &[u8]) -> ffi::srtp_err_status_t {
        let case = ffi::srtp_auth_test_case_t {
            key_length_octets: key.len() as c_int,
            key: key.as_ptr(),
            data_length_octets: data.len() as c_int,
            data: data.as_ptr(),
            tag_length_octets: tag.len() as c_int,
            tag: tag.as_ptr(),
            next_test_case: std::ptr::null(),
        };
        // SAFETY: the case's pointers outlive the call.
        let lib = ffi::library().expect("libsrtp2 loads");
        unsafe { (lib.srtp_auth_type_test)(&AUTH_TYPE, &case) }
    }

    #[test]
    fn libsrtp_finds_rfc_2202s_answers_through_it() {
        let tag = [
            0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74, 0x16, 0xd5, 0xf1, 0x84,
            0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79,
        ];
        assert_eq!(
            run(b"Jefe", b"what do ya want for nothing?", &tag),
            ffi::SRTP_OK
        );
        // SRTP's 80-bit tag is the digest's first ten bytes.
        assert_eq!(
            run(b"Jefe", b"what do ya want for nothing?", &tag[..10]),
            ffi::SRTP_OK
        );
        assert_eq!(run(&TEST_KEY, TEST_DATA, &TEST_TAG), ffi::SRTP_OK);
    }

    #[test]
    fn a_wrong_answer_is_refused() {
        let mut tag = TEST_TAG;
        tag[19] ^= 1;
        assert_ne!(run(&TEST_KEY, TEST_DATA, &tag), ffi::SRTP_OK);
        assert_eq!(
            run(&[0; 21], TEST_DATA, &TEST_TAG),
            ffi::SRTP_BAD_PARAM,
            "key too long"
        );
    }
}
