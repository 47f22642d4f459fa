//! What the request-level session logic ([`super::request`]) needs from a
//! store: the four operations on one validated id, and whether a failure
//! means "the store cannot be reached".
//!
//! Two stores implement it: the file store ([`super::store::Store`]) and the
//! key-value store ([`super::kv::KvStore`]) that puts the same framed values
//! on a server (memcached, Redis) through a caller-supplied [`super::kv::KeyValue`].

use crate::status::{Error, Result, SMISK_ERR_TOO_LARGE};

/// A session store as the per-request logic uses it. Every method validates
/// the id first (`SMISK_ERR_SESSION_ID`); "no session" is
/// `SMISK_ERR_NO_SESSION`; a failing store is `SMISK_ERR_IO`.
pub trait Backend: Send + Sync {
    /// The payload stored for `id`.
    fn read(&self, id: &[u8]) -> Result<Vec<u8>>;
    /// Stores `payload` for `id`, replacing what was there.
    fn write(&self, id: &[u8], payload: &[u8]) -> Result<()>;
    /// Extends the lifetime of a live session (`SMISK_ERR_NO_SESSION` when
    /// there is none: an expired session is not brought back).
    fn refresh(&self, id: &[u8]) -> Result<()>;
    /// Removes the session; a missing one is not an error.
    fn destroy(&self, id: &[u8]) -> Result<()>;
    /// True for a store on another machine: when reading fails with
    /// `SMISK_ERR_IO` the request goes on without its session instead of
    /// failing (see `RequestSession` "unavailable").
    fn is_remote(&self) -> bool {
        false
    }
    /// Lifetime in seconds since the last write or refresh.
    fn ttl(&self) -> u64;
    fn set_ttl(&self, secs: u64);
    /// Largest payload `write` accepts.
    fn max_payload(&self) -> usize;
    fn set_max_payload(&self, bytes: usize);
}

/// The error of a write whose payload is above the limit, if it is.
pub(crate) fn check_payload(len: usize, max: usize) -> Result<()> {
    if len > max {
        return Err(Error::new(
            SMISK_ERR_TOO_LARGE,
            format!("session payload of {len} bytes exceeds the limit of {max} bytes"),
        ));
    }
    Ok(())
}
