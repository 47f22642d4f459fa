//! C functions of the session store (`smisk_session_store_*`), session ids
//! (`smisk_session_id_*`) and the per-request session state
//! (`smisk_session_state_*`). Behaviour lives in `crate::session`; this file
//! only checks pointers and converts types.

#![allow(non_camel_case_types)]

use super::{
    arg_bytes, arg_mut, arg_ref, copy_out, free_handle, give_bytes, guard, guard_value, into_handle,
};
use crate::session::{
    frame, id, request, Backend, KeyValue, KvStore, Outcome, RequestSession, Store,
};
use crate::status::{smisk_status, Error, Result, SMISK_ERR_IO, SMISK_ERR_UNSUPPORTED};
use std::ffi::{c_void, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

/// Length in characters of a session id (32 characters of [0-9a-v]).
pub const SMISK_SESSION_ID_LEN: usize = 32;
/// Default lifetime of a session in seconds (a store's ttl until changed).
pub const SMISK_SESSION_DEFAULT_TTL: u64 = 900;
/// smisk_session_state_finish did nothing (session unused, or no data and
/// nothing stored).
pub const SMISK_SESSION_NOTHING: i32 = 0;
/// smisk_session_state_finish extended the lifetime of unchanged data.
pub const SMISK_SESSION_REFRESHED: i32 = 1;
/// smisk_session_state_finish wrote new or changed data.
pub const SMISK_SESSION_WRITTEN: i32 = 2;
/// smisk_session_state_finish removed the stored session (data became None).
pub const SMISK_SESSION_DESTROYED: i32 = 3;

/// A session store (opaque): a file store (smisk_session_store_new,
/// smisk_session_store_new_file_prefix) or a key-value store on a server
/// (smisk_session_store_new_backend); release with smisk_session_store_free.
/// Unlike other handles, one store may be used from several threads at once.
pub struct smisk_session_store {
    inner: Kind,
}

enum Kind {
    File(Arc<Store>),
    Kv(Arc<KvStore>),
}

impl smisk_session_store {
    fn file(&self) -> Result<&Store> {
        match &self.inner {
            Kind::File(s) => Ok(s),
            Kind::Kv(_) => Err(Error::new(
                SMISK_ERR_UNSUPPORTED,
                "not a file session store (a key-value store has no directory, gc or fsync)",
            )),
        }
    }

    fn backend(&self) -> &dyn Backend {
        match &self.inner {
            Kind::File(s) => s.as_ref(),
            Kind::Kv(s) => s.as_ref(),
        }
    }

    fn shared(&self) -> Arc<dyn Backend> {
        match &self.inner {
            Kind::File(s) => Arc::clone(s) as Arc<dyn Backend>,
            Kind::Kv(s) => Arc::clone(s) as Arc<dyn Backend>,
        }
    }
}

/// What a smisk_session_backend callback hands back (opaque): the value
/// found (smisk_session_reply_value) or why it failed
/// (smisk_session_reply_error). Valid only during the callback.
pub struct smisk_session_reply {
    value: Option<Vec<u8>>,
    error: Option<String>,
}

/// smisk_session_backend's `get`: the value under `id`, handed over with
/// smisk_session_reply_value (no call: none); 0, or -1 on failure.
pub type smisk_session_get_fn = Option<
    unsafe extern "C" fn(
        ctx: *mut c_void,
        id: *const u8,
        id_len: usize,
        reply: *mut smisk_session_reply,
    ) -> i32,
>;

/// smisk_session_backend's `set`: store `value` under `id`, expiring `ttl`
/// seconds from now; 0, or -1 on failure.
pub type smisk_session_set_fn = Option<
    unsafe extern "C" fn(
        ctx: *mut c_void,
        id: *const u8,
        id_len: usize,
        value: *const u8,
        value_len: usize,
        ttl: u64,
        reply: *mut smisk_session_reply,
    ) -> i32,
>;

/// smisk_session_backend's `touch`: 1 when the value under `id` now expires
/// `ttl` seconds from now, 0 when there is none, -1 on failure.
pub type smisk_session_touch_fn = Option<
    unsafe extern "C" fn(
        ctx: *mut c_void,
        id: *const u8,
        id_len: usize,
        ttl: u64,
        reply: *mut smisk_session_reply,
    ) -> i32,
>;

/// smisk_session_backend's `remove`: no value under `id` any more (also
/// when there was none); 0, or -1 on failure.
pub type smisk_session_remove_fn = Option<
    unsafe extern "C" fn(
        ctx: *mut c_void,
        id: *const u8,
        id_len: usize,
        reply: *mut smisk_session_reply,
    ) -> i32,
>;

/// smisk_session_backend's `release`: `ctx` is no longer used.
pub type smisk_session_release_fn = Option<unsafe extern "C" fn(ctx: *mut c_void)>;

/// The server operations of a key-value session store, supplied by the
/// caller (for example a memcached or Redis client). The library calls them
/// with validated session ids (`id`/`id_len`: 32 characters of [0-9a-v]) and
/// framed values; how an id becomes a server key is the callbacks' choice.
/// Callbacks may run on any thread that uses the store, several at once, and
/// must not keep `id`, `value` or `reply` after returning.
///
/// Each returns -1 on failure (the server cannot be reached or refused the
/// operation; smisk_session_reply_error may say why), otherwise:
/// - `get`: 0; the value found, if any, is passed to
///   smisk_session_reply_value (no call: no value);
/// - `set`: 0 once `value` is stored under `id`, expiring `ttl` (at least 1)
///   seconds from now;
/// - `touch`: 1 when a value under `id` now expires `ttl` seconds from now,
///   0 when there is none;
/// - `remove`: 0 once no value is under `id` (also when there was none).
///
/// `release`, if not NULL, is called once with `ctx` when the store is gone
/// (its handle and every session state using it were freed).
#[repr(C)]
pub struct smisk_session_backend {
    pub ctx: *mut c_void,
    pub get: smisk_session_get_fn,
    pub set: smisk_session_set_fn,
    pub touch: smisk_session_touch_fn,
    pub remove: smisk_session_remove_fn,
    pub release: smisk_session_release_fn,
}

/// The caller's callbacks as a [`KeyValue`].
struct Foreign {
    ctx: *mut c_void,
    get: unsafe extern "C" fn(*mut c_void, *const u8, usize, *mut smisk_session_reply) -> i32,
    #[allow(clippy::type_complexity)]
    set: unsafe extern "C" fn(
        *mut c_void,
        *const u8,
        usize,
        *const u8,
        usize,
        u64,
        *mut smisk_session_reply,
    ) -> i32,
    touch:
        unsafe extern "C" fn(*mut c_void, *const u8, usize, u64, *mut smisk_session_reply) -> i32,
    remove: unsafe extern "C" fn(*mut c_void, *const u8, usize, *mut smisk_session_reply) -> i32,
    release: Option<unsafe extern "C" fn(*mut c_void)>,
}

// SAFETY: smisk_session_backend documents that the callbacks may be called
// from any thread, concurrently; `ctx` is theirs to synchronise.
unsafe impl Send for Foreign {}
// SAFETY: as for Send: the callbacks are documented as thread-safe.
unsafe impl Sync for Foreign {}

impl Drop for Foreign {
    fn drop(&mut self) {
        if let Some(release) = self.release {
            // SAFETY: called once, after the last use of the callbacks.
            unsafe { release(self.ctx) }
        }
    }
}

impl Foreign {
    /// Runs one callback with a fresh reply; -1 becomes SMISK_ERR_IO with the
    /// callback's message.
    fn call(
        &self,
        what: &str,
        id: &str,
        f: impl FnOnce(*mut smisk_session_reply) -> i32,
    ) -> Result<(i32, Option<Vec<u8>>)> {
        let mut reply = smisk_session_reply {
            value: None,
            error: None,
        };
        let rc = f(&mut reply);
        if rc < 0 {
            let why = reply
                .error
                .unwrap_or_else(|| "the session backend failed".to_string());
            return Err(Error::new(
                SMISK_ERR_IO,
                format!("session {what} {id}: {why}"),
            ));
        }
        Ok((rc, reply.value))
    }
}

impl KeyValue for Foreign {
    fn get(&self, id: &str) -> Result<Option<Vec<u8>>> {
        // SAFETY: the callback contract of smisk_session_backend.
        let (_, value) = self.call("get", id, |r| unsafe {
            (self.get)(self.ctx, id.as_ptr(), id.len(), r)
        })?;
        Ok(value)
    }
    fn set(&self, id: &str, value: &[u8], ttl: u64) -> Result<()> {
        // SAFETY: the callback contract of smisk_session_backend.
        self.call("set", id, |r| unsafe {
            (self.set)(
                self.ctx,
                id.as_ptr(),
                id.len(),
                value.as_ptr(),
                value.len(),
                ttl,
                r,
            )
        })?;
        Ok(())
    }
    fn touch(&self, id: &str, ttl: u64) -> Result<bool> {
        // SAFETY: the callback contract of smisk_session_backend.
        let (rc, _) = self.call("touch", id, |r| unsafe {
            (self.touch)(self.ctx, id.as_ptr(), id.len(), ttl, r)
        })?;
        Ok(rc > 0)
    }
    fn delete(&self, id: &str) -> Result<()> {
        // SAFETY: the callback contract of smisk_session_backend.
        self.call("remove", id, |r| unsafe {
            (self.remove)(self.ctx, id.as_ptr(), id.len(), r)
        })?;
        Ok(())
    }
}

/// The session state of one request (opaque). Create with
/// smisk_session_state_new, release with smisk_session_state_free. Use from one
/// thread at a time.
pub struct smisk_session_state {
    inner: RequestSession,
}

/// What smisk_session_store_gc did.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct smisk_session_gc_stats {
    /// Directory entries looked at.
    pub scanned: usize,
    /// Expired session files removed.
    pub removed_sessions: usize,
    /// Abandoned temp files (of interrupted writes) removed.
    pub removed_temps: usize,
}

