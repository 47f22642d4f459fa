//! The file session store: one framed file per session id in a private
//! directory.
//!
//! Guarantees:
//! * Every call validates the id first ([`super::id::check`]); an invalid id
//!   is `SMISK_ERR_SESSION_ID` and touches no file, so no path can leave the
//!   directory.
//! * The directory is private (0700, owned by us, not a symlink; created if
//!   missing) and held open: every file is named relative to that descriptor
//!   ([`super::dir`]), so a path changed later redirects nothing. Files are
//!   created 0600 with `O_EXCL | O_NOFOLLOW`; reads open with
//!   `O_NOFOLLOW | O_NONBLOCK`, so a planted symlink or fifo is "no
//!   session", never a redirection or a hang.
//! * Every write goes to a fresh temp file that is renamed over the session
//!   file (or exchanged with it, then the old one unlinked: see
//!   [`super::dir::Held::install`]): readers see the old or the new content,
//!   never a mix; concurrent writers never corrupt each other (the last
//!   rename wins). Nothing is ever modified in place except the mtime
//!   (refresh).
//! * A file that is missing, older than `ttl` (by mtime), not a regular file,
//!   larger than the payload limit, or whose frame does not verify
//!   ([`super::frame`]) reads as `SMISK_ERR_NO_SESSION`.
//! * Without fsync (the default) a crash of the process never leaves a torn
//!   session; a power loss may leave an empty or partial file, which then
//!   reads as "no session". With fsync the file is flushed before the rename
//!   and the directory after it.
//!
//! Costs (system calls, each walking one path component): read = openat +
//! fstat + read + close, plus SHA-1 of the payload; write = SHA-1 + openat +
//! write + close + rename (on ext4: renameat2 + unlinkat instead of the
//! rename; with fsync: fdatasync + rename + fsync of the directory); refresh
//! = fstatat + utimensat; destroy = unlinkat. Each read and write also runs
//! [`Store::gc`] with probability `gc_probability`; when the coin says no
//! that costs a few atomic operations and no system call.

use super::dir::{Held, StoreDir};
use super::frame;
use super::gc::{self, GcStats};
use super::id;
use super::rng::Rng;
use crate::status::{Error, Result, SMISK_ERR_NO_SESSION};
use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::IntoRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Default session lifetime in seconds since the last write or refresh.
/// cbindgen:ignore
pub const DEFAULT_TTL: u64 = 900;
/// Default probability that a read or write also collects expired files.
/// cbindgen:ignore
pub const DEFAULT_GC_PROBABILITY: f64 = 0.1;
/// Default largest payload accepted by `write` (16 MiB).
/// cbindgen:ignore
pub const DEFAULT_MAX_PAYLOAD: usize = 16 << 20;
/// Longest name prefix accepted (the legacy `file_prefix` tail).
/// cbindgen:ignore
pub const MAX_PREFIX_LEN: usize = 64;
/// How often a write retries when its random temp name already exists.
const TEMP_NAME_ATTEMPTS: usize = 8;

/// A file session store. Cheap to share between threads (`&Store` suffices
/// for every operation; settings are atomics).
pub struct Store {
    dir: StoreDir,
    prefix: OsString,
    ttl: AtomicU64,
    gc_probability: AtomicU64,
    fsync: AtomicBool,
    max_payload: AtomicUsize,
    rng: Rng,
}

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

/// True when a file last modified at (`secs`, `nsecs`) is older than `ttl`
/// seconds at time `now`. A modification time in the future (clock stepped
/// back) is not expired.
pub(crate) fn is_expired(secs: i64, nsecs: i64, ttl: u64, now: Duration) -> bool {
    if secs < 0 {
        return true;
    }
    let mtime = Duration::new(secs as u64, nsecs.clamp(0, 999_999_999) as u32);
    match now.checked_sub(mtime) {
        Some(age) => age > Duration::from_secs(ttl),
        None => false,
    }
}

fn no_session(id: &str, why: impl std::fmt::Display) -> Error {
    Error::new(SMISK_ERR_NO_SESSION, format!("no session {id}: {why}"))
}

