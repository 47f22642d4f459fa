//! The load generator's own FastCGI client codec (FastCGI 1.0 specification).
//!
//! Written independently of smisk's server-side codec on purpose: a client that
//! shared the server's parser would share its bugs and could not catch them.
//!
//! Guarantees: [`encode_request`] produces one complete RESPONDER request
//! (BEGIN_REQUEST, PARAMS stream, empty STDIN) in a single buffer, built once per
//! run. [`ResponseParser`] is a sans-I/O state machine: it accepts the response
//! in pieces of any size (down to one byte), never allocates, never buffers
//! content (STDOUT/STDERR slices are handed to the caller straight from the
//! input) and rejects anything a correct responder would not send for our one
//! request: a version other than 1, a request id other than ours, a record type
//! other than STDOUT/STDERR/END_REQUEST, a malformed END_REQUEST body.
//! Cost: O(input) time, a few dozen bytes of state.

pub const VERSION_1: u8 = 1;
pub const BEGIN_REQUEST: u8 = 1;
pub const END_REQUEST: u8 = 3;
pub const PARAMS: u8 = 4;
pub const STDIN: u8 = 5;
pub const STDOUT: u8 = 6;
pub const STDERR: u8 = 7;
pub const RESPONDER: u16 = 1;
pub const KEEP_CONN: u8 = 1;
pub const REQUEST_COMPLETE: u8 = 0;

/// The request id used for every request: the generator never multiplexes.
pub const REQUEST_ID: u16 = 1;

const HEADER_LEN: usize = 8;
const MAX_CONTENT: usize = 0xffff;

fn push_header(out: &mut Vec<u8>, rtype: u8, content_len: usize, padding: u8) {
    debug_assert!(content_len <= MAX_CONTENT);
    out.extend_from_slice(&[
        VERSION_1,
        rtype,
        (REQUEST_ID >> 8) as u8,
        REQUEST_ID as u8,
        (content_len >> 8) as u8,
        content_len as u8,
        padding,
        0,
    ]);
}

/// Appends one FastCGI name-value length (1 byte below 128, else 4 bytes with
/// the top bit set). Lengths of 2^31 or more cannot be encoded and are refused.
fn push_nv_len(out: &mut Vec<u8>, len: usize) -> Result<(), String> {
    if len < 0x80 {
        out.push(len as u8);
        Ok(())
    } else if len <= 0x7fff_ffff {
        out.extend_from_slice(&((len as u32) | 0x8000_0000).to_be_bytes());
        Ok(())
    } else {
        Err(format!("param of {len} bytes is too long for FastCGI"))
    }
}

/// Appends a stream's content as records of at most 65535 bytes, each padded to
/// a multiple of 8 bytes as nginx does (so the server sees realistic padding).
/// Empty content appends nothing; the caller adds the empty end-of-stream record.
fn push_stream(out: &mut Vec<u8>, rtype: u8, mut content: &[u8]) {
    while !content.is_empty() {
        // 65528 keeps a full record's content a multiple of 8: no padding needed.
        let n = content.len().min(MAX_CONTENT - 7);
        let padding = ((8 - n % 8) % 8) as u8;
        push_header(out, rtype, n, padding);
        out.extend_from_slice(&content[..n]);
        out.extend(std::iter::repeat(0u8).take(padding as usize));
        content = &content[n..];
    }
}

/// Encodes a whole RESPONDER request with the given params and an empty body:
/// BEGIN_REQUEST (with FCGI_KEEP_CONN if `keep_conn`), PARAMS records, the empty
/// PARAMS record, the empty STDIN record.
pub fn encode_request(params: &[(&[u8], &[u8])], keep_conn: bool) -> Result<Vec<u8>, String> {
    let mut pairs = Vec::new();
    for (name, value) in params {
        push_nv_len(&mut pairs, name.len())?;
        push_nv_len(&mut pairs, value.len())?;
        pairs.extend_from_slice(name);
        pairs.extend_from_slice(value);
    }
    let mut out = Vec::with_capacity(pairs.len() + 64);
    push_header(&mut out, BEGIN_REQUEST, 8, 0);
    let flags = if keep_conn { KEEP_CONN } else { 0 };
    out.extend_from_slice(&[
        (RESPONDER >> 8) as u8,
        RESPONDER as u8,
        flags,
        0,
        0,
        0,
        0,
        0,
    ]);
    push_stream(&mut out, PARAMS, &pairs);
    push_header(&mut out, PARAMS, 0, 0);
    push_header(&mut out, STDIN, 0, 0);
    Ok(out)
}

