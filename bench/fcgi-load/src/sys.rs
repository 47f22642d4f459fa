//! Thin, safe wrappers over the few syscalls the event loop needs: non-blocking
//! sockets (unix and loopback TCP), epoll, send/recv. Each returns the errno as
//! an `io::Error` and never retries on its own (the event loop decides).
//! Cost: one syscall per call, nothing allocated.

use std::io;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub type Fd = libc::c_int;

/// Where the server listens.
#[derive(Debug, Clone)]
pub enum Target {
    Unix(libc::sockaddr_un),
    Tcp(SocketAddr),
}

fn last_err() -> io::Error {
    io::Error::last_os_error()
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(last_err())
    } else {
        Ok(r)
    }
}

impl Target {
    /// A path containing `/` is a unix socket; otherwise `host:port` with a
    /// loopback IPv4/IPv6 address (the generator refuses to load anything else).
    pub fn parse(s: &str) -> Result<Target, String> {
        if s.contains('/') {
            let bytes = Path::new(s).as_os_str().as_bytes();
            // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
            let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
            if bytes.len() >= addr.sun_path.len() {
                return Err(format!(
                    "unix socket path too long ({} bytes): {s}",
                    bytes.len()
                ));
            }
            if bytes.contains(&0) {
                return Err("unix socket path contains NUL".into());
            }
            addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
            for (dst, &b) in addr.sun_path.iter_mut().zip(bytes) {
                *dst = b as libc::c_char;
            }
            return Ok(Target::Unix(addr));
        }
        let sa: SocketAddr = s
            .parse()
            .map_err(|_| format!("not a unix path or ip:port: {s}"))?;
        if !sa.ip().is_loopback() {
            return Err(format!("refusing non-loopback target {sa}"));
        }
        Ok(Target::Tcp(sa))
    }
}

/// Outcome of a non-blocking connect.
pub enum Connect {
    Done(Fd),
    /// TCP handshake under way: wait for EPOLLOUT, then `take_error`.
    InProgress(Fd),
}

pub fn connect(t: &Target) -> io::Result<Connect> {
    let domain = match t {
        Target::Unix(_) => libc::AF_UNIX,
        Target::Tcp(SocketAddr::V4(_)) => libc::AF_INET,
        Target::Tcp(SocketAddr::V6(_)) => libc::AF_INET6,
    };
    // SAFETY: plain syscall, no pointers.
    let fd = cvt(unsafe {
        libc::socket(
            domain,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    let r = match t {
        Target::Unix(addr) => {
            // SAFETY: addr is a valid sockaddr_un and we pass its exact size.
            unsafe {
                libc::connect(
                    fd,
                    (addr as *const libc::sockaddr_un).cast(),
                    std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
                )
            }
        }
        Target::Tcp(sa) => {
            let one: libc::c_int = 1;
            // SAFETY: option value points to a live c_int of the given size.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
            let (storage, len) = sockaddr_of(sa);
            // SAFETY: storage holds a sockaddr_in/in6 of length `len`.
            unsafe { libc::connect(fd, (&storage as *const libc::sockaddr_storage).cast(), len) }
        }
    };
    if r == 0 {
        return Ok(Connect::Done(fd));
    }
    let e = last_err();
    if e.raw_os_error() == Some(libc::EINPROGRESS) {
        return Ok(Connect::InProgress(fd));
    }
    close(fd);
    Err(e)
}

fn sockaddr_of(sa: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
    let mut st: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match sa {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let sin = unsafe {
                &mut *(&mut st as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in6.
            let sin6 = unsafe {
                &mut *(&mut st as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (st, len as libc::socklen_t)
}

/// The pending error of a socket whose connect was in progress (SO_ERROR).
pub fn take_error(fd: Fd) -> io::Result<()> {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: err/len point to live locals of the advertised size.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    if err == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(err))
    }
}

pub fn close(fd: Fd) {
    // SAFETY: the caller owns fd and forgets it after this call.
    unsafe { libc::close(fd) };
}

/// send(2) with MSG_NOSIGNAL: a peer that hung up gives EPIPE, not SIGPIPE.
pub fn send(fd: Fd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: buf is a live slice of buf.len() bytes.
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
    if n < 0 {
        Err(last_err())
    } else {
        Ok(n as usize)
    }
}

pub fn recv(fd: Fd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is a live, writable slice of buf.len() bytes.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        Err(last_err())
    } else {
        Ok(n as usize)
    }
}

pub struct Epoll {
    fd: Fd,
}

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        Ok(Epoll { fd })
    }

    fn ctl(&self, op: libc::c_int, fd: Fd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: ev is a live epoll_event; the kernel copies it.
        cvt(unsafe { libc::epoll_ctl(self.fd, op, fd, &mut ev) }).map(|_| ())
    }

    pub fn add(&self, fd: Fd, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, token)
    }

    pub fn modify(&self, fd: Fd, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, events, token)
    }

    /// Waits up to `timeout_ms`; returns how many entries of `events` are filled.
    pub fn wait(&self, events: &mut [libc::epoll_event], timeout_ms: i32) -> io::Result<usize> {
        let max = events.len().min(i32::MAX as usize) as libc::c_int;
        // SAFETY: events is a live, writable array of at least `max` entries.
        let n = unsafe { libc::epoll_wait(self.fd, events.as_mut_ptr(), max, timeout_ms) };
        if n < 0 {
            let e = last_err();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(e);
        }
        Ok(n as usize)
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        close(self.fd);
    }
}
