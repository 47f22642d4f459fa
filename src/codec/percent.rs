//! Percent-encoding with the original Smisk character classes.
//!
//! * [`encode`] escapes the *reserved* and the *unsafe* bytes (use it for one
//!   path segment, query key or value, or fragment).
//! * [`escape`] escapes only the *unsafe* bytes (use it on a whole URL).
//! * [`decode`] is form decoding: `+` becomes a space, `%XX` (either case)
//!   becomes the byte, and every malformed `%` sequence is kept literally.
//!   [`decode_percent`] is the same without the `+` rule (cookies).
//!
//! The classes (original-core.md §3.14):
//!
//! | class         | bytes                                                        |
//! |---------------|--------------------------------------------------------------|
//! | unsafe only   | 0x00–0x20, `"` `%` `<` `>` `\` `^` `` ` `` `{` `\|` `}`, 0x7F–0xFF |
//! | both          | `#` `:` `@` `[` `]`                                          |
//! | reserved only | `$` `&` `+` `,` `/` `;` `=` `?`                              |
//! | never encoded | `A-Z a-z 0-9 ! ' ( ) * - . _ ~`                              |
//!
//! Encoding writes `%` and two upper-case hex digits.
//!
//! Guarantees: binary-safe (NUL is an ordinary byte), linear time, output
//! length computed exactly before writing (encode: at most 3× the input;
//! decode: at most the input). When nothing needs to change the input is
//! returned borrowed, without allocating.
//!
//! Cost: one table lookup per input byte for the scan, one more for the copy.
//! The unchanged prefix and, when decoding, runs without `%`/`+` are copied
//! with `memcpy`.

use percent_encoding::{AsciiSet, CONTROLS};
use std::borrow::Cow;

/// The unsafe class as a `percent-encoding` set (non-ASCII bytes are always
/// encoded by that crate, matching the class), for callers who prefer the
/// crate's iterator API. [`escape`] produces the same bytes.
pub const UNSAFE_SET: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'#')
    .add(b':')
    .add(b'@')
    .add(b'[')
    .add(b']');

/// Reserved ∪ unsafe as a `percent-encoding` set; [`encode`] produces the same
/// bytes.
pub const RESERVED_UNSAFE_SET: &AsciiSet = &UNSAFE_SET
    .add(b'$')
    .add(b'&')
    .add(b'+')
    .add(b',')
    .add(b'/')
    .add(b';')
    .add(b'=')
    .add(b'?');

const RESERVED_ONLY: &[u8] = b"$&+,/;=?";
const UNSAFE_PRINTABLE: &[u8] = b" \"%<>\\^`{|}#:@[]";

/// `table[b]` is true when byte `b` must be encoded. Built at compile time;
/// a unit test checks it against the `percent-encoding` sets above.
const fn build_table(reserved: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        // Controls, DEL and every non-ASCII byte.
        t[b] = b < 0x20 || b >= 0x7f;
        b += 1;
    }
    let mut i = 0;
    while i < UNSAFE_PRINTABLE.len() {
        t[UNSAFE_PRINTABLE[i] as usize] = true;
        i += 1;
    }
    if reserved {
        let mut i = 0;
        while i < RESERVED_ONLY.len() {
            t[RESERVED_ONLY[i] as usize] = true;
            i += 1;
        }
    }
    t
}

static UNSAFE_TABLE: [bool; 256] = build_table(false);
static RESERVED_UNSAFE_TABLE: [bool; 256] = build_table(true);

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Value of a hex digit, or 0xFF for any other byte.
static HEX_VALUE: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Percent-encodes the reserved and unsafe bytes (`URL.encode`).
pub fn encode(input: &[u8]) -> Cow<'_, [u8]> {
    encode_with(input, &RESERVED_UNSAFE_TABLE)
}

/// Percent-encodes only the unsafe bytes (`URL.escape`).
pub fn escape(input: &[u8]) -> Cow<'_, [u8]> {
    encode_with(input, &UNSAFE_TABLE)
}

/// Exact length of `encode(input)` (or of `escape(input)` when `reserved` is
/// false), without producing it.
pub fn encoded_len(input: &[u8], reserved: bool) -> usize {
    let table = if reserved {
        &RESERVED_UNSAFE_TABLE
    } else {
        &UNSAFE_TABLE
    };
    input.len() + 2 * count_marked(input, table)
}

