//! `Set-Cookie` values (RFC 6265 §4.1) and IMF-fixdates (RFC 9110 §5.6.7).
//!
//! [`format`] writes `name=value` and then, in this order and each only when
//! asked for, `Path`, `Domain`, `Max-Age`, `Expires`, `Secure`, `HttpOnly`,
//! `SameSite`, separated by `"; "`. Path and domain are not
//! percent-encoded, the date is a full IMF-fixdate.
//!
//! Guarantees:
//! * The name must be an RFC 7230 token; anything else is an error.
//! * The value may be any bytes: every byte that is not a cookie-octet (CTLs,
//!   space, `"`, `,`, `;`, `\`, bytes ≥ 0x7F) and `%` itself become `%XX`
//!   (upper-case hex), so `Cookie:` parsing (`codec::query`, which decodes
//!   `%XX` and keeps `+`) gives the original bytes back.
//! * Path and domain must be non-empty printable ASCII without `;` (they are
//!   written as given, so they cannot inject attributes or lines).
//! * The output is ASCII with no CR, LF or NUL: a valid header value.
//! * `Max-Age` takes any non-negative `i64`; `Expires` saturates at the last
//!   second of year 9999 instead of overflowing.
//!
//! Cost: one allocation for the output; the value is encoded in one pass.

use super::header::is_token;
use crate::status::{Error, Result};
use percent_encoding::{percent_encode, AsciiSet, CONTROLS};
use std::fmt::Write as _;

/// Bytes of a cookie value written as `%XX`: everything outside RFC 6265's
/// cookie-octet, plus `%` so that decoding is unambiguous. (`percent_encode`
/// always encodes bytes ≥ 0x80; `CONTROLS` holds 0x00–0x1F and 0x7F.)
const NOT_COOKIE_OCTET: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'%')
    .add(b',')
    .add(b';')
    .add(b'\\');

/// `SameSite` attribute values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

impl SameSite {
    /// `strict`, `lax` or `none` in any ASCII case.
    pub fn parse(text: &[u8]) -> Result<SameSite> {
        if text.eq_ignore_ascii_case(b"strict") {
            Ok(SameSite::Strict)
        } else if text.eq_ignore_ascii_case(b"lax") {
            Ok(SameSite::Lax)
        } else if text.eq_ignore_ascii_case(b"none") {
            Ok(SameSite::None)
        } else {
            Err(Error::invalid(format!(
                "invalid SameSite value {:?}: expected \"Strict\", \"Lax\" or \"None\"",
                String::from_utf8_lossy(text)
            )))
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// The attributes of one cookie. `Options::default()` is a session cookie
/// with no attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options<'a> {
    pub path: Option<&'a [u8]>,
    pub domain: Option<&'a [u8]>,
    /// `Max-Age` in seconds (with a matching `Expires`); `None`: a session
    /// cookie (neither attribute).
    pub max_age: Option<u64>,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: Option<SameSite>,
    /// Unix time `Expires` counts from; `None`: the current time.
    pub now: Option<u64>,
}

/// The last second an IMF-fixdate can show: 9999-12-31 23:59:59 UTC.
/// cbindgen:ignore
pub const MAX_DATE: u64 = 253_402_300_799;

/// Appends the IMF-fixdate of `secs` (Unix time, clamped to [`MAX_DATE`]),
/// e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn write_imf_fixdate(out: &mut String, secs: u64) {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = secs.min(MAX_DATE);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil,
    // inverted); unsigned arithmetic is enough because secs >= 0.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let _ = write!(
        out,
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
}

/// The IMF-fixdate of `secs` as a new string.
pub fn imf_fixdate(secs: u64) -> String {
    let mut s = String::with_capacity(29);
    write_imf_fixdate(&mut s, secs);
    s
}

/// Current Unix time in whole seconds (0 if the clock is before 1970).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Path and domain are written verbatim, so they must be printable ASCII
/// without `;` (RFC 6265 path-value; a domain is a host name).
fn check_attribute(what: &str, value: &[u8]) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(format!(
            "cookie {what} is empty (leave it out instead)"
        )));
    }
    if let Some(&bad) = value
        .iter()
        .find(|&&b| b.is_ascii_control() || b == b';' || b >= 0x80)
    {
        return Err(Error::invalid(format!(
            "cookie {what} contains byte 0x{bad:02x} (control characters, ';' and non-ASCII \
             bytes are not allowed; percent-encode the {what} first)"
        )));
    }
    Ok(())
}