/// What the parser found in the bytes it was fed.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    Stdout(&'a [u8]),
    Stderr(&'a [u8]),
    End {
        app_status: u32,
        protocol_status: u8,
    },
}

/// Why a response is not a valid answer to our request.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum ParseError {
    BadVersion(u8),
    WrongRequestId(u16),
    UnexpectedType(u8),
    BadEndLength(usize),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::BadVersion(v) => write!(f, "record version {v}, expected 1"),
            ParseError::WrongRequestId(id) => write!(f, "record for request id {id}"),
            ParseError::UnexpectedType(t) => write!(f, "unexpected record type {t}"),
            ParseError::BadEndLength(n) => write!(f, "END_REQUEST with {n} content bytes"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Content,
    Padding,
    Done,
}

/// Incremental parser of one response (see the module doc).
#[derive(Debug)]
pub struct ResponseParser {
    state: State,
    header: [u8; HEADER_LEN],
    have: usize,
    rtype: u8,
    content_left: usize,
    padding_left: usize,
    end_body: [u8; 8],
    end_have: usize,
}

impl Default for ResponseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseParser {
    pub fn new() -> Self {
        ResponseParser {
            state: State::Header,
            header: [0; HEADER_LEN],
            have: 0,
            rtype: 0,
            content_left: 0,
            padding_left: 0,
            end_body: [0; 8],
            end_have: 0,
        }
    }

    /// Forgets everything: ready for the next response.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// True once END_REQUEST (and its padding) has been parsed.
    #[cfg(test)]
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// True if no byte of the current response has been seen yet.
    pub fn is_untouched(&self) -> bool {
        self.state == State::Header && self.have == 0 && self.end_have == 0
    }

    /// Feeds bytes; calls `on_event` for each piece of STDOUT/STDERR content and
    /// for END_REQUEST. Returns how many bytes were consumed: fewer than
    /// `input.len()` only when the response ended, the rest belongs to nobody
    /// (a correct server sends nothing after END_REQUEST before the next request).
    pub fn feed<'a>(
        &mut self,
        mut input: &'a [u8],
        mut on_event: impl FnMut(Event<'a>),
    ) -> Result<usize, ParseError> {
        let total = input.len();
        while !input.is_empty() {
            match self.state {
                State::Done => break,
                State::Header => {
                    let n = (HEADER_LEN - self.have).min(input.len());
                    self.header[self.have..self.have + n].copy_from_slice(&input[..n]);
                    self.have += n;
                    input = &input[n..];
                    if self.have == HEADER_LEN {
                        self.start_record(&mut on_event)?;
                    }
                }
                State::Content => {
                    let n = self.content_left.min(input.len());
                    let (chunk, rest) = input.split_at(n);
                    input = rest;
                    self.content_left -= n;
                    match self.rtype {
                        STDOUT => on_event(Event::Stdout(chunk)),
                        STDERR => on_event(Event::Stderr(chunk)),
                        _ => {
                            // END_REQUEST: its length was checked to be 8.
                            self.end_body[self.end_have..self.end_have + n].copy_from_slice(chunk);
                            self.end_have += n;
                        }
                    }
                    if self.content_left == 0 {
                        self.finish_content(&mut on_event);
                    }
                }
                State::Padding => {
                    let n = self.padding_left.min(input.len());
                    input = &input[n..];
                    self.padding_left -= n;
                    if self.padding_left == 0 {
                        self.finish_padding(&mut on_event);
                    }
                }
            }
        }
        Ok(total - input.len())
    }

