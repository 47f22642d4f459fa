//! FastCGI 1.0 record framing, sans I/O.
//!
//! Parses record headers and name-value pairs out of byte slices and encodes
//! the records a responder sends. Nothing here reads a socket or allocates
//! based on a length the peer claims: every length is checked against the
//! bytes actually present (the CVE-2025-23016 class of overflow cannot happen).

use crate::status::{Error, Result};

/// The only protocol version.
pub const VERSION_1: u8 = 1;
/// Size of a record header.
pub const HEADER_LEN: usize = 8;
/// Largest content a single record can carry.
pub const MAX_CONTENT: usize = 0xffff;

pub const BEGIN_REQUEST: u8 = 1;
pub const ABORT_REQUEST: u8 = 2;
pub const END_REQUEST: u8 = 3;
pub const PARAMS: u8 = 4;
pub const STDIN: u8 = 5;
pub const STDOUT: u8 = 6;
pub const STDERR: u8 = 7;
pub const DATA: u8 = 8;
pub const GET_VALUES: u8 = 9;
pub const GET_VALUES_RESULT: u8 = 10;
pub const UNKNOWN_TYPE: u8 = 11;

/// Request id 0 is reserved for management records.
pub const NULL_REQUEST_ID: u16 = 0;

pub const ROLE_RESPONDER: u16 = 1;
pub const ROLE_AUTHORIZER: u16 = 2;
pub const ROLE_FILTER: u16 = 3;

/// `flags` bit of BEGIN_REQUEST: keep the connection open after the request.
pub const FLAG_KEEP_CONN: u8 = 1;

pub const REQUEST_COMPLETE: u8 = 0;
pub const CANT_MPX_CONN: u8 = 1;
pub const OVERLOADED: u8 = 2;
pub const UNKNOWN_ROLE: u8 = 3;

/// A parsed record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: u8,
    pub request_id: u16,
    pub content_len: u16,
    pub padding_len: u8,
}

impl Header {
    /// Parses the 8-byte header at the start of `buf`. `Ok(None)` means fewer
    /// than 8 bytes are available; a version other than 1 is an error (the
    /// stream cannot be resynchronised, so the caller closes the connection).
    pub fn parse(buf: &[u8]) -> Result<Option<Header>> {
        let Some(h) = buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        if h[0] != VERSION_1 {
            return Err(Error::protocol(format!(
                "unsupported FastCGI version {}",
                h[0]
            )));
        }
        Ok(Some(Header {
            kind: h[1],
            request_id: u16::from_be_bytes([h[2], h[3]]),
            content_len: u16::from_be_bytes([h[4], h[5]]),
            padding_len: h[6],
        }))
    }

    /// Content plus padding: the bytes that follow the header.
    pub fn body_len(&self) -> usize {
        usize::from(self.content_len) + usize::from(self.padding_len)
    }

    /// Header plus content plus padding.
    pub fn record_len(&self) -> usize {
        HEADER_LEN + self.body_len()
    }
}

/// Appends a record header.
pub fn put_header(out: &mut Vec<u8>, kind: u8, request_id: u16, content_len: usize) {
    debug_assert!(content_len <= MAX_CONTENT);
    let id = request_id.to_be_bytes();
    let len = (content_len as u16).to_be_bytes();
    out.extend_from_slice(&[VERSION_1, kind, id[0], id[1], len[0], len[1], 0, 0]);
}

/// Overwrites the content length of the header that starts at `out[at]`.
pub fn patch_content_len(out: &mut [u8], at: usize, content_len: usize) {
    debug_assert!(content_len <= MAX_CONTENT);
    out[at + 4..at + 6].copy_from_slice(&(content_len as u16).to_be_bytes());
}

/// Appends a complete record, splitting `content` over as many records as
/// needed (an empty `content` gives one empty record: the end of a stream).
pub fn put_stream(out: &mut Vec<u8>, kind: u8, request_id: u16, content: &[u8]) {
    if content.is_empty() {
        put_header(out, kind, request_id, 0);
        return;
    }
    for chunk in content.chunks(MAX_CONTENT) {
        put_header(out, kind, request_id, chunk.len());
        out.extend_from_slice(chunk);
    }
}

