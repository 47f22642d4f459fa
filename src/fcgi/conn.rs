//! One connection from the web server: its input buffer, the record state
//! machine that assembles a request (BEGIN_REQUEST + PARAMS), and the
//! streaming of STDIN to the application once the request is served.
//!
//! Guarantees: at most one request per connection (FCGI_MPXS_CONNS=0; a
//! second BEGIN_REQUEST gets CANT_MPX_CONN); a record body is buffered only
//! when it is a small control record (at most 64 KiB + 255 by the protocol);
//! PARAMS are capped by `Limits::max_params_bytes` *before* their bytes are
//! read; STDIN is streamed, never accumulated; records for other request ids
//! are skipped without buffering. Hostile input ends in an answer (400/431)
//! where one is possible, else the connection is closed.

use super::io::{read_nb, send_all, wait_fd, ReadOutcome};
use super::limits::{now_ms, Limits};
use super::record::{self as rec, Header, PairSpan};
use crate::status::{Error, Result, SMISK_ERR_ABORTED, SMISK_ERR_PROTOCOL};
use std::os::unix::io::{AsRawFd, OwnedFd, RawFd};

/// Initial input buffer: a typical request (params of ~1 KiB) fits; bodies
/// bypass it (direct reads) and rare large records grow it.
const RBUF_INITIAL: usize = 4 * 1024;
/// Largest record: header + 65535 content + 255 padding.
const RBUF_MAX: usize = rec::HEADER_LEN + rec::MAX_CONTENT + 255;
/// Direct reads into the caller's buffer pay off above this size.
const DIRECT_READ_MIN: usize = 4096;
/// Replies queued for a peer that does not read are capped; past this the
/// peer is considered hostile and dropped.
const PENDING_MAX: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Between requests (keep-conn) or freshly accepted.
    Idle,
    /// BEGIN_REQUEST seen, collecting PARAMS.
    Params,
    /// PARAMS complete; queued for the application.
    Ready,
    /// Owned by the request being served.
    Active,
    /// Response sent on a non-keep-conn TCP connection with unread input:
    /// write side shut down, discarding input until EOF so the kernel does
    /// not reset the connection before the web server read the response.
    Draining,
}

/// What `pump` found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pump {
    NeedMore,
    Ready,
    Close,
}

pub(crate) struct Conn {
    /// None once closed (the object is then kept only for its buffers).
    fd: Option<OwnedFd>,
    pub tcp: bool,
    rbuf: Box<[u8]>,
    rpos: usize,
    rlen: usize,
    pub phase: Phase,
    /// Monotonic ms after which an idle or stalled connection is closed.
    pub deadline: u64,
    pub registered: bool,
    /// The socket may hold bytes we stopped reading before EAGAIN (with
    /// edge-triggered epoll no further event comes for them).
    pub maybe_more: bool,
    pub req_id: u16,
    pub keep_conn: bool,
    pub params: Vec<u8>,
    pub spans: Vec<PairSpan>,
    stdin_left: usize,
    pad_left: usize,
    pub stdin_eof: bool,
    /// Body bytes of a record to discard before the next header.
    skip_left: usize,
    /// FCGI_ABORT_REQUEST received for the active request.
    pub aborted: bool,
    /// The peer hung up or broke the protocol: close after the request.
    pub dead: bool,
    /// Records to send that are not part of a response stream (management
    /// replies, END_REQUEST for refused requests, error answers).
    pub pending: Vec<u8>,
    /// Close once `pending` is sent.
    pub close_after_pending: bool,
}

impl Conn {
    pub fn new(fd: OwnedFd, tcp: bool) -> Conn {
        Conn {
            fd: Some(fd),
            tcp,
            rbuf: vec![0u8; RBUF_INITIAL].into_boxed_slice(),
            rpos: 0,
            rlen: 0,
            phase: Phase::Idle,
            deadline: 0,
            registered: false,
            maybe_more: true,
            req_id: 0,
            keep_conn: false,
            params: Vec::new(),
            spans: Vec::new(),
            stdin_left: 0,
            pad_left: 0,
            stdin_eof: false,
            skip_left: 0,
            aborted: false,
            dead: false,
            pending: Vec::new(),
            close_after_pending: false,
        }
    }

