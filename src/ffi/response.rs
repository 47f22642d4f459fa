//! C API of the response helpers: `Set-Cookie` values, the request URL,
//! sending files, and the built-in error page (`crate::response`,
//! `crate::codec::request_url`). Only argument conversion happens here.

use super::codec::smisk_url;
use super::{arg_bytes, arg_mut, free_handle, give_bytes, guard, guard_value, into_handle};
use crate::fcgi::request::Request;
use crate::response::cookie::{self, SameSite};
use crate::response::{error_page, header, sendfile};
use crate::status::{smisk_status, Error, Result, SMISK_ERR_NULL};
use std::os::raw::c_char;

/// Attributes for smisk_cookie_format. Fill it with smisk_cookie_options_init
/// (a session cookie without attributes), then change what you need. The
/// pointed-to texts are only read during the smisk_cookie_format call.
///
/// - `path`/`path_len`, `domain`/`domain_len`: NULL for no Path / Domain
///   attribute; otherwise non-empty printable ASCII without ';' (written as
///   given, not percent-encoded), else SMISK_ERR_INVALID.
/// - `max_age`: below 0 a session cookie (no Max-Age, no Expires); 0 or more
///   gives "Max-Age=N; Expires=<date of now + N>" (for 0 the date is
///   Thu, 01 Jan 1970 00:00:00 GMT; dates stop at 31 Dec 9999).
/// - `secure`, `http_only`: add "; Secure", "; HttpOnly".
/// - `same_site`/`same_site_len`: NULL for none; "strict", "lax" or "none"
///   in any case gives "SameSite=Strict|Lax|None"; anything else is
///   SMISK_ERR_INVALID.
/// - `now`: the Unix time Expires counts from; -1 (the default) means the
///   current time. Other negative values are SMISK_ERR_INVALID.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct smisk_cookie_options {
    pub path: *const u8,
    pub path_len: usize,
    pub domain: *const u8,
    pub domain_len: usize,
    pub max_age: i64,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: *const u8,
    pub same_site_len: usize,
    pub now: i64,
}

impl Default for smisk_cookie_options {
    fn default() -> Self {
        smisk_cookie_options {
            path: std::ptr::null(),
            path_len: 0,
            domain: std::ptr::null(),
            domain_len: 0,
            max_age: -1,
            secure: false,
            http_only: false,
            same_site: std::ptr::null(),
            same_site_len: 0,
            now: -1,
        }
    }
}

/// An optional text: NULL is "absent" (its length must then be 0).
///
/// # Safety
/// `ptr` is NULL or `len` readable bytes valid for `'a`.
unsafe fn optional_bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<Option<&'a [u8]>> {
    // SAFETY: the callers of this function guarantee its `# Safety` conditions, which are what the
    // unsafe calls below require.
    unsafe {
        if ptr.is_null() {
            if len != 0 {
                return Err(Error::new(
                    SMISK_ERR_NULL,
                    format!("{what} is NULL but {what}_len is {len}"),
                ));
            }
            return Ok(None);
        }
        arg_bytes(ptr, len, what).map(Some)
    }
}

/// Fills *out with the defaults: no Path, no Domain, max_age -1 (session
/// cookie), secure and http_only false, no SameSite, now -1 (current time).
#[no_mangle]
pub unsafe extern "C" fn smisk_cookie_options_init(out: *mut smisk_cookie_options) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `out` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            *arg_mut(out, "out")? = smisk_cookie_options::default();
            Ok(())
        })
    }
}