/// The default storage directory: `$TMPDIR/smisk-sessions-<euid>`.
pub fn default_dir() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    std::env::temp_dir().join(format!("smisk-sessions-{euid}"))
}

fn check_prefix(prefix: &OsStr) -> Result<()> {
    let b = prefix.as_bytes();
    if b.len() > MAX_PREFIX_LEN {
        return Err(Error::invalid(format!(
            "session file name prefix is {} bytes; at most {MAX_PREFIX_LEN} allowed",
            b.len()
        )));
    }
    if b.iter().any(|&c| c == b'/' || c == 0) || b == b"." || b == b".." {
        return Err(Error::invalid(
            "session file name prefix must not contain '/' or NUL",
        ));
    }
    Ok(())
}

/// Reads a file of `size` bytes (from fstat). Session files are replaced,
/// never rewritten, so the size is authoritative: the read stops once `size`
/// bytes arrived instead of probing for end of file with another system
/// call. None when the file turns out longer or shorter than `size`, which
/// only a foreign writer could cause. Memory is bounded by `size + 1`.
fn read_exact_size(file: &mut File, size: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; size + 1];
    let mut got = 0;
    while got < size {
        match file.read(&mut buf[got..]) {
            Ok(0) => return Ok(None),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if got > size {
        return Ok(None);
    }
    buf.truncate(size);
    Ok(Some(buf))
}

/// Closes `file` and reports the error that `drop` would have swallowed (NFS
/// and some FUSE file systems report write failures only at close).
fn close_checked(file: File) -> std::io::Result<()> {
    let fd = file.into_raw_fd();
    // SAFETY: fd came from into_raw_fd, so we own it and close it exactly once.
    if unsafe { libc::close(fd) } != 0 {
        let err = std::io::Error::last_os_error();
        // Linux always releases the descriptor, even on EINTR.
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(())
}

impl Store {
    /// A store keeping files named `<prefix><id>` in `dir`, which is created
    /// (mode 0700) if missing and must otherwise be a private directory of
    /// the current user.
    pub fn open(dir: &Path, prefix: &OsStr) -> Result<Store> {
        check_prefix(prefix)?;
        if dir.as_os_str().is_empty() {
            return Err(Error::invalid("session directory is empty"));
        }
        Ok(Store {
            dir: StoreDir::open(dir)?,
            prefix: prefix.to_os_string(),
            ttl: AtomicU64::new(DEFAULT_TTL),
            gc_probability: AtomicU64::new(DEFAULT_GC_PROBABILITY.to_bits()),
            fsync: AtomicBool::new(false),
            max_payload: AtomicUsize::new(DEFAULT_MAX_PAYLOAD),
            rng: Rng::new(),
        })
    }

    /// A store in [`default_dir`] with no name prefix.
    pub fn open_default() -> Result<Store> {
        Store::open(&default_dir(), OsStr::new(""))
    }

    /// The legacy `file_prefix` form: `"/dir/prefix"` is the directory
    /// `/dir` and the name prefix `prefix` (which may be empty, as in
    /// `"/dir/"`). A value without `/` is rejected. The directory must be
    /// private like any other store directory, so the original default
    /// `/tmp/smisk-sess.` (files directly in the shared `/tmp`) is refused.
    pub fn open_file_prefix(file_prefix: &[u8]) -> Result<Store> {
        let slash = memchr::memrchr(b'/', file_prefix).ok_or_else(|| {
            Error::invalid("file_prefix must contain a directory (\"/dir/prefix\")")
        })?;
        let (dir, prefix) = (&file_prefix[..slash], &file_prefix[slash + 1..]);
        let dir = if dir.is_empty() { &b"/"[..] } else { dir };
        Store::open(Path::new(OsStr::from_bytes(dir)), OsStr::from_bytes(prefix))
    }

    /// The storage directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The file name prefix (empty unless given).
    pub fn prefix(&self) -> &OsStr {
        &self.prefix
    }

    /// The legacy `file_prefix` text: `<dir>/<prefix>`.
    pub fn file_prefix(&self) -> Vec<u8> {
        let mut v = self.dir.path().as_os_str().as_bytes().to_vec();
        if v.last() != Some(&b'/') {
            v.push(b'/');
        }
        v.extend_from_slice(self.prefix.as_bytes());
        v
    }

    pub fn ttl(&self) -> u64 {
        self.ttl.load(Ordering::Relaxed)
    }

    /// Sets the lifetime in seconds since the last write or refresh.
    pub fn set_ttl(&self, secs: u64) {
        self.ttl.store(secs, Ordering::Relaxed)
    }

    pub fn gc_probability(&self) -> f64 {
        f64::from_bits(self.gc_probability.load(Ordering::Relaxed))
    }

    /// Sets the probability (0.0 to 1.0) that a read or write runs [`gc`](Store::gc).
    pub fn set_gc_probability(&self, p: f64) -> Result<()> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::invalid(format!(
                "gc_probability must be between 0 and 1, got {p}"
            )));
        }
        self.gc_probability.store(p.to_bits(), Ordering::Relaxed);
        Ok(())
    }

    pub fn fsync(&self) -> bool {
        self.fsync.load(Ordering::Relaxed)
    }

    /// Whether writes are flushed to stable storage before they return.
    pub fn set_fsync(&self, on: bool) {
        self.fsync.store(on, Ordering::Relaxed)
    }

    pub fn max_payload(&self) -> usize {
        self.max_payload.load(Ordering::Relaxed)
    }

    /// Largest payload accepted by `write`; files whose payload exceeds it read
    /// as "no session" (nothing larger is ever loaded into memory).
    pub fn set_max_payload(&self, bytes: usize) {
        self.max_payload.store(bytes, Ordering::Relaxed)
    }

    /// `<prefix><id>`, NUL-terminated for the `*at` calls.
    fn name_of(&self, id: &str) -> CString {
        let mut n = Vec::with_capacity(self.prefix.len() + id.len() + 1);
        n.extend_from_slice(self.prefix.as_bytes());
        n.extend_from_slice(id.as_bytes());
        // The prefix and a valid id contain no NUL (checked at open / by id::check).
        CString::new(n).expect("no NUL in a session file name")
    }

    /// The path of the file for `id` (validated).
    pub fn path_of(&self, id: &[u8]) -> Result<PathBuf> {
        let id = id::check(id)?;
        Ok(self.path_of_name(&self.name_of(id)))
    }

    fn path_of_name(&self, name: &CStr) -> PathBuf {
        self.dir.path().join(OsStr::from_bytes(name.to_bytes()))
    }

    /// An I/O error of `call` on the file `name`, naming its full path.
    fn os_err(&self, call: &str, name: &CStr, err: std::io::Error) -> Error {
        Error::os(format!("{call} {}", self.path_of_name(name).display()), err)
    }

    fn maybe_gc(&self) {
        if self.rng.chance(self.gc_probability()) {
            // GC is housekeeping on behalf of this call; its failure (say a
            // read-only directory) must not fail the read or write itself.
            let _ = self.gc();
        }
    }

    /// The payload stored for `id`. `SMISK_ERR_NO_SESSION` when there is none
    /// (missing, expired, not a regular file, too large, does not verify).
    pub fn read(&self, id: &[u8]) -> Result<Vec<u8>> {
        let id = id::check(id)?;
        self.maybe_gc();
        let name = self.name_of(id);
        // O_NONBLOCK: a planted fifo must not block the open.
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
        let opened = self.dir.with(false, |d| {
            d.open_at(&name, flags, 0)
                .map_err(|e| self.os_err("open", &name, e))
        });
        let mut file = match opened {
            Ok(f) => f,
            Err(e) => {
                return Err(match e.errno {
                    Some(libc::ENOENT) | Some(libc::ENOTDIR) => no_session(id, "no data"),
                    Some(libc::ELOOP) => no_session(id, "the session path is a symlink"),
                    _ => e,
                })
            }
        };
        let meta = file
            .metadata()
            .map_err(|e| self.os_err("fstat", &name, e))?;
        if !meta.file_type().is_file() {
            return Err(no_session(id, "the session path is not a regular file"));
        }
        if is_expired(meta.mtime(), meta.mtime_nsec(), self.ttl(), now()) {
            return Err(no_session(id, "data too old"));
        }
        let limit = self.max_payload().saturating_add(frame::OVERHEAD);
        if meta.len() > limit as u64 {
            return Err(no_session(id, "file larger than the payload limit"));
        }
        let buf = read_exact_size(&mut file, meta.len() as usize)
            .map_err(|e| self.os_err("read", &name, e))?;
        let Some(mut buf) = buf else {
            return Err(no_session(id, "file changed size while being read"));
        };
        let range = match frame::decode(id.as_bytes(), &buf) {
            Ok(payload) => {
                let start = payload.as_ptr() as usize - buf.as_ptr() as usize;
                start..start + payload.len()
            }
            Err(reject) => return Err(no_session(id, reject.describe())),
        };
        buf.truncate(range.end);
        buf.drain(..range.start);
        Ok(buf)
    }

    /// Stores `payload` for `id`, replacing any previous content atomically.
    pub fn write(&self, id: &[u8], payload: &[u8]) -> Result<()> {
        let id = id::check(id)?;
        super::backend::check_payload(payload.len(), self.max_payload())?;
        self.maybe_gc();
        let mut framed = Vec::new();
        frame::encode(id.as_bytes(), payload, &mut framed);
        // ENOENT when the directory vanished (a tmp cleaner): `with`
        // recreates it and writes once more.
        self.dir.with(true, |d| self.replace(d, id, &framed))
    }

    /// Writes `content` to a new temp file in `d` and puts it in place as
    /// `<prefix><id>`.
    fn replace(&self, d: &Held, id: &str, content: &[u8]) -> Result<()> {
        let (tmp, file) = self.create_temp(d, id)?;
        let result = self.fill_and_install(d, file, content, &tmp, id);
        if result.is_err() {
            // Best effort: the temp file is ours and useless now; GC removes it
            // later if this unlink fails too.
            let _ = d.unlink_at(&tmp);
        }
        result
    }

    /// A fresh temp file `<prefix><id>.<pid>.<random>.tmp` in `d`, mode 0600
    /// (the umask can only remove bits), opened for writing.
    pub(crate) fn create_temp(&self, d: &Held, id: &str) -> Result<(CString, File)> {
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
        let mut last = None;
        for _ in 0..TEMP_NAME_ATTEMPTS {
            let name = gc::temp_name(&self.prefix, id, &self.rng)?;
            match d.open_at(&name, flags, 0o600) {
                Ok(f) => return Ok((name, f)),
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                    last = Some(self.os_err("create", &name, e))
                }
                Err(e) => return Err(self.os_err("create", &name, e)),
            }
        }
        Err(last.unwrap_or_else(|| Error::invalid("no temp name")))
    }

    fn fill_and_install(
        &self,
        d: &Held,
        mut file: File,
        content: &[u8],
        tmp: &CStr,
        id: &str,
    ) -> Result<()> {
        use std::io::Write;
        let sync = self.fsync();
        file.write_all(content)
            .map_err(|e| self.os_err("write", tmp, e))?;
        if sync {
            file.sync_data()
                .map_err(|e| self.os_err("fdatasync", tmp, e))?;
        }
        close_checked(file).map_err(|e| self.os_err("close", tmp, e))?;
        let target = self.name_of(id);
        d.install(tmp, &target, sync)
            .map_err(|e| self.os_err("rename to", &target, e))?;
        if sync {
            d.sync()
                .map_err(|e| Error::os(format!("fsync {}", self.dir.path().display()), e))?;
        }
        Ok(())
    }

    /// Extends the lifetime of `id` (sets its mtime to now).
    /// `SMISK_ERR_NO_SESSION` when there is no live session to extend: an
    /// expired session is not brought back.
    pub fn refresh(&self, id: &[u8]) -> Result<()> {
        let id = id::check(id)?;
        let name = self.name_of(id);
        let looked = self.dir.with(false, |d| match d.lstat_at(&name) {
            Ok(st) => Ok((st, Arc::clone(d))),
            Err(e) => Err(self.os_err("lstat", &name, e)),
        });
        let (st, d) = match looked {
            Ok(v) => v,
            Err(e) if e.errno == Some(libc::ENOENT) => return Err(no_session(id, "no data")),
            Err(e) => return Err(e),
        };
        match st.st_mode & libc::S_IFMT {
            libc::S_IFREG => {}
            libc::S_IFLNK => return Err(no_session(id, "the session path is a symlink")),
            _ => return Err(no_session(id, "the session path is not a regular file")),
        }
        if is_expired(st.st_mtime, st.st_mtime_nsec, self.ttl(), now()) {
            return Err(no_session(id, "data too old"));
        }
        // If the file is replaced between the lstat and here, the newer file
        // (or, in this private directory, a link we would never create) gets
        // its mtime set, which is harmless; AT_SYMLINK_NOFOLLOW means a link
        // target is never touched.
        match d.touch_at(&name) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Err(no_session(id, "no data")),
            Err(e) => Err(self.os_err("utimensat", &name, e)),
        }
    }

    /// Removes the session `id`. A missing session is not an error.
    pub fn destroy(&self, id: &[u8]) -> Result<()> {
        let id = id::check(id)?;
        let name = self.name_of(id);
        // unlink never follows a symlink: a planted link is removed, its
        // target untouched.
        let removed = self.dir.with(false, |d| {
            d.unlink_at(&name)
                .map_err(|e| self.os_err("unlink", &name, e))
        });
        match removed {
            Err(e) if e.errno == Some(libc::ENOENT) => Ok(()),
            other => other,
        }
    }

    /// Removes expired session files and abandoned temp files of this store
    /// (see `super::gc`). Returns what it scanned and removed.
    pub fn gc(&self) -> Result<GcStats> {
        let d = self.dir.for_gc()?;
        gc::collect(
            &d,
            self.dir.path(),
            &self.prefix,
            self.ttl(),
            now(),
            &self.rng,
        )
    }
}

