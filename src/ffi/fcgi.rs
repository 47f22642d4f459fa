//! C API of the FastCGI responder: `smisk_server_*` (binding, limits,
//! accepting requests) and `smisk_request_*` / `smisk_response_*` (params,
//! body, headers, output) on the request handle that accept returns.
//!
//! A request handle belongs to its server: it is valid from
//! `smisk_server_accept` until the next `smisk_server_accept` or
//! `smisk_server_free` on that server. After `smisk_request_finish` the handle
//! stays valid but every call on it fails with `SMISK_ERR_STATE`.

use super::{
    arg_bytes, arg_bytes_mut, arg_mut, arg_ref, arg_str, copy_out, free_handle, guard, guard_value,
    into_handle,
};
use crate::fcgi::scgi::Protocol;
use crate::fcgi::{Limits, Request, Server};
use crate::response::header::Lines;
use crate::status::{Error, Result, SMISK_ERR_NOT_FOUND};
use libc::{c_char, c_void};

/// Selects a limit for smisk_server_set_limit() / smisk_server_get_limit().
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum smisk_limit {
    /// Total bytes of FastCGI params per request (default 1 MiB). A request
    /// over it is answered "431 Request Header Fields Too Large".
    SMISK_LIMIT_MAX_PARAMS_BYTES = 0,
    /// Number of params per request (default 4096); over it: 431.
    SMISK_LIMIT_MAX_PARAMS = 1,
    /// Connections served at once (default 1024); further connections wait
    /// in the listen backlog. Also reported as FCGI_MAX_CONNS/FCGI_MAX_REQS.
    SMISK_LIMIT_MAX_CONNS = 2,
    /// Milliseconds a web server may stall while sending a request or its
    /// body (default 30000).
    SMISK_LIMIT_READ_TIMEOUT_MS = 3,
    /// Milliseconds a write may wait for a web server that does not read
    /// (default 30000).
    SMISK_LIMIT_WRITE_TIMEOUT_MS = 4,
    /// Milliseconds an idle kept-alive connection is kept (default 300000).
    SMISK_LIMIT_KEEPALIVE_TIMEOUT_MS = 5,
    /// Milliseconds, in all, that a connection closing after its answer
    /// keeps reading the rest of a request body the application did not
    /// read (default 30000). Closing while the web server still writes would
    /// make it drop the answer (nginx: 502); past this limit it is closed
    /// anyway.
    SMISK_LIMIT_LINGER_TIMEOUT_MS = 6,
    /// Bytes of unread request body a closing connection reads and discards
    /// at most before it is closed anyway (default 1 GiB).
    SMISK_LIMIT_LINGER_MAX_BYTES = 7,
}

/// Creates an unbound FastCGI responder with default limits.
///
/// On success *out_server receives a handle the caller owns and releases
/// with smisk_server_free().
#[no_mangle]
pub unsafe extern "C" fn smisk_server_new(out_server: *mut *mut Server) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `out_server` is NULL or valid for
    // the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let out = arg_mut(out_server, "out_server")?;
            *out = into_handle(Server::new());
            Ok(())
        })
    }
}

/// Releases a server: finishes a request still in progress, closes every
/// connection and the socket made by smisk_server_bind() (removing a unix
/// socket file it created). Request handles of this server become invalid.
/// NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn smisk_server_free(server: *mut Server) {
    // SAFETY: the C caller keeps the contract documented above: `server` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard_value((), || free_handle(server)) }
}

