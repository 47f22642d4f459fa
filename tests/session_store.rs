//! The file session store against hostile ids, expired / corrupted /
//! truncated / foreign files, planted symlinks and fifos, a read-only
//! directory, and GC.

use smisk::session::{frame, id, Store};
use smisk::status::*;
use std::ffi::OsStr;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A fresh private scratch directory (removed by `Scratch::drop`).
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("smisk-test-{tag}-{}", id::generate().unwrap()));
        std::fs::create_dir(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o700));
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn new_store(base: &Path) -> Store {
    let s = Store::open(&base.join("store"), OsStr::new("")).unwrap();
    s.set_gc_probability(0.0).unwrap();
    s
}

fn fresh_id() -> String {
    id::generate().unwrap()
}

fn set_age(path: &Path, secs: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(secs))
        .unwrap();
}

/// Every entry below `dir`, recursively, with its size and mtime.
fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, i64, i64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            out.push((e.path(), m.len(), m.mtime(), m.mtime_nsec()));
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn round_trip_refresh_destroy() {
    let base = Scratch::new("rt");
    let s = new_store(&base.0);
    let sid = fresh_id();
    assert_eq!(
        s.read(sid.as_bytes()).unwrap_err().status,
        SMISK_ERR_NO_SESSION
    );
    s.write(sid.as_bytes(), b"hello\0world").unwrap();
    assert_eq!(s.read(sid.as_bytes()).unwrap(), b"hello\0world");
    s.write(sid.as_bytes(), b"").unwrap();
    assert_eq!(s.read(sid.as_bytes()).unwrap(), b"");
    let path = s.path_of(sid.as_bytes()).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(s.dir()).unwrap().mode() & 0o777, 0o700);
    set_age(&path, 100);
    s.refresh(sid.as_bytes()).unwrap();
    let age = SystemTime::now()
        .duration_since(std::fs::metadata(&path).unwrap().modified().unwrap())
        .unwrap_or_default();
    assert!(age < Duration::from_secs(5), "refresh set mtime to now");
    s.destroy(sid.as_bytes()).unwrap();
    assert!(!path.exists());
    s.destroy(sid.as_bytes()).unwrap(); // missing is fine
    assert_eq!(
        s.refresh(sid.as_bytes()).unwrap_err().status,
        SMISK_ERR_NO_SESSION
    );
    // Only the session file ever lands in the directory: no temp leftovers.
    s.write(sid.as_bytes(), b"x").unwrap();
    let names: Vec<_> = std::fs::read_dir(s.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from(&sid)]);
}

#[test]
fn a_vanished_directory_is_recreated_by_the_next_write() {
    let base = Scratch::new("vanish");
    let s = new_store(&base.0);
    let sid = fresh_id();
    s.write(sid.as_bytes(), b"one").unwrap();
    std::fs::remove_dir_all(s.dir()).unwrap();
    assert_eq!(
        s.read(sid.as_bytes()).unwrap_err().status,
        SMISK_ERR_NO_SESSION
    );
    s.write(sid.as_bytes(), b"two").unwrap();
    assert_eq!(s.read(sid.as_bytes()).unwrap(), b"two");
    assert_eq!(std::fs::metadata(s.dir()).unwrap().mode() & 0o777, 0o700);
}