fn flag(v: i32) -> bool {
    v != 0
}

/// Opens a file session store keeping one file per session in the directory
/// `dir` (`dir_len` bytes, not NUL-terminated), named `<prefix><id>`.
///
/// `dir_len == 0` selects the default directory `$TMPDIR/smisk-sessions-<uid>`
/// (`dir` may then be NULL). The directory is created with mode 0700 if
/// missing; an existing one must be a real directory (not a symlink) owned by
/// the calling user with no group or other permissions, otherwise
/// SMISK_ERR_INVALID. `prefix` (`prefix_len` bytes, may be NULL when 0) must
/// not contain '/' or NUL and is at most 64 bytes.
///
/// Defaults: ttl 900 s, gc_probability 0.1, fsync off, payload limit 16 MiB.
///
/// On success `*out_store` receives a new handle owned by the caller, to be
/// released with smisk_session_store_free.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_new(
    dir: *const u8,
    dir_len: usize,
    prefix: *const u8,
    prefix_len: usize,
    out_store: *mut *mut smisk_session_store,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `dir`, `prefix` and `out_store` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let dir = arg_bytes(dir, dir_len, "dir")?;
            let prefix = arg_bytes(prefix, prefix_len, "prefix")?;
            let out = arg_mut(out_store, "out_store")?;
            let store = if dir.is_empty() {
                Store::open(
                    &crate::session::store::default_dir(),
                    OsStr::from_bytes(prefix),
                )?
            } else {
                Store::open(Path::new(OsStr::from_bytes(dir)), OsStr::from_bytes(prefix))?
            };
            *out = into_handle(smisk_session_store {
                inner: Kind::File(Arc::new(store)),
            });
            Ok(())
        })
    }
}