/// Formats the value of one Set-Cookie header (RFC 6265) for the cookie
/// name=value with the attributes in *options (NULL: the defaults of
/// smisk_cookie_options_init):
/// "name=value; Path=...; Domain=...; Max-Age=N; Expires=<IMF-fixdate>;
/// Secure; HttpOnly; SameSite=..." (attributes in this order, each only when
/// set).
///
/// The name must be a non-empty HTTP token (letters, digits and
/// !#$%&'*+-.^_`|~), else SMISK_ERR_INVALID. The value is any bytes
/// (value may be NULL when value_len is 0): every byte outside RFC 6265's
/// cookie-octet (controls, space, '"', ',', ';', backslash, bytes 0x7F and above)
/// and '%' itself is written as %XX, so smisk_parse_cookies gives back the
/// original bytes.
///
/// Ownership: on success *out / *out_len receive the header value (ASCII,
/// without "Set-Cookie: ", no CR/LF, not NUL-terminated), owned by the
/// caller and released with smisk_bytes_free(*out, *out_len). On failure
/// neither is written.
#[no_mangle]
pub unsafe extern "C" fn smisk_cookie_format(
    name: *const u8,
    name_len: usize,
    value: *const u8,
    value_len: usize,
    options: *const smisk_cookie_options,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `name`, `value`, `options`, `out`
    // and `out_len` are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn
    // NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let name = arg_bytes(name, name_len, "name")?;
            let value = arg_bytes(value, value_len, "value")?;
            arg_mut(out, "out")?;
            arg_mut(out_len, "out_len")?;
            let o = options.as_ref().copied().unwrap_or_default();
            let same_site = optional_bytes(o.same_site, o.same_site_len, "same_site")?
                .map(SameSite::parse)
                .transpose()?;
            let now = match o.now {
            -1 => None,
            n if n >= 0 => Some(n as u64),
            n => {
                return Err(Error::invalid(format!(
                    "cookie options: now is {n} (expected -1 for the current time, or a Unix time >= 0)"
                )))
            }
        };
            let options = cookie::Options {
                path: optional_bytes(o.path, o.path_len, "path")?,
                domain: optional_bytes(o.domain, o.domain_len, "domain")?,
                max_age: u64::try_from(o.max_age).ok(),
                secure: o.secure,
                http_only: o.http_only,
                same_site,
                now,
            };
            let text = cookie::format(name, value, &options)?;
            give_bytes(text.into_bytes(), out, out_len)
        })
    }
}

fn req<'a>(request: *mut Request) -> Result<&'a mut Request> {
    // SAFETY: the caller passes a handle from smisk_server_accept that is
    // still valid (documented lifetime), or NULL.
    let r = unsafe { arg_mut(request, "request")? };
    if !r.is_active() {
        return Err(Error::state("the request has finished"));
    }
    Ok(r)
}