#[test]
fn a_directory_swapped_for_a_symlink_is_never_followed() {
    let base = Scratch::new("swap");
    let s = new_store(&base.0);
    let sid = fresh_id();
    s.write(sid.as_bytes(), b"one").unwrap();
    // Where a symlink put in place of the store directory points.
    let elsewhere = base.0.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
    let planted = fresh_id();
    let mut framed = Vec::new();
    frame::encode(planted.as_bytes(), b"planted", &mut framed);
    std::fs::write(elsewhere.join(&planted), &framed).unwrap();
    set_age(&elsewhere.join(&planted), 10_000);
    let elsewhere_before = snapshot(&elsewhere);

    // Moved away, a symlink in its place: the store keeps the directory it
    // opened and never looks through the link.
    let moved = base.0.join("moved");
    std::fs::rename(s.dir(), &moved).unwrap();
    symlink(&elsewhere, s.dir()).unwrap();
    s.write(sid.as_bytes(), b"two").unwrap();
    assert_eq!(s.read(sid.as_bytes()).unwrap(), b"two");
    assert_eq!(std::fs::read_dir(&moved).unwrap().count(), 1);
    assert_eq!(
        s.read(planted.as_bytes()).unwrap_err().status,
        SMISK_ERR_INVALID,
        "a miss looks at the path again and refuses the link"
    );
    // GC checks the path first and refuses the link: nothing there is removed.
    s.set_ttl(1);
    let err = s.gc().unwrap_err();
    assert!(err.message.contains("symlink"), "{}", err.message);
    s.set_ttl(900);

    // The directory itself is deleted: writes fail rather than follow.
    std::fs::remove_dir_all(&moved).unwrap();
    let err = s.write(sid.as_bytes(), b"three").unwrap_err();
    assert_eq!(err.status, SMISK_ERR_INVALID, "{err:?}");
    assert!(err.message.contains("symlink"), "{}", err.message);
    assert_eq!(
        s.read(sid.as_bytes()).unwrap_err().status,
        SMISK_ERR_INVALID
    );
    assert_eq!(
        s.refresh(planted.as_bytes()).unwrap_err().status,
        SMISK_ERR_INVALID
    );
    s.destroy(planted.as_bytes()).unwrap_err();
    assert_eq!(snapshot(&elsewhere), elsewhere_before);

    // A real directory at the path again: the store recovers.
    std::fs::remove_file(s.dir()).unwrap();
    s.write(sid.as_bytes(), b"four").unwrap();
    assert_eq!(s.read(sid.as_bytes()).unwrap(), b"four");
    assert_eq!(std::fs::metadata(s.dir()).unwrap().mode() & 0o777, 0o700);
    assert_eq!(snapshot(&elsewhere), elsewhere_before);
}

#[test]
fn a_directory_recreated_by_another_process_is_followed() {
    let base = Scratch::new("recreate");
    let s1 = new_store(&base.0);
    let a = fresh_id();
    s1.write(a.as_bytes(), b"a").unwrap();
    // A tmp cleaner removes the directory; another process (here: another
    // store) recreates it and writes. s1 finds that session on its next read.
    std::fs::remove_dir_all(s1.dir()).unwrap();
    let s2 = new_store(&base.0);
    let b = fresh_id();
    s2.write(b.as_bytes(), b"b").unwrap();
    assert_eq!(s1.read(b.as_bytes()).unwrap(), b"b");
    // Renamed away and replaced by a new directory: the same.
    std::fs::rename(s1.dir(), base.0.join("old")).unwrap();
    let s3 = new_store(&base.0);
    let c = fresh_id();
    s3.write(c.as_bytes(), b"c").unwrap();
    assert_eq!(s1.read(c.as_bytes()).unwrap(), b"c");
    assert_eq!(
        s1.read(b.as_bytes()).unwrap_err().status,
        SMISK_ERR_NO_SESSION,
        "sessions of the directory moved away are gone from the path"
    );
    s1.refresh(c.as_bytes()).unwrap();
    s1.destroy(c.as_bytes()).unwrap();
    assert_eq!(
        s3.read(c.as_bytes()).unwrap_err().status,
        SMISK_ERR_NO_SESSION
    );
}

#[test]
fn payload_limit_is_enforced_both_ways() {
    let base = Scratch::new("limit");
    let s = new_store(&base.0);
    let sid = fresh_id();
    s.set_max_payload(100);
    assert_eq!(
        s.write(sid.as_bytes(), &[7u8; 101]).unwrap_err().status,
        SMISK_ERR_TOO_LARGE
    );
    s.write(sid.as_bytes(), &[7u8; 100]).unwrap();
    s.set_max_payload(99);
    assert_eq!(
        s.read(sid.as_bytes()).unwrap_err().status,
        SMISK_ERR_NO_SESSION
    );
    s.set_max_payload(100);
    assert_eq!(s.read(sid.as_bytes()).unwrap(), vec![7u8; 100]);
}

