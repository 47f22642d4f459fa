//! The process model: serve in this process (`forks = 0`) or supervise `N`
//! prefork workers that share the listening socket, with signals for
//! graceful stop and restart.
//!
//! Guarantees:
//! * SIGTERM / SIGINT: graceful stop. The listener is no longer watched;
//!   requests already sent by the web server (being assembled or queued,
//!   and connections already waiting in the listen backlog) and the one in
//!   progress are answered; the drain is bounded by `drain_timeout_ms`,
//!   after which a supervisor kills the workers still running.
//! * SIGHUP with workers: graceful restart. New workers are forked first,
//!   then the old ones get SIGHUP, which makes a worker retire: it drains
//!   the connections it holds and leaves the backlog to the new workers; the supervisor keeps the listening socket open
//!   the whole time, so no connection is refused. Without workers SIGHUP
//!   stops like SIGTERM.
//! * SIGUSR1 or `smisk_run_stop()`: stop after the current request (and the
//!   requests already received).
//! * A worker that dies is replaced. One that dies abnormally within
//!   `min_uptime_ms` of its start is a crash loop: its replacement waits
//!   `backoff_ms`, doubling up to `backoff_max_ms`, so a broken application
//!   cannot fork-bomb the machine.
//! * `max_requests > 0` recycles a worker after that many requests (with
//!   `forks = 0` the run returns after them).
//! * Signal handlers are installed only during the run, without
//!   `SA_RESTART`, and restored afterwards (see [`signals`]).
//!
//! Costs: at most one `rt_sigtimedwait(0)` syscall per millisecond (signals
//! are blocked except inside the wait; under load the wait may not be
//! entered between requests, so pending signals are polled: a stop signal
//! takes effect after the current request, or, when it arrives during
//! requests shorter than a millisecond with more queued, within a
//! millisecond of requests); the supervisor sleeps in `sigtimedwait` and wakes only for signals, deaths
//! and scheduled respawns.

pub mod cgi;
pub mod signals;
mod supervisor;

use crate::fcgi::{Request, Server};
use crate::status::{Error, Result, SMISK_ERR_INTERRUPTED, SMISK_ERR_STOPPED, SMISK_ERR_TIMEOUT};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// Longest time a serving loop hands out already-queued requests without
/// polling for pending stop signals.
const POLL_INTERVAL: Duration = Duration::from_millis(1);

/// Most workers a supervisor may run.
/// cbindgen:ignore
pub const MAX_FORKS: u32 = 1024;

/// How a run is organised. See the module doc for the semantics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub forks: u32,
    pub max_requests: u64,
    pub drain_timeout_ms: u64,
    pub backoff_ms: u64,
    pub backoff_max_ms: u64,
    pub min_uptime_ms: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            forks: 0,
            max_requests: 0,
            drain_timeout_ms: 30_000,
            backoff_ms: 100,
            backoff_max_ms: 10_000,
            min_uptime_ms: 1_000,
        }
    }
}

impl Options {
    pub fn validate(&self) -> Result<()> {
        if self.forks > MAX_FORKS {
            return Err(Error::invalid(format!(
                "forks must be 0..={MAX_FORKS}, got {}",
                self.forks
            )));
        }
        if self.backoff_ms == 0 || self.backoff_max_ms < self.backoff_ms {
            return Err(Error::invalid(
                "respawn back-off must be positive and backoff_max_ms >= backoff_ms",
            ));
        }
        let day = 86_400_000;
        if self.drain_timeout_ms > day || self.backoff_max_ms > day || self.min_uptime_ms > day {
            return Err(Error::invalid("timeouts are limited to one day"));
        }
        Ok(())
    }
}

/// Where in a `fork()` a fork hook is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForkPhase {
    /// In the supervisor, just before `fork()`.
    Before = 0,
    /// In the supervisor, just after `fork()` (success or failure).
    Parent = 1,
    /// In the new worker, first thing after `fork()`.
    Child = 2,
}

