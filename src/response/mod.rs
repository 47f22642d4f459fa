//! What a responder sends besides its own body: `Set-Cookie` values, the
//! web-server specific "send this file" header (or the file streamed by
//! smisk), and the built-in error page.
//!
//! * [`cookie`]: RFC 6265 `Set-Cookie` values and the IMF-fixdate they use
//!   (the session cookie is formatted here too).
//! * [`header`]: the header-line grammar (tokens, CR/LF/NUL, hop-by-hop
//!   headers of gateways) and the response's header list.
//! * [`sendfile`]: the header that hands a file to nginx, lighttpd or
//!   Apache, and the bounded-memory fallback that streams it.
//! * [`error_page`]: the HTML error page with everything escaped and an exact
//!   `Content-Length`.
//!
//! Policy lives here so that the Python shim and C callers get the same
//! bytes; the FFI layer (`crate::ffi::response`) only converts arguments.

pub mod cookie;
pub mod error_page;
pub mod header;
pub mod sendfile;
