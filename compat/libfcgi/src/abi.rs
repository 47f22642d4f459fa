//! The public structs of libfcgi 2.4 with its exact layout (x86-64 and
//! every LP64 / ILP32 target alike: only pointers and `int`s), and the
//! constants of its headers that the library itself uses. Programs read
//! and write these fields, so their meaning is libfcgi's; the field names
//! are libfcgi's too. `tests/test_libfcgi.py` compares sizes and offsets
//! with Debian's headers from C.

use libc::{c_char, c_int, c_void, FILE};

pub type FillProc = unsafe extern "C" fn(stream: *mut FCGX_Stream);
pub type EmptyProc = unsafe extern "C" fn(stream: *mut FCGX_Stream, do_close: c_int);

/// `FCGX_Stream`: one direction of a request's bytes. A reader's bytes are
/// `rdNext..stop` (`wrNext == stop`); a writer's room is `wrNext..stop`
/// (`rdNext == stop`). A closed or failed stream has no bytes and no room.
#[repr(C)]
#[allow(non_snake_case)]
pub struct FCGX_Stream {
    pub rdNext: *mut u8,
    pub wrNext: *mut u8,
    pub stop: *mut u8,
    pub stopUnget: *mut u8,
    pub isReader: c_int,
    pub isClosed: c_int,
    pub wasFCloseCalled: c_int,
    pub FCGI_errno: c_int,
    pub fillBuffProc: Option<FillProc>,
    pub emptyBuffProc: Option<EmptyProc>,
    pub data: *mut c_void,
}

/// `FCGX_Request`: a program's request slot (see fcgiapp.h). `paramsPtr`
/// is the library's private state of the slot (`request::Slot`).
#[repr(C)]
#[allow(non_snake_case)]
pub struct FCGX_Request {
    pub requestId: c_int,
    pub role: c_int,
    pub in_: *mut FCGX_Stream,
    pub out: *mut FCGX_Stream,
    pub err: *mut FCGX_Stream,
    pub envp: *mut *mut c_char,
    pub paramsPtr: *mut c_void,
    pub ipcFd: c_int,
    pub isBeginProcessed: c_int,
    pub keepConnection: c_int,
    pub appStatus: c_int,
    pub nWriters: c_int,
    pub flags: c_int,
    pub listen_sock: c_int,
    pub detached: c_int,
}

/// `FCGI_FILE` of fcgi_stdio.h: a C stdio stream or a request stream.
#[repr(C)]
pub struct FCGI_FILE {
    pub stdio_stream: *mut FILE,
    pub fcgx_stream: *mut FCGX_Stream,
}

pub const EOF: c_int = -1;
pub const FCGX_PROTOCOL_ERROR: c_int = -3;
pub const FCGX_CALL_SEQ_ERROR: c_int = -5;
pub const FCGI_FAIL_ACCEPT_ON_INTR: c_int = 1;
pub const FCGI_LISTENSOCK_FILENO: c_int = 0;
/// FCGX_Accept_r's result when an error has no errno.
pub const ERR_NO_ERRNO: c_int = -9999;

// The C part (printf.c).
extern "C" {
    /// `_fcgi_sF`, reached through the GOT (the executable's copy).
    pub fn smisk_fcgi_sf() -> *mut FCGI_FILE;
    /// The C stdio FILE an FCGI_FILE stands for (NULL: a request stream).
    pub fn smisk_fcgi_stdio_of(fp: *mut FCGI_FILE) -> *mut FILE;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// The x86-64 layout libfcgi 2.4 has (the C test compares with
    /// Debian's headers; this keeps the Rust side from drifting).
    #[test]
    fn layouts_are_libfcgis() {
        assert_eq!(size_of::<FCGX_Stream>(), 72);
        assert_eq!(offset_of!(FCGX_Stream, isReader), 32);
        assert_eq!(offset_of!(FCGX_Stream, FCGI_errno), 44);
        assert_eq!(offset_of!(FCGX_Stream, fillBuffProc), 48);
        assert_eq!(offset_of!(FCGX_Stream, data), 64);
        assert_eq!(size_of::<FCGX_Request>(), 80);
        assert_eq!(offset_of!(FCGX_Request, in_), 8);
        assert_eq!(offset_of!(FCGX_Request, envp), 32);
        assert_eq!(offset_of!(FCGX_Request, paramsPtr), 40);
        assert_eq!(offset_of!(FCGX_Request, ipcFd), 48);
        assert_eq!(offset_of!(FCGX_Request, listen_sock), 72);
        assert_eq!(offset_of!(FCGX_Request, detached), 76);
        assert_eq!(size_of::<FCGI_FILE>(), 16);
    }
}