    /// Reuses a pooled connection object for a new socket (keeps buffers).
    pub fn reset(&mut self, fd: OwnedFd, tcp: bool) {
        self.fd = Some(fd);
        self.tcp = tcp;
        self.rpos = 0;
        self.rlen = 0;
        self.phase = Phase::Idle;
        self.registered = false;
        self.maybe_more = true;
        self.skip_left = 0;
        self.dead = false;
        self.pending.clear();
        self.close_after_pending = false;
        self.start_idle();
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_ref().map_or(-1, |fd| fd.as_raw_fd())
    }

    /// Closes the socket (which also removes it from any epoll set).
    pub fn close_fd(&mut self) {
        self.fd = None;
    }

    fn start_idle(&mut self) {
        self.req_id = 0;
        self.stdin_left = 0;
        self.pad_left = 0;
        self.stdin_eof = false;
        self.aborted = false;
    }

    /// Unconsumed input bytes.
    pub fn buffered(&self) -> usize {
        self.rlen - self.rpos
    }

    /// Makes room for at least `want` bytes of input at the end of the buffer
    /// (compacting first, growing up to one maximal record).
    fn make_room(&mut self, want: usize) {
        if self.rpos == self.rlen {
            self.rpos = 0;
            self.rlen = 0;
        }
        if self.rbuf.len() - self.rlen >= want {
            return;
        }
        if self.rpos > 0 {
            self.rbuf.copy_within(self.rpos..self.rlen, 0);
            self.rlen -= self.rpos;
            self.rpos = 0;
        }
        if self.rbuf.len() - self.rlen < want && self.rbuf.len() < RBUF_MAX {
            let size = (self.rlen + want).clamp(self.rbuf.len() * 2, RBUF_MAX);
            let mut bigger = vec![0u8; size].into_boxed_slice();
            bigger[..self.rlen].copy_from_slice(&self.rbuf[..self.rlen]);
            self.rbuf = bigger;
        }
    }

    /// One non-blocking read into the buffer.
    pub fn fill_nb(&mut self) -> Result<ReadOutcome> {
        self.make_room(rec::HEADER_LEN);
        let space = self.rbuf.len() - self.rlen;
        if space == 0 {
            self.maybe_more = true;
            return Ok(ReadOutcome::WouldBlock);
        }
        let out = read_nb(self.raw_fd(), &mut self.rbuf[self.rlen..])?;
        match out {
            ReadOutcome::Data(n) => {
                self.rlen += n;
                self.maybe_more = n == space;
            }
            ReadOutcome::WouldBlock => self.maybe_more = false,
            ReadOutcome::Eof => self.maybe_more = false,
        }
        Ok(out)
    }

    /// Turns the outcome of a read into its byte count, or waits (up to the
    /// read timeout) for the caller's next try (`None`). A hang-up or a
    /// timeout marks the connection dead.
    fn settle(&mut self, outcome: ReadOutcome, limits: &Limits) -> Result<Option<usize>> {
        match outcome {
            ReadOutcome::Data(n) => Ok(Some(n)),
            ReadOutcome::Eof => {
                self.dead = true;
                Err(Error::new(
                    SMISK_ERR_ABORTED,
                    "the web server closed the connection",
                ))
            }
            ReadOutcome::WouldBlock => {
                match wait_fd(self.raw_fd(), libc::POLLIN, limits.read_timeout_ms) {
                    Ok(()) => Ok(None),
                    Err(e) => {
                        self.dead = true;
                        Err(e)
                    }
                }
            }
        }
    }

    /// Reads at least one more byte, waiting up to the read timeout.
    fn fill_blocking(&mut self, limits: &Limits, want: usize) -> Result<()> {
        self.make_room(want);
        loop {
            let outcome = self.fill_nb()?;
            if self.settle(outcome, limits)?.is_some() {
                return Ok(());
            }
        }
    }

