//! Thin socket helpers over libc: a read that reports "would block", a
//! bounded wait for readiness, and a send that never raises SIGPIPE
//! (MSG_NOSIGNAL) and gives up after a timeout.
//!
//! Every read and send passes MSG_DONTWAIT, so they never block whatever the
//! descriptor's O_NONBLOCK flag says: a connection taken by the blocking
//! accept stays a blocking socket, for its one blocking first read
//! ([`read_first`]), without a fcntl per connection.

use crate::status::{Error, Result, SMISK_ERR_ABORTED, SMISK_ERR_TIMEOUT};
use std::os::unix::io::RawFd;

/// Outcome of a non-blocking read.
pub(crate) enum ReadOutcome {
    Data(usize),
    WouldBlock,
    Eof,
}

/// One non-blocking `recv(2)`; EINTR is retried, EAGAIN reported as
/// `WouldBlock`.
pub(crate) fn read_nb(fd: RawFd, buf: &mut [u8]) -> Result<ReadOutcome> {
    loop {
        // SAFETY: buf is a valid writable region of buf.len() bytes.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if n > 0 {
            return Ok(ReadOutcome::Data(n as usize));
        }
        if n == 0 {
            return Ok(ReadOutcome::Eof);
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Ok(ReadOutcome::WouldBlock),
            Some(libc::ECONNRESET) | Some(libc::EPIPE) => return Ok(ReadOutcome::Eof),
            _ => return Err(Error::os("read from web server", err)),
        }
    }
}

/// How the blocking first read of a connection ended.
pub(crate) enum FirstRead {
    /// Bytes, end of file or an error: as [`read_nb`] would report them.
    Done(Result<ReadOutcome>),
    /// Nothing within the socket's receive timeout.
    TimedOut,
    /// A signal handler ran.
    Interrupted,
}

/// One blocking `recv(2)` on a blocking socket, bounded by its SO_RCVTIMEO
/// (a connection from the blocking accept inherits the listener's). Where a
/// connection arrives before its first bytes, this is one syscall in place
/// of a read that says EAGAIN, an epoll registration, a wait and a read
/// again; the receive timeout is a plain timer, not the high-resolution one
/// a timed poll or epoll wait arms.
pub(crate) fn read_first(fd: RawFd, buf: &mut [u8]) -> FirstRead {
    // SAFETY: buf is a valid writable region of buf.len() bytes.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n > 0 {
        return FirstRead::Done(Ok(ReadOutcome::Data(n as usize)));
    }
    if n == 0 {
        return FirstRead::Done(Ok(ReadOutcome::Eof));
    }
    let err = std::io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EAGAIN) => FirstRead::TimedOut,
        Some(libc::EINTR) => FirstRead::Interrupted,
        Some(libc::ECONNRESET) | Some(libc::EPIPE) => FirstRead::Done(Ok(ReadOutcome::Eof)),
        _ => FirstRead::Done(Err(Error::os("read from web server", err))),
    }
}

/// Waits until `fd` is readable (`POLLIN`) or writable (`POLLOUT`), at most
/// `timeout_ms`. EINTR restarts the wait with the remaining time, so a signal
/// handler that only sets a flag does not abort a request half-way.
pub(crate) fn wait_fd(fd: RawFd, events: libc::c_short, timeout_ms: u64) -> Result<()> {
    let deadline = super::limits::now_ms().saturating_add(timeout_ms);
    loop {
        let left = deadline.saturating_sub(super::limits::now_ms());
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        let ms = left.min(i32::MAX as u64) as libc::c_int;
        // SAFETY: pfd is one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc > 0 {
            return Ok(());
        }
        if rc == 0 {
            return Err(Error::new(
                SMISK_ERR_TIMEOUT,
                format!("web server connection not ready after {timeout_ms} ms"),
            ));
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(Error::os("poll", err));
        }
    }
}

/// Sends all of `data`, waiting (at most `timeout_ms` per stall) while the
/// peer's buffer is full. A peer that hung up gives `SMISK_ERR_ABORTED`.
pub(crate) fn send_all(fd: RawFd, mut data: &[u8], timeout_ms: u64) -> Result<()> {
    while !data.is_empty() {
        let n = send_nb(fd, data)?;
        if n == 0 {
            wait_fd(fd, libc::POLLOUT, timeout_ms)?;
        }
        data = &data[n..];
    }
    Ok(())
}

/// Sends as much of `data` as fits without blocking; returns the byte count.
pub(crate) fn send_nb(fd: RawFd, data: &[u8]) -> Result<usize> {
    loop {
        // SAFETY: data is a valid readable region.
        let n = unsafe {
            libc::send(
                fd,
                data.as_ptr().cast(),
                data.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::EAGAIN) => return Ok(0),
            Some(libc::EPIPE) | Some(libc::ECONNRESET) | Some(libc::ENOTCONN) => {
                return Err(Error::new(
                    SMISK_ERR_ABORTED,
                    "the web server closed the connection",
                ))
            }
            _ => return Err(Error::os("send to web server", err)),
        }
    }
}
