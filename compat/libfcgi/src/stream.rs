//! `FCGX_Stream`: a request's input (FCGI_STDIN, then a filter's FCGI_DATA)
//! and its two outputs (FCGI_STDOUT, FCGI_STDERR), buffered like a stdio
//! FILE, and the `FCGX_Get*` / `FCGX_Put*` family on them.
//!
//! The public functions work on the stream's fields and its two buffer
//! procedures exactly as libfcgi's do, so a program that reads the fields,
//! calls the procedures, or brings a stream of its own keeps working. The
//! procedures this library installs (`fill`, `empty`) move bytes between the
//! buffer and the smisk request: the core parses and checks the records, so
//! a stream never sees a header or a length. Reads and writes of a buffer
//! or more skip the buffer (one copy, not two).
//!
//! Buffers: input 8 KiB, STDOUT 8 KiB, STDERR 512 bytes (libfcgi's sizes).
//! Bytes written pass into the core's output buffer, sent when it holds
//! 64 KiB, at `FCGX_FFlush`, and when the request ends (with END_REQUEST in
//! the same send when they fit).

use crate::abi::{FCGX_Stream, EOF, FCGX_CALL_SEQ_ERROR, FCGX_PROTOCOL_ERROR};
use crate::guard;
use crate::slot::Slot;
use libc::{c_char, c_int};
use smisk::status::{Error, SMISK_ERR_ABORTED, SMISK_ERR_PROTOCOL, SMISK_ERR_TIMEOUT};

const READ_BUF: usize = 8192;
const STDOUT_BUF: usize = 8192;
const STDERR_BUF: usize = 512;
/// The largest record content a stand-alone writer frames.
const RECORD_MAX: usize = 0xffff;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Input,
    Stdout,
    Stderr,
    /// `FCGX_CreateWriter`: records of `record_type` for `request_id`
    /// written straight to `fd`.
    Standalone {
        fd: c_int,
        request_id: u16,
        record_type: u8,
    },
}

/// A stream and its private state, in one allocation (`stream` first, so a
/// pointer to it is a pointer to the whole).
#[repr(C)]
pub(crate) struct StreamBox {
    pub stream: FCGX_Stream,
    kind: Kind,
    buf: Box<[u8]>,
    /// The slot whose request this stream belongs to (null: stand-alone).
    slot: *mut Slot,
    /// Standalone writer: something was written (the end record is sent
    /// only then, as libfcgi does for STDERR).
    wrote: bool,
}

impl StreamBox {
    pub(crate) fn new(kind: Kind, slot: *mut Slot, size: usize) -> Box<StreamBox> {
        let mut b = Box::new(StreamBox {
            stream: FCGX_Stream {
                rdNext: std::ptr::null_mut(),
                wrNext: std::ptr::null_mut(),
                stop: std::ptr::null_mut(),
                stopUnget: std::ptr::null_mut(),
                isReader: c_int::from(kind == Kind::Input),
                isClosed: 1,
                wasFCloseCalled: 0,
                FCGI_errno: 0,
                fillBuffProc: Some(fill),
                emptyBuffProc: Some(empty),
                data: std::ptr::null_mut(),
            },
            kind,
            buf: vec![0u8; size.max(8)].into_boxed_slice(),
            slot,
            wrote: false,
        });
        let me: *mut StreamBox = &mut *b;
        b.stream.data = me.cast();
        b.close_buffer();
        b
    }

    pub(crate) fn input(slot: *mut Slot) -> Box<StreamBox> {
        StreamBox::new(Kind::Input, slot, READ_BUF)
    }

    pub(crate) fn stdout(slot: *mut Slot) -> Box<StreamBox> {
        StreamBox::new(Kind::Stdout, slot, STDOUT_BUF)
    }

    pub(crate) fn stderr(slot: *mut Slot) -> Box<StreamBox> {
        StreamBox::new(Kind::Stderr, slot, STDERR_BUF)
    }

    pub(crate) fn as_ptr(&mut self) -> *mut FCGX_Stream {
        &mut self.stream
    }

    fn base(&mut self) -> *mut u8 {
        self.buf.as_mut_ptr()
    }

    /// No bytes and no room: a closed stream.
    fn close_buffer(&mut self) {
        let b = self.base();
        let s = &mut self.stream;
        s.rdNext = b;
        s.wrNext = b;
        s.stop = b;
        s.stopUnget = b;
    }