    /// Queues the records of a complete plain-text answer with an HTTP status
    /// (used when a request is refused before the application sees it).
    fn answer(&mut self, id: u16, status: &str, body: &str) {
        let text = format!("Status: {status}\r\nContent-Type: text/plain\r\n\r\n{body}\n");
        rec::put_stream(&mut self.pending, rec::STDOUT, id, text.as_bytes());
        rec::put_stream(&mut self.pending, rec::STDOUT, id, b"");
        rec::put_end_request(&mut self.pending, id, 0, rec::REQUEST_COMPLETE);
    }

    fn answer_get_values(&mut self, content_at: usize, content_len: usize, limits: &Limits) {
        let mut spans = Vec::new();
        let content = &self.rbuf[content_at..content_at + content_len];
        // A malformed query is answered with what could be parsed.
        let _ = rec::parse_pairs(content, 64, &mut spans);
        let mut body = Vec::new();
        let conns = limits.max_conns.to_string();
        for s in &spans {
            let name = &content[s.name_at as usize..][..s.name_len as usize];
            let value: &[u8] = match name {
                b"FCGI_MAX_CONNS" | b"FCGI_MAX_REQS" => conns.as_bytes(),
                b"FCGI_MPXS_CONNS" => b"0",
                _ => continue,
            };
            rec::put_pair(&mut body, name, value);
        }
        rec::put_header(
            &mut self.pending,
            rec::GET_VALUES_RESULT,
            rec::NULL_REQUEST_ID,
            body.len(),
        );
        self.pending.extend_from_slice(&body);
    }

    /// Handles a complete record that is not part of the active request's
    /// streams: management records and BEGIN_REQUEST while busy.
    fn handle_foreign(&mut self, h: &Header, content_at: usize, limits: &Limits) {
        if h.request_id == rec::NULL_REQUEST_ID {
            if h.kind == rec::GET_VALUES {
                self.answer_get_values(content_at, usize::from(h.content_len), limits);
            } else {
                rec::put_unknown_type(&mut self.pending, h.kind);
            }
        } else if h.kind == rec::BEGIN_REQUEST {
            rec::put_end_request(&mut self.pending, h.request_id, 0, rec::CANT_MPX_CONN);
        }
        // Anything else for an id that is not ours (stale STDIN of a finished
        // request, responder-to-server types) is skipped.
    }

