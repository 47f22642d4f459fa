//! Configurable limits of the FastCGI responder. All finite by default.

/// Limits applied by a [`crate::fcgi::Server`]; change them before `accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Total bytes of PARAMS content one request may send (names, values and
    /// length prefixes). Exceeding it answers `431` and closes the connection.
    pub max_params_bytes: usize,
    /// Number of params one request may send. Exceeding it answers `431`.
    pub max_params: usize,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_conns: usize,
    /// How long a peer may stall while sending a request (or its body) before
    /// the connection is closed (reads then fail with `SMISK_ERR_TIMEOUT`).
    pub read_timeout_ms: u64,
    /// How long a write may block on a peer that does not read.
    pub write_timeout_ms: u64,
    /// How long an idle kept-alive connection is kept between requests.
    pub keepalive_timeout_ms: u64,
    /// How long, in all, a connection that is closing after its answer may
    /// linger to read the rest of a request body the application did not
    /// read (see `Phase::Lingering`). Past it the connection is closed, and
    /// a web server still writing may then report an error for an answer it
    /// had already received.
    pub linger_timeout_ms: u64,
    /// How many bytes a lingering connection reads and discards at most
    /// before it is closed anyway (the same consequence as the timeout).
    pub linger_max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_params_bytes: 1 << 20,
            max_params: 4096,
            max_conns: 1024,
            read_timeout_ms: 30_000,
            write_timeout_ms: 30_000,
            keepalive_timeout_ms: 300_000,
            linger_timeout_ms: 30_000,
            linger_max_bytes: 1 << 30,
        }
    }
}

/// Milliseconds on a monotonic clock (coarse: a few ms resolution is plenty
/// for timeouts and costs no syscall).
pub(crate) fn now_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}
