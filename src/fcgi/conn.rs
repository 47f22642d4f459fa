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
/// Input discarded while lingering is read in pieces of this size, straight
/// into a scratch buffer (not the connection's): a 50 MiB body costs ~800
/// reads and no copy.
const DISCARD_CHUNK: usize = 64 * 1024;
/// Reads per `discard_owed_input` call: a lingering connection with a large
/// body is served in slices (about 1 MiB each), level-triggered, between
/// the requests of the other connections.
const DISCARD_READS_PER_CALL: usize = 16;

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
    /// The last answer is sent and the connection is closing, but the web
    /// server has not finished sending the request (an unread body, or just
    /// the record that ends it). Closing now would make its writes fail
    /// (EPIPE on a unix socket, a reset on TCP) and it would throw the answer
    /// away (nginx: 502, or a cut-off body). So the write side is shut down
    /// and the rest of the input is read and discarded until the request's
    /// STDIN ends, the peer hangs up, or a linger limit is reached
    /// (`Limits::linger_timeout_ms`, `Limits::linger_max_bytes`).
    Lingering,
}

/// What `discard_owed_input` found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Discard {
    /// Nothing more is owed (or the peer hung up, or a limit was reached):
    /// close now.
    Done,
    /// The socket has no more bytes yet; call again when it is readable.
    Pending,
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
    /// The request whose STDIN stream the peer has not finished sending
    /// (0: none). Set at BEGIN_REQUEST, cleared when the empty STDIN record
    /// that ends it is consumed, whether the application read it, the
    /// keep-conn path skipped it, or lingering discarded it. A connection
    /// may be closed at once only when this is 0.
    owed_stdin: u16,
    /// The input could not be framed as records: lingering discards
    /// everything until the peer hangs up.
    unframed: bool,
    /// Bytes read and discarded since the connection started lingering.
    discarded: u64,
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
    pub fn new(fd: OwnedFd) -> Conn {
        Conn {
            fd: Some(fd),
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
            owed_stdin: 0,
            unframed: false,
            discarded: 0,
            aborted: false,
            dead: false,
            pending: Vec::new(),
            close_after_pending: false,
        }
    }

    /// Reuses a pooled connection object for a new socket (keeps buffers).
    pub fn reset(&mut self, fd: OwnedFd) {
        self.fd = Some(fd);
        self.rpos = 0;
        self.rlen = 0;
        self.phase = Phase::Idle;
        self.registered = false;
        self.maybe_more = true;
        self.skip_left = 0;
        self.owed_stdin = 0;
        self.unframed = false;
        self.discarded = 0;
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
                // Typically the rest of a finished keep-conn request.
                self.note_skipped(&h);
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
                    // The peer sends this request's PARAMS and STDIN even
                    // when the role is refused.
                    self.owed_stdin = h.request_id;
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
                    // A web server that aborts sends nothing more for it.
                    self.owed_stdin = 0;
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
                    self.owed_stdin = 0;
                }
                continue;
            }
            if ours && h.kind == rec::ABORT_REQUEST {
                self.rpos += rec::HEADER_LEN;
                self.skip_left = h.body_len();
                self.aborted = true;
                self.owed_stdin = 0;
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

    /// A skipped record of another request: the empty STDIN record that
    /// ends the request still owed settles it.
    fn note_skipped(&mut self, h: &Header) {
        if h.kind == rec::STDIN && h.content_len == 0 && h.request_id == self.owed_stdin {
            self.owed_stdin = 0;
        }
    }

    /// Whether the peer may still be sending input for a request that was
    /// answered: closing now could make its writes fail before it read the
    /// answer.
    pub fn owes_input(&self) -> bool {
        !self.dead && (self.owed_stdin != 0 || self.unframed || self.skip_left > 0)
    }

    /// Decides how a connection ends once its last answer is queued or
    /// sent: closed now when the peer owes no more input (or hung up, or
    /// aborted), else half-closed and left lingering. The one place that
    /// decides close versus linger. Returns true when the connection is
    /// closed (`dead`); false when it is now `Phase::Lingering` and the
    /// server must watch it until `discard_owed_input` says `Done` or the
    /// deadline passes.
    pub fn close_after_answer(&mut self, limits: &Limits) -> bool {
        // The unread rest of the current STDIN record is discarded like
        // any skipped record body.
        self.skip_left += self.stdin_left + self.pad_left;
        self.stdin_left = 0;
        self.pad_left = 0;
        self.discarded = 0;
        if !self.aborted && self.owes_input() {
            // Most requests end here with their empty STDIN record already
            // buffered: it is consumed without a syscall.
            if self.discard_owed_input(limits) == Discard::Pending {
                // SAFETY: valid socket descriptor; the write side only.
                unsafe { libc::shutdown(self.raw_fd(), libc::SHUT_WR) };
                self.phase = Phase::Lingering;
                self.deadline = now_ms().saturating_add(limits.linger_timeout_ms);
                return false;
            }
        }
        self.close_fd();
        self.dead = true;
        true
    }

    /// Reads and discards what the peer still owes (phase Lingering),
    /// without blocking: record by record to the empty STDIN record that
    /// ends the answered request, or everything until EOF when the input
    /// could not be framed. Bounded per call (`DISCARD_READS_PER_CALL`) and
    /// in total (`Limits::linger_max_bytes`).
    pub fn discard_owed_input(&mut self, limits: &Limits) -> Discard {
        let mut sink = [0u8; DISCARD_CHUNK];
        for _ in 0..DISCARD_READS_PER_CALL {
            // Consume what is buffered: record bodies to skip, then headers.
            loop {
                if self.unframed {
                    self.rpos = self.rlen;
                    break;
                }
                let n = self.skip_left.min(self.buffered());
                self.rpos += n;
                self.skip_left -= n;
                if self.skip_left > 0 {
                    break;
                }
                if self.owed_stdin == 0 {
                    return Discard::Done;
                }
                match Header::parse(&self.rbuf[self.rpos..self.rlen]) {
                    Ok(Some(h)) => {
                        self.note_skipped(&h);
                        self.rpos += rec::HEADER_LEN;
                        self.skip_left = h.body_len();
                    }
                    Ok(None) => break,
                    Err(_) => self.unframed = true,
                }
            }
            if self.discarded >= limits.linger_max_bytes {
                return Discard::Done;
            }
            // Large record bodies bypass the connection buffer.
            let outcome = if self.skip_left >= DIRECT_READ_MIN || self.unframed {
                debug_assert_eq!(self.buffered(), 0);
                let want = if self.unframed {
                    DISCARD_CHUNK
                } else {
                    self.skip_left.min(DISCARD_CHUNK)
                };
                match read_nb(self.raw_fd(), &mut sink[..want]) {
                    Ok(ReadOutcome::Data(n)) => {
                        if !self.unframed {
                            self.skip_left -= n;
                        }
                        Ok(ReadOutcome::Data(n))
                    }
                    other => other,
                }
            } else {
                self.fill_nb()
            };
            match outcome {
                Ok(ReadOutcome::Data(n)) => self.discarded += n as u64,
                Ok(ReadOutcome::WouldBlock) => return Discard::Pending,
                Ok(ReadOutcome::Eof) | Err(_) => return Discard::Done,
            }
        }
        Discard::Pending
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
        // SAFETY: both fds are new and owned here; the server's own end is
        // non-blocking, as accepted connections are.
        let (a, b) = unsafe {
            libc::fcntl(fds[0], libc::F_SETFL, libc::O_NONBLOCK);
            (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
        };
        (Conn::new(a), b)
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
        assert!(!c.owes_input());
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

    /// A request without keep-conn whose body the application did not read.
    fn unread_post(c: &mut Conn, peer: &OwnedFd, body_sent: &[u8], limits: &Limits) {
        let mut input = begin(1, rec::ROLE_RESPONDER, false);
        input.extend(params(1, &[(b"REQUEST_METHOD", b"POST")]));
        input.extend_from_slice(body_sent);
        write_all(peer, &input);
        for _ in 0..1000 {
            if c.pump(limits) != Pump::NeedMore {
                break;
            }
            assert!(matches!(c.fill_nb(), Ok(ReadOutcome::Data(_))));
        }
        assert_eq!(c.phase, Phase::Ready);
        c.phase = Phase::Active;
    }

    fn write_all(fd: &OwnedFd, mut data: &[u8]) {
        while !data.is_empty() {
            // SAFETY: valid socket and buffer.
            let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
            assert!(n > 0, "{}", std::io::Error::last_os_error());
            data = &data[n as usize..];
        }
    }

    /// Bytes the peer can read before EOF (after the server shut its side).
    fn read_to_eof(fd: &OwnedFd) -> usize {
        let mut total = 0;
        let mut buf = [0u8; 4096];
        for _ in 0..10_000 {
            // SAFETY: valid socket and buffer.
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return total;
            }
            total += n as usize;
        }
        panic!("no EOF");
    }

    #[test]
    fn an_answered_get_closes_at_once() {
        let limits = Limits::default();
        let (mut c, peer) = conn();
        let mut stdin_end = Vec::new();
        rec::put_stream(&mut stdin_end, rec::STDIN, 1, b"");
        unread_post(&mut c, &peer, &stdin_end, &limits);
        assert!(c.owes_input(), "the empty STDIN record is still unread");
        assert!(c.close_after_answer(&limits));
        assert!(c.dead && c.raw_fd() < 0);
    }

    #[test]
    fn an_unread_body_lingers_until_its_stdin_ends() {
        let limits = Limits::default();
        let (mut c, peer) = conn();
        let mut first = Vec::new();
        rec::put_stream(&mut first, rec::STDIN, 1, &[b'a'; 10_000]);
        assert_eq!(first.len(), 8 + 10_000);
        unread_post(&mut c, &peer, &first[..first.len() - 8], &limits);
        assert!(!c.close_after_answer(&limits), "more input is owed");
        assert_eq!(c.phase, Phase::Lingering);
        // The write side is shut: the peer reads EOF at once.
        assert_eq!(read_to_eof(&peer), 0);
        // The rest arrives in pieces: big records, another request's
        // records (skipped), and padding; the last empty STDIN ends it.
        let mut rest = first[first.len() - 8..].to_vec();
        for _ in 0..4 {
            rec::put_stream(&mut rest, rec::STDIN, 1, &[b'b'; 50_000]);
        }
        rec::put_stream(&mut rest, rec::STDIN, 7, b"other");
        rec::put_stream(&mut rest, rec::STDIN, 7, b"");
        rest.extend_from_slice(&[1, rec::STDIN, 0, 1, 0, 0, 5, 0, 0, 0, 0, 0, 0]);
        for piece in rest.chunks(4096 * 3 + 1) {
            assert_eq!(c.discard_owed_input(&limits), Discard::Pending);
            write_all(&peer, piece);
        }
        assert_eq!(c.discard_owed_input(&limits), Discard::Done);
        assert!(c.discarded >= 200_000);
    }

    #[test]
    fn keep_conn_skips_settle_the_owed_input() {
        let limits = Limits::default();
        let (mut c, _peer) = conn();
        c.push_input(&begin(1, rec::ROLE_RESPONDER, true));
        c.push_input(&params(1, &[]));
        assert_eq!(c.pump(&limits), Pump::Ready);
        c.phase = Phase::Active;
        c.end_request();
        assert!(c.owes_input());
        let mut body = Vec::new();
        rec::put_stream(&mut body, rec::STDIN, 1, b"never read");
        c.push_input(&body);
        assert_eq!(c.pump(&limits), Pump::NeedMore);
        assert!(c.owes_input());
        c.push_input(&[1, rec::STDIN, 0, 1, 0, 0, 0, 0]);
        assert_eq!(c.pump(&limits), Pump::NeedMore);
        assert!(!c.owes_input(), "the skipped empty STDIN record settles it");
    }

    #[test]
    fn unframed_input_is_discarded_until_the_peer_hangs_up() {
        let limits = Limits::default();
        let (mut c, peer) = conn();
        unread_post(&mut c, &peer, &[9, 9, 9, 9, 9, 9, 9, 9], &limits);
        assert!(!c.close_after_answer(&limits));
        assert!(c.unframed);
        write_all(&peer, &[0u8; 100_000]);
        assert_eq!(c.discard_owed_input(&limits), Discard::Pending);
        drop(peer);
        assert_eq!(c.discard_owed_input(&limits), Discard::Done);
    }

    #[test]
    fn linger_max_bytes_bounds_the_discard() {
        let limits = Limits {
            linger_max_bytes: 50_000,
            ..Limits::default()
        };
        let (mut c, peer) = conn();
        unread_post(&mut c, &peer, &[], &limits);
        assert!(!c.close_after_answer(&limits));
        let mut body = Vec::new();
        for _ in 0..3 {
            rec::put_stream(&mut body, rec::STDIN, 1, &[0u8; 40_000]); // never ends
        }
        let writer = std::thread::spawn(move || {
            let mut data = &body[..];
            while !data.is_empty() {
                // SAFETY: valid socket and buffer; MSG_NOSIGNAL: EPIPE ends it.
                let n = unsafe {
                    libc::send(
                        peer.as_raw_fd(),
                        data.as_ptr().cast(),
                        data.len(),
                        libc::MSG_NOSIGNAL,
                    )
                };
                if n <= 0 {
                    break;
                }
                data = &data[n as usize..];
            }
        });
        let mut outcome = Discard::Pending;
        for _ in 0..1000 {
            outcome = c.discard_owed_input(&limits);
            if outcome == Discard::Done {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(outcome, Discard::Done);
        assert!(c.discarded >= 50_000 && c.discarded < 50_000 + 2 * DISCARD_CHUNK as u64);
        c.close_fd(); // lets the writer finish (its EPIPE is the point)
        writer.join().unwrap();
    }
}