fn bad_ids() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = vec![
        b"../x".to_vec(),
        b"a/b".to_vec(),
        b"".to_vec(),
        b"..".to_vec(),
        b".".to_vec(),
        b"/etc/passwd".to_vec(),
        b"0123456789abcdefghijklmnopqrst\r\n".to_vec(),
        b"0123456789abcdefghijklmnopqrstu\n".to_vec(),
        b"0123456789abcdefghijklmnopqrstu\0".to_vec(),
        b"\x000123456789abcdefghijklmnopqrstu".to_vec(),
        vec![b'a'; 10 * 1024],
        b"0123456789abcdefghijklmnopqrstuw".to_vec(), // wrong alphabet
        b"0123456789ABCDEFGHIJKLMNOPQRSTUV".to_vec(),
        b"0123456789abcdefghijklmnopqrstu".to_vec(), // 31
        b"0123456789abcdefghijklmnopqrstuvv".to_vec(), // 33
        b"../../../../../../../../tmp/evil".to_vec(), // 32 chars, path-like
        b"0123456789abcdefghijklmnopqrs/..".to_vec(),
        b"0123456789abcdefghijklmnopq\xc3\xa9rs".to_vec(),
    ];
    // Deterministic pseudo-random junk, half of it 32 bytes long.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..2000 {
        let len = if i % 2 == 0 { 32 } else { (i * 7) % 70 };
        let mut id = Vec::with_capacity(len);
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            id.push(b"./\0\r\nav0123456789wxyzAV-_%"[(x % 26) as usize]);
        }
        if !id::is_valid(&id) {
            v.push(id);
        }
    }
    v
}

#[test]
fn bad_ids_never_touch_any_path() {
    let base = Scratch::new("badid");
    // Bait outside the store directory that "../x" style ids would reach.
    std::fs::write(base.0.join("x"), b"bait").unwrap();
    std::fs::create_dir(base.0.join("a")).unwrap();
    std::fs::write(base.0.join("a").join("b"), b"bait").unwrap();
    let s = new_store(&base.0);
    let legacy =
        Store::open_file_prefix(format!("{}/sess.", base.0.join("legacy").display()).as_bytes())
            .unwrap();
    legacy.set_gc_probability(0.0).unwrap();
    let real = fresh_id();
    s.write(real.as_bytes(), b"keep").unwrap();
    legacy.write(real.as_bytes(), b"keep").unwrap();
    let before = snapshot(&base.0);
    let ids = bad_ids();
    assert!(ids.len() > 1000);
    for bad in &ids {
        for st in [&s, &legacy] {
            assert_eq!(
                st.read(bad).unwrap_err().status,
                SMISK_ERR_SESSION_ID,
                "{bad:?}"
            );
            assert_eq!(
                st.write(bad, b"evil").unwrap_err().status,
                SMISK_ERR_SESSION_ID
            );
            assert_eq!(st.refresh(bad).unwrap_err().status, SMISK_ERR_SESSION_ID);
            assert_eq!(st.destroy(bad).unwrap_err().status, SMISK_ERR_SESSION_ID);
            assert_eq!(st.path_of(bad).unwrap_err().status, SMISK_ERR_SESSION_ID);
        }
    }
    assert_eq!(
        snapshot(&base.0),
        before,
        "no file created, changed or removed"
    );
    assert_eq!(s.read(real.as_bytes()).unwrap(), b"keep");
}

#[test]
fn expired_sessions_read_as_none_and_are_not_revived() {
    let base = Scratch::new("exp");
    let s = new_store(&base.0);
    s.set_ttl(60);
    let sid = fresh_id();
    s.write(sid.as_bytes(), b"old").unwrap();
    let path = s.path_of(sid.as_bytes()).unwrap();
    set_age(&path, 30);
    assert_eq!(s.read(sid.as_bytes()).unwrap(), b"old");
    set_age(&path, 61);
    let err = s.read(sid.as_bytes()).unwrap_err();
    assert_eq!(err.status, SMISK_ERR_NO_SESSION);
    assert!(err.message.contains("too old"), "{}", err.message);
    let mtime = std::fs::metadata(&path).unwrap().mtime();
    assert_eq!(
        s.refresh(sid.as_bytes()).unwrap_err().status,
        SMISK_ERR_NO_SESSION
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().mtime(),
        mtime,
        "not revived"
    );
    // A longer ttl makes it live again (expiry is a read-time decision).
    s.set_ttl(3600);
    assert_eq!(s.read(sid.as_bytes()).unwrap(), b"old");
}

