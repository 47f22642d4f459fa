//! The responder's accept loop: one listening socket, any number of web
//! server connections multiplexed with edge-triggered epoll, and requests
//! handed to the application one at a time in the order they became ready.
//!
//! Why readiness-based: web servers keep pools of upstream connections
//! (nginx `keepalive`). A responder that blocks on one kept-alive connection
//! (libfcgi, flup) starves the others; here every connection is watched, so a
//! single worker serves all of them fairly.
//!
//! Cost per request on a kept-alive connection: one `epoll_wait` (shared by
//! all connections that became ready together), one `read`, one `send`.
//! With a new connection per request and nothing else to watch, the wait
//! is `accept` itself (see `accept_blocking`): `accept4`, `read`, `send`,
//! `close`.

use super::addr::{self, Address};
use super::balance::{self, Balance};
use super::conn::{After, Conn, Discard, Phase, Pump};
use super::handoff::Returns;
use super::io::{send_nb, wait_fd, FirstRead, ReadOutcome};
use super::limits::{now_ms, Limits};
use super::ownership::SocketOwnership;
use super::peer::{AllowList, PeerFilter, Source};
use super::record as rec;
use super::request::Request;
use super::scgi::Protocol;
use crate::status::{Error, Result, SMISK_ERR_INTERRUPTED, SMISK_ERR_TIMEOUT};
use std::collections::VecDeque;
use std::ffi::CString;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Once};

const LISTENER_TOKEN: u64 = u64::MAX;
/// The eventfd of the `Returns` queue (requests served on other threads).
const RETURNS_TOKEN: u64 = u64::MAX - 1;
/// The caller's interrupt descriptor (`set_interrupt_fd`).
const INTERRUPT_TOKEN: u64 = u64::MAX - 2;
/// The sweep timer (`arm_sweep_timer`).
const SWEEP_TOKEN: u64 = u64::MAX - 3;
/// Most connections accepted per readiness event before serving them.
const ACCEPT_BATCH_MAX: usize = 32;
/// How often idle and stalled connections are checked for their deadline.
const SWEEP_EVERY_MS: u64 = 1000;
/// Connection objects kept for reuse (their buffers) after a close.
const SPARE_MAX: usize = 64;

/// A blocking stint that took fewer connections than this did not pay
/// for its two mode switches (see `set_listener_blocking`).
const BLOCK_STINT_MIN: u32 = 4;
/// Most idle points waited in epoll before the blocking accept is tried
/// again.
const BLOCK_HOLDOFF_MAX: u32 = 1024;
/// The listener's receive timeout in blocking mode (seconds). It bounds
/// one accept, which then starts again, and the blocking first read of the
/// connection it accepts (inherited over TCP, set over a unix socket): the longest a peer that connects and
/// sends nothing can hold the process up (once: it then waits in epoll
/// for `BLOCK_HOLDOFF_MAX` idle points).
const BLOCKING_ACCEPT_TIMEOUT_S: libc::time_t = 1;

/// Forks of this process since it started (counted by a pthread_atfork
/// handler, installed with the first listener). A listener installed
/// before a fork may be accepted from by the child too, so it is no longer
/// this process's alone (`Listener::sole`).
static FORK_EPOCH: AtomicU32 = AtomicU32::new(0);

extern "C" fn count_fork() {
    FORK_EPOCH.fetch_add(1, Ordering::SeqCst);
}

fn fork_epoch() -> u32 {
    static WATCH: Once = Once::new();
    WATCH.call_once(|| {
        // SAFETY: registers an async-signal-safe handler (one atomic add)
        // that lives as long as the library (glibc removes it at dlclose).
        unsafe { libc::pthread_atfork(Some(count_fork), None, None) };
    });
    FORK_EPOCH.load(Ordering::SeqCst)
}

struct Listener {
    fd: RawFd,
    /// None when the listener is fd 0 handed over by the web server (not ours
    /// to close).
    owned: Option<OwnedFd>,
    tcp: bool,
    /// FastCGI or SCGI: what its connections speak.
    protocol: Protocol,
    /// A unix socket file this process created, removed at unbind.
    unix_path: Option<(CString, u32)>,
    registered: bool,
    paused_until: u64,
    /// Made by `bind` in this process, which no fork has copied since (see
    /// `fork_epoch`): this process is its only acceptor, so its readiness
    /// means a connection for us, and it may be switched to blocking mode.
    sole: bool,
    /// `fork_epoch()` when the listener was installed.
    epoch: u32,
    /// O_NONBLOCK cleared for the blocking accept (see `accept_blocking`).
    blocking: bool,
    /// SO_RCVTIMEO set (at the first switch to blocking mode).
    timeout_set: bool,
}

/// A FastCGI responder.
pub struct Server {
    limits: Limits,
    listener: Option<Listener>,
    bound: bool,
    epoll: Option<OwnedFd>,
    conns: Vec<Option<Box<Conn>>>,
    free_slots: Vec<usize>,
    // Boxed so a connection moves between the table, the request and this
    // pool as a pointer.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Conn>>,
    ready: VecDeque<usize>,
    live: usize,
    events: Vec<libc::epoll_event>,
    next_sweep: u64,
    /// Connections to accept per listener event: grows while the backlog
    /// keeps having more, shrinks when an accept finds it empty, so a single
    /// connection at a time does not pay for a probing accept that fails.
    accept_budget: usize,
    /// Idle points left before the blocking accept is tried again, after a
    /// blocking stint served too few connections to pay for its switches.
    block_holdoff: u32,
    /// Connections taken by the blocking accept since it was switched on.
    block_stint: u32,
    request: Request,
    /// Graceful stop in progress (see `begin_drain`): the listener is not
    /// watched and connections close after their request.
    draining: bool,
    /// Signal mask applied atomically while waiting (epoll_pwait), so signals
    /// the process model keeps blocked are delivered only inside the wait and
    /// one arriving just before it cannot be missed.
    wait_sigmask: Option<libc::sigset_t>,
    /// Which TCP peers may connect (see `peer`).
    peers: PeerFilter,
    /// Mode, owner and group of the unix socket file `bind` creates.
    ownership: SocketOwnership,
    /// The protocol of a listener whose address names none (fd 0, an
    /// adopted socket, an address without `scgi:` / `fcgi:`).
    protocol: Protocol,
    /// A prefork worker's place in the shared connection table (see
    /// `balance`); None outside prefork.
    balance: Option<Balance>,
    /// When the share is next recomputed.
    balance_next: u64,
    /// Holding more than its share: not accepting (see `balance`).
    over_share: bool,
    /// The listener had a connection waiting at the last check while over
    /// its share.
    backlog_seen: bool,
    /// Requests handed out (wrapping), published for the other workers.
    served: u32,
    /// The workers' request counters at the last recheck.
    served_seen: Vec<u32>,
    /// Serving more than its share of requests (see `balance`).
    hot: bool,
    /// The next request's connection closes after its answer.
    release_next: bool,
    /// Roles served besides RESPONDER (bit n: role n; `set_roles`).
    extra_roles: u8,
    /// Requests handed out by `accept_owned` come back here (created by
    /// `returns`), and whether its eventfd is in the epoll set.
    returns: Option<Arc<Returns>>,
    returns_registered: bool,
    /// A descriptor whose readability ends a wait (`set_interrupt_fd`).
    interrupt: Option<RawFd>,
    interrupt_registered: bool,
    /// Per slot: an epoll edge came while the slot's connection was out
    /// with a request. Edge-triggered events are consumed by the wait, and
    /// a request served on another thread is out during waits: without
    /// this its connection would miss the bytes that edge announced.
    away_edges: Vec<bool>,
    /// A timerfd in the epoll set that ticks every `SWEEP_EVERY_MS` while
    /// connections are open, and whether it is ticking (`arm_sweep_timer`).
    sweep_timer: Option<OwnedFd>,
    sweep_armed: bool,
}

fn is_tcp(fd: RawFd) -> bool {
    // SAFETY: sockaddr_storage is plain old data.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: ss/len form a valid output buffer.
    let rc = unsafe { libc::getsockname(fd, &mut ss as *mut _ as *mut libc::sockaddr, &mut len) };
    rc == 0 && matches!(i32::from(ss.ss_family), libc::AF_INET | libc::AF_INET6)
}

fn set_nonblocking(fd: RawFd) -> Result<()> {
    // SAFETY: fcntl on a valid descriptor.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(Error::last_os("fcntl F_GETFL"));
    }
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(Error::last_os("fcntl F_SETFL O_NONBLOCK"));
        }
    }
    Ok(())
}

/// Sets the socket's SO_RCVTIMEO to `BLOCKING_ACCEPT_TIMEOUT_S`; false if
/// it could not be set.
fn set_receive_timeout(fd: RawFd) -> bool {
    let tv = libc::timeval {
        tv_sec: BLOCKING_ACCEPT_TIMEOUT_S,
        tv_usec: 0,
    };
    // SAFETY: valid descriptor and option buffer of its size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    rc == 0
}

/// One accept4 on the listener `lfd`, the new socket close-on-exec (and
/// non-blocking with `nonblocking`: the blocking accept's connection stays
/// blocking for its first read, and every later read and send passes
/// MSG_DONTWAIT); with `want_peer` the peer's address is written to `peer`.
/// The new descriptor, or the errno.
fn accept_connection(
    lfd: RawFd,
    want_peer: bool,
    nonblocking: bool,
    peer: &mut libc::sockaddr_storage,
) -> std::result::Result<OwnedFd, Option<i32>> {
    let mut peer_len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let (peer_ptr, len_ptr) = if want_peer {
        (
            peer as *mut _ as *mut libc::sockaddr,
            &mut peer_len as *mut _,
        )
    } else {
        (std::ptr::null_mut(), std::ptr::null_mut())
    };
    let flags = if nonblocking {
        libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC
    } else {
        libc::SOCK_CLOEXEC
    };
    // SAFETY: accept4 on a listening socket; peer_ptr/len_ptr are NULL or a
    // sockaddr_storage buffer and its size.
    let fd = unsafe { libc::accept4(lfd, peer_ptr, len_ptr, flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error());
    }
    // SAFETY: fd is a new descriptor owned from here on.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Default for Server {
    fn default() -> Server {
        Server::new()
    }
}