/// The URL of the request, rebuilt from its params: scheme "https" when
/// HTTPS is "on" (any case) or "1", else "http"; user REMOTE_USER; host from
/// SERVER_NAME ("host", "host:port", "[v6]:port" or a bare IPv6 address);
/// port from SERVER_NAME when it holds a valid one, else SERVER_PORT, else 0;
/// path SCRIPT_NAME + PATH_INFO, or REQUEST_URI up to '?' when both are
/// missing or empty; query QUERY_STRING as sent (absent only when the param
/// is missing); no fragment. HTTP_HOST is never used (the client controls
/// it).
///
/// Ownership: on success *out_url receives a new URL owned by the caller
/// (release with smisk_url_free). SMISK_ERR_STATE after the request
/// finished.
#[no_mangle]
pub unsafe extern "C" fn smisk_request_url(
    request: *mut Request,
    out_url: *mut *mut smisk_url,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request` and `out_url` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let r = req(request)?;
            let out = arg_mut(out_url, "out_url")?;
            let url = crate::codec::request_url::from_params(|n: &[u8]| r.param(n));
            *out = into_handle(smisk_url { url });
            Ok(())
        })
    }
}

/// True when the request came over HTTPS: a non-empty HTTPS param decides
/// ("on" in any case or "1"), else REQUEST_SCHEME ("https" in any case).
/// The scheme of smisk_request_url and the Secure flag of the session
/// cookie follow the same answer. False for NULL or a finished request.
#[no_mangle]
pub unsafe extern "C" fn smisk_request_is_https(request: *const Request) -> bool {
    // SAFETY: the C caller keeps the contract documented above: `request` is NULL or valid for
    // the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard_value(false, || {
            request.as_ref().is_some_and(|r| {
                r.is_active() && crate::codec::request_url::is_https(|n: &[u8]| r.param(n))
            })
        })
    }
}

/// Checks one response header item of a gateway application (WSGI's
/// `(name, value)` pairs, as the bytes it sends: Latin-1): the name an RFC
/// 7230 token and not a hop-by-hop header (smisk_gateway_hop_by_hop), the
/// value without CR, LF or NUL; else SMISK_ERR_INVALID with the reason.
///
/// On success *out_line / *out_len receive the line "name: value" (not
/// NUL-terminated), owned by the caller and released with
/// smisk_bytes_free(*out_line, *out_len), and *out_is_length (may be NULL)
/// whether the item is a Content-Length.
#[no_mangle]
pub unsafe extern "C" fn smisk_gateway_header(
    name: *const u8,
    name_len: usize,
    value: *const u8,
    value_len: usize,
    out_line: *mut *mut u8,
    out_len: *mut usize,
    out_is_length: *mut bool,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `name`, `value`, `out_line`,
    // `out_len` and `out_is_length` are NULL or valid for the stated lengths and lifetimes; the
    // arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let name = arg_bytes(name, name_len, "name")?;
            let value = arg_bytes(value, value_len, "value")?;
            arg_mut(out_line, "out_line")?;
            arg_mut(out_len, "out_len")?;
            let kind = header::check_gateway_item(name, value)?;
            give_bytes(header::gateway_line(name, value), out_line, out_len)?;
            if let Some(out) = out_is_length.as_mut() {
                *out = kind.is_content_length;
            }
            Ok(())
        })
    }
}

/// Checks a gateway status ("NNN Reason": a code 100-999, one space, then
/// no control characters; Latin-1 bytes) and writes its code to *out_code.
/// SMISK_ERR_INVALID otherwise. The line smisk sends for it is
/// "Status: <status>".
#[no_mangle]
pub unsafe extern "C" fn smisk_gateway_status(
    status: *const u8,
    status_len: usize,
    out_code: *mut u16,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `status` and `out_code` are NULL
    // or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let status = arg_bytes(status, status_len, "status")?;
            let out = arg_mut(out_code, "out_code")?;
            *out = header::check_gateway_status(status)?;
            Ok(())
        })
    }
}

/// The index-th hop-by-hop header name (lower case, NUL-terminated) a
/// gateway application may not set, or NULL past the last one (index 0, 1,
/// ... until NULL lists them all).
///
/// Ownership: static storage; never free it.
#[no_mangle]
pub extern "C" fn smisk_gateway_hop_by_hop(index: usize) -> *const c_char {
    guard_value(std::ptr::null(), || {
        header::HOP_BY_HOP
            .get(index)
            .map_or(std::ptr::null(), |n| n.as_ptr())
    })
}

/// The header line that makes the web server send the file at path itself,
/// chosen from the SERVER_SOFTWARE value server_software (may be NULL when
/// server_software_len is 0; first match wins): contains "lighttpd/1.4" gives
/// "X-LIGHTTPD-send-file: <path>"; "lighttpd/" or "Apache" (but not
/// "Apache/1.") gives "X-Sendfile: <path>"; "nginx/" gives
/// "X-Accel-Redirect: <path>" (for nginx, path is a URI served by an
/// internal location). Inside a request use smisk_request_sendfile_header,
/// which also honours the SMISK_SENDFILE param.
///
/// Errors: SMISK_ERR_INVALID when path is empty, does not start with '/',
/// has a ".." segment or contains CR, LF or NUL (checked first);
/// SMISK_ERR_UNSUPPORTED when the server is none of these (stream the file
/// with smisk_response_write_file instead).
///
/// Ownership: on success *out_line / *out_len receive the whole line (no
/// CRLF, not NUL-terminated), owned by the caller and released with
/// smisk_bytes_free(*out_line, *out_len).
#[no_mangle]
pub unsafe extern "C" fn smisk_sendfile_header(
    server_software: *const u8,
    server_software_len: usize,
    path: *const u8,
    path_len: usize,
    out_line: *mut *mut u8,
    out_len: *mut usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `server_software`, `path`,
    // `out_line` and `out_len` are NULL or valid for the stated lengths and lifetimes; the arg_*
    // helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let sw = arg_bytes(server_software, server_software_len, "server_software")?;
            let path = arg_bytes(path, path_len, "path")?;
            arg_mut(out_line, "out_line")?;
            arg_mut(out_len, "out_len")?;
            give_bytes(sendfile::header_line(sw, path)?, out_line, out_len)
        })
    }
}

/// The header line of smisk_sendfile_header for this request: when the
/// request has a non-empty SMISK_SENDFILE param (set in the web server's
/// configuration, e.g. Apache "SetEnv SMISK_SENDFILE stream", nginx
/// "fastcgi_param SMISK_SENDFILE stream;"), it decides instead of
/// SERVER_SOFTWARE: "stream" (any case) gives SMISK_ERR_UNSUPPORTED (smisk
/// streams the file), "X-Sendfile", "X-LIGHTTPD-send-file" or
/// "X-Accel-Redirect" (any case) give that header, anything else is
/// SMISK_ERR_INVALID. Without it, SERVER_SOFTWARE decides as in
/// smisk_sendfile_header.
///
/// Errors: those of smisk_sendfile_header (the path is checked first);
/// SMISK_ERR_STATE after the request finished.
///
/// Ownership: as smisk_sendfile_header.
#[no_mangle]
pub unsafe extern "C" fn smisk_request_sendfile_header(
    request: *mut Request,
    path: *const c_char,
    path_len: usize,
    out_line: *mut *mut u8,
    out_len: *mut usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request`, `path`, `out_line` and
    // `out_len` are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL
    // into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let r = req(request)?;
            let path = arg_bytes(path.cast(), path_len, "path")?;
            arg_mut(out_line, "out_line")?;
            arg_mut(out_len, "out_len")?;
            let line = sendfile::request_header_line(|n: &[u8]| r.param(n), path)?;
            give_bytes(line, out_line, out_len)
        })
    }
}

