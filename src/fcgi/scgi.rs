//! SCGI, sans I/O: the request header of the Simple Common Gateway
//! Interface (protocol version 1), which a web server sends instead of
//! FastCGI records when it speaks SCGI (nginx `scgi_pass`, lighttpd
//! `mod_scgi`, Apache `mod_proxy_scgi`).
//!
//! A request is one netstring, `<length>:<header bytes>,`, whose bytes are
//! NUL-terminated names and values (`CONTENT_LENGTH` first, `SCGI` = `1`
//! among them), then exactly `CONTENT_LENGTH` body bytes. The answer is the
//! CGI response (header lines, a blank line, the body) written straight to
//! the connection, which is closed after it: one request per connection.
//!
//! Guarantees: the length is decided from its digits alone (at most 10,
//! no sign, no leading zero) and checked against `Limits::max_params_bytes`
//! before a byte of the header is awaited; the field count is capped by
//! `Limits::max_params`; nothing is allocated from a length the peer claims.
//! Every malformed header gets a defined answer ([`Malformed`]).

use super::limits::Limits;
use super::record::PairSpan;

/// The wire protocol of a listening socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// FastCGI 1.0 (the default).
    #[default]
    FastCgi,
    /// SCGI 1.
    Scgi,
}

impl Protocol {
    /// Splits the protocol prefix off a `bind` address: `scgi:ADDRESS` is
    /// SCGI, `fcgi:ADDRESS` (or no prefix) FastCGI. A unix socket path that
    /// itself begins with `scgi:` is written `./scgi:...`.
    pub fn split(address: &str) -> (Protocol, &str) {
        if let Some(rest) = address.strip_prefix("scgi:") {
            (Protocol::Scgi, rest)
        } else if let Some(rest) = address.strip_prefix("fcgi:") {
            (Protocol::FastCgi, rest)
        } else {
            (Protocol::FastCgi, address)
        }
    }

    /// The name `listening()` and messages use: "fastcgi" or "scgi".
    pub fn name(self) -> &'static str {
        match self {
            Protocol::FastCgi => "fastcgi",
            Protocol::Scgi => "scgi",
        }
    }
}

/// Most digits of the header length: 10 cover any length a limit allows.
const MAX_LEN_DIGITS: usize = 10;

/// Why a request header was refused: the HTTP status to answer with, and
/// the message.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed {
    pub status: &'static str,
    pub message: String,
}

fn bad(message: impl Into<String>) -> Malformed {
    Malformed {
        status: "400 Bad Request",
        message: message.into(),
    }
}

fn too_large(message: impl Into<String>) -> Malformed {
    Malformed {
        status: "431 Request Header Fields Too Large",
        message: message.into(),
    }
}

/// What [`parse_header`] found at the start of the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// The header is not complete: at least `want` bytes are needed in all.
    NeedMore { want: usize },
    /// The header took `consumed` bytes; the body is `content_length` bytes.
    Complete {
        consumed: usize,
        content_length: u64,
    },
}