impl Server {
    /// An unbound responder with default limits.
    pub fn new() -> Server {
        Server {
            limits: Limits::default(),
            listener: None,
            bound: false,
            epoll: None,
            conns: Vec::new(),
            free_slots: Vec::new(),
            spare: Vec::new(),
            ready: VecDeque::new(),
            live: 0,
            events: Vec::new(),
            next_sweep: 0,
            accept_budget: 1,
            block_holdoff: 0,
            block_stint: 0,
            request: Request::new(),
            draining: false,
            wait_sigmask: None,
            peers: PeerFilter::default(),
            ownership: SocketOwnership::default(),
            protocol: Protocol::FastCgi,
            balance: None,
            balance_next: 0,
            over_share: false,
            backlog_seen: false,
            served: 0,
            served_seen: Vec::new(),
            hot: false,
            release_next: false,
            extra_roles: 0,
            returns: None,
            returns_registered: false,
            interrupt: None,
            interrupt_registered: false,
            away_edges: Vec::new(),
            sweep_timer: None,
            sweep_armed: false,
        }
    }

    /// Serves the AUTHORIZER and FILTER roles too (FastCGI 1.0 §6.3, §6.4);
    /// by default only RESPONDER requests are served and the others get
    /// END_REQUEST with UNKNOWN_ROLE. Applies to connections accepted after
    /// the call. `Request::role` tells the roles apart, and a FILTER reads
    /// its data file after its body (`Request::start_data`).
    pub fn set_roles(&mut self, authorizer: bool, filter: bool) {
        self.extra_roles =
            (u8::from(authorizer) << rec::ROLE_AUTHORIZER) | (u8::from(filter) << rec::ROLE_FILTER);
    }

    /// The queue through which requests handed out by `accept_owned` come
    /// back from other threads (created at the first call; see `handoff`).
    pub fn returns(&mut self) -> Result<Arc<Returns>> {
        if let Some(r) = &self.returns {
            return Ok(r.clone());
        }
        let r = Arc::new(Returns::new()?);
        self.returns = Some(r.clone());
        Ok(r)
    }

    /// While waiting, also watch `fd` (level-triggered): once it is readable
    /// and no request is ready, `accept` returns `SMISK_ERR_INTERRUPTED`.
    /// For a wake-up a signal handler can give (it writes to an eventfd or
    /// a pipe; the caller decides whether to drain it). None stops watching.
    /// The descriptor stays the caller's.
    pub fn set_interrupt_fd(&mut self, fd: Option<RawFd>) {
        if self.interrupt == fd {
            return;
        }
        if let (Some(old), true, Some(ep)) = (
            self.interrupt,
            self.interrupt_registered,
            self.epoll.as_ref(),
        ) {
            // SAFETY: valid epoll descriptor; `old` may already be closed,
            // which only makes the call fail.
            unsafe {
                libc::epoll_ctl(
                    ep.as_raw_fd(),
                    libc::EPOLL_CTL_DEL,
                    old,
                    std::ptr::null_mut(),
                )
            };
        }
        self.interrupt = fd;
        self.interrupt_registered = false;
    }

    /// Like `accept`, but the request is handed out by value: it may be
    /// served on another thread while this server accepts more. It comes
    /// back with `give_back` or through `returns()` (then from any thread);
    /// meanwhile its connection is neither watched nor closed. A request
    /// dropped instead of given back closes its connection without an
    /// answer.
    pub fn accept_owned(&mut self, timeout_ms: i64) -> Result<Request> {
        self.accept(timeout_ms)?;
        Ok(std::mem::replace(&mut self.request, Request::new()))
    }

    /// Takes back a request handed out by `accept_owned` (finishing it if
    /// the application did not) and serves its connection again.
    pub fn give_back(&mut self, req: Request) {
        self.reclaim();
        self.request = req;
        self.reclaim();
    }

    /// Requests that came back through `returns()`.
    fn take_returns(&mut self) {
        let Some(r) = self.returns.clone() else {
            return;
        };
        if r.has_pending() {
            for req in r.take() {
                self.give_back(req);
            }
        }
    }

    /// Puts the returns eventfd and the interrupt descriptor in the epoll
    /// set (once each).
    fn watch_wakeups(&mut self) -> Result<()> {
        if let (Some(fd), false) = (
            self.returns.as_ref().map(|r| r.wake_fd()),
            self.returns_registered,
        ) {
            self.epoll_ctl(libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN as u32, RETURNS_TOKEN)?;
            self.returns_registered = true;
        }
        if let (Some(fd), false) = (self.interrupt, self.interrupt_registered) {
            self.epoll_ctl(
                libc::EPOLL_CTL_ADD,
                fd,
                libc::EPOLLIN as u32,
                INTERRUPT_TOKEN,
            )?;
            self.interrupt_registered = true;
        }
        Ok(())
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Binds to one of the address forms of [`Address::parse`], optionally
    /// prefixed with the protocol (`scgi:ADDRESS`, `fcgi:ADDRESS`; without
    /// one, `set_protocol`'s, FastCGI by default). `backlog <= 0` means the
    /// system maximum.
    pub fn bind(&mut self, address: &str, backlog: i32) -> Result<()> {
        if self.bound {
            return Err(Error::state("already bound; unbind first"));
        }
        let (protocol, address) = match Protocol::split(address) {
            (p, rest) if rest.len() < address.len() => (p, rest),
            _ => (self.protocol, address),
        };
        let parsed = Address::parse(address)?;
        let fd = addr::bind_listener(&parsed, backlog, &self.ownership)?;
        set_nonblocking(fd.as_raw_fd())?;
        self.install_listener(
            fd.as_raw_fd(),
            Some(fd),
            !matches!(parsed, Address::Unix(_)),
        );
        if let Some(l) = self.listener.as_mut() {
            l.protocol = protocol;
            l.sole = true;
        }
        if let Some(path) = addr::unix_path_of(&parsed) {
            let pid = std::process::id();
            if let Some(l) = self.listener.as_mut() {
                l.unix_path = Some((path, pid));
            }
        }
        self.bound = true;
        Ok(())
    }

    /// Serves an already listening socket (for example one inherited from a
    /// supervisor). On success the server owns `fd` and closes it; on error
    /// the caller keeps it.
    pub fn adopt_listener(&mut self, fd: RawFd) -> Result<()> {
        if self.bound {
            return Err(Error::state("already bound; unbind first"));
        }
        if fd < 0 || !addr::is_listening_socket(fd) {
            return Err(Error::invalid(format!("fd {fd} is not a listening socket")));
        }
        set_nonblocking(fd)?;
        let tcp = is_tcp(fd);
        // SAFETY: fd is a valid listening socket whose ownership the caller
        // transfers now that nothing can fail any more.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        self.install_listener(fd, Some(owned), tcp);
        self.bound = true;
        Ok(())
    }

    fn install_listener(&mut self, fd: RawFd, owned: Option<OwnedFd>, tcp: bool) {
        self.peers.restart();
        self.listener = Some(Listener {
            fd,
            owned,
            tcp,
            protocol: self.protocol,
            unix_path: None,
            registered: false,
            paused_until: 0,
            sole: false,
            epoch: fork_epoch(),
            blocking: false,
            timeout_set: false,
        });
    }

    /// Closes the socket made by `bind` (removing the unix socket file this
    /// process created). Without a bound socket this does nothing.
    pub fn unbind(&mut self) -> Result<()> {
        if !self.bound {
            return Ok(());
        }
        self.bound = false;
        if let Some(l) = self.listener.take() {
            if l.registered {
                if let Some(ep) = &self.epoll {
                    // SAFETY: valid epoll and listener descriptors.
                    unsafe {
                        libc::epoll_ctl(
                            ep.as_raw_fd(),
                            libc::EPOLL_CTL_DEL,
                            l.fd,
                            std::ptr::null_mut(),
                        )
                    };
                }
            }
            if let Some((path, pid)) = &l.unix_path {
                if *pid == std::process::id() {
                    // SAFETY: path is a valid C string.
                    unsafe { libc::unlink(path.as_ptr()) };
                }
            }
            drop(l.owned);
        }
        Ok(())
    }

    /// Sets the TCP peer allow-list (None: back to `FCGI_WEB_SERVER_ADDRS`,
    /// else loopback only); see `peer`. Applies from the next accept.
    pub fn set_allow(&mut self, list: Option<AllowList>) {
        self.peers.set(list);
    }

    /// The allow-list that applies (or will, at the next accept) and where
    /// it comes from. Errors for a malformed `FCGI_WEB_SERVER_ADDRS`.
    pub fn allow_list(&self) -> Result<(AllowList, Source)> {
        self.peers.current()
    }

    /// Mode, owner and group for the unix socket file of the next `bind`.
    pub fn set_socket_ownership(&mut self, own: SocketOwnership) {
        self.ownership = own;
    }

    /// The protocol of listeners whose address names none: fd 0 handed
    /// over by a web server, `adopt_listener`, and `bind` without a
    /// `scgi:` / `fcgi:` prefix. Applies to listeners installed afterwards.
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.protocol = protocol;
    }

    /// What `set_protocol` chose (FastCGI by default).
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Whether `bind` (or `adopt_listener`) gave this server a socket.
    pub fn is_bound(&self) -> bool {
        self.bound
    }

    /// The bound address (`listening()` of the Python API): unix socket path,
    /// `*:port`, `a.b.c.d:port` or `[v6]:port`.
    pub fn listening(&self) -> Result<String> {
        match (&self.listener, self.bound) {
            // The kernel names a unix socket by the path it was bound at,
            // a staging path (see `ownership`): report where it is.
            (Some(l), true) => {
                let address = match &l.unix_path {
                    Some((path, _)) => path.to_string_lossy().into_owned(),
                    None => addr::describe_bound(l.fd)?,
                };
                Ok(match l.protocol {
                    Protocol::FastCgi => address,
                    Protocol::Scgi => format!("scgi:{address}"),
                })
            }
            _ => Err(Error::state("not bound")),
        }
    }

