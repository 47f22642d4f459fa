//! The closed-loop load: N connection slots, each with exactly one request in
//! flight at a time, driven by one single-threaded epoll loop (so the whole
//! generator can be pinned to one vCPU).
//!
//! Guarantees: every response is parsed and its STDOUT compared byte for byte
//! with the expected answer; a request counts as `ok` only if STDOUT matches, no
//! STDERR was sent, END_REQUEST says REQUEST_COMPLETE with appStatus 0. Every
//! issued request ends in exactly one counter (ok, a failure kind, unanswered
//! after the per-request timeout, or in flight when the run ended). The run is
//! bounded by its duration and by a hard request count. With keep-conn off each
//! request uses a fresh connection (connect time is part of its latency).
//! Cost: per request a handful of syscalls and no allocation; memory is one
//! 64 KiB read buffer plus a few hundred bytes per slot.

use std::io;
use std::time::{Duration, Instant};

use crate::codec::{Event, ResponseParser, Verifier, REQUEST_COMPLETE};
use crate::hist::Histogram;
use crate::sys::{self, Connect, Epoll, Fd, Target};

pub struct Config {
    pub target: Target,
    pub conns: usize,
    pub keep_conn: bool,
    pub duration: Duration,
    pub max_requests: u64,
    pub timeout: Duration,
    pub expected: Vec<u8>,
    /// The encoded request (see codec::encode_request), sent unchanged each time.
    pub request: Vec<u8>,
}

#[derive(Default)]
pub struct Stats {
    pub issued: u64,
    pub ok: u64,
    /// STDOUT differed from the expected bytes.
    pub bad_body: u64,
    /// END_REQUEST with protocolStatus != REQUEST_COMPLETE or appStatus != 0.
    pub bad_status: u64,
    /// Responses that carried STDERR bytes.
    pub stderr: u64,
    /// Records a responder must not send (see codec::ParseError), or bytes after END_REQUEST.
    pub protocol_errors: u64,
    /// connect() failed (refused, no such socket, ...).
    pub connect_errors: u64,
    /// The connection closed or failed before the whole answer arrived.
    pub dropped: u64,
    /// Of `dropped`: a kept-alive connection that had answered before and closed
    /// before sending one byte of the next answer.
    pub keepconn_closed: u64,
    /// Answers followed by a management record (request id 0) in the same
    /// read: the server gave the connection back, which is then not reused.
    pub released: u64,
    /// No complete answer within the per-request timeout.
    pub unanswered: u64,
    /// Still waiting when the run ended (younger than the timeout).
    pub inflight_at_end: u64,
    /// Successful connects.
    pub connects: u64,
    /// Unix connect() said EAGAIN (listen backlog full) and was retried.
    pub connect_retries: u64,
    pub elapsed: Duration,
    pub latency_ns: Histogram,
    /// Answers (ok) per connection slot, over the whole run.
    pub per_conn: Vec<u64>,
    pub first_error: Option<String>,
}

impl Stats {
    pub fn errors(&self) -> u64 {
        self.bad_body
            + self.bad_status
            + self.stderr
            + self.protocol_errors
            + self.connect_errors
            + self.dropped
    }

    fn note(&mut self, what: impl FnOnce() -> String) {
        if self.first_error.is_none() {
            self.first_error = Some(what());
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No request: the request bound was reached.
    Idle,
    /// Start a new request at this time (back-off after a connect error).
    Backoff(Instant),
    /// The current request's connect said EAGAIN: try again at this time.
    ConnectRetry(Instant),
    Connecting,
    Sending,
    Receiving,
}

struct Slot {
    fd: Fd,
    /// Bumped for every new fd so stale epoll tokens are recognised.
    gen: u32,
    phase: Phase,
    sent: usize,
    want_out: bool,
    parser: ResponseParser,
    verify: Verifier,
    started: Instant,
    served_on_fd: u64,
    answered: u64,
}

enum Fail {
    Connect,
    Dropped,
    Protocol,
    Timeout,
}

const READ_BUF: usize = 64 * 1024;
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);
const EAGAIN_RETRY: Duration = Duration::from_millis(1);
const SCAN_EVERY: Duration = Duration::from_millis(2);

pub struct Load<'a> {
    cfg: &'a Config,
    ep: Epoll,
    slots: Vec<Slot>,
    stats: Stats,
    /// Slots whose request failed and that start a new one from the main loop
    /// (not from inside the failure path: no recursion on a failing server).
    retry: Vec<usize>,
    retry_spare: Vec<usize>,
}

