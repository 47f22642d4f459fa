//! Listening addresses: parsing the `bind()` forms, binding, and describing
//! a bound socket (`listening()`).
//!
//! Forms: a path containing `/` is a unix socket; `:port`,
//! `*:port` (all IPv4 interfaces), `host:port` (IPv4 literal or a resolvable
//! name) and `[v6addr]:port` are TCP. Port 0 asks the kernel for a free port.
//! Anything else is `SMISK_ERR_INVALID`; nothing here ever exits the process.

use super::ownership::{self, SocketOwnership};
use crate::status::{Error, Result};
use std::ffi::CString;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// A parsed listening address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

fn parse_port(text: &str, whole: &str) -> Result<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || text.len() > 5 {
        return Err(Error::invalid(format!("invalid port in address {whole:?}")));
    }
    text.parse::<u16>()
        .map_err(|_| Error::invalid(format!("port out of range in address {whole:?}")))
}

impl Address {
    /// Parses one of the `bind()` address forms, resolving host names.
    pub fn parse(text: &str) -> Result<Address> {
        if text.contains('/') {
            return Ok(Address::Unix(PathBuf::from(text)));
        }
        if let Some(rest) = text.strip_prefix('[') {
            let (host, port) = rest
                .split_once("]:")
                .ok_or_else(|| Error::invalid(format!("expected [v6addr]:port, got {text:?}")))?;
            let ip: Ipv6Addr = host
                .parse()
                .map_err(|_| Error::invalid(format!("invalid IPv6 address in {text:?}")))?;
            return Ok(Address::Tcp(SocketAddr::new(
                IpAddr::V6(ip),
                parse_port(port, text)?,
            )));
        }
        let (host, port) = text.rsplit_once(':').ok_or_else(|| {
            Error::invalid(format!(
                "invalid address {text:?}: expected a unix socket path containing '/', \
                 :port, *:port, host:port or [v6addr]:port"
            ))
        })?;
        let port = parse_port(port, text)?;
        if host.is_empty() || host == "*" {
            return Ok(Address::Tcp(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                port,
            )));
        }
        if host.contains(':') {
            return Err(Error::invalid(format!(
                "IPv6 addresses must be bracketed: {text:?}"
            )));
        }
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return Ok(Address::Tcp(SocketAddr::new(IpAddr::V4(ip), port)));
        }
        let mut found = (host, port)
            .to_socket_addrs()
            .map_err(|e| Error::invalid(format!("cannot resolve host {host:?}: {e}")))?;
        found
            .next()
            .map(Address::Tcp)
            .ok_or_else(|| Error::invalid(format!("host {host:?} has no address")))
    }
}

fn cvt(ret: libc::c_int, what: impl FnOnce() -> String) -> Result<libc::c_int> {
    if ret < 0 {
        Err(Error::last_os(what()))
    } else {
        Ok(ret)
    }
}

fn new_socket(family: libc::c_int) -> Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the fd is owned immediately.
    let fd = cvt(
        unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) },
        || "socket".into(),
    )?;
    // SAFETY: fd is a new descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn unix_sockaddr(path: &Path) -> Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_un = unsafe { zeroed() };
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.contains(&0) {
        return Err(Error::invalid("unix socket path contains a NUL byte"));
    }
    if bytes.len() >= sa.sun_path.len() {
        return Err(Error::invalid(format!(
            "unix socket path is {} bytes; the limit is {}",
            bytes.len(),
            sa.sun_path.len() - 1
        )));
    }
    for (dst, src) in sa.sun_path.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    let len = size_of::<libc::sa_family_t>() + bytes.len() + 1;
    Ok((sa, len as libc::socklen_t))
}

/// `addr` as the socket address bind/connect take, and its length.
pub(crate) fn inet_sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data and large enough for both
    // families; we write the matching struct at its start.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in and aligned for it.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in, sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in6, sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

/// Makes room for a unix socket at `path`: nothing there is fine; a stale
/// socket (nobody accepts on it) is removed; a live socket is EADDRINUSE; any
/// other file is an error (never silently deleted).
fn clear_stale_unix_socket(path: &Path) -> Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::os(format!("stat {}", path.display()), e)),
    };
    use std::os::unix::fs::FileTypeExt;
    if !meta.file_type().is_socket() {
        return Err(Error::invalid(format!(
            "{} exists and is not a socket; refusing to replace it",
            path.display()
        )));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(Error::os(
            format!(
                "bind {}: another process is listening there",
                path.display()
            ),
            std::io::Error::from_raw_os_error(libc::EADDRINUSE),
        )),
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => std::fs::remove_file(path)
            .map_err(|e| Error::os(format!("remove stale socket {}", path.display()), e)),
        Err(e) => Err(Error::os(format!("probe {}", path.display()), e)),
    }
}

