//! One smisk server per listening socket, shared by every request slot
//! (and thread) that accepts on it.
//!
//! libfcgi gives each `FCGX_Request` its own connection and reads it until
//! the web server closes it, so a kept-alive connection holds a thread
//! while the requests of the others wait (with one thread: forever). Here
//! all connections of a socket belong to one [`Server`]: a thread in
//! `FCGX_Accept_r` takes the server's lock and waits in its epoll loop for
//! whichever connection has a request; the request is handed out by value
//! (`Server::accept_owned`) and the lock released, so the next thread can
//! wait while this one serves. A finished request goes straight back to the
//! server when its lock is free, else through the server's `Returns` queue,
//! whose eventfd wakes the waiting thread. Programs that serialise their
//! accepts with a mutex of their own (libfcgi's threaded example does) work
//! the same: whoever waits sees every connection.
//!
//! The server adopts a duplicate of the program's descriptor (close-on-exec),
//! so the program may close or reuse its own. A socket is found by its
//! descriptor number, and checked by its device and inode when a slot first
//! uses it, so a number reused for another socket gets a server of its own.
//!
//! Fork: a child gets copies of the parent's servers, with the parent's
//! connections. `pthread_atfork` counts generations; a server of an older
//! generation is reset in the child (its copies of the parent's connections
//! closed, nothing written to them) before the child accepts on it. If a
//! parent thread held its lock at the fork, the copy is abandoned and a
//! fresh server made.

use crate::shutdown;
use smisk::fcgi::handoff::Returns;
use smisk::fcgi::{Request, Server};
use smisk::status::{SMISK_ERR_INTERRUPTED, SMISK_ERR_TIMEOUT};
use std::cell::UnsafeCell;
use std::os::unix::io::RawFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, TryLockError};

/// Generation of this process: incremented in every child of a fork.
static FORK_GEN: AtomicU64 = AtomicU64::new(0);
static ATFORK: Once = Once::new();

/// The registry of shared servers. A pthread mutex, not std's: the atfork
/// handlers hold it across `fork` so a child never inherits it locked.
struct Registry {
    lock: UnsafeCell<libc::pthread_mutex_t>,
    servers: UnsafeCell<Vec<Arc<Shared>>>,
}

// SAFETY: `servers` is only touched with `lock` held (see `with_registry`).
unsafe impl Sync for Registry {}

static REGISTRY: Registry = Registry {
    lock: UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER),
    servers: UnsafeCell::new(Vec::new()),
};

fn with_registry<T>(f: impl FnOnce(&mut Vec<Arc<Shared>>) -> T) -> T {
    struct Unlock;
    impl Drop for Unlock {
        fn drop(&mut self) {
            // SAFETY: locked below by this thread.
            unsafe { libc::pthread_mutex_unlock(REGISTRY.lock.get()) };
        }
    }
    // SAFETY: a statically initialised mutex; held for the closure only
    // (unlocked by `Unlock` even if it panics).
    unsafe { libc::pthread_mutex_lock(REGISTRY.lock.get()) };
    let _unlock = Unlock;
    // SAFETY: the lock gives this thread exclusive access.
    f(unsafe { &mut *REGISTRY.servers.get() })
}

extern "C" fn before_fork() {
    // SAFETY: the registry mutex, released by the two handlers below.
    unsafe { libc::pthread_mutex_lock(REGISTRY.lock.get()) };
}

extern "C" fn after_fork_parent() {
    // SAFETY: locked by before_fork in this thread.
    unsafe { libc::pthread_mutex_unlock(REGISTRY.lock.get()) };
}

extern "C" fn after_fork_child() {
    FORK_GEN.fetch_add(1, Ordering::SeqCst);
    // SAFETY: locked by before_fork in the thread the child is a copy of.
    unsafe { libc::pthread_mutex_unlock(REGISTRY.lock.get()) };
}

/// Registers the fork handlers (once).
pub fn init() {
    ATFORK.call_once(|| {
        // SAFETY: registers three valid extern "C" handlers.
        unsafe {
            libc::pthread_atfork(
                Some(before_fork),
                Some(after_fork_parent),
                Some(after_fork_child),
            )
        };
    });
}

/// This process's fork generation.
pub fn generation() -> u64 {
    FORK_GEN.load(Ordering::SeqCst)
}

/// The server of one listening socket and what its slots share.
pub struct Shared {
    /// The program's descriptor number, and the socket's (device, inode).
    fd: RawFd,
    ident: (u64, u64),
    generation: u64,
    server: Mutex<Server>,
    returns: Arc<Returns>,
    /// Requests handed out and not yet given back.
    outstanding: AtomicUsize,
    /// Monotonic ms after which a shutdown stops waiting for requests still
    /// arriving (0: no shutdown yet).
    drain_until: AtomicU64,
    read_timeout_ms: u64,
}

/// Why `accept` returned no request: the `FCGX_Accept_r` result.
pub type AcceptError = libc::c_int;

fn identity(fd: RawFd) -> Option<(u64, u64)> {
    // SAFETY: fstat into a zeroed buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid buffer; an invalid fd only makes fstat fail.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return None;
    }
    Some((st.st_dev, st.st_ino))
}

fn now_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

fn neg_errno() -> AcceptError {
    match std::io::Error::last_os_error().raw_os_error() {
        Some(e) if e > 0 => -e,
        _ => crate::abi::ERR_NO_ERRNO,
    }
}

