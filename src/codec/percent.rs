//! Percent-encoding with the original Smisk character classes.
//!
//! * [`encode`] escapes the *reserved* and the *unsafe* bytes (use it for one
//!   path segment, query key or value, or fragment).
//! * [`escape`] escapes only the *unsafe* bytes (use it on a whole URL).
//! * [`decode`] is form decoding: `+` becomes a space, `%XX` (either case)
//!   becomes the byte, and every malformed `%` sequence is kept literally.
//!   [`decode_percent`] is the same without the `+` rule (cookies).
//!
//! The classes (those of the original Smisk):
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
//! Cost: encoding makes two passes: a branch-free count of the bytes to
//! escape (vectorized by the compiler) that sizes the output exactly, then
//! one 4-byte table store per input byte. Decoding classifies 16-byte
//! blocks in a branch-free, vectorizable loop and compacts them; runs before
//! the first `%` (or `+`) are found with `memchr` and copied as a whole. See
//! `bench/codec` for throughput.

use percent_encoding::{AsciiSet, CONTROLS};
use std::borrow::Cow;
use std::mem::MaybeUninit;

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

#[cfg(test)]
static UNSAFE_TABLE: [bool; 256] = build_table(false);
#[cfg(test)]
static RESERVED_UNSAFE_TABLE: [bool; 256] = build_table(true);

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// For each byte, its encoded form packed little-endian in a `u32`: the
/// output bytes (`b` or `%`, `H`, `L`) in the low three bytes and the output
/// length (1 or 3) in the high byte. The encoder stores all four bytes and
/// advances by the length, so there is no data-dependent branch per byte.
const fn build_codes(marked: &[bool; 256]) -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = if marked[b] {
            b'%' as u32
                | (HEX_UPPER[b >> 4] as u32) << 8
                | (HEX_UPPER[b & 0x0f] as u32) << 16
                | 3 << 24
        } else {
            b as u32 | 1 << 24
        };
        b += 1;
    }
    t
}

static UNSAFE_CODES: [u32; 256] = build_codes(&build_table(false));
static RESERVED_UNSAFE_CODES: [u32; 256] = build_codes(&build_table(true));

/// Percent-encodes the reserved and unsafe bytes (`URL.encode`).
pub fn encode(input: &[u8]) -> Cow<'_, [u8]> {
    encode_with::<true>(input, &RESERVED_UNSAFE_CODES)
}

/// Percent-encodes only the unsafe bytes (`URL.escape`).
pub fn escape(input: &[u8]) -> Cow<'_, [u8]> {
    encode_with::<false>(input, &UNSAFE_CODES)
}

/// Exact length of `encode(input)` (or of `escape(input)` when `reserved` is
/// false), without producing it.
pub fn encoded_len(input: &[u8], reserved: bool) -> usize {
    let marked = if reserved {
        count_marked::<true>(input)
    } else {
        count_marked::<false>(input)
    };
    input.len() + 2 * marked
}

/// Whether `encode` (`RESERVED` true) or `escape` keeps byte `b` as it is.
/// The same classes as the tables (a unit test compares all 256 bytes), in
/// branch-free arithmetic so that counting vectorizes.
#[inline(always)]
fn is_kept<const RESERVED: bool>(b: u8) -> bool {
    let alpha = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    // ! ' ( ) * - . _ ~
    let mark = (b == b'!')
        | (b == b'\'')
        | (b.wrapping_sub(b'(') < 3)
        | (b.wrapping_sub(b'-') < 2)
        | (b == b'_')
        | (b == b'~');
    // $ & + , / ; = ? (& and + , are next to ' ( ) * and - .)
    let reserved = (b == b'$')
        | (b == b'&')
        | (b.wrapping_sub(b'+') < 2)
        | (b == b'/')
        | (b == b';')
        | (b == b'=')
        | (b == b'?');
    alpha | digit | mark | (!RESERVED & reserved)
}

/// Number of bytes of `input` that need encoding, counted in blocks whose
/// flags are summed as `u8` (at most 255 per block) so that the compiler
/// keeps the sum in SIMD registers.
fn count_marked<const RESERVED: bool>(input: &[u8]) -> usize {
    input
        .chunks(255)
        .map(|block| {
            let n: u8 = block
                .iter()
                .map(|&b| u8::from(!is_kept::<RESERVED>(b)))
                .sum();
            usize::from(n)
        })
        .sum()
}