fn count_marked(input: &[u8], table: &[bool; 256]) -> usize {
    input.iter().filter(|&&b| table[b as usize]).count()
}

fn encode_with<'a>(input: &'a [u8], table: &[bool; 256]) -> Cow<'a, [u8]> {
    let Some(first) = input.iter().position(|&b| table[b as usize]) else {
        return Cow::Borrowed(input);
    };
    let rest = &input[first..];
    let total = input.len() + 2 * count_marked(rest, table);
    // A zeroed buffer of the exact size: large ones come straight from the
    // kernel as zero pages, so this costs no more than reserving.
    let mut out = vec![0u8; total];
    out[..first].copy_from_slice(&input[..first]);
    let mut j = first;
    for &b in rest {
        if table[b as usize] {
            out[j] = b'%';
            out[j + 1] = HEX_UPPER[(b >> 4) as usize];
            out[j + 2] = HEX_UPPER[(b & 0x0f) as usize];
            j += 3;
        } else {
            out[j] = b;
            j += 1;
        }
    }
    debug_assert_eq!(j, total);
    Cow::Owned(out)
}

/// Form decoding (`URL.decode` / `URL.unescape`, query strings, form bodies):
/// `+` → space, valid `%XX` → byte, anything else literal.
pub fn decode(input: &[u8]) -> Cow<'_, [u8]> {
    decode_with(input, true)
}

/// Percent decoding without the `+` rule (cookie names and values).
pub fn decode_percent(input: &[u8]) -> Cow<'_, [u8]> {
    decode_with(input, false)
}