impl Shared {
    fn new(fd: RawFd, ident: (u64, u64)) -> Result<Shared, AcceptError> {
        if !smisk::fcgi::addr::is_listening_socket(fd) {
            // libfcgi's accept(2) would fail the same way.
            return Err(if identity(fd).is_none() {
                -libc::EBADF
            } else {
                -libc::ENOTSOCK
            });
        }
        // SAFETY: duplicates a valid descriptor; the copy is ours.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        if dup < 0 {
            return Err(neg_errno());
        }
        let limits = crate::config::limits();
        let mut server = Server::new();
        server.set_limits(limits);
        server.set_roles(true, true);
        if let Err(e) = server.adopt_listener(dup) {
            // SAFETY: adopt_listener leaves the descriptor to us on error.
            unsafe { libc::close(dup) };
            return Err(e.errno.map_or(crate::abi::ERR_NO_ERRNO, |e| -e));
        }
        let returns = server
            .returns()
            .map_err(|e| e.errno.map_or(-libc::EMFILE, |e| -e))?;
        shutdown::serving();
        server.set_interrupt_fd(Some(shutdown::wake_fd()));
        Ok(Shared {
            fd,
            ident,
            generation: generation(),
            server: Mutex::new(server),
            returns,
            outstanding: AtomicUsize::new(0),
            drain_until: AtomicU64::new(0),
            read_timeout_ms: limits.read_timeout_ms,
        })
    }

    /// A server of an older generation, reset for this child.
    fn adopted(old: &Shared, mut server: Server) -> Result<Shared, AcceptError> {
        server.reset_after_fork();
        let returns = server
            .returns()
            .map_err(|e| e.errno.map_or(-libc::EMFILE, |e| -e))?;
        server.set_interrupt_fd(Some(shutdown::wake_fd()));
        Ok(Shared {
            fd: old.fd,
            ident: old.ident,
            generation: generation(),
            server: Mutex::new(server),
            returns,
            outstanding: AtomicUsize::new(0),
            drain_until: AtomicU64::new(0),
            read_timeout_ms: old.read_timeout_ms,
        })
    }

    /// Whether this server serves descriptor `fd` in this process.
    pub fn serves(&self, fd: RawFd) -> bool {
        self.fd == fd && self.generation == generation()
    }

    fn lock(&self) -> MutexGuard<'_, Server> {
        // A thread that panicked inside the server left it consistent
        // (every state change completes before anything that can panic).
        self.server.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the next request. `Err`: what `FCGX_Accept_r` returns (-1
    /// once a shutdown has drained; -EINTR for a signal with
    /// `FCGI_FAIL_ACCEPT_ON_INTR`; -errno for an error).
    pub fn accept(&self, fail_on_intr: bool) -> Result<Request, AcceptError> {
        let mut server = self.lock();
        // Each pass waits for events or returns; a wait is unbounded only
        // while no shutdown is asked for (FCGX_Accept_r blocks by contract).
        loop {
            let mut timeout: i64 = -1;
            if shutdown::pending() {
                if !server.is_draining() {
                    server.set_interrupt_fd(None);
                    server.begin_drain(true);
                    self.drain_until
                        .store(now_ms() + self.read_timeout_ms, Ordering::SeqCst);
                }
                // Connections other than those out with a request: requests
                // being received, or queued.
                let others = server
                    .connection_count()
                    .saturating_sub(self.outstanding.load(Ordering::SeqCst));
                let left = self
                    .drain_until
                    .load(Ordering::SeqCst)
                    .saturating_sub(now_ms());
                if others == 0 || left == 0 {
                    return Err(-1);
                }
                timeout = left.min(1000) as i64;
            }
            match server.accept_owned(timeout) {
                Ok(req) => {
                    self.outstanding.fetch_add(1, Ordering::SeqCst);
                    return Ok(req);
                }
                Err(e) if e.status == SMISK_ERR_TIMEOUT => {}
                Err(e) if e.status == SMISK_ERR_INTERRUPTED => {
                    if fail_on_intr && !shutdown::pending() {
                        return Err(-libc::EINTR);
                    }
                }
                Err(e) => return Err(e.errno.map_or(crate::abi::ERR_NO_ERRNO, |e| -e)),
            }
        }
    }

    /// Gives a request handed out by `accept` back (finished or not).
    pub fn give_back(&self, req: Request) {
        self.outstanding.fetch_sub(1, Ordering::SeqCst);
        match self.server.try_lock() {
            Ok(mut server) => server.give_back(req),
            Err(TryLockError::Poisoned(p)) => p.into_inner().give_back(req),
            // Another thread waits in the server: the queue wakes it.
            Err(TryLockError::WouldBlock) => self.returns.give_back(req),
        }
    }
}

/// The shared server for listening descriptor `fd`, made at its first use.
pub fn for_socket(fd: RawFd) -> Result<Arc<Shared>, AcceptError> {
    init();
    let ident = identity(fd).ok_or(-libc::EBADF)?;
    let gen = generation();
    with_registry(|servers| {
        if let Some(i) = servers.iter().position(|s| s.fd == fd) {
            let s = servers.swap_remove(i);
            if s.generation == gen {
                if s.ident == ident {
                    servers.push(s.clone());
                    return Ok(s);
                }
                // The number now names another socket: the old server goes
                // when the slots still using it let go.
            } else {
                // A copy of the parent's server (see the module doc).
                match s.server.try_lock() {
                    Ok(mut old) if s.ident == ident => {
                        let server = std::mem::take(&mut *old);
                        drop(old);
                        let fresh = Arc::new(Shared::adopted(&s, server)?);
                        servers.push(fresh.clone());
                        return Ok(fresh);
                    }
                    Ok(mut old) => old.reset_after_fork(),
                    // Locked by a thread of the parent: left as it is.
                    Err(_) => {}
                }
                // Never dropped here: dropping could touch the parent's
                // connections.
                std::mem::forget(s);
            }
        }
        let fresh = Arc::new(Shared::new(fd, ident)?);
        servers.push(fresh.clone());
        Ok(fresh)
    })
}
