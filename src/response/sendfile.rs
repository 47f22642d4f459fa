//! Sending a file as the response body: either a header that makes the web
//! server send it (docs/sendfile.md), or
//! smisk streaming it.
//!
//! [`header_line`] picks the header from `SERVER_SOFTWARE` (first match
//! wins): `lighttpd/1.4` → `X-LIGHTTPD-send-file`; `lighttpd/` (1.5 and
//! later) or `Apache` (2.x, or without a version under `ServerTokens Prod`;
//! not `Apache/1.`) → `X-Sendfile`; `nginx/` → `X-Accel-Redirect` (whose
//! value nginx treats as a URI for an `internal` location). Any other server
//! is `SMISK_ERR_UNSUPPORTED`, and the caller streams the file itself.
//!
//! [`request_header_line`] is what a request uses: the deployment can
//! override that choice with the `SMISK_SENDFILE` param (`stream`, or the
//! name of one of the three headers), because smisk cannot see whether the
//! server honours the header (Apache needs mod_xsendfile; without it the
//! header reaches the client with an empty body).
//!
//! [`check_path`] runs before anything else: the path must be absolute,
//! without a `..` segment and without CR, LF or NUL, so an application that
//! builds it from request data cannot inject a header (the original did not
//! check) or climb out of the directory it meant.
//!
//! [`open_regular`] + [`stream`] are the streaming fallback: the file is
//! opened without blocking (a FIFO cannot hang the worker), checked to be a
//! regular file before a byte of the response is written (so the caller can
//! still answer 404/500), then copied in [`CHUNK`]-sized pieces: memory use
//! is one chunk whatever the file size.

use crate::fcgi::request::Request;
use crate::status::{Error, Result, SMISK_ERR_UNSUPPORTED};
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;

/// Bytes read from the file per write to the response.
/// cbindgen:ignore
pub const CHUNK: usize = 64 * 1024;

/// The param that overrides the choice made from `SERVER_SOFTWARE`.
pub const OVERRIDE_PARAM: &[u8] = b"SMISK_SENDFILE";

/// The header names [`header_line`] can produce, as written on the wire.
const HEADERS: [&str; 3] = ["X-LIGHTTPD-send-file", "X-Sendfile", "X-Accel-Redirect"];

/// Refuses paths that must never be handed on: empty, relative, with a
/// `..` segment, or with CR, LF or NUL (`SMISK_ERR_INVALID`).
pub fn check_path(path: &[u8]) -> Result<()> {
    let shown = || String::from_utf8_lossy(path);
    if path.is_empty() {
        return Err(Error::invalid("send_file: the path is empty"));
    }
    if let Some(&bad) = path.iter().find(|&&b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(Error::invalid(format!(
            "send_file: the path contains byte 0x{bad:02x} (CR, LF and NUL are not allowed)"
        )));
    }
    if path[0] != b'/' {
        return Err(Error::invalid(format!(
            "send_file: the path {:?} is relative (it must start with '/')",
            shown()
        )));
    }
    if path.split(|&b| b == b'/').any(|seg| seg == b"..") {
        return Err(Error::invalid(format!(
            "send_file: the path {:?} contains a '..' segment",
            shown()
        )));
    }
    Ok(())
}

fn line_with(name: &str, path: &[u8]) -> Vec<u8> {
    let mut line = Vec::with_capacity(name.len() + 2 + path.len());
    line.extend_from_slice(name.as_bytes());
    line.extend_from_slice(b": ");
    line.extend_from_slice(path);
    line
}

fn unsupported(message: String) -> Error {
    Error::new(SMISK_ERR_UNSUPPORTED, message)
}

/// The whole header line (`Name: path`, no CRLF) that hands `path` to the
/// web server identified by `server_software`.
pub fn header_line(server_software: &[u8], path: &[u8]) -> Result<Vec<u8>> {
    check_path(path)?;
    let has = |needle: &str| memchr::memmem::find(server_software, needle.as_bytes()).is_some();
    let name = if has("lighttpd/1.4") {
        HEADERS[0]
    } else if has("lighttpd/") || (has("Apache") && !has("Apache/1.")) {
        HEADERS[1]
    } else if has("nginx/") {
        HEADERS[2]
    } else {
        let shown = if server_software.is_empty() {
            "unknown server software".into()
        } else {
            String::from_utf8_lossy(server_software)
        };
        return Err(unsupported(format!(
            "sendfile not supported by host server ('{shown}')"
        )));
    };
    Ok(line_with(name, path))
}