fn token(slot: usize, gen: u32) -> u64 {
    (u64::from(gen) << 32) | slot as u64
}

impl<'a> Load<'a> {
    pub fn new(cfg: &'a Config) -> io::Result<Load<'a>> {
        let now = Instant::now();
        let slots = (0..cfg.conns)
            .map(|_| Slot {
                fd: -1,
                gen: 0,
                phase: Phase::Idle,
                sent: 0,
                want_out: false,
                parser: ResponseParser::new(),
                verify: Verifier::default(),
                started: now,
                served_on_fd: 0,
                answered: 0,
            })
            .collect();
        let n = cfg.conns;
        Ok(Load {
            cfg,
            ep: Epoll::new()?,
            slots,
            stats: Stats::default(),
            retry: Vec::with_capacity(n),
            retry_spare: Vec::with_capacity(n),
        })
    }

    pub fn run(mut self) -> io::Result<Stats> {
        let mut buf = vec![0u8; READ_BUF];
        let mut events =
            vec![libc::epoll_event { events: 0, u64: 0 }; self.cfg.conns.clamp(1, 1024)];
        let start = Instant::now();
        let end = start + self.cfg.duration;
        for i in 0..self.slots.len() {
            self.begin(i, start);
        }
        let mut next_scan = start + SCAN_EVERY;
        let mut now = start;
        while now < end {
            if self.slots.iter().all(|s| s.phase == Phase::Idle) {
                break; // request bound reached and everything answered
            }
            if now >= next_scan {
                self.scan(now);
                next_scan = now + SCAN_EVERY;
            }
            let wait = (end - now).min(SCAN_EVERY);
            let ms = wait.as_micros().div_ceil(1000).clamp(1, 1000) as i32;
            let n = self.ep.wait(&mut events, ms)?;
            now = Instant::now();
            for ev in &events[..n] {
                let (slot, gen) = ((ev.u64 & 0xffff_ffff) as usize, (ev.u64 >> 32) as u32);
                let flags = ev.events;
                if slot < self.slots.len()
                    && self.slots[slot].gen == gen
                    && self.slots[slot].fd >= 0
                {
                    self.on_event(slot, flags, &mut buf, now);
                }
            }
            self.run_retries(now);
        }
        let now = Instant::now();
        self.stats.elapsed = now - start;
        for i in 0..self.slots.len() {
            match self.slots[i].phase {
                Phase::Idle | Phase::Backoff(_) => {}
                _ if now - self.slots[i].started >= self.cfg.timeout => self.stats.unanswered += 1,
                _ => self.stats.inflight_at_end += 1,
            }
            self.close(i);
        }
        self.stats.per_conn = self.slots.iter().map(|s| s.answered).collect();
        Ok(self.stats)
    }

    /// Starts a new request on every slot queued by `fail` (each at most once
    /// per loop turn: a slot that fails again waits for the next turn).
    fn run_retries(&mut self, now: Instant) {
        std::mem::swap(&mut self.retry, &mut self.retry_spare);
        let mut queued = std::mem::take(&mut self.retry_spare);
        for &i in &queued {
            if matches!(self.slots[i].phase, Phase::Backoff(_)) {
                self.begin(i, now);
            }
        }
        queued.clear();
        self.retry_spare = queued;
    }

    /// Timeouts and scheduled retries; called every SCAN_EVERY.
    fn scan(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            let s = &self.slots[i];
            let due = match s.phase {
                Phase::Idle => continue,
                Phase::Backoff(at) | Phase::ConnectRetry(at) => now >= at,
                Phase::Connecting | Phase::Sending | Phase::Receiving => false,
            };
            if matches!(s.phase, Phase::Backoff(_)) {
                // No request in flight: nothing can time out.
                if due {
                    self.begin(i, now);
                }
            } else if now - s.started >= self.cfg.timeout {
                self.fail(i, Fail::Timeout, now);
            } else if due {
                self.connect(i, now);
            }
        }
    }

