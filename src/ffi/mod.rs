//! The C ABI: every `extern "C"` function of libsmisk lives in this module's
//! children, one file per concern. This file holds the conventions they share.
//!
//! * Each fallible function body runs inside [`guard`], which catches panics
//!   (reported as `SMISK_ERR_PANIC`) and records the error message for
//!   `smisk_last_error()`.
//! * Pointer arguments go through [`arg_ref`], [`arg_mut`], [`arg_bytes`] ...,
//!   which turn NULL into `SMISK_ERR_NULL` instead of undefined behaviour.
//! * Byte buffers handed to C are either written into caller-provided storage
//!   ([`copy_out`]) or allocated here and released with `smisk_bytes_free`
//!   ([`give_bytes`]).

// Exported functions document their pointer contracts for C readers in plain
// words (ownership, lifetime, NULL) rather than in a Rust "# Safety" section.
#![allow(clippy::missing_safety_doc)]

pub mod access;
pub mod codec;
pub mod core;
pub mod fcgi;
pub mod multipart;
pub mod process;
pub mod response;
pub mod session;

use crate::status::{smisk_status, Error, Result, SMISK_ERR_NULL, SMISK_ERR_PANIC, SMISK_OK};
use std::cell::{Cell, RefCell};
use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    static LAST_ERRNO: Cell<i32> = const { Cell::new(0) };
}

/// Stores `message` as this thread's last error (NUL bytes are replaced so the
/// message stays a valid C string).
pub(crate) fn set_last_error(message: &str) {
    let clean = message.replace('\0', "\\0");
    let c = CString::new(clean).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = c);
    LAST_ERRNO.with(|slot| slot.set(0));
}

/// Stores `err` as this thread's last error: its message and its errno.
fn set_last(err: &Error) {
    set_last_error(&err.message);
    LAST_ERRNO.with(|slot| slot.set(err.errno.unwrap_or(0)));
}

pub(crate) fn last_errno() -> i32 {
    LAST_ERRNO.with(Cell::get)
}

pub(crate) fn last_error_ptr() -> *const libc::c_char {
    // The CString lives in the thread-local until the next failing call on this
    // thread replaces it, which is the lifetime smisk_last_error() documents.
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs `body`, converting its error or panic into a status (and the message
/// for `smisk_last_error()`).
pub(crate) fn guard<F>(body: F) -> smisk_status
where
    F: FnOnce() -> Result<()>,
{
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => SMISK_OK,
        Ok(Err(err)) => {
            set_last(&err);
            err.status
        }
        Err(payload) => {
            set_last_error(&format!(
                "internal error: {}",
                panic_message(payload.as_ref())
            ));
            SMISK_ERR_PANIC
        }
    }
}

/// Runs an infallible query; a panic yields `fallback` instead of unwinding.
pub(crate) fn guard_value<T, F>(fallback: T, body: F) -> T
where
    F: FnOnce() -> T,
{
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(payload) => {
            set_last_error(&format!(
                "internal error: {}",
                panic_message(payload.as_ref())
            ));
            fallback
        }
    }
}

fn null(what: &str) -> Error {
    Error::new(SMISK_ERR_NULL, format!("{what} is NULL"))
}

/// # Safety
/// `ptr` is NULL or points to a live `T` not mutably aliased for `'a`.
pub(crate) unsafe fn arg_ref<'a, T>(ptr: *const T, what: &str) -> Result<&'a T> {
    // SAFETY: a non-NULL ptr points to a live T for 'a (this function's contract).
    unsafe { ptr.as_ref() }.ok_or_else(|| null(what))
}

/// # Safety
/// `ptr` is NULL or points to a live `T` not aliased for `'a`.
pub(crate) unsafe fn arg_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T> {
    // SAFETY: a non-NULL ptr points to a live, unaliased T for 'a (this
    // function's contract).
    unsafe { ptr.as_mut() }.ok_or_else(|| null(what))
}