fn decode_with(input: &[u8], plus: bool) -> Cow<'_, [u8]> {
    let first = if plus {
        memchr::memchr2(b'%', b'+', input)
    } else {
        memchr::memchr(b'%', input)
    };
    let Some(first) = first else {
        return Cow::Borrowed(input);
    };
    // Decoding never lengthens, so the input length bounds the output.
    let mut out = vec![0u8; input.len()];
    out[..first].copy_from_slice(&input[..first]);
    let mut i = first;
    let mut j = first;
    let n = input.len();
    while i < n {
        let b = input[i];
        if b == b'%' && i + 2 < n {
            let hi = HEX_VALUE[input[i + 1] as usize];
            let lo = HEX_VALUE[input[i + 2] as usize];
            // Valid digits are 0..=15; 0xFF marks a non-digit.
            if (hi | lo) & 0xF0 == 0 {
                out[j] = (hi << 4) | lo;
                i += 3;
                j += 1;
                continue;
            }
            out[j] = b;
        } else if b == b'+' && plus {
            out[j] = b' ';
        } else {
            out[j] = b;
        }
        i += 1;
        j += 1;
    }
    out.truncate(j);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::testrng::Rng;

    fn printable() -> Vec<u8> {
        (0x20u8..0x7f).collect()
    }

    #[test]
    fn escape_vector_defines_the_unsafe_set() {
        let expected = "%20!%22%23$%25&'()*+,-./0123456789%3A;%3C=%3E?%40\
ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60abcdefghijklmnopqrstuvwxyz%7B%7C%7D~";
        assert_eq!(escape(&printable()).as_ref(), expected.as_bytes());
    }

    #[test]
    fn encode_vector_defines_reserved_and_unsafe() {
        let expected = "%20!%22%23%24%25%26'()*%2B%2C-.%2F0123456789%3A%3B%3C%3D%3E%3F%40\
ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60abcdefghijklmnopqrstuvwxyz%7B%7C%7D~";
        assert_eq!(encode(&printable()).as_ref(), expected.as_bytes());
    }

    #[test]
    fn encode_vectors_from_the_spec() {
        assert_eq!(
            escape(b"\x01\t\n\x7f\x80\xff").as_ref(),
            b"%01%09%0A%7F%80%FF"
        );
        assert_eq!(escape(b"a b").as_ref(), b"a%20b");
        assert_eq!(
            encode("å ä".as_bytes()).as_ref(),
            b"%C3%A5%20%C3%A4".as_slice()
        );
        // W-5: NUL is an ordinary byte, anywhere.
        assert_eq!(escape(b"a \x00 ").as_ref(), b"a%20%00%20");
        assert_eq!(encode(b"").as_ref(), b"");
        assert!(matches!(escape(b"plain-text_~"), Cow::Borrowed(_)));
    }

    #[test]
    fn decode_vectors_from_the_spec() {
        // W-6 fixed: `+` alone is decoded too.
        assert_eq!(decode(b"a+b").as_ref(), b"a b");
        assert_eq!(decode(b"a+b%20").as_ref(), b"a b ");
        assert_eq!(decode(b"%41").as_ref(), b"A");
        assert_eq!(decode(b"%4").as_ref(), b"%4");
        assert_eq!(decode(b"%zz").as_ref(), b"%zz");
        assert_eq!(decode(b"100%").as_ref(), b"100%");
        assert_eq!(decode(b"a%00b").as_ref(), b"a\x00b");
        assert_eq!(decode(b"").as_ref(), b"");
        assert_eq!(decode(b"%e5").as_ref(), b"\xe5");
        assert_eq!(decode(b"%C3%A5").as_ref(), "å".as_bytes());
        assert_eq!(decode(b"%%41").as_ref(), b"%A");
        assert_eq!(decode(b"%4%41").as_ref(), b"%4A");
        assert_eq!(decode(b"%g1%1g").as_ref(), b"%g1%1g");
        assert_eq!(decode_percent(b"x+y%20z").as_ref(), b"x+y z");
        assert!(matches!(decode(b"no-escapes"), Cow::Borrowed(_)));
    }

    #[test]
    fn tables_match_the_percent_encoding_sets() {
        for b in 0..=255u8 {
            let crate_u = percent_encoding::percent_encode(&[b], UNSAFE_SET).to_string();
            let crate_r = percent_encoding::percent_encode(&[b], RESERVED_UNSAFE_SET).to_string();
            assert_eq!(escape(&[b]).as_ref(), crate_u.as_bytes(), "byte {b:#x}");
            assert_eq!(encode(&[b]).as_ref(), crate_r.as_bytes(), "byte {b:#x}");
        }
    }

    #[test]
    fn property_decode_inverts_encode_and_escape() {
        let mut rng = Rng::new(0x5EED_0001);
        for round in 0..3000 {
            let data = rng.bytes(round % 200);
            let enc = encode(&data);
            assert_eq!(enc.len(), encoded_len(&data, true));
            assert_eq!(decode(&enc).as_ref(), data.as_slice());
            assert_eq!(decode_percent(&enc).as_ref(), data.as_slice());
            // escape leaves `+` alone, so only percent-decoding inverts it.
            let esc = escape(&data);
            assert_eq!(esc.len(), encoded_len(&data, false));
            assert_eq!(decode_percent(&esc).as_ref(), data.as_slice());
            // Encoded output only holds never-encoded bytes and escapes.
            assert!(enc
                .iter()
                .all(|&b| !RESERVED_UNSAFE_TABLE[b as usize] || b == b'%'));
            let crate_enc = percent_encoding::percent_encode(&data, RESERVED_UNSAFE_SET)
                .collect::<Vec<_>>()
                .concat();
            assert_eq!(enc.as_ref(), crate_enc.as_bytes());
        }
    }

    #[test]
    fn property_decode_agrees_with_a_naive_decoder() {
        let mut rng = Rng::new(0x5EED_0002);
        let alphabet = b"%+aF09gG \x00\xff";
        for round in 0..5000 {
            let data = rng.bytes_from(alphabet, round % 40);
            assert_eq!(decode(&data).as_ref(), naive_decode(&data).as_slice());
        }
    }

    fn naive_decode(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < s.len() {
            if s[i] == b'%' && i + 2 < s.len() {
                let h = std::str::from_utf8(&s[i + 1..i + 3])
                    .ok()
                    .and_then(|t| u8::from_str_radix(t, 16).ok())
                    .filter(|_| s[i + 1].is_ascii_hexdigit() && s[i + 2].is_ascii_hexdigit());
                if let Some(v) = h {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
            out.push(if s[i] == b'+' { b' ' } else { s[i] });
            i += 1;
        }
        out
    }
}