#[test]
fn corrupted_truncated_and_foreign_files_read_as_none() {
    let base = Scratch::new("corrupt");
    let s = new_store(&base.0);
    let sid = fresh_id();
    let other = fresh_id();
    s.write(sid.as_bytes(), b"a session payload").unwrap();
    s.write(other.as_bytes(), b"someone else").unwrap();
    let path = s.path_of(sid.as_bytes()).unwrap();
    let good = std::fs::read(&path).unwrap();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        (
            "py2 marshal of the original store",
            b"{t\x01\x00\x00\x00xi\x01\x00\x00\x000".to_vec(),
        ),
        ("marshal None", b"N".to_vec()),
        ("truncated header", good[..10].to_vec()),
        ("truncated payload", good[..good.len() - 25].to_vec()),
        ("truncated checksum", good[..good.len() - 1].to_vec()),
        ("extended", [&good[..], b"x"].concat()),
        (
            "other id's file",
            std::fs::read(s.path_of(other.as_bytes()).unwrap()).unwrap(),
        ),
        (
            "text",
            b"hello world, this is not a session file at all".to_vec(),
        ),
    ];
    for i in [0, 8, 12, 20, good.len() - 1] {
        let mut g = good.clone();
        g[i] ^= 0x40;
        cases.push(("bit flip", g));
    }
    for (what, content) in cases {
        std::fs::write(&path, &content).unwrap();
        let err = s.read(sid.as_bytes()).unwrap_err();
        assert_eq!(err.status, SMISK_ERR_NO_SESSION, "{what}");
        assert!(err.message.contains(&sid), "{what}: {}", err.message);
    }
    std::fs::write(&path, &good).unwrap();
    assert_eq!(s.read(sid.as_bytes()).unwrap(), b"a session payload");
    // A store with another prefix framing the same bytes is a different file.
    assert_eq!(
        frame::decode(other.as_bytes(), &good).unwrap_err(),
        frame::Reject::Checksum
    );
}