    /// Starts the slot's next request (on its kept-alive fd if it has one).
    fn begin(&mut self, i: usize, now: Instant) {
        if self.stats.issued >= self.cfg.max_requests {
            self.close(i);
            self.slots[i].phase = Phase::Idle;
            return;
        }
        self.stats.issued += 1;
        let s = &mut self.slots[i];
        s.started = now;
        s.parser.reset();
        s.verify.reset();
        s.sent = 0;
        if s.fd >= 0 {
            s.phase = Phase::Sending;
            self.send(i, now);
        } else {
            self.connect(i, now);
        }
    }

    fn connect(&mut self, i: usize, now: Instant) {
        match sys::connect(&self.cfg.target) {
            Ok(c) => {
                let (fd, in_progress) = match c {
                    Connect::Done(fd) => (fd, false),
                    Connect::InProgress(fd) => (fd, true),
                };
                let s = &mut self.slots[i];
                s.fd = fd;
                s.gen = s.gen.wrapping_add(1);
                s.served_on_fd = 0;
                s.want_out = in_progress;
                let interest = if in_progress {
                    libc::EPOLLOUT
                } else {
                    libc::EPOLLIN
                } as u32;
                if let Err(e) = self.ep.add(fd, interest, token(i, s.gen)) {
                    self.stats.note(|| format!("epoll_ctl: {e}"));
                    self.fail(i, Fail::Connect, now);
                    return;
                }
                if in_progress {
                    self.slots[i].phase = Phase::Connecting;
                } else {
                    self.stats.connects += 1;
                    self.slots[i].phase = Phase::Sending;
                    self.send(i, now);
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                self.stats.connect_retries += 1;
                self.slots[i].phase = Phase::ConnectRetry(now + EAGAIN_RETRY);
            }
            Err(e) => {
                self.stats.note(|| format!("connect: {e}"));
                self.fail(i, Fail::Connect, now);
            }
        }
    }

    fn set_out(&mut self, i: usize, want: bool) {
        let s = &mut self.slots[i];
        if s.want_out != want {
            s.want_out = want;
            let ev = if want {
                libc::EPOLLIN | libc::EPOLLOUT
            } else {
                libc::EPOLLIN
            } as u32;
            // A failing MOD means the fd is broken; the next I/O on it reports that.
            let _ = self.ep.modify(s.fd, ev, token(i, s.gen));
        }
    }

    fn send(&mut self, i: usize, now: Instant) {
        let req = &self.cfg.request;
        loop {
            let s = &mut self.slots[i];
            match sys::send(s.fd, &req[s.sent..]) {
                Ok(n) => {
                    s.sent += n;
                    if s.sent == req.len() {
                        s.phase = Phase::Receiving;
                        self.set_out(i, false);
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.set_out(i, true);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.stats.note(|| format!("send: {e}"));
                    self.fail(i, Fail::Dropped, now);
                    return;
                }
            }
        }
    }

    fn on_event(&mut self, i: usize, flags: u32, buf: &mut [u8], now: Instant) {
        match self.slots[i].phase {
            Phase::Connecting => match sys::take_error(self.slots[i].fd) {
                Ok(()) => {
                    self.stats.connects += 1;
                    self.slots[i].phase = Phase::Sending;
                    self.send(i, now);
                }
                Err(e) => {
                    self.stats.note(|| format!("connect: {e}"));
                    self.fail(i, Fail::Connect, now);
                }
            },
            Phase::Sending | Phase::Receiving => {
                if flags & libc::EPOLLOUT as u32 != 0 && self.slots[i].phase == Phase::Sending {
                    self.send(i, now);
                }
                if flags & (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0
                    && self.slots[i].fd >= 0
                {
                    self.receive(i, buf, now);
                }
            }
            _ => {}
        }
    }

    fn receive(&mut self, i: usize, buf: &mut [u8], now: Instant) {
        loop {
            let n = match sys::recv(self.slots[i].fd, buf) {
                Ok(0) => {
                    self.stats
                        .note(|| "connection closed before the answer was complete".into());
                    self.fail(i, Fail::Dropped, now);
                    return;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.stats.note(|| format!("recv: {e}"));
                    self.fail(i, Fail::Dropped, now);
                    return;
                }
            };
            let expected = &self.cfg.expected;
            let s = &mut self.slots[i];
            let mut end = None;
            let verify = &mut s.verify;
            let fed = s.parser.feed(&buf[..n], |ev| match ev {
                Event::Stdout(b) => verify.stdout(expected, b),
                Event::Stderr(b) => verify.stderr(b),
                Event::End {
                    app_status,
                    protocol_status,
                } => end = Some((app_status, protocol_status)),
            });
            match fed {
                Err(e) => {
                    self.stats.note(|| format!("protocol: {e}"));
                    self.fail(i, Fail::Protocol, now);
                    return;
                }
                Ok(used) => {
                    if let Some((app, proto)) = end {
                        let rest = &buf[used..n];
                        if rest.is_empty() {
                            self.complete(i, app, proto, now, true);
                        } else if is_management_record(rest) {
                            // The server gives the connection back (as nginx
                            // reads it: bytes after END_REQUEST, so the
                            // connection is not reused).
                            self.stats.released += 1;
                            self.complete(i, app, proto, now, false);
                        } else {
                            self.stats
                                .note(|| format!("{} bytes after END_REQUEST", n - used));
                            self.fail(i, Fail::Protocol, now);
                        }
                        return;
                    }
                }
            }
            if n < buf.len() {
                return; // drained for now; level-triggered epoll reports the rest
            }
        }
    }

    fn complete(&mut self, i: usize, app: u32, proto: u8, now: Instant, reuse: bool) {
        let expected = &self.cfg.expected;
        let s = &mut self.slots[i];
        let body_ok = s.verify.body_ok(expected);
        let stderr = s.verify.stderr_bytes();
        let good = body_ok && stderr == 0 && proto == REQUEST_COMPLETE && app == 0;
        if good {
            self.stats.ok += 1;
            s.answered += 1;
            s.served_on_fd += 1;
            let ns = (now - s.started).as_nanos().min(u128::from(u64::MAX)) as u64;
            self.stats.latency_ns.record(ns);
        } else if !body_ok {
            self.stats.bad_body += 1;
            self.stats
                .note(|| "STDOUT differs from the expected answer".into());
        } else if stderr != 0 {
            self.stats.stderr += 1;
            self.stats.note(|| format!("{stderr} STDERR bytes"));
        } else {
            self.stats.bad_status += 1;
            self.stats
                .note(|| format!("END_REQUEST appStatus {app} protocolStatus {proto}"));
        }
        // Only a clean answer on a kept-alive connection lets us reuse it.
        if !(good && self.cfg.keep_conn && reuse) {
            self.close(i);
        }
        self.begin(i, now);
    }

    fn fail(&mut self, i: usize, why: Fail, now: Instant) {
        let s = &self.slots[i];
        match why {
            Fail::Connect => self.stats.connect_errors += 1,
            Fail::Protocol => self.stats.protocol_errors += 1,
            Fail::Timeout => self.stats.unanswered += 1,
            Fail::Dropped => {
                self.stats.dropped += 1;
                if self.cfg.keep_conn && s.served_on_fd > 0 && s.parser.is_untouched() {
                    self.stats.keepconn_closed += 1;
                }
            }
        }
        self.close(i);
        if matches!(why, Fail::Connect) {
            // Do not spin on a server that is not there.
            self.slots[i].phase = Phase::Backoff(now + CONNECT_BACKOFF);
        } else {
            self.slots[i].phase = Phase::Backoff(now);
            self.retry.push(i);
        }
    }

    fn close(&mut self, i: usize) {
        let s = &mut self.slots[i];
        if s.fd >= 0 {
            // close() also removes the fd from the epoll set (we never dup it).
            sys::close(s.fd);
            s.fd = -1;
            s.want_out = false;
        }
    }
}

/// Whether `rest` (what followed END_REQUEST in one read) starts with a
/// FastCGI management record: version 1, request id 0.
fn is_management_record(rest: &[u8]) -> bool {
    rest.len() >= 8 && rest[0] == 1 && rest[2] == 0 && rest[3] == 0
}

#[cfg(test)]
mod tests {
    //! The loop against tiny misbehaving servers: each failure lands in its
    //! own counter and only clean answers count as ok.
    use super::*;
    use crate::codec::encode_request;
    use std::io::{Read, Write};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    const HELLO: &[u8] = b"Content-Type: text/plain\r\n\r\nHello World!\n";

    #[derive(Clone, Copy)]
    enum Behave {
        Good,
        WrongBody,
        Stderr,
        BadStatus,
        Silent,
        CloseAfterRequest,
        /// Answers correctly but closes even when FCGI_KEEP_CONN was asked.
        IgnoreKeepConn,
    }

    fn record(rtype: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![
            1,
            rtype,
            0,
            1,
            (content.len() >> 8) as u8,
            content.len() as u8,
            0,
            0,
        ];
        v.extend_from_slice(content);
        v
    }

    /// Reads one request; returns its FCGI_KEEP_CONN flag, None on EOF.
    fn read_request(s: &mut UnixStream) -> Option<bool> {
        let mut keep = false;
        loop {
            let mut h = [0u8; 8];
            s.read_exact(&mut h).ok()?;
            let len = usize::from(u16::from_be_bytes([h[4], h[5]])) + usize::from(h[6]);
            let mut body = vec![0u8; len];
            s.read_exact(&mut body).ok()?;
            if h[1] == 1 {
                keep = body[2] & 1 == 1;
            }
            if h[1] == 5 && h[4] == 0 && h[5] == 0 {
                return Some(keep);
            }
        }
    }

    fn answer(s: &mut UnixStream, how: Behave) -> std::io::Result<()> {
        let mut out = Vec::new();
        let (body, status): (&[u8], u8) = match how {
            Behave::WrongBody => (b"Content-Type: text/plain\r\n\r\nHello World?\n", 0),
            Behave::BadStatus => (HELLO, 3),
            _ => (HELLO, 0),
        };
        out.extend(record(6, &body[..10]));
        out.extend(record(6, &body[10..]));
        out.extend(record(6, b""));
        if let Behave::Stderr = how {
            out.extend(record(7, b"oops"));
        }
        out.extend(record(3, &[0, 0, 0, 0, status, 0, 0, 0]));
        s.write_all(&out)
    }

    struct Server {
        path: std::path::PathBuf,
        stop: Arc<AtomicBool>,
        accepted: Arc<AtomicUsize>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            if let Some(t) = self.thread.take() {
                t.join().unwrap();
            }
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// A serial server (one connection at a time) on a fresh unix socket.
    fn serve(how: Behave) -> Server {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "fcgi-load-test-{}-{}.sock",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_file(&path);
        let l = UnixListener::bind(&path).unwrap();
        l.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (st, acc) = (stop.clone(), accepted.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let mut s = match l.accept() {
                    Ok((s, _)) => s,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(1));
                        continue;
                    }
                };
                acc.fetch_add(1, Ordering::SeqCst);
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                while let Some(keep) = read_request(&mut s) {
                    match how {
                        Behave::Silent => {
                            while !st.load(Ordering::SeqCst) {
                                std::thread::sleep(Duration::from_millis(1));
                            }
                            return;
                        }
                        Behave::CloseAfterRequest => break,
                        _ => {
                            if answer(&mut s, how).is_err() {
                                break;
                            }
                        }
                    }
                    if !keep || matches!(how, Behave::IgnoreKeepConn) {
                        break;
                    }
                }
            }
        });
        Server {
            path,
            stop,
            accepted,
            thread: Some(thread),
        }
    }