/// Opens a store from the legacy `file_prefix` form (`len` bytes): the text up
/// to the last '/' is the directory, the rest the file name prefix
/// ("/var/lib/app/sessions/sess." gives directory "/var/lib/app/sessions" and
/// prefix "sess."). A value without '/' is SMISK_ERR_INVALID. The directory
/// rules of smisk_session_store_new apply, so a shared directory such as /tmp
/// is refused.
///
/// On success `*out_store` receives a new handle owned by the caller, to be
/// released with smisk_session_store_free.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_new_file_prefix(
    file_prefix: *const u8,
    len: usize,
    out_store: *mut *mut smisk_session_store,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `file_prefix` and `out_store` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let fp = arg_bytes(file_prefix, len, "file_prefix")?;
            let out = arg_mut(out_store, "out_store")?;
            let store = Store::open_file_prefix(fp)?;
            *out = into_handle(smisk_session_store {
                inner: Kind::File(Arc::new(store)),
            });
            Ok(())
        })
    }
}

/// Opens a key-value session store whose values live on a server reached
/// through `backend`'s callbacks (copied; `backend->ctx` is passed to each).
/// The store applies the file store's rules: ids are validated before any
/// callback runs, values are framed like session files (magic, version,
/// length, SHA-1 over the id and payload) and a value that does not verify for
/// its id reads as SMISK_ERR_NO_SESSION, the ttl (default 900 s) is passed
/// to `set` and `touch` (a ttl of 0 makes writes remove the value and
/// refreshes find nothing), and the payload limit (default 16 MiB) applies.
/// A failing callback is SMISK_ERR_IO; a request whose session cannot be read
/// from this store is served without it (see smisk_session_state_load).
/// The file-only calls (smisk_session_store_dir, _file_prefix, _gc, the
/// gc_probability and fsync settings) are SMISK_ERR_UNSUPPORTED on it.
///
/// `get`, `set`, `touch` and `remove` must not be NULL (SMISK_ERR_NULL).
/// On success `*out_store` receives a new handle owned by the caller,
/// released with smisk_session_store_free; `release(ctx)` runs when the last
/// user of the store is gone. On failure `release` is not called.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_new_backend(
    backend: *const smisk_session_backend,
    out_store: *mut *mut smisk_session_store,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `backend`, `out_store` NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let b = arg_ref(backend, "backend")?;
            let out = arg_mut(out_store, "out_store")?;
            let missing = |what: &str| {
                Error::new(
                    crate::status::SMISK_ERR_NULL,
                    format!("backend {what} is NULL"),
                )
            };
            let foreign = Foreign {
                ctx: b.ctx,
                get: b.get.ok_or_else(|| missing("get"))?,
                set: b.set.ok_or_else(|| missing("set"))?,
                touch: b.touch.ok_or_else(|| missing("touch"))?,
                remove: b.remove.ok_or_else(|| missing("remove"))?,
                release: b.release,
            };
            *out = into_handle(smisk_session_store {
                inner: Kind::Kv(Arc::new(KvStore::new(Box::new(foreign)))),
            });
            Ok(())
        })
    }
}

