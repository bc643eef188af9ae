//! Buffers that compat hands out, turned into Rust values.

use std::ffi::CStr;

use super::ffi;

/// Copies `len` bytes out of a compat buffer and frees it.
///
/// # Safety
/// `data` must be NULL or a buffer from compat holding at least `len` bytes.
pub(crate) unsafe fn take_buffer(data: *mut libc::c_char, len: usize) -> Vec<u8> {
    if data.is_null() {
        return Vec::new();
    }
    // SAFETY: the caller guarantees data holds len bytes.
    let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec();
    // SAFETY: data came from compat's allocator and is not used again.
    unsafe { ffi::api().ph_free(data.cast()) };
    bytes
}

/// A NUL-terminated string that stays owned by someone else, as text.
///
/// # Safety
/// `data` must be NULL or a NUL-terminated string.
pub(crate) unsafe fn c_str_lossy(data: *const libc::c_char) -> String {
    if data.is_null() {
        return String::new();
    }
    // SAFETY: the caller guarantees NUL termination.
    unsafe { CStr::from_ptr(data) }.to_string_lossy().into_owned()
}

/// Like `c_str_lossy`, for a compat buffer that is freed afterwards.
///
/// # Safety
/// `data` must be NULL or a NUL-terminated buffer from compat.
pub(crate) unsafe fn owned_c_str_lossy(data: *mut libc::c_char) -> String {
    // SAFETY: forwarded from the caller.
    let text = unsafe { c_str_lossy(data) };
    if !data.is_null() {
        // SAFETY: the buffer came from compat and is not used again.
        unsafe { ffi::api().ph_free(data.cast()) };
    }
    text
}
