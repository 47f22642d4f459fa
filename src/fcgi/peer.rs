//! Who may talk to the application over TCP: the peer allow-list.
//!
//! A FastCGI peer decides everything the application believes about a
//! request (`REMOTE_ADDR`, `REMOTE_USER`, `HTTPS`, `SCRIPT_NAME`), so a TCP
//! listener accepts only the web servers it is told about. The list is
//! decided here and nowhere else; the C API, the Python shim and
//! `smisk-wsgi` pass text through.
//!
//! * **Entries**: IPv4 or IPv6 addresses (`10.0.0.5`, `::1`, `[::1]`) and
//!   networks in CIDR form (`10.0.0.0/8`, `fd00::/8`), separated by commas
//!   and/or white space (libfcgi's `FCGI_WEB_SERVER_ADDRS` form is a subset).
//!   `any` admits every peer. Host names are not resolved. A network with
//!   host bits set (`10.0.0.1/8`), an empty list, or more than
//!   [`MAX_ENTRIES`] entries is an error: a malformed list never becomes
//!   "allow all".
//! * **IPv4-mapped peers**: a dual-stack IPv6 listener sees IPv4 peers as
//!   `::ffff:a.b.c.d`; they are matched as the IPv4 address against the IPv4
//!   entries (an entry written `::ffff:a.b.c.d/n` is read as IPv4 too).
//! * **Which list applies** ([`resolve`]): the one set through the API, else
//!   the environment variable [`ENV_VAR`] when it is set and not blank, else
//!   the default, loopback only (`127.0.0.0/8`, `::1`). A listener bound to a
//!   loopback address needs no list; a non-loopback listener with the default
//!   refuses every remote peer, and says so at start-up ([`startup_note`]).
//! * **Unix sockets** are not filtered: their file mode and owner decide who
//!   can connect (see `ownership`).
//!
//! Cost: a refused peer costs its `accept4` (which also returns the peer
//! address, so no `getpeername`) and a `close`; not a byte of it is read.
//! Matching is a scan of the entries (a mask and a compare each). Refusals
//! are logged once per address, at most [`LOG_LINES_PER_WINDOW`] lines per
//! [`LOG_WINDOW_MS`] ([`RefusalLog`]).

use super::addr;
use crate::status::{Error, Result};
use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::io::RawFd;

/// The environment variable read when no list was set through the API
/// (libfcgi's name and comma-separated form).
pub(crate) const ENV_VAR: &str = "FCGI_WEB_SERVER_ADDRS";
/// Most entries in one list.
pub(crate) const MAX_ENTRIES: usize = 1024;
/// Refused-peer log lines per window, over all addresses.
pub(crate) const LOG_LINES_PER_WINDOW: u32 = 10;
/// The refused-peer log window.
pub(crate) const LOG_WINDOW_MS: u64 = 60_000;
/// Addresses remembered as already logged (the set is emptied when full).
const LOG_SEEN_MAX: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Net {
    V4 { net: u32, prefix: u8 },
    V6 { net: u128, prefix: u8 },
}

