//! `FCGX_Request` slots: `FCGX_InitRequest`, `FCGX_Accept_r`,
//! `FCGX_Finish_r`, `FCGX_Free`, the request's params as `envp`, and the
//! library's own slot behind `FCGX_Accept` / `FCGX_Finish`.
//!
//! A slot's private state ([`Slot`], behind the struct's `paramsPtr`) is
//! made at its first accept and kept while the slot is used: its three
//! streams and the params buffer are reused request after request, so a
//! request costs no allocation once the buffers have grown. It is freed by
//! `FCGX_Free`, and when `FCGX_Accept_r` fails (a program stops using a
//! slot once it does).
//!
//! Between requests the slot's `in`, `out` and `err` are NULL, `envp` an
//! empty list and `ipcFd` -1 (its connection is back with the socket's
//! server, serving other slots): a program that keeps a stream pointer past
//! `FCGX_Finish_r` gets errors, not freed memory.
//!
//! `envp` is libfcgi's: "FCGI_ROLE=RESPONDER" (or AUTHORIZER, FILTER)
//! first, then every param as "name=value" in the order the web server
//! sent them.

use crate::abi::{FCGX_Request, FCGX_Stream, FCGI_FAIL_ACCEPT_ON_INTR, FCGI_LISTENSOCK_FILENO};
use crate::listener::{self, Shared};
use crate::stream::{write_error, StreamBox};
use crate::{guard, shutdown};
use libc::{c_char, c_int};
use smisk::fcgi::record::{ROLE_AUTHORIZER, ROLE_FILTER};
use smisk::fcgi::Request;
use std::sync::Arc;

/// The envp of a slot without a request.
struct EmptyEnv([*mut c_char; 1]);
// SAFETY: one NULL pointer, never written.
unsafe impl Sync for EmptyEnv {}
static EMPTY_ENV: EmptyEnv = EmptyEnv([std::ptr::null_mut()]);

fn empty_env() -> *mut *mut c_char {
    EMPTY_ENV.0.as_ptr() as *mut *mut c_char
}

/// The request being served in a slot.
struct Active {
    req: Request,
    shared: Arc<Shared>,
    /// The fork generation it was accepted in: a child never writes to the
    /// parent's requests.
    generation: u64,
    /// Output streams not closed yet; the request ends with the last.
    writers: u8,
    /// The core's `finish` ran (END_REQUEST sent).
    ended: bool,
}

/// A slot's private state (`paramsPtr`).
pub(crate) struct Slot {
    /// The program's struct, for `appStatus` and `nWriters`.
    fcgx: *mut FCGX_Request,
    shared: Option<Arc<Shared>>,
    active: Option<Active>,
    input: Box<StreamBox>,
    out: Box<StreamBox>,
    err: Box<StreamBox>,
    env: Vec<u8>,
    envp: Vec<*mut c_char>,
}

impl Slot {
    fn new(fcgx: *mut FCGX_Request) -> Box<Slot> {
        let mut slot = Box::new(Slot {
            fcgx,
            shared: None,
            active: None,
            input: StreamBox::input(std::ptr::null_mut()),
            out: StreamBox::stdout(std::ptr::null_mut()),
            err: StreamBox::stderr(std::ptr::null_mut()),
            env: Vec::new(),
            envp: Vec::new(),
        });
        let me: *mut Slot = &mut *slot;
        slot.input = StreamBox::input(me);
        slot.out = StreamBox::stdout(me);
        slot.err = StreamBox::stderr(me);
        slot
    }

    pub(crate) fn is_active(&self) -> bool {
        self.active
            .as_ref()
            .is_some_and(|a| a.generation == listener::generation())
    }

    fn active(&mut self) -> Option<&mut Active> {
        self.active
            .as_mut()
            .filter(|a| a.generation == listener::generation())
    }

    pub(crate) fn read(&mut self, buf: &mut [u8]) -> smisk::Result<usize> {
        match self.active() {
            Some(a) => a.req.read_some(buf),
            None => Err(smisk::Error::state("no request")),
        }
    }

    pub(crate) fn write(&mut self, stderr: bool, bytes: &[u8]) -> smisk::Result<()> {
        match self.active() {
            Some(a) if !a.ended => {
                if stderr {
                    a.req.write_stderr(bytes)
                } else {
                    a.req.write_stdout(bytes)
                }
            }
            _ => Err(smisk::Error::state("the request has ended")),
        }
    }

