//! Requests served on other threads: a [`Server`](super::Server) hands a
//! request out by value (`Server::accept_owned`), the thread that serves it
//! gives it back through a [`Returns`] queue, and the queue's eventfd wakes
//! the server's wait so the connection is watched (and its next request,
//! perhaps already buffered, found) without waiting for some other event.
//!
//! Why: one epoll loop sees every connection of a listening socket, so a
//! pool of threads that takes turns at `accept` serves any number of
//! kept-alive connections fairly, while a thread that is busy with a slow
//! request holds only that request, not a share of the connections.
//!
//! Cost: a mutex push and an 8-byte `write` per request given back; the
//! server reads the eventfd and drains the queue once per wake-up, however
//! many requests came back meanwhile.

use super::request::Request;
use crate::status::{Error, Result};
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Where served requests go back to their server (shared with `Arc`).
pub struct Returns {
    queue: Mutex<Vec<Request>>,
    /// Set with every push, cleared by `take`: lets the server skip the
    /// lock when nothing came back.
    pending: AtomicBool,
    /// Non-blocking eventfd the server watches.
    wake: OwnedFd,
}

impl Returns {
    pub(crate) fn new() -> Result<Returns> {
        // SAFETY: plain eventfd(2) call; the fd is owned immediately.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(Error::last_os("eventfd"));
        }
        Ok(Returns {
            queue: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            // SAFETY: fd is new and owned here.
            wake: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Gives a request (finished or not) back to the server it came from,
    /// from any thread. The server finishes it if the application did not,
    /// then serves its connection again.
    pub fn give_back(&self, req: Request) {
        // A poisoned lock only means another thread panicked while pushing;
        // the vector itself is intact.
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.push(req);
        drop(q);
        self.pending.store(true, Ordering::Release);
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our eventfd. It can
        // only fail with EAGAIN when the counter is near u64::MAX, and the
        // server is awake then anyway.
        unsafe { libc::write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    pub(crate) fn wake_fd(&self) -> RawFd {
        self.wake.as_raw_fd()
    }

    /// Whether something was given back since the last `take`.
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Takes everything given back so far and resets the wake-up.
    pub(crate) fn take(&self) -> Vec<Request> {
        let mut count: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64 from a non-blocking
        // eventfd (EAGAIN when it was not written: nothing to reset).
        unsafe { libc::read(self.wake.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
        self.pending.store(false, Ordering::Release);
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *q)
    }
}