/// A `(pointer, length)` input buffer. NULL is accepted when `len == 0`.
///
/// # Safety
/// When `len > 0`, `ptr` points to `len` readable bytes that stay valid for `'a`.
pub(crate) unsafe fn arg_bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(null(what));
    }
    if len > isize::MAX as usize {
        return Err(Error::invalid(format!("{what}: length {len} is too large")));
    }
    // SAFETY: ptr is not NULL and points to len readable bytes valid for 'a
    // (this function's contract); len fits an isize (checked above).
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A `(pointer, capacity)` output buffer. NULL is accepted when `cap == 0`.
///
/// # Safety
/// When `cap > 0`, `ptr` points to `cap` writable bytes that stay valid for `'a`.
pub(crate) unsafe fn arg_bytes_mut<'a>(
    ptr: *mut u8,
    cap: usize,
    what: &str,
) -> Result<&'a mut [u8]> {
    if cap == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(null(what));
    }
    if cap > isize::MAX as usize {
        return Err(Error::invalid(format!(
            "{what}: capacity {cap} is too large"
        )));
    }
    // SAFETY: ptr is not NULL and points to cap writable bytes valid for 'a
    // (this function's contract); cap fits an isize (checked above).
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, cap) })
}

/// A `(pointer, length)` input that must be UTF-8 text (addresses, names).
///
/// # Safety
/// As for [`arg_bytes`].
pub(crate) unsafe fn arg_str<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a str> {
    // SAFETY: the contract of arg_bytes is this function's own.
    let bytes = unsafe { arg_bytes(ptr, len, what) }?;
    std::str::from_utf8(bytes).map_err(|_| Error::invalid(format!("{what} is not valid UTF-8")))
}

