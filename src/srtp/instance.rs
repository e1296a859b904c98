//! The memory of the cipher and authentication instances jitterplay registers in libsrtp:
//! libsrtp's header (`srtp_cipher_t`, `srtp_auth_t`) and our state in one box, the header first
//! so that libsrtp's pointer to it is the box's, and the header's `void *state` pointing at ours.

use std::os::raw::c_void;

/// A libsrtp header `H` followed by our state `S`.
#[repr(C)]
struct Instance<H, S> {
    head: H,
    state: S,
}

/// A libsrtp header with a `void *state` field.
pub(super) trait Header {
    /// Points the header's state field at `state`.
    fn set_state(&mut self, state: *mut c_void);
}

/// Boxes `head` and `state` together and writes the header's address to `out` (non-null).
///
/// # Safety
/// `out` must be writable. The instance must be given back to [`free`] with the same `S`.
pub(super) unsafe fn leak<H: Header, S>(head: H, state: S, out: *mut *mut H) {
    let instance = Box::into_raw(Box::new(Instance { head, state }));
    // SAFETY: `instance` was just leaked from a Box and is valid; the caller vouches for `out`.
    unsafe {
        let state = std::ptr::addr_of_mut!((*instance).state).cast::<c_void>();
        (*instance).head.set_state(state);
        *out = instance.cast::<H>();
    }
}

/// Frees an instance [`leak`] made (nothing for null).
///
/// # Safety
/// `head` must be null or come from [`leak`] with the same `S`, and not be used afterwards.
pub(super) unsafe fn free<H, S>(head: *mut H) {
    if !head.is_null() {
        // SAFETY: the caller vouches that `head` heads an Instance<H, S> from a Box.
        drop(unsafe { Box::from_raw(head.cast::<Instance<H, S>>()) });
    }
}

/// The state behind libsrtp's `void *`.
///
/// # Safety
/// `state` must be null or the state pointer [`leak`] set for an `S`, not used elsewhere during
/// the borrow.
pub(super) unsafe fn state<'a, S>(state: *mut c_void) -> Option<&'a mut S> {
    unsafe { state.cast::<S>().as_mut() }
}
