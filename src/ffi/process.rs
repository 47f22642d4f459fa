//! C API of the process model: `smisk_run` (serve in this process or
//! supervise prefork workers, with signals for graceful stop and restart)
//! and `smisk_run_stop`.

#![allow(non_camel_case_types)]

use super::{arg_mut, guard};
use crate::fcgi::{Request, Server};
use crate::process::{self, App, ForkPhase, Options};
use crate::status::Error;
use libc::{c_int, c_void};

/// Called for each request: serve it through the smisk_request_* /
/// smisk_response_* functions. Return 0 on success; non-zero means the
/// request failed (it is answered "500 Internal Server Error" if nothing was
/// sent yet). The request is finished after the call if the handler did not
/// finish it. The request handle is valid only during the call.
pub type smisk_handler_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, request: *mut Request) -> c_int>;

/// Called in each serving process before its first request
/// (worker_index 0..forks-1, or 0 without forks). Return 0 to go on;
/// non-zero ends that process (a worker exits with status 1 and counts as a
/// crash at start; without forks smisk_run() fails with SMISK_ERR_STOPPED).
pub type smisk_worker_start_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, worker_index: c_int) -> c_int>;

/// Called in each serving process after its last request.
pub type smisk_worker_stop_fn = Option<unsafe extern "C" fn(ctx: *mut c_void, worker_index: c_int)>;

/// Called by the supervisor around each fork(): phase is
/// SMISK_FORK_BEFORE (in the supervisor, before fork()),
/// SMISK_FORK_PARENT (in the supervisor, after fork()) or SMISK_FORK_CHILD
/// (first thing in the new worker). An embedded interpreter does its
/// before/after-fork handling here (CPython: PyOS_BeforeFork,
/// PyOS_AfterFork_Parent, PyOS_AfterFork_Child).
pub type smisk_fork_fn = Option<unsafe extern "C" fn(ctx: *mut c_void, phase: c_int)>;

/// Most worker processes `smisk_run_options.forks` accepts.
pub const SMISK_MAX_FORKS: u32 = 1024;

/// smisk_fork_fn phase: in the supervisor, just before fork().
pub const SMISK_FORK_BEFORE: c_int = 0;
/// smisk_fork_fn phase: in the supervisor, just after fork().
pub const SMISK_FORK_PARENT: c_int = 1;
/// smisk_fork_fn phase: in the new worker, first thing after fork().
pub const SMISK_FORK_CHILD: c_int = 2;

/// Options of smisk_run(). Fill with smisk_run_options_init() first, then
/// change the fields you need (so fields added later get their defaults).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct smisk_run_options {
    /// 0: serve in the calling process. N (1..1024): the calling process
    /// becomes a supervisor that does not serve, with N worker processes.
    pub forks: c_int,
    /// Recycle a worker after this many requests (0: never). Without forks
    /// smisk_run() returns after that many requests.
    pub max_requests: i64,
    /// On a graceful stop or restart, how long requests already received
    /// may take to complete (default 30000). Then workers are killed.
    pub drain_timeout_ms: i64,
    /// First delay before replacing a worker that crashed at start
    /// (default 100); doubles with each further crash, up to
    /// respawn_backoff_max_ms (default 10000).
    pub respawn_backoff_ms: i64,
    /// Upper bound of the respawn delay.
    pub respawn_backoff_max_ms: i64,
    /// A worker that ends abnormally sooner than this after its start counts
    /// as a crash at start (default 1000).
    pub min_uptime_ms: i64,
    /// Optional (NULL: none).
    pub worker_start: smisk_worker_start_fn,
    /// Optional (NULL: none).
    pub worker_stop: smisk_worker_stop_fn,
    /// Optional (NULL: none).
    pub on_fork: smisk_fork_fn,
    /// Passed to worker_start, worker_stop and on_fork.
    pub hook_ctx: *mut c_void,
}

fn defaults() -> smisk_run_options {
    let d = Options::default();
    smisk_run_options {
        forks: 0,
        max_requests: 0,
        drain_timeout_ms: d.drain_timeout_ms as i64,
        respawn_backoff_ms: d.backoff_ms as i64,
        respawn_backoff_max_ms: d.backoff_max_ms as i64,
        min_uptime_ms: d.min_uptime_ms as i64,
        worker_start: None,
        worker_stop: None,
        on_fork: None,
        hook_ctx: std::ptr::null_mut(),
    }
}

/// Fills *options with the defaults (no forks, no recycling, 30 s drain,
/// 100 ms .. 10 s respawn back-off, 1 s minimum uptime, no hooks).
#[no_mangle]
pub unsafe extern "C" fn smisk_run_options_init(
    options: *mut smisk_run_options,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `options` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            *arg_mut(options, "options")? = defaults();
            Ok(())
        })
    }
}

fn non_negative(v: i64, what: &str) -> crate::Result<u64> {
    u64::try_from(v).map_err(|_| Error::invalid(format!("{what} must not be negative, got {v}")))
}

