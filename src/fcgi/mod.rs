//! The FastCGI responder (FastCGI 1.0, RESPONDER role; AUTHORIZER and
//! FILTER on request, see `Server::set_roles`).
//!
//! * [`record`]: sans-I/O record framing and name-value pairs.
//! * [`addr`]: the `bind()` address forms, binding, `listening()`.
//! * [`assembler`]: sans-I/O request assembly: what a connection's bytes
//!   mean (records to a request, its STDIN, what is still owed at close).
//! * [`conn`]: one connection's socket and buffer: the I/O around the
//!   assembler, and how the connection ends (closed, or lingering).
//! * [`scgi`]: the SCGI request header (sans I/O) and the protocol choice
//!   (`scgi:ADDRESS`): the same requests and answers over SCGI.
//! * [`server`]: the epoll accept loop handing out one [`Request`] at a time
//!   (or several, served on other threads: [`handoff`]).
//! * [`request`]: params, body, response headers and output streams.
//! * [`limits`]: every bound, finite by default.
//! * [`peer`]: which TCP peers may connect (the allow-list).
//! * [`ownership`]: mode, owner and group of a unix socket file.

pub mod addr;
mod assembler;
/// cbindgen:ignore
pub(crate) mod balance;
mod conn;
pub mod handoff;
mod io;
pub mod limits;
pub mod ownership;
pub mod peer;
/// cbindgen:ignore
pub mod record;
pub mod request;
/// cbindgen:ignore
pub mod scgi;
pub mod server;

/// Fuzzing entry points (not part of the stable API).
#[doc(hidden)]
pub mod fuzzing {
    pub use super::assembler::fuzz_check as assembler;
    pub use super::assembler::fuzz_check_scgi as scgi;
}

pub use limits::Limits;
pub use request::Request;
pub use server::Server;
