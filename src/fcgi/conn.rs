//! One connection from the web server: the socket, its input buffer, and
//! the I/O around the sans-I/O [`Assembler`](super::assembler) that says
//! what the bytes mean: non-blocking reads for the event loop, bounded
//! blocking reads while the application reads the body, replies sent, and
//! the end of the connection (closed at once, or lingering until the peer
//! has sent what it still owes).

use super::assembler::{Assembled, Assembler, Body};
use super::io::{read_first, read_nb, send_all, wait_fd, FirstRead, ReadOutcome};
use super::limits::{now_ms, Limits};
use super::record as rec;
use crate::status::{Error, Result, SMISK_ERR_ABORTED};
use std::os::unix::io::{AsRawFd, OwnedFd, RawFd};

/// Initial input buffer: a typical request (params of ~1 KiB) fits; bodies
/// bypass it (direct reads) and rare large records grow it.
const RBUF_INITIAL: usize = 4 * 1024;
/// Largest record: header + 65535 content + 255 padding.
const RBUF_MAX: usize = rec::HEADER_LEN + rec::MAX_CONTENT + 255;
/// Direct reads into the caller's buffer pay off above this size.
const DIRECT_READ_MIN: usize = 4096;
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

/// What `pump` found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pump {
    NeedMore,
    Ready,
    Close,
}

/// How a connection goes on after an answer (see `Conn::after_answer`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum After {
    /// Kept for the next request (keep-conn).
    Kept,
    /// Closed.
    Closed,
    /// Half-closed, reading what the peer still owes (`Phase::Lingering`).
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

pub(crate) struct Conn {
    /// None once closed (the object is then kept only for its buffers).
    fd: Option<OwnedFd>,
    rbuf: Box<[u8]>,
    rpos: usize,
    rlen: usize,
    /// What the bytes mean.
    pub asm: Assembler,
    pub phase: Phase,
    /// Monotonic ms after which an idle or stalled connection is closed.
    pub deadline: u64,
    pub registered: bool,
    /// The socket may hold bytes we stopped reading before EAGAIN (with
    /// edge-triggered epoll no further event comes for them).
    pub maybe_more: bool,
    /// The peer hung up or broke the protocol: close after the request.
    pub dead: bool,
    /// Bytes read and discarded since the connection started lingering.
    discarded: u64,
    /// Given back to the web server after its next answer (a prefork
    /// worker over its share; see `balance`).
    pub release: bool,
}

impl Conn {
    pub fn new(fd: OwnedFd) -> Conn {
        Conn {
            fd: Some(fd),
            rbuf: vec![0u8; RBUF_INITIAL].into_boxed_slice(),
            rpos: 0,
            rlen: 0,
            asm: Assembler::default(),
            phase: Phase::Idle,
            deadline: 0,
            registered: false,
            maybe_more: true,
            dead: false,
            discarded: 0,
            release: false,
        }
    }

    /// Reuses a pooled connection object for a new socket (keeps buffers).
    pub fn reset(&mut self, fd: OwnedFd) {
        self.fd = Some(fd);
        if self.rbuf.len() > RBUF_MAX {
            // A big SCGI header grew it: a pooled object keeps no more than
            // one record's worth.
            self.rbuf = vec![0u8; RBUF_INITIAL].into_boxed_slice();
        }
        self.rpos = 0;
        self.rlen = 0;
        self.asm.reset();
        self.phase = Phase::Idle;
        self.registered = false;
        self.maybe_more = true;
        self.dead = false;
        self.discarded = 0;
        self.release = false;
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_ref().map_or(-1, |fd| fd.as_raw_fd())
    }

    /// Closes the socket (which also removes it from any epoll set).
    pub fn close_fd(&mut self) {
        self.fd = None;
    }

    /// Unconsumed input bytes.
    pub fn buffered(&self) -> usize {
        self.rlen - self.rpos
    }

    /// Makes room for at least `want` bytes of unconsumed input in the buffer
    /// (compacting first, growing up to one maximal record).
    fn make_room(&mut self, want: usize) {
        self.make_room_upto(want, RBUF_MAX);
    }