    fn load(srv: &Server, keep: bool, conns: usize, n: u64, ms: u64) -> Stats {
        let params: Vec<(&[u8], &[u8])> = vec![(b"REQUEST_METHOD", b"GET")];
        let cfg = Config {
            target: Target::parse(srv.path.to_str().unwrap()).unwrap(),
            conns,
            keep_conn: keep,
            duration: Duration::from_millis(ms),
            max_requests: n,
            timeout: Duration::from_millis(50),
            expected: HELLO.to_vec(),
            request: encode_request(&params, keep).unwrap(),
        };
        Load::new(&cfg).unwrap().run().unwrap()
    }

    #[test]
    fn good_server_keep_conn_reuses_one_connection_up_to_the_bound() {
        let srv = serve(Behave::Good);
        let st = load(&srv, true, 1, 200, 5000);
        assert_eq!(
            (st.issued, st.ok, st.errors(), st.unanswered),
            (200, 200, 0, 0)
        );
        assert_eq!(st.connects, 1);
        assert_eq!(srv.accepted.load(Ordering::SeqCst), 1);
        assert_eq!(st.per_conn, vec![200]);
        assert!(
            st.elapsed < Duration::from_millis(4000),
            "stops at the request bound"
        );
        assert!(st.latency_ns.count() == 200 && st.latency_ns.quantile(0.5) > 0);
    }

