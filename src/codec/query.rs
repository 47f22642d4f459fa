//! Query strings, url-encoded form bodies and `Cookie:` headers.
//!
//! [`parse_pairs`] turns the input into a stream of decoded
//! `(key, value-or-absent)` pairs, in input order, repeated keys included;
//! callers build their own maps (the Python shim makes dicts with lists for
//! repeated keys). Rules (the original Smisk's, with the changes of docs/compat.md):
//!
//! * [`Separator::Query`] (query strings, url-encoded bodies): split on `&`
//!   only (`;` is data), skip empty tokens, key = text before the first `=`,
//!   value = the rest (`a==b` → `a`, `=b`), no `=` → no value; key and value
//!   form-decoded (`+` → space, `%XX` → byte, malformed `%` kept literally).
//!   Keys are not trimmed.
//! * [`Separator::Cookie`] (`Cookie:` header): split on `;`, strip leading
//!   whitespace from each token, skip tokens that are then empty or start
//!   with `=`; `%XX` decoded but `+` kept. Every token is independent, so a
//!   malformed cookie never hides the others. Quotes are kept as data.
//!
//! Guarantees: linear time on any input (no backtracking, no quote or
//! backslash processing), never reads outside the input, and at most
//! `max_fields` pairs: when the input holds more, nothing is emitted and the
//! call fails with `SMISK_ERR_TOO_LARGE`.
//!
//! Cost: one `memchr` pass per separator and per `=`; keys and values without
//! `%` (or `+` for queries) are borrowed from the input, the others allocate
//! once each.

use super::percent::{decode, decode_percent};
use crate::status::{Error, Result};
use std::borrow::Cow;

/// Default cap on the number of fields per source.
///
/// (C sees it as SMISK_MAX_FIELDS_DEFAULT.)
///
/// cbindgen:ignore
pub const DEFAULT_MAX_FIELDS: usize = 1000;

/// Which grammar to parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Separator {
    /// `&`-separated, `+` is a space (query strings, url-encoded bodies).
    Query,
    /// `;`-separated, leading whitespace stripped, `+` kept (`Cookie:`).
    Cookie,
}

impl Separator {
    fn byte(self) -> u8 {
        match self {
            Separator::Query => b'&',
            Separator::Cookie => b';',
        }
    }
}

/// A decoded key and its value (`None`: the token had no `=`).
pub type Pair<'a> = (Cow<'a, [u8]>, Option<Cow<'a, [u8]>>);

/// An owned key and its value (`None`: the token had no `=`).
pub type OwnedPair = (Vec<u8>, Option<Vec<u8>>);

/// Parses `input`, calling `emit(key, value)` for each field in order.
///
/// Fails with `SMISK_ERR_TOO_LARGE` (before emitting anything) when the input
/// holds more than `max_fields` fields. Pass [`DEFAULT_MAX_FIELDS`] unless
/// configured otherwise.
pub fn parse_pairs<'a, F>(
    input: &'a [u8],
    sep: Separator,
    max_fields: usize,
    mut emit: F,
) -> Result<()>
where
    F: FnMut(Cow<'a, [u8]>, Option<Cow<'a, [u8]>>),
{
    parse_pairs_with(input, sep, max_fields, |k, v| {
        emit(k, v);
        Ok(())
    })
}

/// As [`parse_pairs`], but `emit` may fail; its first error stops parsing and
/// is returned.
pub fn parse_pairs_with<'a, F>(
    input: &'a [u8],
    sep: Separator,
    max_fields: usize,
    mut emit: F,
) -> Result<()>
where
    F: FnMut(Cow<'a, [u8]>, Option<Cow<'a, [u8]>>) -> Result<()>,
{
    // n separators make at most n + 1 tokens; only count real fields (which
    // skips empty tokens) when that bound exceeds the cap.
    let bound = memchr::memchr_iter(sep.byte(), input)
        .count()
        .saturating_add(1);
    if bound > max_fields {
        let n = Fields::new(input, sep).count();
        if n > max_fields {
            return Err(Error::too_large(format!(
                "too many fields: more than {max_fields}"
            )));
        }
    }
    for token in Fields::new(input, sep) {
        let (key, value) = split_token(token);
        let (key, value) = match sep {
            Separator::Query => (decode(key), value.map(decode)),
            Separator::Cookie => (decode_percent(key), value.map(decode_percent)),
        };
        emit(key, value)?;
    }
    Ok(())
}

