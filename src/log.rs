//! The library's own log lines (supervisor events, refused peers, start-up
//! warnings): one `smisk[PID]: message` line to stderr per event, written
//! with a single `write` so lines of several processes do not interleave.
//! Costs one `getpid` and one `write`; nothing is buffered.

/// Writes `msg` as one line to stderr, prefixed with `smisk[PID]: `.
pub(crate) fn log(msg: std::fmt::Arguments<'_>) {
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() };
    let line = format!("smisk[{pid}]: {msg}\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

/// Writes what an application sent to its error stream where the protocol
/// has none (SCGI): the bytes as they are, to this process's stderr.
pub(crate) fn write_stderr(data: &[u8]) {
    let _ = std::io::Write::write_all(&mut std::io::stderr(), data);
}
