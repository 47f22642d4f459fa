//! libfcgi's `OS_*` layer beyond sockets (see `socket`): what the cgi-fcgi
//! bridge and a few programs call. Asynchronous I/O is a table of queued
//! operations that `OS_DoIo` runs when `poll(2)` says they can: one read or
//! write per descriptor and direction, as libfcgi allows.

use crate::{guard, set_errno};
use libc::{c_char, c_int, c_void, size_t};
use std::sync::Mutex;

/// `OS_AsyncProc`.
pub type AsyncProc = unsafe extern "C" fn(client: *mut c_void, len: c_int);

struct Op {
    fd: c_int,
    write: bool,
    buf: *mut c_void,
    len: c_int,
    done: AsyncProc,
    client: *mut c_void,
}

// SAFETY: the pointers are the program's, handed back to it unchanged.
unsafe impl Send for Op {}

static OPS: Mutex<Vec<Op>> = Mutex::new(Vec::new());

fn ops() -> std::sync::MutexGuard<'static, Vec<Op>> {
    OPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes all of `data`, retrying on EINTR and short writes.
pub(crate) fn write_all(fd: c_int, mut data: &[u8]) -> std::io::Result<()> {
    // Each pass writes at least one byte or fails: bounded by the length.
    while !data.is_empty() {
        // SAFETY: data is a valid readable region.
        let n = unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) };
        let n = if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOTSOCK) {
            // SAFETY: as above; not a socket, so plain write.
            unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) }
        } else {
            n
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// `OS_LibInit`: the library's set-up (as `FCGX_Init`). 0.
#[no_mangle]
pub extern "C" fn OS_LibInit(_stdioFds: *mut c_int) -> c_int {
    crate::slot::FCGX_Init()
}

/// `OS_LibShutdown`: forgets the queued asynchronous operations.
#[no_mangle]
pub extern "C" fn OS_LibShutdown() {
    guard((), || ops().clear());
}

/// `OS_Read`: read(2).
#[no_mangle]
pub unsafe extern "C" fn OS_Read(fd: c_int, buf: *mut c_char, len: size_t) -> c_int {
    if buf.is_null() && len > 0 {
        set_errno(libc::EFAULT);
        return -1;
    }
    libc::read(fd, buf.cast(), len.min(c_int::MAX as usize)) as c_int
}

/// `OS_Write`: write(2).
#[no_mangle]
pub unsafe extern "C" fn OS_Write(fd: c_int, buf: *mut c_char, len: size_t) -> c_int {
    if buf.is_null() && len > 0 {
        set_errno(libc::EFAULT);
        return -1;
    }
    libc::write(fd, buf.cast(), len.min(c_int::MAX as usize)) as c_int
}

/// `OS_SpawnChild`: forks a child that runs `execPath` with `listenFd` as
/// its fd 0 (the FastCGI convention). 0 in the parent, -1 if fork fails.
#[no_mangle]
pub unsafe extern "C" fn OS_SpawnChild(execPath: *mut c_char, listenFd: c_int) -> c_int {
    if execPath.is_null() {
        set_errno(libc::EINVAL);
        return -1;
    }
    let pid = libc::fork();
    if pid < 0 {
        return -1;
    }
    if pid == 0 {
        // The child: only async-signal-safe calls until exec.
        if listenFd != 0 {
            libc::dup2(listenFd, 0);
            libc::close(listenFd);
        }
        libc::execl(execPath, execPath, std::ptr::null::<c_char>());
        libc::_exit(libc::EXIT_FAILURE);
    }
    0
}

fn queue(op: Op) -> c_int {
    guard(-1, || {
        let mut table = ops();
        if table.iter().any(|o| o.fd == op.fd && o.write == op.write) {
            return -1;
        }
        table.push(op);
        0
    })
}

/// `OS_AsyncReadStdin`: `OS_AsyncRead` on fd 0.
#[no_mangle]
pub unsafe extern "C" fn OS_AsyncReadStdin(
    buf: *mut c_void,
    len: c_int,
    procPtr: Option<AsyncProc>,
    clientData: *mut c_void,
) -> c_int {
    OS_AsyncRead(0, 0, buf, len, procPtr, clientData)
}

/// Validates and queues one operation (-1 when the arguments are bad or one
/// is queued on `fd` in that direction already).
unsafe fn queue_op(
    fd: c_int,
    write: bool,
    buf: *mut c_void,
    len: c_int,
    done: Option<AsyncProc>,
    client: *mut c_void,
) -> c_int {
    let Some(done) = done else {
        return -1;
    };
    if fd < 0 || buf.is_null() || len < 0 {
        return -1;
    }
    queue(Op {
        fd,
        write,
        buf,
        len,
        done,
        client,
    })
}

/// `OS_AsyncRead`: queues one read of up to `len` bytes on `fd`, done by
/// `OS_DoIo` (`offset` is unused, as in libfcgi on Unix).
#[no_mangle]
pub unsafe extern "C" fn OS_AsyncRead(
    fd: c_int,
    _offset: c_int,
    buf: *mut c_void,
    len: c_int,
    procPtr: Option<AsyncProc>,
    clientData: *mut c_void,
) -> c_int {
    queue_op(fd, false, buf, len, procPtr, clientData)
}

/// `OS_AsyncWrite`: queues one write of `len` bytes on `fd`.
#[no_mangle]
pub unsafe extern "C" fn OS_AsyncWrite(
    fd: c_int,
    _offset: c_int,
    buf: *mut c_void,
    len: c_int,
    procPtr: Option<AsyncProc>,
    clientData: *mut c_void,
) -> c_int {
    queue_op(fd, true, buf, len, procPtr, clientData)
}

/// `OS_DoIo`: waits (at most `tmo`; NULL: until one can run) for queued
/// operations, runs each one that can (one read or write) and calls its
/// procedure with the result. 0, or -1 if the wait failed.
#[no_mangle]
pub unsafe extern "C" fn OS_DoIo(tmo: *mut libc::timeval) -> c_int {
    let timeout_ms: c_int = match tmo.as_ref() {
        None => -1,
        Some(t) => (t.tv_sec.max(0).saturating_mul(1000) + t.tv_usec.max(0) / 1000)
            .min(c_int::MAX as i64) as c_int,
    };
    let mut fds: Vec<libc::pollfd> = guard(Vec::new(), || {
        ops()
            .iter()
            .map(|o| libc::pollfd {
                fd: o.fd,
                events: if o.write { libc::POLLOUT } else { libc::POLLIN },
                revents: 0,
            })
            .collect()
    });
    let rc = libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms);
    if rc < 0 {
        return if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            0
        } else {
            -1
        };
    }
    // Taken out of the table before their procedures run: a procedure
    // queues the next operation on the same descriptor.
    let ready: Vec<Op> = guard(Vec::new(), || {
        let mut table = ops();
        let mut taken = Vec::new();
        for p in fds.iter().filter(|p| p.revents != 0) {
            let write = p.events == libc::POLLOUT;
            if let Some(i) = table.iter().position(|o| o.fd == p.fd && o.write == write) {
                taken.push(table.swap_remove(i));
            }
        }
        taken
    });
    for op in ready {
        let n = if op.write {
            libc::write(op.fd, op.buf, op.len as usize)
        } else {
            libc::read(op.fd, op.buf, op.len as usize)
        };
        (op.done)(op.client, n as c_int);
    }
    0
}

