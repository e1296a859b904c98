//! AES counter mode ("ICM") for libsrtp, from the `aes` and `ctr` crates, registered in place of
//! libsrtp's own AES-128 and AES-256 ICM.
//!
//! Debian's libsrtp2 runs AES through NSS, which creates and frees a cipher context (with a
//! `malloc` and locks) each time a packet sets its IV. Here the key schedule is made once per
//! key and each packet only starts a counter from it; `aes` uses AES-NI where the CPU has it.
//! libsrtp runs each replacement's known-answer test and the replaced type's own (RFC 3711's)
//! before accepting it, and SRTP's key derivation goes through the same cipher.

use std::os::raw::{c_int, c_uint, c_void};

use aes::{Aes128, Aes256};
use ctr::cipher::{InnerIvInit, KeyInit, StreamCipher};

use super::{ffi, instance};

/// The 14-byte salt that follows the AES key in libsrtp's ICM keys.
const SALT_LEN: usize = 14;

/// Which AES, by the cipher type id it stands in for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Width {
    Aes128,
    Aes256,
}

impl Width {
    fn of(id: u32) -> Option<Self> {
        match id {
            ffi::SRTP_AES_ICM_128 => Some(Self::Aes128),
            ffi::SRTP_AES_ICM_256 => Some(Self::Aes256),
            _ => None,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Self::Aes128 => 16,
            Self::Aes256 => 32,
        }
    }
}

/// A keyed AES, and the counter-mode keystream of the current IV.
// Both variants are large and the whole state lives in one Box per key; boxing a variant would
// add a pointer chase per packet for nothing.
#[allow(clippy::large_enum_variant)]
enum Keyed {
    Aes128(Aes128, Option<ctr::Ctr128BE<Aes128>>),
    Aes256(Aes256, Option<ctr::Ctr128BE<Aes256>>),
}

struct State {
    width: Width,
    /// The salt in the counter block's first 14 bytes, zero in its last two.
    offset: [u8; 16],
    keyed: Option<Keyed>,
}

/// FIPS-197's AES-128 and AES-256 examples (appendix C.1, C.3) as counter mode: the salt and
/// the IV together make the example's plaintext block, so the first keystream block is the
/// example's ciphertext.
const FIPS_KEY_AND_SALT_128: [u8; 30] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
];
const FIPS_KEY_AND_SALT_256: [u8; 46] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
];
static FIPS_IV: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xee, 0xff];
const ZEROS: [u8; 16] = [0; 16];
const FIPS_CIPHERTEXT_128: [u8; 16] = [
    0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a,
];
const FIPS_CIPHERTEXT_256: [u8; 16] = [
    0x8e, 0xa2, 0xb7, 0xca, 0x51, 0x67, 0x45, 0xbf, 0xea, 0xfc, 0x49, 0x90, 0x4b, 0x49, 0x60, 0x89,
];

const fn test_case(
    key: &'static [u8],
    ciphertext: &'static [u8; 16],
) -> ffi::srtp_cipher_test_case_t {
    ffi::srtp_cipher_test_case_t {
        key_length_octets: key.len() as c_int,
        key: key.as_ptr(),
        // libsrtp only reads the IV (its field is not const).
        idx: FIPS_IV.as_ptr().cast_mut(),
        plaintext_length_octets: 16,
        plaintext: ZEROS.as_ptr(),
        ciphertext_length_octets: 16,
        ciphertext: ciphertext.as_ptr(),
        aad_length_octets: 0,
        aad: std::ptr::null(),
        tag_length_octets: 0,
        next_test_case: std::ptr::null(),
    }
}

static TEST_128: ffi::srtp_cipher_test_case_t =
    test_case(&FIPS_KEY_AND_SALT_128, &FIPS_CIPHERTEXT_128);
static TEST_256: ffi::srtp_cipher_test_case_t =
    test_case(&FIPS_KEY_AND_SALT_256, &FIPS_CIPHERTEXT_256);

/// One of the two types: they share every function but `alloc`, which ties an instance to its
/// type, and differ in their test and id.
const fn icm_type(
    alloc: ffi::CipherAllocFn,
    description: &'static std::ffi::CStr,
    test_data: &'static ffi::srtp_cipher_test_case_t,
    id: u32,
) -> ffi::srtp_cipher_type_t {
    ffi::srtp_cipher_type_t {
        alloc,
        dealloc,
        init,
        set_aad: None,
        encrypt: apply,
        decrypt: apply,
        set_iv,
        get_tag: None,
        description: description.as_ptr(),
        test_data,
        id,
    }
}