    /// Opens the stream for a new request: empty input, or a writer with
    /// its whole buffer as room.
    pub(crate) fn open(&mut self) {
        let b = self.base();
        let len = self.buf.len();
        let s = &mut self.stream;
        s.isClosed = 0;
        s.wasFCloseCalled = 0;
        s.FCGI_errno = 0;
        s.fillBuffProc = Some(fill);
        s.emptyBuffProc = Some(empty);
        if s.isReader != 0 {
            s.rdNext = b;
            s.wrNext = b;
            s.stop = b;
            s.stopUnget = b;
        } else {
            // SAFETY: b + len is one past the end of the buffer.
            let end = unsafe { b.add(len) };
            s.rdNext = end;
            s.wrNext = b;
            s.stop = end;
            s.stopUnget = std::ptr::null_mut();
        }
        self.wrote = false;
    }

    /// Detaches the stream from its request (after it ended): closed, no
    /// bytes, no room; a program that kept the pointer gets errors.
    pub(crate) fn retire(&mut self) {
        self.stream.isClosed = 1;
        self.stream.wasFCloseCalled = 1;
        self.close_buffer();
    }

    fn set_error(&mut self, code: c_int) {
        set_error(&mut self.stream, code);
        self.close_buffer();
    }

    /// The request behind the stream, if it is still being served.
    fn slot(&mut self) -> Option<&mut Slot> {
        // SAFETY: `slot` is the Slot that owns this stream (it outlives it)
        // or null; a slot is used by one thread at a time, the one calling.
        unsafe { self.slot.as_mut() }.filter(|s| s.is_active())
    }

    /// Reads request input into `dst`: the byte count (0 at the end), or
    /// the stream error code.
    fn read_into(&mut self, dst: &mut [u8]) -> Result<usize, c_int> {
        let Some(slot) = self.slot() else {
            return Err(libc::EBADF);
        };
        slot.read(dst).map_err(|e| read_error(&e))
    }

    /// Hands written bytes to the request (or, stand-alone, to the socket).
    fn write_out(&mut self, bytes: &[u8]) -> Result<(), c_int> {
        if bytes.is_empty() {
            return Ok(());
        }
        match self.kind {
            Kind::Standalone {
                fd,
                request_id,
                record_type,
            } => {
                self.wrote = true;
                write_records(fd, request_id, record_type, bytes)
            }
            kind => {
                let Some(slot) = self.slot() else {
                    return Err(libc::EBADF);
                };
                slot.write(kind == Kind::Stderr, bytes)
                    .map_err(|e| write_error(&e))
            }
        }
    }
}

/// The stream error for a failed read: errno, or libfcgi's protocol error
/// for an aborted request or a broken record stream (what libfcgi reports
/// for a web server that hangs up or breaks the protocol).
pub(crate) fn read_error(e: &Error) -> c_int {
    if let Some(errno) = e.errno {
        return errno;
    }
    match e.status {
        SMISK_ERR_TIMEOUT => libc::ETIMEDOUT,
        SMISK_ERR_ABORTED | SMISK_ERR_PROTOCOL => FCGX_PROTOCOL_ERROR,
        _ => libc::EIO,
    }
}

/// The stream error for a failed write: errno (EPIPE for a web server that
/// hung up or aborted the request).
pub(crate) fn write_error(e: &Error) -> c_int {
    if let Some(errno) = e.errno {
        return errno;
    }
    match e.status {
        SMISK_ERR_TIMEOUT => libc::ETIMEDOUT,
        SMISK_ERR_ABORTED => libc::EPIPE,
        _ => libc::EIO,
    }
}

/// Writes `bytes` to `fd` as records of one stream (stand-alone writer).
fn write_records(fd: c_int, id: u16, kind: u8, bytes: &[u8]) -> Result<(), c_int> {
    let mut frame = Vec::with_capacity(bytes.len() + 16 * (bytes.len() / RECORD_MAX + 1));
    let chunks: Box<dyn Iterator<Item = &[u8]>> = if bytes.is_empty() {
        Box::new(std::iter::once(bytes))
    } else {
        Box::new(bytes.chunks(RECORD_MAX))
    };
    for chunk in chunks {
        let pad = (8 - chunk.len() % 8) % 8;
        let [i1, i0] = id.to_be_bytes();
        let [l1, l0] = (chunk.len() as u16).to_be_bytes();
        frame.extend_from_slice(&[1, kind, i1, i0, l1, l0, pad as u8, 0]);
        frame.extend_from_slice(chunk);
        frame.extend_from_slice(&[0u8; 8][..pad]);
    }
    crate::os::write_all(fd, &frame).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
}

