//! The signals of the process model, installed only for the duration of a
//! run and restored afterwards.
//!
//! Guarantees: the handler only sets a bit in an atomic word (async-signal
//! safe); handlers are installed without `SA_RESTART`, and the signals stay
//! *blocked* outside the points where the run loop waits (`epoll_pwait` in a
//! serving process, `sigtimedwait` in the supervisor). So a signal is never
//! lost between "check the flag" and "block in the wait", and a request being
//! served is never interrupted half-way (its reads and writes see no EINTR).
//! Cost: two `sigprocmask` + five `sigaction` calls per run, and one
//! `rt_sigtimedwait` with a zero timeout per millisecond of queued requests
//! (see `poll_pending`).

use crate::status::{Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};

/// Signals that stop (or, for SIGHUP with workers, restart) a run.
pub const STOP_SIGNALS: [libc::c_int; 4] =
    [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1];

/// One bit per signal number that arrived since the last `take`.
static PENDING: AtomicU64 = AtomicU64::new(0);
/// The thread running the loop (pthread_t as an integer; 0: none).
static LOOP_THREAD: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    // A lock-free atomic RMW is async-signal safe.
    if (0..64).contains(&sig) {
        PENDING.fetch_or(1u64 << sig, Ordering::SeqCst);
    }
    // A process-directed signal goes to any thread that does not block it;
    // in a program with other threads (an embedded interpreter) that is not
    // the loop thread, whose wait would then not end. Forward it: it stays
    // pending there until the wait unblocks it. pthread_self and
    // pthread_kill are async-signal safe.
    let target = LOOP_THREAD.load(Ordering::SeqCst);
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() } as u64;
    if target != 0 && target != me {
        // SAFETY: target is the loop thread, alive while LOOP_THREAD is set
        // (cleared before the run returns).
        unsafe { libc::pthread_kill(target as libc::pthread_t, sig) };
    }
}

/// Takes the set of signals that arrived (bit n = signal n).
pub fn take() -> u64 {
    PENDING.swap(0, Ordering::SeqCst)
}

/// Marks a signal as arrived without sending one (for `smisk_run_stop`).
pub fn raise_local(sig: libc::c_int) {
    on_signal(sig);
}

/// Takes one of `sigs` that is pending (blocked, not yet delivered) without
/// waiting; 0 if none. The serving loop calls this between requests: under
/// load the responder may hand out requests already queued without ever
/// entering its wait, where the signals would be delivered. One
/// `rt_sigtimedwait` syscall with a zero timeout.
pub fn poll_pending(set: &libc::sigset_t) -> libc::c_int {
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid set and timespec; no siginfo wanted.
    let sig = unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), &zero) };
    sig.max(0)
}

/// The stop signal among `bits`, by priority: SIGINT (so an interactive
/// interrupt is reported as such), SIGTERM, SIGHUP, SIGUSR1. 0 if none.
pub fn stop_signal(bits: u64) -> libc::c_int {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGUSR1] {
        if bits & (1u64 << sig) != 0 {
            return sig;
        }
    }
    0
}

/// A set built from signal numbers.
pub fn set_of(sigs: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is a valid sigset_t; the numbers are valid signals.
    unsafe {
        libc::sigemptyset(&mut set);
        for &s in sigs {
            libc::sigaddset(&mut set, s);
        }
    }
    set
}

/// Installed handlers and blocked mask; `Drop` restores what was there.
pub struct Installed {
    saved: Vec<(libc::c_int, libc::sigaction)>,
    old_mask: libc::sigset_t,
}

impl Installed {
    /// Blocks `sigs`, then installs the flag handler for them (no
    /// `SA_RESTART`). Signals that arrived before are not reported.
    pub fn new(sigs: &[libc::c_int]) -> Result<Installed> {
        let block = set_of(sigs);
        // SAFETY: sigset_t is plain data.
        let mut old_mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid set pointers.
        if unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old_mask) } != 0 {
            return Err(Error::last_os("pthread_sigmask"));
        }
        let mut me = Installed {
            saved: Vec::with_capacity(sigs.len()),
            old_mask,
        };
        for &sig in sigs {
            // SAFETY: sigaction is plain data; the handler is an extern "C"
            // fn that only touches an atomic.
            let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
            act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            act.sa_flags = 0;
            // SAFETY: valid pointer to the mask inside act.
            unsafe { libc::sigemptyset(&mut act.sa_mask) };
            // SAFETY: as above.
            let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: valid act / old pointers.
            if unsafe { libc::sigaction(sig, &act, &mut old) } != 0 {
                return Err(Error::last_os("sigaction")); // Drop restores the rest
            }
            me.saved.push((sig, old));
        }
        // SAFETY: pthread_self has no preconditions.
        LOOP_THREAD.store(unsafe { libc::pthread_self() } as u64, Ordering::SeqCst);
        take();
        Ok(me)
    }

    /// The mask to wait with: the caller's original mask minus `sigs`.
    pub fn wait_mask(&self, sigs: &[libc::c_int]) -> libc::sigset_t {
        let mut m = self.old_mask;
        for &s in sigs {
            // SAFETY: m is a valid initialised sigset_t.
            unsafe { libc::sigdelset(&mut m, s) };
        }
        m
    }

    /// Restores one signal's previous action (and leaves it blocked as the
    /// caller had it), e.g. SIGCHLD in a worker.
    pub fn restore_one(&mut self, sig: libc::c_int) {
        if let Some(i) = self.saved.iter().position(|(s, _)| *s == sig) {
            let (_, old) = self.saved.remove(i);
            // SAFETY: restoring an action previously returned by sigaction.
            unsafe { libc::sigaction(sig, &old, std::ptr::null_mut()) };
            // SAFETY: valid sigset pointer.
            let was_blocked = unsafe { libc::sigismember(&self.old_mask, sig) } == 1;
            if !was_blocked {
                let set = set_of(&[sig]);
                // SAFETY: valid set.
                unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
            }
        }
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        // Unblock first, while the flag handler is still in place: a signal
        // that arrived during the last moments of the run (already acted on)
        // is absorbed here instead of hitting the previous handler (which
        // could be SIG_DFL and kill the process after a clean stop).
        // SAFETY: restoring the mask saved in `new`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut()) };
        LOOP_THREAD.store(0, Ordering::SeqCst);
        for (sig, old) in self.saved.drain(..).rev() {
            // SAFETY: restoring an action previously returned by sigaction.
            unsafe { libc::sigaction(sig, &old, std::ptr::null_mut()) };
        }
        take();
    }
}
