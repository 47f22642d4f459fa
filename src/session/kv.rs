//! The key-value session store: the file store's rules on a server.
//!
//! [`KvStore`] keeps each session as one value under its id on a key-value
//! server (memcached, Redis), reached through a [`KeyValue`] that the caller
//! supplies (the Python shim passes one that calls pymemcache or redis-py).
//! Everything that decides what a session is stays here, shared with the file
//! store:
//!
//! * ids are checked by [`super::id::check`] before the server is asked;
//! * values are framed by [`super::frame`] (magic, version, length, SHA-1
//!   over the header, the id and the payload): a value that does not verify
//!   for the id it was read under (tampered, truncated, written by something
//!   else, copied from another id) is "no session";
//! * the lifetime is `ttl` seconds since the last write or refresh, enforced
//!   by the server's expiry: `set` and `touch` get the ttl, `touch` on a
//!   missing (expired) key reports "not found" and nothing is brought back.
//!   A ttl of 0 means "gone at once", as for the file store: a write removes
//!   the value instead of storing it, a refresh finds nothing;
//! * payloads above `max_payload` are refused on write, values longer than
//!   `max_payload` plus the frame overhead read as "no session".
//!
//! A [`KeyValue`] reports a server it cannot reach as `SMISK_ERR_IO`; the
//! request logic then serves the request without its session
//! ([`super::backend::Backend::is_remote`]).

use super::backend::Backend;
use super::frame;
use super::id;
use super::store::DEFAULT_MAX_PAYLOAD;
use crate::status::{Error, Result, SMISK_ERR_NO_SESSION};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Default lifetime, as the file store's.
/// cbindgen:ignore
pub const DEFAULT_TTL: u64 = super::store::DEFAULT_TTL;

/// The server operations, on validated ids (32 characters of `[0-9a-v]`);
/// how an id maps to a server key (a prefix, say) is the implementation's
/// business. Every failure to reach or use the server is an error
/// (`SMISK_ERR_IO`); "not there" is not a failure.
pub trait KeyValue: Send + Sync {
    /// The value stored under `id`, None when there is none.
    fn get(&self, id: &str) -> Result<Option<Vec<u8>>>;
    /// Stores `value` under `id`, expiring `ttl` (≥ 1) seconds from now.
    fn set(&self, id: &str, value: &[u8], ttl: u64) -> Result<()>;
    /// Makes an existing value expire `ttl` (≥ 1) seconds from now; false
    /// when there is no value.
    fn touch(&self, id: &str, ttl: u64) -> Result<bool>;
    /// Removes the value; a missing one is not an error.
    fn delete(&self, id: &str) -> Result<()>;
}

/// A session store on a key-value server (see the module doc).
pub struct KvStore {
    kv: Box<dyn KeyValue>,
    ttl: AtomicU64,
    max_payload: AtomicUsize,
}

fn no_session(id: &str, why: impl std::fmt::Display) -> Error {
    Error::new(SMISK_ERR_NO_SESSION, format!("no session {id}: {why}"))
}

impl KvStore {
    /// A store on `kv` with the default ttl (900 s) and payload limit (16 MiB).
    pub fn new(kv: Box<dyn KeyValue>) -> KvStore {
        KvStore {
            kv,
            ttl: AtomicU64::new(DEFAULT_TTL),
            max_payload: AtomicUsize::new(DEFAULT_MAX_PAYLOAD),
        }
    }

    pub fn ttl(&self) -> u64 {
        self.ttl.load(Ordering::Relaxed)
    }

    /// Sets the lifetime in seconds since the last write or refresh.
    pub fn set_ttl(&self, secs: u64) {
        self.ttl.store(secs, Ordering::Relaxed)
    }

    pub fn max_payload(&self) -> usize {
        self.max_payload.load(Ordering::Relaxed)
    }

    /// Largest payload accepted by `write`; larger values read back are "no
    /// session".
    pub fn set_max_payload(&self, bytes: usize) {
        self.max_payload.store(bytes, Ordering::Relaxed)
    }

    /// The payload stored for `id`, verified.
    pub fn read(&self, id: &[u8]) -> Result<Vec<u8>> {
        let id = id::check(id)?;
        let Some(value) = self.kv.get(id)? else {
            return Err(no_session(id, "no data"));
        };
        if value.len() > self.max_payload().saturating_add(frame::OVERHEAD) {
            return Err(no_session(id, "value larger than the payload limit"));
        }
        match frame::decode(id.as_bytes(), &value) {
            Ok(payload) => Ok(payload.to_vec()),
            Err(reject) => Err(no_session(id, reject.describe())),
        }
    }