fn limit_value(which: i32, value: i64) -> Result<(smisk_limit, u64)> {
    let kind = match which {
        0 => smisk_limit::SMISK_LIMIT_MAX_PARAMS_BYTES,
        1 => smisk_limit::SMISK_LIMIT_MAX_PARAMS,
        2 => smisk_limit::SMISK_LIMIT_MAX_CONNS,
        3 => smisk_limit::SMISK_LIMIT_READ_TIMEOUT_MS,
        4 => smisk_limit::SMISK_LIMIT_WRITE_TIMEOUT_MS,
        5 => smisk_limit::SMISK_LIMIT_KEEPALIVE_TIMEOUT_MS,
        6 => smisk_limit::SMISK_LIMIT_LINGER_TIMEOUT_MS,
        7 => smisk_limit::SMISK_LIMIT_LINGER_MAX_BYTES,
        _ => return Err(Error::invalid(format!("unknown limit {which}"))),
    };
    if value <= 0 {
        return Err(Error::invalid(format!(
            "limit {kind:?} must be positive, got {value}"
        )));
    }
    if matches!(kind, smisk_limit::SMISK_LIMIT_MAX_PARAMS_BYTES) && value > u32::MAX as i64 {
        return Err(Error::invalid(
            "SMISK_LIMIT_MAX_PARAMS_BYTES must be below 4 GiB",
        ));
    }
    Ok((kind, value as u64))
}

/// Sets one limit (which is a smisk_limit value; value must be positive).
/// Applies to requests accepted afterwards. Unknown which, or a value out of
/// range: SMISK_ERR_INVALID.
#[no_mangle]
pub unsafe extern "C" fn smisk_server_set_limit(
    server: *mut Server,
    which: i32,
    value: i64,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `server` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let server = arg_mut(server, "server")?;
            let (kind, v) = limit_value(which, value)?;
            let mut l: Limits = *server.limits();
            match kind {
                smisk_limit::SMISK_LIMIT_MAX_PARAMS_BYTES => l.max_params_bytes = v as usize,
                smisk_limit::SMISK_LIMIT_MAX_PARAMS => l.max_params = v as usize,
                smisk_limit::SMISK_LIMIT_MAX_CONNS => l.max_conns = v as usize,
                smisk_limit::SMISK_LIMIT_READ_TIMEOUT_MS => l.read_timeout_ms = v,
                smisk_limit::SMISK_LIMIT_WRITE_TIMEOUT_MS => l.write_timeout_ms = v,
                smisk_limit::SMISK_LIMIT_KEEPALIVE_TIMEOUT_MS => l.keepalive_timeout_ms = v,
                smisk_limit::SMISK_LIMIT_LINGER_TIMEOUT_MS => l.linger_timeout_ms = v,
                smisk_limit::SMISK_LIMIT_LINGER_MAX_BYTES => l.linger_max_bytes = v,
            }
            server.set_limits(l);
            Ok(())
        })
    }
}

/// Reads one limit (which is a smisk_limit value) into *out_value.
#[no_mangle]
pub unsafe extern "C" fn smisk_server_get_limit(
    server: *const Server,
    which: i32,
    out_value: *mut i64,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `server` and `out_value` are NULL
    // or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let server = arg_ref(server, "server")?;
            let out = arg_mut(out_value, "out_value")?;
            let (kind, _) = limit_value(which, 1)?;
            let l = server.limits();
            let v = match kind {
                smisk_limit::SMISK_LIMIT_MAX_PARAMS_BYTES => l.max_params_bytes as u64,
                smisk_limit::SMISK_LIMIT_MAX_PARAMS => l.max_params as u64,
                smisk_limit::SMISK_LIMIT_MAX_CONNS => l.max_conns as u64,
                smisk_limit::SMISK_LIMIT_READ_TIMEOUT_MS => l.read_timeout_ms,
                smisk_limit::SMISK_LIMIT_WRITE_TIMEOUT_MS => l.write_timeout_ms,
                smisk_limit::SMISK_LIMIT_KEEPALIVE_TIMEOUT_MS => l.keepalive_timeout_ms,
                smisk_limit::SMISK_LIMIT_LINGER_TIMEOUT_MS => l.linger_timeout_ms,
                smisk_limit::SMISK_LIMIT_LINGER_MAX_BYTES => l.linger_max_bytes,
            };
            *out = v.min(i64::MAX as u64) as i64;
            Ok(())
        })
    }
}

/// smisk_server_set_protocol(): FastCGI 1.0 (the default).
pub const SMISK_PROTOCOL_FASTCGI: i32 = 0;
/// smisk_server_set_protocol(): SCGI 1.
pub const SMISK_PROTOCOL_SCGI: i32 = 1;

