//! Latency histogram with log-linear buckets (the HdrHistogram idea, minimal).
//!
//! Guarantees: any u64 value (nanoseconds here) is recorded in O(1) with no
//! allocation; a percentile is reported as the midpoint of its bucket, within
//! 1/64 (1.6 %) of every value in that bucket. Cost: a fixed 1920 × 8-byte
//! array allocated once, a 1920-step walk per percentile query.

/// Sub-bucket bits: 2^5 linear sub-buckets per power of two.
const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
/// Values below SUB get exact buckets; each further power of two (2^5 .. 2^63)
/// gets SUB buckets.
const LEN: usize = SUB + (64 - SUB_BITS as usize) * SUB;

pub struct Histogram {
    counts: Box<[u64; LEN]>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

fn index(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= SUB_BITS
    let k = (e - SUB_BITS) as usize;
    let sub = ((v >> k) as usize) - SUB; // top SUB_BITS+1 bits minus the leading 1
    SUB + k * SUB + sub
}

/// The smallest and largest value that land in bucket `i`.
fn bounds(i: usize) -> (u64, u64) {
    if i < SUB {
        return (i as u64, i as u64);
    }
    let k = (i - SUB) / SUB;
    let sub = ((i - SUB) % SUB) as u64;
    let low = (SUB as u64 + sub) << k;
    (low, low + ((1u64 << k) - 1))
}

impl Histogram {
    pub fn new() -> Self {
        Histogram {
            counts: Box::new([0; LEN]),
            total: 0,
            max: 0,
        }
    }

    pub fn record(&mut self, v: u64) {
        self.counts[index(v)] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0 < q ≤ 1), or 0 when nothing was recorded.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, hi) = bounds(i);
                return (lo + (hi - lo) / 2).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_a_bucket_that_contains_it() {
        let mut v = 0u64;
        let mut last = 0;
        while v < u64::MAX / 2 {
            let i = index(v);
            let (lo, hi) = bounds(i);
            assert!(lo <= v && v <= hi, "{v} in bucket {i} [{lo}, {hi}]");
            assert!(i >= last, "buckets are monotonic");
            assert!(
                (hi - lo) as f64 <= (lo as f64 / 32.0).max(0.0),
                "precision at {v}"
            );
            last = i;
            v = v + v / 8 + 1;
        }
        assert_eq!(index(u64::MAX), LEN - 1);
        assert_eq!(bounds(LEN - 1).1, u64::MAX);
    }

    #[test]
    fn quantiles_are_within_bucket_precision() {
        let mut h = Histogram::new();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        assert_eq!(h.count(), 10_000);
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((p50 / 5_000_000.0 - 1.0).abs() < 0.02, "p50 {p50}");
        assert!((p99 / 9_900_000.0 - 1.0).abs() < 0.02, "p99 {p99}");
        assert_eq!(h.quantile(1.0), 10_000_000);
        assert_eq!(h.max(), 10_000_000);
    }

    #[test]
    fn empty_and_single() {
        let mut h = Histogram::new();
        assert_eq!(h.quantile(0.5), 0);
        h.record(12345);
        let q = h.quantile(0.01);
        assert!((12_000..=12_345).contains(&q), "{q}");
    }
}
