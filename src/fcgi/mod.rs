//! The FastCGI responder (FastCGI 1.0, RESPONDER role).
//!
//! * [`record`]: sans-I/O record framing and name-value pairs.
//! * [`addr`]: the `bind()` address forms, binding, `listening()`.
//! * [`conn`]: per-connection state machine (request assembly, STDIN streaming).
//! * [`server`]: the epoll accept loop handing out one [`Request`] at a time.
//! * [`request`]: params, body, response headers and output streams.
//! * [`limits`]: every bound, finite by default.
//! * [`peer`]: which TCP peers may connect (the allow-list).
//! * [`ownership`]: mode, owner and group of a unix socket file.

pub mod addr;
mod conn;
mod io;
pub mod limits;
pub mod ownership;
pub mod peer;
pub mod record;
pub mod request;
pub mod server;

pub use limits::Limits;
pub use request::Request;
pub use server::Server;
