//! A cheap, thread-safe pseudo-random source for the GC coin flip.
//!
//! SplitMix64 over one atomic counter, seeded from the OS CSPRNG and reseeded
//! in a child after `fork` (a `pthread_atfork` handler bumps a generation
//! counter), so prefork workers do not flip the same coins. Also caches the
//! process id the same way. Used for the GC coin flip and for temp-file name
//! uniqueness (with the pid; `O_EXCL` catches any collision); never for
//! secrets, which come from `os_random`. Cost per draw: two atomic loads, one
//! atomic add and a few multiplies; no system call.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Once;

const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

pub(crate) struct Rng {
    state: AtomicU64,
    generation: AtomicU64,
}

/// Incremented in every child process right after `fork`.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);
/// This process's id, cached (0: not known yet, or forgotten after fork).
static PID: AtomicU32 = AtomicU32::new(0);
static ATFORK: Once = Once::new();

extern "C" fn after_fork_in_child() {
    // Only atomic stores: async-signal-safe, as a fork child handler must be.
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
    PID.store(0, Ordering::Relaxed);
}

fn register_atfork() {
    ATFORK.call_once(|| {
        // SAFETY: registers a handler that only touches static atomics.
        // Failure (ENOMEM) only means children keep the parent's sequence.
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    });
}

/// The process id without a system call per use (glibc no longer caches
/// it); correct in fork children thanks to the atfork handler.
pub(crate) fn pid() -> u32 {
    register_atfork();
    match PID.load(Ordering::Relaxed) {
        0 => {
            let p = std::process::id();
            PID.store(p, Ordering::Relaxed);
            p
        }
        p => p,
    }
}

fn seed() -> u64 {
    let mut raw = [0u8; 8];
    // Without the CSPRNG fall back to time and pid: the draw only decides when
    // GC runs, so a predictable seed costs nothing but fairness.
    if crate::uid::os_random(&mut raw).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        return t ^ u64::from(std::process::id()).rotate_left(32);
    }
    u64::from_le_bytes(raw)
}

impl Rng {
    pub(crate) fn new() -> Rng {
        register_atfork();
        Rng {
            state: AtomicU64::new(seed()),
            generation: AtomicU64::new(FORK_GENERATION.load(Ordering::Relaxed)),
        }
    }

    pub(crate) fn next_u64(&self) -> u64 {
        let generation = FORK_GENERATION.load(Ordering::Relaxed);
        if self.generation.load(Ordering::Relaxed) != generation {
            self.generation.store(generation, Ordering::Relaxed);
            self.state.store(seed(), Ordering::Relaxed);
        }
        let mut z = self
            .state
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability `p` (`p <= 0` never, `p >= 1` always).
    pub(crate) fn chance(&self, p: f64) -> bool {
        if p.is_nan() || p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        // 53 random bits give a uniform double in [0, 1).
        let x = (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        x < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chance_matches_probability() {
        let r = Rng::new();
        assert!(!(0..1000).any(|_| r.chance(0.0)));
        assert!(!(0..1000).any(|_| r.chance(f64::NAN)));
        assert!((0..1000).all(|_| r.chance(1.0)));
        let hits = (0..100_000).filter(|_| r.chance(0.1)).count();
        // Mean 10000, sd ~95: 9000..11000 is more than 10 sd wide.
        assert!((9_000..11_000).contains(&hits), "{hits}");
    }

    #[test]
    fn a_forked_child_draws_a_different_sequence() {
        let r = Rng::new();
        assert_eq!(pid(), std::process::id());
        let mut pipe = [0i32; 2];
        // SAFETY: pipe fills two fds.
        assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
        // SAFETY: the child only draws (atomics, getrandom), writes 8 bytes
        // and _exits; it allocates nothing.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let mut v = r.next_u64().to_le_bytes();
            if super::pid() != std::process::id() {
                v = [0; 8]; // the parent checks for this
            }
            // SAFETY: v has 8 readable bytes; pipe[1] is the child's write
            // end; _exit ends the child without running the parent's state.
            unsafe {
                libc::write(pipe[1], v.as_ptr().cast(), 8);
                libc::_exit(0);
            }
        }
        let mine = r.next_u64();
        let mut buf = [0u8; 8];
        // SAFETY: buf has 8 writable bytes; pid is our child.
        unsafe {
            assert_eq!(libc::read(pipe[0], buf.as_mut_ptr().cast(), 8), 8);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
            libc::close(pipe[0]);
            libc::close(pipe[1]);
        }
        assert_ne!(u64::from_le_bytes(buf), 0, "child saw its own pid");
        assert_ne!(u64::from_le_bytes(buf), mine, "child was reseeded");
    }
}