/// Appends an END_REQUEST record.
pub fn put_end_request(out: &mut Vec<u8>, request_id: u16, app_status: u32, protocol_status: u8) {
    put_header(out, END_REQUEST, request_id, 8);
    out.extend_from_slice(&app_status.to_be_bytes());
    out.extend_from_slice(&[protocol_status, 0, 0, 0]);
}

/// Appends an UNKNOWN_TYPE management record.
pub fn put_unknown_type(out: &mut Vec<u8>, kind: u8) {
    put_header(out, UNKNOWN_TYPE, NULL_REQUEST_ID, 8);
    out.extend_from_slice(&[kind, 0, 0, 0, 0, 0, 0, 0]);
}

/// The body of a BEGIN_REQUEST record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BeginRequest {
    pub role: u16,
    pub flags: u8,
}

impl BeginRequest {
    pub fn parse(content: &[u8]) -> Result<BeginRequest> {
        if content.len() != 8 {
            return Err(Error::protocol(format!(
                "BEGIN_REQUEST body is {} bytes, expected 8",
                content.len()
            )));
        }
        Ok(BeginRequest {
            role: u16::from_be_bytes([content[0], content[1]]),
            flags: content[2],
        })
    }

    pub fn keep_conn(&self) -> bool {
        self.flags & FLAG_KEEP_CONN != 0
    }
}

/// Reads one name or value length (1 byte, or 4 bytes with the high bit
/// set); `None` if the buffer ends inside it. Inlined, and without an
/// `Error` in its result: it runs twice per param of every request.
#[inline(always)]
fn read_len(buf: &[u8], pos: &mut usize) -> Option<usize> {
    let first = *buf.get(*pos)?;
    if first & 0x80 == 0 {
        *pos += 1;
        return Some(usize::from(first));
    }
    let b = buf.get(*pos..*pos + 4)?;
    *pos += 4;
    Some(u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]]) as usize)
}

#[cold]
fn truncated_len(buf: &[u8], pos: usize) -> Error {
    if buf.get(pos).is_some_and(|b| b & 0x80 != 0) {
        Error::protocol("name-value pair truncated in a 4-byte length")
    } else {
        Error::protocol("name-value pair truncated in a length")
    }
}

/// Offsets of one name-value pair inside a params buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairSpan {
    pub name_at: u32,
    pub name_len: u32,
    pub value_at: u32,
    pub value_len: u32,
}

/// Splits a complete name-value pair stream into spans, appending to `out`.
/// Each claimed length is checked against the bytes remaining before it is
/// used, so a length of 0x7fffffff in a 100-byte buffer is an error, not an
/// allocation. At most `max_pairs` pairs are accepted.
pub fn parse_pairs(buf: &[u8], max_pairs: usize, out: &mut Vec<PairSpan>) -> Result<()> {
    debug_assert!(buf.len() <= u32::MAX as usize);
    let mut pos = 0;
    while pos < buf.len() {
        if out.len() >= max_pairs {
            return Err(Error::too_large(format!(
                "more than {max_pairs} FastCGI params"
            )));
        }
        // On None pos still points at the length that was cut short.
        let Some(name_len) = read_len(buf, &mut pos) else {
            return Err(truncated_len(buf, pos));
        };
        let Some(value_len) = read_len(buf, &mut pos) else {
            return Err(truncated_len(buf, pos));
        };
        let remaining = buf.len() - pos;
        if name_len > remaining || value_len > remaining - name_len {
            return Err(Error::protocol(format!(
                "name-value pair claims {name_len}+{value_len} bytes but only {remaining} remain"
            )));
        }
        out.push(PairSpan {
            name_at: pos as u32,
            name_len: name_len as u32,
            value_at: (pos + name_len) as u32,
            value_len: value_len as u32,
        });
        pos += name_len + value_len;
    }
    Ok(())
}

