//! Invariants checked by the fuzz targets in `fuzz/` and replayed over the
//! seed corpus (`fuzz/seeds/`) by this crate's unit tests, so that the
//! libFuzzer runs and the ordinary test suite exercise the same checks.
//!
//! Each function panics when an invariant fails; it must never panic on any
//! input otherwise. Not part of the stable API.

use super::percent::{decode, decode_percent, encode, escape};
use super::query::{collect_pairs, Separator};
use super::url::{Format, Url};
use super::xml;

/// The URL `parse(to_s(u))` must give back: what `to_s` cannot express is
/// dropped (an empty component other than query/fragment is absent, an
/// empty query is not written, a password without a user is not written).
pub fn normalize(u: &Url) -> Url {
    let nonempty = |c: &Option<Vec<u8>>| c.clone().filter(|v| !v.is_empty());
    let user = nonempty(&u.user);
    Url {
        scheme: nonempty(&u.scheme),
        password: user.as_ref().and(nonempty(&u.password)),
        user,
        host: nonempty(&u.host),
        port: u.port,
        path: nonempty(&u.path),
        query: nonempty(&u.query),
        fragment: u.fragment.clone(),
    }
}

/// URL parser: never panics; a parsed URL printed with `port80` parses back
/// to itself (up to [`normalize`]), except for the one shape the grammar
/// cannot print (no scheme, no user, a host, no port and a path: `h/p`
/// reads as a malformed scheme).
pub fn check_url(data: &[u8]) {
    let Ok(u) = Url::parse(data) else { return };
    let unprintable = u.scheme.is_none()
        && u.user.is_none()
        && u.host.is_some()
        && u.port == 0
        && u.path.is_some();
    let fmt = Format {
        port80: true,
        ..Format::default()
    };
    let text = u.to_s(&fmt);
    let uri = u.uri();
    if let Some(uri) = &uri {
        assert!(text.ends_with(uri));
    }
    if unprintable {
        return;
    }
    let back = Url::parse(&text).unwrap_or_else(|e| {
        panic!(
            "to_s output {:?} of {:?} does not parse: {e}",
            String::from_utf8_lossy(&text),
            String::from_utf8_lossy(data)
        )
    });
    assert_eq!(
        back,
        normalize(&u),
        "via {:?}",
        String::from_utf8_lossy(&text)
    );
}

/// Query parser: never panics; re-encoding the pairs and parsing again gives
/// the same pairs; the field cap holds.
pub fn check_query(data: &[u8]) {
    let pairs = collect_pairs(data, Separator::Query, usize::MAX).expect("no cap");
    let mut rebuilt = Vec::new();
    for (k, v) in &pairs {
        rebuilt.extend_from_slice(&encode(k));
        if let Some(v) = v {
            rebuilt.push(b'=');
            rebuilt.extend_from_slice(&encode(v));
        }
        rebuilt.push(b'&');
    }
    let again = collect_pairs(&rebuilt, Separator::Query, usize::MAX).expect("no cap");
    assert_eq!(again, pairs);
    let cap = data.len() % 7;
    match collect_pairs(data, Separator::Query, cap) {
        Ok(p) => assert!(p.len() <= cap && p == pairs),
        Err(_) => assert!(pairs.len() > cap),
    }
}

/// Cookie parser: never panics; keys are never empty; re-encoding the pairs
/// as a `Cookie:` header and parsing again gives the same pairs.
pub fn check_cookie(data: &[u8]) {
    let pairs = collect_pairs(data, Separator::Cookie, usize::MAX).expect("no cap");
    let mut header = Vec::new();
    for (k, v) in &pairs {
        assert!(!k.is_empty());
        if !header.is_empty() {
            header.extend_from_slice(b"; ");
        }
        header.extend_from_slice(&encode(k));
        if let Some(v) = v {
            header.push(b'=');
            header.extend_from_slice(&encode(v));
        }
    }
    let again = collect_pairs(&header, Separator::Cookie, usize::MAX).expect("no cap");
    assert_eq!(again, pairs);
}

/// Percent and XML decoding: never panic, never grow, and invert encoding.
pub fn check_unescape(data: &[u8]) {
    assert!(decode(data).len() <= data.len());
    assert!(decode_percent(data).len() <= data.len());
    assert!(xml::unescape(data).len() <= data.len());
    assert_eq!(decode(&encode(data)).as_ref(), data);
    assert_eq!(decode_percent(&escape(data)).as_ref(), data);
    assert_eq!(xml::unescape(&xml::escape(data)).as_ref(), data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Replays every file of `fuzz/seeds/<target>/` through `check`.
    fn replay(target: &str, check: fn(&[u8])) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/seeds")
            .join(target);
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            // Each line of a seed file is checked too: seeds hold many cases.
            check(&data);
            for line in data.split(|&b| b == b'\n') {
                check(line);
                n += 1;
            }
        }
        assert!(n > 10, "{target}: only {n} seeds");
    }

    #[test]
    fn seed_corpus_url() {
        replay("url", check_url);
    }

    #[test]
    fn seed_corpus_query() {
        replay("query", check_query);
    }

    #[test]
    fn seed_corpus_cookie() {
        replay("cookie", check_cookie);
    }

    #[test]
    fn seed_corpus_unescape() {
        replay("unescape", check_unescape);
    }
}