    /// The listening descriptor in use (bound, adopted, or fd 0), if any.
    pub fn listener_fd(&self) -> Option<RawFd> {
        self.listener.as_ref().map(|l| l.fd)
    }

    fn ensure_listener(&mut self) -> Result<()> {
        if let Some(l) = self.listener.as_ref() {
            return self.peers.start(l.fd, l.tcp);
        }
        if addr::is_listening_socket(0) {
            set_nonblocking(0)?;
            let tcp = is_tcp(0);
            self.install_listener(0, None, tcp);
            return self.peers.start(0, tcp);
        }
        Err(Error::state(
            "not bound, and fd 0 is not a listening FastCGI socket (bind an address, \
             or start the program from a web server or spawn-fcgi)",
        ))
    }

    fn epoll_fd(&mut self) -> Result<RawFd> {
        if let Some(ep) = &self.epoll {
            return Ok(ep.as_raw_fd());
        }
        // SAFETY: plain epoll_create1 call; fd owned immediately.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(Error::last_os("epoll_create1"));
        }
        // SAFETY: fd is new and owned here.
        self.epoll = Some(unsafe { OwnedFd::from_raw_fd(fd) });
        Ok(fd)
    }

    /// Forgets the connections and event state inherited from a parent
    /// process. Call in a child after `fork()` (the listening socket stays).
    pub fn reset_after_fork(&mut self) {
        self.epoll = None;
        self.away_edges.clear();
        // The parent's timer is in the parent's epoll set; the child makes
        // its own with its own epoll descriptor.
        self.sweep_timer = None;
        self.sweep_armed = false;
        // The parent's queue (and its eventfd, shared with the parent) is
        // left to it; requests the parent handed out are not ours.
        self.returns = None;
        self.returns_registered = false;
        self.interrupt_registered = false;
        self.conns.clear();
        self.free_slots.clear();
        self.ready.clear();
        self.live = 0;
        self.request = Request::new();
        self.draining = false;
        if let Some(l) = self.listener.as_mut() {
            l.registered = false;
        }
    }

    fn epoll_ctl(&mut self, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> Result<()> {
        let ep = self.epoll_fd()?;
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: valid epoll descriptor and event struct.
        if unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) } < 0 {
            return Err(Error::last_os("epoll_ctl"));
        }
        Ok(())
    }

    fn update_listener_interest(&mut self) -> Result<()> {
        let now_paused = self
            .listener
            .as_ref()
            .is_some_and(|l| l.paused_until > now_ms());
        let want = self.live < self.limits.max_conns
            && !now_paused
            && !self.draining
            && !self.leave_to_others(now_ms());
        let Some(l) = self.listener.as_ref() else {
            return Ok(());
        };
        let (fd, registered) = (l.fd, l.registered);
        if want && !registered {
            self.epoll_ctl(
                libc::EPOLL_CTL_ADD,
                fd,
                libc::EPOLLIN as u32,
                LISTENER_TOKEN,
            )?;
        } else if !want && registered {
            let ep = self.epoll_fd()?;
            // SAFETY: valid descriptors.
            unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
        } else {
            return Ok(());
        }
        if let Some(l) = self.listener.as_mut() {
            l.registered = want;
        }
        Ok(())
    }

    /// Waits for the next request and returns it. The previous request is
    /// finished first if the application did not finish it. `timeout_ms < 0`
    /// waits forever; otherwise `SMISK_ERR_TIMEOUT` after that long. A signal
    /// gives `SMISK_ERR_INTERRUPTED` so the caller can act on it.
    pub fn accept(&mut self, timeout_ms: i64) -> Result<&mut Request> {
        self.reclaim();
        self.take_returns();
        let deadline = (timeout_ms >= 0).then(|| now_ms() + timeout_ms as u64);
        loop {
            if let Some(slot) = self.ready.pop_front() {
                if let Some(mut conn) = self.conns[slot].take() {
                    if let Some(edge) = self.away_edges.get_mut(slot) {
                        *edge = false;
                    }
                    conn.phase = Phase::Active;
                    let may_keep = !std::mem::take(&mut self.release_next) && !conn.release;
                    self.request.start(conn, slot, self.limits, may_keep);
                    if let Some(b) = self.balance {
                        self.served = self.served.wrapping_add(1);
                        b.publish_served(self.served);
                    }
                    return Ok(&mut self.request);
                }
                continue;
            }
            self.ensure_listener()?;
            if self.may_accept_blocking(deadline) && self.accept_blocking()? {
                continue;
            }
            self.update_listener_interest()?;
            self.watch_wakeups()?;
            let now = now_ms();
            let mut wait: i64 = -1;
            if let Some(d) = deadline {
                wait = d.saturating_sub(now) as i64;
            }
            if self.live > 0 && !self.arm_sweep_timer() {
                let to_sweep = self.next_sweep.saturating_sub(now) as i64;
                wait = if wait < 0 {
                    to_sweep
                } else {
                    wait.min(to_sweep)
                };
            }
            if let Some(l) = self.listener.as_ref() {
                if l.paused_until > now {
                    let p = (l.paused_until - now) as i64;
                    wait = if wait < 0 { p } else { wait.min(p) };
                }
            }
            if self.over_share {
                let p = self.balance_next.saturating_sub(now).max(1) as i64;
                wait = if wait < 0 { p } else { wait.min(p) };
            }
            let n = self.wait_events(wait)?;
            let mut interrupted = false;
            let mut sweep_due = false;
            for i in 0..n {
                let ev = self.events[i];
                let (token, bits) = (ev.u64, ev.events);
                match token {
                    // Several events at once: the server is busy, and the
                    // backlog likely holds more than one connection.
                    LISTENER_TOKEN => self.accept_batch(n > 1),
                    RETURNS_TOKEN => self.take_returns(),
                    INTERRUPT_TOKEN => interrupted = true,
                    SWEEP_TOKEN => sweep_due = self.on_sweep_tick(),
                    _ => self.on_conn_event(token as usize, bits),
                }
            }
            let now = now_ms();
            if sweep_due || now >= self.next_sweep {
                self.sweep(now);
            }
            if interrupted && self.ready.is_empty() {
                return Err(Error::new(
                    SMISK_ERR_INTERRUPTED,
                    "interrupted (the interrupt descriptor is readable)",
                ));
            }
            if self.ready.is_empty() && deadline.is_some_and(|d| now >= d) {
                return Err(Error::new(
                    SMISK_ERR_TIMEOUT,
                    "no request within the timeout",
                ));
            }
        }
    }

    fn wait_events(&mut self, timeout_ms: i64) -> Result<usize> {
        let ep = self.epoll_fd()?;
        let want = (self.live + 1).clamp(8, 256);
        if self.events.len() < want {
            self.events
                .resize(want, libc::epoll_event { events: 0, u64: 0 });
        }
        let ms = timeout_ms.min(i32::MAX as i64) as libc::c_int;
        let mask = self
            .wait_sigmask
            .as_ref()
            .map_or(std::ptr::null(), |m| m as *const libc::sigset_t);
        // SAFETY: events has events.len() writable entries; mask is NULL or
        // points to a sigset_t owned by self for the duration of the call.
        let n = unsafe {
            libc::epoll_pwait(
                ep,
                self.events.as_mut_ptr(),
                self.events.len() as libc::c_int,
                ms,
                mask,
            )
        };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINTR) {
                return Err(Error::new(SMISK_ERR_INTERRUPTED, "interrupted by a signal"));
            }
            return Err(Error::os("epoll_wait", err));
        }
        Ok(n as usize)
    }

    fn accept_batch(&mut self, busy: bool) {
        // The budget's probing accept must not block.
        if !self.set_listener_blocking(false) {
            return;
        }
        let Some(l) = self.listener.as_ref() else {
            return;
        };
        let (lfd, tcp, protocol) = (l.fd, l.tcp, l.protocol);
        let budget = self.accept_budget;
        // Normally done by accept already (once); a peer is never admitted
        // unchecked because the list could not be decided.
        if self.peers.start(lfd, tcp).is_err() {
            return;
        }
        let checking = self.peers.checking();
        // SAFETY: sockaddr_storage is plain old data.
        let mut peer: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        for _ in 0..budget {
            if self.live >= self.limits.max_conns {
                return;
            }
            let accepted = accept_connection(lfd, checking, true, &mut peer);
            let Ok(owned) = accepted else {
                match accepted.err().flatten() {
                    Some(libc::EAGAIN) => {
                        self.accept_budget = (self.accept_budget / 2).max(1);
                        return;
                    }
                    Some(libc::EINTR) | Some(libc::ECONNABORTED) => continue,
                    Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS)
                    | Some(libc::ENOMEM) => {
                        // Out of descriptors or memory: stop accepting for a
                        // moment instead of spinning on a readable listener.
                        if let Some(l) = self.listener.as_mut() {
                            l.paused_until = now_ms() + 100;
                        }
                        return;
                    }
                    _ => return,
                }
            };
            if checking && !self.peers.admit(&peer) {
                // Refused before a byte of it is read: closed here.
                drop(owned);
                continue;
            }
            self.take_connection(owned, tcp, protocol);
        }
        // The whole budget was accepted without finding the backlog empty:
        // under load, try more next time. A lone connection at a time (one
        // event per wait) does not grow it, so it never pays for a probing
        // accept that finds the backlog empty; a burst is still taken
        // whole, one (non-blocking) wait per connection.
        if busy {
            self.accept_budget = (budget * 2).min(ACCEPT_BATCH_MAX);
        }
    }

    /// Whether the next wait may be `accept_blocking` instead of epoll:
    /// nothing but the listener to wait for (no connection, no deadline, no
    /// wake-up descriptor, no signal mask to apply atomically, not a prefork
    /// worker, not draining), and a listener this process alone accepts
    /// from. After blocking stints that did not pay for their mode switches
    /// it waits out `block_holdoff` idle points in epoll first.
    fn may_accept_blocking(&mut self, deadline: Option<u64>) -> bool {
        let Some(l) = self.listener.as_ref() else {
            return false;
        };
        let alone = self.live == 0
            && self.ready.is_empty()
            && deadline.is_none()
            && self.wait_sigmask.is_none()
            && self.balance.is_none()
            && self.returns.is_none()
            && self.interrupt.is_none()
            && !self.draining
            && l.sole
            && l.epoch == fork_epoch()
            && l.paused_until <= now_ms();
        if !alone {
            return false;
        }
        if !l.blocking && self.block_holdoff > 0 {
            self.block_holdoff -= 1;
            return false;
        }
        true
    }

    /// Waits for the next connection inside accept(2), the listener in
    /// blocking mode: one syscall where the epoll wait takes two (epoll_wait,
    /// then accept4). That is the whole wait of a server that gets a new
    /// connection per request (nginx's default, `fastcgi_keep_conn off`)
    /// and has nothing else to watch. A signal ends it as it ends the epoll
    /// wait (the listener's SO_RCVTIMEO makes accept never restart, whatever
    /// SA_RESTART says). Returns false when the epoll wait is to be used
    /// after all.
    fn accept_blocking(&mut self) -> Result<bool> {
        if !self.set_listener_blocking(true) {
            return Ok(false);
        }
        let Some(l) = self.listener.as_ref() else {
            return Ok(false);
        };
        let (lfd, tcp, protocol) = (l.fd, l.tcp, l.protocol);
        self.peers.start(lfd, tcp)?;
        let checking = self.peers.checking();
        // SAFETY: sockaddr_storage is plain old data.
        let mut peer: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let accepted = accept_connection(lfd, checking, false, &mut peer);
        let Ok(owned) = accepted else {
            return match accepted.err().flatten() {
                Some(libc::EINTR) => {
                    Err(Error::new(SMISK_ERR_INTERRUPTED, "interrupted by a signal"))
                }
                // The receive timeout ran out, or the peer gave up first.
                Some(libc::EAGAIN) | Some(libc::ECONNABORTED) => Ok(true),
                Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS)
                | Some(libc::ENOMEM) => {
                    if let Some(l) = self.listener.as_mut() {
                        l.paused_until = now_ms() + 100;
                    }
                    Ok(true)
                }
                _ => Ok(false),
            };
        };
        if checking && !self.peers.admit(&peer) {
            return Ok(true);
        }
        self.block_stint = self.block_stint.saturating_add(1);
        // TCP sockets inherit the listener's receive timeout; unix sockets
        // do not (measured: an accepted unix socket's SO_RCVTIMEO is 0,
        // which would block the first read for good), so it is set here.
        let bounded = tcp || set_receive_timeout(owned.as_raw_fd());
        let mut conn = self.new_conn(owned, tcp, protocol);
        if !bounded {
            // Reads pass MSG_DONTWAIT: the epoll path serves it.
            self.install(conn);
            return Ok(true);
        }
        let first = conn.fill_first();
        self.install(conn);
        match first {
            FirstRead::Done(_) => Ok(true),
            FirstRead::TimedOut => {
                // A peer that connects and stays silent held this process
                // for a receive timeout: wait in epoll (where it cannot
                // hold anything up) for the longest hold-off.
                self.block_stint = 0;
                self.block_holdoff = BLOCK_HOLDOFF_MAX;
                Ok(true)
            }
            // The connection is in the table and watched; the caller acts
            // on the signal first.
            FirstRead::Interrupted => {
                Err(Error::new(SMISK_ERR_INTERRUPTED, "interrupted by a signal"))
            }
        }
    }

    /// Switches the listener between blocking (for `accept_blocking`) and
    /// non-blocking mode, one fcntl per switch; false if it cannot be
    /// switched (the caller then waits the other way). Leaving blocking mode
    /// after a stint of fewer than `BLOCK_STINT_MIN` connections doubles
    /// the hold-off before the next try, so alternating load does not pay
    /// two switches per connection.
    fn set_listener_blocking(&mut self, on: bool) -> bool {
        let Some(l) = self.listener.as_mut() else {
            return false;
        };
        if l.blocking == on {
            return true;
        }
        let fd = l.fd;
        // SAFETY: fcntl on the listener's valid descriptor.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 {
            return !on;
        }
        if on && !l.timeout_set {
            // accept with a receive timeout is never restarted after a
            // signal handler (signal(7)), so a signal ends this wait as it
            // ends epoll_wait; the timeout itself only re-enters the loop.
            if !set_receive_timeout(fd) {
                return false;
            }
            l.timeout_set = true;
        }
        let want = if on {
            flags & !libc::O_NONBLOCK
        } else {
            flags | libc::O_NONBLOCK
        };
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, want) } < 0 {
            return !on && flags & libc::O_NONBLOCK != 0;
        }
        l.blocking = on;
        if on && l.registered {
            // Out of the epoll set while accept waits: a watched listener
            // costs every new connection a wake-up callback into the set
            // (`update_listener_interest` puts it back for the epoll wait).
            l.registered = false;
            if let Some(ep) = &self.epoll {
                // SAFETY: valid epoll and listener descriptors.
                unsafe {
                    libc::epoll_ctl(
                        ep.as_raw_fd(),
                        libc::EPOLL_CTL_DEL,
                        fd,
                        std::ptr::null_mut(),
                    )
                };
            }
        }
        if !on {
            let stint = std::mem::take(&mut self.block_stint);
            self.block_holdoff = if stint < BLOCK_STINT_MIN {
                (self.block_holdoff * 2 + 1).min(BLOCK_HOLDOFF_MAX)
            } else {
                0
            };
        }
        true
    }

    /// Puts a connection accept4 just returned in the table and reads what
    /// it already sent.
    fn take_connection(&mut self, owned: OwnedFd, tcp: bool, protocol: Protocol) {
        let conn = self.new_conn(owned, tcp, protocol);
        self.install(conn);
    }

    /// A connection object (from the pool when one is spare) for a socket
    /// accept4 just returned.
    fn new_conn(&mut self, owned: OwnedFd, tcp: bool, protocol: Protocol) -> Box<Conn> {
        let fd = owned.as_raw_fd();
        if tcp {
            let one: libc::c_int = 1;
            // SAFETY: valid fd and option buffer. Failure only costs latency.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    &one as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
        }
        let mut conn = match self.spare.pop() {
            Some(mut c) => {
                c.reset(owned);
                c
            }
            None => Box::new(Conn::new(owned)),
        };
        conn.asm.protocol = protocol;
        conn.asm.extra_roles = self.extra_roles;
        conn.deadline = now_ms() + self.limits.read_timeout_ms;
        conn
    }

    /// Puts a new connection in the table and serves what it already sent.
    fn install(&mut self, conn: Box<Conn>) {
        let slot = match self.free_slots.pop() {
            Some(s) => {
                self.conns[s] = Some(conn);
                s
            }
            None => {
                self.conns.push(Some(conn));
                self.conns.len() - 1
            }
        };
        self.live += 1;
        if let Some(b) = self.balance {
            b.publish(self.live);
        }
        self.service(slot);
    }

    fn on_conn_event(&mut self, slot: usize, bits: u32) {
        let Some(conn) = self.conns.get_mut(slot).and_then(|c| c.as_mut()) else {
            // Out with a request (or closed: then the flag is cleared when
            // the slot is next handed out).
            if slot < self.conns.len() {
                if self.away_edges.len() < self.conns.len() {
                    self.away_edges.resize(self.conns.len(), false);
                }
                self.away_edges[slot] = true;
            }
            return;
        };
        // An edge means bytes (or a hang-up) arrived after the last read.
        conn.maybe_more = true;
        match conn.phase {
            Phase::Ready | Phase::Active => {}
            _ => {
                if bits & libc::EPOLLOUT as u32 != 0 && !conn.asm.pending.is_empty() {
                    self.flush_pending(slot);
                }
                self.service(slot);
            }
        }
    }

    /// Sends queued replies without blocking; returns false if the
    /// connection had to be closed.
    fn flush_pending(&mut self, slot: usize) -> bool {
        let Some(conn) = self.conns[slot].as_mut() else {
            return false;
        };
        if conn.asm.pending.is_empty() {
            return true;
        }
        match send_nb(conn.raw_fd(), &conn.asm.pending) {
            Ok(n) => {
                conn.asm.pending.drain(..n);
                let fd = conn.raw_fd();
                let wants_out = !conn.asm.pending.is_empty();
                let registered = conn.registered;
                // Ask for EPOLLOUT only while replies are stuck.
                let events = (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32
                    | if wants_out { libc::EPOLLOUT as u32 } else { 0 };
                let op = if registered {
                    libc::EPOLL_CTL_MOD
                } else {
                    libc::EPOLL_CTL_ADD
                };
                if (wants_out || registered) && self.epoll_ctl(op, fd, events, slot as u64).is_ok()
                {
                    if let Some(c) = self.conns[slot].as_mut() {
                        c.registered = true;
                    }
                }
                true
            }
            Err(_) => {
                self.close(slot);
                false
            }
        }
    }

    /// Reads and assembles input on an idle or assembling connection until it
    /// would block, a request is ready, or the connection must close.
    fn service(&mut self, slot: usize) {
        let limits = self.limits;
        for _ in 0..1024 {
            let Some(conn) = self.conns[slot].as_mut() else {
                return;
            };
            match conn.phase {
                Phase::Idle | Phase::Params => {}
                Phase::Lingering => {
                    if conn.discard_owed_input(&limits) == Discard::Done {
                        self.close(slot);
                    }
                    return;
                }
                Phase::Ready | Phase::Active => return,
            }
            match conn.pump(&limits) {
                Pump::Ready => {
                    if self.flush_pending(slot) {
                        self.ready.push_back(slot);
                    }
                    return;
                }
                Pump::Close => {
                    self.flush_pending(slot);
                    self.shutdown(slot);
                    return;
                }
                Pump::NeedMore => {}
            }
            if !self.flush_pending(slot) {
                return;
            }
            let Some(conn) = self.conns[slot].as_mut() else {
                return;
            };
            if conn.asm.close_after_pending && conn.asm.pending.is_empty() {
                self.shutdown(slot);
                return;
            }
            if conn.registered && !conn.maybe_more {
                // The last read came back short, so the socket was empty
                // then, and anything since raises an edge-triggered event:
                // a read now would only say EAGAIN. (A GET leaves its empty
                // STDIN record buffered; consuming it lands here.)
                return;
            }
            match conn.fill_nb() {
                Ok(ReadOutcome::Data(_)) => {
                    if conn.phase == Phase::Params {
                        conn.deadline = now_ms() + limits.read_timeout_ms;
                    }
                }
                Ok(ReadOutcome::WouldBlock) => {
                    if !conn.registered {
                        let fd = conn.raw_fd();
                        let events = (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
                        if self
                            .epoll_ctl(libc::EPOLL_CTL_ADD, fd, events, slot as u64)
                            .is_err()
                        {
                            self.close(slot);
                            return;
                        }
                        if let Some(c) = self.conns[slot].as_mut() {
                            c.registered = true;
                        }
                    }
                    return;
                }
                Ok(ReadOutcome::Eof) | Err(_) => {
                    self.close(slot);
                    return;
                }
            }
        }
    }

    /// Ends a connection after its last answer (or a refusal): closed now,
    /// or lingering until the peer has sent the rest of its request (the
    /// decision is `Conn::after_answer`'s).
    fn shutdown(&mut self, slot: usize) {
        let limits = self.limits;
        let Some(conn) = self.conns[slot].as_mut() else {
            return;
        };
        match conn.after_answer(&limits, false) {
            After::Lingering => self.watch_lingering(slot),
            _ => self.close(slot),
        }
    }

    /// Watches a lingering connection level-triggered: `service` discards
    /// a bounded slice of its input per event, and the connection comes back
    /// in the next wait while more is readable, taking turns with the
    /// others. Closed if it cannot be watched.
    fn watch_lingering(&mut self, slot: usize) {
        let Some(conn) = self.conns[slot].as_ref() else {
            return;
        };
        let (fd, registered) = (conn.raw_fd(), conn.registered);
        let op = if registered {
            libc::EPOLL_CTL_MOD
        } else {
            libc::EPOLL_CTL_ADD
        };
        let events = (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
        if self.epoll_ctl(op, fd, events, slot as u64).is_err() {
            self.close(slot);
        } else if let Some(c) = self.conns[slot].as_mut() {
            c.registered = true;
        }
    }

    fn close(&mut self, slot: usize) {
        let Some(conn) = self.conns[slot].take() else {
            return;
        };
        self.release(conn, slot);
    }

    fn release(&mut self, mut conn: Box<Conn>, slot: usize) {
        conn.close_fd();
        if self.spare.len() < SPARE_MAX {
            self.spare.push(conn);
        }
        self.free_slots.push(slot);
        self.live -= 1;
        if let Some(b) = self.balance {
            b.publish(self.live);
        }
    }

    /// Whether this worker holds more than its share of all the workers'
    /// connections and leaves new ones to the others (see `balance`).
    /// Recomputed at most every `balance::RECHECK_MS`; a connection that
    /// waited in the backlog through two checks is accepted anyway.
    fn leave_to_others(&mut self, now: u64) -> bool {
        let Some(b) = self.balance else {
            return false;
        };
        if now < self.balance_next {
            return self.over_share;
        }
        self.balance_next = now + balance::RECHECK_MS;
        self.hot = b.is_hot(&mut self.served_seen);
        // A hot worker gives up the connection of its next request.
        self.release_next = self.hot && self.live > 1;
        self.over_share = self.hot || self.live > b.share() + balance::ACCEPT_SLACK;
        if !self.over_share {
            self.backlog_seen = false;
            return false;
        }
        let waiting = self
            .listener
            .as_ref()
            .is_some_and(|l| wait_fd(l.fd, libc::POLLIN, 0).is_ok());
        if waiting && self.backlog_seen {
            self.backlog_seen = false;
            return false;
        }
        self.backlog_seen = waiting;
        true
    }

    /// Marks kept-alive connections for release while this worker holds
    /// more than its share + `balance::SHED_SLACK`: each goes back to the
    /// web server after its next answer (`Conn::release`, see
    /// `Request::finish`), never closed between requests, where the close
    /// could cross a request the web server is sending into it.
    fn shed_excess(&mut self) {
        let Some(b) = self.balance else {
            return;
        };
        let share = b.share();
        if self.live <= share + balance::SHED_SLACK {
            return;
        }
        let marked = self.conns.iter().flatten().filter(|c| c.release).count();
        let mut excess = (self.live - share).saturating_sub(marked);
        for c in self.conns.iter_mut().flatten() {
            if excess == 0 {
                break;
            }
            if !c.release && c.phase == Phase::Idle {
                c.release = true;
                excess -= 1;
            }
        }
    }

    /// Makes this server a prefork worker that keeps its share of the
    /// workers' connections (see `balance`); None: serve without it.
    pub(crate) fn set_balance(&mut self, balance: Option<Balance>) {
        if let Some(b) = balance {
            b.publish(self.live);
        }
        self.balance = balance;
        self.over_share = false;
        self.hot = false;
        self.release_next = false;
        self.served_seen.clear();
    }

    /// Puts the connection of the last request back (finishing the request
    /// first if the application did not).
    fn reclaim(&mut self) {
        if self.request.is_active() {
            let _ = self.request.finish(0);
        }
        let Some((mut conn, slot)) = self.request.take_conn() else {
            return;
        };
        if self.away_edges.get(slot).copied().unwrap_or(false) {
            self.away_edges[slot] = false;
            conn.maybe_more = true;
        }
        if conn.dead {
            self.release(conn, slot);
            return;
        }
        if conn.phase == Phase::Lingering {
            // Request::finish half-closed it (Conn::after_answer): read the
            // rest of its input.
            self.conns[slot] = Some(conn);
            self.watch_lingering(slot);
            return;
        }
        if self.draining {
            conn.phase = Phase::Idle;
            self.conns[slot] = Some(conn);
            self.shutdown(slot);
            return;
        }
        conn.phase = Phase::Idle;
        let now = now_ms();
        conn.deadline = now + self.limits.keepalive_timeout_ms;
        let needs_service = conn.buffered() > 0 || conn.maybe_more || !conn.registered;
        self.conns[slot] = Some(conn);
        if needs_service {
            self.service(slot);
        }
        if self.balance.is_some() && now >= self.balance_next {
            self.shed_excess();
        }
    }

    /// Makes sure the sweep timer is ticking; false when it cannot be
    /// (no timerfd), and the wait must then time out for the sweep itself.
    ///
    /// Why a timer descriptor instead of a timeout: a wait with a timeout
    /// arms and cancels a high-resolution timer in the kernel on every call,
    /// which on this VM cost about 0.45 µs of system time per request of a
    /// kept-alive connection (measured on the do-nothing floor server of
    /// `bench/floor`, with and without a timeout). A timerfd is armed once
    /// when connections open and ticks once per `SWEEP_EVERY_MS`, so every
    /// other wait is untimed; it is disarmed at a tick that finds no
    /// connection, so an idle server is not woken.
    fn arm_sweep_timer(&mut self) -> bool {
        if self.sweep_armed {
            return true;
        }
        if self.sweep_timer.is_none() {
            // SAFETY: plain timerfd_create call; the descriptor is owned at once.
            let fd = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if fd < 0 {
                return false;
            }
            // SAFETY: fd is new and owned here.
            let timer = unsafe { OwnedFd::from_raw_fd(fd) };
            if self
                .epoll_ctl(libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN as u32, SWEEP_TOKEN)
                .is_err()
            {
                return false;
            }
            self.sweep_timer = Some(timer);
        }
        let period = libc::timespec {
            tv_sec: (SWEEP_EVERY_MS / 1000) as libc::time_t,
            tv_nsec: ((SWEEP_EVERY_MS % 1000) * 1_000_000) as libc::c_long,
        };
        self.sweep_armed = self.set_sweep_timer(period);
        self.sweep_armed
    }

    /// Sets the sweep timer to tick every `period` (zero: stopped).
    fn set_sweep_timer(&self, period: libc::timespec) -> bool {
        let Some(timer) = self.sweep_timer.as_ref() else {
            return false;
        };
        let spec = libc::itimerspec {
            it_interval: period,
            it_value: period,
        };
        // SAFETY: a timerfd owned by self and a valid itimerspec.
        unsafe { libc::timerfd_settime(timer.as_raw_fd(), 0, &spec, std::ptr::null_mut()) == 0 }
    }

    /// The sweep timer ticked: consumes the tick and stops the timer when
    /// no connection is left to sweep. Whether a sweep is due.
    fn on_sweep_tick(&mut self) -> bool {
        let Some(fd) = self.sweep_timer.as_ref().map(|t| t.as_raw_fd()) else {
            return false;
        };
        let mut ticks = [0u8; 8];
        // SAFETY: an 8-byte buffer for the timerfd's tick count; the
        // descriptor is non-blocking, so a tick already consumed gives EAGAIN.
        unsafe { libc::read(fd, ticks.as_mut_ptr().cast(), ticks.len()) };
        if self.live == 0 {
            let stopped = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            if self.set_sweep_timer(stopped) {
                self.sweep_armed = false;
            }
        }
        true
    }

    fn sweep(&mut self, now: u64) {
        self.next_sweep = now + SWEEP_EVERY_MS;
        for slot in 0..self.conns.len() {
            let expired = self.conns[slot].as_ref().is_some_and(|c| {
                matches!(c.phase, Phase::Idle | Phase::Params | Phase::Lingering)
                    && now >= c.deadline
            });
            if expired {
                self.close(slot);
            }
        }
    }

    /// The listening descriptor, taking over fd 0 when it is a listening
    /// socket handed over by a web server and nothing was bound. For a
    /// supervisor that forks workers before any accept.
    pub fn prepare_listener(&mut self) -> Result<RawFd> {
        self.ensure_listener()?;
        self.listener_fd()
            .ok_or_else(|| Error::state("no listening socket"))
    }

    /// Finishes the request handed out by the last `accept` (if the
    /// application did not) and takes its connection back now instead of at
    /// the next `accept` (closing it when draining).
    pub fn release_request(&mut self) {
        self.reclaim();
    }

    /// While waiting for events, replace the thread's signal mask with `mask`
    /// (epoll_pwait). None waits with the current mask.
    pub fn set_wait_sigmask(&mut self, mask: Option<libc::sigset_t>) {
        self.wait_sigmask = mask;
    }

    /// Starts a graceful stop: the listening socket is no longer watched (it
    /// is not closed), idle kept-alive connections are closed, and every
    /// other connection is closed once its request (already being assembled
    /// or queued) has been served. With `take_backlog`, connections already
    /// waiting in the listen backlog are accepted first (bounded by
    /// `max_conns`): the web server has sent their requests, and on a final
    /// stop nobody else would answer them. The stop is complete when
    /// `connection_count()` is 0. Cost: one pass over the connection table.
    pub fn begin_drain(&mut self, take_backlog: bool) {
        self.draining = true;
        // A retiring worker's table slot belongs to its successor now.
        self.set_balance(None);
        let _ = self.update_listener_interest();
        for slot in 0..self.conns.len() {
            let idle = self.conns[slot]
                .as_ref()
                .is_some_and(|c| c.phase == Phase::Idle);
            if !idle {
                continue;
            }
            // Bytes already sent on it make it a request in flight. Their
            // edge may still be queued in epoll: look at the socket itself.
            if let Some(c) = self.conns[slot].as_mut() {
                c.maybe_more = true;
            }
            self.service(slot);
            let still_idle = self.conns[slot]
                .as_ref()
                .is_some_and(|c| c.phase == Phase::Idle && c.buffered() == 0);
            if still_idle {
                // The rest of its last request may still be on its way.
                self.shutdown(slot);
            }
        }
        if take_backlog && self.listener.is_some() {
            // Bounded: each batch accepts at most ACCEPT_BATCH_MAX, and the
            // loop ends at an empty backlog or max_conns.
            for _ in 0..(self.limits.max_conns / ACCEPT_BATCH_MAX + 1) {
                let before = self.live;
                self.accept_budget = ACCEPT_BATCH_MAX;
                self.accept_batch(true);
                if self.live == before || self.live >= self.limits.max_conns {
                    break;
                }
            }
        }
    }

    /// Ends a drain begun with `begin_drain`: the listener is watched again
    /// at the next accept (for a process that serves again later).
    pub fn end_drain(&mut self) {
        self.draining = false;
    }

    /// Whether a drain is in progress.
    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// Connections currently open (including the one being served).
    pub fn connection_count(&self) -> usize {
        self.live
    }

    /// Before the server goes away, lingering connections read the rest of
    /// their input, blocking, each bounded by its own linger deadline and
    /// byte limit: a program that exits right after its last answer loses
    /// none of it.
    fn finish_lingering(&mut self) {
        let limits = self.limits;
        for conn in self.conns.iter_mut().flatten() {
            if conn.phase != Phase::Lingering {
                continue;
            }
            // Each pass reads (bounded bytes) or waits until the deadline.
            while conn.discard_owed_input(&limits) == Discard::Pending {
                let left = conn.deadline.saturating_sub(now_ms());
                if left == 0 || wait_fd(conn.raw_fd(), libc::POLLIN, left).is_err() {
                    break;
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.reclaim();
        self.finish_lingering();
        let _ = self.unbind();
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::{self as rec, Header};
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    /// One kept-alive GET: BEGIN, PARAMS, end of PARAMS, empty STDIN.
    fn get_request(id: u16) -> Vec<u8> {
        let mut v = Vec::new();
        rec::put_header(&mut v, rec::BEGIN_REQUEST, id, 8);
        v.extend_from_slice(&[0, 1, 1, 0, 0, 0, 0, 0]);
        let mut pairs = Vec::new();
        rec::put_pair(&mut pairs, b"SCRIPT_NAME", b"/drain");
        rec::put_stream(&mut v, rec::PARAMS, id, &pairs);
        rec::put_stream(&mut v, rec::PARAMS, id, b"");
        rec::put_stream(&mut v, rec::STDIN, id, b"");
        v
    }

    /// Reads until an END_REQUEST record arrived; false on EOF or timeout.
    fn answered(client: &mut UnixStream) -> bool {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        for _ in 0..1000 {
            let mut at = 0;
            while let Ok(Some(h)) = Header::parse(&buf[at..]) {
                if buf.len() - at < h.record_len() {
                    break;
                }
                if h.kind == rec::END_REQUEST {
                    return true;
                }
                at += h.record_len();
            }
            match client.read(&mut chunk) {
                Ok(0) | Err(_) => return false,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        false
    }

    /// A server bound to a unix socket in a scratch dir, and a client
    /// connected to it (5 s read timeout).
    fn bound_with_client(name: &str) -> (std::path::PathBuf, Server, UnixStream) {
        let dir = crate::fsutil::scratch_dir(name);
        let path = dir.join("s.sock");
        let mut server = Server::new();
        server.bind(path.to_str().unwrap(), 8).unwrap();
        let client = UnixStream::connect(&path).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        (dir, server, client)
    }

    fn serve_one(server: &mut Server, client: &mut UnixStream) {
        let req = server.accept(5000).expect("a request");
        req.write(b"Content-Type: text/plain\r\n\r\nok").unwrap();
        req.finish(0).unwrap();
        assert!(answered(client));
        server.release_request();
    }

    /// A request sent on an idle kept-alive connection whose last read came
    /// back short: the loop reads it only when epoll reports the edge. A
    /// graceful stop that starts before that must still find it (the drain
    /// serves requests already sent) instead of closing the connection.
    #[test]
    fn drain_finds_a_request_whose_edge_is_not_collected_yet() {
        let (dir, mut server, mut client) = bound_with_client("drain");
        // The first request registers the connection with epoll; after the
        // second, its buffered empty STDIN is consumed without a read.
        for id in 1..=2 {
            client.write_all(&get_request(id)).unwrap();
            serve_one(&mut server, &mut client);
        }
        client.write_all(&get_request(3)).unwrap();
        server.begin_drain(false);
        serve_one(&mut server, &mut client);
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A whole request of `role` with one STDIN and (for a FILTER) one DATA
    /// stream.
    fn role_request(id: u16, role: u16, keep: bool, stdin: &[u8], data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        rec::put_header(&mut v, rec::BEGIN_REQUEST, id, 8);
        let r = role.to_be_bytes();
        v.extend_from_slice(&[r[0], r[1], u8::from(keep), 0, 0, 0, 0, 0]);
        rec::put_stream(&mut v, rec::PARAMS, id, b"");
        rec::put_stream(&mut v, rec::STDIN, id, stdin);
        rec::put_stream(&mut v, rec::STDIN, id, b"");
        if role == rec::ROLE_FILTER {
            rec::put_stream(&mut v, rec::DATA, id, data);
            rec::put_stream(&mut v, rec::DATA, id, b"");
        }
        v
    }

    /// The STDOUT bytes and END_REQUEST (app status, protocol status) of one
    /// answer; None on EOF or timeout first.
    fn answer(client: &mut UnixStream) -> Option<(Vec<u8>, u32, u8)> {
        let mut buf = Vec::new();
        let mut out = Vec::new();
        let mut chunk = [0u8; 4096];
        for _ in 0..1000 {
            while let Ok(Some(h)) = Header::parse(&buf) {
                if buf.len() < h.record_len() {
                    break;
                }
                let content = &buf[rec::HEADER_LEN..rec::HEADER_LEN + usize::from(h.content_len)];
                match h.kind {
                    rec::STDOUT => out.extend_from_slice(content),
                    rec::END_REQUEST => {
                        let app =
                            u32::from_be_bytes([content[0], content[1], content[2], content[3]]);
                        return Some((out, app, content[4]));
                    }
                    _ => {}
                }
                buf.drain(..h.record_len());
            }
            match client.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        None
    }

    fn client(path: &std::path::Path) -> UnixStream {
        let c = UnixStream::connect(path).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c
    }

    fn bound(tag: &str) -> (Server, std::path::PathBuf, std::path::PathBuf) {
        let dir = crate::fsutil::scratch_dir(tag);
        let path = dir.join("s.sock");
        let mut server = Server::new();
        server.bind(path.to_str().unwrap(), 64).unwrap();
        (server, dir, path)
    }

    /// The sweep runs on the timer descriptor's ticks (every wait is
    /// untimed): a silent connection past its read timeout
    /// is closed at the next tick, a request on another connection is
    /// served meanwhile, and the tick that finds no connection stops the
    /// timer so an idle server is not woken.
    #[test]
    fn the_sweep_timer_closes_idle_connections_and_stops_when_none_are_left() {
        let (mut server, dir, path) = bound("sweep-timer");
        server.set_limits(Limits {
            keepalive_timeout_ms: 200,
            read_timeout_ms: 200,
            ..Limits::default()
        });
        let mut idle = client(&path);
        let mut busy = client(&path);
        busy.write_all(&get_request(1)).unwrap();
        let req = server.accept(5000).expect("the busy connection's request");
        req.write(b"Content-Type: text/plain\r\n\r\nok").unwrap();
        req.finish(0).unwrap();
        assert!(answered(&mut busy));
        drop(busy);
        assert!(server.sweep_armed, "connections are open: the timer ticks");
        // Nothing more comes: the wait ends only by its deadline, after the
        // ticks have closed the idle connection (200 ms + at most a tick).
        let started = std::time::Instant::now();
        let err = server.accept(2600).map(|_| ()).unwrap_err();
        assert_eq!(err.status, SMISK_ERR_TIMEOUT);
        let mut byte = [0u8; 1];
        assert_eq!(idle.read(&mut byte).unwrap(), 0, "closed by the sweep");
        assert!(started.elapsed() < Duration::from_secs(4));
        assert_eq!(server.live, 0);
        assert!(!server.sweep_armed, "no connection left: the timer stopped");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Four worker threads serve the requests of eight kept-alive
    /// connections that one server hands out: every request is answered,
    /// and each connection goes on after its request came back from a
    /// worker (its next request may already be buffered when it does).
    #[test]
    fn requests_served_on_other_threads_come_back_through_returns() {
        let (mut server, dir, path) = bound("handoff");
        let returns = server.returns().unwrap();
        let (to_workers, from_server) = std::sync::mpsc::channel::<Request>();
        let from_server = std::sync::Arc::new(std::sync::Mutex::new(from_server));
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (rx, returns) = (from_server.clone(), returns.clone());
                std::thread::spawn(move || loop {
                    let Ok(mut req) = rx.lock().unwrap().recv() else {
                        return;
                    };
                    std::thread::sleep(Duration::from_millis(1));
                    req.write(format!("id {}", req.id()).as_bytes()).unwrap();
                    req.finish(0).unwrap();
                    returns.give_back(req);
                })
            })
            .collect();
        const CONNS: usize = 8;
        const ROUNDS: u16 = 10;
        let clients: Vec<_> = (0..CONNS)
            .map(|_| {
                let mut c = client(&path);
                std::thread::spawn(move || {
                    for id in 1..=ROUNDS {
                        // Two requests back to back now and then: the second
                        // is buffered when the first comes back.
                        c.write_all(&get_request(id)).unwrap();
                        let (out, _, _) = answer(&mut c).expect("answered");
                        assert!(out.ends_with(format!("id {id}").as_bytes()));
                    }
                })
            })
            .collect();
        for _ in 0..CONNS * usize::from(ROUNDS) {
            let req = server.accept_owned(5000).expect("a request");
            to_workers.send(req).unwrap();
        }
        for c in clients {
            c.join().unwrap();
        }
        drop(to_workers);
        for w in workers {
            w.join().unwrap();
        }
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_interrupt_fd_ends_the_wait_after_the_ready_requests() {
        let (mut server, dir, path) = bound("interrupt");
        // SAFETY: plain eventfd call; owned immediately.
        let efd = unsafe { OwnedFd::from_raw_fd(libc::eventfd(0, libc::EFD_CLOEXEC)) };
        server.set_interrupt_fd(Some(efd.as_raw_fd()));
        assert_eq!(
            server.accept(50).err().map(|e| e.status),
            Some(crate::status::SMISK_ERR_TIMEOUT)
        );
        let mut c = client(&path);
        c.write_all(&get_request(1)).unwrap();
        let one: u64 = 1;
        // SAFETY: 8 bytes from a valid u64 to our eventfd.
        let wrote = unsafe { libc::write(efd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        assert_eq!(wrote, 8);
        std::thread::sleep(Duration::from_millis(20));
        // The request that is there is served first ...
        server.accept(1000).expect("the request").finish(0).unwrap();
        assert!(answer(&mut c).is_some());
        // ... then the wait ends at once, and again until the caller drains
        // the descriptor or stops watching it.
        for _ in 0..2 {
            assert_eq!(
                server.accept(-1).err().map(|e| e.status),
                Some(SMISK_ERR_INTERRUPTED)
            );
        }
        server.set_interrupt_fd(None);
        assert_eq!(
            server.accept(50).err().map(|e| e.status),
            Some(crate::status::SMISK_ERR_TIMEOUT)
        );
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn authorizer_and_filter_roles_are_served_when_asked_for() {
        let (mut server, dir, path) = bound("roles");
        let mut c = client(&path);
        c.write_all(&role_request(1, rec::ROLE_AUTHORIZER, true, b"", b""))
            .unwrap();
        assert!(server.accept(200).is_err(), "refused, not handed out");
        let refused = answer(&mut c).expect("an answer");
        assert_eq!((refused.0.len(), refused.2), (0, rec::UNKNOWN_ROLE));
        drop(c);
        server.set_roles(true, true);
        let mut c = client(&path);
        c.write_all(&role_request(2, rec::ROLE_AUTHORIZER, true, b"", b""))
            .unwrap();
        let req = server.accept(5000).unwrap();
        assert_eq!(req.role(), rec::ROLE_AUTHORIZER);
        assert!(req.start_data().is_err());
        req.write_stdout(b"Status: 200 OK\r\n\r\n").unwrap();
        req.finish(0).unwrap();
        assert_eq!(answer(&mut c).unwrap().0, b"Status: 200 OK\r\n\r\n");
        c.write_all(&role_request(
            3,
            rec::ROLE_FILTER,
            true,
            b"form",
            b"the file",
        ))
        .unwrap();
        let req = server.accept(5000).unwrap();
        assert_eq!(req.role(), rec::ROLE_FILTER);
        let mut buf = [0u8; 64];
        assert!(req.start_data().is_err(), "before the end of STDIN");
        let n = req.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"form");
        req.start_data().unwrap();
        let n = req.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"the file");
        req.write(b"filtered").unwrap();
        req.finish(0).unwrap();
        assert!(answer(&mut c).unwrap().0.ends_with(b"filtered"));
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn raw_output_adds_no_header_block_and_a_dropped_connection_gets_no_answer() {
        let (mut server, dir, path) = bound("raw");
        let mut c = client(&path);
        c.write_all(&get_request(1)).unwrap();
        let req = server.accept(5000).unwrap();
        req.begin_raw().unwrap();
        assert!(req.add_header(b"X-A: 1").is_err());
        req.finish(7).unwrap();
        assert_eq!(answer(&mut c), Some((Vec::new(), 7, rec::REQUEST_COMPLETE)));
        c.write_all(&get_request(2)).unwrap();
        let req = server.accept(5000).unwrap();
        req.write_stdout(b"lost").unwrap();
        req.drop_connection();
        assert!(!req.is_active());
        assert_eq!(answer(&mut c), None, "EOF without an answer");
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// What a request keeps until its answer is complete (a parsed form's
    /// temp files) is dropped by finish, after the last byte was sent, and
    /// not before.
    #[test]
    fn finish_drops_what_waits_for_the_answer_after_sending_it() {
        struct Flag(std::sync::Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let (dir, mut server, mut client) = bound_with_client("after-finish");
        client.write_all(&get_request(1)).unwrap();
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let req = server.accept(5000).expect("a request");
        req.drop_after_finish(Box::new(Flag(dropped.clone())));
        req.write(b"Content-Type: text/plain\r\n\r\nok").unwrap();
        req.flush().unwrap();
        assert!(
            !dropped.load(std::sync::atomic::Ordering::SeqCst),
            "kept while the request is active"
        );
        req.finish(0).unwrap();
        assert!(
            dropped.load(std::sync::atomic::Ordering::SeqCst),
            "dropped once the answer is complete"
        );
        assert!(answered(&mut client));
        // A finished request drops at once.
        let late = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        req.drop_after_finish(Box::new(Flag(late.clone())));
        assert!(late.load(std::sync::atomic::Ordering::SeqCst));
        server.release_request();
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Connects `n` times in a row, one request per connection (keep-conn
    /// off), and returns how many were answered; `late_ms` waits between
    /// connecting and sending.
    fn one_per_connection(
        path: std::path::PathBuf,
        n: usize,
        late_ms: u64,
    ) -> std::thread::JoinHandle<usize> {
        std::thread::spawn(move || {
            let mut ok = 0;
            for _ in 0..n {
                let mut c = client(&path);
                if late_ms > 0 {
                    std::thread::sleep(Duration::from_millis(late_ms));
                }
                c.write_all(&role_request(1, rec::ROLE_RESPONDER, false, b"", b""))
                    .unwrap();
                if answer(&mut c).is_some_and(|(_, app, proto)| app == 0 && proto == 0) {
                    ok += 1;
                }
            }
            ok
        })
    }

    /// Serves `n` requests with `accept(-1)` (the wait that may block in
    /// accept), answering each.
    fn serve_forever_style(server: &mut Server, n: usize) {
        for _ in 0..n {
            let req = server.accept(-1).expect("a request");
            req.write(b"Content-Type: text/plain\r\n\r\nok").unwrap();
            req.finish(0).unwrap();
        }
    }

    /// If a test's client never shows up, connect once after `secs` so a
    /// blocked accept returns (the test then fails on what it got).
    fn unblock_after(path: std::path::PathBuf, secs: u64) {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            if let Ok(mut c) = UnixStream::connect(&path) {
                let _ = c.write_all(&role_request(1, rec::ROLE_RESPONDER, false, b"", b""));
                std::thread::sleep(Duration::from_millis(500));
            }
        });
    }

    fn listener_blocking(server: &Server) -> bool {
        server.listener.as_ref().is_some_and(|l| l.blocking)
    }

    /// Whether the listener may have been switched to blocking mode: no
    /// fork since it was installed (other tests of this process fork, and
    /// a fork rightly turns the blocking accept off).
    fn no_fork_since_bind(server: &Server) -> bool {
        server
            .listener
            .as_ref()
            .is_some_and(|l| l.epoch == fork_epoch())
    }

    /// A connection per request with nothing else to watch: the server waits
    /// in accept(2) itself (the listener in blocking mode), and every request
    /// is answered.
    #[test]
    fn a_connection_per_request_is_waited_for_in_accept() {
        let (mut server, dir, path) = bound("blockacc");
        let client = one_per_connection(path.clone(), 30, 0);
        serve_forever_style(&mut server, 30);
        assert_eq!(client.join().unwrap(), 30);
        if no_fork_since_bind(&server) {
            assert!(listener_blocking(&server));
            assert!(server.block_stint >= 29, "{}", server.block_stint);
        }
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// After blocking accepts: a kept-alive connection, a second connection
    /// while it is open, and a connection that sends late are all served.
    /// The listener goes back to non-blocking mode before the epoll path
    /// accepts (its probing accept must not block), and a stint too short
    /// to pay for its switches holds the blocking accept off.
    #[test]
    fn connections_that_must_be_watched_leave_blocking_accept() {
        let (mut server, dir, path) = bound("blockmix");
        unblock_after(path.clone(), 20);
        let first = one_per_connection(path.clone(), 5, 0);
        serve_forever_style(&mut server, 5);
        assert_eq!(first.join().unwrap(), 5);
        let unforked = no_fork_since_bind(&server);
        assert!(listener_blocking(&server) || !unforked);

        let mut kept = client(&path);
        kept.write_all(&role_request(1, rec::ROLE_RESPONDER, true, b"", b""))
            .unwrap();
        serve_forever_style(&mut server, 1);
        assert!(answer(&mut kept).is_some());
        // The kept connection is open: the next wait is epoll's.
        let other = one_per_connection(path.clone(), 1, 0);
        serve_forever_style(&mut server, 1);
        assert_eq!(other.join().unwrap(), 1);
        assert!(
            !listener_blocking(&server),
            "switched back for the epoll path"
        );
        kept.write_all(&role_request(2, rec::ROLE_RESPONDER, true, b"", b""))
            .unwrap();
        serve_forever_style(&mut server, 1);
        assert!(answer(&mut kept).is_some());
        drop(kept);

        // A connection whose request comes after it was accepted.
        let late = one_per_connection(path.clone(), 3, 50);
        serve_forever_style(&mut server, 3);
        assert_eq!(late.join().unwrap(), 3);
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A stint of one connection (then an epoll wait) does not pay for its
    /// two switches: the next idle points wait in epoll.
    #[test]
    fn short_blocking_stints_hold_the_blocking_accept_off() {
        let (mut server, dir, path) = bound("blockhold");
        unblock_after(path.clone(), 20);
        for round in 0..3 {
            // A kept-alive connection (taken by the blocking accept, then
            // watched in epoll, which switches the listener back), and one
            // more while it is open.
            let mut kept = client(&path);
            kept.write_all(&role_request(1, rec::ROLE_RESPONDER, true, b"", b""))
                .unwrap();
            serve_forever_style(&mut server, 1);
            assert!(answer(&mut kept).is_some(), "round {round}");
            let quick = one_per_connection(path.clone(), 1, 0);
            serve_forever_style(&mut server, 1);
            assert_eq!(quick.join().unwrap(), 1, "round {round}");
            drop(kept);
        }
        if no_fork_since_bind(&server) {
            assert!(server.block_holdoff > 0, "{}", server.block_holdoff);
        }
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The connection the blocking accept takes is read with a blocking
    /// read, bounded by the receive timeout it inherits from the listener:
    /// a peer that connects and says nothing holds the process up for that
    /// long once (others wait in the backlog, and are served), then the
    /// server waits in epoll; the silent connection stays open and its
    /// request, when it comes, is answered.
    #[test]
    fn a_silent_peer_holds_the_blocking_accept_up_for_one_timeout_only() {
        let (mut server, dir, path) = bound("blocksilent");
        unblock_after(path.clone(), 20);
        let warm = one_per_connection(path.clone(), 2, 0);
        serve_forever_style(&mut server, 2);
        assert_eq!(warm.join().unwrap(), 2);
        let blocking = no_fork_since_bind(&server) && listener_blocking(&server);
        let mut silent = client(&path);
        std::thread::sleep(Duration::from_millis(50));
        let quick = one_per_connection(path.clone(), 3, 0);
        let t0 = std::time::Instant::now();
        serve_forever_style(&mut server, 3);
        let took = t0.elapsed();
        assert_eq!(quick.join().unwrap(), 3);
        assert!(took < Duration::from_secs(4), "{took:?}");
        if blocking {
            let timeout = Duration::from_secs(BLOCKING_ACCEPT_TIMEOUT_S as u64);
            assert!(took >= timeout - Duration::from_millis(100), "{took:?}");
            assert!(
                server.block_holdoff > BLOCK_HOLDOFF_MAX / 2,
                "{}",
                server.block_holdoff
            );
        }
        silent
            .write_all(&role_request(1, rec::ROLE_RESPONDER, false, b"", b""))
            .unwrap();
        serve_forever_style(&mut server, 1);
        assert!(answer(&mut silent).is_some());
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    extern "C" fn ignore_signal(_: libc::c_int) {}

    /// A signal ends the blocking accept as it ends the epoll wait, even
    /// with a SA_RESTART handler (the listener's receive timeout makes
    /// accept never restart).
    #[test]
    fn a_signal_ends_the_blocking_accept() {
        let (mut server, dir, path) = bound("blocksig");
        unblock_after(path.clone(), 10);
        let first = one_per_connection(path.clone(), 2, 0);
        serve_forever_style(&mut server, 2);
        assert_eq!(first.join().unwrap(), 2);
        // SAFETY: installs a no-op handler for SIGUSR2 (restored below).
        let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
        act.sa_sigaction = ignore_signal as extern "C" fn(libc::c_int) as usize;
        act.sa_flags = libc::SA_RESTART;
        // SAFETY: as above; old receives the previous action.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: valid sigaction buffers.
        assert_eq!(unsafe { libc::sigaction(libc::SIGUSR2, &act, &mut old) }, 0);
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() } as u64;
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            // SAFETY: the test thread is alive: it waits for this signal.
            unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGUSR2) };
        });
        let t0 = std::time::Instant::now();
        let got = server.accept(-1).map(|_| ()).map_err(|e| e.status);
        // SAFETY: restores the previous action.
        unsafe { libc::sigaction(libc::SIGUSR2, &old, std::ptr::null_mut()) };
        assert_eq!(got, Err(SMISK_ERR_INTERRUPTED));
        assert!(t0.elapsed() < Duration::from_secs(5));
        assert!(listener_blocking(&server) || !no_fork_since_bind(&server));
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// After a fork the listener may have another acceptor: the wait stays
    /// epoll's.
    #[test]
    fn a_listener_a_fork_copied_is_not_waited_for_in_accept() {
        let (mut server, dir, path) = bound("blockfork");
        // SAFETY: the child only calls _exit (async-signal safe).
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: leaving the child at once.
            unsafe { libc::_exit(0) };
        }
        assert!(pid > 0);
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        let client = one_per_connection(path.clone(), 3, 0);
        serve_forever_style(&mut server, 3);
        assert_eq!(client.join().unwrap(), 3);
        assert!(!listener_blocking(&server));
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A keep-conn request whose params name the web server.
    fn request_from(software: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        rec::put_header(&mut v, rec::BEGIN_REQUEST, 1, 8);
        v.extend_from_slice(&[0, 1, rec::FLAG_KEEP_CONN, 0, 0, 0, 0, 0]);
        let mut pairs = Vec::new();
        rec::put_pair(&mut pairs, b"SERVER_SOFTWARE", software);
        rec::put_stream(&mut v, rec::PARAMS, 1, &pairs);
        rec::put_stream(&mut v, rec::PARAMS, 1, b"");
        rec::put_stream(&mut v, rec::STDIN, 1, b"");
        v
    }

    /// Every byte the client gets until EOF or a 1 s quiet spell, and
    /// whether it ended in EOF.
    fn read_all(client: &mut UnixStream) -> (Vec<u8>, bool) {
        client
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        let mut out = Vec::new();
        let mut chunk = [0u8; 4096];
        for _ in 0..1000 {
            match client.read(&mut chunk) {
                Ok(0) => return (out, true),
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(_) => return (out, false),
            }
        }
        (out, false)
    }

    /// Record types and request ids, in order.
    fn records(mut buf: &[u8]) -> Vec<(u8, u16)> {
        let mut out = Vec::new();
        while let Ok(Some(h)) = Header::parse(buf) {
            out.push((h.kind, h.request_id));
            buf = &buf[h.record_len().min(buf.len())..];
        }
        out
    }

    /// A released connection of nginx ends with an empty GET_VALUES_RESULT
    /// after END_REQUEST (nginx then does not reuse it), then closes; one
    /// of another web server stays open and serves its next request.
    #[test]
    fn a_release_goes_with_the_answer_and_only_to_nginx() {
        let (mut server, dir, path) = bound("release");
        let mut nginx = client(&path);
        nginx.write_all(&request_from(b"nginx/1.22.1")).unwrap();
        server.release_next = true;
        serve_one_kept(&mut server);
        let (bytes, eof) = read_all(&mut nginx);
        let kinds = records(&bytes);
        assert_eq!(
            &kinds[kinds.len() - 2..],
            &[(rec::END_REQUEST, 1), (rec::GET_VALUES_RESULT, 0)],
            "{kinds:?}"
        );
        assert!(eof, "closed after the release");

        let mut apache = client(&path);
        apache
            .write_all(&request_from(b"Apache/2.4.62 (Debian)"))
            .unwrap();
        server.release_next = true;
        serve_one_kept(&mut server);
        let (bytes, eof) = read_all(&mut apache);
        assert_eq!(records(&bytes).last(), Some(&(rec::END_REQUEST, 1)));
        assert!(!eof, "Apache's connection stays");
        apache
            .write_all(&request_from(b"Apache/2.4.62 (Debian)"))
            .unwrap();
        serve_one_kept(&mut server);
        assert_eq!(
            records(&read_all(&mut apache).0).last(),
            Some(&(rec::END_REQUEST, 1))
        );
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn serve_one_kept(server: &mut Server) {
        let req = server.accept(5000).expect("a request");
        req.write(b"Content-Type: text/plain\r\n\r\nok").unwrap();
        req.finish(0).unwrap();
        server.release_request();
    }
}
