//! Stopping: `FCGX_ShutdownPending`, and the signals libfcgi handles.
//!
//! `FCGX_ShutdownPending` (any thread, or a signal handler) sets a flag
//! and writes to one process-wide eventfd that every listening socket's
//! server watches (`Server::set_interrupt_fd`): a thread waiting in
//! `FCGX_Accept_r` wakes at once, the requests already sent are served,
//! and then every `FCGX_Accept_r` returns -1. (libfcgi only sets its flag:
//! threads blocked in `accept(2)` never see it, so an idle threaded
//! program does not stop.)
//!
//! Signals, each only when the program left it at the default: SIGPIPE
//! gets a handler that does nothing (as libfcgi: a write to a closed pipe
//! fails with EPIPE instead of killing the process, and an exec'd child
//! still starts with the default), SIGUSR1 asks for a shutdown (as libfcgi),
//! and SIGTERM asks for a shutdown once the process serves a FastCGI
//! socket, where a second SIGTERM terminates it as the default would. All
//! with SA_RESTART, so a request being served sees no EINTR.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Once;

static PENDING: AtomicBool = AtomicBool::new(false);
/// The eventfd (-1 until `init`).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
static INIT: Once = Once::new();
static TERM_INSTALLED: Once = Once::new();

/// Creates the eventfd and installs the SIGPIPE and SIGUSR1 handlers (once).
pub fn init() {
    INIT.call_once(|| {
        // SAFETY: plain eventfd call; the descriptor lives as long as the
        // process (a signal handler may write to it at any time).
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        WAKE_FD.store(fd, Ordering::SeqCst);
        install_if_default(
            libc::SIGPIPE,
            on_sigpipe as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
        install_if_default(
            libc::SIGUSR1,
            on_shutdown_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    });
}

/// Installs the SIGTERM handler (once), when a FastCGI socket is served.
pub fn serving() {
    init();
    TERM_INSTALLED.call_once(|| {
        install_if_default(
            libc::SIGTERM,
            on_sigterm as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    });
}

fn install_if_default(sig: libc::c_int, handler: libc::sighandler_t) {
    // SAFETY: sigaction with valid (zeroed, then filled) structs.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(sig, std::ptr::null(), &mut old) != 0
            || old.sa_sigaction != libc::SIG_DFL
        {
            return;
        }
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

extern "C" fn on_sigpipe(_: libc::c_int) {}

extern "C" fn on_shutdown_signal(_: libc::c_int) {
    request();
}

extern "C" fn on_sigterm(sig: libc::c_int) {
    if PENDING.load(Ordering::SeqCst) {
        // The second one: what the default would have done. sigaction and
        // raise are async-signal safe.
        // SAFETY: valid struct; restores SIG_DFL and re-sends the signal,
        // which is delivered when this handler returns.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
            libc::raise(sig);
        }
        return;
    }
    request();
}

/// Asks for a shutdown and wakes every waiting `FCGX_Accept_r`. Async-
/// signal safe: an atomic store and a write(2).
pub fn request() {
    PENDING.store(true, Ordering::SeqCst);
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let one: u64 = 1;
        // SAFETY: 8 bytes from a valid u64 to our eventfd (never drained:
        // it stays readable, so every later wait ends too).
        unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    }
}

/// Whether a shutdown was asked for.
pub fn pending() -> bool {
    PENDING.load(Ordering::SeqCst)
}

/// The descriptor servers watch (-1 before `init`).
pub fn wake_fd() -> libc::c_int {
    WAKE_FD.load(Ordering::SeqCst)
}

/// `FCGX_ShutdownPending`: stop accepting once the requests in flight and
/// those already sent are served.
#[no_mangle]
pub extern "C" fn FCGX_ShutdownPending() {
    request();
}

/// `OS_ShutdownPending`: the same.
#[no_mangle]
pub extern "C" fn OS_ShutdownPending() {
    request();
}