/// The application run by the process model.
pub trait App {
    /// Serves one request; false means it failed (the request is answered
    /// 500 if nothing was sent yet).
    fn handle(&mut self, request: &mut Request) -> bool;
    /// In each serving process before its first request (worker index
    /// `0..forks`, 0 without forks); false ends that process (a worker exits
    /// with status 1 and counts as a crash at start).
    fn worker_start(&mut self, _index: u32) -> bool {
        true
    }
    /// In each serving process after its last request.
    fn worker_stop(&mut self, _index: u32) {}
    /// Around each `fork()` of the supervisor.
    fn fork_event(&mut self, _phase: ForkPhase) {}
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The signal that stopped it (SIGUSR1 for `request_stop`), 0 when it
    /// ended by `max_requests`.
    pub signal: i32,
}

static RUNNING: AtomicBool = AtomicBool::new(false);
/// The supervisor's pid in a worker (0 elsewhere), for `request_stop`.
static SUPERVISOR: AtomicI32 = AtomicI32::new(0);

/// Stops the run after the current request (the `exit()` of the Python API).
/// In a worker it also asks the supervisor to stop all workers.
pub fn request_stop() -> Result<()> {
    if !RUNNING.load(Ordering::SeqCst) {
        return Err(Error::state("no run in progress"));
    }
    signals::raise_local(libc::SIGUSR1);
    let sup = SUPERVISOR.load(Ordering::SeqCst);
    if sup > 0 {
        // SAFETY: plain kill(2) to our supervisor.
        unsafe { libc::kill(sup, libc::SIGUSR1) };
    }
    Ok(())
}

struct Running;
impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.store(false, Ordering::SeqCst);
    }
}

/// Signals the run handles (SIGCHLD only matters to a supervisor).
const RUN_SIGNALS: [libc::c_int; 5] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGUSR1,
    libc::SIGCHLD,
];

/// Runs `app` on `server` until a stop signal (see the module doc).
/// The server must be bound, or fd 0 must be a listening socket; otherwise,
/// started as a CGI script (fd 0 not a socket, GATEWAY_INTERFACE set), it
/// serves one CGI request (see [`cgi`]) and returns with signal 0.
pub fn run(server: &mut Server, opts: &Options, app: &mut dyn App) -> Result<Outcome> {
    opts.validate()?;
    if RUNNING.swap(true, Ordering::SeqCst) {
        return Err(Error::state("a run is already in progress in this process"));
    }
    let _running = Running;
    if cgi::is_cgi(server) {
        cgi::serve_one(server, app)?;
        return Ok(Outcome { signal: 0 });
    }
    server.prepare_listener().map_err(|e| {
        if e.status == crate::status::SMISK_ERR_STATE {
            Error::state(format!(
                "{}; or start it as a CGI script (GATEWAY_INTERFACE set, fd 0 not a socket)",
                e.message
            ))
        } else {
            e
        }
    })?;
    let mut installed = signals::Installed::new(&RUN_SIGNALS)?;
    let signal = if opts.forks == 0 {
        installed.restore_one(libc::SIGCHLD);
        serve(server, opts, app, 0, &installed, false)?
    } else {
        supervisor::supervise(server, opts, app, &mut installed)?
    };
    Ok(Outcome { signal })
}

fn now_ms() -> u64 {
    crate::fcgi::limits::now_ms()
}