/// 1 when `store` is a file store, 0 for a key-value store (or NULL).
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_is_file(store: *const smisk_session_store) -> i32 {
    // SAFETY: the C caller keeps the contract documented above: `store` NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard_value(0, || match store.as_ref() {
            Some(s) => i32::from(matches!(s.inner, Kind::File(_))),
            None => 0,
        })
    }
}

/// From a `get` callback: the value found (`len` bytes at `value`, copied;
/// `value` may be NULL when `len` is 0). A later call replaces it.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_reply_value(
    reply: *mut smisk_session_reply,
    value: *const u8,
    len: usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `reply`, `value` NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let r = arg_mut(reply, "reply")?;
            r.value = Some(arg_bytes(value, len, "value")?.to_vec());
            Ok(())
        })
    }
}

/// From any callback about to return -1: why it failed (`len` bytes of
/// text, copied; invalid UTF-8 is replaced), for smisk_last_error().
#[no_mangle]
pub unsafe extern "C" fn smisk_session_reply_error(
    reply: *mut smisk_session_reply,
    message: *const u8,
    len: usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `reply`, `message` NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let r = arg_mut(reply, "reply")?;
            let m = arg_bytes(message, len, "message")?;
            r.error = Some(String::from_utf8_lossy(&m[..m.len().min(1024)]).into_owned());
            Ok(())
        })
    }
}

/// Frames `len` bytes of session payload at `payload` for the session `id`
/// the way every store keeps it (the session file format of
/// docs/sessions.md: magic, version, length, payload, SHA-1 over the header,
/// the id and the payload). On success `*out_ptr`/`*out_len` receive the
/// framed bytes, owned by the caller and released with smisk_bytes_free.
/// SMISK_ERR_SESSION_ID for a malformed id.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_frame_encode(
    id: *const u8,
    id_len: usize,
    payload: *const u8,
    len: usize,
    out_ptr: *mut *mut u8,
    out_len: *mut usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `id`, `payload`, `out_ptr`, `out_len` NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let id = id::check(arg_bytes(id, id_len, "id")?)?;
            let payload = arg_bytes(payload, len, "payload")?;
            let mut framed = Vec::new();
            frame::encode(id.as_bytes(), payload, &mut framed);
            give_bytes(framed, out_ptr, out_len)
        })
    }
}

/// Checks `len` bytes at `data` as a stored session of `id` and gives its
/// payload (`*out_ptr`/`*out_len`, owned by the caller, released with
/// smisk_bytes_free; an empty payload is (NULL, 0)). SMISK_ERR_NO_SESSION
/// when the bytes are not exactly what smisk_session_frame_encode made for
/// this id (truncated, extended, altered, foreign, framed for another id; the
/// message says which), SMISK_ERR_SESSION_ID for a malformed id.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_frame_decode(
    id: *const u8,
    id_len: usize,
    data: *const u8,
    len: usize,
    out_ptr: *mut *mut u8,
    out_len: *mut usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `id`, `data`, `out_ptr`, `out_len` NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let id = id::check(arg_bytes(id, id_len, "id")?)?;
            let data = arg_bytes(data, len, "data")?;
            match frame::decode(id.as_bytes(), data) {
                Ok(payload) => give_bytes(payload.to_vec(), out_ptr, out_len),
                Err(reject) => Err(Error::new(
                    crate::status::SMISK_ERR_NO_SESSION,
                    format!("no session {id}: {}", reject.describe()),
                )),
            }
        })
    }
}

/// Releases a store handle. Session states created from it stay valid (they
/// keep the store alive until they are freed). NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_free(store: *mut smisk_session_store) {
    // SAFETY: the C caller keeps the contract documented above: `store` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard_value((), || free_handle(store)) }
}

/// Copies the store's directory path into `buf` (`cap` bytes, not
/// NUL-terminated) and its length into `*out_len`. When `cap` is too small,
/// nothing is copied, `*out_len` receives the length needed and the status is
/// SMISK_ERR_BUFFER_TOO_SMALL.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_dir(
    store: *const smisk_session_store,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `store`, `buf` and `out_len` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let s = arg_ref(store, "store")?;
            copy_out(s.file()?.dir().as_os_str().as_bytes(), buf, cap, out_len)
        })
    }
}

/// Copies the legacy `file_prefix` text, "<directory>/<prefix>", into `buf`
/// like smisk_session_store_dir.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_file_prefix(
    store: *const smisk_session_store,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `store`, `buf` and `out_len` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let s = arg_ref(store, "store")?;
            copy_out(&s.file()?.file_prefix(), buf, cap, out_len)
        })
    }
}

/// Stores the session lifetime in seconds (since the last write or refresh)
/// in `*out_ttl`.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_get_ttl(
    store: *const smisk_session_store,
    out_ttl: *mut u64,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `store` and `out_ttl` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let s = arg_ref(store, "store")?;
            *arg_mut(out_ttl, "out_ttl")? = s.backend().ttl();
            Ok(())
        })
    }
}

