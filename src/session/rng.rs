//! A cheap, thread-safe pseudo-random source for the GC coin flip.
//!
//! SplitMix64 over one atomic counter, seeded from the OS CSPRNG and reseeded
//! when the process id changes (so prefork workers do not flip the same coins
//! in lockstep). Not for secrets: ids and temp names use `os_random` or the
//! pid. Cost: one atomic add, a few multiplies, and a `getpid` call.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

pub(crate) struct Rng {
    state: AtomicU64,
    pid: AtomicU32,
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
        Rng {
            state: AtomicU64::new(seed()),
            pid: AtomicU32::new(std::process::id()),
        }
    }

    pub(crate) fn next_u64(&self) -> u64 {
        let pid = std::process::id();
        if self.pid.load(Ordering::Relaxed) != pid {
            self.pid.store(pid, Ordering::Relaxed);
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
}
