//! The request being served: params, the body (STDIN), the response header
//! list, and the output streams (STDOUT, STDERR) framed into records.
//!
//! Output is buffered as complete records and sent in as few syscalls as
//! possible: a small response goes out in one `send` together with the end of
//! the stream and END_REQUEST. Writes after the web server hung up fail with
//! `SMISK_ERR_ABORTED` without touching the socket again.

use super::conn::Conn;
use super::io::send_all;
use super::limits::Limits;
use super::record::{self as rec, PairSpan};
use super::scgi::Protocol;
use crate::response::header::Lines;
use crate::status::{Error, Result, SMISK_ERR_ABORTED};
use std::any::Any;

/// Buffered output is sent once it reaches this size.
const OUT_FLUSH_AT: usize = 64 * 1024;

/// A FastCGI request handed to the application by `Server::accept`. It
/// belongs to the server and is valid until `finish` or the next `accept`.
pub struct Request {
    pub(crate) conn: Option<Box<Conn>>,
    pub(crate) slot: usize,
    limits: Limits,
    out: Vec<u8>,
    /// Offset and kind of the record at the end of `out` still taking data.
    open: Option<(usize, u8)>,
    wrote_stdout: bool,
    wrote_stderr: bool,
    headers: Lines,
    began: bool,
    finished: bool,
    /// The connection may be kept for another request if the web server
    /// asked (false: the server gives this connection up after the answer).
    may_keep: bool,
    /// Dropped right after the answer is complete (the temp files of a
    /// parsed form: the client need not wait for their removal). Send: a
    /// request may be served on another thread.
    after_finish: Vec<Box<dyn Any + Send>>,
}

impl Request {
    pub(crate) fn new() -> Request {
        Request {
            conn: None,
            slot: 0,
            limits: Limits::default(),
            out: Vec::new(),
            open: None,
            wrote_stdout: false,
            wrote_stderr: false,
            headers: Lines::default(),
            began: false,
            finished: true,
            may_keep: true,
            after_finish: Vec::new(),
        }
    }

    pub(crate) fn start(&mut self, conn: Box<Conn>, slot: usize, limits: Limits, may_keep: bool) {
        self.may_keep = may_keep;
        self.conn = Some(conn);
        self.slot = slot;
        self.limits = limits;
        self.out.clear();
        self.open = None;
        self.wrote_stdout = false;
        self.wrote_stderr = false;
        self.headers.clear();
        self.began = false;
        self.finished = false;
        self.after_finish.clear();
    }

    fn conn(&self) -> Result<&Conn> {
        match &self.conn {
            Some(c) if !self.finished => Ok(c),
            _ => Err(Error::state("the request has finished")),
        }
    }

    fn conn_mut(&mut self) -> Result<&mut Conn> {
        match &mut self.conn {
            Some(c) if !self.finished => Ok(c),
            _ => Err(Error::state("the request has finished")),
        }
    }

    /// True between `accept` and `finish`.
    pub fn is_active(&self) -> bool {
        self.conn.is_some() && !self.finished
    }

    /// The FastCGI request id.
    pub fn id(&self) -> u16 {
        self.conn.as_ref().map_or(0, |c| c.asm.req_id)
    }

