//! Library-wide C functions: version, status text, last error, buffer release.

use super::{guard_value, last_errno, last_error_ptr, take_bytes};
use crate::status::smisk_status;
use libc::c_char;

/// Major version of the smisk C API this header describes.
pub const SMISK_VERSION_MAJOR: u32 = 0;
/// Minor version of the smisk C API this header describes.
pub const SMISK_VERSION_MINOR: u32 = 1;
/// Patch version of the smisk C API this header describes.
pub const SMISK_VERSION_PATCH: u32 = 0;
/// The version as one number, `MAJOR * 10000 + MINOR * 100 + PATCH`, to compare
/// with smisk_version_number() at run time.
pub const SMISK_VERSION_NUMBER: u32 =
    SMISK_VERSION_MAJOR * 10000 + SMISK_VERSION_MINOR * 100 + SMISK_VERSION_PATCH;

static VERSION_TEXT: &[u8] = concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes();

/// The library's version as a NUL-terminated string such as "0.1.0".
///
/// Ownership: static storage owned by the library; never NULL, never free it.
#[no_mangle]
pub extern "C" fn smisk_version() -> *const c_char {
    VERSION_TEXT.as_ptr() as *const c_char
}

/// The library's version as `MAJOR * 10000 + MINOR * 100 + PATCH`. A program
/// can compare it with SMISK_VERSION_NUMBER to detect a header/library mismatch.
#[no_mangle]
pub extern "C" fn smisk_version_number() -> u32 {
    SMISK_VERSION_NUMBER
}

/// A short static English description of a status code (any integer is
/// accepted; unknown values give "unknown status").
///
/// Ownership: static storage; never NULL, never free it.
#[no_mangle]
pub extern "C" fn smisk_status_str(status: i32) -> *const c_char {
    guard_value(
        c"unknown status".as_ptr(),
        || match smisk_status::from_raw(status) {
            Some(s) => s.describe_c().as_ptr(),
            None => c"unknown status".as_ptr(),
        },
    )
}

/// The C name of a status code as a NUL-terminated string, such as
/// "SMISK_ERR_IO" for SMISK_ERR_IO (any integer is accepted; unknown values
/// give "SMISK_UNKNOWN_STATUS"). The names and the texts of
/// smisk_status_str() come from one table in the library.
///
/// Ownership: static storage; never NULL, never free it.
#[no_mangle]
pub extern "C" fn smisk_status_name(status: i32) -> *const c_char {
    guard_value(
        c"SMISK_UNKNOWN_STATUS".as_ptr(),
        || match smisk_status::from_raw(status) {
            Some(s) => s.name_c().as_ptr(),
            None => c"SMISK_UNKNOWN_STATUS".as_ptr(),
        },
    )
}

/// The message of the most recent failing smisk call on the calling thread,
/// as a NUL-terminated UTF-8 string ("" if no call has failed yet).
///
/// Ownership: thread-local storage owned by the library, valid until the next
/// failing smisk call on the same thread; never NULL, never free it.
#[no_mangle]
pub extern "C" fn smisk_last_error() -> *const c_char {
    guard_value(c"".as_ptr(), last_error_ptr)
}

/// The OS error number (errno) behind the most recent failing smisk call on
/// the calling thread, or 0 when that failure did not come from the
/// operating system (or no call has failed yet). A binding raises the
/// matching OS error from it (Python: OSError(errno, smisk_last_error())).
#[no_mangle]
pub extern "C" fn smisk_last_errno() -> i32 {
    guard_value(0, last_errno)
}

/// Releases a byte buffer that a smisk function allocated and returned through
/// an `(uint8_t **out_ptr, size_t *out_len)` pair. Pass the same pointer and
/// length. smisk_bytes_free(NULL, 0) is a no-op. Each buffer must be released
/// exactly once, and only buffers a smisk function documents as owned by the
/// caller may be passed here.
#[no_mangle]
pub unsafe extern "C" fn smisk_bytes_free(ptr: *mut u8, len: usize) {
    // SAFETY: the C caller keeps the contract documented above: `ptr` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard_value((), || take_bytes(ptr, len)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_macros_match_the_package() {
        assert_eq!(
            SMISK_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            SMISK_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            SMISK_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
        // SAFETY: smisk_version returns a static NUL-terminated string.
        let text = unsafe { std::ffi::CStr::from_ptr(smisk_version()) };
        assert_eq!(text.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