    #[test]
    fn keep_conn_off_uses_a_connection_per_request() {
        let srv = serve(Behave::Good);
        let st = load(&srv, false, 1, 50, 5000);
        assert_eq!((st.ok, st.errors(), st.connects), (50, 0, 50));
    }

    #[test]
    fn serial_server_starves_the_other_kept_alive_connections() {
        let srv = serve(Behave::Good);
        let st = load(&srv, true, 4, u64::MAX, 300);
        assert!(st.ok > 0);
        assert_eq!(
            st.per_conn.iter().filter(|&&n| n == 0).count(),
            3,
            "{:?}",
            st.per_conn
        );
        assert!(st.unanswered + st.inflight_at_end >= 3);
    }

    #[test]
    fn each_failure_has_its_own_counter() {
        let st = load(&serve(Behave::WrongBody), true, 1, 5, 2000);
        assert_eq!((st.ok, st.bad_body), (0, 5));
        let st = load(&serve(Behave::Stderr), true, 1, 5, 2000);
        assert_eq!((st.ok, st.stderr), (0, 5));
        let st = load(&serve(Behave::BadStatus), true, 1, 5, 2000);
        assert_eq!((st.ok, st.bad_status), (0, 5));
        let st = load(&serve(Behave::CloseAfterRequest), true, 1, 5, 2000);
        assert_eq!((st.ok, st.dropped, st.keepconn_closed), (0, 5, 0));
        let st = load(&serve(Behave::Silent), true, 1, 3, 2000);
        assert_eq!((st.ok, st.unanswered), (0, 3));
    }

