//! Request-level session logic: what `request.session`, `request.session_id`
//! and the session cookie do during one request.
//!
//! The caller (the Python shim) creates one [`RequestSession`] per request,
//! feeds it the value(s) of the session cookie, and then drives it:
//!
//! 1. [`add_cookie`](RequestSession::add_cookie) for each value the client
//!    sent under the cookie name (a cookie may legitimately arrive twice, for
//!    example once per path or domain). Only values of the exact id form are
//!    kept, at most [`MAX_CANDIDATES`].
//! 2. [`load`](RequestSession::load) when the application first reads the
//!    session: the first candidate with a live stored session wins. A valid
//!    looking id without a stored session is not adopted (no session
//!    fixation). Loading never creates a file or an id.
//! 3. [`cookie`](RequestSession::cookie) when the response headers are sent:
//!    gives the `Set-Cookie` value to send, if any, and assigns an id to a
//!    session that has data but none yet.
//! 4. [`finish`](RequestSession::finish) at the end of the request with the
//!    serialized session data: written when its bytes differ from those read
//!    at the start (so in-place edits are saved), refreshed when equal,
//!    nothing at all for a session that never had data.
//!
//! [`destroy`](RequestSession::destroy) (`session = None`) deletes the stored
//! session and, if the client holds its id, expires the cookie; data set
//! afterwards lives under a fresh id. [`set_id`](RequestSession::set_id)
//! accepts only the exact id form.
//!
//! Errors are values: a store that fails (read-only directory, full disk)
//! returns `SMISK_ERR_IO` from the call that touched it and leaves this object
//! usable; nothing here panics or aborts the request.
//!
//! **Unavailable remote store.** When a remote store ([`Backend::is_remote`]:
//! memcached, Redis) cannot be read at load time (`SMISK_ERR_IO`), the
//! request is served as if the client had no session, and nothing it does to
//! its session touches the store or the client's cookie: the session reads as
//! None; an id asked for is a fresh one that is neither sent nor kept;
//! `set_id` only checks the form; the cookie is left alone (the client's
//! session is back as soon as the server answers again), except that
//! `destroy` (a logout) still expires it and removes what the client's ids
//! name if the server answers by then; data set during the request is not
//! saved and [`finish`](RequestSession::finish) reports that as
//! `SMISK_ERR_IO`, for the caller to log. The file store keeps failing loudly
//! (an unreadable directory is a configuration error, not an outage).

use super::backend::Backend;
use super::id;
use crate::response::cookie::{self, SameSite};
use crate::status::{Error, Result, SMISK_ERR_IO, SMISK_ERR_NO_SESSION};
use std::sync::Arc;

/// Most cookie values considered per request (more are ignored).
/// cbindgen:ignore
pub const MAX_CANDIDATES: usize = 4;
/// The session cookie name unless the application picks another.
/// cbindgen:ignore
pub const DEFAULT_COOKIE_NAME: &std::ffi::CStr = c"SID";
/// Longest cookie name accepted.
/// cbindgen:ignore
pub const MAX_NAME_LEN: usize = 256;
/// What `finish` did with the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing (session never used, or no data and nothing stored).
    Nothing,
    /// Data unchanged: the stored session's lifetime was extended.
    Refreshed,
    /// New or changed data was written.
    Written,
    /// The stored session was removed (data became None).
    Destroyed,
}

/// True when `name` is an RFC 6265 cookie-name (an RFC 7230 token) of at
/// most [`MAX_NAME_LEN`] bytes.
pub fn is_valid_cookie_name(name: &[u8]) -> bool {
    name.len() <= MAX_NAME_LEN && crate::response::header::is_token(name)
}

/// The attributes of the session cookie; `max_age` 0 expires it.
fn cookie_options(secure: bool, max_age: Option<u64>) -> cookie::Options<'static> {
    cookie::Options {
        path: Some(b"/"),
        max_age,
        secure,
        http_only: true,
        same_site: Some(SameSite::Lax),
        ..cookie::Options::default()
    }
}

/// Formats the session cookie. Callers pass a name validated by
/// `is_valid_cookie_name` (or the tests' literal `SID`) and fixed
/// attributes, so formatting cannot fail.
fn session_cookie(name: &str, value: &str, options: &cookie::Options<'_>) -> String {
    cookie::format(name.as_bytes(), value.as_bytes(), options)
        .expect("session cookie names are validated tokens")
}

/// The `Set-Cookie` value that hands `id` to the client.
pub fn cookie_text(name: &str, id: &str, secure: bool) -> String {
    session_cookie(name, id, &cookie_options(secure, None))
}

/// The `Set-Cookie` value that makes the client drop the session cookie
/// (`Max-Age=0` and an `Expires` at the epoch).
pub fn expired_cookie_text(name: &str, secure: bool) -> String {
    session_cookie(name, "", &cookie_options(secure, Some(0)))
}

