//! XML / HTML text escaping (`smisk.core.xml`).
//!
//! * [`escape`] replaces `&` `<` `>` `"` `'` with `&amp;` `&lt;` `&gt;`
//!   `&quot;` `&#39;` (the apostrophe too, so the output is safe inside
//!   single-quoted attributes).
//! * [`unescape`] replaces, in a single left-to-right pass, the five named
//!   entities `&amp;` `&lt;` `&gt;` `&quot;` `&apos;` (case-sensitive) and
//!   numeric references `&#NNN;` / `&#xHHH;` (`x` or `X`) whose value is a
//!   Unicode scalar value other than NUL, written as UTF-8. Anything else —
//!   unknown names, a missing `;`, surrogates, values above U+10FFFF — is
//!   left exactly as it was.
//!
//! Guarantees: binary-safe, linear time (a malformed reference is scanned
//! once and then copied), never reads outside the input; unchanged input is
//! returned borrowed.
//!
//! Cost: `escape` is one table lookup per byte; `unescape` jumps between `&`
//! with `memchr`.

use std::borrow::Cow;

/// Replacement text for each byte that `escape` changes (empty: unchanged).
fn replacement(b: u8) -> &'static [u8] {
    match b {
        b'&' => b"&amp;",
        b'<' => b"&lt;",
        b'>' => b"&gt;",
        b'"' => b"&quot;",
        b'\'' => b"&#39;",
        _ => b"",
    }
}

static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b'&' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\'' as usize] = true;
    t
};

/// Escapes `& < > " '` for XML/HTML text and attribute values.
pub fn escape(input: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = input.iter().position(|&b| SPECIAL[b as usize]) else {
        return Cow::Borrowed(input);
    };
    let extra: usize = input[first..]
        .iter()
        .filter(|&&b| SPECIAL[b as usize])
        .map(|&b| replacement(b).len() - 1)
        .sum();
    let mut out = Vec::with_capacity(input.len() + extra);
    let mut start = 0;
    for (i, &b) in input.iter().enumerate().skip(first) {
        if SPECIAL[b as usize] {
            out.extend_from_slice(&input[start..i]);
            out.extend_from_slice(replacement(b));
            start = i + 1;
        }
    }
    out.extend_from_slice(&input[start..]);
    Cow::Owned(out)
}

/// Replaces the five named entities and numeric character references.
pub fn unescape(input: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = memchr::memchr(b'&', input) else {
        return Cow::Borrowed(input);
    };
    let mut out: Vec<u8> = Vec::with_capacity(input.len());
    out.extend_from_slice(&input[..first]);
    let mut i = first;
    let mut changed = false;
    while i < input.len() {
        // Invariant: input[i] == b'&'.
        let rest = &input[i..];
        let mut utf8 = [0u8; 4];
        let (consumed, text): (usize, &[u8]) = if let Some((n, t)) = named(rest) {
            (n, t)
        } else if let Some((n, ch)) = numeric(rest) {
            (n, ch.encode_utf8(&mut utf8).as_bytes())
        } else {
            (1, b"&")
        };
        changed |= consumed > 1;
        out.extend_from_slice(text);
        i += consumed;
        match memchr::memchr(b'&', &input[i..]) {
            Some(next) => {
                out.extend_from_slice(&input[i..i + next]);
                i += next;
            }
            None => {
                out.extend_from_slice(&input[i..]);
                break;
            }
        }
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(input)
    }
}

/// A named entity at the start of `s` (which starts with `&`): its length
/// and replacement.
fn named(s: &[u8]) -> Option<(usize, &'static [u8])> {
    const NAMED: [(&[u8], &[u8]); 5] = [
        (b"&amp;", b"&"),
        (b"&lt;", b"<"),
        (b"&gt;", b">"),
        (b"&quot;", b"\""),
        (b"&apos;", b"'"),
    ];
    NAMED
        .iter()
        .find(|(entity, _)| s.starts_with(entity))
        .map(|(entity, text)| (entity.len(), *text))
}