/// `OS_Close`: with `shutdown`, the send side is shut down and the peer's
/// remaining input read (at most 2 s, as libfcgi) so it sees the end of
/// what was sent; then the descriptor is closed. Queued operations on it
/// are dropped.
#[no_mangle]
pub extern "C" fn OS_Close(fd: c_int, shutdown: c_int) -> c_int {
    if fd < 0 {
        return 0;
    }
    guard((), || ops().retain(|o| o.fd != fd));
    // SAFETY: plain syscalls on the caller's descriptor.
    unsafe {
        if shutdown != 0 && libc::shutdown(fd, libc::SHUT_WR) == 0 {
            let mut trash = [0u8; 1024];
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // Bounded: at most 64 reads (64 KiB), 2 s per wait.
            for _ in 0..64 {
                if libc::poll(&mut pfd, 1, 2000) <= 0
                    || libc::read(fd, trash.as_mut_ptr().cast(), trash.len()) <= 0
                {
                    break;
                }
            }
        }
        libc::close(fd)
    }
}

/// `OS_CloseRead`: shuts down the receive side.
#[no_mangle]
pub extern "C" fn OS_CloseRead(fd: c_int) -> c_int {
    // SAFETY: plain syscall.
    unsafe { libc::shutdown(fd, libc::SHUT_RD) }
}

