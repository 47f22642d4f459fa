//! CGI mode: a program that is not bound and whose fd 0 is not a socket,
//! started by a web server as a CGI script (RFC 3875), serves exactly one
//! request from its environment and stdin/stdout, then returns.
//!
//! Design: the request is bridged into the FastCGI responder itself, so the
//! application sees exactly the same `Request` (params, streamed body,
//! limits, header validation, 500 on failure) in both modes and the FastCGI
//! path carries no CGI branch at all. The server is bound to a unix socket
//! in a fresh private directory (mode 0700, removed afterwards); one thread
//! sends the environment as PARAMS and stdin (exactly CONTENT_LENGTH bytes,
//! as RFC 3875 requires) as STDIN, another copies STDOUT records to fd 1
//! and STDERR records to fd 2 until END_REQUEST. FastCGI STDOUT is CGI
//! response output already (headers, blank line, body; `Status:`), so it is
//! passed through unchanged.
//!
//! Cost: two short-lived threads and one local socket per request, negligible
//! next to the process start-up CGI implies anyway.
//!
//! Guarantees: bounded — the body copied is at most CONTENT_LENGTH bytes,
//! params are subject to the server's `max_params_bytes` (over it the
//! request is answered 431), every wait has the server's read timeout, and
//! a broken stdout (SIGPIPE) ends the copy instead of the process.

use super::{handle_one, App};
use crate::fcgi::record as rec;
use crate::fcgi::Server;
use crate::status::{Error, Result, SMISK_ERR_STOPPED};
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Whether this process looks started as a CGI script: not bound, fd 0 not
/// a socket, and the meta-variable every CGI server must set (RFC 3875
/// §4.1.4) present.
pub fn is_cgi(server: &Server) -> bool {
    if server.is_bound() {
        return false;
    }
    // SAFETY: fstat into a zeroed stat buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid buffer; fd 0 may be closed (then fstat fails).
    let fd0_socket =
        unsafe { libc::fstat(0, &mut st) } == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFSOCK;
    !fd0_socket && std::env::var_os("GATEWAY_INTERFACE").is_some()
}

struct TempDir(CString);

impl TempDir {
    fn new() -> Result<TempDir> {
        let base = std::env::var_os("TMPDIR")
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "/tmp".into());
        let mut template = base.as_bytes().to_vec();
        template.extend_from_slice(b"/smisk-cgi-XXXXXX\0");
        // SAFETY: template is NUL-terminated and writable; mkdtemp creates
        // the directory with mode 0700.
        let p = unsafe { libc::mkdtemp(template.as_mut_ptr().cast()) };
        if p.is_null() {
            return Err(Error::last_os("mkdtemp"));
        }
        template.pop();
        Ok(TempDir(
            CString::new(template).map_err(|_| Error::invalid("TMPDIR contains NUL"))?,
        ))
    }

    fn socket_path(&self) -> Result<String> {
        let dir = self
            .0
            .to_str()
            .map_err(|_| Error::invalid("TMPDIR is not UTF-8"))?;
        Ok(format!("{dir}/cgi.sock"))
    }
}

impl TempDir {
    /// Removes the socket file and the directory once the bridge is
    /// connected: the pending connection and the listening socket do not
    /// need either. Done early because a web server may kill a CGI program
    /// that is still running after its answer ended (lighttpd sends
    /// SIGTERM), which would otherwise leave the directory behind.
    fn remove_now(&self, socket_path: &str) {
        if let Ok(sock) = CString::new(socket_path) {
            // SAFETY: valid C strings; failures (already gone) are harmless.
            unsafe { libc::unlink(sock.as_ptr()) };
        }
        // SAFETY: valid C string.
        unsafe { libc::rmdir(self.0.as_ptr()) };
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Normally removed by remove_now already (then ENOENT, harmless);
        // this covers a bridge that never connected.
        // SAFETY: valid C string; the socket inside was removed by unbind.
        unsafe { libc::rmdir(self.0.as_ptr()) };
    }
}

/// Serves one CGI request with `app`. Called by `run` when `is_cgi`.
pub fn serve_one(server: &mut Server, app: &mut dyn App) -> Result<()> {
    let dir = TempDir::new()?;
    let path = dir.socket_path()?;
    server.bind(&path, 1)?;
    let result = bridge(server, app, &path, &dir);
    let _ = server.unbind();
    result
}

