//! Response header lines: the one grammar every layer checks them against.
//!
//! * [`is_token`]: an RFC 9110 token (header names, cookie names), by a
//!   256-entry table.
//! * [`validate_line`]: a whole `Name: value` line as smisk sends it: a
//!   token name, a colon, and no CR, LF or NUL anywhere (so a value cannot
//!   start a second header or end the block).
//! * [`check_gateway_item`] and [`check_gateway_status`]: what a gateway
//!   such as WSGI (PEP 3333) hands over as `(name, value)` pairs and a
//!   `"NNN Reason"` status: the same grammar, plus the rule that hop-by-hop
//!   headers ([`HOP_BY_HOP`]) belong to the web server, not the application.
//!
//! [`Lines`] is the header list of a response: the lines as they were set,
//! checked with [`validate_line`] when the header block is built
//! ([`Lines::block`]), which is the moment the contract names ("validated
//! at `begin()`").
//!
//! Cost: one vectorised scan for CR/LF/NUL, one for the colon, one table
//! lookup per name byte. Nothing here allocates except the block itself.

use crate::status::{Error, Result};

/// RFC 9110 token characters.
static TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    t
};

/// True when `bytes` is a non-empty RFC 9110 token (letters, digits and
/// ``!#$%&'*+-.^_`|~``).
pub fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|b| TCHAR[usize::from(*b)])
}

/// The headers a gateway application may not set (RFC 7230 §6.1, RFC 2616
/// §13.5.1): they describe one connection, which the web server manages.
/// (NUL-terminated, for the C API too.)
pub const HOP_BY_HOP: [&std::ffi::CStr; 9] = [
    c"connection",
    c"keep-alive",
    c"proxy-authenticate",
    c"proxy-authorization",
    c"te",
    c"trailer",
    c"trailers",
    c"transfer-encoding",
    c"upgrade",
];

/// Whether `name` is one of [`HOP_BY_HOP`] (any case).
pub fn is_hop_by_hop(name: &[u8]) -> bool {
    HOP_BY_HOP
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h.to_bytes()))
}

fn forbidden_byte(at: &[u8]) -> Option<u8> {
    memchr::memchr3(b'\r', b'\n', 0, at).map(|i| at[i])
}

/// The same verdict as [`validate_line`] in one pass, for the valid lines
/// every response sends: the first byte that is not a tchar must be the
/// colon (CR, LF, NUL and ':' are not tchars), and the value must hold no
/// CR, LF or NUL. A line it refuses goes through the checks that say why.
fn line_is_valid(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|b| !TCHAR[usize::from(*b)]) else {
        return false;
    };
    if colon == 0 || line[colon] != b':' {
        return false;
    }
    let value = &line[colon + 1..];
    // memchr3's set-up costs more than a short value's bytes.
    if value.len() < 32 {
        !value.iter().any(|b| matches!(*b, b'\r' | b'\n' | 0))
    } else {
        forbidden_byte(value).is_none()
    }
}

/// Checks one response header line ("Name: value", no line terminator):
/// a token name, a colon, and no CR, LF or NUL anywhere.
pub fn validate_line(line: &[u8]) -> Result<()> {
    if line_is_valid(line) {
        return Ok(());
    }
    if let Some(bad) = forbidden_byte(line) {
        return Err(Error::invalid(format!(
            "header line contains a forbidden byte 0x{bad:02x} (CR, LF and NUL are not allowed)"
        )));
    }
    let colon = memchr::memchr(b':', line)
        .ok_or_else(|| Error::invalid("header line has no ':' (expected \"Name: value\")"))?;
    let name = &line[..colon];
    if !is_token(name) {
        return Err(Error::invalid(format!(
            "invalid header name {:?}",
            String::from_utf8_lossy(name)
        )));
    }
    Ok(())
}

/// Whether a header line is named `name` (ASCII, any case).
pub fn line_is(line: &[u8], name: &[u8]) -> bool {
    line.len() > name.len()
        && line[name.len()] == b':'
        && line[..name.len()].eq_ignore_ascii_case(name)
}

/// What [`check_gateway_item`] found out about a valid item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemKind {
    /// The item is a Content-Length (the gateway need not compute one).
    pub is_content_length: bool,
}

