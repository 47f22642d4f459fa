//! Garbage collection of a store directory, and the temp-file naming it
//! relies on.
//!
//! Guarantees: only entries of the store's own directory are considered, and
//! only those whose name is exactly `<prefix><valid id>` (a session) or
//! `<prefix><valid id>.<pid>.<random>.tmp` (a write's temp file). Of those,
//! only regular files are removed (the type comes from `fstatat` with
//! `AT_SYMLINK_NOFOLLOW`, never from `d_type`, so file systems reporting
//! `DT_UNKNOWN` are collected too and symlinks never are); sessions when their
//! mtime is older than `ttl`, temp files when older than [`TEMP_GRACE`].
//! Anything else in the directory is left alone.
//!
//! An expired session is first renamed to a fresh temp name (which atomically
//! takes whatever file is at the name right now), checked again, and put back
//! with `link` if a writer replaced it in between: GC never deletes a session
//! that was written after GC decided it had expired.
//!
//! Cost: one directory scan plus one `fstatat` per matching name; two renames
//! and an unlink per expired session. Nothing is allocated per non-matching
//! entry beyond what `readdir` returns.

use super::id;
use super::rng::Rng;
use crate::status::{Error, Result};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

/// Age after which a temp file is considered abandoned (a write takes
/// microseconds; ten minutes covers the slowest fsync).
/// cbindgen:ignore
pub const TEMP_GRACE: u64 = 600;

/// What GC did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GcStats {
    /// Directory entries looked at.
    pub scanned: usize,
    /// Expired session files removed.
    pub removed_sessions: usize,
    /// Abandoned temp files removed.
    pub removed_temps: usize,
}

/// What a directory entry name is, for a store with `prefix`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Session,
    Temp,
    Foreign,
}

const TEMP_SUFFIX: &[u8] = b".tmp";
const TEMP_MAX_MIDDLE: usize = 48;

pub(crate) fn classify(prefix: &[u8], name: &[u8]) -> Kind {
    let Some(rest) = name.strip_prefix(prefix) else {
        return Kind::Foreign;
    };
    if rest.len() < id::ID_LEN || !id::is_valid(&rest[..id::ID_LEN]) {
        return Kind::Foreign;
    }
    let tail = &rest[id::ID_LEN..];
    if tail.is_empty() {
        return Kind::Session;
    }
    // ".<pid>.<random>.tmp": digits, [0-9a-v] and dots only, bounded length.
    let Some(middle) = tail
        .strip_prefix(b".")
        .and_then(|t| t.strip_suffix(TEMP_SUFFIX))
    else {
        return Kind::Foreign;
    };
    if middle.is_empty()
        || middle.len() > TEMP_MAX_MIDDLE
        || !middle
            .iter()
            .all(|&c| c == b'.' || c.is_ascii_digit() || (b'a'..=b'v').contains(&c))
    {
        return Kind::Foreign;
    }
    Kind::Temp
}

/// A fresh temp name for a write of `id`: unique across processes (pid) and
/// within one (64 bits from the per-store generator; creation with `O_EXCL`
/// retries on the unlikely collision). No system call.
pub(crate) fn temp_name(prefix: &OsStr, id: &str, rng: &Rng) -> Result<OsString> {
    let raw = rng.next_u64().to_le_bytes();
    let mut name = prefix.as_bytes().to_vec();
    name.extend_from_slice(id.as_bytes());
    name.extend_from_slice(format!(".{}.", super::rng::pid()).as_bytes());
    crate::uid::pack_into(&raw, 5, &mut name)?;
    name.extend_from_slice(TEMP_SUFFIX);
    debug_assert_eq!(classify(prefix.as_bytes(), &name), Kind::Temp);
    Ok(OsStr::from_bytes(&name).to_os_string())
}

fn expired_file(meta: &std::fs::Metadata, ttl: u64, now: Duration) -> bool {
    meta.file_type().is_file()
        && super::store::is_expired(meta.mtime(), meta.mtime_nsec(), ttl, now)
}