/// libfcgi's SetError: the first error stays; the stream is closed.
fn set_error(s: &mut FCGX_Stream, code: c_int) {
    if s.FCGI_errno == 0 {
        s.FCGI_errno = code;
    }
    s.isClosed = 1;
}

/// Our stream behind `stream`, when it is one (its procedures are ours).
unsafe fn ours<'a>(stream: *mut FCGX_Stream) -> Option<&'a mut StreamBox> {
    let s = stream.as_mut()?;
    let fill_ours = s
        .fillBuffProc
        .is_some_and(|f| f as usize == fill as crate::abi::FillProc as usize);
    if !fill_ours || s.data.is_null() {
        return None;
    }
    Some(&mut *s.data.cast::<StreamBox>())
}

/// The fill procedure: the next piece of input into the buffer; at the
/// end, or on an error, the stream is closed.
unsafe extern "C" fn fill(stream: *mut FCGX_Stream) {
    guard((), || {
        let Some(sb) = ours(stream) else {
            return;
        };
        if sb.stream.isReader == 0 || sb.stream.isClosed != 0 {
            return;
        }
        let b = sb.base();
        let len = sb.buf.len();
        // SAFETY: the buffer is ours; the program reads it only through
        // rdNext..stop, which are reset below before it can look again.
        let dst = std::slice::from_raw_parts_mut(b, len);
        match sb.read_into(dst) {
            Ok(0) => {
                sb.close_buffer();
                sb.stream.isClosed = 1;
            }
            Ok(n) => {
                let s = &mut sb.stream;
                s.rdNext = b;
                s.stopUnget = b;
                s.stop = b.add(n);
                s.wrNext = s.stop;
            }
            Err(code) => sb.set_error(code),
        }
    })
}

/// The empty procedure: the buffered bytes go to the request; with
/// `do_close` the stream ends (and with the last writer, the request).
unsafe extern "C" fn empty(stream: *mut FCGX_Stream, do_close: c_int) {
    guard((), || {
        let Some(sb) = ours(stream) else {
            return;
        };
        if sb.stream.isReader != 0 {
            return;
        }
        let b = sb.base();
        let used = (sb.stream.wrNext as usize).saturating_sub(b as usize);
        let used = used.min(sb.buf.len());
        if sb.stream.isClosed == 0 && used > 0 {
            // SAFETY: the first `used` bytes of our buffer were written.
            let bytes = std::slice::from_raw_parts(b, used);
            let result = sb.write_out(bytes);
            sb.stream.wrNext = b;
            if let Err(code) = result {
                sb.set_error(code);
            }
        } else {
            sb.stream.wrNext = b;
        }
        if do_close == 0 {
            return;
        }
        let result = match sb.kind {
            Kind::Standalone {
                fd,
                request_id,
                record_type,
            } => {
                // Like libfcgi: the end record, except for a stderr-type
                // stream that never carried anything.
                if sb.wrote || record_type != 7 {
                    write_records(fd, request_id, record_type, &[])
                } else {
                    Ok(())
                }
            }
            _ => match sb.slot() {
                Some(slot) => slot.close_writer(),
                None => Ok(()),
            },
        };
        if let Err(code) = result {
            sb.set_error(code);
        }
    })
}

// ------------------------------------------------------------- readers

/// `FCGX_GetChar`.
#[no_mangle]
pub unsafe extern "C" fn FCGX_GetChar(stream: *mut FCGX_Stream) -> c_int {
    let Some(s) = stream.as_mut() else {
        return EOF;
    };
    if s.isClosed != 0 || s.isReader == 0 {
        return EOF;
    }
    if s.rdNext != s.stop {
        let c = *s.rdNext;
        s.rdNext = s.rdNext.add(1);
        return c_int::from(c);
    }
    let Some(fill) = s.fillBuffProc else {
        return EOF;
    };
    fill(stream);
    let s = &mut *stream;
    if s.isClosed != 0 {
        return EOF;
    }
    s.stopUnget = s.rdNext;
    if s.rdNext != s.stop {
        let c = *s.rdNext;
        s.rdNext = s.rdNext.add(1);
        return c_int::from(c);
    }
    EOF
}

