//! TEMPORARY url-encoded field splitter, private to `crate::form`.
//!
//! MERGE NOTE (lead): replace this file with `crate::codec::query::parse_pairs`
//! (the codec engineer's implementation of original-core.md §3.10); the only
//! caller is `form::parse_urlencoded`, which needs `(name, value-or-None)`
//! pairs in order and a field-count cap.
//!
//! Rules (§3.10 steps 1, 3, 4): split on `&` skipping empty tokens, key before
//! the first `=`, no `=` means no value, `+` is a space, valid `%XX` is a
//! byte, a malformed `%` stays literal. More than `max_fields` fields is
//! `SMISK_ERR_TOO_MANY_FIELDS`. Linear time; output no larger than the input.

use crate::status::{Error, Result, SMISK_ERR_TOO_MANY_FIELDS};

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => {
                match (
                    s.get(i + 1).copied().and_then(hex),
                    s.get(i + 2).copied().and_then(hex),
                ) {
                    (Some(h), Some(l)) => {
                        out.push(h << 4 | l);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// A decoded `(name, value)`; `None` when the token had no `=`.
pub(crate) type Pair = (Vec<u8>, Option<Vec<u8>>);

/// Splits a url-encoded body into decoded `(name, value)` pairs.
pub(crate) fn parse_pairs(body: &[u8], max_fields: usize) -> Result<Vec<Pair>> {
    let mut out = Vec::new();
    for token in body.split(|&b| b == b'&').filter(|t| !t.is_empty()) {
        if out.len() >= max_fields {
            return Err(Error::new(
                SMISK_ERR_TOO_MANY_FIELDS,
                format!("form has more than {max_fields} fields"),
            ));
        }
        match memchr::memchr(b'=', token) {
            Some(i) => out.push((decode(&token[..i]), Some(decode(&token[i + 1..])))),
            None => out.push((decode(token), None)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(s: &str) -> Vec<(String, Option<String>)> {
        parse_pairs(s.as_bytes(), 100)
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

    #[test]
    fn splits_and_decodes() {
        let s = |x: &str| x.to_string();
        assert_eq!(
            pairs("a=1&&b=x+y%20z&c&d==e&%zz=%4"),
            vec![
                (s("a"), Some(s("1"))),
                (s("b"), Some(s("x y z"))),
                (s("c"), None),
                (s("d"), Some(s("=e"))),
                (s("%zz"), Some(s("%4"))),
            ]
        );
        assert_eq!(pairs("a=1;b=2"), vec![(s("a"), Some(s("1;b=2")))]);
        assert_eq!(
            pairs("e=&%41=%"),
            vec![(s("e"), Some(s(""))), (s("A"), Some(s("%")))]
        );
        assert!(pairs("").is_empty());
        assert_eq!(
            parse_pairs(b"a&b&c", 2).unwrap_err().status,
            SMISK_ERR_TOO_MANY_FIELDS
        );
        assert_eq!(parse_pairs(b"a&&b&", 2).unwrap().len(), 2);
    }
}