/// Checks one `(name, value)` header item a gateway application passed
/// (the bytes it will send: Latin-1 for WSGI's native strings): the name
/// an RFC 7230 token and not hop-by-hop, the value free of CR, LF and NUL.
/// The line smisk sends for it is `name: value` ([`gateway_line`]).
pub fn check_gateway_item(name: &[u8], value: &[u8]) -> Result<ItemKind> {
    let shown = || String::from_utf8_lossy(name);
    if !is_token(name) {
        return Err(Error::invalid(format!(
            "invalid header name {:?} (must be an RFC 7230 token)",
            shown()
        )));
    }
    if is_hop_by_hop(name) {
        return Err(Error::invalid(format!(
            "hop-by-hop header {:?} is not allowed in a gateway response (PEP 3333): \
             the web server manages the connection",
            shown()
        )));
    }
    if forbidden_byte(value).is_some() {
        return Err(Error::invalid(format!(
            "value of header {:?} contains CR, LF or NUL: {:?}",
            shown(),
            String::from_utf8_lossy(value)
        )));
    }
    Ok(ItemKind {
        is_content_length: name.eq_ignore_ascii_case(b"content-length"),
    })
}

/// The header line of a gateway item: `name: value`.
pub fn gateway_line(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut line = Vec::with_capacity(name.len() + 2 + value.len());
    line.extend_from_slice(name);
    line.extend_from_slice(b": ");
    line.extend_from_slice(value);
    line
}

/// Checks a gateway status (`"NNN Reason"`: a code 100-999, one space, a
/// reason without control characters) and returns the code. The line smisk
/// sends for it is `Status: <status>`.
pub fn check_gateway_status(status: &[u8]) -> Result<u16> {
    let ok = status.len() >= 4
        && (b'1'..=b'9').contains(&status[0])
        && status[1].is_ascii_digit()
        && status[2].is_ascii_digit()
        && status[3] == b' '
        && !status[4..].iter().any(|&b| b < 0x20 || b == 0x7f);
    if !ok {
        return Err(Error::invalid(format!(
            "status must be 'NNN Reason' (Latin-1, no control characters): {:?}",
            String::from_utf8_lossy(status)
        )));
    }
    Ok(status[..3]
        .iter()
        .fold(0u16, |v, d| v * 10 + u16::from(d - b'0')))
}

/// Whether a header line is the status of an answer that has no body and
/// must not carry Content-Length (RFC 9110 §8.6: 204; §15.4.5: 304, whose
/// length would be the 200's, which the application did not mean when it
/// wrote one).
fn is_bodiless_status(line: &[u8]) -> bool {
    if !line_is(line, b"Status") {
        return false;
    }
    let value = &line[7..];
    let value = &value[value.iter().take_while(|b| **b == b' ').count()..];
    matches!(value.get(..3), Some(b"204") | Some(b"304"))
        && value.get(3).map_or(true, |b| *b == b' ')
}

/// The header lines of one response, in order, as they were set. Lines are
/// kept CRLF-terminated in one buffer, so building the block is a copy.
/// A line may be stored before it is known to be valid (that is how a list
/// the application edits line by line mirrors here); [`Lines::block`]
/// checks every line not checked on the way in.
#[derive(Debug, Default)]
pub struct Lines {
    /// Every line followed by CRLF.
    buf: Vec<u8>,
    /// Where each line starts in `buf`.
    starts: Vec<usize>,
    /// The first `checked` lines passed [`validate_line`].
    checked: usize,
}

