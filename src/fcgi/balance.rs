//! Fair workers: how prefork workers sharing one listening socket keep the
//! web server's kept-alive connections spread evenly.
//!
//! Why: the kernel hands a new connection to whichever worker calls accept
//! first, and a web server's upstream pool (nginx `keepalive`) then keeps
//! those connections for a long time. One worker can end up with most of
//! them, and after a worker is killed the survivors keep its share: its
//! replacement starts with none and gets none.
//!
//! Policy: every worker publishes how many connections it holds, and how
//! many requests it has served, in a table the supervisor shares with all
//! of them (one `mmap` page, made before the first fork). A worker's share
//! of connections is `ceil(total / workers)`.
//! * A worker holding more than its share + `ACCEPT_SLACK` stops watching
//!   the listening socket (the others accept), rechecking every
//!   `RECHECK_MS`; a connection that has waited in the backlog through two
//!   checks is accepted anyway, so a busy peer never strands it.
//! * A worker holding more than its share + `SHED_SLACK` marks kept-alive
//!   connections down to its share for release (`Conn::release`).
//! * Equal connection counts are not equal work: nginx reuses its most
//!   recently used upstream connection first, so below saturation a few
//!   connections carry most requests. A worker that served more than
//!   `HOT_FACTOR` times its share of all requests in the last
//!   `RECHECK_MS` (at least `HOT_MIN_REQUESTS` of them) does not accept,
//!   and releases the connection of its next request.
//! * A released connection is closed after an answer, never between
//!   requests (the web server may be sending one into it then), and that
//!   answer's last write carries an empty GET_VALUES_RESULT record after
//!   END_REQUEST: nginx caches an upstream connection only when
//!   END_REQUEST ends its read, so it drops this one instead of sending a
//!   request into it as it closes (`Request::finish`). Only nginx (by its
//!   `SERVER_SOFTWARE`) gets connections back: with Apache's
//!   mod_proxy_fcgi no release is safe, so its connections stay.
//!
//! Cost: one relaxed atomic store per accepted or closed connection; the
//! share (one load per worker) is computed at most every `RECHECK_MS`.

use std::sync::atomic::{AtomicU32, Ordering};

/// A worker may hold this many connections above its share and still accept.
pub const ACCEPT_SLACK: usize = 0;
/// Above its share by more than this, a worker marks connections for release.
pub const SHED_SLACK: usize = 1;
/// How often the share is recomputed.
pub const RECHECK_MS: u64 = 100;
/// A worker serving more than this times its share of requests is hot.
pub const HOT_FACTOR: f64 = 1.2;
/// Fewer requests than this in a recheck period decide nothing.
pub const HOT_MIN_REQUESTS: u64 = 40;

/// The shared table: `[running workers, connections of each worker...,
/// requests served by each worker...]`.
pub struct Table {
    ptr: *mut AtomicU32,
    slots: usize,
}

// SAFETY: the table is a shared anonymous mapping of atomics; every access
// is an atomic operation.
unsafe impl Send for Table {}

impl Table {
    /// Maps a table for `workers` workers, shared with processes forked
    /// afterwards. None if the mapping fails (the workers then run without
    /// balancing).
    pub fn new(workers: usize) -> Option<Table> {
        let slots = 2 * workers + 1;
        let len = slots * std::mem::size_of::<AtomicU32>();
        // SAFETY: a fresh anonymous shared mapping; zero-filled by the kernel,
        // which is a valid AtomicU32 bit pattern.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return None;
        }
        Some(Table {
            ptr: p.cast(),
            slots,
        })
    }

    fn at(&self, i: usize) -> &AtomicU32 {
        assert!(i < self.slots);
        // SAFETY: i is in bounds of the mapping, which lives as long as self.
        unsafe { &*self.ptr.add(i) }
    }

    /// The supervisor: how many workers run now.
    pub fn set_running(&self, n: usize) {
        self.at(0).store(n as u32, Ordering::Relaxed);
    }

    /// The supervisor: a worker slot is empty (its process ended).
    pub fn clear(&self, worker: usize) {
        self.at(worker + 1).store(0, Ordering::Relaxed);
    }

    /// The view of one worker.
    pub fn worker(&self, index: usize) -> Balance {
        assert!(index < self.slots / 2);
        Balance {
            ptr: self.ptr,
            slots: self.slots,
            index,
        }
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, with its length.
        unsafe {
            libc::munmap(
                self.ptr.cast(),
                self.slots * std::mem::size_of::<AtomicU32>(),
            )
        };
    }
}