/// The session state of one request.
pub struct RequestSession {
    store: Arc<dyn Backend>,
    name: String,
    candidates: Vec<String>,
    loaded: bool,
    /// The current id, if any.
    id: Option<String>,
    /// The payload stored under `id` when it was read (None: nothing stored).
    stored: Option<Vec<u8>>,
    /// `id` is not yet known to the client: a cookie must carry it.
    id_is_new: bool,
    /// The client's session was destroyed: expire its cookie.
    expire_cookie: bool,
    headers_sent: bool,
    finished: bool,
    /// A remote store could not be read at load time (see the module doc).
    unavailable: bool,
}

impl RequestSession {
    /// A fresh state for one request using `store` and the cookie `name`
    /// (an RFC 6265 token such as `SID`).
    pub fn new<B: Backend + 'static>(store: Arc<B>, name: &[u8]) -> Result<RequestSession> {
        Self::with_backend(store, name)
    }

    /// As [`new`](Self::new), for a store already behind `dyn Backend`.
    pub fn with_backend(store: Arc<dyn Backend>, name: &[u8]) -> Result<RequestSession> {
        if !is_valid_cookie_name(name) {
            return Err(Error::invalid(format!(
                "invalid session cookie name ({} bytes): expected 1 to {MAX_NAME_LEN} token characters",
                name.len()
            )));
        }
        Ok(RequestSession {
            store,
            name: String::from_utf8(name.to_vec()).expect("tokens are ASCII"),
            candidates: Vec::new(),
            loaded: false,
            id: None,
            stored: None,
            id_is_new: false,
            expire_cookie: false,
            headers_sent: false,
            finished: false,
            unavailable: false,
        })
    }

    /// The cookie name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Offers one value the client sent under the cookie name. Returns whether
    /// it was kept as a candidate: only the exact id form is, duplicates and
    /// values beyond [`MAX_CANDIDATES`] are not, and nothing is kept once the
    /// session was loaded.
    pub fn add_cookie(&mut self, value: &[u8]) -> bool {
        if self.loaded
            || self.candidates.len() >= MAX_CANDIDATES
            || !id::is_valid(value)
            || self.candidates.iter().any(|c| c.as_bytes() == value)
        {
            return false;
        }
        self.candidates
            .push(String::from_utf8(value.to_vec()).expect("ids are ASCII"));
        true
    }

    /// Offers every value of the session cookie in a `Cookie` header (the
    /// `HTTP_COOKIE` param), in header order, as [`add_cookie`](Self::add_cookie)
    /// does one. Cookie syntax is the codec's (`smisk_parse_cookies`); a
    /// header with more fields than its cap offers nothing.
    pub fn offer_cookie_header(&mut self, header: &[u8]) {
        let name = std::mem::take(&mut self.name);
        let _ = crate::codec::query::parse_pairs(
            header,
            crate::codec::query::Separator::Cookie,
            crate::codec::query::DEFAULT_MAX_FIELDS,
            |key, value| {
                if let Some(value) = value {
                    if *key == *name.as_bytes() {
                        self.add_cookie(&value);
                    }
                }
            },
        );
        self.name = name;
    }

    fn ensure_loaded(&mut self) -> Result<()> {
        if self.loaded {
            return Ok(());
        }
        for cand in &self.candidates {
            match self.store.read(cand.as_bytes()) {
                Ok(payload) => {
                    self.id = Some(cand.clone());
                    self.stored = Some(payload);
                    break;
                }
                Err(e) if e.status == SMISK_ERR_NO_SESSION => continue,
                // A remote store that cannot be reached: serve this request
                // without its session (module doc).
                Err(e) if e.status == SMISK_ERR_IO && self.store.is_remote() => {
                    self.unavailable = true;
                    break;
                }
                // An I/O error is not "no session": report it and stay
                // unloaded, so a later access can retry.
                Err(e) => return Err(e),
            }
        }
        self.loaded = true;
        Ok(())
    }

    /// The session data read at the start of the request (loading it on first
    /// use). None when there is no stored session for this client.
    pub fn load(&mut self) -> Result<Option<&[u8]>> {
        self.ensure_loaded()?;
        Ok(self.stored.as_deref())
    }

    /// Whether the session was loaded (the application touched it).
    pub fn is_loaded(&self) -> bool {
        self.loaded
    }

    /// Whether a remote store could not be read at load time: this request
    /// runs without its session (module doc).
    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }

    fn new_id(&mut self) -> Result<()> {
        if self.headers_sent {
            return Err(Error::state(
                "output already started: too late to send a new session id with the response",
            ));
        }
        self.id = Some(id::generate()?);
        self.stored = None;
        self.id_is_new = true;
        Ok(())
    }

    /// The current session id. With `create`, a session without one gets a
    /// fresh id (sent in the cookie; no file is written unless data follows).
    /// Without `create`, None when there is none.
    pub fn id(&mut self, create: bool) -> Result<Option<&str>> {
        self.ensure_loaded()?;
        if self.id.is_none() && create {
            self.new_id()?;
        }
        Ok(self.id.as_deref())
    }

    /// Re-keys the session to `new_id` (exact id form only). The session
    /// stored under the old id is destroyed; the data is saved under the new
    /// id at [`finish`](Self::finish) and the cookie carries it.
    pub fn set_id(&mut self, new_id: &[u8]) -> Result<()> {
        let new_id = id::check(new_id)?.to_string();
        if self.headers_sent {
            return Err(Error::state(
                "output already started: too late to send a new session id with the response",
            ));
        }
        self.ensure_loaded()?;
        if self.id.as_deref() == Some(new_id.as_str()) {
            return Ok(());
        }
        if self.unavailable {
            self.id = Some(new_id);
            return Ok(());
        }
        if let (Some(old), Some(_)) = (&self.id, &self.stored) {
            self.store.destroy(old.as_bytes())?;
        }
        self.id = Some(new_id);
        self.stored = None;
        self.id_is_new = true;
        self.expire_cookie = false;
        Ok(())
    }

    /// `session = None`: removes the stored session and forgets the id. The
    /// client's cookie is expired (if headers are not yet sent); data set
    /// later in the request gets a fresh id.
    pub fn destroy(&mut self) -> Result<()> {
        self.ensure_loaded()?;
        if self.unavailable {
            // A logout while the server is away: the client forgets the id;
            // what its ids name is removed if the server is back already.
            for cand in &self.candidates {
                let _ = self.store.destroy(cand.as_bytes());
            }
            self.expire_cookie = !self.candidates.is_empty();
            self.id = None;
            self.id_is_new = false;
            return Ok(());
        }
        if let Some(old) = self.id.take() {
            self.store.destroy(old.as_bytes())?;
            if !self.id_is_new {
                self.expire_cookie = true;
            }
        }
        self.stored = None;
        self.id_is_new = false;
        Ok(())
    }

    /// Called when the response headers are sent. `has_data` says whether the
    /// session currently holds data (is not None). Returns the `Set-Cookie`
    /// value to send, if any: the id when it is new to the client, or an
    /// expiring cookie after `destroy`. After this, new ids cannot be sent.
    pub fn cookie(&mut self, has_data: bool, secure: bool) -> Result<Option<String>> {
        if has_data {
            // Data without a load: the caller assigned the session without
            // reading it first. Find the client's session now so it is kept.
            self.ensure_loaded()?;
        }
        if self.loaded && has_data && self.id.is_none() && !self.headers_sent {
            self.new_id()?;
        }
        self.headers_sent = true;
        if self.unavailable {
            return Ok(self
                .expire_cookie
                .then(|| expired_cookie_text(&self.name, secure)));
        }
        Ok(match (&self.id, self.id_is_new, self.expire_cookie) {
            (Some(id), true, _) => Some(cookie_text(&self.name, id, secure)),
            (None, _, true) => Some(expired_cookie_text(&self.name, secure)),
            _ => None,
        })
    }

    /// End of request: `data` is the serialized session (None when the
    /// session is None). Writes, refreshes or destroys as described in the
    /// module doc; data for a session that was never loaded is saved too
    /// (the client's session is looked up first). Call once; later calls are
    /// `SMISK_ERR_STATE`.
    pub fn finish(&mut self, data: Option<&[u8]>) -> Result<Outcome> {
        if self.finished {
            return Err(Error::state("session already finished for this request"));
        }
        self.finished = true;
        if !self.loaded {
            if data.is_none() {
                return Ok(Outcome::Nothing);
            }
            if let Err(e) = self.ensure_loaded() {
                self.finished = false; // nothing happened; a retry may work
                return Err(e);
            }
        }
        if self.unavailable {
            return match data {
                Some(_) => Err(Error::new(
                    SMISK_ERR_IO,
                    "the session store could not be reached when the session was read: \
                     session data of this request not saved",
                )),
                None => Ok(Outcome::Nothing),
            };
        }
        let Some(data) = data else {
            return match (&self.id, &self.stored) {
                (Some(id), Some(_)) => {
                    self.store.destroy(id.as_bytes())?;
                    Ok(Outcome::Destroyed)
                }
                _ => Ok(Outcome::Nothing),
            };
        };
        if self.id.is_none() {
            if self.headers_sent {
                return Err(Error::state(
                    "session data set after output started for a client without a session \
                     cookie: not saved",
                ));
            }
            self.new_id()?;
        }
        let id = self.id.as_deref().expect("set above");
        if self.stored.as_deref() == Some(data) {
            return match self.store.refresh(id.as_bytes()) {
                Ok(()) => Ok(Outcome::Refreshed),
                // Destroyed (say a logout in another tab) or expired meanwhile:
                // this request changed nothing, so it must not resurrect it.
                Err(e) if e.status == SMISK_ERR_NO_SESSION => Ok(Outcome::Nothing),
                Err(e) => Err(e),
            };
        }
        self.store.write(id.as_bytes(), data)?;
        Ok(Outcome::Written)
    }
}