/// Chooses the protocol (SMISK_PROTOCOL_FASTCGI or SMISK_PROTOCOL_SCGI) of
/// listening sockets whose address names none: fd 0 handed over by a web
/// server or spawn-fcgi, smisk_server_adopt_fd(), and smisk_server_bind()
/// without a "scgi:" / "fcgi:" prefix. Applies to sockets bound or adopted
/// afterwards (fd 0 is taken at the first accept). Any other value:
/// SMISK_ERR_INVALID.
#[no_mangle]
pub unsafe extern "C" fn smisk_server_set_protocol(
    server: *mut Server,
    protocol: i32,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `server` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let server = arg_mut(server, "server")?;
            server.set_protocol(match protocol {
                SMISK_PROTOCOL_FASTCGI => Protocol::FastCgi,
                SMISK_PROTOCOL_SCGI => Protocol::Scgi,
                _ => {
                    return Err(Error::invalid(format!(
                    "unknown protocol {protocol} (SMISK_PROTOCOL_FASTCGI or SMISK_PROTOCOL_SCGI)"
                )))
                }
            });
            Ok(())
        })
    }
}

/// Writes the protocol smisk_server_set_protocol() chose into *out_protocol.
#[no_mangle]
pub unsafe extern "C" fn smisk_server_get_protocol(
    server: *const Server,
    out_protocol: *mut i32,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `server` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let server = arg_ref(server, "server")?;
            let out = arg_mut(out_protocol, "out_protocol")?;
            *out = match server.protocol() {
                Protocol::FastCgi => SMISK_PROTOCOL_FASTCGI,
                Protocol::Scgi => SMISK_PROTOCOL_SCGI,
            };
            Ok(())
        })
    }
}

/// Binds the server to an address and listens. address (address_len bytes,
/// UTF-8, no NUL needed) is one of: a unix socket path containing '/',
/// ":PORT" or "*:PORT" (all IPv4 interfaces), "HOST:PORT" (IPv4 literal or
/// resolvable name), "[IPV6]:PORT". PORT 0 picks a free port (see
/// smisk_server_listening()). backlog <= 0 means the system maximum.
/// Prefixed with "scgi:" ("scgi:/run/app.sock", "scgi:127.0.0.1:4000")
/// the socket speaks SCGI instead of FastCGI ("fcgi:" names FastCGI; with
/// no prefix, smisk_server_set_protocol() decides, FastCGI by default).
/// Requests and answers look the same to the application either way.
///
/// An existing unix socket file is replaced only if nobody listens on it; any
/// other file at that path is an error. A new unix socket file has mode 0660
/// (owner and group may connect) unless smisk_server_set_socket_ownership()
/// asked otherwise, from the moment it appears. Which TCP peers are served:
/// smisk_server_set_allow(). Errors: SMISK_ERR_INVALID (malformed
/// or unresolvable address), SMISK_ERR_IO (the OS refused, e.g. address in
/// use), SMISK_ERR_STATE (already bound). The process never exits on error.
#[no_mangle]
pub unsafe extern "C" fn smisk_server_bind(
    server: *mut Server,
    address: *const c_char,
    address_len: usize,
    backlog: i32,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `server` and `address` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let server = arg_mut(server, "server")?;
            let address = arg_str(address.cast(), address_len, "address")?;
            server.bind(address, backlog)
        })
    }
}

/// Closes the socket made by smisk_server_bind() and removes the unix socket
/// file this process created. Does nothing when not bound.
#[no_mangle]
pub unsafe extern "C" fn smisk_server_unbind(server: *mut Server) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `server` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard(|| arg_mut(server, "server")?.unbind()) }
}

/// True when smisk_server_bind() or smisk_server_adopt_fd() gave the server a
/// socket (false for NULL).
#[no_mangle]
pub unsafe extern "C" fn smisk_server_is_bound(server: *const Server) -> bool {
    // SAFETY: the C caller keeps the contract documented above: `server` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard_value(false, || server.as_ref().is_some_and(|s| s.is_bound())) }
}

