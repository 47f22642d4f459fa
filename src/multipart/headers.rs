//! Header-level pieces of multipart: the `boundary` parameter of a
//! `Content-Type`, and the part header block (`Content-Disposition` name and
//! filename, `Content-Type`).
//!
//! Parameter values follow RFC 7578 §4.2 and the WHATWG form encoder: a quoted
//! value runs to the next `"` (browsers percent-encode `"` inside names, they
//! never backslash-escape it, and old Windows browsers send raw `C:\dir\x`
//! paths whose backslashes must survive), a `;` inside quotes is part of the
//! value, an unquoted value is trimmed. `filename*=` is ignored. Parameter
//! names are case-insensitive; the first occurrence wins. Cost: one pass over
//! the header block, no allocation beyond the returned values.

use crate::status::{Error, Result, SMISK_ERR_MULTIPART_BOUNDARY, SMISK_ERR_MULTIPART_MALFORMED};

/// Longest boundary accepted. RFC 2046 allows 70 characters; a little slack
/// for non-conforming clients, but small enough to keep the delimiter search
/// cheap and the carry buffer tiny.
/// cbindgen:ignore
pub const MAX_BOUNDARY_LEN: usize = 200;

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Iterates over the `key=value` parameters after the first `;` of a header
/// value, yielding `(key, value)` with quotes removed. Tokens without `=` are
/// yielded with an empty value.
pub(crate) struct Params<'a> {
    rest: &'a [u8],
}

impl<'a> Params<'a> {
    /// Parameters of `value`, skipping the leading media type / disposition.
    pub(crate) fn of(value: &'a [u8]) -> Params<'a> {
        let rest = match memchr::memchr(b';', value) {
            Some(i) => &value[i + 1..],
            None => &[],
        };
        Params { rest }
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let s = self.rest;
            // Key: up to '=' or ';'.
            let key_end = s
                .iter()
                .position(|&b| b == b'=' || b == b';')
                .unwrap_or(s.len());
            let key = trim(&s[..key_end]);
            if key_end == s.len() || s[key_end] == b';' {
                self.rest = if key_end == s.len() {
                    &[]
                } else {
                    &s[key_end + 1..]
                };
                if key.is_empty() {
                    continue;
                }
                return Some((key, &[]));
            }
            let after = &s[key_end + 1..];
            let lead = after
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(after.len());
            let v = &after[lead..];
            if let [b'"', quoted @ ..] = v {
                let close = memchr::memchr(b'"', quoted).unwrap_or(quoted.len());
                let value = &quoted[..close];
                let tail = &quoted[(close + 1).min(quoted.len())..];
                // Anything between the closing quote and the next ';' is junk
                // that a conforming client never sends; skip it.
                self.rest = match memchr::memchr(b';', tail) {
                    Some(i) => &tail[i + 1..],
                    None => &[],
                };
                return Some((key, value));
            }
            let end = memchr::memchr(b';', v).unwrap_or(v.len());
            self.rest = if end == v.len() { &[] } else { &v[end + 1..] };
            return Some((key, trim(&v[..end])));
        }
    }
}

fn param<'a>(value: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    Params::of(value)
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The media type of a `Content-Type` value (before any `;`), trimmed.
pub fn media_type(content_type: &[u8]) -> &[u8] {
    let end = memchr::memchr(b';', content_type).unwrap_or(content_type.len());
    trim(&content_type[..end])
}

/// Checks a boundary against RFC 2046 §5.1.1 (`bchars`, 1..=70 characters,
/// not ending in a space), allowing up to [`MAX_BOUNDARY_LEN`] characters.
/// Excluding CR and LF is what makes the delimiter search correct: the
/// delimiter `CRLF--boundary` then holds exactly one CR, at its start.
pub fn check_boundary(boundary: &[u8]) -> Result<()> {
    let bad = |why: &str| {
        Error::new(
            SMISK_ERR_MULTIPART_BOUNDARY,
            format!("multipart boundary {why}"),
        )
    };
    if boundary.is_empty() {
        return Err(bad("is empty"));
    }
    if boundary.len() > MAX_BOUNDARY_LEN {
        return Err(bad(&format!(
            "is {} bytes long (at most {MAX_BOUNDARY_LEN} accepted)",
            boundary.len()
        )));
    }
    if boundary.ends_with(b" ") {
        return Err(bad("ends with a space"));
    }
    let ok = |b: u8| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b);
    if let Some(&b) = boundary.iter().find(|&&b| !ok(b)) {
        return Err(bad(&format!("contains the invalid byte 0x{b:02x}")));
    }
    Ok(())
}