/// Sets the session lifetime in seconds. A session whose file was not written
/// or refreshed for longer reads as SMISK_ERR_NO_SESSION and may be removed by
/// GC.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_set_ttl(
    store: *const smisk_session_store,
    ttl: u64,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `store` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            arg_ref(store, "store")?.backend().set_ttl(ttl);
            Ok(())
        })
    }
}

/// Stores the GC probability (0.0 to 1.0) in `*out_probability`.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_get_gc_probability(
    store: *const smisk_session_store,
    out_probability: *mut f64,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `store` and `out_probability` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let s = arg_ref(store, "store")?;
            *arg_mut(out_probability, "out_probability")? = s.file()?.gc_probability();
            Ok(())
        })
    }
}

/// Sets the probability that a read or write also runs
/// smisk_session_store_gc. Outside 0.0 to 1.0 (or NaN) is SMISK_ERR_INVALID.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_set_gc_probability(
    store: *const smisk_session_store,
    probability: f64,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `store` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            arg_ref(store, "store")?
                .file()?
                .set_gc_probability(probability)
        })
    }
}

/// Stores 1 in `*out_fsync` when writes are flushed to stable storage, else 0.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_get_fsync(
    store: *const smisk_session_store,
    out_fsync: *mut i32,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `store` and `out_fsync` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let s = arg_ref(store, "store")?;
            *arg_mut(out_fsync, "out_fsync")? = i32::from(s.file()?.fsync());
            Ok(())
        })
    }
}

/// Non-zero `fsync` makes every write flush the file before renaming it into
/// place and the directory afterwards (durable across power loss, slower).
/// Without it, writes are still atomic for readers and safe against process
/// crashes.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_set_fsync(
    store: *const smisk_session_store,
    fsync: i32,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `store` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            arg_ref(store, "store")?.file()?.set_fsync(flag(fsync));
            Ok(())
        })
    }
}

/// Stores the largest payload accepted by writes in `*out_bytes`.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_get_max_payload(
    store: *const smisk_session_store,
    out_bytes: *mut usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `store` and `out_bytes` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let s = arg_ref(store, "store")?;
            *arg_mut(out_bytes, "out_bytes")? = s.backend().max_payload();
            Ok(())
        })
    }
}

/// Sets the largest payload accepted by writes (larger writes are
/// SMISK_ERR_TOO_LARGE); files holding more read as SMISK_ERR_NO_SESSION.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_set_max_payload(
    store: *const smisk_session_store,
    bytes: usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `store` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            arg_ref(store, "store")?.backend().set_max_payload(bytes);
            Ok(())
        })
    }
}

/// Reads the session `id` (`id_len` bytes). On success `*out_ptr`/`*out_len`
/// receive a copy of the payload, owned by the caller and released with
/// smisk_bytes_free(ptr, len); an empty payload is (NULL, 0).
///
/// SMISK_ERR_SESSION_ID: `id` is not 32 characters of [0-9a-v] (no file is
/// touched). SMISK_ERR_NO_SESSION: no session (missing, expired, not a regular
/// file, or the file does not verify). SMISK_ERR_IO: the file exists but could
/// not be read.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_read(
    store: *const smisk_session_store,
    id: *const u8,
    id_len: usize,
    out_ptr: *mut *mut u8,
    out_len: *mut usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `store`, `id`, `out_ptr` and
    // `out_len` are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL
    // into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let s = arg_ref(store, "store")?;
            let id = arg_bytes(id, id_len, "id")?;
            if out_ptr.is_null() || out_len.is_null() {
                return Err(Error::new(
                    crate::status::SMISK_ERR_NULL,
                    "out_ptr or out_len is NULL",
                ));
            }
            let payload = s.backend().read(id)?;
            give_bytes(payload, out_ptr, out_len)
        })
    }
}

/// Stores `len` bytes at `data` (may be NULL when `len` is 0) as the session
/// `id`, atomically replacing any previous content: a concurrent reader sees
/// the old or the new payload, never a mix. The library keeps no pointer to
/// `data`.
///
/// SMISK_ERR_SESSION_ID for a malformed id, SMISK_ERR_TOO_LARGE above the
/// payload limit, SMISK_ERR_IO when the file cannot be written (read-only
/// directory, full disk: the message names the call and the errno); the
/// previous session content is then unchanged.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_write(
    store: *const smisk_session_store,
    id: *const u8,
    id_len: usize,
    data: *const u8,
    len: usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `store`, `id` and `data` are NULL
    // or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let s = arg_ref(store, "store")?;
            let id = arg_bytes(id, id_len, "id")?;
            let data = arg_bytes(data, len, "data")?;
            s.backend().write(id, data)
        })
    }
}

/// Extends the lifetime of the session `id` to a full ttl from now.
/// SMISK_ERR_NO_SESSION when there is no live session (an expired session is
/// not brought back); SMISK_ERR_SESSION_ID for a malformed id.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_refresh(
    store: *const smisk_session_store,
    id: *const u8,
    id_len: usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `store` and `id` are NULL or valid
    // for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let s = arg_ref(store, "store")?;
            s.backend().refresh(arg_bytes(id, id_len, "id")?)
        })
    }
}