/// All pairs of `input` as owned bytes, in order (convenience for callers
/// that do not stream).
pub fn collect_pairs(input: &[u8], sep: Separator, max_fields: usize) -> Result<Vec<OwnedPair>> {
    let mut out = Vec::new();
    parse_pairs(input, sep, max_fields, |k, v| {
        out.push((k.into_owned(), v.map(Cow::into_owned)))
    })?;
    Ok(out)
}

fn split_token(token: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr::memchr(b'=', token) {
        Some(eq) => (&token[..eq], Some(&token[eq + 1..])),
        None => (token, None),
    }
}

/// C `isspace` in the "C" locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// The raw (undecoded) field tokens of an input, empty/skipped ones removed.
struct Fields<'a> {
    rest: Option<&'a [u8]>,
    sep: Separator,
}

impl<'a> Fields<'a> {
    fn new(input: &'a [u8], sep: Separator) -> Fields<'a> {
        Fields {
            rest: Some(input),
            sep,
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let rest = self.rest?;
            let token = match memchr::memchr(self.sep.byte(), rest) {
                Some(at) => {
                    self.rest = Some(&rest[at + 1..]);
                    &rest[..at]
                }
                None => {
                    self.rest = None;
                    rest
                }
            };
            let token = match self.sep {
                Separator::Query => token,
                Separator::Cookie => {
                    let skip = token.iter().take_while(|&&b| is_space(b)).count();
                    let t = &token[skip..];
                    if t.first() == Some(&b'=') {
                        continue;
                    }
                    t
                }
            };
            if !token.is_empty() {
                return Some(token);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::testrng::Rng;

    type Owned = Vec<(String, Option<String>)>;

    fn q(input: &str) -> Owned {
        parse(input.as_bytes(), Separator::Query)
    }

    fn c(input: &str) -> Owned {
        parse(input.as_bytes(), Separator::Cookie)
    }

    fn parse(input: &[u8], sep: Separator) -> Owned {
        collect_pairs(input, sep, DEFAULT_MAX_FIELDS)
            .unwrap()
            .into_iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(&k).into_owned(),
                    v.map(|v| String::from_utf8_lossy(&v).into_owned()),
                )
            })
            .collect()
    }

    fn kv(pairs: &[(&str, Option<&str>)]) -> Owned {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect()
    }

    #[test]
    fn query_vectors_from_the_spec() {
        assert_eq!(q("a=1;b=2"), kv(&[("a", Some("1;b=2"))]));
        assert_eq!(q("a"), kv(&[("a", None)]));
        assert_eq!(q("=x"), kv(&[("", Some("x"))]));
        assert_eq!(q("a=&b"), kv(&[("a", Some("")), ("b", None)]));
        assert_eq!(q("a==b"), kv(&[("a", Some("=b"))]));
        assert_eq!(q("a=b=c"), kv(&[("a", Some("b=c"))]));
        assert_eq!(q("a+b=c+d"), kv(&[("a b", Some("c d"))]));
        assert_eq!(q("%61=1"), kv(&[("a", Some("1"))]));
        assert_eq!(q(" a=1"), kv(&[(" a", Some("1"))]));
        assert_eq!(q("a=1&A=2"), kv(&[("a", Some("1")), ("A", Some("2"))]));
        assert_eq!(q("&&&"), kv(&[]));
        assert_eq!(q("a=1&&b"), kv(&[("a", Some("1")), ("b", None)]));
        assert_eq!(q("a=%C3%A5"), kv(&[("a", Some("å"))]));
        let raw = collect_pairs(b"a=%E5&k%E5=1", Separator::Query, 10).unwrap();
        assert_eq!(
            raw,
            vec![
                (b"a".to_vec(), Some(b"\xe5".to_vec())),
                (b"k\xe5".to_vec(), Some(b"1".to_vec()))
            ]
        );
        assert_eq!(
            q("parse&x=%C3%A5&y=%E5&y=2&z&&w=a+b"),
            kv(&[
                ("parse", None),
                ("x", Some("å")),
                ("y", Some("\u{fffd}")),
                ("y", Some("2")),
                ("z", None),
                ("w", Some("a b")),
            ])
        );
        // The url-encoded POST body of the original documentation.
        assert_eq!(
            q("a=1&b=%C3%A5&a=2&"),
            kv(&[("a", Some("1")), ("b", Some("å")), ("a", Some("2"))])
        );
        // D4.
        assert_eq!(
            q("name=Jack%20%C3%B6l&age=53"),
            kv(&[("name", Some("Jack öl")), ("age", Some("53"))])
        );
    }

    #[test]
    fn cookie_vectors_from_the_spec() {
        // +-decoding is dropped for cookies (docs/compat.md).
        assert_eq!(
            c("a=1; b=2;c=3; SID=zzz; a=x+y%20z; =bad; lone; q=\"quoted\""),
            kv(&[
                ("a", Some("1")),
                ("b", Some("2")),
                ("c", Some("3")),
                ("SID", Some("zzz")),
                ("a", Some("x+y z")),
                ("lone", None),
                ("q", Some("\"quoted\"")),
            ])
        );
        assert_eq!(c(" \t ;;  ; = ;"), kv(&[]));
        assert_eq!(c("a=1&b=2"), kv(&[("a", Some("1&b=2"))]));
        // A malformed cookie does not hide its neighbours.
        assert_eq!(
            c("x=\"unterminated; y=%zz%; z=\\\\\\\"; w=1"),
            kv(&[
                ("x", Some("\"unterminated")),
                ("y", Some("%zz%")),
                ("z", Some("\\\\\\\"")),
                ("w", Some("1")),
            ])
        );
    }

    #[test]
    fn field_cap_is_enforced_before_emitting() {
        let input = "a=1&".repeat(1000) + "b=2";
        let mut emitted = 0;
        let err = parse_pairs(input.as_bytes(), Separator::Query, 1000, |_, _| {
            emitted += 1
        })
        .unwrap_err();
        assert_eq!(err.status, crate::status::SMISK_ERR_TOO_LARGE);
        assert_eq!(emitted, 0);
        // Exactly at the cap, and many empty tokens, are fine.
        let input = "a=1&".repeat(1000) + "&&&&";
        assert_eq!(parse(input.as_bytes(), Separator::Query).len(), 1000);
        let input = ";".repeat(100_000) + "a=1";
        assert_eq!(c(&input), kv(&[("a", Some("1"))]));
        assert!(collect_pairs(b"a&b", Separator::Query, 1).is_err());
        assert!(collect_pairs(b"", Separator::Query, 0).unwrap().is_empty());
    }

    #[test]
    fn hostile_runs_are_linear() {
        // Backslashes, quotes and `%` runs have no special meaning, so 1 MiB
        // of each is one field (or a few) and one pass; a quadratic parser
        // would take minutes here.
        let started = std::time::Instant::now();
        for filler in [&b"\\"[..], b"\"", b"%", b"%2", b"=", b"+", b" ;", b"&="] {
            let body: Vec<u8> = filler.iter().copied().cycle().take(1 << 20).collect();
            let mut input = b"k=".to_vec();
            input.extend_from_slice(&body);
            for sep in [Separator::Query, Separator::Cookie] {
                let mut fields = 0usize;
                let mut bytes = 0usize;
                let res = parse_pairs(&input, sep, usize::MAX, |k, v| {
                    fields += 1;
                    bytes += k.len() + v.map_or(0, |v| v.len());
                });
                assert!(res.is_ok());
                assert!(bytes <= input.len());
                assert!(fields <= input.len());
            }
            // The default cap rejects separator floods without emitting.
            let capped = collect_pairs(&input, Separator::Query, DEFAULT_MAX_FIELDS);
            if filler == b"&=" {
                assert!(capped.is_err());
            }
        }
        assert!(started.elapsed().as_secs() < 30);
    }

    #[test]
    fn emit_errors_stop_parsing() {
        let mut seen = 0;
        let err = parse_pairs_with(b"a&b&c", Separator::Query, 10, |_, _| {
            seen += 1;
            if seen == 2 {
                Err(Error::invalid("stop"))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(err.message, "stop");
        assert_eq!(seen, 2);
    }

    #[test]
    fn property_pairs_rebuild_the_input() {
        // Encoding each emitted pair and joining with `&` reproduces a query
        // that parses to the same pairs.
        let mut rng = Rng::new(0x5EED_0003);
        let alphabet = b"a=&+%2 ;\x00\xffZ";
        for round in 0..3000 {
            let input = rng.bytes_from(alphabet, round % 60);
            let pairs = collect_pairs(&input, Separator::Query, usize::MAX).unwrap();
            let mut rebuilt = Vec::new();
            for (k, v) in &pairs {
                if !rebuilt.is_empty() {
                    rebuilt.push(b'&');
                }
                rebuilt.extend_from_slice(&crate::codec::encode(k));
                if let Some(v) = v {
                    rebuilt.push(b'=');
                    rebuilt.extend_from_slice(&crate::codec::encode(v));
                }
            }
            // An empty key with no value would vanish; the grammar cannot
            // produce one (empty tokens are skipped).
            let again = collect_pairs(&rebuilt, Separator::Query, usize::MAX).unwrap();
            assert_eq!(again, pairs, "input {input:?}");
        }
    }
}