/// The `boundary` parameter of a multipart `Content-Type` value, validated.
/// Returns the byte range of the boundary inside `content_type` (quotes
/// excluded), so callers can borrow it without copying.
pub fn boundary_range(content_type: &[u8]) -> Result<std::ops::Range<usize>> {
    let found = param(content_type, b"boundary").ok_or_else(|| {
        Error::new(
            SMISK_ERR_MULTIPART_BOUNDARY,
            "multipart Content-Type has no boundary parameter",
        )
    })?;
    check_boundary(found)?;
    // `found` is a subslice of `content_type`; recover its offset.
    let start = found.as_ptr() as usize - content_type.as_ptr() as usize;
    Ok(start..start + found.len())
}

/// The boundary of a multipart `Content-Type` value.
pub fn boundary(content_type: &[u8]) -> Result<&[u8]> {
    Ok(&content_type[boundary_range(content_type)?])
}

/// The parsed header block of one part. All values are raw bytes as sent
/// (no charset decoding); `None` means the header or parameter was absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartHeaders {
    /// The header block as received, without the blank line that ends it.
    pub raw: Vec<u8>,
    /// `(name, value)` of each header line, unfolded, value trimmed.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// `Content-Disposition` `name` parameter.
    pub name: Option<Vec<u8>>,
    /// `Content-Disposition` `filename` parameter (present, even empty, means
    /// the part is a file upload). `filename*` is ignored.
    pub filename: Option<Vec<u8>>,
    /// `Content-Type` value, trimmed, parameters included.
    pub content_type: Option<Vec<u8>>,
}

impl PartHeaders {
    /// The value of the first header named `name` (case-insensitive).
    pub fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Parses a header block (lines separated by CRLF, no trailing blank
    /// line). Folded continuation lines are joined; a line without `:` is an
    /// error.
    pub fn parse(raw: &[u8]) -> Result<PartHeaders> {
        let mut out = PartHeaders::default();
        out.parse_into(raw)?;
        Ok(out)
    }

    /// Like [`PartHeaders::parse`], reusing this value's allocations (the
    /// parser calls it once per part). On error the value is left empty.
    pub fn parse_into(&mut self, raw: &[u8]) -> Result<()> {
        let r = self.fill(raw);
        if r.is_err() {
            self.raw.clear();
            self.headers.clear();
            self.name = None;
            self.filename = None;
            self.content_type = None;
        }
        r
    }

    fn fill(&mut self, raw: &[u8]) -> Result<()> {
        self.raw.clear();
        self.raw.extend_from_slice(raw);
        let mut count = 0;
        if !raw.is_empty() {
            for line in raw.split(|&b| b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if matches!(line.first(), Some(b' ' | b'\t')) {
                    if count == 0 {
                        return Err(Error::new(
                            SMISK_ERR_MULTIPART_MALFORMED,
                            "multipart part header starts with a continuation line",
                        ));
                    }
                    let v = &mut self.headers[count - 1].1;
                    v.push(b' ');
                    v.extend_from_slice(trim(line));
                    continue;
                }
                let colon = memchr::memchr(b':', line).ok_or_else(|| {
                    Error::new(
                        SMISK_ERR_MULTIPART_MALFORMED,
                        "multipart part header line has no ':'",
                    )
                })?;
                let name = trim(&line[..colon]);
                if name.is_empty() {
                    return Err(Error::new(
                        SMISK_ERR_MULTIPART_MALFORMED,
                        "multipart part header has an empty name",
                    ));
                }
                let value = trim(&line[colon + 1..]);
                if count < self.headers.len() {
                    let (k, v) = &mut self.headers[count];
                    k.clear();
                    k.extend_from_slice(name);
                    v.clear();
                    v.extend_from_slice(value);
                } else {
                    self.headers.push((name.to_vec(), value.to_vec()));
                }
                count += 1;
            }
        }
        self.headers.truncate(count);
        let headers = &self.headers;
        let cd = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(b"content-disposition"))
            .map(|(_, v)| v.as_slice());
        set(&mut self.name, cd.and_then(|cd| param(cd, b"name")));
        set(&mut self.filename, cd.and_then(|cd| param(cd, b"filename")));
        let ct = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(b"content-type"))
            .map(|(_, v)| v.as_slice());
        set(&mut self.content_type, ct);
        Ok(())
    }
}