/// Removes the session `id`; a missing session is not an error.
/// SMISK_ERR_SESSION_ID for a malformed id, SMISK_ERR_IO when the file exists
/// but cannot be removed.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_destroy(
    store: *const smisk_session_store,
    id: *const u8,
    id_len: usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `store` and `id` are NULL or valid
    // for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let s = arg_ref(store, "store")?;
            s.backend().destroy(arg_bytes(id, id_len, "id")?)
        })
    }
}

/// Removes expired session files and abandoned temp files from the store's
/// directory. Only regular files whose names are `<prefix><valid id>` (or
/// that id's temp-file form) are considered; links are never followed;
/// nothing else in the directory is touched. `out_stats` may be NULL; else it
/// receives what was done.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_store_gc(
    store: *const smisk_session_store,
    out_stats: *mut smisk_session_gc_stats,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `store` and `out_stats` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let s = arg_ref(store, "store")?;
            let st = s.file()?.gc()?;
            if let Some(out) = out_stats.as_mut() {
                *out = smisk_session_gc_stats {
                    scanned: st.scanned,
                    removed_sessions: st.removed_sessions,
                    removed_temps: st.removed_temps,
                };
            }
            Ok(())
        })
    }
}

/// Writes a fresh session id (SMISK_SESSION_ID_LEN characters of [0-9a-v],
/// from the OS CSPRNG, not NUL-terminated) into `buf` (`cap` bytes) and its
/// length into `*out_len`. SMISK_ERR_BUFFER_TOO_SMALL when `cap` is less than
/// SMISK_SESSION_ID_LEN.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_id_new(
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `buf` and `out_len` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let id = id::generate()?;
            copy_out(id.as_bytes(), buf, cap, out_len)
        })
    }
}

/// 1 when the `len` bytes at `id` are exactly SMISK_SESSION_ID_LEN characters
/// of [0-9a-v], else 0 (also for NULL).
#[no_mangle]
pub unsafe extern "C" fn smisk_session_id_is_valid(id: *const u8, len: usize) -> i32 {
    // SAFETY: the C caller keeps the contract documented above: `id` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard_value(0, || match arg_bytes(id, len, "id") {
            Ok(b) => i32::from(id::is_valid(b)),
            Err(_) => 0,
        })
    }
}

/// The state of smisk_session_state_new.
///
/// # Safety
/// `store` is NULL or a live store handle; `name` NULL or `name_len`
/// readable bytes.
unsafe fn new_state(
    store: *const smisk_session_store,
    name: *const u8,
    name_len: usize,
) -> crate::Result<RequestSession> {
    // SAFETY: as this function requires.
    let (s, name) = unsafe { (arg_ref(store, "store")?, arg_bytes(name, name_len, "name")?) };
    RequestSession::with_backend(s.shared(), name)
}

/// Creates the session state of one request, for cookie name `name`
/// (`name_len` bytes; an RFC 6265 token such as "SID", else
/// SMISK_ERR_INVALID). The state keeps `store` alive until it is freed.
///
/// On success `*out_state` receives a new handle owned by the caller, to be
/// released with smisk_session_state_free (normally after
/// smisk_session_state_finish).
#[no_mangle]
pub unsafe extern "C" fn smisk_session_state_new(
    store: *const smisk_session_store,
    name: *const u8,
    name_len: usize,
    out_state: *mut *mut smisk_session_state,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `store`, `name` and `out_state` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let st = new_state(store, name, name_len)?;
            *arg_mut(out_state, "out_state")? = into_handle(smisk_session_state { inner: st });
            Ok(())
        })
    }
}

/// The default session cookie name, "SID", as a NUL-terminated string.
///
/// Ownership: static storage; never NULL, never free it.
#[no_mangle]
pub extern "C" fn smisk_session_default_name() -> *const std::os::raw::c_char {
    request::DEFAULT_COOKIE_NAME.as_ptr()
}

/// Creates the session state of `request` (a live request handle) for
/// cookie name `name` (as smisk_session_state_new) and offers it every
/// value the client sent under that name: the request's HTTP_COOKIE param
/// is parsed as smisk_parse_cookies does (at most
/// SMISK_MAX_FIELDS_DEFAULT fields; a header with more offers nothing), and
/// each value goes through smisk_session_state_add_cookie, which keeps only
/// exact session ids. Which cookie is the session's is decided here, not by
/// the caller. SMISK_ERR_STATE after the request finished.
///
/// On success `*out_state` receives a new handle owned by the caller, to be
/// released with smisk_session_state_free.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_state_new_for_request(
    store: *const smisk_session_store,
    name: *const u8,
    name_len: usize,
    request: *const crate::fcgi::Request,
    out_state: *mut *mut smisk_session_state,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `store`, `name`, `request` and
    // `out_state` are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn
    // NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let r = arg_ref(request, "request")?;
            let out = arg_mut(out_state, "out_state")?;
            if !r.is_active() {
                return Err(Error::state("the request has finished"));
            }
            let mut st = new_state(store, name, name_len)?;
            if let Some(header) = r.param(b"HTTP_COOKIE") {
                st.offer_cookie_header(header);
            }
            *out = into_handle(smisk_session_state { inner: st });
            Ok(())
        })
    }
}