    fn start_record<'a>(&mut self, on_event: &mut impl FnMut(Event<'a>)) -> Result<(), ParseError> {
        let h = self.header;
        self.have = 0;
        if h[0] != VERSION_1 {
            return Err(ParseError::BadVersion(h[0]));
        }
        let id = u16::from_be_bytes([h[2], h[3]]);
        if id != REQUEST_ID {
            return Err(ParseError::WrongRequestId(id));
        }
        let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
        match h[1] {
            STDOUT | STDERR => {}
            END_REQUEST if len == 8 => {}
            END_REQUEST => return Err(ParseError::BadEndLength(len)),
            t => return Err(ParseError::UnexpectedType(t)),
        }
        self.rtype = h[1];
        self.content_left = len;
        self.padding_left = usize::from(h[6]);
        if len > 0 {
            self.state = State::Content;
        } else {
            // An empty STDOUT/STDERR record closes that stream: nothing to report.
            self.finish_content(on_event);
        }
        Ok(())
    }

    fn finish_content<'a>(&mut self, on_event: &mut impl FnMut(Event<'a>)) {
        if self.padding_left > 0 {
            self.state = State::Padding;
        } else {
            self.finish_padding(on_event);
        }
    }

    fn finish_padding<'a>(&mut self, on_event: &mut impl FnMut(Event<'a>)) {
        if self.rtype == END_REQUEST {
            let b = self.end_body;
            on_event(Event::End {
                app_status: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                protocol_status: b[4],
            });
            self.state = State::Done;
        } else {
            self.state = State::Header;
        }
    }
}

/// Checks STDOUT against the expected bytes as it streams in, without keeping it.
#[derive(Debug, Default)]
pub struct Verifier {
    pos: usize,
    mismatch: bool,
    stderr_bytes: usize,
}

impl Verifier {
    pub fn reset(&mut self) {
        *self = Verifier::default();
    }

    pub fn stdout(&mut self, expected: &[u8], chunk: &[u8]) {
        if self.mismatch {
            return;
        }
        match expected.get(self.pos..self.pos + chunk.len()) {
            Some(want) if want == chunk => self.pos += chunk.len(),
            _ => self.mismatch = true,
        }
    }

    pub fn stderr(&mut self, chunk: &[u8]) {
        self.stderr_bytes += chunk.len();
    }

    /// True if the whole STDOUT seen equals `expected` exactly.
    pub fn body_ok(&self, expected: &[u8]) -> bool {
        !self.mismatch && self.pos == expected.len()
    }