    /// Whether the web server asked to keep the connection (FCGI_KEEP_CONN).
    pub fn keep_conn(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.asm.keep_conn)
    }

    /// True once the web server aborted the request or hung up.
    pub fn is_aborted(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.asm.aborted || c.dead)
    }

    /// The descriptor of the request's connection (None once finished and
    /// closed). For a layer that reports it (libfcgi's `ipcFd`); reading or
    /// writing it directly would break the framing.
    pub fn connection_fd(&self) -> Option<std::os::unix::io::RawFd> {
        self.conn.as_ref().map(|c| c.raw_fd()).filter(|fd| *fd >= 0)
    }

    /// The FastCGI role (`record::ROLE_RESPONDER`, and `ROLE_AUTHORIZER` or
    /// `ROLE_FILTER` when the server serves them, see `Server::set_roles`).
    pub fn role(&self) -> u16 {
        self.conn.as_ref().map_or(0, |c| c.asm.role)
    }

    /// A FILTER request whose body (FCGI_STDIN) has been read to its end
    /// goes on with its FCGI_DATA stream: the reads that follow return the
    /// data file. `SMISK_ERR_STATE` for another role, before the end of the
    /// body, or a second time.
    pub fn start_data(&mut self) -> Result<()> {
        if self.conn_mut()?.asm.start_data() {
            Ok(())
        } else {
            Err(Error::state(
                "FCGI_DATA follows only a FILTER request's STDIN, once read to its end",
            ))
        }
    }

    /// For an application that writes the CGI header block itself through
    /// `write_stdout` (the libfcgi model): the response counts as begun, so
    /// `finish` adds no header block when nothing was written (the answer
    /// is then empty) and `add_header` is refused.
    pub fn begin_raw(&mut self) -> Result<()> {
        self.conn()?;
        self.began = true;
        Ok(())
    }

    /// Ends the request without an answer and closes its connection (the
    /// web server sees the connection end before END_REQUEST). Buffered
    /// output is dropped. For an application that abandons a request.
    pub fn drop_connection(&mut self) {
        if let Some(c) = self.conn.as_mut() {
            if !self.finished {
                c.dead = true;
            }
        }
        self.out.clear();
        self.open = None;
        let _ = self.finish(0);
    }

    fn span_bytes(params: &[u8], at: u32, len: u32) -> &[u8] {
        &params[at as usize..at as usize + len as usize]
    }

    /// The value of the first param named `name` (binary-safe, exact match).
    pub fn param(&self, name: &[u8]) -> Option<&[u8]> {
        let c = self.conn().ok()?;
        let a = &c.asm;
        // The length first: most names differ in it, and then no slice is
        // made or compared.
        a.spans
            .iter()
            .find(|s| {
                s.name_len as usize == name.len()
                    && Self::span_bytes(&a.params, s.name_at, s.name_len) == name
            })
            .map(|s| Self::span_bytes(&a.params, s.value_at, s.value_len))
    }

    /// Number of params, in the order the web server sent them.
    pub fn param_count(&self) -> usize {
        self.conn().map_or(0, |c| c.asm.spans.len())
    }

    /// The `index`-th param as (name, value).
    pub fn param_at(&self, index: usize) -> Option<(&[u8], &[u8])> {
        let c = self.conn().ok()?;
        let s: &PairSpan = c.asm.spans.get(index)?;
        Some((
            Self::span_bytes(&c.asm.params, s.name_at, s.name_len),
            Self::span_bytes(&c.asm.params, s.value_at, s.value_len),
        ))
    }

    /// Calls `each(index, name, value)` for every param, in the order the
    /// web server sent them (none for a finished request); returns their
    /// number.
    pub fn each_param(&self, mut each: impl FnMut(usize, &[u8], &[u8])) -> usize {
        let Ok(c) = self.conn() else {
            return 0;
        };
        let a = &c.asm;
        for (i, s) in a.spans.iter().enumerate() {
            each(
                i,
                Self::span_bytes(&a.params, s.name_at, s.name_len),
                Self::span_bytes(&a.params, s.value_at, s.value_len),
            );
        }
        a.spans.len()
    }

    /// Reads body bytes: at least one unless the body ended (0), at most
    /// `buf.len()`.
    pub fn read_some(&mut self, buf: &mut [u8]) -> Result<usize> {
        let limits = self.limits;
        self.conn_mut()?.read_stdin(buf, &limits)
    }

    /// Fills `buf` with body bytes; fewer only at the end of the body.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            let n = self.read_some(&mut buf[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        Ok(filled)
    }

    /// Reads one line: up to and including the next `\n`, or until `buf` is
    /// full, or the end of the body.
    pub fn readline(&mut self, buf: &mut [u8]) -> Result<usize> {
        let limits = self.limits;
        let conn = self.conn_mut()?;
        let mut filled = 0;
        while filled < buf.len() {
            let avail = conn.buffered_stdin();
            if avail.is_empty() {
                // Pull one more piece through the normal path (handles record
                // boundaries, management records and waiting).
                let n = conn.read_stdin(&mut buf[filled..filled + 1], &limits)?;
                if n == 0 {
                    break;
                }
                filled += 1;
                if buf[filled - 1] == b'\n' {
                    break;
                }
                continue;
            }
            let room = buf.len() - filled;
            let take = avail.len().min(room);
            let (n, done) = match memchr::memchr(b'\n', &avail[..take]) {
                Some(i) => (i + 1, true),
                None => (take, false),
            };
            buf[filled..filled + n].copy_from_slice(&avail[..n]);
            conn.consume_stdin(n);
            filled += n;
            if done {
                break;
            }
        }
        Ok(filled)
    }

    fn append(&mut self, kind: u8, mut data: &[u8]) -> Result<()> {
        if self.conn()?.dead {
            return Err(Error::new(
                SMISK_ERR_ABORTED,
                "the web server closed the connection",
            ));
        }
        if self.conn()?.asm.aborted {
            return Err(Error::new(
                SMISK_ERR_ABORTED,
                "the request was aborted by the web server",
            ));
        }
        if self.conn()?.asm.protocol == Protocol::Scgi {
            return self.append_scgi(kind, data);
        }
        let id = self.id();
        while !data.is_empty() {
            let (at, used) = match self.open {
                Some((at, k)) if k == kind => (at, self.out.len() - at - rec::HEADER_LEN),
                _ => {
                    let at = self.out.len();
                    rec::put_header(&mut self.out, kind, id, 0);
                    self.open = Some((at, kind));
                    (at, 0)
                }
            };
            let take = (rec::MAX_CONTENT - used).min(data.len());
            self.out.extend_from_slice(&data[..take]);
            rec::patch_content_len(&mut self.out, at, used + take);
            if used + take == rec::MAX_CONTENT {
                self.open = None;
            }
            data = &data[take..];
            if self.out.len() >= OUT_FLUSH_AT {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// SCGI has one stream back to the web server: STDOUT goes out as it is;
    /// STDERR (the web server's error log under FastCGI) goes to this
    /// process's standard error.
    fn append_scgi(&mut self, kind: u8, data: &[u8]) -> Result<()> {
        if kind == rec::STDERR {
            crate::log::write_stderr(data);
            return Ok(());
        }
        self.out.extend_from_slice(data);
        if self.out.len() >= OUT_FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes raw bytes to STDOUT (bypasses the header list).
    pub fn write_stdout(&mut self, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.wrote_stdout = true;
        self.append(rec::STDOUT, data)
    }

    /// Writes bytes to STDERR (the web server's error log).
    pub fn write_stderr(&mut self, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.wrote_stderr = true;
        self.append(rec::STDERR, data)
    }

    /// Sends buffered output now.
    pub fn flush(&mut self) -> Result<()> {
        let timeout = self.limits.write_timeout_ms;
        let conn = match &mut self.conn {
            Some(c) if !self.finished => c,
            _ => return Err(Error::state("the request has finished")),
        };
        let fd = conn.raw_fd();
        let mut result = Ok(());
        if !conn.asm.pending.is_empty() {
            result = send_all(fd, &conn.asm.pending, timeout);
            conn.asm.pending.clear();
        }
        if result.is_ok() && !self.out.is_empty() {
            result = send_all(fd, &self.out, timeout);
        }
        self.out.clear();
        self.open = None;
        if result.is_err() {
            conn.dead = true;
        }
        result
    }

    /// Appends a response header line ("Name: value", without CRLF) after
    /// validating it. Not allowed once the response has begun.
    pub fn add_header(&mut self, line: &[u8]) -> Result<()> {
        self.check_headers_open()?;
        self.headers.push_checked(line)
    }

    fn check_headers_open(&self) -> Result<()> {
        self.conn()?;
        if self.began {
            return Err(Error::state(
                "output has already begun; headers can no longer change",
            ));
        }
        Ok(())
    }

    /// Drops the header lines added so far (before `begin`).
    pub fn clear_headers(&mut self) -> Result<()> {
        self.check_headers_open()?;
        self.headers.clear();
        Ok(())
    }

    /// The header list as a list the application edits: lines are stored
    /// as given and validated by `begin`. Edits after `begin` are kept but
    /// change nothing that is sent (the block is out).
    pub fn header_lines_mut(&mut self) -> Result<&mut Lines> {
        self.conn()?;
        Ok(&mut self.headers)
    }

    /// Appends a line to the header list as given (validated by `begin`).
    pub fn push_header(&mut self, line: &[u8]) -> Result<()> {
        self.header_lines_mut()?.push(line);
        Ok(())
    }

    /// The header lines set so far (also after `begin`).
    pub fn header_lines(&self) -> Result<&Lines> {
        self.conn()?;
        Ok(&self.headers)
    }

    /// Sends the header block: the header lines, then one blank line.
    pub fn begin(&mut self) -> Result<()> {
        self.begin_with(None)
    }

    /// Sends the header block with `first` (a line smisk made, such as the
    /// session cookie) before the header lines. Every line is validated
    /// first; an invalid one is an error and nothing is sent.
    pub fn begin_with(&mut self, first: Option<&[u8]>) -> Result<()> {
        self.conn()?;
        if self.began {
            return Err(Error::state("output has already begun"));
        }
        // The block goes straight into the output buffer: the lines are
        // checked first, so an invalid one leaves nothing written.
        let mut headers = std::mem::take(&mut self.headers);
        let mut began = false;
        let result = headers.emit_block(first, |piece| {
            began = true;
            self.write_stdout(piece)
        });
        self.headers = headers;
        self.began |= began;
        if result.is_ok() {
            self.began = true;
        }
        result
    }

    /// True once `begin` ran.
    pub fn has_begun(&self) -> bool {
        self.began
    }

    /// Writes response body bytes, sending the header block first if needed.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            self.conn()?;
            return Ok(());
        }
        if !self.began {
            self.begin()?;
        }
        self.write_stdout(data)
    }

    /// Ends the request: sends the end of the streams and END_REQUEST with
    /// `app_status`. A response nobody wrote gets an empty header block (so the
    /// web server answers 200 with an empty body). Idempotent; the connection
    /// goes back to the server at the next `accept`.
    pub fn finish(&mut self, app_status: u32) -> Result<()> {
        if self.finished || self.conn.is_none() {
            return Ok(());
        }
        let mut result = Ok(());
        let id = self.id();
        let (dead, aborted, scgi) = {
            let c = self.conn.as_ref().expect("checked above");
            (c.dead, c.asm.aborted, c.asm.protocol == Protocol::Scgi)
        };
        if !dead && scgi {
            // No end records: closing the connection ends the answer.
            if !self.began && !self.wrote_stdout {
                result = self.begin();
            }
            let flushed = self.flush();
            if result.is_ok() {
                result = flushed;
            }
        } else if !dead {
            if aborted {
                // The web server no longer wants the response: only END_REQUEST.
                self.out.clear();
            } else {
                if !self.began && !self.wrote_stdout {
                    result = self.begin();
                    if result.is_err() && !self.began {
                        // A header line nobody validated before the end:
                        // answer 500 rather than no header block at all.
                        self.headers.clear();
                        let _ = self.add_header(b"Status: 500 Internal Server Error");
                        let _ = self.begin();
                    }
                }
                rec::put_stream(&mut self.out, rec::STDOUT, id, b"");
                if self.wrote_stderr {
                    rec::put_stream(&mut self.out, rec::STDERR, id, b"");
                }
            }
            self.open = None;
            rec::put_end_request(&mut self.out, id, app_status, rec::REQUEST_COMPLETE);
            let kept = self.conn.as_ref().is_some_and(|c| c.asm.keep_conn);
            if kept && !self.may_keep {
                if self.releases_safely() {
                    // Released although keep-conn was asked (see
                    // `balance`): bytes after END_REQUEST in the same write
                    // make nginx finish the request without caching the
                    // connection, so it never sends a request into it as it
                    // closes. An empty GET_VALUES_RESULT (a management
                    // record, request id 0) asks nothing of a web server.
                    rec::put_header(
                        &mut self.out,
                        rec::GET_VALUES_RESULT,
                        rec::NULL_REQUEST_ID,
                        0,
                    );
                } else {
                    // Any close could cross the web server's next request.
                    self.may_keep = true;
                }
            }
            let flushed = self.flush();
            if result.is_ok() {
                result = flushed;
            }
        }
        if let Some(c) = self.conn.as_mut() {
            // Kept, closed now (the web server sees the end at once), or
            // lingering until the rest of the request is read (the server
            // watches it from the next accept).
            c.after_answer(&self.limits, self.may_keep);
        }
        self.finished = true;
        self.after_finish.clear();
        result
    }

    /// Whether the web server of this request can be given its connection
    /// back without a request lost: nginx (its `fastcgi_params` send
    /// `SERVER_SOFTWARE nginx/...`) drops an upstream connection on which
    /// bytes follow END_REQUEST. Apache's mod_proxy_fcgi reuses a pooled
    /// connection with bytes waiting on it (it reads them as the next
    /// answer's and fails that request), and a plain close races its next
    /// request: other web servers keep their connections.
    fn releases_safely(&self) -> bool {
        self.param(b"SERVER_SOFTWARE")
            .is_some_and(|v| v.starts_with(b"nginx/"))
    }

    /// Keeps `value` until the answer is complete and drops it then (the one
    /// place a request is finished decides when). Dropped at once when the
    /// request is no longer active.
    pub fn drop_after_finish(&mut self, value: Box<dyn Any + Send>) {
        if self.is_active() {
            self.after_finish.push(value);
        }
    }

    /// Takes the connection back (server side, after `finish`).
    pub(crate) fn take_conn(&mut self) -> Option<(Box<Conn>, usize)> {
        self.finished = true;
        self.conn.take().map(|c| (c, self.slot))
    }
}

/// Request bodies for the form parser come straight from STDIN.
impl crate::form::BodySource for Request {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.read_some(buf)
    }
}