    /// Frames `payload` for `id` and stores it with the ttl.
    pub fn write(&self, id: &[u8], payload: &[u8]) -> Result<()> {
        let id = id::check(id)?;
        super::backend::check_payload(payload.len(), self.max_payload())?;
        let ttl = self.ttl();
        if ttl == 0 {
            // Expired as soon as written: nothing may be read back.
            return self.kv.delete(id);
        }
        let mut framed = Vec::new();
        frame::encode(id.as_bytes(), payload, &mut framed);
        self.kv.set(id, &framed, ttl)
    }

    /// Extends a live session to a full ttl from now.
    pub fn refresh(&self, id: &[u8]) -> Result<()> {
        let id = id::check(id)?;
        let ttl = self.ttl();
        if ttl == 0 {
            return Err(no_session(id, "data too old"));
        }
        if self.kv.touch(id, ttl)? {
            Ok(())
        } else {
            Err(no_session(id, "no data"))
        }
    }

    /// Removes the session `id`.
    pub fn destroy(&self, id: &[u8]) -> Result<()> {
        let id = id::check(id)?;
        self.kv.delete(id)
    }
}

impl Backend for KvStore {
    fn read(&self, id: &[u8]) -> Result<Vec<u8>> {
        KvStore::read(self, id)
    }
    fn write(&self, id: &[u8], payload: &[u8]) -> Result<()> {
        KvStore::write(self, id, payload)
    }
    fn refresh(&self, id: &[u8]) -> Result<()> {
        KvStore::refresh(self, id)
    }
    fn destroy(&self, id: &[u8]) -> Result<()> {
        KvStore::destroy(self, id)
    }
    fn is_remote(&self) -> bool {
        true
    }
    fn ttl(&self) -> u64 {
        KvStore::ttl(self)
    }
    fn set_ttl(&self, secs: u64) {
        KvStore::set_ttl(self, secs)
    }
    fn max_payload(&self) -> usize {
        KvStore::max_payload(self)
    }
    fn set_max_payload(&self, bytes: usize) {
        KvStore::set_max_payload(self, bytes)
    }
}

/// An in-memory [`KeyValue`] with expiry, for tests of the store and of the
/// request logic on it. `down` makes every call fail like an unreachable
/// server.
#[doc(hidden)]
pub mod memory {
    use super::KeyValue;
    use crate::status::{Error, Result, SMISK_ERR_IO};
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    /// Values with the instant they expire.
    pub type Map = HashMap<String, (Vec<u8>, Instant)>;

    #[derive(Clone, Default)]
    pub struct Memory {
        pub map: Arc<Mutex<Map>>,
        pub down: Arc<AtomicBool>,
    }

    impl Memory {
        fn check(&self) -> Result<()> {
            if self.down.load(Ordering::SeqCst) {
                return Err(Error::new(SMISK_ERR_IO, "connection refused"));
            }
            Ok(())
        }
        fn live(&self, id: &str) -> bool {
            let mut m = self.map.lock().unwrap();
            match m.get(id) {
                Some((_, until)) if *until > Instant::now() => true,
                Some(_) => {
                    m.remove(id);
                    false
                }
                None => false,
            }
        }
    }