fn bridge(server: &mut Server, app: &mut dyn App, path: &str, dir: &TempDir) -> Result<()> {
    let timeout = Duration::from_millis(server.limits().read_timeout_ms.max(1));
    // No socket timeouts: the application may take as long as the CGI
    // server lets it; the threads end when the request closes its socket.
    let sock = UnixStream::connect(path).map_err(|e| Error::os("connect (CGI bridge)", e))?;
    dir.remove_now(path);
    let input = sock
        .try_clone()
        .map_err(|e| Error::os("dup (CGI bridge)", e))?;
    let writer = std::thread::spawn(move || send_request(input));
    let reader = std::thread::spawn(move || copy_response(sock));

    if !app.worker_start(0) {
        drop(writer.join());
        drop(reader.join());
        return Err(Error::new(
            SMISK_ERR_STOPPED,
            "the worker start hook reported a failure",
        ));
    }
    let served = match server.accept(timeout.as_millis() as i64) {
        Ok(request) => {
            handle_one(app, request);
            server.release_request();
            Ok(())
        }
        Err(e) => Err(e),
    };
    app.worker_stop(0);
    // Both threads end: the writer at the end of the body or a send error
    // (the request closed its socket), the reader at END_REQUEST or EOF.
    let _ = writer.join();
    let copied = reader.join().unwrap_or(Ok(()));
    served.and(copied)
}

/// A closed peer (the request's socket, or a CGI server that closed our
/// stdout) must end the copy with EPIPE, not end the process: SIGPIPE is
/// blocked in the calling bridge thread only (a failing write raises it for
/// that thread; it is discarded when the thread ends).
fn block_sigpipe() {
    let pipe = super::signals::set_of(&[libc::SIGPIPE]);
    // SAFETY: valid set; affects this thread only.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &pipe, std::ptr::null_mut()) };
}

/// BEGIN_REQUEST, the environment as PARAMS, CONTENT_LENGTH bytes of stdin.
fn send_request(mut sock: UnixStream) {
    block_sigpipe();
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(&[rec::VERSION_1, rec::BEGIN_REQUEST, 0, 1, 0, 8, 0, 0]);
    out.extend_from_slice(&rec::ROLE_RESPONDER.to_be_bytes());
    out.extend_from_slice(&[0; 6]);
    let mut params = Vec::new();
    for (k, v) in std::env::vars_os() {
        rec::put_pair(&mut params, k.as_bytes(), v.as_bytes());
    }
    if !params.is_empty() {
        rec::put_stream(&mut out, rec::PARAMS, 1, &params);
    }
    rec::put_stream(&mut out, rec::PARAMS, 1, b"");
    if sock.write_all(&out).is_err() {
        return;
    }
    let mut left: u64 = std::env::var("CONTENT_LENGTH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut buf = vec![0u8; 32 * 1024];
    let mut stdin = std::io::stdin().lock();
    while left > 0 {
        let want = buf.len().min(left as usize);
        let n = match stdin.read(&mut buf[..want]) {
            Ok(0) | Err(_) => break, // a short body: the request sees it end
            Ok(n) => n,
        };
        left -= n as u64;
        out.clear();
        rec::put_stream(&mut out, rec::STDIN, 1, &buf[..n]); // n > 0: no end record
        if sock.write_all(&out).is_err() {
            return;
        }
    }
    out.clear();
    rec::put_stream(&mut out, rec::STDIN, 1, b"");
    let _ = sock.write_all(&out);
}

/// Copies STDOUT to fd 1 and STDERR to fd 2 until END_REQUEST.
fn copy_response(mut sock: UnixStream) -> Result<()> {
    block_sigpipe();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr();
    let mut head = [0u8; rec::HEADER_LEN];
    let mut body = vec![0u8; rec::MAX_CONTENT + 255];
    let mut out_ok = true;
    loop {
        if sock.read_exact(&mut head).is_err() {
            // The request ended without END_REQUEST (cannot happen unless the
            // serving side failed): what was copied stands.
            break;
        }
        let h = rec::Header::parse(&head)?.ok_or_else(|| Error::protocol("short header"))?;
        let b = &mut body[..h.body_len()];
        sock.read_exact(b)
            .map_err(|e| Error::os("read (CGI bridge)", e))?;
        let content = &b[..usize::from(h.content_len)];
        match h.kind {
            rec::STDOUT if out_ok => {
                out_ok = stdout.write_all(content).is_ok();
            }
            rec::STDERR => {
                let _ = stderr.write_all(content);
            }
            rec::END_REQUEST => break,
            _ => {}
        }
    }
    let _ = stdout.flush();
    Ok(())
}