/// Writes the bound address into buf (not NUL-terminated; *out_len receives
/// its length): the unix socket path, "*:PORT" for all IPv4 interfaces,
/// "A.B.C.D:PORT" or "[IPV6]:PORT". SMISK_ERR_STATE when not bound;
/// SMISK_ERR_BUFFER_TOO_SMALL (with the needed length in *out_len) when cap
/// is too small.
#[no_mangle]
pub unsafe extern "C" fn smisk_server_listening(
    server: *const Server,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `server`, `buf` and `out_len` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let server = arg_ref(server, "server")?;
            let text = server.listening()?;
            copy_out(text.as_bytes(), buf.cast(), cap, out_len)
        })
    }
}

/// Makes the server accept on an already listening socket fd (for example
/// one inherited from a supervisor). On success the server owns fd and closes
/// it; on failure the caller keeps it. SMISK_ERR_INVALID if fd is not a
/// listening socket, SMISK_ERR_STATE if already bound.
#[no_mangle]
pub unsafe extern "C" fn smisk_server_adopt_fd(
    server: *mut Server,
    fd: i32,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `server` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard(|| arg_mut(server, "server")?.adopt_listener(fd)) }
}

/// Writes the listening descriptor in use (bound, adopted, or the fd 0 handed
/// over by a web server once a first accept found it) to *out_fd.
/// SMISK_ERR_NOT_FOUND when there is none yet. The descriptor stays owned by
/// the server.
#[no_mangle]
pub unsafe extern "C" fn smisk_server_listen_fd(
    server: *const Server,
    out_fd: *mut i32,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `server` and `out_fd` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let server = arg_ref(server, "server")?;
            let out = arg_mut(out_fd, "out_fd")?;
            *out = server
                .listener_fd()
                .ok_or_else(|| Error::new(SMISK_ERR_NOT_FOUND, "no listening socket yet"))?;
            Ok(())
        })
    }
}

/// True when fd is a listening stream socket. A program started by a web
/// server or spawn-fcgi finds its FastCGI socket on fd 0; when fd 0 is not
/// one, the program was started as CGI or by hand.
#[no_mangle]
pub extern "C" fn smisk_fd_is_listening_socket(fd: i32) -> bool {
    guard_value(false, || {
        fd >= 0 && crate::fcgi::addr::is_listening_socket(fd)
    })
}

/// In a child process after fork(): forgets the connections and event state
/// inherited from the parent (the listening socket is kept). Call before the
/// child's first smisk_server_accept().
#[no_mangle]
pub unsafe extern "C" fn smisk_server_reset_after_fork(server: *mut Server) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `server` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            arg_mut(server, "server")?.reset_after_fork();
            Ok(())
        })
    }
}

/// Waits for the next request and stores its handle in *out_request. The
/// previous request of this server is finished first if the application did
/// not finish it (its handle is then reused for the new request).
///
/// Without a bound socket the server accepts on fd 0 when that is a listening
/// socket (web server / spawn-fcgi start-up), else fails with SMISK_ERR_STATE.
/// timeout_ms < 0 waits forever; otherwise SMISK_ERR_TIMEOUT after that many
/// milliseconds. A signal delivered while waiting gives SMISK_ERR_INTERRUPTED
/// (check your flags and call again).
///
/// Ownership: the request handle belongs to the server; do not free it.
#[no_mangle]
pub unsafe extern "C" fn smisk_server_accept(
    server: *mut Server,
    timeout_ms: i64,
    out_request: *mut *mut Request,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `server` and `out_request` are NULL
    // or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let server = arg_mut(server, "server")?;
            let out = arg_mut(out_request, "out_request")?;
            let req = server.accept(timeout_ms)?;
            *out = req as *mut Request;
            Ok(())
        })
    }
}

/// Number of connections from web servers currently open on this server
/// (including the one of the request being served). 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn smisk_server_connection_count(server: *const Server) -> usize {
    // SAFETY: the C caller keeps the contract documented above: `server` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard_value(0, || server.as_ref().map_or(0, |s| s.connection_count())) }
}

