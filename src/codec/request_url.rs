//! The URL of the current request, rebuilt from its CGI params
//! (the original Smisk's rules with its bugs fixed, docs/compat.md).
//!
//! Which param wins where:
//!
//! | component | source |
//! |---|---|
//! | scheme | [`is_https`]: `https` when `HTTPS` is `on` (any case) or `1`; without a (non-empty) `HTTPS`, when `REQUEST_SCHEME` is `https` (any case); else `http` |
//! | user | `REMOTE_USER` (absent when missing or empty) |
//! | host | `SERVER_NAME`: `host`, `host:port`, `[v6]`, `[v6]:port`, or a bare IPv6 address (more than one `:`, no brackets); absent when missing or empty |
//! | port | the port inside `SERVER_NAME` when it is a valid 1–65535; else `SERVER_PORT` when valid; else 0 (unknown) |
//! | path | `SCRIPT_NAME` + `PATH_INFO` (either may be missing); when both are missing or both empty, `REQUEST_URI` up to its `?`; absent when all are |
//! | query | `QUERY_STRING` as sent (not decoded); absent only when the param is missing |
//! | fragment | never (clients do not send it) |
//!
//! `HTTP_HOST` is ignored on purpose: it is whatever the client wrote,
//! while `SERVER_NAME` is what the web server was configured to serve (as in
//! the original). Values are used as the web server sent them (paths are
//! already percent-decoded by the server).
//!
//! Guarantees: total (every input gives a URL, nothing panics), linear in
//! the param lengths. Cost: one small allocation per present component.

use super::url::Url;

/// `SERVER_NAME` split into host and port (port 0: none or invalid).
fn split_server_name(name: &[u8]) -> (&[u8], u16) {
    if let Some(inner) = name.strip_prefix(b"[") {
        return match memchr::memchr(b']', inner) {
            Some(close) => {
                let port = inner[close + 1..].strip_prefix(b":").map_or(0, parse_port);
                (&inner[..close], port)
            }
            // "[::1" without "]": keep it whole rather than guess.
            None => (name, 0),
        };
    }
    let mut colons = memchr::memchr_iter(b':', name);
    match (colons.next(), colons.next()) {
        (Some(at), None) => (&name[..at], parse_port(&name[at + 1..])),
        // No colon, or a bare IPv6 address.
        _ => (name, 0),
    }
}

/// Decimal 1–65535; anything else (empty, signs, spaces, overflow) is 0.
fn parse_port(text: &[u8]) -> u16 {
    if text.is_empty() || text.len() > 5 || !text.iter().all(u8::is_ascii_digit) {
        return 0;
    }
    let value = text.iter().fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'));
    u16::try_from(value).unwrap_or(0)
}

fn non_empty(v: Option<&[u8]>) -> Option<&[u8]> {
    v.filter(|v| !v.is_empty())
}

/// The server's host and port as the request sees them: from `SERVER_NAME`
/// (with its own port if it has a valid one) and `SERVER_PORT` (see the
/// module table). Host `None` when unknown, port 0 when unknown.
pub fn server_host_port<'a>(param: impl Fn(&[u8]) -> Option<&'a [u8]>) -> (Option<&'a [u8]>, u16) {
    let (host, port) = match param(b"SERVER_NAME") {
        Some(name) => {
            let (h, p) = split_server_name(name);
            (non_empty(Some(h)), p)
        }
        None => (None, 0),
    };
    let port = if port != 0 {
        port
    } else {
        param(b"SERVER_PORT").map_or(0, parse_port)
    };
    (host, port)
}

/// Whether the request came over HTTPS, decided once for every layer (the
/// request URL, `wsgi.url_scheme`, the session cookie's `Secure` flag): a
/// non-empty `HTTPS` param decides when the web server sends one (`on` in
/// any case or `1`: yes; anything else: no); otherwise `REQUEST_SCHEME`
/// (`https` in any case: yes), which is all some proxies and servers set.
pub fn is_https<'a>(param: impl Fn(&[u8]) -> Option<&'a [u8]>) -> bool {
    match param(b"HTTPS").filter(|v| !v.is_empty()) {
        Some(v) => v.eq_ignore_ascii_case(b"on") || v == b"1",
        None => param(b"REQUEST_SCHEME").is_some_and(|v| v.eq_ignore_ascii_case(b"https")),
    }
}