fn mask4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl Net {
    fn parse(entry: &str) -> Result<Net> {
        let (host, prefix) = match entry.split_once('/') {
            Some((h, p)) => (h, Some(p)),
            None => (entry, None),
        };
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let ip: IpAddr = host.parse().map_err(|_| {
            Error::invalid(format!(
                "{entry:?} is not an IP address or network (expected a.b.c.d, a.b.c.d/n, \
                 an IPv6 address or v6/n; host names are not resolved)"
            ))
        })?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|n| *n <= max).ok_or_else(|| {
                    Error::invalid(format!("prefix length in {entry:?} must be 0..{max}"))
                })?
            }
            Some(_) => {
                return Err(Error::invalid(format!(
                    "prefix length in {entry:?} must be 0..{max}"
                )))
            }
        };
        let net = match ip {
            IpAddr::V4(a) => Net::V4 {
                net: u32::from(a),
                prefix,
            },
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) if prefix >= 96 => Net::V4 {
                    net: u32::from(v4),
                    prefix: prefix - 96,
                },
                _ => Net::V6 {
                    net: u128::from(a),
                    prefix,
                },
            },
        };
        let host_bits = match net {
            Net::V4 { net, prefix } => net & !mask4(prefix) != 0,
            Net::V6 { net, prefix } => net & !mask6(prefix) != 0,
        };
        if host_bits {
            return Err(Error::invalid(format!(
                "{entry:?} has host bits set beyond its prefix; the network is {}",
                net.masked()
            )));
        }
        Ok(net)
    }

    fn masked(self) -> Net {
        match self {
            Net::V4 { net, prefix } => Net::V4 {
                net: net & mask4(prefix),
                prefix,
            },
            Net::V6 { net, prefix } => Net::V6 {
                net: net & mask6(prefix),
                prefix,
            },
        }
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Net::V4 { net, prefix: 32 } => write!(f, "{}", Ipv4Addr::from(net)),
            Net::V4 { net, prefix } => write!(f, "{}/{prefix}", Ipv4Addr::from(net)),
            Net::V6 { net, prefix: 128 } => write!(f, "{}", Ipv6Addr::from(net)),
            Net::V6 { net, prefix } => write!(f, "{}/{prefix}", Ipv6Addr::from(net)),
        }
    }
}

/// A parsed allow-list (see the module doc for the text form).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowList {
    nets: Vec<Net>,
    any: bool,
}

impl AllowList {
    /// Parses a list; every entry must be valid and there must be one.
    pub fn parse(text: &str) -> Result<AllowList> {
        let mut list = AllowList {
            nets: Vec::new(),
            any: false,
        };
        let mut count = 0usize;
        for entry in text
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|e| !e.is_empty())
        {
            count += 1;
            if count > MAX_ENTRIES {
                return Err(Error::invalid(format!(
                    "the allow-list has more than {MAX_ENTRIES} entries"
                )));
            }
            if entry.eq_ignore_ascii_case("any") {
                list.any = true;
                continue;
            }
            let net = Net::parse(entry)?;
            if !list.nets.contains(&net) {
                list.nets.push(net);
            }
        }
        if count == 0 {
            return Err(Error::invalid(
                "the allow-list is empty: name at least one address or network \
                 (or \"any\"), or leave it unset for the default",
            ));
        }
        Ok(list)
    }

    /// The default: loopback peers only (127.0.0.0/8 and ::1).
    pub fn loopback() -> AllowList {
        AllowList {
            nets: vec![
                Net::V4 {
                    net: u32::from(Ipv4Addr::new(127, 0, 0, 0)),
                    prefix: 8,
                },
                Net::V6 {
                    net: 1,
                    prefix: 128,
                },
            ],
            any: false,
        }
    }

    /// Whether every peer is admitted (`any`).
    pub fn admits_any(&self) -> bool {
        self.any
    }

    /// Whether a peer at `ip` may connect.
    pub fn allows(&self, ip: IpAddr) -> bool {
        if self.any {
            return true;
        }
        let ip = unmap(ip);
        self.nets.iter().any(|n| match (*n, ip) {
            (Net::V4 { net, prefix }, IpAddr::V4(a)) => u32::from(a) & mask4(prefix) == net,
            (Net::V6 { net, prefix }, IpAddr::V6(a)) => u128::from(a) & mask6(prefix) == net,
            _ => false,
        })
    }
}

impl fmt::Display for AllowList {
    /// The canonical text: entries joined by ',' (`any` alone if set).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.any {
            return f.write_str("any");
        }
        for (i, n) in self.nets.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address; others unchanged.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Where the list in force came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Set through the API (`smisk_server_set_allow`, `allow=`, `--allow`).
    Set,
    /// The environment variable [`ENV_VAR`].
    Env,
    /// Nothing set: loopback only.
    Default,
}

