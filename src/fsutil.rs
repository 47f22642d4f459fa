//! Private files and directories, created without following links.
//!
//! Uploads and sessions live in directories only the current user can enter
//! (mode 0700) and in files only the current user can read (mode 0600),
//! created with `O_EXCL | O_NOFOLLOW` so a planted symlink or a pre-created
//! file is an error, never a redirection. Costs one `mkdir` + one `lstat` per
//! directory check and one `open` per file.

use crate::status::{Error, Result};
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

pub(crate) fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::invalid(format!("path contains a NUL byte: {}", path.display())))
}

/// Refuses `st` (of `dir`) unless it is a directory owned by the effective
/// user with no group/other permissions.
fn check_private_dir(dir: &Path, st: &libc::stat) -> Result<()> {
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(Error::invalid(format!(
            "{} is not a directory (or is a symlink)",
            dir.display()
        )));
    }
    // SAFETY: geteuid has no preconditions.
    if st.st_uid != unsafe { libc::geteuid() } {
        return Err(Error::invalid(format!(
            "{} is owned by another user",
            dir.display()
        )));
    }
    if st.st_mode & 0o077 != 0 {
        return Err(Error::invalid(format!(
            "{} is accessible to other users (mode {:o}); expected 0700",
            dir.display(),
            st.st_mode & 0o777
        )));
    }
    Ok(())
}

fn mkdir_private(dir: &Path, c: &CString) -> Result<()> {
    // SAFETY: c is a valid NUL-terminated path.
    if unsafe { libc::mkdir(c.as_ptr(), 0o700) } != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EEXIST) {
            return Err(Error::os(format!("mkdir {}", dir.display()), err));
        }
    }
    Ok(())
}

/// Makes sure `dir` exists as a private directory: creates it with mode 0700
/// if missing; otherwise it must be a real directory (not a symlink) owned by
/// the effective user with no group/other permissions.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    let c = c_path(dir)?;
    mkdir_private(dir, &c)?;
    // SAFETY: stat is plain old data; all zeroes is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: c is valid and st is a writable stat buffer.
    if unsafe { libc::lstat(c.as_ptr(), &mut st) } != 0 {
        return Err(Error::last_os(format!("lstat {}", dir.display())));
    }
    check_private_dir(dir, &st)
}

/// Like [`ensure_private_dir`] (creating `dir` only when `create`), but
/// returns an open descriptor of the directory and its `fstat`. The checks
/// are made on the descriptor, so the directory checked is the one returned
/// even if the path is changed meanwhile; a symlink at the last component is
/// never followed. Errors with ENOENT when `dir` is missing and `create` is
/// false.
pub fn open_private_dir(dir: &Path, create: bool) -> Result<(OwnedFd, libc::stat)> {
    let c = c_path(dir)?;
    if create {
        mkdir_private(dir, &c)?;
    }
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: c is a valid NUL-terminated path.
    let fd = unsafe { libc::open(c.as_ptr(), flags) };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        return Err(match err.raw_os_error() {
            Some(libc::ELOOP) | Some(libc::ENOTDIR) => Error::invalid(format!(
                "{} is not a directory (or is a symlink)",
                dir.display()
            )),
            _ => Error::os(format!("open {}", dir.display()), err),
        });
    }
    // SAFETY: fd is a freshly opened descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let st = fstat(fd.as_raw_fd()).map_err(|e| Error::os(format!("fstat {}", dir.display()), e))?;
    check_private_dir(dir, &st)?;
    Ok((fd, st))
}

/// `fstat(2)` of an open descriptor.
pub(crate) fn fstat(fd: RawFd) -> std::io::Result<libc::stat> {
    // SAFETY: a zeroed stat is a valid buffer for fstat to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is writable; fstat only reads fd.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(st)
}

/// A new private (0700) directory `smisk-<tag>-<random>` under `parent`, for
/// a test to work in and remove.
#[cfg(test)]
pub(crate) fn scratch_dir_in(parent: &Path, tag: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let mut raw = [0u8; 8];
    crate::uid::os_random(&mut raw).unwrap();
    let p = parent.join(format!(
        "smisk-{tag}-{}",
        crate::uid::pack(&raw, 5).unwrap()
    ));
    std::fs::create_dir(&p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
    p
}

/// [`scratch_dir_in`] the temp directory.
#[cfg(test)]
pub(crate) fn scratch_dir(tag: &str) -> std::path::PathBuf {
    scratch_dir_in(&std::env::temp_dir(), tag)
}

/// Creates `dir/name` as a new file with mode 0600, failing if anything
/// (file, symlink, fifo) already exists at that path. The file is opened
/// read-write and close-on-exec.
pub fn create_private_file(dir: &Path, name: &OsStr) -> Result<File> {
    let path = dir.join(name);
    let c = c_path(&path)?;
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: c is a valid NUL-terminated path; open returns a new fd or -1.
    let fd = unsafe { libc::open(c.as_ptr(), flags, 0o600 as libc::c_uint) };
    if fd < 0 {
        return Err(Error::last_os(format!("create {}", path.display())));
    }
    // SAFETY: fd is a freshly opened descriptor owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Opens an existing regular file for reading without following a symlink at
/// its last component.
pub fn open_nofollow(path: &Path) -> Result<File> {
    let c = c_path(path)?;
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: c is a valid NUL-terminated path.
    let fd = unsafe { libc::open(c.as_ptr(), flags) };
    if fd < 0 {
        return Err(Error::last_os(format!("open {}", path.display())));
    }
    // SAFETY: fd is a freshly opened descriptor owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn scratch(name: &str) -> std::path::PathBuf {
        scratch_dir(&format!("fsutil-{name}"))
    }

    #[test]
    fn private_dir_is_created_and_checked() {
        let base = scratch("dir");
        let d = base.join("store");
        ensure_private_dir(&d).unwrap();
        assert_eq!(
            std::fs::metadata(&d).unwrap().permissions().mode() & 0o777,
            0o700
        );
        ensure_private_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(ensure_private_dir(&d).is_err());
        let link = base.join("link");
        symlink(&d, &link).unwrap();
        assert!(ensure_private_dir(&link).is_err());
        std::fs::write(base.join("file"), b"x").unwrap();
        assert!(ensure_private_dir(&base.join("file")).is_err());
        // The descriptor form applies the same checks.
        assert!(open_private_dir(&link, true).is_err());
        assert!(open_private_dir(&base.join("file"), true).is_err());
        assert!(open_private_dir(&d, false).is_err(), "still 0755");
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(open_private_dir(&d, false).is_ok());
        let missing = base.join("missing");
        let err = open_private_dir(&missing, false).unwrap_err();
        assert_eq!(err.errno, Some(libc::ENOENT), "{err:?}");
        assert!(open_private_dir(&missing, true).is_ok());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn private_files_refuse_existing_paths_and_links() {
        let base = scratch("file");
        let f = create_private_file(&base, OsStr::new("a")).unwrap();
        assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        assert!(create_private_file(&base, OsStr::new("a")).is_err());
        symlink("/etc/passwd", base.join("evil")).unwrap();
        assert!(create_private_file(&base, OsStr::new("evil")).is_err());
        assert!(open_nofollow(&base.join("evil")).is_err());
        assert!(open_nofollow(&base.join("a")).is_ok());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