    /// Assembles a request from buffered records (phases Idle and Params).
    pub fn pump(&mut self, limits: &Limits) -> Pump {
        loop {
            if self.skip_left > 0 {
                let n = self.skip_left.min(self.buffered());
                self.rpos += n;
                self.skip_left -= n;
                if self.skip_left > 0 {
                    return Pump::NeedMore;
                }
            }
            let h = match Header::parse(&self.rbuf[self.rpos..self.rlen]) {
                Ok(Some(h)) => h,
                Ok(None) => return Pump::NeedMore,
                Err(_) => return Pump::Close,
            };
            let ours = self.phase == Phase::Params && h.request_id == self.req_id;
            let content_len = usize::from(h.content_len);
            // Decisions taken from the header alone, before waiting for or
            // buffering the body the peer claims.
            if ours
                && h.kind == rec::PARAMS
                && self.params.len() + content_len > limits.max_params_bytes
            {
                self.answer(
                    h.request_id,
                    "431 Request Header Fields Too Large",
                    "FastCGI params exceed the configured limit",
                );
                self.close_after_pending = true;
                return Pump::Close;
            }
            if ours && h.kind == rec::STDIN {
                self.answer(
                    h.request_id,
                    "400 Bad Request",
                    "FastCGI STDIN before the end of PARAMS",
                );
                self.close_after_pending = true;
                return Pump::Close;
            }
            let stream_kind = matches!(h.kind, rec::STDIN | rec::PARAMS | rec::DATA);
            if !ours && stream_kind && h.request_id != rec::NULL_REQUEST_ID {
                self.rpos += rec::HEADER_LEN;
                self.skip_left = h.body_len();
                continue;
            }
            if self.buffered() < h.record_len() {
                self.make_room(h.record_len());
                return Pump::NeedMore;
            }
            let content_at = self.rpos + rec::HEADER_LEN;
            self.rpos += h.record_len();
            match h.kind {
                rec::BEGIN_REQUEST if self.phase == Phase::Idle && h.request_id != 0 => {
                    let begin = match rec::BeginRequest::parse(
                        &self.rbuf[content_at..content_at + content_len],
                    ) {
                        Ok(b) => b,
                        Err(_) => return Pump::Close,
                    };
                    if begin.role != rec::ROLE_RESPONDER {
                        rec::put_end_request(&mut self.pending, h.request_id, 0, rec::UNKNOWN_ROLE);
                        if !begin.keep_conn() {
                            self.close_after_pending = true;
                            return Pump::Close;
                        }
                        continue;
                    }
                    self.start_idle();
                    self.phase = Phase::Params;
                    self.req_id = h.request_id;
                    self.keep_conn = begin.keep_conn();
                    self.params.clear();
                    self.spans.clear();
                    self.deadline = now_ms() + limits.read_timeout_ms;
                }
                rec::BEGIN_REQUEST if ours => return Pump::Close,
                rec::PARAMS if ours => {
                    if content_len > 0 {
                        self.params
                            .extend_from_slice(&self.rbuf[content_at..content_at + content_len]);
                        continue;
                    }
                    self.spans.clear();
                    match rec::parse_pairs(&self.params, limits.max_params, &mut self.spans) {
                        Ok(()) => {
                            self.phase = Phase::Ready;
                            return Pump::Ready;
                        }
                        Err(e) => {
                            let status = if e.status == SMISK_ERR_PROTOCOL {
                                "400 Bad Request"
                            } else {
                                "431 Request Header Fields Too Large"
                            };
                            self.answer(h.request_id, status, &e.message);
                            self.close_after_pending = true;
                            return Pump::Close;
                        }
                    }
                }
                rec::ABORT_REQUEST if ours => {
                    rec::put_end_request(&mut self.pending, h.request_id, 0, rec::REQUEST_COMPLETE);
                    self.phase = Phase::Idle;
                    if !self.keep_conn {
                        self.close_after_pending = true;
                        return Pump::Close;
                    }
                    self.start_idle();
                }
                _ => self.handle_foreign(&h, content_at, limits),
            }
            if self.pending.len() > PENDING_MAX {
                return Pump::Close;
            }
        }
    }