/// Parses the request header netstring at the start of `input` into
/// `params` (the raw header bytes) and `spans` (their names and values).
pub fn parse_header(
    input: &[u8],
    limits: &Limits,
    params: &mut Vec<u8>,
    spans: &mut Vec<PairSpan>,
) -> Result<Parsed, Malformed> {
    let digits = input
        .iter()
        .take(MAX_LEN_DIGITS + 1)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits > MAX_LEN_DIGITS {
        return Err(too_large(format!(
            "SCGI header length has more than {MAX_LEN_DIGITS} digits"
        )));
    }
    let Some(&after) = input.get(digits) else {
        return Ok(Parsed::NeedMore { want: digits + 1 });
    };
    if after != b':' || digits == 0 {
        return Err(bad(
            "SCGI request must begin with a netstring length (digits, then ':')",
        ));
    }
    if digits > 1 && input[0] == b'0' {
        return Err(bad("SCGI header length has a leading zero"));
    }
    // At most 10 digits: fits in u64.
    let len = input[..digits]
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    if len > limits.max_params_bytes as u64 {
        return Err(too_large(format!(
            "SCGI header of {len} bytes exceeds the limit of {} bytes",
            limits.max_params_bytes
        )));
    }
    let len = len as usize;
    let start = digits + 1;
    let total = start + len + 1;
    if input.len() < total {
        return Ok(Parsed::NeedMore { want: total });
    }
    if input[start + len] != b',' {
        return Err(bad("SCGI header netstring does not end with ','"));
    }
    let header = &input[start..start + len];
    if header.last() != Some(&0) {
        return Err(bad("SCGI header does not end with a NUL"));
    }
    params.clear();
    params.extend_from_slice(header);
    spans.clear();
    // Fields alternate name, value; each ends with a NUL.
    let mut at = 0;
    while at < header.len() {
        if spans.len() >= limits.max_params {
            return Err(too_large(format!(
                "more than {} SCGI header fields",
                limits.max_params
            )));
        }
        let name_len = memchr::memchr(0, &header[at..]).expect("ends with NUL");
        let value_at = at + name_len + 1;
        let Some(value_len) = memchr::memchr(0, &header[value_at..]) else {
            return Err(bad("SCGI header field has a name but no value"));
        };
        if name_len == 0 {
            return Err(bad("SCGI header field with an empty name"));
        }
        spans.push(PairSpan {
            name_at: at as u32,
            name_len: name_len as u32,
            value_at: value_at as u32,
            value_len: value_len as u32,
        });
        at = value_at + value_len + 1;
    }
    let field = |s: &PairSpan| {
        (
            &header[s.name_at as usize..][..s.name_len as usize],
            &header[s.value_at as usize..][..s.value_len as usize],
        )
    };
    let content_length = match spans.first().map(field) {
        Some((b"CONTENT_LENGTH", v)) => parse_content_length(v)?,
        _ => return Err(bad("SCGI header must begin with CONTENT_LENGTH")),
    };
    if !spans
        .iter()
        .map(field)
        .any(|(n, v)| n == b"SCGI" && v == b"1")
    {
        return Err(bad("SCGI header lacks SCGI=1"));
    }
    Ok(Parsed::Complete {
        consumed: total,
        content_length,
    })
}