/// `FCGX_UnGetChar`: one byte back, into the buffer it was read from.
#[no_mangle]
pub unsafe extern "C" fn FCGX_UnGetChar(c: c_int, stream: *mut FCGX_Stream) -> c_int {
    let Some(s) = stream.as_mut() else {
        return EOF;
    };
    if c == EOF
        || s.isClosed != 0
        || s.isReader == 0
        || s.rdNext == s.stopUnget
        || s.rdNext.is_null()
    {
        return EOF;
    }
    s.rdNext = s.rdNext.sub(1);
    *s.rdNext = c as u8;
    c
}

/// `FCGX_GetStr`: up to `n` bytes; fewer only at the end of the stream.
#[no_mangle]
pub unsafe extern "C" fn FCGX_GetStr(
    str: *mut c_char,
    n: c_int,
    stream: *mut FCGX_Stream,
) -> c_int {
    let Some(s) = stream.as_mut() else {
        return 0;
    };
    if s.isClosed != 0 || s.isReader == 0 || n <= 0 || str.is_null() {
        return 0;
    }
    let n = n as usize;
    let dst = str.cast::<u8>();
    let mut moved = 0usize;
    // Each pass copies buffered bytes or refills (which ends at the end of
    // the stream): bounded by n and the input.
    loop {
        let s = &mut *stream;
        let avail = (s.stop as usize).saturating_sub(s.rdNext as usize);
        if avail > 0 {
            let m = avail.min(n - moved);
            std::ptr::copy_nonoverlapping(s.rdNext, dst.add(moved), m);
            s.rdNext = s.rdNext.add(m);
            moved += m;
            if moved == n {
                return moved as c_int;
            }
        }
        if s.isClosed != 0 || s.isReader == 0 {
            return moved as c_int;
        }
        // A buffer's worth or more still wanted: read straight into the
        // caller's memory.
        if let Some(sb) = ours(stream) {
            if n - moved >= sb.buf.len() {
                let want = std::slice::from_raw_parts_mut(dst.add(moved), n - moved);
                match sb.read_into(want) {
                    Ok(0) => {
                        sb.close_buffer();
                        sb.stream.isClosed = 1;
                        return moved as c_int;
                    }
                    Ok(k) => {
                        moved += k;
                        if moved == n {
                            return moved as c_int;
                        }
                        continue;
                    }
                    Err(code) => {
                        sb.set_error(code);
                        return moved as c_int;
                    }
                }
            }
        }
        let Some(fill) = s.fillBuffProc else {
            return moved as c_int;
        };
        fill(stream);
        let s = &mut *stream;
        if s.isClosed != 0 {
            return moved as c_int;
        }
        s.stopUnget = s.rdNext;
    }
}

/// `FCGX_GetLine`: at most `n - 1` bytes up to and with a '\n', NUL-
/// terminated; NULL if the stream was at its end (or `n <= 0`).
#[no_mangle]
pub unsafe extern "C" fn FCGX_GetLine(
    str: *mut c_char,
    n: c_int,
    stream: *mut FCGX_Stream,
) -> *mut c_char {
    if str.is_null() || n <= 0 || stream.is_null() {
        return std::ptr::null_mut();
    }
    let mut p = 0usize;
    let room = (n - 1) as usize;
    while p < room {
        let c = FCGX_GetChar(stream);
        if c == EOF {
            if p == 0 {
                return std::ptr::null_mut();
            }
            break;
        }
        *str.add(p) = c as c_char;
        p += 1;
        if c == c_int::from(b'\n') {
            break;
        }
    }
    *str.add(p) = 0;
    str
}

/// `FCGX_HasSeenEOF`: EOF once the stream has ended (or failed).
#[no_mangle]
pub unsafe extern "C" fn FCGX_HasSeenEOF(stream: *mut FCGX_Stream) -> c_int {
    match stream.as_ref() {
        Some(s) if s.isClosed == 0 => 0,
        _ => EOF,
    }
}

// ------------------------------------------------------------- writers

