//! C functions of the session store (`smisk_session_store_*`), session ids
//! (`smisk_session_id_*`) and the per-request session state
//! (`smisk_session_state_*`). Behaviour lives in `crate::session`; this file
//! only checks pointers and converts types.

#![allow(non_camel_case_types)]

use super::{
    arg_bytes, arg_mut, arg_ref, copy_out, free_handle, give_bytes, guard, guard_value, into_handle,
};
use crate::session::{id, request, Outcome, RequestSession, Store};
use crate::status::{smisk_status, Error};
use std::ffi::OsStr;
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

/// A file session store (opaque). Create with smisk_session_store_new or
/// smisk_session_store_new_file_prefix, release with smisk_session_store_free.
/// Unlike other handles, one store may be used from several threads at once.
pub struct smisk_session_store {
    inner: Arc<Store>,
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
                inner: Arc::new(store),
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
                inner: Arc::new(store),
            });
            Ok(())
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
            copy_out(s.inner.dir().as_os_str().as_bytes(), buf, cap, out_len)
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
            copy_out(&s.inner.file_prefix(), buf, cap, out_len)
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
            *arg_mut(out_ttl, "out_ttl")? = s.inner.ttl();
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
            arg_ref(store, "store")?.inner.set_ttl(ttl);
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
            *arg_mut(out_probability, "out_probability")? = s.inner.gc_probability();
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
                .inner
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
            *arg_mut(out_fsync, "out_fsync")? = i32::from(s.inner.fsync());
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
            arg_ref(store, "store")?.inner.set_fsync(flag(fsync));
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
            *arg_mut(out_bytes, "out_bytes")? = s.inner.max_payload();
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
            arg_ref(store, "store")?.inner.set_max_payload(bytes);
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
            let payload = s.inner.read(id)?;
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
            s.inner.write(id, data)
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
            s.inner.refresh(arg_bytes(id, id_len, "id")?)
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
            s.inner.destroy(arg_bytes(id, id_len, "id")?)
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
            let st = s.inner.gc()?;
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
    RequestSession::new(Arc::clone(&s.inner), name)
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
/// (the session is None). SMISK_ERR_IO if the store could not be read (the
/// state stays unloaded, a later call retries).
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
