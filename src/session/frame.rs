//! The on-disk framing of one session file.
//!
//! ```text
//! offset  size  field
//!  0       8    magic  "\x89SMKSES\n"
//!  8       2    format version, little endian (1)
//! 10       2    reserved, must be 0
//! 12       8    payload length n, little endian
//! 20       n    payload (opaque bytes: the shim's marshal output)
//! 20+n    20    SHA-1 over bytes 0..20, the session id, and the payload
//! ```
//!
//! Guarantees: [`decode`] accepts exactly what [`encode`] produced for the same
//! id; a truncated, extended, bit-flipped or foreign file, or a valid file
//! copied to another id's name, is rejected with a reason. The high-bit first
//! byte and the newline in the magic catch 7-bit and text-mode mangling, as in
//! PNG. Cost: one SHA-1 pass over the payload (about 40 bytes of overhead per
//! file); decoding never allocates and reads nothing outside the given slice.

/// First bytes of every session file.
/// cbindgen:ignore
pub const MAGIC: [u8; 8] = *b"\x89SMKSES\n";
/// The format version this library writes and reads.
/// cbindgen:ignore
pub const VERSION: u16 = 1;
/// Bytes before the payload.
/// cbindgen:ignore
pub const HEADER_LEN: usize = 20;
/// Bytes after the payload (the SHA-1 digest).
/// cbindgen:ignore
pub const TRAILER_LEN: usize = 20;
/// Framing overhead per file.
/// cbindgen:ignore
pub const OVERHEAD: usize = HEADER_LEN + TRAILER_LEN;

/// Why a file did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// Shorter than the fixed header and trailer.
    TooShort,
    /// Does not start with [`MAGIC`] (not a session file).
    Magic,
    /// A format version (or reserved field) this library does not know.
    Version,
    /// The recorded payload length disagrees with the file size (truncated or
    /// extended file).
    Length,
    /// The checksum does not match (corrupted, or framed for another id).
    Checksum,
}

impl Reject {
    pub fn describe(self) -> &'static str {
        match self {
            Reject::TooShort => "file too short",
            Reject::Magic => "not a smisk session file (bad magic)",
            Reject::Version => "unsupported session file format version",
            Reject::Length => "length field does not match the file size (truncated?)",
            Reject::Checksum => "checksum mismatch (corrupted)",
        }
    }
}

fn digest(header: &[u8], id: &[u8], payload: &[u8]) -> [u8; 20] {
    let mut h = sha1_smol::Sha1::new();
    h.update(header);
    h.update(id);
    h.update(payload);
    h.digest().bytes()
}

/// Appends the framed file content for `payload` under `id` to `out`.
pub fn encode(id: &[u8], payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(payload.len() + OVERHEAD);
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    let sum = digest(&out[start..start + HEADER_LEN], id, payload);
    out.extend_from_slice(payload);
    out.extend_from_slice(&sum);
}

/// The payload of `file` when it is a valid frame for `id`.
pub fn decode<'a>(id: &[u8], file: &'a [u8]) -> Result<&'a [u8], Reject> {
    if file.len() < OVERHEAD {
        // A short file that starts like ours is a truncation; anything else is
        // foreign. Both are "no session"; the distinction helps debugging.
        let n = file.len().min(MAGIC.len());
        return Err(if file[..n] == MAGIC[..n] && n > 0 {
            Reject::TooShort
        } else {
            Reject::Magic
        });
    }
    let (header, rest) = file.split_at(HEADER_LEN);
    if header[..8] != MAGIC {
        return Err(Reject::Magic);
    }
    let version = u16::from_le_bytes([header[8], header[9]]);
    let reserved = u16::from_le_bytes([header[10], header[11]]);
    if version != VERSION || reserved != 0 {
        return Err(Reject::Version);
    }
    let mut len_bytes = [0u8; 8];
    len_bytes.copy_from_slice(&header[12..20]);
    let len = u64::from_le_bytes(len_bytes);
    // rest.len() >= TRAILER_LEN by the size check above.
    let available = (rest.len() - TRAILER_LEN) as u64;
    if len != available {
        return Err(Reject::Length);
    }
    let (payload, trailer) = rest.split_at(rest.len() - TRAILER_LEN);
    if digest(header, id, payload)[..] != trailer[..] {
        return Err(Reject::Checksum);
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
    const OTHER: &[u8] = b"vutsrqponmlkjihgfedcba9876543210";

    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        encode(ID, payload, &mut v);
        v
    }

    #[test]
    fn round_trips_any_payload() {
        for len in [0usize, 1, 19, 20, 21, 1024, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let f = framed(&payload);
            assert_eq!(f.len(), payload.len() + OVERHEAD);
            assert_eq!(decode(ID, &f).unwrap(), &payload[..]);
        }
    }

    #[test]
    fn every_truncation_and_extension_is_rejected() {
        let f = framed(b"some session payload");
        for cut in 0..f.len() {
            assert!(decode(ID, &f[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = f.clone();
        longer.push(0);
        assert_eq!(decode(ID, &longer), Err(Reject::Length));
        assert_eq!(decode(ID, &f[..f.len() - 1]), Err(Reject::Length));
        assert_eq!(decode(ID, &f[..5]), Err(Reject::TooShort));
    }

    #[test]
    fn every_single_bit_flip_is_rejected() {
        let f = framed(b"payload");
        for byte in 0..f.len() {
            for bit in 0..8 {
                let mut g = f.clone();
                g[byte] ^= 1 << bit;
                assert!(decode(ID, &g).is_err(), "flip {byte}.{bit}");
            }
        }
    }

    #[test]
    fn random_input_is_rejected_without_panicking() {
        let mut x: u64 = 0x853c_49e6_748f_ea9b;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let good = framed(b"payload");
        for round in 0..20_000 {
            let len = (next() % 200) as usize;
            let mut input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Half the inputs start with a valid header so that the length
            // and checksum paths are reached too.
            if round % 2 == 0 && len >= HEADER_LEN {
                input[..HEADER_LEN].copy_from_slice(&good[..HEADER_LEN]);
                if round % 4 == 0 {
                    let n = (len - OVERHEAD.min(len)) as u64;
                    input[12..20].copy_from_slice(&n.to_le_bytes());
                }
            }
            assert!(decode(ID, &input).is_err());
        }
    }

    #[test]
    fn foreign_and_moved_files_are_rejected() {
        assert_eq!(decode(ID, b""), Err(Reject::Magic));
        assert_eq!(decode(ID, b"N"), Err(Reject::Magic));
        // A py2 marshal file of the original store.
        assert_eq!(
            decode(ID, b"{t\x01\x00\x00\x00xi\x01\x00\x00\x000"),
            Err(Reject::Magic)
        );
        assert_eq!(decode(ID, &[0u8; 100]), Err(Reject::Magic));
        let f = framed(b"payload");
        assert_eq!(decode(OTHER, &f), Err(Reject::Checksum));
        let mut v2 = f.clone();
        v2[8] = 2;
        assert_eq!(decode(ID, &v2), Err(Reject::Version));
        let mut huge = f.clone();
        huge[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(decode(ID, &huge), Err(Reject::Length));
    }
}