    /// `make_room`, growing the buffer up to `cap` bytes.
    fn make_room_upto(&mut self, want: usize, cap: usize) {
        if self.rpos == self.rlen {
            self.rpos = 0;
            self.rlen = 0;
        }
        if self.rbuf.len() - self.rpos >= want && self.rlen < self.rbuf.len() {
            return;
        }
        if self.rpos > 0 {
            self.rbuf.copy_within(self.rpos..self.rlen, 0);
            self.rlen -= self.rpos;
            self.rpos = 0;
        }
        if self.rbuf.len() < want.min(cap) {
            // Doubling, but never past the cap: once the buffer is over
            // cap / 2, doubling alone would overshoot it (and `clamp`
            // panics when its minimum exceeds its maximum).
            let size = want.max(self.rbuf.len() * 2).min(cap);
            let mut bigger = vec![0u8; size].into_boxed_slice();
            bigger[..self.rlen].copy_from_slice(&self.rbuf[..self.rlen]);
            self.rbuf = bigger;
        }
    }

    /// One non-blocking read into the buffer.
    pub fn fill_nb(&mut self) -> Result<ReadOutcome> {
        self.make_room(self.buffered() + rec::HEADER_LEN);
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

    /// The first read of a connection from the blocking accept: one
    /// blocking read into the buffer, bounded by the socket's receive
    /// timeout (see [`read_first`]).
    pub fn fill_first(&mut self) -> FirstRead {
        self.make_room(rec::HEADER_LEN);
        let space = self.rbuf.len() - self.rlen;
        let first = read_first(self.raw_fd(), &mut self.rbuf[self.rlen..]);
        match &first {
            FirstRead::Done(Ok(ReadOutcome::Data(n))) => {
                self.rlen += n;
                self.maybe_more = *n == space;
            }
            FirstRead::Done(_) => self.maybe_more = false,
            // Nothing read: the next (non-blocking) read tells.
            FirstRead::TimedOut | FirstRead::Interrupted => self.maybe_more = true,
        }
        first
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

    /// Reads until at least `want` bytes are unconsumed, waiting up to the
    /// read timeout for each.
    fn fill_blocking(&mut self, limits: &Limits, want: usize) -> Result<()> {
        self.make_room(want);
        while self.buffered() < want.min(RBUF_MAX) {
            let outcome = self.fill_nb()?;
            self.settle(outcome, limits)?;
        }
        Ok(())
    }

    /// Assembles a request from buffered input (phases Idle and Params).
    pub fn pump(&mut self, limits: &Limits) -> Pump {
        let (n, found) = self.asm.assemble(&self.rbuf[self.rpos..self.rlen], limits);
        self.rpos += n;
        // Params while a request is being collected (an abort ends that);
        // the read timeout runs from its BEGIN_REQUEST.
        if self.asm.collecting() {
            if self.phase == Phase::Idle {
                self.deadline = now_ms() + limits.read_timeout_ms;
            }
            self.phase = Phase::Params;
        } else {
            self.phase = Phase::Idle;
        }
        match found {
            Assembled::Ready => {
                self.phase = Phase::Ready;
                Pump::Ready
            }
            Assembled::Close => Pump::Close,
            Assembled::NeedMore { want } => {
                // The assembler's `want` is already bounded by the limits: a
                // FastCGI record is at most RBUF_MAX, and an SCGI header,
                // which must be whole in the buffer to be parsed, at most
                // `max_params_bytes` (refused from its length prefix before
                // it is read). So an SCGI header over one record's size
                // gets the room it needs instead of stalling.
                self.make_room_upto(want, want.max(RBUF_MAX));
                Pump::NeedMore
            }
        }
    }

    /// Sends the queued replies now (blocking, up to the write timeout).
    fn send_pending(&mut self, limits: &Limits) -> Result<()> {
        let sent = send_all(self.raw_fd(), &self.asm.pending, limits.write_timeout_ms);
        self.asm.pending.clear();
        if sent.is_err() {
            self.dead = true;
        }
        sent
    }

    /// Reads request body bytes (phase Active). Returns 0 at the end of the
    /// body. Management records met on the way are answered at once (the
    /// application may wait here for more body bytes); an abort or a
    /// hang-up ends the body with `SMISK_ERR_ABORTED`.
    pub fn read_stdin(&mut self, buf: &mut [u8], limits: &Limits) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.dead {
                return Err(Error::new(
                    SMISK_ERR_ABORTED,
                    "the request was aborted by the web server",
                ));
            }
            let (n, step) = self.asm.body(&self.rbuf[self.rpos..self.rlen], limits);
            self.rpos += n;
            match step {
                Body::Bytes(avail) => {
                    let n = avail.min(buf.len());
                    buf[..n].copy_from_slice(&self.rbuf[self.rpos..self.rpos + n]);
                    self.rpos += n;
                    self.asm.take_body(n);
                    return Ok(n);
                }
                Body::End => return Ok(0),
                Body::Aborted => {
                    return Err(Error::new(
                        SMISK_ERR_ABORTED,
                        "the request was aborted by the web server",
                    ))
                }
                Body::Broken(e) => {
                    self.dead = true;
                    return Err(e);
                }
                Body::NeedMore { want } => {
                    if !self.asm.pending.is_empty() {
                        self.send_pending(limits)?;
                        continue;
                    }
                    let left = self.asm.body_left();
                    if left > 0 && buf.len() >= DIRECT_READ_MIN {
                        // Large reads skip the connection buffer: one copy,
                        // kernel to caller.
                        let want = buf.len().min(left);
                        loop {
                            let outcome = read_nb(self.raw_fd(), &mut buf[..want])?;
                            if let Some(n) = self.settle(outcome, limits)? {
                                self.asm.take_body(n);
                                self.maybe_more = n == want;
                                return Ok(n);
                            }
                        }
                    }
                    // `want` is what the assembler needs unconsumed in all
                    // (a header's or record's length), and at least one
                    // byte more than is buffered: asking for it on top of
                    // what is buffered waited for bytes that never come.
                    self.fill_blocking(limits, want.max(self.buffered() + 1))?;
                }
            }
        }
    }