fn req<'a>(request: *mut Request) -> Result<&'a mut Request> {
    // SAFETY: the caller passes a handle from smisk_server_accept that is
    // still valid (documented lifetime), or NULL.
    unsafe { arg_mut(request, "request") }
}

/// The shared body of the read functions: checks the arguments, reads with
/// `read`, stores the count.
///
/// # Safety
/// `request` is NULL or a live request handle, `buf` NULL or `cap` writable
/// bytes, `out_len` NULL or writable.
unsafe fn read_into(
    request: *mut Request,
    buf: *mut c_void,
    cap: usize,
    out_len: *mut usize,
    read: fn(&mut Request, &mut [u8]) -> Result<usize>,
) -> crate::smisk_status {
    // SAFETY: the callers of this function guarantee its `# Safety` conditions, which are what the
    // unsafe calls below require.
    unsafe {
        guard(|| {
            let r = req(request)?;
            let out = arg_mut(out_len, "out_len")?;
            let buf = arg_bytes_mut(buf.cast(), cap, "buf")?;
            *out = read(r, buf)?;
            Ok(())
        })
    }
}

/// The shared body of the functions that hand the request bytes (writes,
/// header lines).
///
/// # Safety
/// `request` is NULL or a live request handle, `data` NULL or `len`
/// readable bytes.
unsafe fn write_from(
    request: *mut Request,
    data: *const c_void,
    len: usize,
    what: &str,
    write: fn(&mut Request, &[u8]) -> Result<()>,
) -> crate::smisk_status {
    // SAFETY: the callers of this function guarantee its `# Safety` conditions, which are what the
    // unsafe calls below require.
    unsafe { guard(|| write(req(request)?, arg_bytes(data.cast(), len, what)?)) }
}

/// Looks up a FastCGI param (CGI variable) by exact, case-sensitive name.
/// On success *value / *value_len receive the value (binary-safe, not
/// NUL-terminated), valid until the request finishes. SMISK_ERR_NOT_FOUND
/// when absent; SMISK_ERR_STATE after the request finished.
#[no_mangle]
pub unsafe extern "C" fn smisk_request_param(
    request: *mut Request,
    name: *const c_char,
    name_len: usize,
    value: *mut *const c_char,
    value_len: *mut usize,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request`, `name`, `value` and
    // `value_len` are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn
    // NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let r = req(request)?;
            let name = arg_bytes(name.cast(), name_len, "name")?;
            let value = arg_mut(value, "value")?;
            let value_len = arg_mut(value_len, "value_len")?;
            if !r.is_active() {
                return Err(Error::state("the request has finished"));
            }
            let v = r.param(name).ok_or_else(|| {
                Error::new(
                    SMISK_ERR_NOT_FOUND,
                    format!("no param named {:?}", String::from_utf8_lossy(name)),
                )
            })?;
            *value = v.as_ptr().cast();
            *value_len = v.len();
            Ok(())
        })
    }
}

/// Number of params of the request, in the order the web server sent them
/// (0 for NULL or a finished request).
#[no_mangle]
pub unsafe extern "C" fn smisk_request_param_count(request: *const Request) -> usize {
    // SAFETY: the C caller keeps the contract documented above: `request` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard_value(0, || request.as_ref().map_or(0, |r| r.param_count())) }
}

/// The index-th param (0-based): name and value pointers and lengths, valid
/// until the request finishes. SMISK_ERR_NOT_FOUND when index is out of range.
#[no_mangle]
pub unsafe extern "C" fn smisk_request_param_at(
    request: *mut Request,
    index: usize,
    name: *mut *const c_char,
    name_len: *mut usize,
    value: *mut *const c_char,
    value_len: *mut usize,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request`, `name`, `name_len`,
    // `value` and `value_len` are NULL or valid for the stated lengths and lifetimes; the arg_*
    // helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let r = req(request)?;
            let (name, name_len) = (arg_mut(name, "name")?, arg_mut(name_len, "name_len")?);
            let (value, value_len) = (arg_mut(value, "value")?, arg_mut(value_len, "value_len")?);
            if !r.is_active() {
                return Err(Error::state("the request has finished"));
            }
            let (n, v) = r.param_at(index).ok_or_else(|| {
                Error::new(SMISK_ERR_NOT_FOUND, format!("no param at index {index}"))
            })?;
            *name = n.as_ptr().cast();
            *name_len = n.len();
            *value = v.as_ptr().cast();
            *value_len = v.len();
            Ok(())
        })
    }
}