fn listen(sock: &OwnedFd, backlog: i32) -> Result<()> {
    // SAFETY: valid fd.
    cvt(unsafe { libc::listen(sock.as_raw_fd(), backlog) }, || {
        "listen".into()
    })?;
    Ok(())
}

/// Longest unix socket path bind() takes (sun_path less its NUL).
fn unix_path_max() -> usize {
    // SAFETY: sockaddr_un is plain old data.
    let sa: libc::sockaddr_un = unsafe { zeroed() };
    sa.sun_path.len() - 1
}

/// Binds and listens. `backlog <= 0` means the system maximum. A unix
/// socket file gets `own` (mode, owner, group) before it appears at its
/// path (see `ownership`); `own` must be the default for TCP.
pub fn bind_listener(addr: &Address, backlog: i32, own: &SocketOwnership) -> Result<OwnedFd> {
    let backlog = if backlog <= 0 {
        libc::SOMAXCONN
    } else {
        backlog
    };
    match addr {
        Address::Unix(path) => {
            unix_sockaddr(path)?;
            clear_stale_unix_socket(path)?;
            ownership::bind_owned(path, own, unix_path_max(), |at| {
                let (sa, len) = unix_sockaddr(at)?;
                let sock = new_socket(libc::AF_UNIX)?;
                cvt(
                    // SAFETY: sa/len describe a valid sockaddr_un.
                    unsafe {
                        libc::bind(
                            sock.as_raw_fd(),
                            &sa as *const _ as *const libc::sockaddr,
                            len,
                        )
                    },
                    || format!("bind {}", path.display()),
                )?;
                listen(&sock, backlog)?;
                Ok(sock)
            })
        }
        Address::Tcp(sa) => {
            if !own.is_default() {
                return Err(Error::invalid(format!(
                    "socket mode, owner and group apply to unix sockets; {sa} is TCP \
                     (use an allow-list to say who may connect)"
                )));
            }
            let family = if sa.is_ipv4() {
                libc::AF_INET
            } else {
                libc::AF_INET6
            };
            let sock = new_socket(family)?;
            let one: libc::c_int = 1;
            cvt(
                // SAFETY: valid fd and option pointer of the right size.
                unsafe {
                    libc::setsockopt(
                        sock.as_raw_fd(),
                        libc::SOL_SOCKET,
                        libc::SO_REUSEADDR,
                        &one as *const _ as *const libc::c_void,
                        size_of::<libc::c_int>() as libc::socklen_t,
                    )
                },
                || "setsockopt SO_REUSEADDR".into(),
            )?;
            let (ss, len) = inet_sockaddr(sa);
            cvt(
                // SAFETY: ss/len describe a valid sockaddr of the socket's family.
                unsafe {
                    libc::bind(
                        sock.as_raw_fd(),
                        &ss as *const _ as *const libc::sockaddr,
                        len,
                    )
                },
                || format!("bind {sa}"),
            )?;
            listen(&sock, backlog)?;
            Ok(sock)
        }
    }
}

/// True when `fd` is a listening stream socket (how a web server or
/// spawn-fcgi hands the FastCGI socket over on fd 0).
pub fn is_listening_socket(fd: RawFd) -> bool {
    let mut val: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: val/len are a valid option buffer.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            &mut val as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    rc == 0 && val != 0
}

