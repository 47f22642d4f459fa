//! The URL / query / cookie codec and XML escaping.
//!
//! * [`percent`]: `encode` / `escape` / `decode` with the original Smisk
//!   character classes.
//! * [`url`]: the URL parser and its inverse (`to_s`) with per-component
//!   options.
//! * [`query`]: query strings, url-encoded form bodies and `Cookie:` headers
//!   as a stream of decoded `(key, value-or-absent)` pairs.
//! * [`xml`]: XML/HTML text escaping and entity unescaping.
//! * [`request_url`]: the URL of a request rebuilt from its CGI params.
//! * [`fuzzing`]: the invariants the fuzz targets (and the seed-corpus replay
//!   tests) check, kept here so that both run the same code.
//!
//! Everything works on byte slices: character sets are the caller's business
//! (the Python shim decodes UTF-8 or the request charset). Every function is
//! linear in its input and never reads outside it; results that equal the
//! input are returned borrowed (`Cow::Borrowed`) without allocating.

pub mod fuzzing;
pub mod percent;
pub mod query;
pub mod request_url;
pub mod url;
pub mod xml;

pub use percent::{decode, decode_percent, encode, escape};
pub use query::{parse_pairs, parse_pairs_with, Separator, DEFAULT_MAX_FIELDS};
pub use url::{Component, Format, Part, PortPart, Url};

/// A tiny deterministic PRNG (SplitMix64) for the property tests: no
/// external test crates, reproducible failures.
#[cfg(test)]
pub(crate) mod testrng {
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Rng {
            Rng(seed)
        }

        pub fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        pub fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }

        pub fn bytes(&mut self, max_len: usize) -> Vec<u8> {
            let len = self.below(max_len + 1);
            (0..len).map(|_| self.next_u64() as u8).collect()
        }

        /// Up to `max_len` bytes drawn from `alphabet` (to hit the
        /// interesting bytes of a grammar often).
        pub fn bytes_from(&mut self, alphabet: &[u8], max_len: usize) -> Vec<u8> {
            let len = self.below(max_len + 1);
            (0..len)
                .map(|_| alphabet[self.below(alphabet.len())])
                .collect()
        }
    }
}