/// [`header_line`] for a request whose param `name` is `param(name)`: the
/// `SMISK_SENDFILE` param, when present and not empty, decides instead of
/// `SERVER_SOFTWARE`. `stream` (any case) gives `SMISK_ERR_UNSUPPORTED`
/// (the caller streams); a header name (any case) gives that header; any
/// other value is `SMISK_ERR_INVALID` (a misconfigured server should be
/// loud, not guessed around).
pub fn request_header_line<'a>(
    param: impl Fn(&[u8]) -> Option<&'a [u8]>,
    path: &[u8],
) -> Result<Vec<u8>> {
    check_path(path)?;
    match param(OVERRIDE_PARAM).filter(|v| !v.is_empty()) {
        None => header_line(param(b"SERVER_SOFTWARE").unwrap_or(b""), path),
        Some(v) if v.eq_ignore_ascii_case(b"stream") => Err(unsupported(
            "sendfile disabled by the SMISK_SENDFILE param ('stream')".into(),
        )),
        Some(v) => match HEADERS
            .iter()
            .find(|h| v.eq_ignore_ascii_case(h.as_bytes()))
        {
            Some(name) => Ok(line_with(name, path)),
            None => Err(Error::invalid(format!(
                "the SMISK_SENDFILE param is {:?}; expected \"stream\", \"X-Sendfile\", \
                 \"X-LIGHTTPD-send-file\" or \"X-Accel-Redirect\"",
                String::from_utf8_lossy(v)
            ))),
        },
    }
}

/// Opens `path` for reading and returns it with its size, or `SMISK_ERR_IO`
/// (message with the path) when it cannot be opened or is not a regular file.
pub fn open_regular(path: &[u8]) -> Result<(File, u64)> {
    let shown = String::from_utf8_lossy(path);
    if path.is_empty() || memchr::memchr(0, path).is_some() {
        return Err(Error::invalid(format!(
            "file path {shown:?} is empty or contains NUL"
        )));
    }
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused
    // below. It has no effect on reads of regular files.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(std::ffi::OsStr::from_bytes(path))
        .map_err(|e| Error::os(format!("open {shown}"), e))?;
    let meta = file
        .metadata()
        .map_err(|e| Error::os(format!("fstat {shown}"), e))?;
    if !meta.is_file() {
        return Err(Error::new(
            crate::status::SMISK_ERR_IO,
            format!("{shown}: not a regular file"),
        ));
    }
    Ok((file, meta.len()))
}

/// Copies `file` into the response body (beginning the response if needed),
/// up to `limit` bytes when given, and returns the count. A file that ends
/// before `limit` is an error (the `Content-Length` sent would be wrong).
pub fn stream(request: &mut Request, file: &mut File, limit: Option<u64>) -> Result<u64> {
    copy_bounded(file, limit, |chunk| request.write(chunk))
}

/// The copy loop of [`stream`], into any sink: at most `limit` bytes (all
/// of the file without one), [`CHUNK`] at a time. Bytes the file gained
/// after it was opened are not sent past `limit`; a file that ends before
/// it is `SMISK_ERR_IO`.
pub fn copy_bounded(
    file: &mut File,
    limit: Option<u64>,
    mut sink: impl FnMut(&[u8]) -> Result<()>,
) -> Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut sent: u64 = 0;
    loop {
        let want = match limit {
            Some(l) => (l - sent).min(CHUNK as u64) as usize,
            None => CHUNK,
        };
        if want == 0 {
            return Ok(sent);
        }
        let n = match file.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::os("read file for the response", e)),
        };
        if n == 0 {
            return match limit {
                Some(l) => Err(Error::new(
                    crate::status::SMISK_ERR_IO,
                    format!("the file shrank while it was sent ({sent} of {l} bytes)"),
                )),
                None => Ok(sent),
            };
        }
        sink(&buf[..n])?;
        sent += n as u64;
    }
}

/// A file [`prepare`] opened for streaming, with the size its
/// `Content-Length` promised.
#[derive(Debug)]
pub struct Prepared {
    file: File,
    size: u64,
}