/// `FCGX_PutChar`.
#[no_mangle]
pub unsafe extern "C" fn FCGX_PutChar(c: c_int, stream: *mut FCGX_Stream) -> c_int {
    let Some(s) = stream.as_mut() else {
        return EOF;
    };
    if s.wrNext != s.stop && s.isReader == 0 && s.isClosed == 0 {
        *s.wrNext = c as u8;
        s.wrNext = s.wrNext.add(1);
        return c_int::from(c as u8);
    }
    if s.isClosed != 0 || s.isReader != 0 {
        return EOF;
    }
    let Some(empty) = s.emptyBuffProc else {
        return EOF;
    };
    empty(stream, 0);
    let s = &mut *stream;
    if s.wrNext != s.stop && s.isClosed == 0 {
        *s.wrNext = c as u8;
        s.wrNext = s.wrNext.add(1);
        return c_int::from(c as u8);
    }
    EOF
}

/// `FCGX_PutStr`: `n` bytes; `n`, or -1 on error.
#[no_mangle]
pub unsafe extern "C" fn FCGX_PutStr(
    str: *const c_char,
    n: c_int,
    stream: *mut FCGX_Stream,
) -> c_int {
    let Some(s) = stream.as_mut() else {
        return -1;
    };
    if n < 0 || (str.is_null() && n > 0) {
        return -1;
    }
    if s.isReader != 0 {
        return -1;
    }
    let n = n as usize;
    let src = str.cast::<u8>();
    let room = (s.stop as usize).saturating_sub(s.wrNext as usize);
    if n <= room && s.isClosed == 0 {
        if n > 0 {
            std::ptr::copy_nonoverlapping(src, s.wrNext, n);
            s.wrNext = s.wrNext.add(n);
        }
        return n as c_int;
    }
    let mut moved = 0usize;
    // Each pass fills the room or empties the buffer (which fails on a
    // closed stream): bounded by n.
    loop {
        let s = &mut *stream;
        if s.isClosed != 0 || s.isReader != 0 {
            return -1;
        }
        let room = (s.stop as usize).saturating_sub(s.wrNext as usize);
        if room > 0 {
            let m = room.min(n - moved);
            std::ptr::copy_nonoverlapping(src.add(moved), s.wrNext, m);
            s.wrNext = s.wrNext.add(m);
            moved += m;
            if moved == n {
                return n as c_int;
            }
        }
        let Some(empty) = s.emptyBuffProc else {
            return -1;
        };
        empty(stream, 0);
        // With the buffer empty and a buffer's worth or more left, the
        // rest goes to the request without the copy into the buffer.
        if let Some(sb) = ours(stream) {
            let b = sb.base();
            if sb.stream.isClosed == 0 && sb.stream.wrNext == b && n - moved >= sb.buf.len() {
                let rest = std::slice::from_raw_parts(src.add(moved), n - moved);
                return match sb.write_out(rest) {
                    Ok(()) => n as c_int,
                    Err(code) => {
                        sb.set_error(code);
                        -1
                    }
                };
            }
        }
    }
}

/// `FCGX_PutS`: a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn FCGX_PutS(str: *const c_char, stream: *mut FCGX_Stream) -> c_int {
    if str.is_null() {
        return -1;
    }
    let len = libc::strlen(str);
    match c_int::try_from(len) {
        Ok(n) => FCGX_PutStr(str, n, stream),
        Err(_) => -1,
    }
}

/// `FCGX_FFlush`: the buffered bytes, and the request's, are sent now.
#[no_mangle]
pub unsafe extern "C" fn FCGX_FFlush(stream: *mut FCGX_Stream) -> c_int {
    let Some(s) = stream.as_mut() else {
        return 0;
    };
    if s.isClosed != 0 || s.isReader != 0 {
        return 0;
    }
    if let Some(empty) = s.emptyBuffProc {
        empty(stream, 0);
    }
    if let Some(sb) = ours(stream) {
        if sb.stream.isClosed == 0 {
            let result = guard(Err(libc::EIO), || match sb.slot() {
                Some(slot) => slot.flush(),
                None => Ok(()),
            });
            if let Err(code) = result {
                sb.set_error(code);
            }
        }
    }
    if (*stream).isClosed != 0 {
        -1
    } else {
        0
    }
}

// ------------------------------------------------------- either kind