    /// Reads request body bytes (phase Active). Returns 0 at the end of the
    /// body. Management records met on the way are answered; an abort or a
    /// hang-up ends the body with `SMISK_ERR_ABORTED`.
    pub fn read_stdin(&mut self, buf: &mut [u8], limits: &Limits) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.aborted || self.dead {
                return Err(Error::new(
                    SMISK_ERR_ABORTED,
                    "the request was aborted by the web server",
                ));
            }
            if self.stdin_left > 0 {
                let avail = self.buffered();
                if avail > 0 {
                    let n = avail.min(self.stdin_left).min(buf.len());
                    buf[..n].copy_from_slice(&self.rbuf[self.rpos..self.rpos + n]);
                    self.rpos += n;
                    self.stdin_left -= n;
                    return Ok(n);
                }
                if buf.len() >= DIRECT_READ_MIN {
                    // Large reads skip the connection buffer: one copy, kernel
                    // to caller.
                    let want = buf.len().min(self.stdin_left);
                    loop {
                        let outcome = read_nb(self.raw_fd(), &mut buf[..want])?;
                        if let Some(n) = self.settle(outcome, limits)? {
                            self.stdin_left -= n;
                            self.maybe_more = n == want;
                            return Ok(n);
                        }
                    }
                }
                self.fill_blocking(limits, 1)?;
                continue;
            }
            if self.pad_left > 0 {
                let n = self.pad_left.min(self.buffered());
                self.rpos += n;
                self.pad_left -= n;
                if self.pad_left > 0 {
                    self.fill_blocking(limits, 1)?;
                }
                continue;
            }
            if self.stdin_eof {
                return Ok(0);
            }
            if self.skip_left > 0 {
                let n = self.skip_left.min(self.buffered());
                self.rpos += n;
                self.skip_left -= n;
                if self.skip_left > 0 {
                    self.fill_blocking(limits, 1)?;
                }
                continue;
            }
            let h = match Header::parse(&self.rbuf[self.rpos..self.rlen]) {
                Ok(Some(h)) => h,
                Ok(None) => {
                    self.fill_blocking(limits, rec::HEADER_LEN)?;
                    continue;
                }
                Err(e) => {
                    self.dead = true;
                    return Err(e);
                }
            };
            let ours = h.request_id == self.req_id;
            if ours && h.kind == rec::STDIN {
                self.rpos += rec::HEADER_LEN;
                self.stdin_left = usize::from(h.content_len);
                self.pad_left = usize::from(h.padding_len);
                if h.content_len == 0 {
                    self.stdin_eof = true;
                }
                continue;
            }
            if ours && h.kind == rec::ABORT_REQUEST {
                self.rpos += rec::HEADER_LEN;
                self.skip_left = h.body_len();
                self.aborted = true;
                continue;
            }
            let stream_kind = matches!(h.kind, rec::STDIN | rec::PARAMS | rec::DATA);
            if stream_kind && h.request_id != rec::NULL_REQUEST_ID {
                self.rpos += rec::HEADER_LEN;
                self.skip_left = h.body_len();
                continue;
            }
            if self.buffered() < h.record_len() {
                self.fill_blocking(limits, h.record_len())?;
                continue;
            }
            let content_at = self.rpos + rec::HEADER_LEN;
            self.rpos += h.record_len();
            if ours && h.kind == rec::BEGIN_REQUEST {
                self.dead = true;
                return Err(Error::protocol(
                    "second BEGIN_REQUEST with the active request id",
                ));
            }
            self.handle_foreign(&h, content_at, limits);
            // The application may wait here for more body bytes: answer now
            // rather than when the response is flushed.
            if !self.pending.is_empty() {
                let sent = send_all(self.raw_fd(), &self.pending, limits.write_timeout_ms);
                self.pending.clear();
                if let Err(e) = sent {
                    self.dead = true;
                    return Err(e);
                }
            }
        }
    }

    /// The bytes `read_stdin` can return without touching the socket (the
    /// remainder of the current STDIN record that is already buffered).
    pub fn buffered_stdin(&self) -> &[u8] {
        let n = self.stdin_left.min(self.buffered());
        &self.rbuf[self.rpos..self.rpos + n]
    }

    /// Consumes `n` bytes of `buffered_stdin()`.
    pub fn consume_stdin(&mut self, n: usize) {
        debug_assert!(n <= self.stdin_left.min(self.buffered()));
        self.rpos += n;
        self.stdin_left -= n;
    }

    /// After the application finished: the rest of the request's records are
    /// skipped (keep-conn) so the next BEGIN_REQUEST is found.
    pub fn end_request(&mut self) {
        self.skip_left += self.stdin_left + self.pad_left;
        self.start_idle();
        self.phase = Phase::Idle;
    }

    /// True when every byte the peer sent for the request was consumed and
    /// nothing else is buffered (closing then cannot lose unread input).
    pub fn input_settled(&self) -> bool {
        self.stdin_eof && self.stdin_left == 0 && self.pad_left == 0 && self.buffered() == 0
    }

    /// Discards buffered and readable input (phase Draining). Returns true at
    /// EOF.
    pub fn drain(&mut self) -> bool {
        self.rpos = 0;
        self.rlen = 0;
        for _ in 0..64 {
            match read_nb(self.raw_fd(), &mut self.rbuf) {
                Ok(ReadOutcome::Data(_)) => continue,
                Ok(ReadOutcome::WouldBlock) => return false,
                Ok(ReadOutcome::Eof) | Err(_) => return true,
            }
        }
        false
    }

    #[cfg(test)]
    pub fn push_input(&mut self, bytes: &[u8]) {
        self.make_room(bytes.len());
        self.rbuf[self.rlen..self.rlen + bytes.len()].copy_from_slice(bytes);
        self.rlen += bytes.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::io::FromRawFd;

    fn conn() -> (Conn, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: fds is a valid 2-element array.
        assert_eq!(
            unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) },
            0
        );
        // SAFETY: both fds are new and owned here.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        (Conn::new(a, false), b)
    }

    fn begin(id: u16, role: u16, keep: bool) -> Vec<u8> {
        let mut v = Vec::new();
        rec::put_header(&mut v, rec::BEGIN_REQUEST, id, 8);
        let r = role.to_be_bytes();
        v.extend_from_slice(&[r[0], r[1], keep as u8, 0, 0, 0, 0, 0]);
        v
    }

    fn params(id: u16, pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (n, v) in pairs {
            rec::put_pair(&mut body, n, v);
        }
        let mut out = Vec::new();
        rec::put_stream(&mut out, rec::PARAMS, id, &body);
        rec::put_stream(&mut out, rec::PARAMS, id, b"");
        out
    }

    fn end_request_status(pending: &[u8]) -> Option<(u16, u8)> {
        let mut at = 0;
        while let Ok(Some(h)) = Header::parse(&pending[at..]) {
            if h.kind == rec::END_REQUEST {
                return Some((h.request_id, pending[at + 12]));
            }
            at += h.record_len();
        }
        None
    }

    #[test]
    fn assembles_a_request_fed_one_byte_at_a_time() {
        let limits = Limits::default();
        let (mut c, _peer) = conn();
        let mut input = begin(1, rec::ROLE_RESPONDER, true);
        input.extend(params(
            1,
            &[(b"REQUEST_METHOD", b"GET"), (b"QUERY_STRING", b"a=1")],
        ));
        for (i, b) in input.iter().enumerate() {
            c.push_input(&[*b]);
            let p = c.pump(&limits);
            if i + 1 < input.len() {
                assert_eq!(p, Pump::NeedMore, "at byte {i}");
            } else {
                assert_eq!(p, Pump::Ready);
            }
        }
        assert_eq!(c.req_id, 1);
        assert!(c.keep_conn);
        assert_eq!(c.spans.len(), 2);
    }

    #[test]
    fn params_over_the_limit_get_431_before_the_body_arrives() {
        let limits = Limits {
            max_params_bytes: 100,
            ..Limits::default()
        };
        let (mut c, _peer) = conn();
        c.push_input(&begin(1, rec::ROLE_RESPONDER, false));
        let mut big = Vec::new();
        rec::put_header(&mut big, rec::PARAMS, 1, 200);
        c.push_input(&big); // header only: the 200 bytes never need to arrive
        assert_eq!(c.pump(&limits), Pump::Close);
        assert!(c.close_after_pending);
        assert!(String::from_utf8_lossy(&c.pending).contains("Status: 431"));
        assert_eq!(
            end_request_status(&c.pending),
            Some((1, rec::REQUEST_COMPLETE))
        );
    }

    #[test]
    fn hostile_name_length_gets_400() {
        let limits = Limits::default();
        let (mut c, _peer) = conn();
        c.push_input(&begin(1, rec::ROLE_RESPONDER, false));
        let mut p = Vec::new();
        rec::put_stream(
            &mut p,
            rec::PARAMS,
            1,
            &[0xff, 0xff, 0xff, 0xff, 1, b'a', b'b'],
        );
        rec::put_stream(&mut p, rec::PARAMS, 1, b"");
        c.push_input(&p);
        assert_eq!(c.pump(&limits), Pump::Close);
        assert!(String::from_utf8_lossy(&c.pending).contains("Status: 400"));
    }

    #[test]
    fn unknown_role_and_management_records() {
        let limits = Limits::default();
        let (mut c, _peer) = conn();
        c.push_input(&begin(3, rec::ROLE_AUTHORIZER, true));
        let mut gv = Vec::new();
        let mut body = Vec::new();
        rec::put_pair(&mut body, b"FCGI_MPXS_CONNS", b"");
        rec::put_pair(&mut body, b"FCGI_MAX_CONNS", b"");
        rec::put_pair(&mut body, b"BOGUS", b"");
        rec::put_header(&mut gv, rec::GET_VALUES, 0, body.len());
        gv.extend_from_slice(&body);
        rec::put_header(&mut gv, 42, 0, 0);
        c.push_input(&gv);
        assert_eq!(c.pump(&limits), Pump::NeedMore);
        assert_eq!(end_request_status(&c.pending), Some((3, rec::UNKNOWN_ROLE)));
        let text = String::from_utf8_lossy(&c.pending).into_owned();
        assert!(text.contains("FCGI_MPXS_CONNS0"));
        assert!(text.contains("FCGI_MAX_CONNS1024"));
        assert!(!text.contains("BOGUS"));
        let tail = &c.pending[c.pending.len() - 16..];
        assert_eq!(tail[1], rec::UNKNOWN_TYPE);
        assert_eq!(tail[8], 42);
    }

    #[test]
    fn second_begin_while_busy_gets_cant_mpx() {
        let limits = Limits::default();
        let (mut c, _peer) = conn();
        c.push_input(&begin(1, rec::ROLE_RESPONDER, true));
        c.push_input(&begin(2, rec::ROLE_RESPONDER, true));
        assert_eq!(c.pump(&limits), Pump::NeedMore);
        assert_eq!(
            end_request_status(&c.pending),
            Some((2, rec::CANT_MPX_CONN))
        );
        c.push_input(&params(1, &[(b"A", b"1")]));
        assert_eq!(c.pump(&limits), Pump::Ready);
        assert_eq!(c.req_id, 1);
    }

    #[test]
    fn bad_version_closes() {
        let limits = Limits::default();
        let (mut c, _peer) = conn();
        c.push_input(&[9, 1, 0, 1, 0, 8, 0, 0]);
        assert_eq!(c.pump(&limits), Pump::Close);
    }

    #[test]
    fn stdin_streams_across_records_and_stale_records_are_skipped() {
        let limits = Limits::default();
        let (mut c, _peer) = conn();
        c.push_input(&begin(1, rec::ROLE_RESPONDER, true));
        c.push_input(&params(1, &[(b"A", b"1")]));
        let mut body = Vec::new();
        rec::put_stream(&mut body, rec::STDIN, 9, b"not ours"); // other id: skipped
        rec::put_stream(&mut body, rec::STDIN, 1, b"hello ");
        rec::put_stream(&mut body, rec::STDIN, 1, b"world");
        rec::put_stream(&mut body, rec::STDIN, 1, b"");
        c.push_input(&body);
        assert_eq!(c.pump(&limits), Pump::Ready);
        c.phase = Phase::Active;
        let mut out = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = c.read_stdin(&mut buf, &limits).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, b"hello world");
        assert!(c.input_settled());
    }

    #[test]
    fn abort_mid_body_ends_reads() {
        let limits = Limits::default();
        let (mut c, _peer) = conn();
        c.push_input(&begin(1, rec::ROLE_RESPONDER, true));
        c.push_input(&params(1, &[]));
        let mut body = Vec::new();
        rec::put_stream(&mut body, rec::STDIN, 1, b"part");
        rec::put_header(&mut body, rec::ABORT_REQUEST, 1, 0);
        c.push_input(&body);
        assert_eq!(c.pump(&limits), Pump::Ready);
        c.phase = Phase::Active;
        let mut buf = [0u8; 16];
        assert_eq!(c.read_stdin(&mut buf, &limits).unwrap(), 4);
        let err = c.read_stdin(&mut buf, &limits).unwrap_err();
        assert_eq!(err.status, SMISK_ERR_ABORTED);
        assert!(c.aborted);
    }
}