static ICM_128: ffi::srtp_cipher_type_t = icm_type(
    alloc_128,
    c"AES-128 counter mode (RustCrypto aes + ctr)",
    &TEST_128,
    ffi::SRTP_AES_ICM_128,
);
static ICM_256: ffi::srtp_cipher_type_t = icm_type(
    alloc_256,
    c"AES-256 counter mode (RustCrypto aes + ctr)",
    &TEST_256,
    ffi::SRTP_AES_ICM_256,
);

/// Puts these ciphers in place of libsrtp's AES-128 and AES-256 ICM; libsrtp must be
/// initialised. Returns libsrtp's first failing status: its self-tests refused a replacement.
pub(super) fn register(lib: &ffi::Library) -> ffi::srtp_err_status_t {
    for kind in [&ICM_128, &ICM_256] {
        // SAFETY: the types are statics whose functions follow cipher.h's contracts below.
        let status = unsafe { (lib.srtp_replace_cipher_type)(kind, kind.id) };
        if status != ffi::SRTP_OK {
            return status;
        }
    }
    ffi::SRTP_OK
}

unsafe extern "C" fn alloc_128(
    out: *mut *mut ffi::srtp_cipher_t,
    key_len: c_int,
    _tag_len: c_int,
) -> ffi::srtp_err_status_t {
    unsafe { alloc(out, key_len, &ICM_128) }
}

unsafe extern "C" fn alloc_256(
    out: *mut *mut ffi::srtp_cipher_t,
    key_len: c_int,
    _tag_len: c_int,
) -> ffi::srtp_err_status_t {
    unsafe { alloc(out, key_len, &ICM_256) }
}

/// An instance of `kind`, whose key and salt must be `key_len` bytes.
///
/// # Safety
/// `out`, when non-null, must be writable.
unsafe fn alloc(
    out: *mut *mut ffi::srtp_cipher_t,
    key_len: c_int,
    kind: &'static ffi::srtp_cipher_type_t,
) -> ffi::srtp_err_status_t {
    let Some(width) = Width::of(kind.id) else {
        return ffi::SRTP_BAD_PARAM;
    };
    if out.is_null() || key_len != (width.key_len() + SALT_LEN) as c_int {
        return ffi::SRTP_BAD_PARAM;
    }
    let head = ffi::srtp_cipher_t {
        kind,
        state: std::ptr::null_mut(),
        key_len,
        algorithm: kind.id as c_int,
    };
    let state = State {
        width,
        offset: [0; 16],
        keyed: None,
    };
    // SAFETY: `out` is non-null and libsrtp's to write; `dealloc` frees it as a State.
    unsafe { instance::leak(head, state, out) };
    ffi::SRTP_OK
}

unsafe extern "C" fn dealloc(cipher: *mut ffi::srtp_cipher_t) -> ffi::srtp_err_status_t {
    // SAFETY: every srtp_cipher_t of these types was made by `alloc` with a State.
    unsafe { instance::free::<_, State>(cipher) };
    ffi::SRTP_OK
}

/// The state behind libsrtp's `void *`.
///
/// # Safety
/// `s` must be the state pointer `alloc` set, not used elsewhere during the call.
unsafe fn state<'a>(s: *mut c_void) -> Option<&'a mut State> {
    unsafe { instance::state(s) }
}

unsafe extern "C" fn init(s: *mut c_void, key: *const u8) -> ffi::srtp_err_status_t {
    let Some(state) = (unsafe { state(s) }) else {
        return ffi::SRTP_BAD_PARAM;
    };
    if key.is_null() {
        return ffi::SRTP_BAD_PARAM;
    }
    let key_len = state.width.key_len();
    // SAFETY: libsrtp passes the key and salt: the key_len it allocated with.
    let key = unsafe { std::slice::from_raw_parts(key, key_len + SALT_LEN) };
    let (aes_key, salt) = key.split_at(key_len);
    state.offset = [0; 16];
    state.offset[..SALT_LEN].copy_from_slice(salt);
    let keyed = match state.width {
        Width::Aes128 => Aes128::new_from_slice(aes_key).map(|aes| Keyed::Aes128(aes, None)),
        Width::Aes256 => Aes256::new_from_slice(aes_key).map(|aes| Keyed::Aes256(aes, None)),
    };
    match keyed {
        Ok(keyed) => {
            state.keyed = Some(keyed);
            ffi::SRTP_OK
        }
        Err(_) => ffi::SRTP_BAD_PARAM,
    }
}

