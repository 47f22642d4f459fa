//! `FCGX_OpenSocket` (`OS_CreateLocalIpcFd`) and `OS_FcgiConnect`:
//! libfcgi's address syntax, bound and connected without its hazards.
//!
//! Syntax (libfcgi's): a string with a colon whose part after the first
//! colon is a port number 1..65535 is TCP, on the host before the colon
//! ("" or "*": every IPv4 interface; an IPv4 address; a host name with
//! exactly one IPv4 address). Anything else is the path of a unix socket
//! (relative paths included). Added: "[v6addr]:port" for IPv6.
//!
//! What differs, and why (docs/libfcgi.md):
//! * Errors return -1 with errno set (and one line on stderr); libfcgi
//!   calls `exit()` for an unresolvable host, a name with several
//!   addresses, a path too long, or a failed bind.
//! * The path is never copied into a fixed buffer (libfcgi's `strcpy`
//!   into 1024 bytes overflows on a longer argument).
//! * An existing file at the path is replaced only if it is a socket
//!   nobody listens on; libfcgi unlinks whatever is there, a regular file
//!   or another program's live socket.
//! * The socket file's mode is what the umask leaves of 0777, as with
//!   libfcgi, but set before the file appears at its path (no window).
//! * The descriptor is close-on-exec: a CGI program a FastCGI program
//!   starts cannot accept its connections. (`dup2` onto fd 0 for a child
//!   clears the flag, as `OS_SpawnChild` does.)
//! * Who may connect over TCP: the core's allow-list, `FCGI_WEB_SERVER_ADDRS`
//!   or else loopback peers only (libfcgi admits any peer without it).

use crate::set_errno;
use libc::{c_char, c_int};
use smisk::fcgi::addr::{bind_listener, Address};
use smisk::fcgi::ownership::SocketOwnership;
use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::unix::io::IntoRawFd;
use std::path::PathBuf;

/// A parsed FCGX_OpenSocket address, or the errno for a bad one.
pub(crate) fn parse(text: &str) -> Result<Address, (c_int, String)> {
    if text.is_empty() {
        return Err((libc::EINVAL, "empty address".into()));
    }
    if let Some(rest) = text.strip_prefix('[') {
        if let Some((host, port)) = rest.split_once("]:") {
            if let (Ok(ip), Some(port)) = (host.parse::<Ipv6Addr>(), port_of(port)) {
                return Ok(Address::Tcp(SocketAddr::new(IpAddr::V6(ip), port)));
            }
        }
    }
    let Some((host, port)) = text.split_once(':') else {
        return Ok(Address::Unix(PathBuf::from(text)));
    };
    let Some(port) = port_of(port) else {
        // libfcgi: a colon without a port number is part of a path.
        return Ok(Address::Unix(PathBuf::from(text)));
    };
    if host.is_empty() || host == "*" {
        return Ok(Address::Tcp(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port,
        )));
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Address::Tcp(SocketAddr::new(IpAddr::V4(ip), port)));
    }
    let found: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            (
                libc::EADDRNOTAVAIL,
                format!("cannot resolve host {host:?}: {e}"),
            )
        })?
        .filter(SocketAddr::is_ipv4)
        .collect();
    let mut unique = found.clone();
    unique.dedup();
    match unique.as_slice() {
        [one] => Ok(Address::Tcp(*one)),
        [] => Err((
            libc::EADDRNOTAVAIL,
            format!("host {host:?} has no IPv4 address"),
        )),
        _ => Err((
            libc::EADDRNOTAVAIL,
            format!("host {host:?} has several IPv4 addresses: name one"),
        )),
    }
}

/// A port number 1..65535 in decimal digits, else None.
fn port_of(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|p| *p != 0)
}

/// The process's umask, without changing it (/proc/self/status; else the
/// usual 022).
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        .unwrap_or(0o022)
}

fn c_text<'a>(p: *const c_char) -> Option<&'a str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller passes a NUL-terminated string.
    unsafe { CStr::from_ptr(p) }.to_str().ok()
}

fn fail(what: &str, path: &str, errno: c_int, message: &str) -> c_int {
    eprintln!("libfcgi (smisk): {what}({path:?}): {message}");
    set_errno(errno);
    -1
}