    pub fn stderr_bytes(&self) -> usize {
        self.stderr_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(rtype: u8, id: u16, content: &[u8], padding: u8) -> Vec<u8> {
        let mut v = vec![
            1,
            rtype,
            (id >> 8) as u8,
            id as u8,
            (content.len() >> 8) as u8,
            content.len() as u8,
            padding,
            0,
        ];
        v.extend_from_slice(content);
        v.extend(std::iter::repeat(0xAA).take(padding as usize));
        v
    }

    fn end(app: u32, proto: u8) -> Vec<u8> {
        let mut body = app.to_be_bytes().to_vec();
        body.extend_from_slice(&[proto, 0, 0, 0]);
        record(END_REQUEST, 1, &body, 0)
    }

    /// Parses `input` fed in pieces of `step` bytes; returns stdout, stderr, end.
    #[allow(clippy::type_complexity)]
    fn parse(
        input: &[u8],
        step: usize,
    ) -> Result<(Vec<u8>, Vec<u8>, Option<(u32, u8)>, usize), ParseError> {
        let mut p = ResponseParser::new();
        let (mut out, mut err, mut fin) = (Vec::new(), Vec::new(), None);
        let mut consumed = 0;
        for chunk in input.chunks(step) {
            consumed += p.feed(chunk, |e| match e {
                Event::Stdout(b) => out.extend_from_slice(b),
                Event::Stderr(b) => err.extend_from_slice(b),
                Event::End {
                    app_status,
                    protocol_status,
                } => fin = Some((app_status, protocol_status)),
            })?;
            if p.is_done() {
                break;
            }
        }
        Ok((out, err, fin, consumed))
    }

    #[test]
    fn parses_a_response_fed_in_any_piece_size() {
        let mut resp = record(STDOUT, 1, b"Content-Type: text/plain\r\n\r\n", 3);
        resp.extend(record(STDERR, 1, b"warn", 4));
        resp.extend(record(STDOUT, 1, b"Hello World!\n", 0));
        resp.extend(record(STDOUT, 1, b"", 0));
        resp.extend(end(7, 0));
        for step in 1..=resp.len() {
            let (out, err, fin, consumed) = parse(&resp, step).unwrap();
            assert_eq!(
                out, b"Content-Type: text/plain\r\n\r\nHello World!\n",
                "step {step}"
            );
            assert_eq!(err, b"warn");
            assert_eq!(fin, Some((7, 0)));
            assert_eq!(consumed, resp.len());
        }
    }

    #[test]
    fn stops_at_end_request_and_leaves_the_rest() {
        let mut resp = end(0, 0);
        resp.extend(record(STDOUT, 1, b"late", 0));
        let (_, _, fin, consumed) = parse(&resp, resp.len()).unwrap();
        assert_eq!(fin, Some((0, 0)));
        assert_eq!(consumed, 8 + 8);
    }

    #[test]
    fn rejects_what_a_responder_must_not_send() {
        let mut bad_version = record(STDOUT, 1, b"x", 0);
        bad_version[0] = 2;
        assert_eq!(
            parse(&bad_version, 3).unwrap_err(),
            ParseError::BadVersion(2)
        );
        assert_eq!(
            parse(&record(STDOUT, 2, b"x", 0), 1).unwrap_err(),
            ParseError::WrongRequestId(2)
        );
        assert_eq!(
            parse(&record(11, 1, &[0; 8], 0), 8).unwrap_err(),
            ParseError::UnexpectedType(11)
        );
        assert_eq!(
            parse(&record(BEGIN_REQUEST, 1, &[0; 8], 0), 8).unwrap_err(),
            ParseError::UnexpectedType(1)
        );
        assert_eq!(
            parse(&record(END_REQUEST, 1, &[0; 4], 0), 8).unwrap_err(),
            ParseError::BadEndLength(4)
        );
    }

    #[test]
    fn truncated_response_is_not_done() {
        let mut resp = record(STDOUT, 1, b"Hello", 0);
        resp.extend(end(0, 0));
        resp.truncate(resp.len() - 1);
        let (out, _, fin, _) = parse(&resp, 4).unwrap();
        assert_eq!(out, b"Hello");
        assert_eq!(fin, None);
    }

    #[test]
    fn request_encoding_round_trips() {
        let long = vec![b'v'; 200];
        let params: Vec<(&[u8], &[u8])> = vec![
            (b"REQUEST_METHOD", b"GET"),
            (b"LONG", &long),
            (b"EMPTY", b""),
        ];
        for keep in [true, false] {
            let req = encode_request(&params, keep).unwrap();
            // BEGIN_REQUEST with the flag.
            assert_eq!(&req[..8], &[1, BEGIN_REQUEST, 0, 1, 0, 8, 0, 0]);
            assert_eq!(&req[8..11], &[0, 1, u8::from(keep)]);
            // One padded PARAMS record, then empty PARAMS and empty STDIN.
            let p = &req[16..];
            assert_eq!(p[1], PARAMS);
            let len = usize::from(u16::from_be_bytes([p[4], p[5]]));
            let pad = usize::from(p[6]);
            assert_eq!((len + pad) % 8, 0);
            let body = &p[8..8 + len];
            assert_eq!(&body[..2], &[14, 3]);
            assert_eq!(&body[2..19], b"REQUEST_METHODGET");
            assert_eq!(&body[19..24], &[4, 0x80, 0, 0, 200]);
            assert_eq!(&body[24..28], b"LONG");
            let tail = &p[8 + len + pad..];
            assert_eq!(
                tail,
                &[1, PARAMS, 0, 1, 0, 0, 0, 0, 1, STDIN, 0, 1, 0, 0, 0, 0]
            );
        }
    }

    #[test]
    fn large_params_are_split_into_records() {
        let big = vec![b'x'; 200_000];
        let req = encode_request(&[(b"BIG", &big)], true).unwrap();
        let mut at = 16;
        let mut total = 0;
        loop {
            let h = &req[at..at + 8];
            assert_eq!(h[1], PARAMS);
            let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
            if len == 0 {
                break;
            }
            total += len;
            at += 8 + len + usize::from(h[6]);
        }
        assert_eq!(total, 1 + 4 + 3 + big.len());
    }

    #[test]
    fn verifier_demands_the_exact_bytes() {
        let want = b"Hello World!\n";
        let mut v = Verifier::default();
        v.stdout(want, b"Hello ");
        v.stdout(want, b"World!\n");
        assert!(v.body_ok(want));
        v.stdout(want, b"x");
        assert!(!v.body_ok(want), "trailing byte");
        v.reset();
        v.stdout(want, b"Hello");
        assert!(!v.body_ok(want), "short");
        v.reset();
        v.stdout(want, b"Hellx World!\n");
        assert!(!v.body_ok(want), "changed byte");
    }
}
