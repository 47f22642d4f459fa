//! The store directory, held open by descriptor, and the `*at` calls made
//! relative to it.
//!
//! Every file operation of the store names its file relative to one open
//! descriptor of the private directory (`openat`, `renameat`, `unlinkat`,
//! `fstatat`, `utimensat`, `linkat`), checked once when opened (a real
//! directory, ours, mode 0700; see [`fsutil::open_private_dir`]). A call
//! walks one path component instead of the whole path, and nothing done to
//! the path later redirects the store: a directory replaced by a symlink
//! changes nothing for the descriptor held.
//!
//! The path is looked up again (with the same checks, never following a
//! symlink at its last component) only when the descriptor may be stale:
//! * a call failed with `ENOENT` and the directory held was deleted (a tmp
//!   cleaner) or the path names another directory now; a write then
//!   recreates the directory, a read finds "no session" unless the path
//!   holds a directory again;
//! * before every GC run (a directory scan costs far more than the `lstat`).
//!
//! Cost per store call: an uncontended read lock and an `Arc` clone.

use crate::fsutil;
use crate::status::Result;
use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// `f_type` of ext2/3/4 (`statfs(2)`).
const EXT4_SUPER_MAGIC: i64 = 0xEF53;

/// One open descriptor of the store directory.
pub(crate) struct Held {
    fd: OwnedFd,
    dev: u64,
    ino: u64,
    /// Whether a write installs its file with `RENAME_EXCHANGE` + `unlink`
    /// instead of `rename` (see [`Held::install`]).
    exchange: AtomicBool,
}