    #[test]
    fn a_server_ignoring_keep_conn_shows_as_dropped_kept_alive_connections() {
        let st = load(&serve(Behave::IgnoreKeepConn), true, 1, 20, 2000);
        // Every second request finds the connection closed by the server.
        assert!(
            st.ok >= 9 && st.keepconn_closed >= 9,
            "ok {} closed {}",
            st.ok,
            st.keepconn_closed
        );
        assert_eq!(st.keepconn_closed, st.dropped);
    }

    #[test]
    fn nobody_listening_counts_connect_errors_and_backs_off() {
        let path = std::env::temp_dir().join(format!("fcgi-load-none-{}.sock", std::process::id()));
        let cfg = Config {
            target: Target::parse(path.to_str().unwrap()).unwrap(),
            conns: 1,
            keep_conn: true,
            duration: Duration::from_millis(100),
            max_requests: u64::MAX,
            timeout: Duration::from_millis(50),
            expected: HELLO.to_vec(),
            request: encode_request(&[], true).unwrap(),
        };
        let st = Load::new(&cfg).unwrap().run().unwrap();
        assert!(
            st.connect_errors >= 2 && st.connect_errors <= 12,
            "{}",
            st.connect_errors
        );
        assert_eq!(st.ok, 0);
    }

    #[test]
    fn a_management_record_after_end_request_is_a_release() {
        assert!(is_management_record(&[1, 10, 0, 0, 0, 0, 0, 0]));
        assert!(!is_management_record(&[1, 6, 0, 1, 0, 0, 0, 0])); // request 1
        assert!(!is_management_record(&[1, 10, 0, 0])); // cut short
        assert!(!is_management_record(b"garbage!"));
    }
}
