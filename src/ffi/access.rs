//! C API of who may talk to the application: the TCP peer allow-list
//! (`smisk_server_set_allow`, `smisk_server_clear_allow`,
//! `smisk_server_get_allow`) and the unix socket file's mode, owner and
//! group (`smisk_server_set_socket_ownership`). Every decision (the list
//! syntax, the default, the mode) is made in `crate::fcgi::peer` and
//! `crate::fcgi::ownership`; this file only converts arguments.

use super::{arg_mut, arg_ref, arg_str, copy_out, guard};
use crate::fcgi::ownership::SocketOwnership;
use crate::fcgi::peer::{AllowList, Source};
use crate::fcgi::Server;
use libc::c_char;

/// Where the allow-list in force comes from (smisk_server_get_allow()).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum smisk_allow_source {
    /// Set with smisk_server_set_allow().
    SMISK_ALLOW_SOURCE_SET = 0,
    /// The environment variable FCGI_WEB_SERVER_ADDRS.
    SMISK_ALLOW_SOURCE_ENV = 1,
    /// Nothing set: the default, loopback peers only.
    SMISK_ALLOW_SOURCE_DEFAULT = 2,
}

/// Sets the TCP peer allow-list: the web servers whose connections are
/// served. A connection from any other address is closed right after
/// accept, before a byte of it is read (the application never sees it),
/// and logged to stderr once per address (at most 10 lines a minute).
///
/// list (list_len bytes, UTF-8, no NUL needed) holds entries separated by
/// commas and/or white space: IPv4 or IPv6 addresses ("10.0.0.5", "::1",
/// "[::1]"), CIDR networks ("10.0.0.0/8", "fd00::/8"), or "any" to admit
/// every peer. A dual-stack IPv6 socket sees IPv4 peers as ::ffff:a.b.c.d;
/// they are matched against the IPv4 entries. Host names are not resolved.
///
/// Without a list set here, the environment variable FCGI_WEB_SERVER_ADDRS
/// (same form, libfcgi's name) applies when set and not blank; else the
/// default, loopback peers only (127.0.0.0/8 and ::1): a listener on a
/// loopback address needs no list, and one on any other address (such as
/// "*:9000") refuses every remote peer, which a warning on stderr says when
/// serving starts. The list applies to TCP listeners (bound, adopted or fd
/// 0); a unix socket is guarded by its file permissions
/// (smisk_server_set_socket_ownership()). It takes effect at the next
/// smisk_server_accept() or smisk_run(); with forks, workers inherit it.
///
/// Errors: SMISK_ERR_NULL, SMISK_ERR_INVALID (an entry that is not an
/// address, network or "any"; a network with host bits set such as
/// "10.0.0.1/8"; an empty list; more than 1024 entries). On error the list
/// in force is unchanged: a malformed list never admits anyone.
#[no_mangle]
pub unsafe extern "C" fn smisk_server_set_allow(
    server: *mut Server,
    list: *const c_char,
    list_len: usize,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `server` and `list` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let server = arg_mut(server, "server")?;
            if list.is_null() {
                return Err(crate::Error::new(
                    crate::status::SMISK_ERR_NULL,
                    "list is NULL (smisk_server_clear_allow() removes a list)",
                ));
            }
            let text = arg_str(list.cast(), list_len, "list")?;
            server.set_allow(Some(AllowList::parse(text)?));
            Ok(())
        })
    }
}

/// Removes a list set with smisk_server_set_allow(): FCGI_WEB_SERVER_ADDRS,
/// else the loopback-only default, applies again from the next accept.
#[no_mangle]
pub unsafe extern "C" fn smisk_server_clear_allow(server: *mut Server) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `server` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            arg_mut(server, "server")?.set_allow(None);
            Ok(())
        })
    }
}

/// Writes the allow-list that applies (or will at the next accept) into buf
/// in canonical form (not NUL-terminated; *out_len receives its length):
/// entries joined by ',' ("127.0.0.0/8,::1" for the default, "any" when
/// every peer is admitted). out_source may be NULL; otherwise it receives
/// where the list comes from. SMISK_ERR_INVALID when FCGI_WEB_SERVER_ADDRS
/// is malformed; SMISK_ERR_BUFFER_TOO_SMALL (with the needed length in
/// *out_len) when cap is too small.
#[no_mangle]
pub unsafe extern "C" fn smisk_server_get_allow(
    server: *const Server,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
    out_source: *mut smisk_allow_source,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `server`, `buf`, `out_len` and
    // `out_source` are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn
    // NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let server = arg_ref(server, "server")?;
            let (list, source) = server.allow_list()?;
            copy_out(list.to_string().as_bytes(), buf.cast(), cap, out_len)?;
            if let Some(out) = out_source.as_mut() {
                *out = match source {
                    Source::Set => smisk_allow_source::SMISK_ALLOW_SOURCE_SET,
                    Source::Env => smisk_allow_source::SMISK_ALLOW_SOURCE_ENV,
                    Source::Default => smisk_allow_source::SMISK_ALLOW_SOURCE_DEFAULT,
                };
            }
            Ok(())
        })
    }
}

/// Sets the mode, owner and group of the unix socket file that the next
/// smisk_server_bind() creates. The file has them before it appears at its
/// path (the socket is bound and listening in a private directory, then
/// linked into place), so no client ever sees it more open than asked and
/// the umask plays no part.
///
/// mode: permission bits (0 to 0777), or any negative value for the
/// default, 0660: the owner and the group can connect, nobody else (run
/// the web server as a member of the socket's group). owner, group: a user
/// or group name, or a numeric id, of owner_len / group_len bytes (UTF-8);
/// NULL with length 0 keeps the process's own. Names are looked up now.
/// Giving the socket to another owner needs root, and the group must be one
/// the process belongs to; otherwise smisk_server_bind() fails with
/// SMISK_ERR_IO (EPERM) and creates nothing.
///
/// Each call replaces the whole previous setting. While anything but the
/// default is set, binding a TCP address fails with SMISK_ERR_INVALID.
/// Adopted sockets and fd 0 are never changed.
///
/// Errors: SMISK_ERR_NULL (server NULL, or owner / group NULL with a
/// non-zero length), SMISK_ERR_INVALID (mode beyond 0777, a user or group
/// that does not exist, text that is not UTF-8). On error the previous
/// setting stays.
#[no_mangle]
pub unsafe extern "C" fn smisk_server_set_socket_ownership(
    server: *mut Server,
    mode: i32,
    owner: *const c_char,
    owner_len: usize,
    group: *const c_char,
    group_len: usize,
) -> crate::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `server`, `owner` and `group` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let server = arg_mut(server, "server")?;
            let owner = arg_str(owner.cast(), owner_len, "owner")?;
            let group = arg_str(group.cast(), group_len, "group")?;
            let own = SocketOwnership::new(
                u32::try_from(mode).ok(),
                (!owner.is_empty()).then_some(owner),
                (!group.is_empty()).then_some(group),
            )?;
            server.set_socket_ownership(own);
            Ok(())
        })
    }
}