#[test]
fn planted_symlinks_and_fifos_are_never_followed() {
    let base = Scratch::new("link");
    let s = new_store(&base.0);
    let victim = base.0.join("victim");
    // Even a perfectly framed file is not read through a link.
    let sid = fresh_id();
    let mut framed = Vec::new();
    frame::encode(sid.as_bytes(), b"planted", &mut framed);
    std::fs::write(&victim, &framed).unwrap();
    set_age(&victim, 10_000);
    let path = s.path_of(sid.as_bytes()).unwrap();
    symlink(&victim, &path).unwrap();

    let err = s.read(sid.as_bytes()).unwrap_err();
    assert_eq!(err.status, SMISK_ERR_NO_SESSION);
    assert!(err.message.contains("symlink"), "{}", err.message);
    assert_eq!(
        s.refresh(sid.as_bytes()).unwrap_err().status,
        SMISK_ERR_NO_SESSION
    );
    // Make the link itself (not only its target) look long expired.
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let old = libc::timespec {
        tv_sec: 1_000_000,
        tv_nsec: 0,
    };
    let times = [old, old];
    // SAFETY: c is a valid path and times points to two timespecs.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(rc, 0);
    assert_eq!(std::fs::symlink_metadata(&path).unwrap().mtime(), 1_000_000);
    s.set_ttl(1);
    let stats = s.gc().unwrap();
    assert_eq!(stats.removed_sessions, 0, "links are never collected");
    assert!(std::fs::symlink_metadata(&path)
        .unwrap()
        .file_type()
        .is_symlink());
    s.set_ttl(900);

    // A write replaces the link itself; the target is untouched.
    s.write(sid.as_bytes(), b"mine").unwrap();
    assert!(std::fs::symlink_metadata(&path)
        .unwrap()
        .file_type()
        .is_file());
    assert_eq!(std::fs::read(&victim).unwrap(), framed);
    assert_eq!(s.read(sid.as_bytes()).unwrap(), b"mine");

    // Destroying a link removes the link, not the target.
    let sid2 = fresh_id();
    let path2 = s.path_of(sid2.as_bytes()).unwrap();
    symlink(&victim, &path2).unwrap();
    s.destroy(sid2.as_bytes()).unwrap();
    assert!(std::fs::symlink_metadata(&path2).is_err());
    assert_eq!(std::fs::read(&victim).unwrap(), framed);

    // A fifo at a session path: "no session" at once, not a hang.
    let sid3 = fresh_id();
    let path3 = s.path_of(sid3.as_bytes()).unwrap();
    let c = std::ffi::CString::new(path3.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: c is a valid path string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    assert_eq!(
        s.read(sid3.as_bytes()).unwrap_err().status,
        SMISK_ERR_NO_SESSION
    );
    assert_eq!(
        s.refresh(sid3.as_bytes()).unwrap_err().status,
        SMISK_ERR_NO_SESSION
    );

    // A symlinked store directory is refused outright.
    let real_dir = base.0.join("real");
    std::fs::create_dir(&real_dir).unwrap();
    std::fs::set_permissions(&real_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    symlink(&real_dir, base.0.join("linkdir")).unwrap();
    assert!(Store::open(&base.0.join("linkdir"), OsStr::new("")).is_err());
    // So is a directory others can enter.
    std::fs::set_permissions(&real_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(Store::open(&real_dir, OsStr::new("")).is_err());
}

#[test]
fn gc_removes_only_expired_files_with_valid_names() {
    let base = Scratch::new("gc");
    let s = Store::open(&base.0.join("store"), OsStr::new("sess.")).unwrap();
    s.set_gc_probability(0.0).unwrap();
    s.set_ttl(60);
    let live = fresh_id();
    let dead = fresh_id();
    s.write(live.as_bytes(), b"live").unwrap();
    s.write(dead.as_bytes(), b"dead").unwrap();
    let dir = s.dir().to_path_buf();
    set_age(&dir.join(format!("sess.{dead}")), 61);
    // Old files whose names are not this store's sessions: never touched.
    let foreign = [
        "s".to_string(),
        "smisk".to_string(),
        "sess.".to_string(),
        format!("sess.{}", &dead[..31]),
        format!("sess.{dead}x"),
        format!("other.{dead}"),
        dead.clone(), // no prefix
        format!("sess.{}W", &dead[..31]),
    ];
    for name in &foreign {
        std::fs::write(dir.join(name), b"x").unwrap();
        set_age(&dir.join(name), 10_000);
    }
    // An abandoned temp file of an interrupted write, and a fresh one.
    let old_tmp = format!("sess.{live}.4242.0123456789abc.tmp");
    let new_tmp = format!("sess.{live}.4243.0123456789abc.tmp");
    std::fs::write(dir.join(&old_tmp), b"partial").unwrap();
    set_age(&dir.join(&old_tmp), 2 * 3600);
    std::fs::write(dir.join(&new_tmp), b"partial").unwrap();
    // An expired directory with a session name.
    let dirname = format!("sess.{}", fresh_id());
    std::fs::create_dir(dir.join(&dirname)).unwrap();

    let stats = s.gc().unwrap();
    assert_eq!(stats.removed_sessions, 1);
    assert_eq!(stats.removed_temps, 1);
    assert!(!dir.join(format!("sess.{dead}")).exists());
    assert!(!dir.join(&old_tmp).exists());
    assert!(dir.join(&new_tmp).exists());
    assert!(dir.join(&dirname).is_dir());
    for name in &foreign {
        assert!(dir.join(name).exists(), "{name} kept");
    }
    assert_eq!(s.read(live.as_bytes()).unwrap(), b"live");
    // Nothing left over from GC's move-aside step.
    let leftovers = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .count();
    assert_eq!(leftovers, 1, "only the fresh temp file");
    // A second run finds nothing more.
    let again = s.gc().unwrap();
    assert_eq!((again.removed_sessions, again.removed_temps), (0, 0));
}

#[test]
fn gc_runs_by_probability_on_reads_and_writes() {
    let base = Scratch::new("gcprob");
    let s = new_store(&base.0);
    s.set_ttl(60);
    let dead = fresh_id();
    s.write(dead.as_bytes(), b"d").unwrap();
    set_age(&s.path_of(dead.as_bytes()).unwrap(), 120);
    let other = fresh_id();
    // Probability 0: reads and writes never collect.
    for _ in 0..50 {
        let _ = s.read(other.as_bytes());
    }
    assert!(s.path_of(dead.as_bytes()).unwrap().exists());
    s.set_gc_probability(1.0).unwrap();
    let _ = s.read(other.as_bytes());
    assert!(!s.path_of(dead.as_bytes()).unwrap().exists());
    assert!(s.set_gc_probability(1.5).is_err());
    assert!(s.set_gc_probability(f64::NAN).is_err());
    assert_eq!(s.gc_probability(), 1.0);
}

/// Runs `body` where a read-only directory really is read-only: as root
/// (which ignores permission bits) in a child process running as `nobody`.
fn run_read_only_scenario(dir: &Path) {
    let store = Store::open(dir, OsStr::new("")).unwrap();
    store.set_gc_probability(0.0).unwrap();
    let a = fresh_id();
    store.write(a.as_bytes(), b"before").unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o500)).unwrap();

    let b = fresh_id();
    let err = store.write(b.as_bytes(), b"new").unwrap_err();
    assert_eq!(err.status, SMISK_ERR_IO, "{err:?}");
    assert_eq!(err.errno, Some(libc::EACCES), "{err:?}");
    assert!(
        err.message.contains(dir.to_str().unwrap()),
        "names the path: {}",
        err.message
    );
    let err = store.write(a.as_bytes(), b"after").unwrap_err();
    assert_eq!(err.status, SMISK_ERR_IO);
    // Nothing else broke: the old data is intact and readable.
    assert_eq!(store.read(a.as_bytes()).unwrap(), b"before");
    assert_eq!(
        store.destroy(a.as_bytes()).unwrap_err().status,
        SMISK_ERR_IO
    );
    assert_eq!(store.read(a.as_bytes()).unwrap(), b"before");
    store.refresh(a.as_bytes()).unwrap();
    store.gc().unwrap();

    // The request layer reports the failure and stays usable.
    let store = std::sync::Arc::new(store);
    let mut rs = smisk::session::RequestSession::new(store.clone(), b"SID").unwrap();
    assert!(rs.add_cookie(a.as_bytes()));
    assert_eq!(rs.load().unwrap(), Some(&b"before"[..]));
    assert_eq!(rs.cookie(true, false).unwrap(), None);
    assert_eq!(
        rs.finish(Some(b"changed")).unwrap_err().status,
        SMISK_ERR_IO
    );
    let mut rs = smisk::session::RequestSession::new(store.clone(), b"SID").unwrap();
    rs.load().unwrap();
    assert!(rs.cookie(true, false).unwrap().is_some());
    assert_eq!(rs.finish(Some(b"new")).unwrap_err().status, SMISK_ERR_IO);

    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    store.write(b.as_bytes(), b"works again").unwrap();
    assert_eq!(store.read(b.as_bytes()).unwrap(), b"works again");
}

#[test]
#[ignore = "child process of read_only_directory_gives_clear_errors"]
fn read_only_child() {
    let dir = std::env::var_os("SMISK_TEST_RO_DIR").expect("run by the parent test");
    run_read_only_scenario(Path::new(&dir));
}

#[test]
fn read_only_directory_gives_clear_errors() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let base = Scratch::new("ro");
        run_read_only_scenario(&base.0.join("store"));
        return;
    }
    // Root bypasses permission bits: run the scenario as nobody in a child.
    use std::os::unix::process::CommandExt;
    const NOBODY: u32 = 65534;
    let dir = std::env::temp_dir().join(format!("smisk-test-ro-{}", fresh_id()));
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "read_only_child",
            "--test-threads=1",
            "--nocapture",
        ])
        .env("SMISK_TEST_RO_DIR", &dir)
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(text.contains("1 passed"), "child ran the scenario:\n{text}");
}
