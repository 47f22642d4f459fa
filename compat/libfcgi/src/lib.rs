//! A drop-in `libfcgi.so.0`: the libfcgi 2.4 ABI (every `FCGX_*`, `FCGI_*`
//! and `OS_*` function and the `_fcgi_sF` object Debian's libfcgi exports,
//! its structs field for field) on smisk's FastCGI core. A program built
//! for libfcgi runs on it unchanged (`LD_LIBRARY_PATH`, or installed in its
//! place) and gains what the core does: one epoll loop per listening
//! socket serves every kept-alive connection fairly, threads that share a
//! socket take turns at it, records are length-checked before anything is
//! allocated, and SIGTERM stops an idle program (docs/libfcgi.md).
//!
//! Modules, one concern each:
//! * [`abi`]: the public structs and constants, with libfcgi's layout.
//! * [`stream`]: `FCGX_Stream` buffers over a request's STDIN / DATA,
//!   STDOUT and STDERR; the `FCGX_Get*` / `FCGX_Put*` family.
//! * [`slot`]: `FCGX_Request` slots: accept, finish, params as `envp`.
//! * [`listener`]: one shared smisk server per listening socket (threads,
//!   fork).
//! * [`shutdown`]: `FCGX_ShutdownPending`, the signals libfcgi handles.
//! * [`socket`]: `FCGX_OpenSocket`'s address syntax, `OS_FcgiConnect`.
//! * [`stdio`]: the `FCGI_*` stdio layer and `FCGI_Accept`.
//! * [`os`]: the rest of the `OS_*` layer (the cgi-fcgi bridge uses it).
//! * [`config`]: limits from the environment (the API has no place for them).
//! * `printf.c`: the variadic functions and `_fcgi_sF` (built by build.rs).
//!
//! Conventions of every exported function: NULL pointers are checked (the
//! function then returns libfcgi's error value or does nothing); a Rust
//! panic never crosses the boundary ([`guard`]); ownership follows
//! libfcgi's documentation (fcgiapp.h says it per function).

// libfcgi's names, parameter names included.
#![allow(non_snake_case)]
#![allow(clippy::missing_safety_doc)]

pub mod abi;
pub mod config;
pub mod listener;
pub mod os;
pub mod shutdown;
pub mod slot;
pub mod socket;
pub mod stdio;
pub mod stream;

/// Runs `f`, turning a panic into `on_panic`: an extern "C" function must
/// not unwind into C. (The panic message still goes to stderr.)
pub(crate) fn guard<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(on_panic)
}

/// Sets errno (for the functions whose contract reports errors there).
pub(crate) fn set_errno(code: libc::c_int) {
    // SAFETY: __errno_location returns the calling thread's errno.
    unsafe { *libc::__errno_location() = code };
}