/// Copies `src` into the caller's buffer `(buf, cap)` and stores its length in
/// `*out_len`. When the buffer is too small nothing is copied, `*out_len`
/// receives the length needed and the status is `SMISK_ERR_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `buf` as for [`arg_bytes_mut`]; `out_len` NULL or writable.
pub(crate) unsafe fn copy_out(
    src: &[u8],
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> Result<()> {
    // SAFETY: out_len is NULL or writable (this function's contract).
    let out_len = unsafe { arg_mut(out_len, "out_len") }?;
    if src.len() > cap {
        *out_len = src.len();
        return Err(Error::new(
            crate::status::SMISK_ERR_BUFFER_TOO_SMALL,
            format!("output needs {} bytes, buffer has {cap}", src.len()),
        ));
    }
    // SAFETY: buf is as arg_bytes_mut requires (this function's contract).
    let dst = unsafe { arg_bytes_mut(buf, cap, "buf") }?;
    dst[..src.len()].copy_from_slice(src);
    *out_len = src.len();
    Ok(())
}

/// Hands a library-allocated byte buffer to C: `*out_ptr`/`*out_len` receive
/// it, and the caller releases it with `smisk_bytes_free(ptr, len)`. An empty
/// result is `(NULL, 0)`.
///
/// # Safety
/// `out_ptr` and `out_len` NULL or writable.
pub(crate) unsafe fn give_bytes(
    data: Vec<u8>,
    out_ptr: *mut *mut u8,
    out_len: *mut usize,
) -> Result<()> {
    // SAFETY: out_ptr and out_len are NULL or writable (this function's
    // contract).
    let (out_ptr, out_len) =
        unsafe { (arg_mut(out_ptr, "out_ptr")?, arg_mut(out_len, "out_len")?) };
    if data.is_empty() {
        *out_ptr = std::ptr::null_mut();
        *out_len = 0;
        return Ok(());
    }
    let boxed: Box<[u8]> = data.into_boxed_slice();
    *out_len = boxed.len();
    *out_ptr = Box::into_raw(boxed) as *mut u8;
    Ok(())
}

/// Releases a buffer allocated by `give_bytes`.
///
/// # Safety
/// `(ptr, len)` came from [`give_bytes`] and is released once.
pub(crate) unsafe fn take_bytes(ptr: *mut u8, len: usize) {
    if !ptr.is_null() {
        // SAFETY: (ptr, len) is a Box<[u8]> that give_bytes leaked and that
        // is released once (this function's contract).
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
    }
}

/// Stores an owned Rust object behind an opaque handle for C.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Frees a handle made by [`into_handle`]; NULL is a no-op.
///
/// # Safety
/// `ptr` is NULL or came from `into_handle::<T>` and is freed once.
pub(crate) unsafe fn free_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: ptr came from into_handle::<T> (a leaked Box<T>) and is
        // freed once (this function's contract).
        drop(unsafe { Box::from_raw(ptr) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::*;

    /// The header's constants are literals (cbindgen cannot name a Rust
    /// path); each must equal the value the library itself uses.
    #[test]
    fn header_constants_are_the_library_defaults() {
        let form = crate::form::Limits::default();
        assert_eq!(
            multipart::SMISK_DEFAULT_MAX_MULTIPART_SIZE,
            form.max_multipart_size
        );
        assert_eq!(
            multipart::SMISK_DEFAULT_MAX_FORMDATA_SIZE,
            form.max_formdata_size
        );
        assert_eq!(multipart::SMISK_DEFAULT_MAX_PARTS, form.max_parts);
        assert_eq!(
            multipart::SMISK_DEFAULT_MAX_PART_HEADER_BYTES,
            form.max_part_header_bytes
        );
        assert_eq!(codec::SMISK_MAX_FIELDS_DEFAULT, form.max_fields);
        assert_eq!(
            codec::SMISK_MAX_FIELDS_DEFAULT,
            crate::codec::query::DEFAULT_MAX_FIELDS
        );
        assert_eq!(
            multipart::SMISK_MAX_BOUNDARY_LEN,
            crate::multipart::MAX_BOUNDARY_LEN
        );
        assert_eq!(process::SMISK_MAX_FORKS, crate::process::MAX_FORKS);
        assert_eq!(session::SMISK_SESSION_ID_LEN, crate::session::id::ID_LEN);
    }

    #[test]
    fn guard_reports_errors_and_panics() {
        assert_eq!(guard(|| Ok(())), SMISK_OK);
        assert_eq!(
            guard(|| Err(Error::invalid("bad thing"))),
            SMISK_ERR_INVALID
        );
        // SAFETY: last_error_ptr is a NUL-terminated string alive until the
        // next failing call on this thread.
        let msg = unsafe { std::ffi::CStr::from_ptr(last_error_ptr()) };
        assert_eq!(msg.to_str().unwrap(), "bad thing");
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let st = guard(|| panic!("boom"));
        std::panic::set_hook(prev);
        assert_eq!(st, SMISK_ERR_PANIC);
        // SAFETY: as above.
        let msg = unsafe { std::ffi::CStr::from_ptr(last_error_ptr()) };
        assert!(msg.to_str().unwrap().contains("boom"));
    }

    #[test]
    fn copy_out_reports_needed_size() {
        let mut buf = [0u8; 3];
        let mut n = 0usize;
        // SAFETY: buf and n are live locals of the stated sizes.
        let st = guard(|| unsafe { copy_out(b"hello", buf.as_mut_ptr(), buf.len(), &mut n) });
        assert_eq!(st, SMISK_ERR_BUFFER_TOO_SMALL);
        assert_eq!(n, 5);
        let mut big = [0u8; 8];
        // SAFETY: big and n are live locals of the stated sizes.
        let st = guard(|| unsafe { copy_out(b"hello", big.as_mut_ptr(), big.len(), &mut n) });
        assert_eq!(st, SMISK_OK);
        assert_eq!(&big[..n], b"hello");
    }

    #[test]
    fn null_arguments_are_errors() {
        // SAFETY: NULL is refused before it is read.
        let st = guard(|| unsafe { arg_bytes(std::ptr::null(), 4, "data").map(|_| ()) });
        assert_eq!(st, SMISK_ERR_NULL);
        // SAFETY: a zero length never reads the pointer.
        let st = guard(|| unsafe { arg_bytes(std::ptr::null(), 0, "data").map(|_| ()) });
        assert_eq!(st, SMISK_OK);
    }
}