impl Lines {
    /// Number of lines.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// True without lines.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Bytes of the lines with their CRLFs (the block without its blank
    /// line).
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// The `index`-th line, without CRLF.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let start = *self.starts.get(index)?;
        let end = self
            .starts
            .get(index + 1)
            .copied()
            .unwrap_or(self.buf.len());
        Some(&self.buf[start..end - 2])
    }

    /// Appends a line, to be checked when the block is built.
    pub fn push(&mut self, line: &[u8]) {
        self.starts.push(self.buf.len());
        self.buf.extend_from_slice(line);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// Checks a line and appends it (an invalid one is refused and not
    /// stored).
    pub fn push_checked(&mut self, line: &[u8]) -> Result<()> {
        validate_line(line)?;
        let all_checked = self.checked == self.len();
        self.push(line);
        if all_checked {
            self.checked += 1;
        }
        Ok(())
    }

    /// Replaces every line by `lines` (to be checked when the block is
    /// built).
    pub fn set<'a>(&mut self, lines: impl IntoIterator<Item = &'a [u8]>) {
        self.clear();
        for line in lines {
            self.push(line);
        }
    }

    /// Drops every line.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.starts.clear();
        self.checked = 0;
    }

    /// Checks every line (and `first`, a line smisk made that goes before
    /// them) and hands the header block to `emit` in pieces: `first`, the
    /// lines (without Content-Length lines when a Status line says 204 or
    /// 304), and the blank line that ends the block; usually the lines and
    /// the blank line come as one piece. Nothing is emitted when a line is
    /// invalid (its error is returned). No allocation.
    pub fn emit_block(
        &mut self,
        first: Option<&[u8]>,
        mut emit: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        if let Some(first) = first {
            validate_line(first)?;
        }
        for i in self.checked..self.len() {
            validate_line(self.get(i).expect("in range"))?;
        }
        self.checked = self.len();
        if let Some(first) = first {
            emit(first)?;
            emit(b"\r\n")?;
        }
        let bodiless = (0..self.len()).any(|i| is_bodiless_status(self.get(i).expect("in range")));
        if bodiless {
            for i in 0..self.len() {
                let start = self.starts[i];
                let end = self.starts.get(i + 1).copied().unwrap_or(self.buf.len());
                if !line_is(&self.buf[start..end - 2], b"Content-Length") {
                    emit(&self.buf[start..end])?;
                }
            }
            emit(b"\r\n")
        } else {
            // The usual block in one piece: the lines and the blank line.
            self.buf.extend_from_slice(b"\r\n");
            let result = emit(&self.buf);
            self.buf.truncate(self.buf.len() - 2);
            result
        }
    }

    /// The header block of [`emit_block`](Self::emit_block) as one buffer.
    pub fn block(&mut self, first: Option<&[u8]>) -> Result<Vec<u8>> {
        let mut block = Vec::new();
        self.emit_block(first, |piece| {
            block.extend_from_slice(piece);
            Ok(())
        })?;
        Ok(block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodiless_statuses_are_recognised() {
        for yes in [
            &b"Status: 204 No Content"[..],
            b"status: 304 Not Modified",
            b"Status:204",
            b"STATUS:  304",
        ] {
            assert!(
                is_bodiless_status(yes),
                "{:?}",
                String::from_utf8_lossy(yes)
            );
        }
        for no in [
            &b"Status: 200 OK"[..],
            b"Status: 2040 x",
            b"X-Status: 204",
            b"Statuses: 204",
            b"Content-Type: 204",
        ] {
            assert!(!is_bodiless_status(no), "{:?}", String::from_utf8_lossy(no));
        }
        let mut lines = Lines::default();
        for l in [
            &b"Status: 204"[..],
            b"content-length: 0",
            b"X-A: 1",
            b"Content-Length:5",
            b"Content-Lengthy: 2",
        ] {
            lines.push(l);
        }
        assert_eq!(
            lines.block(None).unwrap(),
            b"Status: 204\r\nX-A: 1\r\nContent-Lengthy: 2\r\n\r\n"
        );
    }

    #[test]
    fn header_lines_are_validated() {
        assert!(validate_line(b"Content-Type: text/plain").is_ok());
        assert!(validate_line(b"X-Empty:").is_ok());
        assert!(validate_line(b"X-Latin1: \xe5").is_ok());
        for bad in [
            &b"No colon"[..],
            b": no name",
            b"Bad Name: x",
            b"X: a\r\nInjected: 1",
            b"X: a\nb",
            b"X: a\0b",
            b"(x): y",
        ] {
            assert!(
                validate_line(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        // Every byte as a one-byte name: exactly RFC 9110's tchars pass.
        for b in 0..=255u8 {
            let want = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_token(&[b]), want, "{b:#04x}");
            assert_eq!(validate_line(&[b, b':', b' ', b'v']).is_ok(), want);
            // and as a byte of the value, where only CR, LF and NUL fail
            let ok = validate_line(&[b'X', b':', b' ', b]).is_ok();
            assert_eq!(ok, !matches!(b, b'\r' | b'\n' | 0), "{b:#04x}");
            assert_eq!(check_gateway_item(b"X", &[b]).is_ok(), ok);
            assert_eq!(check_gateway_item(&[b], b"v").is_ok(), want);
        }
        assert!(!is_token(b""));
    }

    #[test]
    fn the_one_pass_check_agrees_with_the_full_one() {
        let long = [b'v'; 40];
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for b in 0..=255u8 {
            for at in [0, 1, 3, 4, 6] {
                let mut l = b"X-A: v".to_vec();
                l.insert(at, b);
                cases.push(l.clone());
                // and in a value long enough for memchr3
                let mut l = b"X-A: ".to_vec();
                l.extend_from_slice(&long);
                l.insert(5 + at * 6, b);
                cases.push(l);
            }
        }
        cases.extend([
            b"".to_vec(),
            b":".to_vec(),
            b"X".to_vec(),
            b"X:".to_vec(),
            b"::".to_vec(),
        ]);
        for l in cases {
            let full = forbidden_byte(&l).is_none()
                && memchr::memchr(b':', &l).is_some_and(|c| is_token(&l[..c]));
            assert_eq!(line_is_valid(&l), full, "{:?}", String::from_utf8_lossy(&l));
            assert_eq!(validate_line(&l).is_ok(), full);
        }
    }

    #[test]
    fn gateway_items_and_statuses() {
        assert_eq!(
            check_gateway_item(b"Content-Type", b"text/plain").unwrap(),
            ItemKind {
                is_content_length: false
            }
        );
        assert!(
            check_gateway_item(b"content-LENGTH", b"5")
                .unwrap()
                .is_content_length
        );
        assert_eq!(gateway_line(b"X-A", b"caf\xe9"), b"X-A: caf\xe9");
        for name in HOP_BY_HOP {
            let upper = name.to_bytes().to_ascii_uppercase();
            let e = check_gateway_item(&upper, b"x").unwrap_err();
            assert!(e.message.contains("hop-by-hop"), "{}", e.message);
        }
        let e = check_gateway_item(b"X A", b"b").unwrap_err();
        assert!(e.message.contains("RFC 7230 token"), "{}", e.message);
        let e = check_gateway_item(b"X-A", b"b\r\nX-Injected: 1").unwrap_err();
        assert!(e.message.contains("CR, LF or NUL"), "{}", e.message);
        assert_eq!(check_gateway_status(b"200 OK").unwrap(), 200);
        assert_eq!(check_gateway_status(b"999 ").unwrap(), 999);
        assert_eq!(check_gateway_status(b"404 Caf\xe9").unwrap(), 404);
        for bad in [
            &b"2000 OK"[..],
            b"200",
            b"200OK",
            b"099 x",
            b"20x OK",
            b"200 a\tb",
            b"200 a\x7f",
            b"",
        ] {
            let e = check_gateway_status(bad).unwrap_err();
            assert!(e.message.contains("NNN Reason"), "{}", e.message);
        }
    }

    #[test]
    fn lines_keep_order_and_check_what_was_not_checked() {
        let mut l = Lines::default();
        assert!(l.is_empty());
        l.push_checked(b"A: 1").unwrap();
        assert!(l.push_checked(b"B\r\n: 2").is_err());
        assert_eq!(l.len(), 1);
        l.push(b"C: 3");
        assert_eq!(l.get(0), Some(&b"A: 1"[..]));
        assert_eq!(l.get(1), Some(&b"C: 3"[..]));
        assert_eq!(l.get(2), None);
        assert_eq!(l.bytes(), 12);
        assert_eq!(
            l.block(Some(b"Set-Cookie: s=1")).unwrap(),
            b"Set-Cookie: s=1\r\nA: 1\r\nC: 3\r\n\r\n"
        );
        l.set([&b"Bad Name: x"[..], b"D: 4"]);
        let e = l.block(None).unwrap_err();
        assert!(e.message.contains("invalid header name"), "{}", e.message);
        assert_eq!(l.len(), 2, "a failed block keeps the lines");
        l.set([&b"D: 4"[..]]);
        assert_eq!(l.block(None).unwrap(), b"D: 4\r\n\r\n");
        assert!(l.block(Some(b"X: a\nb")).is_err());
        l.clear();
        assert_eq!(l.block(None).unwrap(), b"\r\n");
    }
}
