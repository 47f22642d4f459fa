//! Unique ids: OS random bytes, the `pack` text encoding, and `uid`.
//!
//! `pack` turns bytes into text with `nbits` (4, 5 or 6) bits per character,
//! least significant bits first, over the alphabet `0-9 a-z A-Z _ -` (the
//! first `2^nbits` symbols). Output length is `ceil(8 * len / nbits)`. This is
//! the original Smisk encoding (nbits 4 is *not* conventional hex: each byte
//! gives its low nibble first), fixed to work for any input length.
//!
//! `uid` hashes 32 bytes from the OS CSPRNG (plus an optional caller-supplied
//! node) with SHA-1; the 20-byte digest is returned raw or packed. Session ids
//! are `pack(random 20 bytes, 5)`: 32 characters of `[0-9a-v]`.

use crate::status::{Error, Result};

/// The 64-symbol alphabet; `nbits` bits index its first `2^nbits` symbols.
pub const ALPHABET: &[u8; 64] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-";

/// Fills `buf` from the kernel CSPRNG (`getrandom(2)`, blocking only until the
/// pool is initialised at boot).
pub fn os_random(buf: &mut [u8]) -> Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: rest is a valid writable region of rest.len() bytes.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::os("getrandom", err));
        }
        filled += n as usize;
    }
    Ok(())
}

/// Checks that `nbits` is one of the supported symbol widths.
pub fn check_nbits(nbits: u32) -> Result<()> {
    match nbits {
        4..=6 => Ok(()),
        _ => Err(Error::invalid(format!("Invalid number of bits: {nbits}"))),
    }
}

/// Length of `pack(data, nbits)` for `len` input bytes.
pub fn packed_len(len: usize, nbits: u32) -> usize {
    (len * 8).div_ceil(nbits as usize)
}

/// Appends the packed text of `data` to `out`. `nbits` must be 4, 5 or 6.
pub fn pack_into(data: &[u8], nbits: u32, out: &mut Vec<u8>) -> Result<()> {
    check_nbits(nbits)?;
    out.reserve(packed_len(data.len(), nbits));
    let mask = (1u32 << nbits) - 1;
    let mut acc: u32 = 0;
    let mut held: u32 = 0;
    for &byte in data {
        acc |= u32::from(byte) << held;
        held += 8;
        while held >= nbits {
            out.push(ALPHABET[(acc & mask) as usize]);
            acc >>= nbits;
            held -= nbits;
        }
    }
    if held > 0 {
        out.push(ALPHABET[(acc & mask) as usize]);
    }
    Ok(())
}

/// `data` packed as text with `nbits` bits per character.
pub fn pack(data: &[u8], nbits: u32) -> Result<String> {
    let mut out = Vec::new();
    pack_into(data, nbits, &mut out)?;
    // The alphabet is ASCII.
    Ok(String::from_utf8(out).expect("alphabet is ASCII"))
}

/// A fresh 20-byte id: SHA-1 over 32 CSPRNG bytes followed by `node`.
pub fn uid_bytes(node: &[u8]) -> Result<[u8; 20]> {
    let mut seed = [0u8; 32];
    os_random(&mut seed)?;
    let mut h = sha1_smol::Sha1::new();
    h.update(&seed);
    h.update(node);
    Ok(h.digest().bytes())
}

/// A fresh id packed with `nbits` bits per character (4 → 40 chars, 5 → 32,
/// 6 → 27).
pub fn uid(nbits: u32, node: &[u8]) -> Result<String> {
    check_nbits(nbits)?;
    pack(&uid_bytes(node)?, nbits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq20() -> Vec<u8> {
        (0u8..20).collect()
    }

    #[test]
    fn pack_vectors_from_the_spec() {
        assert_eq!(pack(&[0; 20], 4).unwrap(), "0".repeat(40));
        assert_eq!(pack(&[0; 20], 5).unwrap(), "0".repeat(32));
        assert_eq!(pack(&[0; 20], 6).unwrap(), "0".repeat(27));
        assert_eq!(pack(&[0xff; 20], 4).unwrap(), "f".repeat(40));
        assert_eq!(pack(&[0xff; 20], 5).unwrap(), "v".repeat(32));
        assert_eq!(
            pack(&[0xff; 20], 6).unwrap(),
            format!("{}f", "-".repeat(26))
        );
        assert_eq!(
            pack(&seq20(), 4).unwrap(),
            "00102030405060708090a0b0c0d0e0f001112131"
        );
        assert_eq!(
            pack(&seq20(), 5).unwrap(),
            "0804g1g05g1e0441ao2og6o1f04219c2"
        );
        assert_eq!(pack(&seq20(), 6).unwrap(), "04w03gg16s029EM2cQw3f0h4ic1");
        assert_eq!(pack(b"abc", 4).unwrap(), "162636");
        assert_eq!(pack(b"abc", 5).unwrap(), "1jo66");
        assert_eq!(pack(b"abc", 6).unwrap(), "x9So");
        let digest = sha1_smol::Sha1::from("abc").digest().bytes();
        assert_eq!(
            pack(&digest, 5).unwrap(),
            "9d6t3rs8680l6tq759sg789oc371dcnj"
        );
    }

    #[test]
    fn pack_rejects_bad_widths_and_handles_any_length() {
        for bad in [0, 1, 3, 7, 8, 64] {
            let err = pack(b"abc", bad).unwrap_err();
            assert_eq!(err.message, format!("Invalid number of bits: {bad}"));
        }
        assert_eq!(pack(b"", 5).unwrap(), "");
        for len in 0..300 {
            let data = vec![0xa5u8; len];
            for nbits in 4..=6 {
                assert_eq!(pack(&data, nbits).unwrap().len(), packed_len(len, nbits));
            }
        }
    }

    #[test]
    fn uid_shapes() {
        let a = uid(5, b"").unwrap();
        let b = uid(5, b"node").unwrap();
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'v').contains(&c)));
        assert_ne!(a, b);
        assert_eq!(uid(4, b"").unwrap().len(), 40);
        assert_eq!(uid(6, b"").unwrap().len(), 27);
        assert!(uid(3, b"").is_err());
    }
}