/// Streams the regular file at path (path_len bytes, no NUL needed) into the
/// response body, beginning the response first if needed (so add headers
/// before). The file is read in 64 KiB chunks; it is never held whole in
/// memory. *out_written (may be NULL) receives the number of bytes sent.
///
/// Errors: SMISK_ERR_IO, with the OS message and the path, when the file
/// cannot be opened or is not a regular file: checked before anything is
/// written, so the caller can still answer 404 or 500. SMISK_ERR_ABORTED when
/// the web server went away; SMISK_ERR_IO when reading fails midway;
/// SMISK_ERR_STATE after the request finished.
#[no_mangle]
pub unsafe extern "C" fn smisk_response_write_file(
    request: *mut Request,
    path: *const c_char,
    path_len: usize,
    out_written: *mut u64,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request`, `path` and `out_written`
    // are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let r = req(request)?;
            let path = arg_bytes(path.cast(), path_len, "path")?;
            let (mut file, _) = sendfile::open_regular(path)?;
            let n = sendfile::stream(r, &mut file, None)?;
            if let Some(out) = out_written.as_mut() {
                *out = n;
            }
            Ok(())
        })
    }
}

#[allow(non_camel_case_types)]
/// A file smisk_response_prepare_file opened for streaming (opaque): pass it
/// to smisk_response_stream_file, or release it with smisk_file_free.
pub struct smisk_file {
    inner: sendfile::Prepared,
}

/// Sends the file at path the best way the web server allows:
/// smisk_response_prepare_file, then smisk_response_stream_file when the
/// file is streamed. When smisk_request_sendfile_header gives a header
/// (SERVER_SOFTWARE names a server it knows, or the SMISK_SENDFILE param
/// names a header), that header is added and nothing is written: the
/// response has not begun, so more headers may follow, and the web server
/// sends the file when the request finishes (a missing file is then the web
/// server's 404). Otherwise (an unknown server, or SMISK_SENDFILE "stream")
/// the file is opened once, "Content-Length: <its size>" is added and
/// exactly that many bytes of the open file are streamed (the response has
/// then begun). smisk_response_has_begun tells which happened.
///
/// Errors: those of smisk_response_prepare_file and
/// smisk_response_stream_file.
#[no_mangle]
pub unsafe extern "C" fn smisk_response_send_file(
    request: *mut Request,
    path: *const c_char,
    path_len: usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request` and `path` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let r = req(request)?;
            let path = arg_bytes(path.cast(), path_len, "path")?;
            match sendfile::prepare(r, path)? {
                Some(prepared) => sendfile::send_prepared(r, prepared).map(|_| ()),
                None => Ok(()),
            }
        })
    }
}