fn parse_content_length(v: &[u8]) -> Result<u64, Malformed> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return Err(bad(format!(
            "SCGI CONTENT_LENGTH {:?} is not a decimal number",
            String::from_utf8_lossy(v)
        )));
    }
    Ok(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A request header with these fields after CONTENT_LENGTH and SCGI.
    pub(crate) fn header(content_length: usize, fields: &[(&str, &str)]) -> Vec<u8> {
        let mut h = format!("CONTENT_LENGTH\0{content_length}\0SCGI\x001\0").into_bytes();
        for (n, v) in fields {
            h.extend_from_slice(n.as_bytes());
            h.push(0);
            h.extend_from_slice(v.as_bytes());
            h.push(0);
        }
        let mut out = format!("{}:", h.len()).into_bytes();
        out.extend_from_slice(&h);
        out.push(b',');
        out
    }

    fn parse(input: &[u8]) -> Result<Parsed, Malformed> {
        let (mut p, mut s) = (Vec::new(), Vec::new());
        parse_header(input, &Limits::default(), &mut p, &mut s)
    }

    #[test]
    fn the_protocol_prefix_of_an_address() {
        assert_eq!(
            Protocol::split("scgi:/run/a.sock"),
            (Protocol::Scgi, "/run/a.sock")
        );
        assert_eq!(
            Protocol::split("scgi:[::1]:4000"),
            (Protocol::Scgi, "[::1]:4000")
        );
        assert_eq!(
            Protocol::split("fcgi:127.0.0.1:9000"),
            (Protocol::FastCgi, "127.0.0.1:9000")
        );
        assert_eq!(
            Protocol::split("/run/scgi:x"),
            (Protocol::FastCgi, "/run/scgi:x")
        );
    }

    #[test]
    fn a_header_fed_one_byte_at_a_time() {
        let mut input = header(5, &[("REQUEST_METHOD", "POST"), ("EMPTY", "")]);
        let whole = input.len();
        input.extend_from_slice(b"hello");
        for end in 0..whole {
            assert!(
                matches!(parse(&input[..end]), Ok(Parsed::NeedMore { want }) if want > end),
                "at {end}"
            );
        }
        let (mut p, mut s) = (Vec::new(), Vec::new());
        let got = parse_header(&input, &Limits::default(), &mut p, &mut s).unwrap();
        assert_eq!(
            got,
            Parsed::Complete {
                consumed: whole,
                content_length: 5
            }
        );
        let fields: Vec<(&[u8], &[u8])> = s
            .iter()
            .map(|sp| {
                (
                    &p[sp.name_at as usize..][..sp.name_len as usize],
                    &p[sp.value_at as usize..][..sp.value_len as usize],
                )
            })
            .collect();
        assert_eq!(
            fields,
            [
                (&b"CONTENT_LENGTH"[..], &b"5"[..]),
                (b"SCGI", b"1"),
                (b"REQUEST_METHOD", b"POST"),
                (b"EMPTY", b"")
            ]
        );
    }

    /// `content` as a netstring.
    fn ns(content: &[u8]) -> Vec<u8> {
        let mut out = format!("{}:", content.len()).into_bytes();
        out.extend_from_slice(content);
        out.push(b',');
        out
    }

    #[test]
    fn malformed_headers_get_defined_answers() {
        let mut no_comma = ns(b"CONTENT_LENGTH\x000\0SCGI\x001\0");
        *no_comma.last_mut().unwrap() = b';';
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b":CONTENT_LENGTH".to_vec(), "400"),
            (b"x5:".to_vec(), "400"),
            (b"-5:abcde,".to_vec(), "400"),
            (b"05:abcde,".to_vec(), "400"),
            (b"12345678901:".to_vec(), "431"),
            (b"99999999:".to_vec(), "431"),
            (no_comma, "400"),
            (ns(b"CONTENT_LENGTH\x000\0SCGI\x001"), "400"), // no NUL at the end
            (ns(b"SCGI\x001\0CONTENT_LENGTH\x000\0"), "400"), // CONTENT_LENGTH not first
            (ns(b"CONTENT_LENGTH\x000\0"), "400"),          // no SCGI=1
            (ns(b"CONTENT_LENGTH\0-1\0SCGI\x001\0"), "400"), // negative
            (ns(b"CONTENT_LENGTH\0x1\0SCGI\x001\0"), "400"), // not a number
            (ns(b"CONTENT_LENGTH\0\0SCGI\x001\0"), "400"),  // empty
            (ns(b"CONTENT_LENGTH\0"), "400"),               // a name without a value
            (ns(b"CONTENT_LENGTH\x000\0SCGI\x002\0"), "400"), // wrong version
            (ns(b"CONTENT_LENGTH\x000\0\0x\0SCGI\x001\0"), "400"), // empty name
            (
                ns(b"CONTENT_LENGTH\x0099999999999999999999\0SCGI\x001\0"),
                "400",
            ), // overflow
        ];
        for (input, status) in &cases {
            match parse(input) {
                Err(m) => assert!(
                    m.status.starts_with(status),
                    "{:?}: {m:?}",
                    String::from_utf8_lossy(input)
                ),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
            }
        }
        // ...and the well-formed one they were made from.
        assert!(matches!(
            parse(&ns(b"CONTENT_LENGTH\x000\0SCGI\x001\0")),
            Ok(Parsed::Complete {
                content_length: 0,
                ..
            })
        ));
    }

    #[test]
    fn limits_are_decided_before_the_bytes_arrive() {
        let limits = Limits {
            max_params_bytes: 100,
            max_params: 3,
            ..Limits::default()
        };
        let (mut p, mut s) = (Vec::new(), Vec::new());
        let m = parse_header(b"101:", &limits, &mut p, &mut s).unwrap_err();
        assert!(m.status.starts_with("431"));
        let four = header(0, &[("A", "1"), ("B", "2")]);
        let m = parse_header(&four, &limits, &mut p, &mut s).unwrap_err();
        assert!(m.status.starts_with("431"), "{m:?}");
        assert!(s.len() <= 3);
    }
}
