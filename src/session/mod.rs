//! Sessions: ids, the file store and the per-request session logic.
//!
//! * [`id`]: generation (20 CSPRNG bytes, packed to 32 chars of `[0-9a-v]`) and
//!   the validator every other part calls first.
//! * [`frame`]: the self-verifying file format (magic, version, length,
//!   SHA-1).
//! * [`store`]: the file store (`read`, `write`, `refresh`, `destroy`, `gc`)
//!   in a private directory, with atomic replace-by-rename.
//! * `dir`: the store directory held open by descriptor, and the `*at`
//!   calls relative to it (how a write installs its file).
//! * [`gc`]: which files GC may remove, and how it avoids racing writers.
//! * [`kv`]: the same sessions (ids, framing, ttl) on a key-value server
//!   (memcached, Redis) reached through a caller-supplied client.
//! * [`backend`]: the four operations the request logic needs from either.
//! * [`request`]: what a request does with its session (cookie candidates,
//!   lazy load, lazy id, dirtiness by bytes, write-back or refresh, destroy,
//!   `Set-Cookie` text).
//!
//! The payload is opaque bytes; the Python shim serializes with `marshal`.
//! See `docs/sessions.md` for the operator's view.

pub mod backend;
mod dir;
pub mod frame;
pub mod gc;
pub mod id;
pub mod kv;
pub mod request;
mod rng;
pub mod store;

pub use backend::Backend;
pub use gc::GcStats;
pub use kv::{KeyValue, KvStore};
pub use request::{Outcome, RequestSession};
pub use store::Store;