    pub(crate) fn flush(&mut self) -> Result<(), c_int> {
        match self.active() {
            Some(a) if !a.ended => a.req.flush().map_err(|e| write_error(&e)),
            _ => Ok(()),
        }
    }

    pub(crate) fn start_data(&mut self) -> bool {
        self.active().is_some_and(|a| a.req.start_data().is_ok())
    }

    pub(crate) fn set_exit_status(&mut self, status: c_int) {
        // SAFETY: the program's struct, alive while its request is served.
        if let Some(r) = unsafe { self.fcgx.as_mut() } {
            r.appStatus = status;
        }
    }

    fn app_status(&self) -> u32 {
        // SAFETY: as above. The exit status is the bits of the int, as
        // libfcgi sends it.
        unsafe { self.fcgx.as_ref() }.map_or(0, |r| r.appStatus as u32)
    }

    /// One output stream was closed: with the last one the request ends
    /// (the rest of its output, the ends of its streams and END_REQUEST, in
    /// one send when they fit); before that what is buffered goes out.
    pub(crate) fn close_writer(&mut self) -> Result<(), c_int> {
        let status = self.app_status();
        let fcgx = self.fcgx;
        let Some(a) = self.active() else {
            return Ok(());
        };
        a.writers = a.writers.saturating_sub(1);
        // SAFETY: the program's struct (see set_exit_status).
        if let Some(r) = unsafe { fcgx.as_mut() } {
            r.nWriters = c_int::from(a.writers);
        }
        if a.ended {
            return Ok(());
        }
        if a.writers == 0 {
            a.ended = true;
            return a.req.finish(status).map_err(|e| write_error(&e));
        }
        a.req.flush().map_err(|e| write_error(&e))
    }

    /// Builds envp from the request's params.
    fn fill_env(&mut self, req: &Request) {
        self.env.clear();
        let role: &[u8] = match req.role() {
            ROLE_AUTHORIZER => b"FCGI_ROLE=AUTHORIZER",
            ROLE_FILTER => b"FCGI_ROLE=FILTER",
            _ => b"FCGI_ROLE=RESPONDER",
        };
        let mut starts = Vec::with_capacity(req.param_count() + 1);
        starts.push(0usize);
        self.env.extend_from_slice(role);
        self.env.push(0);
        for i in 0..req.param_count() {
            if let Some((name, value)) = req.param_at(i) {
                starts.push(self.env.len());
                self.env.extend_from_slice(name);
                self.env.push(b'=');
                self.env.extend_from_slice(value);
                self.env.push(0);
            }
        }
        let base = self.env.as_mut_ptr();
        self.envp.clear();
        // SAFETY: every start is an offset inside env, which is not touched
        // again until the next request.
        self.envp.extend(
            starts
                .iter()
                .map(|at| unsafe { base.add(*at) }.cast::<c_char>()),
        );
        self.envp.push(std::ptr::null_mut());
    }

    /// Ends the active request: streams closed (err first, as libfcgi), the
    /// request finished, handed back to its server. A request of the
    /// parent of a fork is dropped without a byte written (see listener).
    unsafe fn finish(&mut self, r: &mut FCGX_Request) {
        if let Some(a) = self.active.as_ref() {
            if a.generation == listener::generation() {
                let (err, out) = (self.err.as_ptr(), self.out.as_ptr());
                crate::stream::FCGX_FClose(err);
                crate::stream::FCGX_FClose(out);
            }
        }
        let status = self.app_status();
        self.release(r, |req| {
            let _ = req.finish(status);
        });
    }

    /// Abandons the active request without an answer (`FCGX_Free`).
    fn abandon(&mut self, r: &mut FCGX_Request) {
        self.release(r, |req| req.drop_connection());
    }

    /// Ends the active request with `end` (unless the core ended it
    /// already) and hands it back to its server; retires the streams and
    /// clears the program's fields. A request of the parent of a fork is
    /// dropped instead: its descriptor copy closes and nothing is sent.
    fn release(&mut self, r: &mut FCGX_Request, end: impl FnOnce(&mut Request)) {
        if let Some(mut a) = self.active.take() {
            if a.generation == listener::generation() {
                if !a.ended {
                    end(&mut a.req);
                }
                a.shared.give_back(a.req);
            } else {
                std::mem::forget(a.shared);
                drop(a.req);
            }
        }
        self.input.retire();
        self.out.retire();
        self.err.retire();
        clear_request_fields(r);
    }
}

fn clear_request_fields(r: &mut FCGX_Request) {
    r.in_ = std::ptr::null_mut();
    r.out = std::ptr::null_mut();
    r.err = std::ptr::null_mut();
    r.envp = empty_env();
    r.ipcFd = -1;
    r.isBeginProcessed = 0;
    r.nWriters = 0;
}