/// The list that applies: `explicit`, else [`ENV_VAR`] (a malformed value is
/// an error naming the variable), else loopback only.
pub fn resolve(explicit: Option<&AllowList>) -> Result<(AllowList, Source)> {
    resolve_with(explicit, std::env::var_os(ENV_VAR))
}

/// [`resolve`] with the variable's value passed in.
fn resolve_with(
    explicit: Option<&AllowList>,
    env: Option<std::ffi::OsString>,
) -> Result<(AllowList, Source)> {
    if let Some(list) = explicit {
        return Ok((list.clone(), Source::Set));
    }
    match env {
        Some(v) if !v.to_string_lossy().trim().is_empty() => {
            let text = v
                .to_str()
                .ok_or_else(|| Error::invalid(format!("{ENV_VAR} is not valid UTF-8")))?;
            AllowList::parse(text)
                .map(|l| (l, Source::Env))
                .map_err(|e| Error::invalid(format!("{ENV_VAR}={text:?}: {}", e.message)))
        }
        _ => Ok((AllowList::loopback(), Source::Default)),
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    unmap(ip).is_loopback()
}

/// What to say at start-up about a listener (`local`: its TCP address, None
/// for a unix socket) and the list in force; None when there is nothing to
/// say (a loopback listener, or a non-loopback one with a list of peers).
pub fn startup_note(local: Option<SocketAddr>, list: &AllowList, source: Source) -> Option<String> {
    let Some(local) = local else {
        return (source == Source::Set).then(|| {
            "the allow-list does not apply to a unix socket: its file mode, owner and group \
             decide who can connect"
                .to_string()
        });
    };
    if is_loopback(local.ip()) {
        return None;
    }
    let shown = addr::describe_inet(&local);
    if list.any {
        return Some(format!(
            "warning: {shown} accepts FastCGI from any host that can reach it; a peer can \
             forge REMOTE_ADDR, REMOTE_USER, HTTPS and every other request variable"
        ));
    }
    (source == Source::Default).then(|| {
        format!(
            "warning: {shown} has no allow-list, so only loopback peers ({}) are accepted; \
             name your web servers with an allow-list (smisk-wsgi --allow, {ENV_VAR})",
            AllowList::loopback()
        )
    })
}

/// Logs refused peers: each address once (until [`LOG_SEEN_MAX`] addresses
/// were logged, then the memory is cleared), and at most
/// [`LOG_LINES_PER_WINDOW`] lines per [`LOG_WINDOW_MS`]; a line says how many
/// refusals went unlogged since the previous one. Pure: time is passed in.
#[derive(Debug, Default)]
pub struct RefusalLog {
    seen: HashSet<IpAddr>,
    window_start: u64,
    lines: u32,
    unlogged: u64,
}

impl RefusalLog {
    /// The line to log for a refusal of `ip` at `now_ms`, if any.
    pub fn refused(&mut self, ip: IpAddr, list: &AllowList, now_ms: u64) -> Option<String> {
        if self.seen.contains(&ip) {
            self.unlogged += 1;
            return None;
        }
        if now_ms.saturating_sub(self.window_start) >= LOG_WINDOW_MS || self.window_start == 0 {
            self.window_start = now_ms.max(1);
            self.lines = 0;
        }
        if self.lines >= LOG_LINES_PER_WINDOW {
            self.unlogged += 1;
            return None;
        }
        self.lines += 1;
        if self.seen.len() >= LOG_SEEN_MAX {
            self.seen.clear();
        }
        self.seen.insert(ip);
        let mut line = format!(
            "refused a FastCGI connection from {ip}: not in the allow-list ({list}); \
             further connections from it are refused without a log line"
        );
        if self.unlogged > 0 {
            line.push_str(&format!(
                " ({} refused connection(s) not logged before this one)",
                self.unlogged
            ));
            self.unlogged = 0;
        }
        Some(line)
    }
}

/// A listener's peer filter: the explicitly set list, the list in force
/// once the listener starts, and the refusal log. One per server (and per
/// listener kind that will need it, such as SCGI).
#[derive(Debug, Default)]
pub struct PeerFilter {
    explicit: Option<AllowList>,
    active: Option<(AllowList, Source)>,
    checking: bool,
    log: RefusalLog,
}

impl PeerFilter {
    /// Sets (Some) or clears (None) the list given through the API; takes
    /// effect at the next start.
    pub fn set(&mut self, list: Option<AllowList>) {
        self.explicit = list;
        self.active = None;
        self.checking = false;
    }

    /// Forgets the resolution (a new listener): the next start resolves again.
    pub fn restart(&mut self) {
        self.active = None;
        self.checking = false;
    }

    /// The list that applies now and where it came from.
    pub fn current(&self) -> Result<(AllowList, Source)> {
        match &self.active {
            Some(a) => Ok(a.clone()),
            None => resolve(self.explicit.as_ref()),
        }
    }

    /// Resolves the list for the listener `fd` (once; later calls return at
    /// once) and logs the start-up note. Errors for a malformed
    /// [`ENV_VAR`] (read for TCP listeners only).
    pub fn start(&mut self, fd: RawFd, tcp: bool) -> Result<()> {
        if self.active.is_some() {
            return Ok(());
        }
        // A unix socket is not filtered, so the variable is not read for it.
        let (list, source, local) = if tcp {
            let local = addr::bound_inet(fd).ok_or_else(|| {
                Error::invalid(format!("cannot tell the address of TCP listener fd {fd}"))
            })?;
            let (list, source) = resolve(self.explicit.as_ref())?;
            (list, source, Some(local))
        } else {
            match &self.explicit {
                Some(l) => (l.clone(), Source::Set, None),
                None => (AllowList::loopback(), Source::Default, None),
            }
        };
        if let Some(note) = startup_note(local, &list, source) {
            crate::log::log(format_args!("{note}"));
        }
        self.checking = tcp && !list.any;
        self.active = Some((list, source));
        Ok(())
    }

    /// Whether accepted connections must be checked (a started TCP listener
    /// whose list is not `any`): accept must then ask for the peer address.
    pub fn checking(&self) -> bool {
        self.checking
    }

    /// Whether the peer accept4 described in `peer` may stay; logs a refusal.
    /// Fails closed: before `start`, or for an address that is not IPv4 or
    /// IPv6, the peer is refused.
    pub fn admit(&mut self, peer: &libc::sockaddr_storage) -> bool {
        let Some((list, _)) = &self.active else {
            return false;
        };
        match addr::inet_of(peer) {
            Some(sa) if list.allows(sa.ip()) => true,
            Some(sa) => {
                let ip = unmap(sa.ip());
                if let Some(line) = self.log.refused(ip, list, super::limits::now_ms()) {
                    crate::log::log(format_args!("{line}"));
                }
                false
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::record as rec;
    use super::super::Server;
    use super::*;
    use crate::status::SMISK_ERR_TIMEOUT;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::os::unix::io::FromRawFd;
    use std::time::Duration;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A GET: BEGIN, PARAMS, end of PARAMS, empty STDIN.
    fn get_request() -> Vec<u8> {
        let mut v = Vec::new();
        rec::put_header(&mut v, rec::BEGIN_REQUEST, 1, 8);
        v.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        let mut pairs = Vec::new();
        rec::put_pair(&mut pairs, b"SCRIPT_NAME", b"/peer");
        rec::put_stream(&mut v, rec::PARAMS, 1, &pairs);
        rec::put_stream(&mut v, rec::PARAMS, 1, b"");
        rec::put_stream(&mut v, rec::STDIN, 1, b"");
        v
    }

    /// A TCP connection from `src` (port 0) to `to`, made with bind+connect.
    fn connect_from(src: IpAddr, to: SocketAddr) -> TcpStream {
        let family = if to.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        // SAFETY: plain socket call; the fd is owned by the TcpStream below.
        let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        assert!(fd >= 0);
        // SAFETY: fd is new and owned from here on.
        let stream = unsafe { TcpStream::from_raw_fd(fd) };
        let (src_ss, src_len) = addr::inet_sockaddr(&SocketAddr::new(src, 0));
        let (dst_ss, dst_len) = addr::inet_sockaddr(&to);
        // SAFETY: valid fd and socket addresses of the fd's family.
        unsafe {
            assert_eq!(
                libc::bind(fd, &src_ss as *const _ as *const libc::sockaddr, src_len),
                0
            );
            assert_eq!(
                libc::connect(fd, &dst_ss as *const _ as *const libc::sockaddr, dst_len),
                0
            );
        }
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream
    }

    /// Reads until EOF or a reset; the bytes read.
    fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// A server on `bind` with `allow`: a client from `refused` sends a
    /// request, is closed unanswered, and the application sees nothing; a
    /// client from `served` is answered. False when `bind` is impossible
    /// here (no IPv6).
    fn check_server(bind: &str, allow: &str, refused: Option<&str>, served: Option<&str>) -> bool {
        let mut server = Server::new();
        if let Err(e) = server.bind(bind, 16) {
            eprintln!("cannot bind {bind}: {e:?}");
            return false;
        }
        server.set_allow(Some(AllowList::parse(allow).unwrap()));
        let listening = server.listening().unwrap();
        let port: u16 = listening.rsplit(':').next().unwrap().parse().unwrap();
        let host = bind.rsplit_once(':').unwrap().0;
        let to_ip: IpAddr = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .unwrap();
        // A mapped listener takes IPv4 connections to the IPv4 address.
        let to_ip = match to_ip {
            IpAddr::V6(a) => a.to_ipv4_mapped().map_or(to_ip, IpAddr::V4),
            v4 => v4,
        };
        let to = SocketAddr::new(to_ip, port);
        for _ in 0..refused.map_or(0, |_| 3) {
            let mut bad = connect_from(ip(refused.unwrap()), to);
            bad.write_all(&get_request()).unwrap();
            let err = server.accept(200).map(|_| ()).unwrap_err();
            assert_eq!(err.status, SMISK_ERR_TIMEOUT, "{bind} {refused:?}: {err:?}");
            assert_eq!(
                read_to_close(&mut bad),
                b"",
                "{bind}: refused peer got bytes"
            );
            assert_eq!(server.connection_count(), 0);
        }
        if let Some(served) = served {
            let mut good = connect_from(ip(served), to);
            good.write_all(&get_request()).unwrap();
            let req = server.accept(5000).expect("the allowed peer's request");
            assert_eq!(req.param(b"SCRIPT_NAME"), Some(&b"/peer"[..]));
            req.write(b"Content-Type: text/plain\r\n\r\nok").unwrap();
            req.finish(0).unwrap();
            server.release_request();
            let answer = read_to_close(&mut good);
            assert!(answer.windows(2).any(|w| w == b"ok"), "{bind} {served}");
        }
        true
    }

    #[test]
    fn refused_peers_are_closed_unread_ipv4() {
        assert!(check_server(
            "127.0.0.1:0",
            "127.0.0.1",
            Some("127.0.0.2"),
            Some("127.0.0.1")
        ));
        assert!(check_server(
            "127.0.0.1:0",
            "127.0.0.0/30",
            Some("127.0.0.4"),
            Some("127.0.0.3")
        ));
        // The default (nothing set, no variable) admits loopback peers.
        let mut server = Server::new();
        server.bind("127.0.0.1:0", 4).unwrap();
        assert_eq!(server.allow_list().unwrap().1, Source::Default);
    }

    #[test]
    fn refused_peers_are_closed_unread_ipv6_and_mapped() {
        let has_v6 = std::net::TcpListener::bind("[::1]:0").is_ok();
        if !has_v6 {
            eprintln!("skipped: no IPv6 loopback");
            return;
        }
        assert!(check_server("[::1]:0", "127.0.0.1", Some("::1"), None));
        assert!(check_server("[::1]:0", "::1/128", None, Some("::1")));
        // A dual-stack socket sees IPv4 peers as ::ffff:a.b.c.d.
        assert!(check_server(
            "[::ffff:127.0.0.1]:0",
            "127.0.0.1",
            Some("127.0.0.2"),
            Some("127.0.0.1")
        ));
    }

    #[test]
    fn parses_and_prints_canonically() {
        let l = AllowList::parse("10.0.0.5, 192.168.0.0/16 ::1,[fd00::]/8 ,,").unwrap();
        assert_eq!(l.to_string(), "10.0.0.5,192.168.0.0/16,::1,fd00::/8");
        assert_eq!(
            AllowList::parse("::ffff:10.0.0.0/104").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            AllowList::parse("0.0.0.0/0").unwrap().to_string(),
            "0.0.0.0/0"
        );
        assert_eq!(AllowList::parse("ANY").unwrap().to_string(), "any");
        assert_eq!(
            AllowList::parse("1.2.3.4,1.2.3.4").unwrap().to_string(),
            "1.2.3.4"
        );
        assert_eq!(
            AllowList::loopback().to_string(),
            "127.0.0.0/8,::1",
            "the default the docs name"
        );
    }

    #[test]
    fn malformed_lists_are_errors() {
        for bad in [
            "",
            " , ",
            "localhost",
            "10.0.0.300",
            "10.0.0",
            "010.0.0.1",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "10.0.0.0/8/8",
            "10.0.0.0/+8",
            "10.0.0.1/8",
            "::1/129",
            "fd00::1/8",
            "[::1",
            "1.2.3.4:80",
            "*",
            "10.0.0.1;10.0.0.2",
        ] {
            let err = AllowList::parse(bad).unwrap_err();
            assert_eq!(err.status, crate::status::SMISK_ERR_INVALID, "{bad:?}");
        }
        let err = AllowList::parse("10.0.0.1/8").unwrap_err();
        assert!(err.message.contains("10.0.0.0/8"), "{}", err.message);
        let many = vec!["10.0.0.1"; MAX_ENTRIES + 1].join(",");
        assert!(AllowList::parse(&many).is_err());
        assert!(AllowList::parse(&many[9..]).is_ok());
    }

    #[test]
    fn matching() {
        let l = AllowList::parse("127.0.0.1,10.1.0.0/16,fd00::/8,2001:db8::42").unwrap();
        for ok in [
            "127.0.0.1",
            "10.1.0.0",
            "10.1.255.255",
            "fd12:3456::1",
            "2001:db8::42",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
        ] {
            assert!(l.allows(ip(ok)), "{ok}");
        }
        for no in [
            "127.0.0.2",
            "10.2.0.1",
            "::1",
            "fe00::1",
            "2001:db8::43",
            "::ffff:127.0.0.2",
            "::127.0.0.1",
        ] {
            assert!(!l.allows(ip(no)), "{no}");
        }
        let lo = AllowList::loopback();
        assert!(lo.allows(ip("127.0.0.2")) && lo.allows(ip("::1")));
        assert!(lo.allows(ip("::ffff:127.9.9.9")));
        assert!(!lo.allows(ip("10.0.0.1")) && !lo.allows(ip("::2")));
        let zero = AllowList::parse("0.0.0.0/0").unwrap();
        assert!(zero.allows(ip("8.8.8.8")) && zero.allows(ip("::ffff:8.8.8.8")));
        assert!(
            !zero.allows(ip("2001:db8::1")),
            "IPv4 entries never match IPv6 peers"
        );
        let v6all = AllowList::parse("::/0").unwrap();
        assert!(v6all.allows(ip("2001:db8::1")));
        assert!(!v6all.allows(ip("::ffff:8.8.8.8")), "mapped peers are IPv4");
        assert!(AllowList::parse("any").unwrap().allows(ip("8.8.8.8")));
        let edge = AllowList::parse("1.2.3.4/31").unwrap();
        assert!(edge.allows(ip("1.2.3.5")) && !edge.allows(ip("1.2.3.6")));
    }

    #[test]
    fn startup_notes() {
        let lo = AllowList::loopback();
        let sa = |s: &str| Some(s.parse::<SocketAddr>().unwrap());
        assert_eq!(
            startup_note(sa("127.0.0.1:9000"), &lo, Source::Default),
            None
        );
        assert_eq!(startup_note(sa("[::1]:9000"), &lo, Source::Default), None);
        assert_eq!(
            startup_note(sa("[::ffff:127.0.0.1]:9000"), &lo, Source::Default),
            None
        );
        let wild = startup_note(sa("0.0.0.0:9000"), &lo, Source::Default).unwrap();
        assert!(
            wild.contains("*:9000") && wild.contains("only loopback"),
            "{wild}"
        );
        let any = AllowList::parse("any").unwrap();
        let open = startup_note(sa("[::]:9000"), &any, Source::Set).unwrap();
        assert!(open.contains("any host"), "{open}");
        let named = AllowList::parse("10.0.0.5").unwrap();
        assert_eq!(startup_note(sa("0.0.0.0:9000"), &named, Source::Env), None);
        assert!(startup_note(None, &named, Source::Set).is_some());
        assert_eq!(startup_note(None, &named, Source::Env), None);
        assert_eq!(startup_note(None, &lo, Source::Default), None);
    }

    #[test]
    fn refusal_log_is_once_per_address_and_rate_limited() {
        let list = AllowList::loopback();
        let mut log = RefusalLog::default();
        let t0 = 5_000_000;
        assert!(log.refused(ip("10.0.0.1"), &list, t0).is_some());
        assert!(log.refused(ip("10.0.0.1"), &list, t0 + 1).is_none());
        assert!(log
            .refused(ip("10.0.0.1"), &list, t0 + LOG_WINDOW_MS * 5)
            .is_none());
        let mut logged = 1;
        for i in 2..100u8 {
            if log
                .refused(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)), &list, t0 + 2)
                .is_some()
            {
                logged += 1;
            }
        }
        assert_eq!(logged, LOG_LINES_PER_WINDOW);
        // The next window logs an address that was rate-limited before, and
        // counts what went unlogged.
        let line = log
            .refused(ip("10.0.0.50"), &list, t0 + 2 + LOG_WINDOW_MS)
            .unwrap();
        assert!(
            line.contains("10.0.0.50") && line.contains("not logged"),
            "{line}"
        );
        // Memory stays bounded.
        for i in 0..(LOG_SEEN_MAX as u32 * 3) {
            let a = IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + i));
            log.refused(a, &list, t0 + LOG_WINDOW_MS * (10 + u64::from(i)));
            assert!(log.seen.len() <= LOG_SEEN_MAX);
        }
    }

    #[test]
    fn resolve_prefers_explicit_then_env_then_default() {
        let explicit = AllowList::parse("10.0.0.5").unwrap();
        let env = |s: &str| Some(std::ffi::OsString::from(s));
        assert_eq!(
            resolve_with(Some(&explicit), env("192.168.1.0/24")).unwrap(),
            (explicit, Source::Set)
        );
        let (l, s) = resolve_with(None, env("192.168.1.0/24, 10.9.9.9")).unwrap();
        assert_eq!(
            (l.to_string().as_str(), s),
            ("192.168.1.0/24,10.9.9.9", Source::Env)
        );
        let err = resolve_with(None, env("192.168.1.0/24,nope")).unwrap_err();
        assert!(
            err.message.contains(ENV_VAR) && err.message.contains("nope"),
            "{}",
            err.message
        );
        assert_eq!(resolve_with(None, env("  ")).unwrap().1, Source::Default);
        assert_eq!(
            resolve_with(None, None).unwrap(),
            (AllowList::loopback(), Source::Default)
        );
    }
}
