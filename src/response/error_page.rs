//! The built-in error page (the original's, with the escaping, the exact
//! `Content-Length` and the missing-param checks it lacked: docs/compat.md).
//!
//! Before the response has begun, [`send`] drops the headers added so far
//! and sends exactly `Status: <code> <reason>`, `Content-Type: text/html;
//! charset=utf-8`, `Content-Length: <body bytes>` and `Cache-Control:
//! no-cache`, then the page. After it has begun, only the page fragment is
//! appended (no second header block). Either way the response has begun
//! afterwards and nothing else should be written.
//!
//! Everything printed that came from the caller or the request (message,
//! detail, `SERVER_SOFTWARE`, host, port) is HTML-escaped with
//! `codec::xml::escape`; missing params print `?` instead of crashing.
//!
//! Cost: the page is built in one buffer (at most six times the message and
//! detail, each byte escaping to at most `&quot;`).

use crate::codec::request_url::server_host_port;
use crate::codec::xml::escape;
use crate::fcgi::request::Request;
use crate::status::{Error, Result};

/// The `<pre>` text when no detail (traceback) is shown.
pub const NO_DETAIL: &str = "Additional information has been logged.";

const HEAD: &str = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
<title>Service Error</title><style>\n\
body{margin:0;padding:1em 2em;font-family:sans-serif;color:#222;background:#fff}\n\
h1{font-size:1.5em;color:#a00}\n\
p.message{font-size:1.1em;font-weight:bold}\n\
pre.traceback{padding:.8em;background:#f4f4f4;border:1px solid #ddd;overflow:auto}\n\
address{color:#777;font-size:.85em}\n\
</style></head><body>\n";
const TAIL: &str = "</body></html>\r\n";

/// The RFC 9110 reason phrase of an error status (a generic one for codes
/// it does not name).
pub fn reason_phrase(status: u32) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        511 => "Network Authentication Required",
        _ if status < 500 => "Client Error",
        _ => "Server Error",
    }
}

/// What the `<address>` line shows; `None` prints `?`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Origin<'a> {
    pub software: Option<&'a [u8]>,
    pub host: Option<&'a [u8]>,
    /// 0: unknown.
    pub port: u16,
}

impl<'a> Origin<'a> {
    /// `SERVER_SOFTWARE` and the host/port the request URL uses.
    pub fn from_params(param: impl Fn(&[u8]) -> Option<&'a [u8]>) -> Origin<'a> {
        let (host, port) = server_host_port(&param);
        Origin {
            software: param(b"SERVER_SOFTWARE").filter(|s| !s.is_empty()),
            host,
            port,
        }
    }
}

/// The page body without the `<html>` wrapper: heading, message, detail
/// (or [`NO_DETAIL`]) and the address line, everything escaped.
pub fn fragment(message: &[u8], detail: Option<&[u8]>, origin: &Origin<'_>) -> Vec<u8> {
    let detail = detail.unwrap_or(NO_DETAIL.as_bytes());
    let mut out = Vec::with_capacity(message.len() + detail.len() + 200);
    out.extend_from_slice(b"<h1>Service Error</h1>\n<p class=\"message\">");
    out.extend_from_slice(&escape(message));
    out.extend_from_slice(b"</p>\n<pre class=\"traceback\">");
    out.extend_from_slice(&escape(detail));
    out.extend_from_slice(b"</pre>\n<hr/><address>");
    out.extend_from_slice(&escape(origin.software.unwrap_or(b"?")));
    out.extend_from_slice(b" at ");
    out.extend_from_slice(&escape(origin.host.unwrap_or(b"?")));
    out.extend_from_slice(b" port ");
    if origin.port == 0 {
        out.push(b'?');
    } else {
        out.extend_from_slice(origin.port.to_string().as_bytes());
    }
    out.extend_from_slice(b"</address>\n");
    out
}

/// The whole HTML document around `fragment`.
pub fn page(fragment: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD.len() + fragment.len() + TAIL.len());
    out.extend_from_slice(HEAD.as_bytes());
    out.extend_from_slice(fragment);
    out.extend_from_slice(TAIL.as_bytes());
    out
}

/// Answers `request` with the error page for `status` (400–599).
pub fn send(
    request: &mut Request,
    status: u32,
    message: &[u8],
    detail: Option<&[u8]>,
) -> Result<()> {
    if !(400..=599).contains(&status) {
        return Err(Error::invalid(format!(
            "error page status {status} is not an HTTP error status (400-599)"
        )));
    }
    if !request.is_active() {
        return Err(Error::state("the request has finished"));
    }
    let origin = Origin::from_params(|n: &[u8]| request.param(n));
    let frag = fragment(message, detail, &origin);
    if request.has_begun() {
        return request.write(&frag);
    }
    let body = page(&frag);
    request.clear_headers()?;
    for line in [
        format!("Status: {status} {}", reason_phrase(status)),
        "Content-Type: text/html; charset=utf-8".to_string(),
        format!("Content-Length: {}", body.len()),
        "Cache-Control: no-cache".to_string(),
    ] {
        request.add_header(line.as_bytes())?;
    }
    request.write(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_printed_is_escaped() {
        let origin = Origin {
            software: Some(b"<b>srv</b>"),
            host: Some(b"h\"&'"),
            port: 8080,
        };
        let f = fragment(
            b"ValueError: bad <script>alert(1)</script>",
            Some(b"Traceback:\n  File \"<x>\" & more"),
            &origin,
        );
        let f = String::from_utf8(f).unwrap();
        assert_eq!(
            f,
            "<h1>Service Error</h1>\n\
             <p class=\"message\">ValueError: bad &lt;script&gt;alert(1)&lt;/script&gt;</p>\n\
             <pre class=\"traceback\">Traceback:\n  File &quot;&lt;x&gt;&quot; &amp; more</pre>\n\
             <hr/><address>&lt;b&gt;srv&lt;/b&gt; at h&quot;&amp;&#39; port 8080</address>\n"
        );
        assert!(!f.contains("<script>") && !f.contains("<b>"));
    }

    #[test]
    fn missing_origin_and_detail() {
        let f = String::from_utf8(fragment(b"", None, &Origin::default())).unwrap();
        assert!(f.contains(&format!("<pre class=\"traceback\">{NO_DETAIL}</pre>")));
        assert!(f.contains("<address>? at ? port ?</address>"));
        let origin = Origin::from_params(|n: &[u8]| match n {
            b"SERVER_NAME" => Some(&b"[::1]:81"[..]),
            b"SERVER_SOFTWARE" => Some(&b""[..]),
            _ => None,
        });
        let f = String::from_utf8(fragment(b"m", None, &origin)).unwrap();
        assert!(f.contains("<address>? at ::1 port 81</address>"), "{f}");
    }

    #[test]
    fn reasons() {
        assert_eq!(reason_phrase(500), "Internal Server Error");
        assert_eq!(reason_phrase(413), "Content Too Large");
        assert_eq!(reason_phrase(400), "Bad Request");
        assert_eq!(reason_phrase(499), "Client Error");
        assert_eq!(reason_phrase(599), "Server Error");
    }

    #[test]
    fn page_wraps_the_fragment() {
        let p = String::from_utf8(page(b"<h1>x</h1>")).unwrap();
        assert!(p.starts_with("<!DOCTYPE html>\n<html><head>"));
        assert!(p.contains("<title>Service Error</title>"));
        assert!(p.ends_with("<body>\n<h1>x</h1></body></html>\r\n"));
    }
}