/// The slot state behind `paramsPtr`: a separate allocation, so holding
/// it does not borrow the program's struct.
unsafe fn slot_of<'a>(r: &FCGX_Request) -> Option<&'a mut Slot> {
    r.paramsPtr.cast::<Slot>().as_mut()
}

unsafe fn free_slot(r: &mut FCGX_Request) {
    if !r.paramsPtr.is_null() {
        drop(Box::from_raw(r.paramsPtr.cast::<Slot>()));
        r.paramsPtr = std::ptr::null_mut();
    }
}

/// `FCGX_InitRequest`: a fresh slot on `sock`.
#[no_mangle]
pub unsafe extern "C" fn FCGX_InitRequest(
    request: *mut FCGX_Request,
    sock: c_int,
    flags: c_int,
) -> c_int {
    let Some(r) = request.as_mut() else {
        return -1;
    };
    std::ptr::write_bytes(request, 0, 1);
    r.listen_sock = sock;
    r.flags = flags;
    r.ipcFd = -1;
    0
}

/// `FCGX_Accept_r`.
#[no_mangle]
pub unsafe extern "C" fn FCGX_Accept_r(request: *mut FCGX_Request) -> c_int {
    guard(crate::abi::ERR_NO_ERRNO, || {
        let Some(r) = request.as_mut() else {
            return -1;
        };
        init();
        FCGX_Finish_r(request);
        let result = accept(r, request);
        if result < 0 {
            free_slot(r);
        }
        result
    })
}

unsafe fn accept(r: &mut FCGX_Request, request: *mut FCGX_Request) -> c_int {
    if shutdown::pending() && slot_of(r).and_then(|s| s.shared.clone()).is_none() {
        // Nothing left to drain for a slot that never served.
        return -1;
    }
    if r.paramsPtr.is_null() {
        r.paramsPtr = Box::into_raw(Slot::new(request)).cast();
    }
    let slot = slot_of(r).expect("just set");
    slot.fcgx = request;
    let shared = match &slot.shared {
        Some(s) if s.serves(r.listen_sock) => s.clone(),
        _ => match listener::for_socket(r.listen_sock) {
            Ok(s) => {
                slot.shared = Some(s.clone());
                s
            }
            Err(code) => return code,
        },
    };
    let req = match shared.accept(r.flags & FCGI_FAIL_ACCEPT_ON_INTR != 0) {
        Ok(req) => req,
        Err(code) => return code,
    };
    slot.fill_env(&req);
    r.requestId = c_int::from(req.id());
    r.role = c_int::from(req.role());
    r.keepConnection = c_int::from(req.keep_conn());
    r.ipcFd = req.connection_fd().unwrap_or(-1);
    r.appStatus = 0;
    r.isBeginProcessed = 1;
    r.nWriters = 2;
    let mut req = req;
    // The program writes its own header block (CGI output).
    let _ = req.begin_raw();
    slot.active = Some(Active {
        req,
        shared,
        generation: listener::generation(),
        writers: 2,
        ended: false,
    });
    slot.input.open();
    slot.out.open();
    slot.err.open();
    r.in_ = slot.input.as_ptr();
    r.out = slot.out.as_ptr();
    r.err = slot.err.as_ptr();
    r.envp = slot.envp.as_mut_ptr();
    0
}

/// `FCGX_Finish_r`.
#[no_mangle]
pub unsafe extern "C" fn FCGX_Finish_r(request: *mut FCGX_Request) {
    guard((), || {
        let Some(r) = request.as_mut() else {
            return;
        };
        if let Some(slot) = slot_of(r) {
            slot.finish(r);
        }
    })
}

/// `FCGX_Free`: the slot's state is freed; a request not finished gets no
/// answer and its connection is closed (with or without `close`: it
/// cannot go on without the answer).
#[no_mangle]
pub unsafe extern "C" fn FCGX_Free(request: *mut FCGX_Request, close: c_int) {
    let _ = close;
    guard((), || {
        let Some(r) = request.as_mut() else {
            return;
        };
        if let Some(slot) = slot_of(r) {
            slot.abandon(r);
        }
        free_slot(r);
    })
}