/// The `Set-Cookie` header value (without `Set-Cookie: `) for `name=value`
/// with `options`. See the module documentation for the rules.
pub fn format(name: &[u8], value: &[u8], options: &Options<'_>) -> Result<String> {
    if name.is_empty() {
        return Err(Error::invalid("cookie name is empty"));
    }
    if !is_token(name) {
        return Err(Error::invalid(format!(
            "cookie name {:?} is not an RFC 7230 token (letters, digits and !#$%&'*+-.^_`|~ only)",
            String::from_utf8_lossy(name)
        )));
    }
    if let Some(p) = options.path {
        check_attribute("path", p)?;
    }
    if let Some(d) = options.domain {
        check_attribute("domain", d)?;
    }
    let mut out = String::with_capacity(name.len() + value.len() + 96);
    // Tokens are ASCII, checked above.
    out.extend(name.iter().map(|&b| char::from(b)));
    out.push('=');
    out.extend(percent_encode(value, NOT_COOKIE_OCTET));
    let mut attr = |text: &str, value: Option<&[u8]>| {
        out.push_str("; ");
        out.push_str(text);
        if let Some(v) = value {
            // Checked ASCII by check_attribute.
            out.extend(v.iter().map(|&b| char::from(b)));
        }
    };
    if let Some(p) = options.path {
        attr("Path=", Some(p));
    }
    if let Some(d) = options.domain {
        attr("Domain=", Some(d));
    }
    if let Some(max_age) = options.max_age {
        // Max-Age=0 means "delete now": an Expires at the epoch says the
        // same to clients that only know Expires, whatever their clock.
        let expires = if max_age == 0 {
            0
        } else {
            options.now.unwrap_or_else(unix_now).saturating_add(max_age)
        };
        out.push_str("; Max-Age=");
        let _ = write!(out, "{max_age}");
        out.push_str("; Expires=");
        write_imf_fixdate(&mut out, expires);
    }
    if options.secure {
        out.push_str("; Secure");
    }
    if options.http_only {
        out.push_str("; HttpOnly");
    }
    if let Some(s) = options.same_site {
        out.push_str("; SameSite=");
        out.push_str(s.as_str());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::query::{parse_pairs, Separator};
    use crate::codec::testrng::Rng;

    #[test]
    fn imf_fixdate_known_dates() {
        assert_eq!(imf_fixdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(imf_fixdate(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(imf_fixdate(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(imf_fixdate(4_107_542_399), "Sun, 28 Feb 2100 23:59:59 GMT");
        assert_eq!(imf_fixdate(1_798_794_000), "Fri, 01 Jan 2027 09:00:00 GMT");
        assert_eq!(imf_fixdate(MAX_DATE), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(imf_fixdate(u64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn imf_fixdate_agrees_with_a_day_by_day_walk() {
        // Walk every day from 1970 to 2400 with a naive calendar and compare.
        let mut secs = 0u64;
        let (mut y, mut m, mut d, mut wd) = (1970u64, 1u64, 1u64, 4usize); // Thursday
        const WD: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const MO: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        while y < 2400 {
            let want = format!(
                "{}, {:02} {} {:04} 12:34:56 GMT",
                WD[wd],
                d,
                MO[(m - 1) as usize],
                y
            );
            assert_eq!(imf_fixdate(secs + 45_296), want);
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ][(m - 1) as usize];
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
            wd = (wd + 1) % 7;
            secs += 86_400;
        }
    }

    #[test]
    fn attribute_order_and_spelling() {
        let opts = Options {
            path: Some(b"/"),
            domain: Some(b"example.com"),
            max_age: Some(60),
            secure: true,
            http_only: true,
            same_site: Some(SameSite::Lax),
            now: Some(1_795_338_000), // 2026-11-22 09:00:00
        };
        assert_eq!(
            format(b"name", b"value", &opts).unwrap(),
            "name=value; Path=/; Domain=example.com; Max-Age=60; \
             Expires=Sun, 22 Nov 2026 09:01:00 GMT; Secure; HttpOnly; SameSite=Lax"
        );
        assert_eq!(format(b"a", b"", &Options::default()).unwrap(), "a=");
        let only_flags = Options {
            http_only: true,
            same_site: Some(SameSite::None),
            secure: true,
            ..Options::default()
        };
        assert_eq!(
            format(b"a", b"b", &only_flags).unwrap(),
            "a=b; Secure; HttpOnly; SameSite=None"
        );
    }

    #[test]
    fn max_age_zero_expires_at_the_epoch_and_huge_values_clamp() {
        let zero = Options {
            max_age: Some(0),
            now: Some(1_000_000),
            ..Options::default()
        };
        assert_eq!(
            format(b"a", b"b", &zero).unwrap(),
            "a=b; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        );
        let huge = Options {
            max_age: Some(i64::MAX as u64),
            now: Some(u64::MAX - 5),
            ..Options::default()
        };
        assert_eq!(
            format(b"a", b"b", &huge).unwrap(),
            "a=b; Max-Age=9223372036854775807; Expires=Fri, 31 Dec 9999 23:59:59 GMT"
        );
        // Without `now`, Expires is the current time plus Max-Age.
        let live = Options {
            max_age: Some(3600),
            ..Options::default()
        };
        let text = format(b"a", b"b", &live).unwrap();
        let before = imf_fixdate(unix_now() + 3600 - 2);
        let after = imf_fixdate(unix_now() + 3600 + 2);
        let date = text.rsplit("Expires=").next().unwrap();
        assert!(date.len() == 29 && date.ends_with(" GMT"), "{text}");
        assert!(
            date[..16] == before[..16] || date[..16] == after[..16],
            "{text}"
        );
    }

    #[test]
    fn value_bytes_outside_cookie_octet_are_percent_encoded() {
        assert_eq!(
            format(
                b"k",
                b"a b;c,d\"e\\f%g\x7f\x00\xff+=!~",
                &Options::default()
            )
            .unwrap(),
            "k=a%20b%3Bc%2Cd%22e%5Cf%25g%7F%00%FF+=!~"
        );
        // Every cookie-octet except '%' stays as it is.
        for b in 0u8..=255 {
            let octet = b == 0x21
                || (0x23..=0x2B).contains(&b)
                || (0x2D..=0x3A).contains(&b)
                || (0x3C..=0x5B).contains(&b)
                || (0x5D..=0x7E).contains(&b);
            let text = format(b"k", &[b], &Options::default()).unwrap();
            if octet && b != b'%' {
                assert_eq!(text.as_bytes(), [b'k', b'=', b], "byte {b:#x}");
            } else {
                assert_eq!(text, std::format!("k=%{b:02X}"), "byte {b:#x}");
            }
        }
    }

    #[test]
    fn values_round_trip_through_cookie_parsing() {
        let mut rng = Rng::new(0x5e7c_001e);
        for i in 0..5000 {
            let value = if i % 2 == 0 {
                rng.bytes(40)
            } else {
                rng.bytes_from(b" ;,=%+\"\\\t\r\nab%2", 24)
            };
            let line = format(b"sid", &value, &Options::default()).unwrap();
            assert!(!line
                .bytes()
                .any(|b| b.is_ascii_control() || b == b' ' || b >= 0x80));
            // A browser sends it back joined with other cookies.
            let header = std::format!("x=1; {line}; y=2");
            let mut got = Vec::new();
            parse_pairs(header.as_bytes(), Separator::Cookie, 10, |k, v| {
                got.push((k.into_owned(), v.map(|v| v.into_owned())))
            })
            .unwrap();
            assert_eq!(got.len(), 3, "{header}");
            assert_eq!(got[1], (b"sid".to_vec(), Some(value.clone())), "{header}");
        }
    }

    #[test]
    fn bad_names_and_attributes_are_errors() {
        let d = Options::default();
        for bad in [
            &b""[..],
            b"a b",
            b"a=b",
            b"a;b",
            b"a\x00",
            b"\xc3\xa5",
            b"(x)",
            b"a,b",
        ] {
            let e = format(bad, b"v", &d).unwrap_err();
            assert_eq!(e.status, crate::status::SMISK_ERR_INVALID);
            assert!(e.message.contains("name"), "{}", e.message);
        }
        for (path, domain) in [
            (Some(&b"/a;b"[..]), None),
            (Some(b"/a\r\nSet-Cookie: x=y"), None),
            (Some(b"/\x7f"), None),
            (Some(b"/p\xc3\xa5"), None),
            (Some(b""), None),
            (None, Some(&b"ex;ample.com"[..])),
            (None, Some(b"a\x00b")),
            (None, Some(b"")),
        ] {
            let o = Options {
                path,
                domain,
                ..Options::default()
            };
            let e = format(b"a", b"b", &o).unwrap_err();
            assert_eq!(e.status, crate::status::SMISK_ERR_INVALID);
            let what = if path.is_some() { "path" } else { "domain" };
            assert!(e.message.contains(what), "{}", e.message);
        }
        // Path and domain are not percent-encoded.
        let o = Options {
            path: Some(b"/a b/%2F"),
            domain: Some(b".example.com"),
            ..Options::default()
        };
        assert_eq!(
            format(b"a", b"b", &o).unwrap(),
            "a=b; Path=/a b/%2F; Domain=.example.com"
        );
    }

    #[test]
    fn same_site_parsing() {
        assert_eq!(SameSite::parse(b"LAX").unwrap(), SameSite::Lax);
        assert_eq!(SameSite::parse(b"Strict").unwrap(), SameSite::Strict);
        assert_eq!(SameSite::parse(b"nOnE").unwrap(), SameSite::None);
        for bad in [&b""[..], b"lax ", b"laxx", b"no", b"\xff"] {
            assert_eq!(
                SameSite::parse(bad).unwrap_err().status,
                crate::status::SMISK_ERR_INVALID
            );
        }
    }
}