/// The first half of sending a file, the one place that decides how: when
/// the web server can send it ([`request_header_line`]), that header is
/// added and the answer is `None` (nothing to stream). Otherwise the file
/// is opened once, checked to be a regular file, its `Content-Length` added,
/// and the open file returned for [`send_prepared`] (after the caller has
/// begun the response its own way, if it has one). Nothing is written here.
pub fn prepare(request: &mut Request, path: &[u8]) -> Result<Option<Prepared>> {
    if request.has_begun() {
        return Err(Error::state(
            "send_file: output has already begun; headers can no longer change",
        ));
    }
    match request_header_line(|n: &[u8]| request.param(n), path) {
        Ok(line) => request.add_header(&line).map(|()| None),
        Err(e) if e.status == SMISK_ERR_UNSUPPORTED => {
            let (file, size) = open_regular(path)?;
            request.add_header(format!("Content-Length: {size}").as_bytes())?;
            Ok(Some(Prepared { file, size }))
        }
        Err(e) => Err(e),
    }
}

/// The second half: streams exactly the size [`prepare`] announced from the
/// file it opened (beginning the response if the caller did not).
pub fn send_prepared(request: &mut Request, mut prepared: Prepared) -> Result<u64> {
    stream(request, &mut prepared.file, Some(prepared.size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(sw: &str, path: &str) -> Result<String> {
        header_line(sw.as_bytes(), path.as_bytes()).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn header_follows_the_server() {
        assert_eq!(
            line("lighttpd/1.4.69", "/f").unwrap(),
            "X-LIGHTTPD-send-file: /f"
        );
        assert_eq!(line("lighttpd/1.5.0", "/f").unwrap(), "X-Sendfile: /f");
        assert_eq!(line("lighttpd/2.0", "/f").unwrap(), "X-Sendfile: /f");
        assert_eq!(
            line("Apache/2.4.71 (Debian)", "/f").unwrap(),
            "X-Sendfile: /f"
        );
        assert_eq!(
            line("nginx/1.22.1", "/internal/f").unwrap(),
            "X-Accel-Redirect: /internal/f"
        );
        // Binary-safe: any byte but CR, LF, NUL passes through.
        assert_eq!(
            header_line(b"nginx/1", b"/a b\xff\t").unwrap(),
            b"X-Accel-Redirect: /a b\xff\t"
        );
    }

    #[test]
    fn unknown_servers_and_bad_paths() {
        for sw in ["", "Caddy/2", "nginx", "NGINX/1.0", "lighttpd", "apache/2"] {
            let e = line(sw, "/f").unwrap_err();
            assert_eq!(e.status, SMISK_ERR_UNSUPPORTED, "{sw}");
            assert!(e.message.contains("not supported"));
        }
        assert!(line("", "/f")
            .unwrap_err()
            .message
            .contains("unknown server software"));
        // The path is checked first, whatever the server.
        for bad in ["", "/a\r\nX-Injected: 1", "/a\n", "/a\0"] {
            for sw in ["nginx/1", "Caddy"] {
                let e = line(sw, bad).unwrap_err();
                assert_eq!(e.status, crate::status::SMISK_ERR_INVALID, "{bad:?}");
            }
        }
    }

    #[test]
    fn apache_1_and_relative_or_dotdot_paths() {
        // X-Sendfile for Apache 2; Apache 1.3 never had it.
        let e = line("Apache/1.3.42 (Unix)", "/f").unwrap_err();
        assert_eq!(e.status, SMISK_ERR_UNSUPPORTED);
        // ServerTokens Prod sends no version at all.
        assert_eq!(line("Apache", "/f").unwrap(), "X-Sendfile: /f");
        for bad in [
            "f",
            "./f",
            "srv/f",
            "/a/../etc/passwd",
            "/..",
            "/a/..",
            "/../a",
        ] {
            for sw in ["nginx/1", "lighttpd/1.4.69", "Apache/2.4", "Caddy"] {
                let e = line(sw, bad).unwrap_err();
                assert_eq!(e.status, crate::status::SMISK_ERR_INVALID, "{bad:?} {sw}");
                assert!(e.message.contains(bad), "{}", e.message);
            }
        }
        // Dots that are not a ".." segment are ordinary names.
        for ok in ["/a/..b", "/a/b..", "/.../x", "/a/./b", "/.hidden"] {
            assert_eq!(
                line("nginx/1", ok).unwrap(),
                format!("X-Accel-Redirect: {ok}")
            );
        }
    }

    fn req_line(params: &[(&str, &str)], path: &str) -> Result<String> {
        let param = |n: &[u8]| {
            params
                .iter()
                .find(|(k, _)| k.as_bytes() == n)
                .map(|(_, v)| v.as_bytes())
        };
        request_header_line(param, path.as_bytes()).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn the_override_param_decides_before_server_software() {
        let nginx = ("SERVER_SOFTWARE", "nginx/1.22.1");
        assert_eq!(req_line(&[nginx], "/f").unwrap(), "X-Accel-Redirect: /f");
        assert_eq!(
            req_line(&[nginx, ("SMISK_SENDFILE", "")], "/f").unwrap(),
            "X-Accel-Redirect: /f"
        );
        let e = req_line(&[nginx, ("SMISK_SENDFILE", "Stream")], "/f").unwrap_err();
        assert_eq!(e.status, SMISK_ERR_UNSUPPORTED);
        assert!(e.message.contains("SMISK_SENDFILE"), "{}", e.message);
        for (v, want) in [
            ("x-sendfile", "X-Sendfile: /f"),
            ("X-ACCEL-REDIRECT", "X-Accel-Redirect: /f"),
            ("X-Lighttpd-Send-File", "X-LIGHTTPD-send-file: /f"),
        ] {
            // Also for a server smisk does not recognise.
            let p = [("SERVER_SOFTWARE", "Caddy/2"), ("SMISK_SENDFILE", v)];
            assert_eq!(req_line(&p, "/f").unwrap(), want);
        }
        for bad in ["yes", "X-Sendfile ", "off"] {
            let e = req_line(&[nginx, ("SMISK_SENDFILE", bad)], "/f").unwrap_err();
            assert_eq!(e.status, crate::status::SMISK_ERR_INVALID, "{bad}");
            assert!(e.message.contains("SMISK_SENDFILE"), "{}", e.message);
        }
        assert_eq!(
            req_line(&[], "/f").unwrap_err().status,
            SMISK_ERR_UNSUPPORTED
        );
        // The path is checked before the override is looked at.
        let e = req_line(&[("SMISK_SENDFILE", "stream")], "rel").unwrap_err();
        assert_eq!(e.status, crate::status::SMISK_ERR_INVALID);
    }

    #[test]
    fn a_file_that_grows_after_it_was_opened_sends_what_it_promised() {
        let dir = std::env::temp_dir().join(format!("smisk-grow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("grows.bin");
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let (mut file, size) = open_regular(path.as_os_str().as_bytes()).unwrap();
        assert_eq!(size, data.len() as u64);
        // Between the open (and the Content-Length it gives) and the send.
        let mut more = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut more, &vec![b'x'; 2 * CHUNK]).unwrap();
        let mut got = Vec::new();
        let n = copy_bounded(&mut file, Some(size), |c| {
            got.extend_from_slice(c);
            Ok(())
        })
        .unwrap();
        assert_eq!(n, size);
        assert_eq!(got, data, "exactly the bytes the length promised");

        // One that shrinks is a clean error, never a short body said to be whole.
        let (mut file, size) = open_regular(path.as_os_str().as_bytes()).unwrap();
        more.set_len(10).unwrap();
        let e = copy_bounded(&mut file, Some(size), |_| Ok(())).unwrap_err();
        assert_eq!(e.status, crate::status::SMISK_ERR_IO);
        assert!(e.message.contains("shrank"), "{}", e.message);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn open_regular_refuses_what_it_cannot_stream() {
        let dir = std::env::temp_dir().join(format!("smisk-sendfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f.bin");
        std::fs::write(&file, b"hello").unwrap();
        let (_, size) = open_regular(file.as_os_str().as_bytes()).unwrap();
        assert_eq!(size, 5);

        let e = open_regular(dir.as_os_str().as_bytes()).unwrap_err();
        assert_eq!(e.status, crate::status::SMISK_ERR_IO);
        assert!(e.message.contains("not a regular file"), "{}", e.message);

        let missing = dir.join("missing");
        let e = open_regular(missing.as_os_str().as_bytes()).unwrap_err();
        assert_eq!(e.status, crate::status::SMISK_ERR_IO);
        assert!(e.message.contains("missing"), "{}", e.message);
        assert_eq!(e.errno, Some(libc::ENOENT));

        // A FIFO without a writer: refused at once instead of blocking.
        let fifo = dir.join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: c is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = open_regular(fifo.as_os_str().as_bytes()).unwrap_err();
        assert!(e.message.contains("not a regular file"), "{}", e.message);

        assert_eq!(
            open_regular(b"/tmp/a\0b").unwrap_err().status,
            crate::status::SMISK_ERR_INVALID
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