/// A numeric reference `&#digits;` or `&#xhex;` at the start of `s`: its
/// length and character. Digits are scanned in full even past the largest
/// code point (leading zeros are legal) but the value saturates, so there is
/// no overflow and the scan is linear.
fn numeric(s: &[u8]) -> Option<(usize, char)> {
    let body = s.strip_prefix(b"&#")?;
    let (radix, digits_at) = match body.first() {
        Some(b'x') | Some(b'X') => (16, 3),
        _ => (10, 2),
    };
    let mut value: u32 = 0;
    let mut i = digits_at;
    while let Some(d) = s.get(i).and_then(|&b| (b as char).to_digit(radix)) {
        value = value.saturating_mul(radix).saturating_add(d).min(0x11_0000);
        i += 1;
    }
    if i == digits_at || s.get(i) != Some(&b';') || value == 0 {
        return None;
    }
    char::from_u32(value).map(|ch| (i + 1, ch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::testrng::Rng;

    #[test]
    fn vectors_from_the_spec() {
        assert_eq!(escape(b"<&>\"'").as_ref(), b"&lt;&amp;&gt;&quot;&#39;");
        assert_eq!(escape(b"&amp;amp;").as_ref(), b"&amp;amp;amp;");
        assert_eq!(unescape(b"&amp;amp;").as_ref(), b"&amp;");
        assert_eq!(unescape(b"&#39;&apos;").as_ref(), b"''");
        assert_eq!(unescape(b"&AMP;").as_ref(), b"&AMP;");
        assert_eq!(unescape(b"&lt").as_ref(), b"&lt");
        assert_eq!(unescape(b"&quot").as_ref(), b"&quot");
        assert_eq!(unescape(b"&quot;x").as_ref(), b"\"x");
        assert_eq!(unescape(b"abc").as_ref(), b"abc");
        assert_eq!(unescape(b"").as_ref(), b"");
        assert_eq!(escape(b"a<").as_ref(), b"a&lt;");
        assert_eq!(unescape(b"a&lt;").as_ref(), b"a<");
        assert!(matches!(escape(b"plain"), Cow::Borrowed(_)));
        assert!(matches!(unescape(b"a & b &x;"), Cow::Borrowed(_)));
    }

    #[test]
    fn numeric_references() {
        assert_eq!(unescape(b"&#65;&#x42;&#X43;").as_ref(), b"ABC");
        assert_eq!(unescape(b"&#229;").as_ref(), "å".as_bytes());
        assert_eq!(unescape(b"&#x1F600;").as_ref(), "😀".as_bytes());
        assert_eq!(unescape(b"&#0000000065;").as_ref(), b"A");
        for bad in [
            &b"&#;"[..],
            b"&#x;",
            b"&#0;",
            b"&#xD800;",
            b"&#x110000;",
            b"&#99999999999999999999;",
            b"&#65",
            b"&#6a;",
            b"&#-1;",
            b"&",
            b"&&&",
            b"&#",
            b"&#x",
        ] {
            assert_eq!(unescape(bad).as_ref(), bad, "{bad:?}");
        }
        assert_eq!(unescape(b"&&lt;&#65&#66;").as_ref(), b"&<&#65B");
    }

    #[test]
    fn property_unescape_inverts_escape() {
        let mut rng = Rng::new(0x5EED_0004);
        for round in 0..3000 {
            let data = rng.bytes_from(b"&<>\"';#x1a \x00\xff", round % 50);
            let esc = escape(&data);
            assert!(!esc.iter().any(|&b| b"<>\"'".contains(&b)));
            assert_eq!(unescape(&esc).as_ref(), data.as_slice());
            // Unescaping arbitrary input never grows it.
            assert!(unescape(&data).len() <= data.len());
        }
    }

    #[test]
    fn long_malformed_runs_are_linear() {
        let input = "&#".to_string() + &"1".repeat(1 << 20);
        let started = std::time::Instant::now();
        assert_eq!(unescape(input.as_bytes()).as_ref(), input.as_bytes());
        let input = "&".repeat(1 << 20);
        assert_eq!(unescape(input.as_bytes()).len(), 1 << 20);
        // Generous: a quadratic scan would take minutes here.
        assert!(started.elapsed().as_secs() < 10);
    }
}