fn convert(o: &smisk_run_options) -> crate::Result<Options> {
    let forks = u32::try_from(o.forks)
        .map_err(|_| Error::invalid(format!("forks must not be negative, got {}", o.forks)))?;
    let opts = Options {
        forks,
        max_requests: non_negative(o.max_requests, "max_requests")?,
        drain_timeout_ms: non_negative(o.drain_timeout_ms, "drain_timeout_ms")?,
        backoff_ms: non_negative(o.respawn_backoff_ms, "respawn_backoff_ms")?,
        backoff_max_ms: non_negative(o.respawn_backoff_max_ms, "respawn_backoff_max_ms")?,
        min_uptime_ms: non_negative(o.min_uptime_ms, "min_uptime_ms")?,
    };
    opts.validate()?;
    Ok(opts)
}

struct CApp {
    handler: unsafe extern "C" fn(*mut c_void, *mut Request) -> c_int,
    ctx: *mut c_void,
    hooks: smisk_run_options,
}

impl App for CApp {
    fn handle(&mut self, request: &mut Request) -> bool {
        // SAFETY: the caller promised a valid handler; the request pointer is
        // valid for the duration of the call.
        unsafe { (self.handler)(self.ctx, request) == 0 }
    }
    fn worker_start(&mut self, index: u32) -> bool {
        match self.hooks.worker_start {
            // SAFETY: caller-supplied hook with its own context.
            Some(f) => unsafe { f(self.hooks.hook_ctx, index as c_int) == 0 },
            None => true,
        }
    }
    fn worker_stop(&mut self, index: u32) {
        if let Some(f) = self.hooks.worker_stop {
            // SAFETY: as above.
            unsafe { f(self.hooks.hook_ctx, index as c_int) }
        }
    }
    fn fork_event(&mut self, phase: ForkPhase) {
        if let Some(f) = self.hooks.on_fork {
            // SAFETY: as above.
            unsafe { f(self.hooks.hook_ctx, phase as c_int) }
        }
    }
}

/// Serves requests from server until a signal stops the run.
///
/// options may be NULL for the defaults. handler is called for each request
/// with ctx. The server must be bound (smisk_server_bind() or
/// smisk_server_adopt_fd()), or fd 0 must be a listening socket (start by a
/// web server or spawn-fcgi); otherwise SMISK_ERR_STATE.
///
/// With options->forks == 0 requests are served in this process. With
/// forks == N the calling process becomes a supervisor that forks N workers
/// (they share the listening socket), replaces workers that die (with
/// back-off for workers that crash right after start) and never serves
/// itself. Workers end with _exit() after worker_stop (C stdio buffers are
/// flushed first); smisk_run() returns only in the calling process.
///
/// Signals, handled only while smisk_run() runs (previous handlers are
/// restored when it returns): SIGTERM and SIGINT stop gracefully (no new
/// connections; requests already received and the one in progress are
/// answered, within drain_timeout_ms; then workers are killed). SIGHUP
/// restarts the workers gracefully (new workers first; the listening socket
/// stays open, so no connection is refused); without forks it stops like
/// SIGTERM. SIGUSR1 or smisk_run_stop() stops after the current request.
/// These signals (and SIGCHLD in the supervisor) are blocked while a handler
/// runs and delivered between requests; a program the handler starts
/// inherits that signal mask, so reset it after fork() if it matters.
///
/// On return (SMISK_OK) *out_signal, if out_signal is not NULL, receives the
/// signal that stopped the run (SIGINT, SIGTERM, SIGHUP, SIGUSR1; SIGUSR1
/// for smisk_run_stop()), or 0 when max_requests ended a run without forks.
/// Errors: SMISK_ERR_NULL (server or handler NULL), SMISK_ERR_INVALID (an
/// option out of range), SMISK_ERR_STATE (no socket, or a run is already in
/// progress in this process), SMISK_ERR_STOPPED (worker_start failed without
/// forks), SMISK_ERR_IO (an OS call failed).
#[no_mangle]
pub unsafe extern "C" fn smisk_run(
    server: *mut Server,
    options: *const smisk_run_options,
    handler: smisk_handler_fn,
    ctx: *mut c_void,
    out_signal: *mut c_int,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `server`, `options`, `handler`,
    // `ctx` and `out_signal` are NULL or valid for the stated lengths and lifetimes; the arg_*
    // helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let server = arg_mut(server, "server")?;
            let handler = handler
                .ok_or_else(|| Error::new(crate::status::SMISK_ERR_NULL, "handler is NULL"))?;
            let raw = if options.is_null() {
                defaults()
            } else {
                *options
            };
            let opts = convert(&raw)?;
            let mut app = CApp {
                handler,
                ctx,
                hooks: raw,
            };
            let outcome = process::run(server, &opts, &mut app)?;
            if let Some(out) = out_signal.as_mut() {
                *out = outcome.signal;
            }
            Ok(())
        })
    }
}

/// Asks the run in progress in this process to stop after the current
/// request (the exit() of the Python API); callable from a handler. In a
/// worker it also asks the supervisor to stop every worker. Reported by
/// smisk_run() as SIGUSR1. SMISK_ERR_STATE when no run is in progress.
#[no_mangle]
pub unsafe extern "C" fn smisk_run_stop() -> crate::smisk_status {
    guard(process::request_stop)
}