/// Binds and listens at `path` (see the module doc). The descriptor, or -1
/// with errno set.
pub(crate) fn open_socket(path: *const c_char, backlog: c_int) -> c_int {
    let Some(text) = c_text(path) else {
        set_errno(libc::EINVAL);
        return -1;
    };
    let addr = match parse(text) {
        Ok(a) => a,
        Err((errno, message)) => return fail("FCGX_OpenSocket", text, errno, &message),
    };
    let own = match addr {
        Address::Unix(_) => SocketOwnership {
            mode: 0o777 & !umask(),
            uid: None,
            gid: None,
        },
        Address::Tcp(_) => SocketOwnership::default(),
    };
    match bind_listener(&addr, backlog, &own) {
        Ok(fd) => {
            let fd = fd.into_raw_fd();
            if fd == 0 {
                crate::slot::note_fastcgi_fd0();
            }
            fd
        }
        Err(e) => {
            let errno = e.errno.unwrap_or(libc::EEXIST);
            fail("FCGX_OpenSocket", text, errno, &e.message)
        }
    }
}

/// `FCGX_OpenSocket`.
#[no_mangle]
pub unsafe extern "C" fn FCGX_OpenSocket(path: *const c_char, backlog: c_int) -> c_int {
    crate::guard(-1, || open_socket(path, backlog))
}

/// `OS_CreateLocalIpcFd`: the same.
#[no_mangle]
pub unsafe extern "C" fn OS_CreateLocalIpcFd(bindPath: *const c_char, backlog: c_int) -> c_int {
    crate::guard(-1, || open_socket(bindPath, backlog))
}

/// `OS_FcgiConnect`: a connected (blocking, close-on-exec) socket to a
/// FastCGI server at a unix path or host:port, or -1 with errno.
#[no_mangle]
pub unsafe extern "C" fn OS_FcgiConnect(bindPath: *mut c_char) -> c_int {
    crate::guard(-1, || {
        let Some(text) = c_text(bindPath) else {
            set_errno(libc::EINVAL);
            return -1;
        };
        let connected = match parse(text) {
            Ok(Address::Unix(p)) => {
                std::os::unix::net::UnixStream::connect(p).map(|s| s.into_raw_fd())
            }
            Ok(Address::Tcp(a)) => std::net::TcpStream::connect(a).map(|s| s.into_raw_fd()),
            Err((errno, message)) => return fail("OS_FcgiConnect", text, errno, &message),
        };
        match connected {
            Ok(fd) => fd,
            Err(e) => {
                set_errno(e.raw_os_error().unwrap_or(libc::ECONNREFUSED));
                -1
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(text: &str) -> Option<SocketAddr> {
        match parse(text) {
            Ok(Address::Tcp(a)) => Some(a),
            _ => None,
        }
    }

    fn unix(text: &str) -> Option<String> {
        match parse(text) {
            Ok(Address::Unix(p)) => Some(p.to_string_lossy().into_owned()),
            _ => None,
        }
    }

    #[test]
    fn libfcgis_address_forms() {
        assert_eq!(tcp(":9000"), Some("0.0.0.0:9000".parse().unwrap()));
        assert_eq!(tcp("*:9000"), Some("0.0.0.0:9000".parse().unwrap()));
        assert_eq!(tcp("127.0.0.1:80"), Some("127.0.0.1:80".parse().unwrap()));
        assert_eq!(tcp("localhost:81"), Some("127.0.0.1:81".parse().unwrap()));
        assert_eq!(tcp("[::1]:82"), Some("[::1]:82".parse().unwrap()));
        // A colon without a port number belongs to a path, as in libfcgi.
        assert_eq!(unix("/tmp/a:b").as_deref(), Some("/tmp/a:b"));
        assert_eq!(unix("sock:0").as_deref(), Some("sock:0"));
        assert_eq!(unix("x:70000").as_deref(), Some("x:70000"));
        assert_eq!(unix("relative.sock").as_deref(), Some("relative.sock"));
        assert!(parse("").is_err());
        assert!(parse("no-such-host.invalid:80").is_err());
    }

    #[test]
    fn a_long_path_is_an_error_not_an_overflow() {
        let long = format!("/tmp/{}", "x".repeat(5000));
        let c = std::ffi::CString::new(long).unwrap();
        assert_eq!(open_socket(c.as_ptr(), 5), -1);
    }
}
