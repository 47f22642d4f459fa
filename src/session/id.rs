//! Session ids: generation and the one accepted form.
//!
//! An id is 20 bytes from the OS CSPRNG packed 5 bits per character
//! (`crate::uid::pack`), i.e. exactly 32 characters of `[0-9a-v]` (160 bits of
//! entropy). [`is_valid`] accepts that form and nothing else: no length other
//! than 32, no byte outside the alphabet. Because the alphabet contains neither
//! `/`, `.`, NUL, CR nor LF, a valid id can never name a path outside the store
//! directory nor inject a header line. Validation is one pass over at most 32
//! bytes (longer input is rejected by its length before any byte is looked at).

use crate::status::{Error, Result};
use crate::uid::{os_random, pack_into};

/// Length in characters of every session id.
/// cbindgen:ignore
pub const ID_LEN: usize = 32;

/// Number of CSPRNG bytes behind one id.
const ID_RANDOM_BYTES: usize = 20;

/// True when `id` is exactly 32 characters of `[0-9a-v]`.
pub fn is_valid(id: &[u8]) -> bool {
    id.len() == ID_LEN
        && id
            .iter()
            .all(|&c| c.is_ascii_digit() || (b'a'..=b'v').contains(&c))
}

/// `id` as text when it is a valid session id, otherwise a
/// `SMISK_ERR_SESSION_ID` error (the message never echoes more than a short,
/// escaped prefix of hostile input).
pub fn check(id: &[u8]) -> Result<&str> {
    if is_valid(id) {
        // The alphabet is ASCII, so this cannot fail.
        return Ok(std::str::from_utf8(id).expect("valid ids are ASCII"));
    }
    let shown: String = id
        .iter()
        .take(40)
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect();
    let more = if id.len() > 40 { "..." } else { "" };
    Err(Error::new(
        crate::status::SMISK_ERR_SESSION_ID,
        format!(
            "invalid session id \"{shown}{more}\" ({} bytes): expected {ID_LEN} characters of [0-9a-v]",
            id.len()
        ),
    ))
}

/// A fresh session id from the OS CSPRNG.
pub fn generate() -> Result<String> {
    let mut raw = [0u8; ID_RANDOM_BYTES];
    os_random(&mut raw)?;
    let mut out = Vec::with_capacity(ID_LEN);
    pack_into(&raw, 5, &mut out)?;
    debug_assert!(is_valid(&out));
    Ok(String::from_utf8(out).expect("alphabet is ASCII"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::SMISK_ERR_SESSION_ID;

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert!(is_valid(a.as_bytes()));
        assert!(is_valid(b.as_bytes()));
        assert_ne!(a, b);
        assert_eq!(check(a.as_bytes()).unwrap(), a);
    }

    #[test]
    fn only_the_exact_form_is_accepted() {
        let good = "0123456789abcdefghijklmnopqrstuv";
        assert!(is_valid(good.as_bytes()));
        let long = "a".repeat(10 * 1024);
        let bad: Vec<&[u8]> = vec![
            b"",
            b"../x",
            b"a/b",
            b"0123456789abcdefghijklmnopqrstu",   // 31
            b"0123456789abcdefghijklmnopqrstuvv", // 33
            b"0123456789abcdefghijklmnopqrstuw",  // w is outside the alphabet
            b"0123456789abcdefghijklmnopqrstuV",  // upper case
            b"0123456789abcdefghijklmnopqrst\r\n",
            b"0123456789abcdefghijklmnopqrstu\0",
            b"../../../../../../../../etc/pass",
            b"0123456789abcdefghijklmnopqrst.u",
            long.as_bytes(),
            "0123456789abcdefghijklmnopqrs\u{e9}".as_bytes(),
        ];
        for id in bad {
            assert!(!is_valid(id), "{id:?}");
            let err = check(id).unwrap_err();
            assert_eq!(err.status, SMISK_ERR_SESSION_ID);
            assert!(err.message.len() < 300, "message stays short");
            assert!(!err.message.contains('\n') && !err.message.contains('\0'));
        }
    }
}