/// `FCGX_FClose`: a writer's bytes are sent and its stream ended.
#[no_mangle]
pub unsafe extern "C" fn FCGX_FClose(stream: *mut FCGX_Stream) -> c_int {
    let Some(s) = stream.as_mut() else {
        return 0;
    };
    if s.wasFCloseCalled == 0 {
        if s.isReader == 0 {
            if let Some(empty) = s.emptyBuffProc {
                empty(stream, 1);
            }
        }
        let s = &mut *stream;
        s.wasFCloseCalled = 1;
        s.isClosed = 1;
        if s.isReader != 0 {
            s.wrNext = s.rdNext;
            s.stop = s.rdNext;
        } else {
            s.rdNext = s.wrNext;
            s.stop = s.wrNext;
        }
    }
    if (*stream).FCGI_errno == 0 {
        0
    } else {
        EOF
    }
}

/// `FCGX_GetError`.
#[no_mangle]
pub unsafe extern "C" fn FCGX_GetError(stream: *mut FCGX_Stream) -> c_int {
    stream.as_ref().map_or(0, |s| s.FCGI_errno)
}

/// `FCGX_ClearError`: the error code only (as libfcgi: the stream stays
/// closed, so a failed stream cannot write a second end).
#[no_mangle]
pub unsafe extern "C" fn FCGX_ClearError(stream: *mut FCGX_Stream) {
    if let Some(s) = stream.as_mut() {
        s.FCGI_errno = 0;
    }
}

/// `FCGX_StartFilterData`: a filter's input goes on with FCGI_DATA.
#[no_mangle]
pub unsafe extern "C" fn FCGX_StartFilterData(stream: *mut FCGX_Stream) -> c_int {
    guard(-1, || {
        let Some(sb) = ours(stream) else {
            if let Some(s) = stream.as_mut() {
                set_error(s, FCGX_CALL_SEQ_ERROR);
            }
            return -1;
        };
        // At the end of STDIN: closed without an error.
        let at_end =
            sb.stream.isReader != 0 && sb.stream.isClosed != 0 && sb.stream.FCGI_errno == 0;
        let started = at_end && sb.slot().is_some_and(|slot| slot.start_data());
        if !started {
            sb.set_error(FCGX_CALL_SEQ_ERROR);
            return -1;
        }
        sb.open();
        0
    })
}

/// `FCGX_SetExitStatus`: the exit status of the stream's request.
#[no_mangle]
pub unsafe extern "C" fn FCGX_SetExitStatus(status: c_int, stream: *mut FCGX_Stream) {
    if let Some(sb) = ours(stream) {
        if let Some(slot) = sb.slot() {
            slot.set_exit_status(status);
        }
    }
}

/// `FCGX_CreateWriter`: a stand-alone writer of records of `streamType`
/// for `requestId` on `socket` (libfcgi's cgi-fcgi bridge sends a
/// request's PARAMS and STDIN with these). Freed with `FCGX_FreeStream`.
#[no_mangle]
pub extern "C" fn FCGX_CreateWriter(
    socket: c_int,
    requestId: c_int,
    bufflen: c_int,
    streamType: c_int,
) -> *mut FCGX_Stream {
    guard(std::ptr::null_mut(), || {
        let (Ok(id), Ok(kind)) = (u16::try_from(requestId), u8::try_from(streamType)) else {
            return std::ptr::null_mut();
        };
        let size = usize::try_from(bufflen).unwrap_or(0).clamp(8, RECORD_MAX);
        let kind = Kind::Standalone {
            fd: socket,
            request_id: id,
            record_type: kind,
        };
        let mut sb = StreamBox::new(kind, std::ptr::null_mut(), size);
        sb.open();
        Box::into_raw(sb).cast()
    })
}

/// `FCGX_FreeStream`: frees a stand-alone writer (without sending what it
/// buffered) and sets `*stream` to NULL. A request's own streams are freed
/// with the request; for them this only clears the pointer.
#[no_mangle]
pub unsafe extern "C" fn FCGX_FreeStream(stream: *mut *mut FCGX_Stream) {
    let Some(p) = stream.as_mut() else {
        return;
    };
    if let Some(sb) = ours(*p) {
        if matches!(sb.kind, Kind::Standalone { .. }) {
            drop(Box::from_raw(sb as *mut StreamBox));
        }
    }
    *p = std::ptr::null_mut();
}