/// One param as smisk_request_params gives it: name and value pointers
/// and lengths (binary-safe, not NUL-terminated), valid until the request
/// finishes.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct smisk_param {
    pub name: *const c_char,
    pub name_len: usize,
    pub value: *const c_char,
    pub value_len: usize,
}

/// Every param at once, in the order the web server sent them: the first
/// min(count, cap) into out[0..] (out may be NULL when cap is 0), their
/// number into *count (more than cap when out is too small: call again
/// with room for all). What smisk_request_param_at gives for each index,
/// in one call (a gateway building an environ reads them all on every
/// request). SMISK_ERR_STATE after the request finished.
#[no_mangle]
pub unsafe extern "C" fn smisk_request_params(
    request: *mut Request,
    out: *mut smisk_param,
    cap: usize,
    count: *mut usize,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request` and `count` are NULL
    // or valid, `out` is valid for `cap` elements (or NULL with cap 0); the arg_* helpers turn
    // NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let r = req(request)?;
            let count = arg_mut(count, "count")?;
            if !r.is_active() {
                return Err(Error::state("the request has finished"));
            }
            let out: &mut [smisk_param] = if cap == 0 {
                &mut []
            } else if out.is_null() {
                return Err(Error::new(crate::status::SMISK_ERR_NULL, "out is NULL"));
            } else {
                std::slice::from_raw_parts_mut(out, cap)
            };
            *count = r.each_param(|i, name, value| {
                if let Some(slot) = out.get_mut(i) {
                    *slot = smisk_param {
                        name: name.as_ptr().cast(),
                        name_len: name.len(),
                        value: value.as_ptr().cast(),
                        value_len: value.len(),
                    };
                }
            });
            Ok(())
        })
    }
}

/// The FastCGI request id (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn smisk_request_id(request: *const Request) -> u16 {
    // SAFETY: the C caller keeps the contract documented above: `request` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard_value(0, || request.as_ref().map_or(0, |r| r.id())) }
}

/// True when the web server asked to keep the connection open after this
/// request (FCGI_KEEP_CONN).
#[no_mangle]
pub unsafe extern "C" fn smisk_request_keep_conn(request: *const Request) -> bool {
    // SAFETY: the C caller keeps the contract documented above: `request` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard_value(false, || request.as_ref().is_some_and(|r| r.keep_conn())) }
}

/// True once the web server aborted the request (FCGI_ABORT_REQUEST) or hung
/// up. Reads and writes then fail with SMISK_ERR_ABORTED.
#[no_mangle]
pub unsafe extern "C" fn smisk_request_is_aborted(request: *const Request) -> bool {
    // SAFETY: the C caller keeps the contract documented above: `request` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard_value(false, || request.as_ref().is_some_and(|r| r.is_aborted())) }
}

/// True between smisk_server_accept() and smisk_request_finish().
#[no_mangle]
pub unsafe extern "C" fn smisk_request_is_active(request: *const Request) -> bool {
    // SAFETY: the C caller keeps the contract documented above: `request` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard_value(false, || request.as_ref().is_some_and(|r| r.is_active())) }
}

/// Reads request body bytes (FastCGI STDIN) into buf, filling it unless the
/// body ends first; *out_len receives the count (0 = end of body). The body
/// is streamed from the socket, never held whole in memory.
/// SMISK_ERR_ABORTED if the web server aborted or hung up, SMISK_ERR_TIMEOUT
/// if it stalled longer than SMISK_LIMIT_READ_TIMEOUT_MS.
#[no_mangle]
pub unsafe extern "C" fn smisk_request_read(
    request: *mut Request,
    buf: *mut c_void,
    cap: usize,
    out_len: *mut usize,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request`, `buf` and `out_len` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe { read_into(request, buf, cap, out_len, Request::read) }
}

