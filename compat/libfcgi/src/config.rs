//! The core's limits for a program that cannot set them: libfcgi's API has
//! no place for them, so they come from the environment, read once when
//! the first listening socket is served. Unset or malformed (a warning on
//! stderr) means smisk's default.
//!
//! | variable | limit |
//! | --- | --- |
//! | `SMISK_FCGI_MAX_PARAMS_BYTES` | total PARAMS bytes of one request (1 MiB) |
//! | `SMISK_FCGI_MAX_CONNS` | connections served at once (1024) |
//! | `SMISK_FCGI_READ_TIMEOUT_MS` | a peer stalling mid-request (30 s) |
//! | `SMISK_FCGI_WRITE_TIMEOUT_MS` | a peer not reading the answer (30 s) |
//! | `SMISK_FCGI_KEEPALIVE_TIMEOUT_MS` | an idle kept-alive connection (300 s) |
//!
//! Who may connect over TCP is `FCGI_WEB_SERVER_ADDRS`, as in libfcgi
//! (read by the core's allow-list).

use smisk::fcgi::Limits;

fn read(name: &str, min: u64) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    match text.trim().parse::<u64>() {
        Ok(v) if v >= min => Some(v),
        _ => {
            eprintln!("libfcgi (smisk): ignoring {name}={text:?}: not a number >= {min}");
            None
        }
    }
}

/// The limits, from the environment over smisk's defaults.
pub fn limits() -> Limits {
    let mut l = Limits::default();
    if let Some(v) = read("SMISK_FCGI_MAX_PARAMS_BYTES", 1) {
        l.max_params_bytes = v.try_into().unwrap_or(usize::MAX);
    }
    if let Some(v) = read("SMISK_FCGI_MAX_CONNS", 1) {
        l.max_conns = v.try_into().unwrap_or(usize::MAX);
    }
    if let Some(v) = read("SMISK_FCGI_READ_TIMEOUT_MS", 1) {
        l.read_timeout_ms = v;
    }
    if let Some(v) = read("SMISK_FCGI_WRITE_TIMEOUT_MS", 1) {
        l.write_timeout_ms = v;
    }
    if let Some(v) = read("SMISK_FCGI_KEEPALIVE_TIMEOUT_MS", 1) {
        l.keepalive_timeout_ms = v;
    }
    l
}