/// `FCGX_GetParam`: the value of `name` in `envp`, or NULL.
#[no_mangle]
pub unsafe extern "C" fn FCGX_GetParam(name: *const c_char, envp: *mut *mut c_char) -> *mut c_char {
    if name.is_null() || envp.is_null() {
        return std::ptr::null_mut();
    }
    let len = libc::strlen(name);
    let mut p = envp;
    // Bounded by the NULL that ends every envp.
    while !(*p).is_null() {
        let entry = *p;
        if libc::strncmp(name, entry, len) == 0 && *entry.add(len) == b'=' as c_char {
            return entry.add(len + 1);
        }
        p = p.add(1);
    }
    std::ptr::null_mut()
}

/// `FCGX_Attach` / `FCGX_Detach`: libfcgi's flag, kept in `detached`.
/// (Connections are never shut down from here, detached or not: a forked
/// child cannot cut the parent's connection.)
#[no_mangle]
pub unsafe extern "C" fn FCGX_Attach(r: *mut FCGX_Request) -> c_int {
    match r.as_mut() {
        Some(r) => {
            r.detached = 0;
            0
        }
        None => -1,
    }
}

#[no_mangle]
pub unsafe extern "C" fn FCGX_Detach(r: *mut FCGX_Request) -> c_int {
    match r.as_mut() {
        Some(r) if r.ipcFd > 0 => {
            r.detached = 1;
            0
        }
        _ => -1,
    }
}

// ------------------------------------------------ the library's own slot

struct OwnSlot(std::cell::UnsafeCell<FCGX_Request>);
// SAFETY: FCGX_Accept / FCGX_Finish are documented as not thread-safe:
// the program uses the slot from one thread.
unsafe impl Sync for OwnSlot {}

static OWN: OwnSlot = OwnSlot(std::cell::UnsafeCell::new(FCGX_Request {
    requestId: 0,
    role: 0,
    in_: std::ptr::null_mut(),
    out: std::ptr::null_mut(),
    err: std::ptr::null_mut(),
    envp: std::ptr::null_mut(),
    paramsPtr: std::ptr::null_mut(),
    ipcFd: -1,
    isBeginProcessed: 0,
    keepConnection: 0,
    appStatus: 0,
    nWriters: 0,
    flags: 0,
    listen_sock: FCGI_LISTENSOCK_FILENO,
    detached: 0,
}));

pub(crate) fn own_slot() -> *mut FCGX_Request {
    OWN.0.get()
}

static INIT: std::sync::Once = std::sync::Once::new();

fn init() {
    INIT.call_once(|| {
        shutdown::init();
        listener::init();
    });
}

/// `FCGX_Init`: idempotent and thread-safe. Always 0.
#[no_mangle]
pub extern "C" fn FCGX_Init() -> c_int {
    init();
    0
}

/// `FCGX_Accept`: `FCGX_Accept_r` on the library's slot (on fd 0).
#[no_mangle]
pub unsafe extern "C" fn FCGX_Accept(
    in_: *mut *mut FCGX_Stream,
    out: *mut *mut FCGX_Stream,
    err: *mut *mut FCGX_Stream,
    envp: *mut *mut *mut c_char,
) -> c_int {
    let r = own_slot();
    let rc = FCGX_Accept_r(r);
    let r = &*r;
    for (dst, v) in [(in_, r.in_), (out, r.out), (err, r.err)] {
        if let Some(d) = dst.as_mut() {
            *d = v;
        }
    }
    if let Some(e) = envp.as_mut() {
        *e = r.envp;
    }
    rc
}

/// `FCGX_Finish`.
#[no_mangle]
pub unsafe extern "C" fn FCGX_Finish() {
    FCGX_Finish_r(own_slot());
}

/// Whether fd 0 is a listening socket: 1 unknown, then cached.
static IS_CGI: std::sync::atomic::AtomicI8 = std::sync::atomic::AtomicI8::new(-1);

/// `FCGX_IsCGI`: 1 unless fd 0 is a listening socket (how a web server or
/// spawn-fcgi hands a FastCGI program its socket). Decided once.
#[no_mangle]
pub extern "C" fn FCGX_IsCGI() -> c_int {
    use std::sync::atomic::Ordering;
    let known = IS_CGI.load(Ordering::SeqCst);
    if known >= 0 {
        return c_int::from(known);
    }
    init();
    let cgi = i8::from(!smisk::fcgi::addr::is_listening_socket(0));
    IS_CGI.store(cgi, Ordering::SeqCst);
    c_int::from(cgi)
}

/// FCGX_OpenSocket made fd 0 a listening socket: FastCGI from now on.
pub(crate) fn note_fastcgi_fd0() {
    IS_CGI.store(0, std::sync::atomic::Ordering::SeqCst);
}