/// Reads one line of the body: bytes up to and including the next '\n', or
/// until buf is full, or the end of the body (*out_len 0 at the end). Errors
/// as for smisk_request_read().
#[no_mangle]
pub unsafe extern "C" fn smisk_request_readline(
    request: *mut Request,
    buf: *mut c_void,
    cap: usize,
    out_len: *mut usize,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request`, `buf` and `out_len` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe { read_into(request, buf, cap, out_len, Request::readline) }
}

/// Writes raw bytes to the response stream (FastCGI STDOUT), bypassing the
/// header list (the caller writes its own header block). Output is buffered;
/// see smisk_request_flush(). SMISK_ERR_ABORTED once the web server is gone.
#[no_mangle]
pub unsafe extern "C" fn smisk_request_write_stdout(
    request: *mut Request,
    data: *const c_void,
    len: usize,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request` and `data` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { write_from(request, data, len, "data", Request::write_stdout) }
}

/// Writes bytes to FastCGI STDERR (the web server's error log).
#[no_mangle]
pub unsafe extern "C" fn smisk_request_write_stderr(
    request: *mut Request,
    data: *const c_void,
    len: usize,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request` and `data` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { write_from(request, data, len, "data", Request::write_stderr) }
}

/// Sends buffered output to the web server now.
#[no_mangle]
pub unsafe extern "C" fn smisk_request_flush(request: *mut Request) -> crate::smisk_status {
    guard(|| req(request)?.flush())
}

/// Ends the request: sends what is buffered, the end of the output streams and
/// END_REQUEST with app_status. A response nothing was written to gets an
/// empty header block (the web server answers 200 with no body). Calling it
/// again does nothing. The handle stays valid (calls fail with
/// SMISK_ERR_STATE) until the next smisk_server_accept().
#[no_mangle]
pub unsafe extern "C" fn smisk_request_finish(
    request: *mut Request,
    app_status: u32,
) -> crate::smisk_status {
    guard(|| req(request)?.finish(app_status))
}

/// Appends a response header line "Name: value" (line_len bytes, no CRLF),
/// checked at once: the name must be an HTTP token; CR, LF and NUL are
/// rejected (SMISK_ERR_INVALID, and the line is not added). SMISK_ERR_STATE
/// once the response has begun.
#[no_mangle]
pub unsafe extern "C" fn smisk_response_add_header(
    request: *mut Request,
    line: *const c_char,
    line_len: usize,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request` and `line` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { write_from(request, line.cast(), line_len, "line", Request::add_header) }
}

/// A byte string passed with its length (not NUL-terminated); `ptr` may
/// be NULL when `len` is 0.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct smisk_slice {
    pub ptr: *const u8,
    pub len: usize,
}

/// Appends a header line to the response's header list as given (line_len
/// bytes, no CRLF), without checking it: every line is validated when the
/// header block is sent (smisk_response_begin fails with SMISK_ERR_INVALID
/// for the first invalid one, and nothing is sent). This is the list an
/// application edits freely until it begins (Python's Response.headers);
/// use smisk_response_add_header to have a line refused at once. After the
/// response has begun the list still changes, but nothing more is sent.
/// SMISK_ERR_STATE after the request finished.
#[no_mangle]
pub unsafe extern "C" fn smisk_response_push_header(
    request: *mut Request,
    line: *const c_char,
    line_len: usize,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request` and `line` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { write_from(request, line.cast(), line_len, "line", Request::push_header) }
}

/// Replaces the whole header list by the count lines of `lines` (lines may
/// be NULL when count is 0), stored as smisk_response_push_header stores
/// them (validated when the block is sent). Nothing changes when an
/// argument is bad. SMISK_ERR_STATE after the request finished.
#[no_mangle]
pub unsafe extern "C" fn smisk_response_set_headers(
    request: *mut Request,
    lines: *const smisk_slice,
    count: usize,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request` and `lines` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let r = req(request)?;
            let slices: &[smisk_slice] = if count == 0 {
                &[]
            } else if lines.is_null() {
                return Err(Error::new(crate::status::SMISK_ERR_NULL, "lines is NULL"));
            } else {
                std::slice::from_raw_parts(lines, count)
            };
            // Every slice is checked before the list changes.
            for l in slices {
                arg_bytes(l.ptr, l.len, "lines[i]")?;
            }
            let lines = r.header_lines_mut()?;
            lines.clear();
            for l in slices {
                lines.push(arg_bytes(l.ptr, l.len, "lines[i]")?);
            }
            Ok(())
        })
    }
}