impl super::backend::Backend for Store {
    fn read(&self, id: &[u8]) -> Result<Vec<u8>> {
        Store::read(self, id)
    }
    fn write(&self, id: &[u8], payload: &[u8]) -> Result<()> {
        Store::write(self, id, payload)
    }
    fn refresh(&self, id: &[u8]) -> Result<()> {
        Store::refresh(self, id)
    }
    fn destroy(&self, id: &[u8]) -> Result<()> {
        Store::destroy(self, id)
    }
    fn ttl(&self) -> u64 {
        Store::ttl(self)
    }
    fn set_ttl(&self, secs: u64) {
        Store::set_ttl(self, secs)
    }
    fn max_payload(&self) -> usize {
        Store::max_payload(self)
    }
    fn set_max_payload(&self, bytes: usize) {
        Store::set_max_payload(self, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_strictly_older_than_ttl() {
        let now = Duration::from_secs(10_000);
        assert!(!is_expired(10_000 - 900, 0, 900, now));
        assert!(is_expired(10_000 - 901, 0, 900, now));
        assert!(!is_expired(20_000, 0, 900, now), "future mtime");
        assert!(is_expired(-5, 0, 900, now));
        assert!(!is_expired(0, 0, u64::MAX, now));
    }

    #[test]
    fn prefixes_are_checked() {
        assert!(check_prefix(OsStr::new("smisk-sess.")).is_ok());
        assert!(check_prefix(OsStr::new("")).is_ok());
        assert!(check_prefix(OsStr::new("a/b")).is_err());
        assert!(check_prefix(OsStr::new("..")).is_err());
        assert!(check_prefix(OsStr::from_bytes(b"a\0")).is_err());
        assert!(check_prefix(OsStr::new(&"p".repeat(65))).is_err());
    }

    #[test]
    fn legacy_file_prefix_is_split_at_the_last_slash() {
        assert!(Store::open_file_prefix(b"no-slash").is_err());
        // The original default puts files straight into the shared /tmp.
        let err = Store::open_file_prefix(b"/tmp/smisk-sess.").err().unwrap();
        assert!(err.message.contains("/tmp"), "{}", err.message);
    }

    #[allow(dead_code)]
    fn assert_sync<T: Sync + Send>() {}
    #[test]
    fn store_is_shareable() {
        assert_sync::<Store>();
    }
}
