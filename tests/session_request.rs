//! The request-level session logic: cookie candidates, lazy load and id,
//! dirtiness by bytes, write-back / refresh, destroy, re-keying, cookie text.

use smisk::session::request::{cookie_text, expired_cookie_text, is_valid_cookie_name};
use smisk::session::{id, Outcome, RequestSession, Store};
use smisk::status::*;
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("smisk-test-{tag}-{}", id::generate().unwrap()));
        std::fs::create_dir(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
        Scratch(p)
    }

    fn store(&self) -> Arc<Store> {
        let s = Store::open(&self.0.join("store"), OsStr::new("")).unwrap();
        s.set_gc_probability(0.0).unwrap();
        Arc::new(s)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn files(store: &Store) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// One request: cookie values in, (cookie header, outcome) out.
fn request(
    store: &Arc<Store>,
    cookies: &[&[u8]],
    app: impl FnOnce(&mut RequestSession) -> Option<Vec<u8>>,
) -> (Option<String>, Outcome) {
    let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
    for c in cookies {
        rs.add_cookie(c);
    }
    let data = app(&mut rs);
    let header = rs.cookie(data.is_some(), false).unwrap();
    let outcome = rs.finish(data.as_deref()).unwrap();
    (header, outcome)
}

fn id_from_cookie(header: &str) -> String {
    let v = header.strip_prefix("SID=").unwrap();
    v[..32].to_string()
}

#[test]
fn reading_the_session_alone_creates_no_file_and_no_cookie() {
    let s = Scratch::new("lazy");
    let store = s.store();
    for _ in 0..5 {
        let (h, o) = request(&store, &[], |rs| {
            assert_eq!(rs.load().unwrap(), None);
            None
        });
        assert_eq!((h, o), (None, Outcome::Nothing));
    }
    // Untouched session: nothing at all.
    let (h, o) = request(&store, &[], |_| None);
    assert_eq!((h, o), (None, Outcome::Nothing));
    assert!(files(&store).is_empty());
}

#[test]
fn new_data_gets_an_id_a_cookie_and_a_file() {
    let s = Scratch::new("new");
    let store = s.store();
    let (h, o) = request(&store, &[], |rs| {
        assert_eq!(rs.load().unwrap(), None);
        Some(b"v1".to_vec())
    });
    let h = h.unwrap();
    let sid = id_from_cookie(&h);
    assert!(id::is_valid(sid.as_bytes()));
    assert_eq!(h, format!("SID={sid}; Path=/; HttpOnly; SameSite=Lax"));
    assert_eq!(o, Outcome::Written);
    assert_eq!(files(&store), vec![sid.clone()]);
    assert_eq!(store.read(sid.as_bytes()).unwrap(), b"v1");

    // Next request: same bytes → refresh, no cookie.
    let (h, o) = request(&store, &[sid.as_bytes()], |rs| {
        assert_eq!(rs.load().unwrap(), Some(&b"v1"[..]));
        Some(b"v1".to_vec())
    });
    assert_eq!((h, o), (None, Outcome::Refreshed));
    // Changed bytes (an in-place edit serializes differently) → write.
    let (h, o) = request(&store, &[sid.as_bytes()], |rs| {
        rs.load().unwrap();
        Some(b"v2".to_vec())
    });
    assert_eq!((h, o), (None, Outcome::Written));
    assert_eq!(store.read(sid.as_bytes()).unwrap(), b"v2");
    // A request that never touches the session does nothing.
    let (h, o) = request(&store, &[sid.as_bytes()], |_| None);
    assert_eq!((h, o), (None, Outcome::Nothing));
}

#[test]
fn hostile_or_unknown_cookie_ids_are_never_adopted() {
    let s = Scratch::new("cookie");
    let store = s.store();
    std::fs::write(s.0.join("x"), b"bait").unwrap();
    let unknown = id::generate().unwrap();
    for bad in [
        &b"../x"[..],
        b"a/b",
        b"",
        b"0123456789abcdefghijklmnopqrst\r\n",
        b"0123456789abcdefghijklmnopqrstu\0",
        &[b'a'; 10240][..],
        b"0123456789abcdefghijklmnopqrstuw",
        unknown.as_bytes(),
    ] {
        let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
        let kept = rs.add_cookie(bad);
        assert_eq!(kept, bad == unknown.as_bytes());
        assert_eq!(rs.load().unwrap(), None);
        let fresh = rs.id(true).unwrap().unwrap().to_string();
        assert_ne!(fresh.as_bytes(), bad, "no session fixation");
        assert_eq!(rs.finish(Some(b"d")).unwrap(), Outcome::Written);
        assert_eq!(std::fs::read(s.0.join("x")).unwrap(), b"bait");
    }
    assert!(files(&store).iter().all(|f| id::is_valid(f.as_bytes())));
}

#[test]
fn a_cookie_sent_twice_picks_the_first_live_session() {
    let s = Scratch::new("twice");
    let store = s.store();
    let stale = id::generate().unwrap();
    let live = id::generate().unwrap();
    let live2 = id::generate().unwrap();
    store.write(live.as_bytes(), b"live").unwrap();
    store.write(live2.as_bytes(), b"live2").unwrap();
    let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
    assert!(!rs.add_cookie(b"junk"));
    assert!(rs.add_cookie(stale.as_bytes()));
    assert!(!rs.add_cookie(stale.as_bytes()), "duplicate");
    assert!(rs.add_cookie(live.as_bytes()));
    assert!(rs.add_cookie(live2.as_bytes()));
    assert_eq!(rs.load().unwrap(), Some(&b"live"[..]));
    assert_eq!(rs.id(false).unwrap(), Some(live.as_str()));
    assert!(
        !rs.add_cookie(id::generate().unwrap().as_bytes()),
        "after load"
    );
    // Only MAX_CANDIDATES values are considered.
    let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
    for _ in 0..4 {
        assert!(rs.add_cookie(id::generate().unwrap().as_bytes()));
    }
    assert!(!rs.add_cookie(live.as_bytes()));
    assert_eq!(rs.load().unwrap(), None);
}

#[test]
fn destroy_deletes_the_file_and_expires_the_cookie() {
    let s = Scratch::new("destroy");
    let store = s.store();
    let sid = id::generate().unwrap();
    store.write(sid.as_bytes(), b"data").unwrap();
    let (h, o) = request(&store, &[sid.as_bytes()], |rs| {
        rs.destroy().unwrap();
        assert_eq!(rs.load().unwrap(), None);
        None
    });
    assert_eq!(
        h.unwrap(),
        "SID=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax"
    );
    assert_eq!(o, Outcome::Nothing);
    assert!(files(&store).is_empty());

    // Destroy then new data: a fresh id replaces the old one.
    store.write(sid.as_bytes(), b"data").unwrap();
    let (h, o) = request(&store, &[sid.as_bytes()], |rs| {
        rs.load().unwrap();
        rs.destroy().unwrap();
        Some(b"fresh".to_vec())
    });
    let new_id = id_from_cookie(&h.unwrap());
    assert_ne!(new_id, sid);
    assert_eq!(o, Outcome::Written);
    assert_eq!(files(&store), vec![new_id.clone()]);

    // Data becoming None without destroy() also removes the stored session.
    let (h, o) = request(&store, &[new_id.as_bytes()], |rs| {
        rs.load().unwrap();
        None
    });
    assert_eq!((h, o), (None, Outcome::Destroyed));
    assert!(files(&store).is_empty());
}

#[test]
fn set_id_validates_and_rekeys() {
    let s = Scratch::new("setid");
    let store = s.store();
    let old = id::generate().unwrap();
    store.write(old.as_bytes(), b"data").unwrap();
    let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
    rs.add_cookie(old.as_bytes());
    for bad in [
        &b"x\r\nSet-Cookie: evil=1"[..],
        b"../../etc/passwd",
        b"",
        b"0123456789abcdefghijklmnopqrstuV",
    ] {
        assert_eq!(rs.set_id(bad).unwrap_err().status, SMISK_ERR_SESSION_ID);
    }
    assert!(
        store.read(old.as_bytes()).is_ok(),
        "failed set_id changes nothing"
    );
    let new = id::generate().unwrap();
    rs.set_id(new.as_bytes()).unwrap();
    assert!(store.read(old.as_bytes()).is_err(), "old session destroyed");
    assert_eq!(rs.id(false).unwrap(), Some(new.as_str()));
    assert_eq!(
        rs.cookie(true, true).unwrap().unwrap(),
        format!("SID={new}; Path=/; Secure; HttpOnly; SameSite=Lax")
    );
    assert_eq!(rs.finish(Some(b"data")).unwrap(), Outcome::Written);
    assert_eq!(store.read(new.as_bytes()).unwrap(), b"data");
}

#[test]
fn too_late_after_headers_and_finish_once() {
    let s = Scratch::new("late");
    let store = s.store();
    let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
    assert_eq!(rs.load().unwrap(), None);
    assert_eq!(rs.cookie(false, false).unwrap(), None);
    assert_eq!(rs.id(true).unwrap_err().status, SMISK_ERR_STATE);
    assert_eq!(
        rs.set_id(id::generate().unwrap().as_bytes())
            .unwrap_err()
            .status,
        SMISK_ERR_STATE
    );
    // Data that appears after the headers has no cookie to travel with.
    assert_eq!(
        rs.finish(Some(b"late")).unwrap_err().status,
        SMISK_ERR_STATE
    );
    assert_eq!(rs.finish(None).unwrap_err().status, SMISK_ERR_STATE);
    assert!(files(&store).is_empty());

    // session_id read before the headers: cookie sent, no file without data.
    let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
    let sid = rs.id(true).unwrap().unwrap().to_string();
    assert_eq!(
        rs.cookie(false, false).unwrap().unwrap(),
        cookie_text("SID", &sid, false)
    );
    assert_eq!(rs.finish(None).unwrap(), Outcome::Nothing);
    assert!(files(&store).is_empty());
}

#[test]
fn assigning_without_reading_keeps_the_clients_session() {
    let s = Scratch::new("assign");
    let store = s.store();
    let sid = id::generate().unwrap();
    store.write(sid.as_bytes(), b"old").unwrap();
    // The application assigns request.session without reading it.
    let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
    rs.add_cookie(sid.as_bytes());
    assert_eq!(
        rs.cookie(true, false).unwrap(),
        None,
        "same id, no new cookie"
    );
    assert_eq!(rs.finish(Some(b"new")).unwrap(), Outcome::Written);
    assert_eq!(store.read(sid.as_bytes()).unwrap(), b"new");
    assert_eq!(files(&store), vec![sid.clone()]);
    // Headers sent before anything touched the session, data at the end.
    let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
    rs.add_cookie(sid.as_bytes());
    assert_eq!(rs.cookie(false, false).unwrap(), None);
    assert_eq!(rs.finish(Some(b"newer")).unwrap(), Outcome::Written);
    assert_eq!(store.read(sid.as_bytes()).unwrap(), b"newer");
}

#[test]
fn a_concurrent_logout_is_not_undone() {
    let s = Scratch::new("logout");
    let store = s.store();
    let sid = id::generate().unwrap();
    store.write(sid.as_bytes(), b"user=1").unwrap();
    let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
    rs.add_cookie(sid.as_bytes());
    assert_eq!(rs.load().unwrap(), Some(&b"user=1"[..]));
    store.destroy(sid.as_bytes()).unwrap(); // another request logs out
    assert_eq!(rs.cookie(true, false).unwrap(), None);
    assert_eq!(rs.finish(Some(b"user=1")).unwrap(), Outcome::Nothing);
    assert!(files(&store).is_empty());
}

#[test]
fn cookie_names_and_texts() {
    for good in [&b"SID"[..], b"session_id", b"__Host-sid", b"a.b~c"] {
        assert!(is_valid_cookie_name(good));
    }
    let s = Scratch::new("names");
    let store = s.store();
    for bad in [
        &b""[..],
        b"S ID",
        b"SID;",
        b"SID=",
        b"a\r\nb",
        b"a\0",
        b"s\xc3\xa9",
        &[b'a'; 257][..],
    ] {
        assert!(!is_valid_cookie_name(bad));
        let err = RequestSession::new(store.clone(), bad).err().unwrap();
        assert_eq!(err.status, SMISK_ERR_INVALID);
    }
    assert_eq!(
        cookie_text("SID", "0123456789abcdefghijklmnopqrstuv", true),
        "SID=0123456789abcdefghijklmnopqrstuv; Path=/; Secure; HttpOnly; SameSite=Lax"
    );
    assert_eq!(
        expired_cookie_text("SID", true),
        "SID=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax"
    );
}

/// A key-value store whose server is down when the request reads the
/// session: the request runs without it, and leaves the client's cookie and
/// the stored session alone.
#[test]
fn remote_store_down_serves_the_request_without_its_session() {
    use smisk::session::kv::memory::Memory;
    use smisk::session::KvStore;
    use std::sync::atomic::Ordering;

    let mem = Memory::default();
    let store = Arc::new(KvStore::new(Box::new(mem.clone())));
    let sid = id::generate().unwrap();
    store.write(sid.as_bytes(), b"alice").unwrap();

    mem.down.store(true, Ordering::SeqCst);
    // Read only: None, no cookie, nothing to report.
    let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
    rs.add_cookie(sid.as_bytes());
    assert_eq!(rs.load().unwrap(), None);
    assert!(rs.is_unavailable());
    assert_eq!(rs.cookie(false, false).unwrap(), None);
    assert_eq!(rs.finish(None).unwrap(), Outcome::Nothing);

    // Data set meanwhile: not saved (reported), no cookie replaces the client's.
    let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
    rs.add_cookie(sid.as_bytes());
    assert_eq!(rs.load().unwrap(), None);
    let fresh = rs.id(true).unwrap().unwrap().to_string();
    assert_ne!(fresh, sid);
    rs.set_id(id::generate().unwrap().as_bytes()).unwrap();
    assert_eq!(rs.cookie(true, false).unwrap(), None);
    assert_eq!(rs.finish(Some(b"bob")).unwrap_err().status, SMISK_ERR_IO);

    // The server is back: the client's session is intact.
    mem.down.store(false, Ordering::SeqCst);
    let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
    rs.add_cookie(sid.as_bytes());
    assert_eq!(rs.load().unwrap(), Some(&b"alice"[..]));
    assert_eq!(rs.cookie(true, false).unwrap(), None);
    assert_eq!(rs.finish(Some(b"alice")).unwrap(), Outcome::Refreshed);

    // A logout while it is down expires the cookie.
    mem.down.store(true, Ordering::SeqCst);
    let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
    rs.add_cookie(sid.as_bytes());
    rs.destroy().unwrap();
    assert_eq!(
        rs.cookie(false, false).unwrap().as_deref(),
        Some(expired_cookie_text("SID", false).as_str())
    );
    assert_eq!(rs.finish(None).unwrap(), Outcome::Nothing);
    // A client without a cookie gets no expiring one.
    let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
    rs.destroy().unwrap();
    assert_eq!(rs.cookie(false, false).unwrap(), None);
}

/// The request logic on a key-value store behaves as on the file store when
/// the server answers: new session, write, refresh, destroy.
#[test]
fn remote_store_round_trip() {
    use smisk::session::kv::memory::Memory;
    use smisk::session::KvStore;

    let store = Arc::new(KvStore::new(Box::new(Memory::default())));
    let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
    assert_eq!(rs.load().unwrap(), None);
    let header = rs.cookie(true, false).unwrap().unwrap();
    assert_eq!(rs.finish(Some(b"data")).unwrap(), Outcome::Written);
    let sid = id_from_cookie(&header);
    assert_eq!(store.read(sid.as_bytes()).unwrap(), b"data");
    let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
    rs.add_cookie(sid.as_bytes());
    assert_eq!(rs.load().unwrap(), Some(&b"data"[..]));
    assert_eq!(rs.finish(Some(b"data")).unwrap(), Outcome::Refreshed);
    let mut rs = RequestSession::new(store.clone(), b"SID").unwrap();
    rs.add_cookie(sid.as_bytes());
    rs.destroy().unwrap();
    assert!(rs
        .cookie(false, false)
        .unwrap()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(rs.finish(None).unwrap(), Outcome::Nothing);
    assert_eq!(
        store.read(sid.as_bytes()).unwrap_err().status,
        SMISK_ERR_NO_SESSION
    );
}