/// The header list of a request handle that may be NULL or finished.
///
/// # Safety
/// `request` is NULL or a live request handle.
unsafe fn lines_of<'a>(request: *const Request) -> Option<&'a Lines> {
    // SAFETY: as this function requires.
    unsafe { request.as_ref() }.and_then(|r| r.header_lines().ok())
}

/// Number of lines in the response's header list (0 for NULL or a finished
/// request).
#[no_mangle]
pub unsafe extern "C" fn smisk_response_header_count(request: *const Request) -> usize {
    // SAFETY: the C caller passes NULL or a live request handle.
    guard_value(0, || unsafe { lines_of(request) }.map_or(0, Lines::len))
}

/// Bytes the header block of the current list takes (each line with its
/// CRLF, without the final blank line; 0 for NULL or a finished request).
#[no_mangle]
pub unsafe extern "C" fn smisk_response_headers_size(request: *const Request) -> usize {
    // SAFETY: the C caller passes NULL or a live request handle.
    guard_value(0, || unsafe { lines_of(request) }.map_or(0, Lines::bytes))
}

/// The index-th line of the header list: *line / *line_len receive it (no
/// CRLF, not NUL-terminated), valid until the list or the request changes.
/// SMISK_ERR_NOT_FOUND when index is out of range.
#[no_mangle]
pub unsafe extern "C" fn smisk_response_header_at(
    request: *const Request,
    index: usize,
    line: *mut *const u8,
    line_len: *mut usize,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request`, `line` and `line_len`
    // are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let r = arg_ref(request, "request")?;
            let (line, line_len) = (arg_mut(line, "line")?, arg_mut(line_len, "line_len")?);
            let l = r.header_lines()?.get(index).ok_or_else(|| {
                Error::new(
                    SMISK_ERR_NOT_FOUND,
                    format!("no header line at index {index}"),
                )
            })?;
            *line = l.as_ptr();
            *line_len = l.len();
            Ok(())
        })
    }
}

/// Removes the header lines added so far. SMISK_ERR_STATE once the response
/// has begun.
#[no_mangle]
pub unsafe extern "C" fn smisk_response_clear_headers(
    request: *mut Request,
) -> crate::smisk_status {
    guard(|| req(request)?.clear_headers())
}

/// Sends the header block: every header line, then one blank line. Every
/// line is validated first (a token name, a colon, no CR, LF or NUL); an
/// invalid one is SMISK_ERR_INVALID and nothing is sent. A "Status: 204" or
/// "Status: 304" line makes the block go out without Content-Length lines.
/// SMISK_ERR_STATE if the response has already begun.
#[no_mangle]
pub unsafe extern "C" fn smisk_response_begin(request: *mut Request) -> crate::smisk_status {
    guard(|| req(request)?.begin())
}

/// True once the header block was sent (smisk_response_begin() or the first
/// smisk_response_write()).
#[no_mangle]
pub unsafe extern "C" fn smisk_response_has_begun(request: *const Request) -> bool {
    // SAFETY: the C caller keeps the contract documented above: `request` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard_value(false, || request.as_ref().is_some_and(|r| r.has_begun())) }
}

/// Writes response body bytes, sending the header block first if it has not
/// been sent. An empty write does not begin the response.
#[no_mangle]
pub unsafe extern "C" fn smisk_response_write(
    request: *mut Request,
    data: *const c_void,
    len: usize,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request` and `data` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { write_from(request, data, len, "data", Request::write) }
}