fn cvt(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl Held {
    pub(crate) fn open(path: &Path, create: bool) -> Result<Held> {
        let (fd, st) = fsutil::open_private_dir(path, create)?;
        // SAFETY: a zeroed statfs is a valid buffer for fstatfs to fill.
        let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: fs is writable; fstatfs only reads the descriptor.
        let ext4 = unsafe { libc::fstatfs(fd.as_raw_fd(), &mut fs) } == 0
            && fs.f_type as i64 == EXT4_SUPER_MAGIC;
        Ok(Held {
            fd,
            dev: st.st_dev,
            ino: st.st_ino,
            exchange: AtomicBool::new(ext4),
        })
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Opens `name` in the directory with `flags` (plus `O_CLOEXEC`) and
    /// `mode` for a created file.
    pub(crate) fn open_at(
        &self,
        name: &CStr,
        flags: libc::c_int,
        mode: libc::mode_t,
    ) -> io::Result<File> {
        // SAFETY: name is NUL-terminated; openat returns a new fd or -1.
        let fd = unsafe {
            libc::openat(
                self.fd(),
                name.as_ptr(),
                flags | libc::O_CLOEXEC,
                mode as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a freshly opened descriptor owned by nobody else.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// `lstat` of `name`: a symlink is described, never followed.
    pub(crate) fn lstat_at(&self, name: &CStr) -> io::Result<libc::stat> {
        // SAFETY: a zeroed stat is a valid buffer for fstatat to fill.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: name is NUL-terminated and st writable.
        cvt(unsafe {
            libc::fstatat(self.fd(), name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW)
        })?;
        Ok(st)
    }

    pub(crate) fn rename_at(&self, from: &CStr, to: &CStr) -> io::Result<()> {
        // SAFETY: both names are NUL-terminated; both relative to our fd.
        cvt(unsafe { libc::renameat(self.fd(), from.as_ptr(), self.fd(), to.as_ptr()) })
    }

    pub(crate) fn unlink_at(&self, name: &CStr) -> io::Result<()> {
        // SAFETY: name is NUL-terminated; unlinkat never follows a symlink.
        cvt(unsafe { libc::unlinkat(self.fd(), name.as_ptr(), 0) })
    }

    /// Makes `to` a second name of the file `from` (never following a link).
    pub(crate) fn link_at(&self, from: &CStr, to: &CStr) -> io::Result<()> {
        // SAFETY: both names are NUL-terminated; flags 0 = do not follow.
        cvt(unsafe { libc::linkat(self.fd(), from.as_ptr(), self.fd(), to.as_ptr(), 0) })
    }

    /// Sets the times of `name` to now; a symlink's own times, never its
    /// target's.
    pub(crate) fn touch_at(&self, name: &CStr) -> io::Result<()> {
        // SAFETY: name is NUL-terminated; NULL times means "now" for both.
        cvt(unsafe {
            libc::utimensat(
                self.fd(),
                name.as_ptr(),
                std::ptr::null(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })
    }

    /// Atomically swaps the files named `a` and `b` (both must exist).
    fn exchange_names(&self, a: &CStr, b: &CStr) -> io::Result<()> {
        // SAFETY: both names are NUL-terminated, relative to our fd.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                self.fd(),
                a.as_ptr(),
                self.fd(),
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Flushes the directory entries (after a rename, for durability).
    pub(crate) fn sync(&self) -> io::Result<()> {
        // SAFETY: fsync only reads the descriptor.
        cvt(unsafe { libc::fsync(self.fd()) })
    }

    /// Atomically puts the file `tmp` in place as `target`: a reader of
    /// `target` sees the old file or the new one, never neither, never a mix.
    ///
    /// On ext4, `rename` over an existing file starts writeback of the new
    /// file's data at once (the `auto_da_alloc` heuristic for programs that
    /// skip fsync), which made a session write cost a block allocation and a
    /// disk request. `renameat2(RENAME_EXCHANGE)` is just as atomic for
    /// readers and writers (the last exchange wins, like the last rename) and
    /// has no such hook; the old file, now at `tmp`, is then unlinked. The
    /// durability promise is unchanged: without fsync a power loss may leave
    /// an empty file, which reads as "no session"; with `fsync` the data is
    /// flushed before and `rename` is used. When there is no `target` yet
    /// (or the file system lacks `RENAME_EXCHANGE`) a plain rename does it.
    pub(crate) fn install(&self, tmp: &CStr, target: &CStr, fsync: bool) -> io::Result<()> {
        if !fsync && self.exchange.load(Ordering::Relaxed) {
            match self.exchange_names(tmp, target) {
                // The previous file (or a link planted at the name) is at tmp
                // now. If the unlink fails, GC removes it as an old temp file
                // later.
                Ok(()) => {
                    return match self.unlink_at(tmp) {
                        // A directory planted at the name: put it back and
                        // fail as rename would (the caller removes our file).
                        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
                            self.exchange_names(tmp, target)?;
                            Err(e)
                        }
                        _ => Ok(()),
                    };
                }
                // No target yet, or it was just removed (destroy, GC): rename.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP)
                    ) =>
                {
                    self.exchange.store(false, Ordering::Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        self.rename_at(tmp, target)
    }
}

/// The store directory: its path and the descriptor currently held.
pub(crate) struct StoreDir {
    path: PathBuf,
    held: RwLock<Arc<Held>>,
}

impl StoreDir {
    /// Opens (creating if missing) the private directory `path`.
    pub(crate) fn open(path: &Path) -> Result<StoreDir> {
        Ok(StoreDir {
            path: path.to_path_buf(),
            held: RwLock::new(Arc::new(Held::open(path, true)?)),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The descriptor to use for one call.
    pub(crate) fn get(&self) -> Arc<Held> {
        self.held.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// True when `held` no longer is the directory at the path: deleted, or
    /// the path is missing or names something else.
    fn is_stale(&self, held: &Held) -> bool {
        match fsutil::fstat(held.fd()) {
            Ok(st) if st.st_nlink > 0 => {}
            _ => return true,
        }
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) => {
                use std::os::unix::fs::MetadataExt;
                !m.file_type().is_dir() || m.dev() != held.dev || m.ino() != held.ino
            }
            Err(_) => true,
        }
    }

    /// After a call on `used` failed with ENOENT: the descriptor to retry
    /// with, or None when `used` is still the right directory (the ENOENT
    /// was genuine) or, unless `create`, when no directory is at the path.
    pub(crate) fn renew(&self, used: &Arc<Held>, create: bool) -> Result<Option<Arc<Held>>> {
        let mut cur = self.held.write().unwrap_or_else(|e| e.into_inner());
        if !Arc::ptr_eq(&cur, used) {
            return Ok(Some(cur.clone())); // another thread renewed it already
        }
        if !self.is_stale(used) {
            return Ok(None);
        }
        let fresh = match Held::open(&self.path, create) {
            Ok(h) => Arc::new(h),
            Err(e) if !create && e.errno == Some(libc::ENOENT) => return Ok(None),
            Err(e) => return Err(e),
        };
        *cur = fresh.clone();
        Ok(Some(fresh))
    }

    /// Runs `op` on the current descriptor; when it fails with ENOENT because
    /// the descriptor was stale, once more on a renewed one.
    pub(crate) fn with<T>(
        &self,
        create: bool,
        mut op: impl FnMut(&Arc<Held>) -> Result<T>,
    ) -> Result<T> {
        let held = self.get();
        match op(&held) {
            Err(e) if e.errno == Some(libc::ENOENT) => match self.renew(&held, create)? {
                Some(fresh) => op(&fresh),
                None => Err(e),
            },
            other => other,
        }
    }

    /// The descriptor for a GC run, renewed first if the path changed (GC
    /// never creates the directory).
    pub(crate) fn for_gc(&self) -> Result<Arc<Held>> {
        let held = self.get();
        Ok(self.renew(&held, false)?.unwrap_or(held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::fs::symlink;

    fn scratch(parent: &Path, tag: &str) -> PathBuf {
        fsutil::scratch_dir_in(parent, &format!("dir-{tag}"))
    }

    fn c(s: &str) -> CString {
        CString::new(s).unwrap()
    }

    /// Both ways of installing a file, on every file system at hand: the
    /// temp (ext4) dir and tmpfs.
    #[test]
    fn install_replaces_creates_and_never_follows() {
        let mut parents = vec![std::env::temp_dir()];
        if Path::new("/dev/shm").is_dir() {
            parents.push(PathBuf::from("/dev/shm"));
        }
        for parent in parents {
            for exchange in [true, false] {
                let dir = scratch(&parent, "install");
                let held = Held::open(&dir, false).unwrap();
                held.exchange.store(exchange, Ordering::Relaxed);
                let (tmp, target) = (c("t.tmp"), c("target"));
                // No target yet: installed by rename.
                std::fs::write(dir.join("t.tmp"), b"one").unwrap();
                held.install(&tmp, &target, false).unwrap();
                assert_eq!(std::fs::read(dir.join("target")).unwrap(), b"one");
                assert!(!dir.join("t.tmp").exists());
                // Replacing: the old file is gone, not left at the temp name.
                std::fs::write(dir.join("t.tmp"), b"two").unwrap();
                held.install(&tmp, &target, false).unwrap();
                assert_eq!(std::fs::read(dir.join("target")).unwrap(), b"two");
                assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
                // A planted link is replaced itself; its target is untouched.
                std::fs::remove_file(dir.join("target")).unwrap();
                std::fs::write(dir.join("victim"), b"victim").unwrap();
                symlink(dir.join("victim"), dir.join("target")).unwrap();
                std::fs::write(dir.join("t.tmp"), b"three").unwrap();
                held.install(&tmp, &target, false).unwrap();
                let m = std::fs::symlink_metadata(dir.join("target")).unwrap();
                assert!(m.file_type().is_file(), "{parent:?} {exchange}");
                assert_eq!(std::fs::read(dir.join("target")).unwrap(), b"three");
                assert_eq!(std::fs::read(dir.join("victim")).unwrap(), b"victim");
                assert!(!dir.join("t.tmp").exists());
                // With fsync, always a plain rename (the data is on disk).
                std::fs::write(dir.join("t.tmp"), b"four").unwrap();
                held.install(&tmp, &target, true).unwrap();
                assert_eq!(std::fs::read(dir.join("target")).unwrap(), b"four");
                assert!(!dir.join("t.tmp").exists());
                // A directory planted at the name stays; the write fails.
                std::fs::remove_file(dir.join("target")).unwrap();
                std::fs::create_dir(dir.join("target")).unwrap();
                std::fs::write(dir.join("target/inside"), b"x").unwrap();
                std::fs::write(dir.join("t.tmp"), b"five").unwrap();
                let err = held.install(&tmp, &target, false).unwrap_err();
                assert!(
                    matches!(err.raw_os_error(), Some(libc::EISDIR)),
                    "{parent:?} {exchange} {err}"
                );
                assert!(dir.join("target/inside").is_file());
                assert_eq!(std::fs::read(dir.join("t.tmp")).unwrap(), b"five");
                std::fs::remove_dir_all(dir.join("target")).unwrap();
                std::fs::write(dir.join("target"), b"four").unwrap();
                std::fs::remove_file(dir.join("t.tmp")).unwrap();
                // A missing temp file is an error, whichever way.
                let err = held.install(&tmp, &target, false).unwrap_err();
                assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
                assert_eq!(std::fs::read(dir.join("target")).unwrap(), b"four");
                std::fs::remove_dir_all(&dir).unwrap();
            }
        }
    }

    #[test]
    fn exchange_is_chosen_for_ext4_only() {
        let dir = scratch(&std::env::temp_dir(), "fs");
        let held = Held::open(&dir, false).unwrap();
        // SAFETY: a zeroed statfs is a valid buffer for fstatfs to fill.
        let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: fs is writable.
        assert_eq!(unsafe { libc::fstatfs(held.fd(), &mut fs) }, 0);
        assert_eq!(
            held.exchange.load(Ordering::Relaxed),
            fs.f_type as i64 == EXT4_SUPER_MAGIC
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_stale_descriptor_is_renewed_only_when_stale() {
        let dir = scratch(&std::env::temp_dir(), "stale");
        let sd = StoreDir::open(&dir).unwrap();
        let first = sd.get();
        // Still the directory at the path: nothing to renew.
        assert!(sd.renew(&first, true).unwrap().is_none());
        // Deleted: a reader finds nothing to renew, a writer recreates it.
        std::fs::remove_dir(&dir).unwrap();
        assert!(sd.renew(&first, false).unwrap().is_none());
        let second = sd.renew(&first, true).unwrap().expect("recreated");
        assert!(dir.is_dir());
        // A caller still holding the first descriptor gets the second.
        let again = sd.renew(&first, false).unwrap().expect("renewed already");
        assert!(Arc::ptr_eq(&again, &second));
        // Renamed away and replaced by a symlink: refused, never followed.
        let moved = dir.with_extension("moved");
        std::fs::rename(&dir, &moved).unwrap();
        let elsewhere = scratch(&std::env::temp_dir(), "elsewhere");
        symlink(&elsewhere, &dir).unwrap();
        let err = sd.renew(&second, true).err().expect("a symlink");
        assert!(err.message.contains("symlink"), "{}", err.message);
        let err = sd.for_gc().err().expect("a symlink");
        assert!(err.message.contains("symlink"), "{}", err.message);
        std::fs::remove_file(&dir).unwrap();
        std::fs::remove_dir_all(&moved).unwrap();
        std::fs::remove_dir_all(&elsewhere).unwrap();
    }
}