/// The first half of smisk_response_send_file, for a caller that begins the
/// response its own way before the body: decides how the file is sent and
/// adds the header for it. When the web server sends the file, its header
/// is added and *out_file receives NULL. When smisk streams it, the file is
/// opened (once), checked to be a regular file and "Content-Length: <size>"
/// is added; *out_file receives the open file, owned by the caller, for
/// smisk_response_stream_file (or smisk_file_free). Nothing is written.
///
/// Errors: SMISK_ERR_STATE when the response has already begun (or the
/// request finished); SMISK_ERR_INVALID for a path that is empty, relative,
/// has a ".." segment or contains CR, LF or NUL, and for a bad
/// SMISK_SENDFILE value; SMISK_ERR_IO (with the errno, see
/// smisk_last_errno) when the file cannot be opened or is not a regular
/// file. *out_file is written only on success.
#[no_mangle]
pub unsafe extern "C" fn smisk_response_prepare_file(
    request: *mut Request,
    path: *const c_char,
    path_len: usize,
    out_file: *mut *mut smisk_file,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request`, `path` and `out_file`
    // are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let r = req(request)?;
            let path = arg_bytes(path.cast(), path_len, "path")?;
            let out = arg_mut(out_file, "out_file")?;
            *out = match sendfile::prepare(r, path)? {
                Some(inner) => into_handle(smisk_file { inner }),
                None => std::ptr::null_mut(),
            };
            Ok(())
        })
    }
}

/// The second half: streams exactly the Content-Length
/// smisk_response_prepare_file added from the file it opened (bytes the
/// file gained since are not sent), beginning the response first if the
/// caller did not. Always takes `file` over and releases it. *out_written
/// (may be NULL) receives the bytes sent.
///
/// Errors: SMISK_ERR_IO when reading fails or the file shrank below the
/// promised length (the body is then short: finish the request, the answer
/// cannot be repaired); SMISK_ERR_ABORTED when the web server went away;
/// SMISK_ERR_STATE after the request finished; SMISK_ERR_NULL for a NULL
/// file.
#[no_mangle]
pub unsafe extern "C" fn smisk_response_stream_file(
    request: *mut Request,
    file: *mut smisk_file,
    out_written: *mut u64,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request`, `file` and
    // `out_written` are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn
    // NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            if file.is_null() {
                return Err(Error::new(SMISK_ERR_NULL, "file is NULL"));
            }
            let file = Box::from_raw(file);
            let r = req(request)?;
            let n = sendfile::send_prepared(r, file.inner)?;
            if let Some(out) = out_written.as_mut() {
                *out = n;
            }
            Ok(())
        })
    }
}

/// Releases a file of smisk_response_prepare_file without streaming it.
/// NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn smisk_file_free(file: *mut smisk_file) {
    // SAFETY: the C caller keeps the contract documented above: `file` is NULL or a handle of
    // smisk_response_prepare_file that it owns.
    unsafe { guard_value((), || free_handle(file)) }
}