/// `OS_IpcClose`: `OS_Close`.
#[no_mangle]
pub extern "C" fn OS_IpcClose(ipcFd: c_int, shutdown: c_int) -> c_int {
    OS_Close(ipcFd, shutdown)
}

/// `OS_IsFcgi`: TRUE when `sock` is a socket without a peer (a listening
/// one), as libfcgi decides.
#[no_mangle]
pub extern "C" fn OS_IsFcgi(sock: c_int) -> c_int {
    // SAFETY: getpeername into a large enough zeroed buffer.
    unsafe {
        let mut ss: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        set_errno(0);
        let rc = libc::getpeername(
            sock,
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut len,
        );
        c_int::from(rc != 0 && *libc::__errno_location() == libc::ENOTCONN)
    }
}

/// `OS_SetFlags`: adds file status flags (O_NONBLOCK...) to `fd`.
#[no_mangle]
pub extern "C" fn OS_SetFlags(fd: c_int, flags: c_int) {
    // SAFETY: fcntl on the caller's descriptor.
    unsafe {
        let old = libc::fcntl(fd, libc::F_GETFL);
        if old >= 0 {
            libc::fcntl(fd, libc::F_SETFL, old | flags);
        }
    }
}

/// `OS_Accept`: a blocking accept on `listen_sock` (also once it is
/// non-blocking) that admits only the comma-separated IPv4 addresses of
/// `webServerAddrs` (NULL: any peer; as libfcgi, unlike `FCGX_Accept_r`,
/// whose server has its allow-list). EINTR is retried unless
/// `fail_on_intr` or a shutdown is pending. The connection's descriptor,
/// or -1.
#[no_mangle]
pub unsafe extern "C" fn OS_Accept(
    listen_sock: c_int,
    fail_on_intr: c_int,
    webServerAddrs: *const c_char,
) -> c_int {
    let allowed: Option<Vec<std::net::Ipv4Addr>> = if webServerAddrs.is_null() {
        None
    } else {
        let text = std::ffi::CStr::from_ptr(webServerAddrs).to_string_lossy();
        Some(
            text.split(',')
                .filter_map(|a| a.trim().parse().ok())
                .collect(),
        )
    };
    // Each pass accepts one connection, or fails, or retries after EINTR.
    loop {
        let mut ss: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        let fd = libc::accept4(
            listen_sock,
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut len,
            libc::SOCK_CLOEXEC,
        );
        if fd < 0 {
            let e = std::io::Error::last_os_error().raw_os_error();
            if e == Some(libc::EINTR) && fail_on_intr == 0 && !crate::shutdown::pending() {
                continue;
            }
            if e == Some(libc::EAGAIN) {
                // The socket is non-blocking once FCGX_Accept_r served it:
                // wait for a connection as a blocking accept would.
                let mut pfd = libc::pollfd {
                    fd: listen_sock,
                    events: libc::POLLIN,
                    revents: 0,
                };
                if libc::poll(&mut pfd, 1, -1) >= 0 || fail_on_intr == 0 {
                    continue;
                }
            }
            return -1;
        }
        let Some(list) = &allowed else {
            return fd;
        };
        let admitted = match smisk::fcgi::addr::inet_of(&ss) {
            Some(std::net::SocketAddr::V4(a)) => list.contains(a.ip()),
            Some(_) => false,
            None => true, // a unix socket peer
        };
        if admitted {
            return fd;
        }
        libc::close(fd);
    }
}