/// Scans `dir` and removes what has expired (see the module doc).
pub(crate) fn collect(
    dir: &Path,
    prefix: &OsStr,
    ttl: u64,
    now: Duration,
    rng: &Rng,
) -> Result<GcStats> {
    let mut stats = GcStats::default();
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::os(format!("opendir {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::os(format!("readdir {}", dir.display()), e))?;
        stats.scanned += 1;
        let name = entry.file_name();
        let kind = classify(prefix.as_bytes(), name.as_bytes());
        let limit = match kind {
            Kind::Foreign => continue,
            Kind::Session => ttl,
            Kind::Temp => TEMP_GRACE,
        };
        // fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW): a symlink is never
        // followed and never a regular file.
        let Ok(meta) = entry.metadata() else {
            continue; // vanished meanwhile
        };
        if !expired_file(&meta, limit, now) {
            continue;
        }
        match kind {
            Kind::Temp => {
                if std::fs::remove_file(dir.join(&name)).is_ok() {
                    stats.removed_temps += 1;
                }
            }
            Kind::Session => {
                if reap(dir, prefix, &name, ttl, now, rng)? {
                    stats.removed_sessions += 1;
                }
            }
            Kind::Foreign => {}
        }
    }
    Ok(stats)
}

/// Removes the expired session file `name` without losing a concurrent write:
/// move it aside, look again, put it back if it turned out fresh.
pub(crate) fn reap(
    dir: &Path,
    prefix: &OsStr,
    name: &OsStr,
    ttl: u64,
    now: Duration,
    rng: &Rng,
) -> Result<bool> {
    let id = &name.as_bytes()[prefix.len()..];
    let id = std::str::from_utf8(id).map_err(|_| Error::invalid("session name is not ASCII"))?;
    let grave = dir.join(temp_name(prefix, id, rng)?);
    let path = dir.join(name);
    if std::fs::rename(&path, &grave).is_err() {
        return Ok(false); // gone already (destroyed or reaped by another process)
    }
    let meta = match std::fs::symlink_metadata(&grave) {
        Ok(m) => m,
        Err(_) => return Ok(false),
    };
    if expired_file(&meta, ttl, now) {
        let _ = std::fs::remove_file(&grave);
        return Ok(true);
    }
    // A writer replaced the file between the scan and the rename: restore it
    // unless an even newer write has appeared at the name since (link fails
    // with EEXIST then, and the newer file rightly wins).
    let _ = std::fs::hard_link(&grave, &path);
    let _ = std::fs::remove_file(&grave);
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdefghijklmnopqrstuv";

    #[test]
    fn names_are_classified_exactly() {
        assert_eq!(classify(b"", ID.as_bytes()), Kind::Session);
        assert_eq!(classify(b"s.", format!("s.{ID}").as_bytes()), Kind::Session);
        assert_eq!(classify(b"s.", ID.as_bytes()), Kind::Foreign);
        assert_eq!(classify(b"", format!("{ID}x").as_bytes()), Kind::Foreign);
        assert_eq!(classify(b"", &ID.as_bytes()[..31]), Kind::Foreign);
        // The original's over-broad prefix match collected "s" and "smisk".
        assert_eq!(classify(b"smisk-sess.", b"s"), Kind::Foreign);
        assert_eq!(classify(b"smisk-sess.", b"smisk"), Kind::Foreign);
        assert_eq!(classify(b"", b".."), Kind::Foreign);
        assert_eq!(
            classify(b"", format!("{ID}.123.abc.tmp").as_bytes()),
            Kind::Temp
        );
        assert_eq!(
            classify(b"", format!("{ID}..tmp").as_bytes()),
            Kind::Foreign
        );
        assert_eq!(
            classify(b"", format!("{ID}.1/2.tmp").as_bytes()),
            Kind::Foreign
        );
        assert_eq!(
            classify(b"", format!("{ID}.{}.tmp", "1".repeat(49)).as_bytes()),
            Kind::Foreign
        );
        let rng = Rng::new();
        let t = temp_name(OsStr::new("p-"), ID, &rng).unwrap();
        assert_eq!(classify(b"p-", t.as_bytes()), Kind::Temp);
        assert_ne!(t, temp_name(OsStr::new("p-"), ID, &rng).unwrap());
    }

    #[test]
    fn reap_puts_back_a_file_that_turned_out_fresh() {
        let rng = Rng::new();
        let dir = std::env::temp_dir().join(format!("smisk-gc-reap-{}", id::generate().unwrap()));
        crate::fsutil::ensure_private_dir(&dir).unwrap();
        let name = OsStr::new(ID);
        std::fs::write(dir.join(name), b"fresh data").unwrap();
        let real_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        // As if the scan had seen an expired file that a writer then replaced.
        assert!(!reap(&dir, OsStr::new(""), name, 900, real_now, &rng).unwrap());
        assert_eq!(std::fs::read(dir.join(name)).unwrap(), b"fresh data");
        let later = real_now + Duration::from_secs(1000);
        assert!(reap(&dir, OsStr::new(""), name, 900, later, &rng).unwrap());
        assert!(!dir.join(name).exists());
        // Nothing left behind by the move-aside step.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        // Already gone: nothing to do.
        assert!(!reap(&dir, OsStr::new(""), name, 900, later, &rng).unwrap());
        std::fs::remove_dir(&dir).unwrap();
    }
}