fn encode_with<'a, const RESERVED: bool>(input: &'a [u8], codes: &[u32; 256]) -> Cow<'a, [u8]> {
    let Some(first) = input.iter().position(|&b| !is_kept::<RESERVED>(b)) else {
        return Cow::Borrowed(input);
    };
    let rest = &input[first..];
    // Room for the worst case (every byte becomes three) plus 3 bytes of
    // slack for the last 4-byte store. Sizing by construction rather than by
    // a pre-count means no classification bug can make the stores below
    // overrun (the original counted up to a NUL but encoded past it), and it saves a pass over the input.
    // The buffer is written, not zero-filled first.
    let cap = first
        .checked_add(rest.len().checked_mul(3).expect("input fits in memory"))
        .and_then(|n| n.checked_add(3))
        .expect("input fits in memory");
    let mut out: Vec<u8> = Vec::with_capacity(cap);
    let spare = &mut out.spare_capacity_mut()[..cap];
    for (dst, &b) in spare.iter_mut().zip(&input[..first]) {
        dst.write(b);
    }
    let base = spare.as_mut_ptr();
    let mut j = first;
    for &b in rest {
        let code = codes[b as usize];
        // SAFETY: after i bytes of `rest`, j <= first + 3 * i, so
        // j + 4 <= first + 3 * rest.len() + 3 = cap: the store is in bounds.
        // MaybeUninit<u8> needs no alignment, hence the unaligned store.
        unsafe {
            base.add(j)
                .cast::<[u8; 4]>()
                .write_unaligned(code.to_le_bytes())
        };
        j += (code >> 24) as usize;
    }
    // SAFETY: 0..first was copied and every position below j was covered by
    // the 4-byte stores (each store writes at least the bytes it advances).
    unsafe { out.set_len(j) };
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
    // Decoding never lengthens, so the input length bounds the output. The
    // buffer is written, not zero-filled first (see encode_with).
    let mut out: Vec<u8> = Vec::with_capacity(input.len());
    let spare = &mut out.spare_capacity_mut()[..input.len()];
    for (dst, &b) in spare.iter_mut().zip(&input[..first]) {
        dst.write(b);
    }
    let j = if plus {
        decode_tail::<true>(&input[first..], &mut spare[first..])
    } else {
        decode_tail::<false>(&input[first..], &mut spare[first..])
    };
    // SAFETY: positions 0..first were copied above and decode_tail wrote
    // every output position below j (it writes out[j] before advancing j).
    unsafe { out.set_len(first + j) };
    Cow::Owned(out)
}

/// Decodes `input` into `out` (at least as long) and returns the output
/// length.
///
/// Valid escapes never overlap (the two bytes after a `%` that starts one
/// are hex digits, not `%`), so whether position i starts an escape depends
/// only on input[i..i + 3], not on earlier decisions. So each block of
/// positions is first classified independently -- escape start (the decoded
/// byte), digit of an earlier escape (dropped) or plain (the byte itself) --
/// in a loop without table lookups or branches that the compiler turns into
/// SIMD code; a second, tiny loop then compacts the block into the output.
/// Percent-heavy text, where per-byte branches mispredict, runs as fast as
/// plain text.
fn decode_tail<const PLUS: bool>(input: &[u8], out: &mut [MaybeUninit<u8>]) -> usize {
    const BLOCK: usize = 32;
    let n = input.len();
    let out = &mut out[..n];
    // Escape flags of the two positions before the current one.
    let (mut esc2, mut esc1) = (0u8, 0u8);
    let mut j = 0;
    let mut i = 0;
    while i + BLOCK + 2 <= n {
        let win = &input[i..i + BLOCK + 2];
        let mut value = [0u8; BLOCK];
        // esc[k + 2] is the flag of position i + k; esc[0..2] carry over.
        let mut esc = [0u8; BLOCK + 2];
        esc[0] = esc2;
        esc[1] = esc1;
        for k in 0..BLOCK {
            let (b, c1, c2) = (win[k], win[k + 1], win[k + 2]);
            let e = (b == b'%') & is_hex(c1) & is_hex(c2);
            let decoded = (hex_value(c1) << 4) | hex_value(c2);
            let plain = if PLUS && b == b'+' { b' ' } else { b };
            value[k] = if e { decoded } else { plain };
            esc[k + 2] = u8::from(e);
        }
        for k in 0..BLOCK {
            // Invariant: j <= i + k < n = out.len().
            out[j].write(value[k]);
            j += usize::from(1 ^ (esc[k] | esc[k + 1]));
        }
        esc2 = esc[BLOCK];
        esc1 = esc[BLOCK + 1];
        i += BLOCK;
    }
    // The rest, one position at a time.
    while i < n {
        let b = input[i];
        let e = i + 2 < n && b == b'%' && is_hex(input[i + 1]) && is_hex(input[i + 2]);
        out[j].write(if e {
            (hex_value(input[i + 1]) << 4) | hex_value(input[i + 2])
        } else if PLUS && b == b'+' {
            b' '
        } else {
            b
        });
        j += usize::from(1 ^ (esc2 | esc1));
        esc2 = esc1;
        esc1 = u8::from(e);
        i += 1;
    }
    j
}

/// Whether `c` is an ASCII hex digit (arithmetic only, so it vectorizes).
#[inline(always)]
fn is_hex(c: u8) -> bool {
    (c.wrapping_sub(b'0') < 10) | ((c | 0x20).wrapping_sub(b'a') < 6)
}

/// The value of hex digit `c` (meaningless for other bytes).
#[inline(always)]
fn hex_value(c: u8) -> u8 {
    let digit = c.wrapping_sub(b'0');
    let letter = (c | 0x20).wrapping_sub(b'a').wrapping_add(10);
    if digit < 10 {
        digit
    } else {
        letter
    }
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
        // NUL is an ordinary byte, anywhere.
        assert_eq!(escape(b"a \x00 ").as_ref(), b"a%20%00%20");
        assert_eq!(encode(b"").as_ref(), b"");
        assert!(matches!(escape(b"plain-text_~"), Cow::Borrowed(_)));
    }

    #[test]
    fn decode_vectors_from_the_spec() {
        // `+` alone is decoded too (the original returned it unchanged).
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
    fn arithmetic_classes_match_the_tables() {
        for b in 0..=255u8 {
            assert_eq!(
                is_kept::<true>(b),
                !RESERVED_UNSAFE_TABLE[b as usize],
                "{b:#x}"
            );
            assert_eq!(is_kept::<false>(b), !UNSAFE_TABLE[b as usize], "{b:#x}");
        }
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