/// Answers the request with the built-in HTML error page for http_status
/// (400-599, else SMISK_ERR_INVALID). message (message_len bytes, e.g.
/// "ValueError: bad input") is shown as the headline; detail (detail_len
/// bytes, e.g. a traceback) in a preformatted block, or the fixed sentence
/// "Additional information has been logged." when detail is NULL or
/// detail_len is 0. The address line shows SERVER_SOFTWARE, host and port
/// from the params ("?" for missing ones). Everything taken from the
/// arguments or the params is HTML-escaped. Nothing is logged: write the
/// detail to smisk_request_write_stderr yourself if the web server's log
/// should have it.
///
/// If the response has not begun, the headers added so far are dropped and
/// "Status: <code> <reason>", "Content-Type: text/html; charset=utf-8",
/// "Content-Length: <exact body size>" and "Cache-Control: no-cache" are sent
/// with a complete page. If it has begun, only the page fragment is appended
/// to the body. Either way the response has begun afterwards: write nothing
/// more, just finish the request.
///
/// Errors: SMISK_ERR_STATE after the request finished; SMISK_ERR_ABORTED
/// when the web server went away. message and detail are only read during
/// the call.
#[no_mangle]
pub unsafe extern "C" fn smisk_response_error_page(
    request: *mut Request,
    http_status: u32,
    message: *const u8,
    message_len: usize,
    detail: *const u8,
    detail_len: usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request`, `message` and `detail`
    // are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let r = req(request)?;
            let message = arg_bytes(message, message_len, "message")?;
            let detail = if detail.is_null() || detail_len == 0 {
                None
            } else {
                Some(arg_bytes(detail, detail_len, "detail")?)
            };
            error_page::send(r, http_status, message, detail)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::*;

    /// smisk_cookie_format of "n" = "v w" with `options`.
    ///
    /// # Safety
    /// `options` is NULL or a readable smisk_cookie_options whose texts are
    /// NULL or their stated lengths.
    unsafe fn fmt(options: *const smisk_cookie_options) -> (smisk_status, String) {
        let (mut out, mut len) = (std::ptr::null_mut(), 0usize);
        // SAFETY: literal name and value; options as this function requires;
        // out and len are writable locals.
        let st = unsafe {
            smisk_cookie_format(
                b"n".as_ptr(),
                1,
                b"v w".as_ptr(),
                3,
                options,
                &mut out,
                &mut len,
            )
        };
        if st != SMISK_OK {
            return (st, String::new());
        }
        // SAFETY: on success (out, len) is a buffer the call handed over,
        // read once and released once.
        let bytes = unsafe {
            let bytes = std::slice::from_raw_parts(out, len).to_vec();
            super::super::take_bytes(out, len);
            bytes
        };
        (st, String::from_utf8(bytes).unwrap())
    }

    #[test]
    fn cookie_options_from_c() {
        // SAFETY: every options value points at literals with their lengths,
        // or is NULL with length 0, except where a test wants the error.
        unsafe {
            assert_eq!(fmt(std::ptr::null()), (SMISK_OK, "n=v%20w".to_string()));
            let mut o = smisk_cookie_options {
                path: b"/".as_ptr(),
                path_len: 1,
                max_age: 0,
                same_site: b"STRICT".as_ptr(),
                same_site_len: 6,
                http_only: true,
                ..Default::default()
            };
            assert_eq!(
                fmt(&o).1,
                "n=v%20w; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Strict"
            );
            o.max_age = i64::MIN;
            o.now = 5;
            assert_eq!(fmt(&o).1, "n=v%20w; Path=/; HttpOnly; SameSite=Strict");
            o.now = -2;
            assert_eq!(fmt(&o).0, SMISK_ERR_INVALID);
            o.now = -1;
            o.same_site_len = 5;
            assert_eq!(fmt(&o).0, SMISK_ERR_INVALID);
            o.same_site = std::ptr::null();
            assert_eq!(fmt(&o).0, SMISK_ERR_NULL);
            o.same_site_len = 0;
            o.domain = b"".as_ptr();
            assert_eq!(fmt(&o).0, SMISK_ERR_INVALID);
        }
    }
}
