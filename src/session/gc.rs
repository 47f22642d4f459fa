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
//! Every call is relative to the store's open directory descriptor
//! ([`super::dir`]); the scan reads a fresh descriptor of that directory.
//!
//! Cost: one directory scan plus one `fstatat` per matching name; two renames
//! and an unlink per expired session. Nothing is allocated per non-matching
//! entry.

use super::dir::Held;
use super::id;
use super::rng::Rng;
use crate::status::{Error, Result};
use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
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
pub(crate) fn temp_name(prefix: &OsStr, id: &str, rng: &Rng) -> Result<CString> {
    use std::io::Write;
    let raw = rng.next_u64().to_le_bytes();
    let mut name = Vec::with_capacity(prefix.len() + id.len() + 32);
    name.extend_from_slice(prefix.as_bytes());
    name.extend_from_slice(id.as_bytes());
    let _ = write!(name, ".{}.", super::rng::pid());
    crate::uid::pack_into(&raw, 5, &mut name)?;
    name.extend_from_slice(TEMP_SUFFIX);
    debug_assert_eq!(classify(prefix.as_bytes(), &name), Kind::Temp);
    CString::new(name).map_err(|_| Error::invalid("session file name prefix contains NUL"))
}

fn expired_file(st: &libc::stat, ttl: u64, now: Duration) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFREG
        && super::store::is_expired(st.st_mtime, st.st_mtime_nsec, ttl, now)
}

/// A directory stream over a fresh descriptor of the held directory (a
/// stream of the held descriptor itself would share its offset with
/// concurrent scans in other threads and forked processes).
struct Scan(*mut libc::DIR);

impl Scan {
    fn open(d: &Held) -> std::io::Result<Scan> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: "." is NUL-terminated; openat returns a new fd or -1.
        let fd = unsafe { libc::openat(d.fd(), c".".as_ptr(), flags) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is ours; on success the stream owns it.
        let dir = unsafe { libc::fdopendir(fd) };
        if dir.is_null() {
            let err = std::io::Error::last_os_error();
            // SAFETY: fdopendir failed, so fd is still ours to close.
            unsafe { libc::close(fd) };
            return Err(err);
        }
        Ok(Scan(dir))
    }

    /// The next entry name; None at the end (or on a read error, which
    /// only ends this best-effort scan early).
    fn next_name(&mut self) -> Option<&CStr> {
        // SAFETY: self.0 is an open stream; the entry stays valid until the
        // next readdir on it, which the borrow of self prevents.
        unsafe {
            let ent = libc::readdir(self.0);
            if ent.is_null() {
                return None;
            }
            Some(CStr::from_ptr((*ent).d_name.as_ptr()))
        }
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        // SAFETY: self.0 is an open stream, closed exactly once.
        unsafe { libc::closedir(self.0) };
    }
}

/// Scans the held directory `d` (at `path`, for messages) and removes what
/// has expired (see the module doc).
pub(crate) fn collect(
    d: &Held,
    path: &Path,
    prefix: &OsStr,
    ttl: u64,
    now: Duration,
    rng: &Rng,
) -> Result<GcStats> {
    let mut stats = GcStats::default();
    let mut scan =
        Scan::open(d).map_err(|e| Error::os(format!("opendir {}", path.display()), e))?;
    while let Some(name) = scan.next_name() {
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        stats.scanned += 1;
        let kind = classify(prefix.as_bytes(), bytes);
        let limit = match kind {
            Kind::Foreign => continue,
            Kind::Session => ttl,
            Kind::Temp => TEMP_GRACE,
        };
        // fstatat(AT_SYMLINK_NOFOLLOW): a symlink is never followed and never
        // a regular file.
        let Ok(st) = d.lstat_at(name) else {
            continue; // vanished meanwhile
        };
        if !expired_file(&st, limit, now) {
            continue;
        }
        match kind {
            Kind::Temp => {
                if d.unlink_at(name).is_ok() {
                    stats.removed_temps += 1;
                }
            }
            Kind::Session => {
                let name = name.to_owned();
                if reap(d, prefix, &name, ttl, now, rng)? {
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
    d: &Held,
    prefix: &OsStr,
    name: &CStr,
    ttl: u64,
    now: Duration,
    rng: &Rng,
) -> Result<bool> {
    let id = &name.to_bytes()[prefix.len()..];
    let id = std::str::from_utf8(id).map_err(|_| Error::invalid("session name is not ASCII"))?;
    let grave = temp_name(prefix, id, rng)?;
    if d.rename_at(name, &grave).is_err() {
        return Ok(false); // gone already (destroyed or reaped by another process)
    }
    let st = match d.lstat_at(&grave) {
        Ok(st) => st,
        Err(_) => return Ok(false),
    };
    if expired_file(&st, ttl, now) {
        let _ = d.unlink_at(&grave);
        return Ok(true);
    }
    // A writer replaced the file between the scan and the rename: restore it
    // unless an even newer write has appeared at the name since (link fails
    // with EEXIST then, and the newer file rightly wins).
    let _ = d.link_at(&grave, name);
    let _ = d.unlink_at(&grave);
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
        let d = Held::open(&dir, true).unwrap();
        let name = &CString::new(ID).unwrap();
        std::fs::write(dir.join(ID), b"fresh data").unwrap();
        let real_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        // As if the scan had seen an expired file that a writer then replaced.
        assert!(!reap(&d, OsStr::new(""), name, 900, real_now, &rng).unwrap());
        assert_eq!(std::fs::read(dir.join(ID)).unwrap(), b"fresh data");
        let later = real_now + Duration::from_secs(1000);
        assert!(reap(&d, OsStr::new(""), name, 900, later, &rng).unwrap());
        assert!(!dir.join(ID).exists());
        // Nothing left behind by the move-aside step.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        // Already gone: nothing to do.
        assert!(!reap(&d, OsStr::new(""), name, 900, later, &rng).unwrap());
        std::fs::remove_dir(&dir).unwrap();
    }
}