/// Stores `value` in `slot`, reusing its buffer.
fn set(slot: &mut Option<Vec<u8>>, value: Option<&[u8]>) {
    match (slot.as_mut(), value) {
        (Some(buf), Some(v)) => {
            buf.clear();
            buf.extend_from_slice(v);
        }
        (None, Some(v)) => *slot = Some(v.to_vec()),
        (_, None) => *slot = None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_from_content_type() {
        assert_eq!(
            boundary(b"multipart/form-data; boundary=abc").unwrap(),
            b"abc"
        );
        assert_eq!(
            boundary(b"multipart/form-data; charset=utf-8; BOUNDARY=\"a b:c\"").unwrap(),
            b"a b:c"
        );
        assert_eq!(boundary(b"multipart/form-data;boundary=x ").unwrap(), b"x");
        for bad in [
            &b"multipart/form-data"[..],
            b"multipart/form-data; boundary=",
            b"multipart/form-data; boundary=\"\"",
            b"multipart/form-data; boundary=\"a\r\nb\"",
            b"multipart/form-data; boundary=\"ends \"",
            b"multipart/form-data; boundary=a\"b",
            b"multipart/form-data; boundary=\"a;b\"",
        ] {
            let e = boundary(bad).unwrap_err();
            assert_eq!(e.status, SMISK_ERR_MULTIPART_BOUNDARY, "{bad:?}");
        }
        let long = format!("multipart/form-data; boundary={}", "x".repeat(201));
        assert!(boundary(long.as_bytes()).is_err());
        let ok = format!("multipart/form-data; boundary={}", "x".repeat(200));
        assert_eq!(boundary(ok.as_bytes()).unwrap().len(), 200);
    }

    #[test]
    fn disposition_parameters() {
        let h = PartHeaders::parse(
            b"Content-Disposition: form-data; name=\"a;b=c\"; filename=\"C:\\dir\\x;y.txt\"\r\n\
              content-type:  text/plain; charset=utf-8 ",
        )
        .unwrap();
        assert_eq!(h.name.as_deref(), Some(&b"a;b=c"[..]));
        assert_eq!(h.filename.as_deref(), Some(&b"C:\\dir\\x;y.txt"[..]));
        assert_eq!(
            h.content_type.as_deref(),
            Some(&b"text/plain; charset=utf-8"[..])
        );
        assert_eq!(
            h.get(b"CONTENT-TYPE"),
            Some(&b"text/plain; charset=utf-8"[..])
        );

        let h = PartHeaders::parse(
            b"Content-Disposition: form-data; NAME=unq ; filename*=UTF-8''x.txt",
        )
        .unwrap();
        assert_eq!(h.name.as_deref(), Some(&b"unq"[..]));
        assert_eq!(h.filename, None, "filename* is ignored");

        let h = PartHeaders::parse(b"Content-Disposition: form-data; name=\"\"; filename=\"\"")
            .unwrap();
        assert_eq!(h.name.as_deref(), Some(&b""[..]));
        assert_eq!(h.filename.as_deref(), Some(&b""[..]));

        let h =
            PartHeaders::parse(b"Content-Disposition: form-data; name=\"first\"; name=\"second\"")
                .unwrap();
        assert_eq!(h.name.as_deref(), Some(&b"first"[..]));

        let h = PartHeaders::parse(b"Content-Disposition: form-data;\r\n name=\"folded\"").unwrap();
        assert_eq!(h.name.as_deref(), Some(&b"folded"[..]));

        let h = PartHeaders::parse(b"").unwrap();
        assert_eq!(h, PartHeaders::default());

        // Reuse keeps nothing from the previous part.
        let mut h = PartHeaders::parse(
            b"Content-Type: a/b\r\nX: 1\r\nContent-Disposition: form-data; name=n; filename=f",
        )
        .unwrap();
        h.parse_into(b"Content-Disposition: form-data; name=m")
            .unwrap();
        assert_eq!(
            h,
            PartHeaders::parse(b"Content-Disposition: form-data; name=m").unwrap()
        );
        assert_eq!(
            (
                h.filename.as_deref(),
                h.content_type.as_deref(),
                h.headers.len()
            ),
            (None, None, 1)
        );
        assert!(h.parse_into(b"bad").is_err());
        assert_eq!(h, PartHeaders::default());
        assert!(PartHeaders::parse(b"no colon here").is_err());
        assert!(PartHeaders::parse(b" continuation first").is_err());
        assert!(PartHeaders::parse(b": empty name").is_err());
    }
}