/// The IPv4 or IPv6 address in `ss` (as accept4, getsockname and
/// getpeername write it); None for other families.
pub fn inet_of(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in for an AF_INET socket.
            let sa = unsafe { &*(ss as *const _ as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(sa.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::new(IpAddr::V4(ip), u16::from_be(sa.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: the kernel wrote a sockaddr_in6 for an AF_INET6 socket.
            let sa = unsafe { &*(ss as *const _ as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(sa.sin6_addr.s6_addr);
            Some(SocketAddr::new(IpAddr::V6(ip), u16::from_be(sa.sin6_port)))
        }
        _ => None,
    }
}

fn local_sockaddr(fd: RawFd) -> Result<(libc::sockaddr_storage, libc::socklen_t)> {
    // SAFETY: sockaddr_storage is plain old data.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    cvt(
        // SAFETY: ss/len form a valid output buffer.
        unsafe { libc::getsockname(fd, &mut ss as *mut _ as *mut libc::sockaddr, &mut len) },
        || "getsockname".into(),
    )?;
    Ok((ss, len))
}

/// The TCP address `fd` is bound to; None for other sockets.
pub fn bound_inet(fd: RawFd) -> Option<SocketAddr> {
    local_sockaddr(fd).ok().and_then(|(ss, _)| inet_of(&ss))
}

/// `*:port` for all IPv4 interfaces, `a.b.c.d:port`, or `[v6addr]:port`.
pub fn describe_inet(sa: &SocketAddr) -> String {
    match sa {
        SocketAddr::V4(a) if a.ip().is_unspecified() => format!("*:{}", a.port()),
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// Describes the address `fd` is bound to: the unix socket path, `*:port` for
/// all IPv4 interfaces, `a.b.c.d:port`, or `[v6addr]:port`.
pub fn describe_bound(fd: RawFd) -> Result<String> {
    let (ss, len) = local_sockaddr(fd)?;
    if let Some(sa) = inet_of(&ss) {
        return Ok(describe_inet(&sa));
    }
    match i32::from(ss.ss_family) {
        libc::AF_UNIX => {
            // SAFETY: the kernel wrote a sockaddr_un for an AF_UNIX socket.
            let sa = unsafe { &*(&ss as *const _ as *const libc::sockaddr_un) };
            let max = (len as usize)
                .saturating_sub(size_of::<libc::sa_family_t>())
                .min(sa.sun_path.len());
            let raw: Vec<u8> = sa.sun_path[..max]
                .iter()
                .map(|c| *c as u8)
                .take_while(|b| *b != 0)
                .collect();
            Ok(String::from_utf8_lossy(&raw).into_owned())
        }
        other => Err(Error::invalid(format!(
            "socket has unsupported address family {other}"
        ))),
    }
}

/// The filesystem path of a bound unix socket, for removal at unbind.
pub fn unix_path_of(addr: &Address) -> Option<CString> {
    match addr {
        Address::Unix(p) => CString::new(p.as_os_str().as_bytes()).ok(),
        Address::Tcp(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own() -> SocketOwnership {
        SocketOwnership::default()
    }

    #[test]
    fn address_forms() {
        assert_eq!(
            Address::parse("/tmp/x.sock").unwrap(),
            Address::Unix("/tmp/x.sock".into())
        );
        assert_eq!(
            Address::parse("./rel/x.sock").unwrap(),
            Address::Unix("./rel/x.sock".into())
        );
        assert_eq!(
            Address::parse(":5000").unwrap(),
            Address::Tcp("0.0.0.0:5000".parse().unwrap())
        );
        assert_eq!(
            Address::parse("*:5000").unwrap(),
            Address::Tcp("0.0.0.0:5000".parse().unwrap())
        );
        assert_eq!(
            Address::parse("127.0.0.1:9000").unwrap(),
            Address::Tcp("127.0.0.1:9000".parse().unwrap())
        );
        assert_eq!(
            Address::parse("[::1]:9000").unwrap(),
            Address::Tcp("[::1]:9000".parse().unwrap())
        );
        assert!(
            matches!(Address::parse("localhost:9000").unwrap(), Address::Tcp(a) if a.port() == 9000)
        );
        for bad in [
            "",
            "9206",
            "host",
            "host:",
            "host:abc",
            "host:-5",
            "host:65536",
            "host:99999999999",
            "::1:80",
            "[::1]",
            "[nope]:80",
            "[::1]80",
        ] {
            let err = Address::parse(bad).unwrap_err();
            assert_eq!(err.status, crate::status::SMISK_ERR_INVALID, "{bad:?}");
        }
    }

    #[test]
    fn bind_tcp_and_describe() {
        let fd = bind_listener(&Address::parse("127.0.0.1:0").unwrap(), 0, &own()).unwrap();
        let desc = describe_bound(fd.as_raw_fd()).unwrap();
        assert!(
            desc.starts_with("127.0.0.1:") && !desc.ends_with(":0"),
            "{desc}"
        );
        assert!(is_listening_socket(fd.as_raw_fd()));
        let v6 = bind_listener(&Address::parse("[::1]:0").unwrap(), 5, &own());
        if let Ok(v6) = v6 {
            assert!(describe_bound(v6.as_raw_fd())
                .unwrap()
                .starts_with("[::1]:"));
        }
    }

    #[test]
    fn unix_socket_replacement_rules() {
        let mut raw = [0u8; 8];
        crate::uid::os_random(&mut raw).unwrap();
        let dir =
            std::env::temp_dir().join(format!("smisk-addr-{}", crate::uid::pack(&raw, 5).unwrap()));
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("s.sock");
        let addr = Address::Unix(path.clone());
        let live = bind_listener(&addr, 0, &own()).unwrap();
        {
            use std::os::unix::fs::{FileTypeExt, PermissionsExt};
            let meta = std::fs::symlink_metadata(&path).unwrap();
            assert!(meta.file_type().is_socket());
            assert_eq!(meta.permissions().mode() & 0o7777, 0o660);
            // Only the socket is left in the directory (no staging entry).
            assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        }
        assert!(std::os::unix::net::UnixStream::connect(&path).is_ok());
        // Someone listens: refused.
        let err = bind_listener(&addr, 0, &own()).unwrap_err();
        assert_eq!(err.errno, Some(libc::EADDRINUSE), "{err:?}");
        drop(live);
        // Stale socket file: replaced.
        let again = bind_listener(&addr, 0, &own()).unwrap();
        drop(again);
        // A regular file is never deleted.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"precious").unwrap();
        assert!(bind_listener(&addr, 0, &own()).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