/// Serves requests in this process until a stop signal, `max_requests`, or
/// an accept error; then drains. Returns the stop signal (0 if none).
fn serve(
    server: &mut Server,
    opts: &Options,
    app: &mut dyn App,
    index: u32,
    installed: &signals::Installed,
    is_worker: bool,
) -> Result<i32> {
    if !app.worker_start(index) {
        return Err(Error::new(
            SMISK_ERR_STOPPED,
            "the worker start hook reported a failure",
        ));
    }
    server.set_wait_sigmask(Some(installed.wait_mask(&signals::STOP_SIGNALS)));
    let mut served: u64 = 0;
    let stop_set = signals::set_of(&signals::STOP_SIGNALS);
    let mut last_poll: Option<Instant> = None;
    let result = loop {
        // A blocked signal is delivered inside the server's wait; under load
        // queued requests are handed out without entering it, so pending
        // signals are polled, but at most every POLL_INTERVAL: the syscall
        // would otherwise cost more than a small request's own work. A
        // request that took longer than that is always followed by a poll.
        let polled = if last_poll.map_or(true, |t| t.elapsed() >= POLL_INTERVAL) {
            last_poll = Some(Instant::now());
            signals::poll_pending(&stop_set)
        } else {
            0
        };
        let stop = signals::stop_signal(signals::take() | (1u64 << polled) & !1);
        if stop != 0 {
            break Ok(stop);
        }
        if opts.max_requests > 0 && served >= opts.max_requests {
            break Ok(0);
        }
        match server.accept(-1) {
            Ok(request) => {
                handle_one(app, request);
                served += 1;
            }
            Err(e) if matches!(e.status, SMISK_ERR_INTERRUPTED | SMISK_ERR_TIMEOUT) => {}
            Err(e) => break Err(e),
        }
    };
    // A final stop answers what waits in the backlog; a retiring worker
    // (SIGHUP restart, max_requests) leaves it to its successors.
    let final_stop = match result {
        Ok(sig) => !is_worker || (sig != 0 && sig != libc::SIGHUP),
        Err(_) => false,
    };
    drain(server, opts, app, final_stop);
    server.end_drain();
    server.set_wait_sigmask(None);
    app.worker_stop(index);
    result
}

/// Answers what the web server already sent, bounded by the drain timeout.
fn drain(server: &mut Server, opts: &Options, app: &mut dyn App, take_backlog: bool) {
    server.release_request();
    server.begin_drain(take_backlog);
    let deadline = now_ms() + opts.drain_timeout_ms;
    // Bounded by the deadline; each pass waits at most 100 ms.
    while server.connection_count() > 0 {
        let now = now_ms();
        if now >= deadline {
            let line = format!(
                "smisk[{}]: drain timeout: closing {} connection(s) still open\n",
                std::process::id(),
                server.connection_count()
            );
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            break;
        }
        match server.accept((deadline - now).min(100) as i64) {
            Ok(request) => {
                handle_one(app, request);
                server.release_request();
            }
            Err(e) if matches!(e.status, SMISK_ERR_INTERRUPTED | SMISK_ERR_TIMEOUT) => {}
            Err(_) => break,
        }
    }
    // Any further signal during the drain was already acted on.
    signals::take();
}

/// Calls the application for one request and makes sure it is answered.
fn handle_one(app: &mut dyn App, request: &mut Request) {
    let ok = catch_unwind(AssertUnwindSafe(|| app.handle(request))).unwrap_or(false);
    if !request.is_active() {
        return;
    }
    if !ok && !request.has_begun() {
        let _ = request.clear_headers();
        let _ = request.add_header(b"Status: 500 Internal Server Error");
        let _ = request.add_header(b"Content-Type: text/plain");
        let _ = request.write(b"Internal Server Error\n");
    }
    let _ = request.finish(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_validated() {
        assert!(Options::default().validate().is_ok());
        let bad = [
            Options {
                forks: MAX_FORKS + 1,
                ..Options::default()
            },
            Options {
                backoff_ms: 0,
                ..Options::default()
            },
            Options {
                backoff_ms: 500,
                backoff_max_ms: 499,
                ..Options::default()
            },
            Options {
                drain_timeout_ms: 86_400_001,
                ..Options::default()
            },
        ];
        for o in bad {
            assert_eq!(
                o.validate().unwrap_err().status,
                crate::status::SMISK_ERR_INVALID,
                "{o:?}"
            );
        }
    }

    #[test]
    fn stop_signal_priority() {
        let bit = |s: i32| 1u64 << s;
        assert_eq!(signals::stop_signal(0), 0);
        assert_eq!(signals::stop_signal(bit(libc::SIGCHLD)), 0);
        assert_eq!(
            signals::stop_signal(bit(libc::SIGUSR1) | bit(libc::SIGTERM)),
            libc::SIGTERM
        );
        assert_eq!(
            signals::stop_signal(bit(libc::SIGTERM) | bit(libc::SIGINT)),
            libc::SIGINT
        );
        assert_eq!(signals::stop_signal(bit(libc::SIGHUP)), libc::SIGHUP);
    }

    #[test]
    fn request_stop_needs_a_run() {
        assert_eq!(
            request_stop().unwrap_err().status,
            crate::status::SMISK_ERR_STATE
        );
    }
}