/// Sends the response's header block (as smisk_response_begin) with the
/// session cookie of `state` first, when the session needs one: the
/// Set-Cookie line of smisk_session_state_cookie with has_data, and
/// "Secure" when the request came over HTTPS (the same decision as the
/// scheme of smisk_request_url and smisk_request_is_https). `state` may be
/// NULL (no session: a plain begin).
///
/// Errors: those of smisk_session_state_cookie and smisk_response_begin (an
/// invalid header line is SMISK_ERR_INVALID and nothing is sent).
#[no_mangle]
pub unsafe extern "C" fn smisk_response_begin_with_session(
    request: *mut crate::fcgi::Request,
    state: *mut smisk_session_state,
    has_data: i32,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request` and `state` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let r = arg_mut(request, "request")?;
            let Some(st) = state.as_mut() else {
                return r.begin();
            };
            if !r.is_active() {
                return Err(Error::state("the request has finished"));
            }
            if r.has_begun() {
                return Err(Error::state("output has already begun"));
            }
            let secure = crate::codec::request_url::is_https(|n: &[u8]| r.param(n));
            let line = st
                .inner
                .cookie(flag(has_data), secure)?
                .map(|value| format!("Set-Cookie: {value}"));
            r.begin_with(line.as_deref().map(str::as_bytes))
        })
    }
}

/// Releases a session state without writing anything. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_state_free(state: *mut smisk_session_state) {
    // SAFETY: the C caller keeps the contract documented above: `state` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard_value((), || free_handle(state)) }
}

/// Offers one value the client sent under the session cookie name (call once
/// per occurrence when the cookie was sent more than once, in header order).
/// Values that are not exactly a session id are ignored, as are duplicates,
/// values beyond the fourth, and values offered after the session was loaded.
/// `out_kept` may be NULL; else it receives 1 when the value was kept.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_state_add_cookie(
    state: *mut smisk_session_state,
    value: *const u8,
    len: usize,
    out_kept: *mut i32,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `state`, `value` and `out_kept` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let st = arg_mut(state, "state")?;
            let value = arg_bytes(value, len, "value")?;
            let kept = st.inner.add_cookie(value);
            if let Some(out) = out_kept.as_mut() {
                *out = i32::from(kept);
            }
            Ok(())
        })
    }
}

/// Loads the session (`request.session` read): the first cookie id with a live
/// stored session wins. Loading never creates an id or a file.
///
/// On success `*out_has_data` is 1 and `*out_ptr`/`*out_len` receive a copy of
/// the payload read at the start of the request (owned by the caller, release
/// with smisk_bytes_free; an empty payload is (NULL, 0)); or `*out_has_data` is
/// 0 and `*out_ptr`/`*out_len` are (NULL, 0) when there is no stored session
/// (the session is None). SMISK_ERR_IO if a file store could not be read (the
/// state stays unloaded, a later call retries). A key-value store that cannot
/// be reached is not an error here: the request goes on without its session
/// (`*out_has_data` 0), ids it asks for are neither sent nor kept, the
/// client's cookie is left alone unless smisk_session_state_destroy expires
/// it, and smisk_session_state_finish reports data it could not save as
/// SMISK_ERR_IO.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_state_load(
    state: *mut smisk_session_state,
    out_ptr: *mut *mut u8,
    out_len: *mut usize,
    out_has_data: *mut i32,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `state`, `out_ptr`, `out_len` and
    // `out_has_data` are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn
    // NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let st = arg_mut(state, "state")?;
            if out_ptr.is_null() || out_len.is_null() || out_has_data.is_null() {
                return Err(Error::new(
                    crate::status::SMISK_ERR_NULL,
                    "out_ptr, out_len or out_has_data is NULL",
                ));
            }
            let data = st.inner.load()?.map(<[u8]>::to_vec);
            *out_has_data = i32::from(data.is_some());
            give_bytes(data.unwrap_or_default(), out_ptr, out_len)
        })
    }
}

/// Copies the current session id into `buf` (`cap` bytes, at least
/// SMISK_SESSION_ID_LEN) and its length into `*out_len` (loading the session
/// first if needed). When there is no id: with non-zero `create`, a fresh id
/// is assigned (it is sent in the cookie; no file is written unless the
/// session gets data), which is SMISK_ERR_STATE once the headers were sent;
/// with `create` 0, `*out_len` is 0.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_state_id(
    state: *mut smisk_session_state,
    create: i32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `state`, `buf` and `out_len` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let st = arg_mut(state, "state")?;
            if out_len.is_null() {
                return Err(Error::new(crate::status::SMISK_ERR_NULL, "out_len is NULL"));
            }
            if cap < SMISK_SESSION_ID_LEN {
                *out_len = SMISK_SESSION_ID_LEN;
                return Err(Error::new(
                    crate::status::SMISK_ERR_BUFFER_TOO_SMALL,
                    format!("a session id needs {SMISK_SESSION_ID_LEN} bytes, buffer has {cap}"),
                ));
            }
            let id = st.inner.id(flag(create))?.unwrap_or("").as_bytes().to_vec();
            copy_out(&id, buf, cap, out_len)
        })
    }
}

/// Re-keys the session to `id` (`len` bytes; exactly SMISK_SESSION_ID_LEN
/// characters of [0-9a-v], else SMISK_ERR_SESSION_ID and nothing changes). The
/// session stored under the old id is removed; the data is saved under the
/// new id by smisk_session_state_finish and the cookie carries the new id.
/// SMISK_ERR_STATE once the headers were sent.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_state_set_id(
    state: *mut smisk_session_state,
    id: *const u8,
    len: usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `state` and `id` are NULL or valid
    // for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let st = arg_mut(state, "state")?;
            st.inner.set_id(arg_bytes(id, len, "id")?)
        })
    }
}

/// `session = None`: removes the stored session now and forgets its id. If
/// the client held that id and the headers are not yet sent, the cookie
/// becomes an expiring one. Data set later in the request is saved under a
/// fresh id.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_state_destroy(
    state: *mut smisk_session_state,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `state` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard(|| arg_mut(state, "state")?.inner.destroy()) }
}

/// Call when the response headers are about to be sent. `has_data` is
/// non-zero when the session currently holds data (is not None; the session
/// is loaded first if it was not); `secure` non-zero under HTTPS (adds
/// "Secure", placed before "HttpOnly").
///
/// On success `*out_ptr`/`*out_len` receive the value for one `Set-Cookie`
/// header (without the "Set-Cookie: " name, no CR/LF), owned by the caller and
/// released with smisk_bytes_free: "<name>=<id>; Path=/; HttpOnly;
/// SameSite=Lax" when the id is new to the client, the expiring form
/// "<name>=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT;
/// HttpOnly; SameSite=Lax" after smisk_session_state_destroy, or (NULL, 0)
/// when no cookie is needed.
#[no_mangle]
pub unsafe extern "C" fn smisk_session_state_cookie(
    state: *mut smisk_session_state,
    has_data: i32,
    secure: i32,
    out_ptr: *mut *mut u8,
    out_len: *mut usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `state`, `out_ptr` and `out_len`
    // are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let st = arg_mut(state, "state")?;
            if out_ptr.is_null() || out_len.is_null() {
                return Err(Error::new(
                    crate::status::SMISK_ERR_NULL,
                    "out_ptr or out_len is NULL",
                ));
            }
            let text = st.inner.cookie(flag(has_data), flag(secure))?;
            give_bytes(
                text.map(String::into_bytes).unwrap_or_default(),
                out_ptr,
                out_len,
            )
        })
    }
}

/// End of request. `data`/`len` is the serialized session when `has_data` is
/// non-zero (`data` may be NULL when `len` is 0); with `has_data` 0 the
/// session is None. New or changed bytes are written, unchanged bytes
/// refreshed, and a stored session whose data became None is removed; an
/// unused session (never loaded, `has_data` 0) does nothing. Data for a
/// session that was never loaded is saved under the client's live session,
/// or under a new id if the headers are not yet sent. `out_outcome` may be NULL; else it receives
/// SMISK_SESSION_NOTHING, _REFRESHED, _WRITTEN or _DESTROYED.
///
/// Errors: SMISK_ERR_IO when the store could not be written (the request can
/// still be completed; nothing else is affected), SMISK_ERR_STATE when called
/// twice or when data appeared after the headers were sent for a client
/// without a session cookie (not saved).
#[no_mangle]
pub unsafe extern "C" fn smisk_session_state_finish(
    state: *mut smisk_session_state,
    data: *const u8,
    len: usize,
    has_data: i32,
    out_outcome: *mut i32,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `state`, `data` and `out_outcome`
    // are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let st = arg_mut(state, "state")?;
            let data = arg_bytes(data, len, "data")?;
            let outcome = st.inner.finish(flag(has_data).then_some(data))?;
            if let Some(out) = out_outcome.as_mut() {
                *out = match outcome {
                    Outcome::Nothing => SMISK_SESSION_NOTHING,
                    Outcome::Refreshed => SMISK_SESSION_REFRESHED,
                    Outcome::Written => SMISK_SESSION_WRITTEN,
                    Outcome::Destroyed => SMISK_SESSION_DESTROYED,
                };
            }
            Ok(())
        })
    }
}

// The doc comments above promise these values.
const _: () = assert!(request::MAX_CANDIDATES == 4);
const _: () = assert!(SMISK_SESSION_ID_LEN == id::ID_LEN);
const _: () = assert!(SMISK_SESSION_DEFAULT_TTL == crate::session::store::DEFAULT_TTL);