/// The request's URL from its params; `param(name)` returns the value of
/// the param `name` (the first one, when repeated).
pub fn from_params<'a>(param: impl Fn(&[u8]) -> Option<&'a [u8]>) -> Url {
    let https = is_https(&param);
    let (host, port) = server_host_port(&param);
    let script = param(b"SCRIPT_NAME");
    let info = param(b"PATH_INFO");
    let mut path: Vec<u8> = [script, info]
        .into_iter()
        .flatten()
        .flatten()
        .copied()
        .collect();
    if path.is_empty() {
        if let Some(uri) = param(b"REQUEST_URI") {
            let end = memchr::memchr(b'?', uri).unwrap_or(uri.len());
            path.extend_from_slice(&uri[..end]);
        }
    }
    Url {
        scheme: Some(if https {
            b"https".to_vec()
        } else {
            b"http".to_vec()
        }),
        user: non_empty(param(b"REMOTE_USER")).map(<[u8]>::to_vec),
        password: None,
        host: host.map(<[u8]>::to_vec),
        port,
        path: (!path.is_empty()).then_some(path),
        query: param(b"QUERY_STRING").map(<[u8]>::to_vec),
        fragment: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::url::Format;

    fn url(params: &[(&str, &str)]) -> Url {
        from_params(|name: &[u8]| {
            params
                .iter()
                .find(|(n, _)| n.as_bytes() == name)
                .map(|(_, v)| v.as_bytes())
        })
    }

    fn text(params: &[(&str, &str)]) -> String {
        String::from_utf8(url(params).to_s(&Format::default())).unwrap()
    }

    #[test]
    fn original_examples() {
        assert_eq!(
            text(&[
                ("SERVER_NAME", "example.com"),
                ("SERVER_PORT", "8080"),
                ("SCRIPT_NAME", "/app"),
                ("PATH_INFO", "/x/y"),
                ("QUERY_STRING", "url"),
            ]),
            "http://example.com:8080/app/x/y?url"
        );
        assert_eq!(
            text(&[
                ("HTTPS", "ON"),
                ("SERVER_NAME", "h"),
                ("SERVER_PORT", "443"),
                ("SCRIPT_NAME", ""),
                ("PATH_INFO", "/p"),
                ("QUERY_STRING", "url"),
            ]),
            "https://h:443/p?url"
        );
    }

    #[test]
    fn https_is_exactly_on_or_1() {
        for (v, scheme) in [
            ("on", "https"),
            ("On", "https"),
            ("1", "https"),
            ("onion", "http"),
            ("off", "http"),
            ("", "http"),
            ("o", "http"),
            ("11", "http"),
        ] {
            assert_eq!(
                url(&[("HTTPS", v)]).scheme.unwrap(),
                scheme.as_bytes(),
                "{v}"
            );
        }
        assert_eq!(url(&[]).scheme.unwrap(), b"http");
    }

    #[test]
    fn request_scheme_decides_without_https() {
        // A proxy that sets only REQUEST_SCHEME: the URL is https, as
        // wsgi.url_scheme and the session cookie's Secure flag are.
        for (params, scheme) in [
            (&[("REQUEST_SCHEME", "https")][..], "https"),
            (&[("REQUEST_SCHEME", "HTTPS")][..], "https"),
            (&[("REQUEST_SCHEME", "http")][..], "http"),
            (&[("REQUEST_SCHEME", "https"), ("HTTPS", "")][..], "https"),
            // A non-empty HTTPS decides.
            (&[("REQUEST_SCHEME", "https"), ("HTTPS", "off")][..], "http"),
            (&[("REQUEST_SCHEME", "http"), ("HTTPS", "on")][..], "https"),
        ] {
            assert_eq!(url(params).scheme.unwrap(), scheme.as_bytes(), "{params:?}");
        }
    }

    #[test]
    fn host_and_port_sources() {
        let hp = |p: &[(&str, &str)]| {
            let u = url(p);
            (u.host.map(|h| String::from_utf8(h).unwrap()), u.port)
        };
        let s = |h: &str| Some(h.to_string());
        assert_eq!(
            hp(&[("SERVER_NAME", "h:81"), ("SERVER_PORT", "82")]),
            (s("h"), 81)
        );
        assert_eq!(
            hp(&[("SERVER_NAME", "h"), ("SERVER_PORT", "82")]),
            (s("h"), 82)
        );
        assert_eq!(
            hp(&[("SERVER_NAME", "[::1]:8080"), ("SERVER_PORT", "1")]),
            (s("::1"), 8080)
        );
        assert_eq!(
            hp(&[("SERVER_NAME", "[::1]"), ("SERVER_PORT", "443")]),
            (s("::1"), 443)
        );
        assert_eq!(
            hp(&[("SERVER_NAME", "::1"), ("SERVER_PORT", "9")]),
            (s("::1"), 9)
        );
        assert_eq!(
            hp(&[("SERVER_NAME", "[::1"), ("SERVER_PORT", "9")]),
            (s("[::1"), 9)
        );
        // An invalid port in SERVER_NAME falls back to SERVER_PORT.
        assert_eq!(
            hp(&[("SERVER_NAME", "h:x"), ("SERVER_PORT", "7")]),
            (s("h"), 7)
        );
        assert_eq!(
            hp(&[("SERVER_NAME", "h:"), ("SERVER_PORT", "7")]),
            (s("h"), 7)
        );
        assert_eq!(hp(&[("SERVER_NAME", "h:70000")]), (s("h"), 0));
        // Unknown or invalid ports are 0.
        for bad in [
            "",
            "0",
            "-1",
            "+80",
            " 80",
            "65536",
            "99999999999999999999",
            "8a",
        ] {
            assert_eq!(
                hp(&[("SERVER_NAME", "h"), ("SERVER_PORT", bad)]),
                (s("h"), 0),
                "{bad}"
            );
        }
        assert_eq!(hp(&[("SERVER_PORT", "80")]), (None, 80));
        assert_eq!(
            hp(&[("SERVER_NAME", ""), ("SERVER_PORT", "80")]),
            (None, 80)
        );
        assert_eq!(hp(&[("SERVER_NAME", ":81")]), (None, 81));
        // HTTP_HOST is never used.
        assert_eq!(hp(&[("HTTP_HOST", "evil.example:1")]), (None, 0));
        assert_eq!(
            text(&[("SERVER_NAME", "[::1]:8080"), ("SCRIPT_NAME", "/a")]),
            "http://[::1]:8080/a"
        );
    }

    #[test]
    fn path_sources() {
        let path = |p: &[(&str, &str)]| url(p).path.map(|h| String::from_utf8(h).unwrap());
        let s = |h: &str| Some(h.to_string());
        assert_eq!(
            path(&[("SCRIPT_NAME", "/a"), ("PATH_INFO", "/b")]),
            s("/a/b")
        );
        assert_eq!(path(&[("SCRIPT_NAME", "/a")]), s("/a"));
        assert_eq!(path(&[("PATH_INFO", "/b")]), s("/b"));
        assert_eq!(path(&[("REQUEST_URI", "/r/s?x=1")]), s("/r/s"));
        assert_eq!(path(&[("REQUEST_URI", "/r")]), s("/r"));
        assert_eq!(path(&[("REQUEST_URI", "?x")]), None);
        assert_eq!(
            path(&[
                ("SCRIPT_NAME", ""),
                ("PATH_INFO", ""),
                ("REQUEST_URI", "/u?q")
            ]),
            s("/u")
        );
        assert_eq!(
            path(&[("SCRIPT_NAME", "/a"), ("REQUEST_URI", "/u")]),
            s("/a")
        );
        assert_eq!(path(&[]), None);
    }

    #[test]
    fn user_and_query() {
        let u = url(&[("REMOTE_USER", "bob"), ("QUERY_STRING", "a=%20+b")]);
        assert_eq!(u.user.as_deref(), Some(&b"bob"[..]));
        assert_eq!(u.query.as_deref(), Some(&b"a=%20+b"[..]));
        assert_eq!(u.fragment, None);
        let u = url(&[("REMOTE_USER", ""), ("QUERY_STRING", "")]);
        assert_eq!(u.user, None);
        assert_eq!(u.query.as_deref(), Some(&b""[..]));
        assert_eq!(url(&[]).query, None);
        assert_eq!(
            text(&[
                ("REMOTE_USER", "bob"),
                ("SERVER_NAME", "h"),
                ("SERVER_PORT", "80"),
                ("SCRIPT_NAME", "/x"),
                ("QUERY_STRING", ""),
            ]),
            "http://bob@h/x"
        );
    }

    #[test]
    fn hostile_values_never_panic() {
        let mut rng = crate::codec::testrng::Rng::new(7);
        for _ in 0..3000 {
            let name = rng.bytes_from(b"[]:0123456789ab%", 12);
            let port = rng.bytes_from(b"0123456789:-", 8);
            let u = from_params(|n: &[u8]| match n {
                b"SERVER_NAME" => Some(&name[..]),
                b"SERVER_PORT" => Some(&port[..]),
                _ => None,
            });
            assert!(u.host.as_deref().map_or(true, |h| !h.is_empty()));
        }
    }
}