    /// The bytes `read_stdin` can return without touching the socket (the
    /// remainder of the current STDIN record that is already buffered).
    pub fn buffered_stdin(&self) -> &[u8] {
        let n = self.asm.body_left().min(self.buffered());
        &self.rbuf[self.rpos..self.rpos + n]
    }

    /// Consumes `n` bytes of `buffered_stdin()`.
    pub fn consume_stdin(&mut self, n: usize) {
        debug_assert!(n <= self.asm.body_left().min(self.buffered()));
        self.rpos += n;
        self.asm.take_body(n);
    }

    /// After the application finished on a keep-conn connection: the rest
    /// of the request is skipped so the next BEGIN_REQUEST is found.
    fn end_request(&mut self) {
        self.asm.end_request();
        self.phase = Phase::Idle;
    }

    /// Whether the peer may still be sending input for a request that was
    /// answered (see `Assembler::owes_input`).
    pub fn owes_input(&self) -> bool {
        !self.dead && self.asm.owes_input()
    }

    /// The one place that decides how a connection goes on once an answer
    /// (or a refusal) is queued or sent: kept for the next request when the
    /// web server asked for keep-conn and `may_keep` (the server is not
    /// stopping); else closed now when the peer owes no more input (or hung
    /// up, or aborted); else half-closed and lingering, and the server
    /// watches it until `discard_owed_input` says `Done` or the deadline
    /// passes.
    pub fn after_answer(&mut self, limits: &Limits, may_keep: bool) -> After {
        if self.dead {
            self.close_fd();
            return After::Closed;
        }
        if self.asm.keep_conn && may_keep && !self.asm.close_after_pending {
            self.end_request();
            return After::Kept;
        }
        if self.close_after_answer(limits) {
            After::Closed
        } else {
            After::Lingering
        }
    }

    /// Closes now (true) or starts lingering (false); see `after_answer`.
    fn close_after_answer(&mut self, limits: &Limits) -> bool {
        self.asm.begin_discard();
        self.discarded = 0;
        // Most requests end here with their empty STDIN record already
        // buffered: it is consumed without a syscall.
        if !self.asm.aborted
            && self.owes_input()
            && self.discard_owed_input(limits) == Discard::Pending
        {
            // SAFETY: valid socket descriptor; the write side only.
            unsafe { libc::shutdown(self.raw_fd(), libc::SHUT_WR) };
            self.phase = Phase::Lingering;
            self.deadline = now_ms().saturating_add(limits.linger_timeout_ms);
            return false;
        }
        self.close_fd();
        self.dead = true;
        true
    }