/// One worker's view of the table (valid in a forked worker, whose copy of
/// the mapping lives until it exits).
#[derive(Clone, Copy)]
pub struct Balance {
    ptr: *mut AtomicU32,
    slots: usize,
    index: usize,
}

// SAFETY: as for Table.
unsafe impl Send for Balance {}

impl Balance {
    fn at(&self, i: usize) -> &AtomicU32 {
        debug_assert!(i < self.slots);
        // SAFETY: in bounds of a mapping that outlives the worker's server.
        unsafe { &*self.ptr.add(i) }
    }

    /// Publishes how many connections this worker holds.
    pub fn publish(&self, live: usize) {
        self.at(self.index + 1)
            .store(live.min(u32::MAX as usize) as u32, Ordering::Relaxed);
    }

    fn workers(&self) -> usize {
        self.slots / 2
    }

    fn running(&self) -> usize {
        (self.at(0).load(Ordering::Relaxed) as usize).max(1)
    }

    /// This worker's share of all connections: `ceil(total / running)`.
    pub fn share(&self) -> usize {
        let total: usize = (1..=self.workers())
            .map(|i| self.at(i).load(Ordering::Relaxed) as usize)
            .sum();
        total.div_ceil(self.running())
    }

    /// Publishes how many requests this worker has served (wrapping).
    pub fn publish_served(&self, served: u32) {
        self.at(1 + self.workers() + self.index)
            .store(served, Ordering::Relaxed);
    }

    /// Whether this worker served more than `HOT_FACTOR` times its share
    /// of the requests all workers served since the last call; `seen`
    /// keeps the counters of that call.
    pub fn is_hot(&self, seen: &mut Vec<u32>) -> bool {
        let n = self.workers();
        seen.resize(n, 0);
        let (mut total, mut mine) = (0u64, 0u64);
        for (i, last) in seen.iter_mut().enumerate() {
            let now = self.at(1 + n + i).load(Ordering::Relaxed);
            let delta = u64::from(now.wrapping_sub(*last));
            *last = now;
            total += delta;
            if i == self.index {
                mine = delta;
            }
        }
        total >= HOT_MIN_REQUESTS && mine as f64 * self.running() as f64 > HOT_FACTOR * total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_the_rounded_up_average_of_the_running_workers() {
        let t = Table::new(4).unwrap();
        t.set_running(4);
        let w: Vec<Balance> = (0..4).map(|i| t.worker(i)).collect();
        for (b, n) in w.iter().zip([17, 10, 3, 2]) {
            b.publish(n);
        }
        assert_eq!(w[0].share(), 8); // 32 / 4
        t.clear(0);
        t.set_running(3);
        assert_eq!(w[1].share(), 5); // 15 / 3
                                     // A table seen from a forked child is the same memory.
                                     // SAFETY: fork in a test; the child only stores and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            w[3].publish(30);
            // SAFETY: end the child at once.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(w[1].share(), (10 + 3 + 30usize).div_ceil(3));
    }

    #[test]
    fn a_worker_serving_far_more_than_its_share_of_requests_is_hot() {
        let t = Table::new(2).unwrap();
        t.set_running(2);
        let (a, b) = (t.worker(0), t.worker(1));
        let (mut seen_a, mut seen_b) = (Vec::new(), Vec::new());
        assert!(!a.is_hot(&mut seen_a) && !b.is_hot(&mut seen_b));
        a.publish_served(70);
        b.publish_served(30);
        assert!(a.is_hot(&mut seen_a), "70 of 100 with 2 workers");
        assert!(!b.is_hot(&mut seen_b));
        a.publish_served(70 + 55);
        b.publish_served(30 + 45);
        assert!(!a.is_hot(&mut seen_a), "55 of 100 is within 1.2x");
        // Counters wrap: a window across the wrap counts what it saw.
        a.publish_served(u32::MAX - 10);
        b.publish_served(75 + 1000);
        a.is_hot(&mut seen_a); // moves the window to just before the wrap
        a.publish_served(50); // 61 requests across the wrap
        b.publish_served(75 + 1000 + 10);
        assert!(a.is_hot(&mut seen_a));
        // Too few requests decide nothing.
        b.publish_served(75 + 1000 + 10 + 30);
        assert!(!a.is_hot(&mut seen_a), "30 requests in the window");
    }
}
