//! Delimiter search: `memchr::memmem`, with a prefilter chosen for multipart.
//!
//! `memmem::Finder` picks its SIMD prefilter bytes from a frequency table made
//! for text. Against a body full of near-delimiters (`CRLF--boundar…`, the
//! classic "junk around the boundary" attack) every candidate it reports is a
//! near miss, so it falls back to its byte-at-a-time two-way loop: linear, but
//! 5–10× slower than the prefilter. Here the prefilter pair is the delimiter's
//! first and last byte (`CR` and the boundary's last character), which a
//! near-delimiter that is cut short, or followed by CRLF, does not match.
//!
//! After 32 candidates the search decides: if they were sparse (under one per
//! 8 bytes) the pair finder's own loop verifies candidates in-register for
//! the next 64 KiB, then measures again; if dense, `memmem` (adaptive,
//! two-way in the worst case) finishes the call. Linear either way: the delimiter's only CR is its first byte, so
//! two candidates whose comparisons run L bytes deep are at least L apart and
//! all comparisons together touch each byte at most twice. The cost per byte
//! is bounded by one candidate per byte (not reachable: a candidate needs a
//! CR and the last boundary byte d-1 bytes later). Without AVX2 (or off
//! x86_64) it is plain `memmem`.

use memchr::memmem;

/// Bytes searched with the pair finder after one density decision.
const WINDOW: usize = 64 * 1024;

pub(crate) struct Searcher {
    memmem: memmem::Finder<'static>,
    #[cfg(target_arch = "x86_64")]
    pair: Option<memchr::arch::x86_64::avx2::packedpair::Finder>,
}

impl Searcher {
    pub(crate) fn new(needle: &[u8]) -> Searcher {
        Searcher {
            memmem: memmem::Finder::new(needle).into_owned(),
            #[cfg(target_arch = "x86_64")]
            pair: u8::try_from(needle.len() - 1)
                .ok()
                .and_then(|last| memchr::arch::all::packedpair::Pair::with_indices(needle, 0, last))
                .and_then(|p| memchr::arch::x86_64::avx2::packedpair::Finder::with_pair(needle, p)),
        }
    }

    /// Offset of the first occurrence of `needle` (the one given to `new`).
    #[inline]
    pub(crate) fn find(&self, haystack: &[u8], needle: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(pair) = &self.pair {
            let mut pos = 0;
            // Where the current density measurement started.
            let mut start = 0;
            let mut candidates = 0usize;
            while haystack.len() - pos >= pair.min_haystack_len() {
                let Some(c) = pair.find_prefilter(&haystack[pos..]) else {
                    // No candidate in the rest: but the prefilter cannot see a
                    // match that starts in the last min_haystack_len bytes, so
                    // let memmem check that tail.
                    let tail = haystack
                        .len()
                        .saturating_sub(pair.min_haystack_len() + needle.len());
                    let from = tail.max(pos);
                    return self.memmem.find(&haystack[from..]).map(|i| from + i);
                };
                let at = pos + c;
                if haystack[at..].starts_with(needle) {
                    return Some(at);
                }
                pos = at + 1;
                candidates += 1;
                if candidates == 32 {
                    // Enough evidence of how dense candidates are. Sparse
                    // (under 1 per 8 bytes, e.g. one near miss per
                    // delimiter length): let the pair finder verify them in
                    // its own SIMD loop, which is much cheaper than one call
                    // per candidate. Dense: memmem's own prefilter bytes or
                    // two-way loop do better.
                    if candidates * 8 > pos - start {
                        break;
                    }
                    // Commit for one window only, so a body cannot start
                    // sparse and turn dense for the rest of a large chunk.
                    let end = haystack.len().min(pos + WINDOW + needle.len() - 1);
                    if end - pos < pair.min_haystack_len() {
                        break;
                    }
                    if let Some(i) = pair.find(&haystack[pos..end], needle) {
                        return Some(pos + i);
                    }
                    pos = (pos + WINDOW).min(haystack.len());
                    start = pos;
                    candidates = 0;
                }
            }
            return self.memmem.find(&haystack[pos..]).map(|i| pos + i);
        }
        self.memmem.find(haystack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_memmem_on_hostile_haystacks() {
        let needle = b"\r\n--XyZabc";
        let s = Searcher::new(needle);
        let mut hays: Vec<Vec<u8>> = vec![
            b"\r\n--XyZab\r\n".repeat(50),
            b"\rc".repeat(300),
            b"\r\n--XyZxbc".repeat(40),
            vec![b'\r'; 1000],
            // Sparse candidates (one per needle length): the pair-find path.
            b"\r\n--XzZabc".repeat(100),
            // Dense candidates (one per 4 bytes): the memmem path.
            b"\rcxx".repeat(300),
            Vec::new(),
            b"x".to_vec(),
        ];
        let mut seed = 1u32;
        for len in [0usize, 1, 5, 9, 10, 11, 31, 32, 33, 63, 64, 65, 200, 5000] {
            let mut h = Vec::new();
            for _ in 0..len {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                h.push(needle[(seed >> 16) as usize % needle.len()]);
            }
            hays.push(h);
        }
        for h in &hays {
            for at in [None, Some(0), Some(h.len() / 2), Some(h.len())] {
                let mut hay = h.clone();
                if let Some(at) = at {
                    hay.splice(at..at, needle.iter().copied());
                }
                for start in [0, 1, 7] {
                    let hs = &hay[start.min(hay.len())..];
                    assert_eq!(
                        s.find(hs, needle),
                        memmem::find(hs, needle),
                        "len {}",
                        hs.len()
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod window_tests {
    use super::*;

    #[test]
    fn matches_across_pair_find_windows() {
        let needle = b"\r\n--XyZabc";
        let s = Searcher::new(needle);
        // Sparse near misses all the way, so the windowed pair-find path runs
        // for several windows; the needle lands on and around window edges.
        let base = b"\r\n--XzZabc".repeat(3 * WINDOW / 10);
        let mut positions = vec![0, 5, 320, WINDOW - 11, WINDOW - 3, WINDOW, WINDOW + 1];
        positions.extend([2 * WINDOW - 7, 2 * WINDOW + 330, base.len() - 1, base.len()]);
        for at in positions {
            let mut hay = base.clone();
            hay.splice(at..at, needle.iter().copied());
            assert_eq!(s.find(&hay, needle), memmem::find(&hay, needle), "at {at}");
        }
        assert_eq!(s.find(&base, needle), None);
    }
}