    /// Reads and discards what the peer still owes (phase Lingering),
    /// without blocking. Bounded per call (`DISCARD_READS_PER_CALL`) and in
    /// total (`Limits::linger_max_bytes`).
    pub fn discard_owed_input(&mut self, limits: &Limits) -> Discard {
        // Only a large unread body needs the scratch buffer: zeroing 64 KiB
        // on every close would cost more than the close itself.
        let mut sink: Option<Box<[u8]>> = None;
        for _ in 0..DISCARD_READS_PER_CALL {
            let (n, done) = self.asm.discard(&self.rbuf[self.rpos..self.rlen]);
            self.rpos += n;
            if done {
                return Discard::Done;
            }
            if self.discarded >= limits.linger_max_bytes {
                return Discard::Done;
            }
            // Large record bodies bypass the connection buffer.
            let ahead = self.asm.skip_ahead();
            let outcome = if ahead >= DIRECT_READ_MIN && self.buffered() == 0 {
                let sink = sink.get_or_insert_with(|| vec![0u8; DISCARD_CHUNK].into_boxed_slice());
                let outcome = read_nb(self.raw_fd(), &mut sink[..ahead.min(DISCARD_CHUNK)]);
                if let Ok(ReadOutcome::Data(n)) = outcome {
                    self.asm.skipped(n);
                }
                outcome
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
}

#[cfg(test)]
mod tests {
    use super::super::assembler::tests::{begin, params};
    use super::*;
    use std::os::unix::io::FromRawFd;

    fn conn() -> (Conn, OwnedFd) {
        let mut fds = [0; 2];
        assert_eq!(
            // SAFETY: fds is a valid 2-element array.
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

    /// A request without keep-conn (and `body_sent` of its STDIN) through
    /// the socket, assembled and handed to the application.
    fn request(c: &mut Conn, peer: &OwnedFd, body_sent: &[u8], limits: &Limits) {
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

    #[test]
    fn the_read_buffer_grows_from_over_half_its_cap_to_the_cap() {
        // A 40 KB record, then a maximal one (a long header value in PARAMS
        // from any FastCGI client): the second growth starts above
        // RBUF_MAX / 2. It used to panic, taking the whole server down.
        let (mut c, _peer) = conn();
        c.make_room(40_000);
        assert!(c.rbuf.len() >= 40_000 && c.rbuf.len() <= RBUF_MAX);
        c.make_room(RBUF_MAX);
        assert_eq!(c.rbuf.len(), RBUF_MAX);
        c.make_room(RBUF_MAX + 1); // more than a record: still the cap
        assert_eq!(c.rbuf.len(), RBUF_MAX);
    }

    #[test]
    fn an_scgi_header_larger_than_a_record_is_assembled() {
        // 200 KB of header (a long cookie), within max_params_bytes (1 MiB):
        // the buffer grows to hold it whole instead of stalling at one
        // record's size until the read timeout.
        let limits = Limits::default();
        let (mut c, peer) = conn();
        c.asm.protocol = super::super::scgi::Protocol::Scgi;
        let mut pairs = b"CONTENT_LENGTH\x000\x00SCGI\x001\x00HTTP_COOKIE\x00".to_vec();
        pairs.extend(std::iter::repeat(b'c').take(200_000));
        pairs.push(0);
        let mut input = format!("{}:", pairs.len()).into_bytes();
        input.extend_from_slice(&pairs);
        input.push(b',');
        let writer = std::thread::spawn(move || {
            write_all(&peer, &input);
            peer
        });
        let mut ready = false;
        for _ in 0..100_000 {
            match c.pump(&limits) {
                Pump::Ready => {
                    ready = true;
                    break;
                }
                Pump::NeedMore => {
                    if let Ok(ReadOutcome::WouldBlock) = c.fill_nb() {
                        wait_fd(c.raw_fd(), libc::POLLIN, 1000).unwrap();
                    }
                }
                Pump::Close => break,
            }
        }
        assert!(ready, "the header was not assembled");
        let _peer = writer.join().unwrap();
        // Back in the pool, the object keeps no more than one record's room.
        let (a, _b) = conn();
        c.reset(a.fd.unwrap());
        assert!(c.rbuf.len() <= RBUF_MAX);
    }

    #[test]
    fn read_stdin_reads_through_the_socket_directly_and_buffered() {
        let limits = Limits::default();
        let (mut c, peer) = conn();
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut stdin = Vec::new();
        for piece in body.chunks(65_535) {
            rec::put_stream(&mut stdin, rec::STDIN, 1, piece);
        }
        rec::put_stream(&mut stdin, rec::STDIN, 1, b"");
        request(&mut c, &peer, &stdin[..100], &limits);
        let writer = {
            let rest = stdin[100..].to_vec();
            std::thread::spawn(move || {
                write_all(&peer, &rest);
                peer
            })
        };
        let mut got = Vec::new();
        let mut buf = vec![0u8; 7000];
        for i in 0..100_000 {
            // Alternate small (buffered) and large (direct) reads.
            let want = if i % 2 == 0 { 10 } else { buf.len() };
            let n = c.read_stdin(&mut buf[..want], &limits).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, body);
        assert!(!c.owes_input());
        drop(writer.join().unwrap());
    }

    #[test]
    fn a_body_dribbled_in_three_byte_writes_is_read_to_its_end() {
        // Small writes leave part of a record header buffered when the
        // application asks for more. The read must wait for the rest of
        // that header only: it used to wait for that many bytes on top,
        // which never come after the last (empty) STDIN record while the
        // web server keeps the connection open for the answer.
        let limits = Limits {
            read_timeout_ms: 2_000,
            ..Limits::default()
        };
        let (mut c, peer) = conn();
        let body: Vec<u8> = (0..300u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut stdin = Vec::new();
        for piece in body.chunks(7) {
            rec::put_stream(&mut stdin, rec::STDIN, 1, piece);
        }
        rec::put_stream(&mut stdin, rec::STDIN, 1, b"");
        request(&mut c, &peer, &[], &limits);
        let writer = std::thread::spawn(move || {
            for piece in stdin.chunks(3) {
                write_all(&peer, piece);
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            peer // kept open: the answer has not been sent yet
        });
        let mut got = Vec::new();
        let mut buf = [0u8; 5];
        for _ in 0..10_000 {
            let n = c
                .read_stdin(&mut buf, &limits)
                .expect("the body is read without waiting for the timeout");
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, body);
        drop(writer.join().unwrap());
    }

    #[test]
    fn an_answered_get_closes_at_once() {
        let limits = Limits::default();
        let (mut c, peer) = conn();
        let mut stdin_end = Vec::new();
        rec::put_stream(&mut stdin_end, rec::STDIN, 1, b"");
        request(&mut c, &peer, &stdin_end, &limits);
        assert!(c.owes_input(), "the empty STDIN record is still unread");
        assert_eq!(c.after_answer(&limits, true), After::Closed);
        assert!(c.dead && c.raw_fd() < 0);
    }

    #[test]
    fn an_unread_body_lingers_until_its_stdin_ends() {
        let limits = Limits::default();
        let (mut c, peer) = conn();
        let mut first = Vec::new();
        rec::put_stream(&mut first, rec::STDIN, 1, &[b'a'; 10_000]);
        assert_eq!(first.len(), 8 + 10_000);
        request(&mut c, &peer, &first[..first.len() - 8], &limits);
        assert_eq!(
            c.after_answer(&limits, true),
            After::Lingering,
            "more input is owed"
        );
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
    fn unframed_input_is_discarded_until_the_peer_hangs_up() {
        let limits = Limits::default();
        let (mut c, peer) = conn();
        request(&mut c, &peer, &[9, 9, 9, 9, 9, 9, 9, 9], &limits);
        assert_eq!(c.after_answer(&limits, true), After::Lingering);
        assert!(c.asm.is_unframed());
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
        request(&mut c, &peer, &[], &limits);
        assert_eq!(c.after_answer(&limits, true), After::Lingering);
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