    impl KeyValue for Memory {
        fn get(&self, id: &str) -> Result<Option<Vec<u8>>> {
            self.check()?;
            if !self.live(id) {
                return Ok(None);
            }
            Ok(self.map.lock().unwrap().get(id).map(|(v, _)| v.clone()))
        }
        fn set(&self, id: &str, value: &[u8], ttl: u64) -> Result<()> {
            self.check()?;
            let until = Instant::now() + Duration::from_secs(ttl.min(1 << 32));
            self.map
                .lock()
                .unwrap()
                .insert(id.to_string(), (value.to_vec(), until));
            Ok(())
        }
        fn touch(&self, id: &str, ttl: u64) -> Result<bool> {
            self.check()?;
            if !self.live(id) {
                return Ok(false);
            }
            let until = Instant::now() + Duration::from_secs(ttl.min(1 << 32));
            if let Some(e) = self.map.lock().unwrap().get_mut(id) {
                e.1 = until;
            }
            Ok(true)
        }
        fn delete(&self, id: &str) -> Result<()> {
            self.check()?;
            self.map.lock().unwrap().remove(id);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::memory::Memory;
    use super::*;
    use crate::status::{SMISK_ERR_IO, SMISK_ERR_SESSION_ID, SMISK_ERR_TOO_LARGE};

    const ID: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
    const OTHER: &[u8] = b"vutsrqponmlkjihgfedcba9876543210";

    fn store() -> (KvStore, Memory) {
        let m = Memory::default();
        (KvStore::new(Box::new(m.clone())), m)
    }

    #[test]
    fn round_trip_refresh_destroy() {
        let (s, m) = store();
        assert_eq!(s.read(ID).unwrap_err().status, SMISK_ERR_NO_SESSION);
        s.write(ID, b"payload").unwrap();
        assert_eq!(s.read(ID).unwrap(), b"payload");
        // Stored framed, not raw.
        let raw = m.map.lock().unwrap()[std::str::from_utf8(ID).unwrap()]
            .0
            .clone();
        assert_eq!(raw.len(), 7 + frame::OVERHEAD);
        assert_eq!(frame::decode(ID, &raw).unwrap(), b"payload");
        s.refresh(ID).unwrap();
        s.destroy(ID).unwrap();
        s.destroy(ID).unwrap();
        assert_eq!(s.read(ID).unwrap_err().status, SMISK_ERR_NO_SESSION);
        assert_eq!(s.refresh(ID).unwrap_err().status, SMISK_ERR_NO_SESSION);
    }

    #[test]
    fn tampered_foreign_and_moved_values_are_no_session() {
        let (s, m) = store();
        s.write(ID, b"payload").unwrap();
        let key = std::str::from_utf8(ID).unwrap().to_string();
        let good = m.map.lock().unwrap()[&key].clone();
        for i in 0..good.0.len() {
            let mut bad = good.clone();
            bad.0[i] ^= 0x40;
            m.map.lock().unwrap().insert(key.clone(), bad);
            assert_eq!(
                s.read(ID).unwrap_err().status,
                SMISK_ERR_NO_SESSION,
                "flip {i}"
            );
        }
        for junk in [&b""[..], b"N", b"{'user': 1}", b"\x80\x04K\x01."] {
            m.map
                .lock()
                .unwrap()
                .insert(key.clone(), (junk.to_vec(), good.1));
            assert_eq!(s.read(ID).unwrap_err().status, SMISK_ERR_NO_SESSION);
        }
        // A valid value copied under another id.
        let other = std::str::from_utf8(OTHER).unwrap().to_string();
        m.map.lock().unwrap().insert(other, good);
        assert_eq!(s.read(OTHER).unwrap_err().status, SMISK_ERR_NO_SESSION);
    }

    #[test]
    fn ids_are_checked_before_the_server_is_asked() {
        let (s, m) = store();
        m.down.store(true, std::sync::atomic::Ordering::SeqCst);
        for bad in [
            &b""[..],
            b"../x",
            b"0123456789abcdefghijklmnopqrstuV",
            b"x\r\nSet-Cookie: a",
        ] {
            assert_eq!(s.read(bad).unwrap_err().status, SMISK_ERR_SESSION_ID);
            assert_eq!(s.write(bad, b"x").unwrap_err().status, SMISK_ERR_SESSION_ID);
            assert_eq!(s.refresh(bad).unwrap_err().status, SMISK_ERR_SESSION_ID);
            assert_eq!(s.destroy(bad).unwrap_err().status, SMISK_ERR_SESSION_ID);
        }
        assert_eq!(s.read(ID).unwrap_err().status, SMISK_ERR_IO);
    }

    #[test]
    fn ttl_zero_is_gone_at_once_and_limits_apply() {
        let (s, _m) = store();
        s.write(ID, b"old").unwrap();
        s.set_ttl(0);
        s.write(ID, b"new").unwrap();
        s.set_ttl(900);
        assert_eq!(s.read(ID).unwrap_err().status, SMISK_ERR_NO_SESSION);
        s.write(ID, b"x").unwrap();
        s.set_ttl(0);
        assert_eq!(s.refresh(ID).unwrap_err().status, SMISK_ERR_NO_SESSION);
        s.set_ttl(900);
        s.set_max_payload(4);
        assert_eq!(
            s.write(ID, b"12345").unwrap_err().status,
            SMISK_ERR_TOO_LARGE
        );
        s.write(ID, b"1234").unwrap();
        s.set_max_payload(3);
        assert_eq!(s.read(ID).unwrap_err().status, SMISK_ERR_NO_SESSION);
    }
}
