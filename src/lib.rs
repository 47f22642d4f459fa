//! smisk: the native core of the Smisk web-service framework.
//!
//! A FastCGI responder, request-body parsers, the URL / query / cookie codec,
//! a file session store and small utilities, written in Rust and exported
//! through a stable C ABI (`include/smisk.h`, see `ffi`). Rust callers can use
//! the modules directly; C, Python and other languages go through `ffi`.

pub mod codec;
pub mod fcgi;
pub mod ffi;
pub mod form;
pub mod fsutil;
mod log;
pub mod multipart;
pub mod process;
pub mod response;
pub mod session;
pub mod status;
pub mod uid;

pub use status::{smisk_status, Error, Result};