unsafe extern "C" fn set_iv(
    s: *mut c_void,
    iv: *mut u8,
    _direction: c_int,
) -> ffi::srtp_err_status_t {
    let Some(state) = (unsafe { state(s) }) else {
        return ffi::SRTP_BAD_PARAM;
    };
    if iv.is_null() {
        return ffi::SRTP_BAD_PARAM;
    }
    // SAFETY: libsrtp's IVs are 16 bytes (a v128_t).
    let iv = unsafe { std::slice::from_raw_parts(iv, 16) };
    let mut counter = state.offset;
    for (c, v) in counter.iter_mut().zip(iv) {
        *c ^= v;
    }
    match &mut state.keyed {
        Some(Keyed::Aes128(aes, stream)) => {
            *stream = Some(ctr::Ctr128BE::from_core(ctr::CtrCore::inner_iv_init(
                aes.clone(),
                &counter.into(),
            )));
        }
        Some(Keyed::Aes256(aes, stream)) => {
            *stream = Some(ctr::Ctr128BE::from_core(ctr::CtrCore::inner_iv_init(
                aes.clone(),
                &counter.into(),
            )));
        }
        None => return ffi::SRTP_FAIL,
    }
    ffi::SRTP_OK
}

/// Encrypts or decrypts in place (the same in counter mode), continuing the IV's keystream.
unsafe extern "C" fn apply(
    s: *mut c_void,
    buf: *mut u8,
    len: *mut c_uint,
) -> ffi::srtp_err_status_t {
    let Some(state) = (unsafe { state(s) }) else {
        return ffi::SRTP_BAD_PARAM;
    };
    if len.is_null() {
        return ffi::SRTP_BAD_PARAM;
    }
    // SAFETY: libsrtp passes the length's address and, when it is not zero, as many bytes.
    let data = unsafe {
        match *len as usize {
            0 => &mut [][..],
            _ if buf.is_null() => return ffi::SRTP_BAD_PARAM,
            n => std::slice::from_raw_parts_mut(buf, n),
        }
    };
    let applied = match &mut state.keyed {
        Some(Keyed::Aes128(_, Some(stream))) => stream.try_apply_keystream(data),
        Some(Keyed::Aes256(_, Some(stream))) => stream.try_apply_keystream(data),
        _ => return ffi::SRTP_FAIL,
    };
    match applied {
        Ok(()) => ffi::SRTP_OK,
        Err(_) => ffi::SRTP_TERMINUS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: &ffi::srtp_cipher_type_t, key: &[u8], iv: &mut [u8; 16], out: &[u8]) -> i32 {
        let zeros = vec![0u8; out.len()];
        let case = ffi::srtp_cipher_test_case_t {
            key_length_octets: key.len() as c_int,
            key: key.as_ptr(),
            idx: iv.as_mut_ptr(),
            plaintext_length_octets: out.len() as c_uint,
            plaintext: zeros.as_ptr(),
            ciphertext_length_octets: out.len() as c_uint,
            ciphertext: out.as_ptr(),
            aad_length_octets: 0,
            aad: std::ptr::null(),
            tag_length_octets: 0,
            next_test_case: std::ptr::null(),
        };
        // SAFETY: the case's pointers outlive the call.
        let lib = ffi::library().expect("libsrtp2 loads");
        unsafe { (lib.srtp_cipher_type_test)(kind, &case) }
    }

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).expect("ascii"), 16).expect("hex"))
            .collect()
    }

    #[test]
    fn libsrtp_finds_rfc_3711_b2s_keystream_through_it() {
        let key = hex("2B7E151628AED2A6ABF7158809CF4F3C F0F1F2F3F4F5F6F7F8F9FAFBFCFD");
        let keystream = hex(
            "E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB \
             41E95B3BB0A2E8DD477901E4FCA894C0",
        );
        assert_eq!(run(&ICM_128, &key, &mut [0; 16], &keystream), ffi::SRTP_OK);
    }

    #[test]
    fn fips_197s_examples_pass_and_a_wrong_answer_or_key_length_is_refused() {
        assert_eq!(
            run(
                &ICM_128,
                &FIPS_KEY_AND_SALT_128,
                &mut FIPS_IV.clone(),
                &FIPS_CIPHERTEXT_128
            ),
            0
        );
        assert_eq!(
            run(
                &ICM_256,
                &FIPS_KEY_AND_SALT_256,
                &mut FIPS_IV.clone(),
                &FIPS_CIPHERTEXT_256
            ),
            0
        );
        let mut wrong = FIPS_CIPHERTEXT_256;
        wrong[0] ^= 0x80;
        assert_ne!(
            run(
                &ICM_256,
                &FIPS_KEY_AND_SALT_256,
                &mut FIPS_IV.clone(),
                &wrong
            ),
            0
        );
        assert_ne!(
            run(
                &ICM_128,
                &FIPS_KEY_AND_SALT_256,
                &mut FIPS_IV.clone(),
                &FIPS_CIPHERTEXT_256
            ),
            0
        );
    }
}