/// Appends one name-value pair in the wire encoding.
pub fn put_pair(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    for len in [name.len(), value.len()] {
        if len < 0x80 {
            out.push(len as u8);
        } else {
            out.extend_from_slice(&((len as u32) | 0x8000_0000).to_be_bytes());
        }
    }
    out.extend_from_slice(name);
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_short_input() {
        let mut out = Vec::new();
        put_header(&mut out, STDOUT, 0x1234, 300);
        assert_eq!(out, [1, 6, 0x12, 0x34, 1, 44, 0, 0]);
        let h = Header::parse(&out).unwrap().unwrap();
        assert_eq!(
            h,
            Header {
                kind: STDOUT,
                request_id: 0x1234,
                content_len: 300,
                padding_len: 0
            }
        );
        assert_eq!(h.record_len(), 308);
        assert_eq!(Header::parse(&out[..7]).unwrap(), None);
        assert!(Header::parse(&[2, 1, 0, 1, 0, 0, 0, 0]).is_err());
        patch_content_len(&mut out, 0, 7);
        assert_eq!(Header::parse(&out).unwrap().unwrap().content_len, 7);
    }

    #[test]
    fn streams_split_at_max_content() {
        let data = vec![7u8; MAX_CONTENT * 2 + 10];
        let mut out = Vec::new();
        put_stream(&mut out, STDOUT, 1, &data);
        assert_eq!(out.len(), data.len() + 3 * HEADER_LEN);
        let h = Header::parse(&out).unwrap().unwrap();
        assert_eq!(usize::from(h.content_len), MAX_CONTENT);
        let mut empty = Vec::new();
        put_stream(&mut empty, STDOUT, 1, b"");
        assert_eq!(empty, [1, 6, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn end_request_and_unknown_type_layout() {
        let mut out = Vec::new();
        put_end_request(&mut out, 1, 0x01020304, CANT_MPX_CONN);
        assert_eq!(out, [1, 3, 0, 1, 0, 8, 0, 0, 1, 2, 3, 4, 1, 0, 0, 0]);
        out.clear();
        put_unknown_type(&mut out, 42);
        assert_eq!(out, [1, 11, 0, 0, 0, 8, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn pairs_round_trip_short_and_long_lengths() {
        let long = vec![b'v'; 300];
        let mut buf = Vec::new();
        put_pair(&mut buf, b"A", b"1");
        put_pair(&mut buf, b"LONG", &long);
        put_pair(&mut buf, b"", b"");
        let mut spans = Vec::new();
        parse_pairs(&buf, 10, &mut spans).unwrap();
        assert_eq!(spans.len(), 3);
        let s = spans[1];
        assert_eq!(&buf[s.name_at as usize..][..s.name_len as usize], b"LONG");
        assert_eq!(
            &buf[s.value_at as usize..][..s.value_len as usize],
            &long[..]
        );
    }

    #[test]
    fn hostile_pair_lengths_are_rejected_without_allocating() {
        // name length 0x7fffffff with a tiny buffer
        let buf = [0xff, 0xff, 0xff, 0xff, 0x01, b'x', b'y'];
        let mut spans = Vec::new();
        let err = parse_pairs(&buf, 10, &mut spans).unwrap_err();
        assert_eq!(err.status, crate::status::SMISK_ERR_PROTOCOL);
        // value length overflowing past the end
        assert!(parse_pairs(&[1, 5, b'a', b'b'], 10, &mut Vec::new()).is_err());
        // truncated lengths: the message says which kind
        let err = parse_pairs(&[0x80, 0], 10, &mut Vec::new()).unwrap_err();
        assert!(err.message.contains("4-byte length"), "{}", err.message);
        let err = parse_pairs(&[1, 0x80, 0, 0], 10, &mut Vec::new()).unwrap_err();
        assert!(err.message.contains("4-byte length"), "{}", err.message);
        let err = parse_pairs(&[1, 1, b'a', b'b', 3], 10, &mut Vec::new()).unwrap_err();
        assert!(
            err.message.contains("truncated in a length"),
            "{}",
            err.message
        );
        assert_eq!(err.status, crate::status::SMISK_ERR_PROTOCOL);
        // too many pairs
        let mut many = Vec::new();
        for _ in 0..5 {
            put_pair(&mut many, b"a", b"b");
        }
        let err = parse_pairs(&many, 4, &mut Vec::new()).unwrap_err();
        assert_eq!(err.status, crate::status::SMISK_ERR_TOO_LARGE);
    }

    #[test]
    fn begin_request_body() {
        let b = BeginRequest::parse(&[0, 1, 1, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(b.role, ROLE_RESPONDER);
        assert!(b.keep_conn());
        assert!(BeginRequest::parse(&[0, 1, 0]).is_err());
    }
}
