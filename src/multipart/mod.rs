//! A sans-I/O push parser for `multipart/form-data` bodies (RFC 7578 framing
//! as defined by RFC 2046 §5.1).
//!
//! Feed the body in chunks of any size to [`Parser::step`] (one event per
//! call) or [`Parser::feed`] (a callback per event); call [`Parser::finish`]
//! at end of input. Events: [`Event::PartBegin`] with the parsed headers,
//! [`Event::Data`] slices of the part's content, [`Event::PartEnd`], and
//! [`Event::End`] at the close delimiter.
//!
//! Guarantees:
//! * Chunking never changes the result: the concatenation of `Data` slices of
//!   a part, and every other event, are the same whether the body arrives in
//!   one piece or one byte at a time (tested, and fuzzed).
//! * Data slices borrow the caller's chunk; the only bytes ever copied are
//!   the at most `boundary + 3` bytes at a chunk end that might begin a
//!   delimiter, and the part header block.
//! * Linear time in the input for every input: the delimiter search is
//!   `memchr::memmem` (two-way with a SIMD prefilter) behind a prefilter tuned
//!   against near-delimiter junk (see `search`), each byte is examined a
//!   bounded number of times, and nothing is rescanned across calls.
//! * Bounded memory: part headers are capped ([`Limits::max_header_bytes`],
//!   default 16 KiB), the part count is capped ([`Limits::max_parts`],
//!   default 1000), the carry buffer holds less than one delimiter.
//! * Strict framing: delimiters are `CRLF--boundary` (the first one may start
//!   the body), followed by `--` (close) or optional spaces/tabs and CRLF.
//!   A delimiter followed by anything else, a part header block without a
//!   blank line, or input ending before the close delimiter is an error with
//!   its own status. LF-only bodies are therefore malformed. The preamble and
//!   the epilogue are ignored. After an error the parser stays failed.
//!
//! The total body size and field sizes are the caller's business (see
//! `crate::form`), since only the caller knows what it keeps in memory.

mod headers;
mod search;

pub use headers::{
    boundary, boundary_range, check_boundary, media_type, PartHeaders, MAX_BOUNDARY_LEN,
};

use crate::status::{
    Error, Result, SMISK_ERR_BODY_TRUNCATED, SMISK_ERR_MULTIPART_MALFORMED,
    SMISK_ERR_PART_HEADER_TOO_LARGE, SMISK_ERR_TOO_MANY_PARTS,
};
use memchr::memmem;

/// Default cap on the number of parts in one body.
/// cbindgen:ignore
pub const DEFAULT_MAX_PARTS: usize = 1000;
/// Default cap on the size of one part's header block.
/// cbindgen:ignore
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;

/// Parser limits; the defaults are finite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most parts accepted; one more is `SMISK_ERR_TOO_MANY_PARTS`.
    pub max_parts: usize,
    /// Most bytes in one part header block (header lines with their CRLFs and
    /// the blank line that ends them); more is `SMISK_ERR_PART_HEADER_TOO_LARGE`.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_parts: DEFAULT_MAX_PARTS,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
        }
    }
}

/// One parser event. Borrowed data is valid until the next call on the parser.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A part starts; its headers.
    PartBegin(&'a PartHeaders),
    /// Bytes of the current part's content (never empty).
    Data(&'a [u8]),
    /// The current part ended (a delimiter was seen).
    PartEnd,
    /// The close delimiter was seen; the rest of the input is epilogue.
    End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the first delimiter; content is discarded.
    Preamble,
    /// Just after a delimiter: expect `--`, padding or CRLF.
    AfterDelimiter,
    /// Saw `-` after a delimiter: expect the second `-`.
    AfterDelimiterDash,
    /// Transport padding (spaces/tabs) after a delimiter.
    Padding,
    /// Saw CR after a delimiter: expect LF.
    AfterDelimiterCr,
    /// Collecting a part header block.
    Headers,
    /// Headers parsed; `PartBegin` not yet returned.
    BeginPending,
    /// Inside part content.
    Body,
    /// After the close delimiter: everything is ignored.
    Epilogue,
    /// An error happened; it is repeated on every call.
    Failed,
}

/// The push parser. See the module documentation.
pub struct Parser {
    /// `CRLF--boundary`.
    delimiter: Vec<u8>,
    searcher: search::Searcher,
    header_end: memmem::Finder<'static>,
    limits: Limits,
    state: State,
    /// Bytes at the end of the previous chunk that are a proper prefix of the
    /// delimiter (always starts with CR, or is the virtual CRLF before the
    /// body, so the first delimiter may start at offset 0).
    carry: Vec<u8>,
    /// Carry bytes that turned out to be content, handed out as `Data`.
    flushed: Vec<u8>,
    /// Header block under construction, starting with the CRLF that ended
    /// the delimiter line (so the empty block is `CRLF CRLF`).
    header_buf: Vec<u8>,
    headers: PartHeaders,
    parts: usize,
    error: Option<Error>,
}

impl std::fmt::Debug for Parser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parser")
            .field("state", &self.state)
            .field("parts", &self.parts)
            .finish_non_exhaustive()
    }
}

const CRLF: &[u8] = b"\r\n";
const HEADER_END: &[u8] = b"\r\n\r\n";
/// Header bytes copied per search step.
const HEADER_STEP: usize = 512;

impl Parser {
    /// A parser for the given boundary (as in the `boundary=` parameter,
    /// without the leading `--`).
    pub fn new(boundary: &[u8], limits: Limits) -> Result<Parser> {
        check_boundary(boundary)?;
        let mut delimiter = Vec::with_capacity(boundary.len() + 4);
        delimiter.extend_from_slice(b"\r\n--");
        delimiter.extend_from_slice(boundary);
        let searcher = search::Searcher::new(&delimiter);
        Ok(Parser {
            carry: Vec::from(CRLF),
            flushed: Vec::with_capacity(delimiter.len()),
            delimiter,
            searcher,
            header_end: memmem::Finder::new(HEADER_END),
            limits,
            state: State::Preamble,
            header_buf: Vec::new(),
            headers: PartHeaders::default(),
            parts: 0,
            error: None,
        })
    }

    /// A parser for the boundary of a multipart `Content-Type` value.
    pub fn from_content_type(content_type: &[u8], limits: Limits) -> Result<Parser> {
        Parser::new(boundary(content_type)?, limits)
    }

    /// Number of parts begun so far.
    pub fn parts(&self) -> usize {
        self.parts
    }

    /// True once the close delimiter has been seen.
    pub fn is_done(&self) -> bool {
        self.state == State::Epilogue
    }

    fn fail(&mut self, err: Error) -> Error {
        self.state = State::Failed;
        self.error = Some(err.clone());
        err
    }

    fn malformed(&mut self, what: &str) -> Error {
        self.fail(Error::new(SMISK_ERR_MULTIPART_MALFORMED, what))
    }

    /// Parses from `input` up to the next event. Returns how many bytes of
    /// `input` were consumed and the event, or `None` when all of `input` was
    /// consumed without completing one (feed more input). The caller passes
    /// `input[consumed..]` to the next call.
    pub fn step<'a>(&'a mut self, input: &'a [u8]) -> Result<(usize, Option<Event<'a>>)> {
        let mut pos = 0;
        loop {
            match self.state {
                State::Failed => {
                    return Err(self.error.clone().unwrap_or_else(|| {
                        Error::new(SMISK_ERR_MULTIPART_MALFORMED, "multipart parser failed")
                    }))
                }
                State::Epilogue => return Ok((input.len(), None)),
                State::BeginPending => {
                    self.state = State::Body;
                    return Ok((pos, Some(Event::PartBegin(&self.headers))));
                }
                State::Preamble | State::Body => {
                    let emit = self.state == State::Body;
                    match self.scan(&input[pos..]) {
                        Scan::Flush => {
                            if emit {
                                return Ok((pos, Some(Event::Data(&self.flushed))));
                            }
                        }
                        Scan::Data(n) => {
                            if emit {
                                return Ok((pos + n, Some(Event::Data(&input[pos..pos + n]))));
                            }
                            pos += n;
                        }
                        Scan::DataThenCarry(n, used) => {
                            pos += used;
                            if emit && n > 0 {
                                return Ok((
                                    pos,
                                    Some(Event::Data(&input[pos - used..pos - used + n])),
                                ));
                            }
                        }
                        Scan::Delimiter(used) => {
                            pos += used;
                            if emit {
                                self.state = State::AfterDelimiter;
                                return Ok((pos, Some(Event::PartEnd)));
                            }
                            self.state = State::AfterDelimiter;
                        }
                        Scan::NeedMore(used) => return Ok((pos + used, None)),
                    }
                }
                State::AfterDelimiter
                | State::AfterDelimiterDash
                | State::Padding
                | State::AfterDelimiterCr => {
                    let Some(&b) = input.get(pos) else {
                        return Ok((pos, None));
                    };
                    pos += 1;
                    self.state = match (self.state, b) {
                        (State::AfterDelimiter, b'-') => State::AfterDelimiterDash,
                        (State::AfterDelimiterDash, b'-') => {
                            self.state = State::Epilogue;
                            return Ok((pos, Some(Event::End)));
                        }
                        (State::AfterDelimiter | State::Padding, b' ' | b'\t') => State::Padding,
                        (State::AfterDelimiter | State::Padding, b'\r') => State::AfterDelimiterCr,
                        (State::AfterDelimiterCr, b'\n') => {
                            self.header_buf.clear();
                            self.header_buf.extend_from_slice(CRLF);
                            State::Headers
                        }
                        (State::AfterDelimiterCr, _) => {
                            return Err(
                                self.malformed("multipart boundary line ends with CR without LF")
                            )
                        }
                        _ => return Err(self.malformed(
                            "multipart boundary is followed by something other than CRLF or \"--\"",
                        )),
                    };
                }
                State::Headers => {
                    let rest = &input[pos..];
                    if rest.is_empty() {
                        return Ok((pos, None));
                    }
                    // The buffer never grows past the cap plus the virtual CRLF.
                    let cap = self.limits.max_header_bytes.saturating_add(2);
                    let before = self.header_buf.len();
                    // Copy in small steps: part headers are usually short,
                    // and copying up to the cap before finding their end
                    // would cost 16 KiB of memcpy per part.
                    let take = rest.len().min(cap - before.min(cap)).min(HEADER_STEP);
                    self.header_buf.extend_from_slice(&rest[..take]);
                    // Resume the terminator search where it could still start.
                    let from = before.saturating_sub(HEADER_END.len() - 1);
                    match self.header_end.find(&self.header_buf[from..]) {
                        Some(i) => {
                            let end = from + i;
                            let used = end + HEADER_END.len() - before;
                            pos += used;
                            if self.parts >= self.limits.max_parts {
                                let max = self.limits.max_parts;
                                return Err(self.fail(Error::new(
                                    SMISK_ERR_TOO_MANY_PARTS,
                                    format!("multipart body has more than {max} parts"),
                                )));
                            }
                            // end == 0 is the empty block (the virtual CRLF is the blank line).
                            let raw = if end == 0 {
                                &[][..]
                            } else {
                                &self.header_buf[2..end]
                            };
                            if let Err(e) = self.headers.parse_into(raw) {
                                return Err(self.fail(e));
                            }
                            self.header_buf.clear();
                            self.parts += 1;
                            self.state = State::BeginPending;
                        }
                        None => {
                            pos += take;
                            if self.header_buf.len() >= cap {
                                let max = self.limits.max_header_bytes;
                                return Err(self.fail(Error::new(
                                    SMISK_ERR_PART_HEADER_TOO_LARGE,
                                    format!("multipart part headers exceed {max} bytes"),
                                )));
                            }
                            if pos == input.len() {
                                return Ok((pos, None));
                            }
                        }
                    }
                }
            }
        }
    }

    /// The delimiter search over content (preamble or part body).
    fn scan(&mut self, input: &[u8]) -> Scan {
        let d = self.delimiter.len();
        if !self.carry.is_empty() {
            // Does carry + input continue the delimiter?
            let k = self.carry.len();
            let m = (d - k).min(input.len());
            if input[..m] == self.delimiter[k..k + m] {
                if k + m == d {
                    self.carry.clear();
                    return Scan::Delimiter(m);
                }
                self.carry.extend_from_slice(&input[..m]);
                return Scan::NeedMore(m);
            }
            // Not a delimiter. The delimiter's only CR is its first byte and
            // carry[1..] is a delimiter prefix, so no later start hides in
            // the carry: all of it is content.
            std::mem::swap(&mut self.carry, &mut self.flushed);
            self.carry.clear();
            return Scan::Flush;
        }
        if input.is_empty() {
            return Scan::NeedMore(0);
        }
        if let Some(i) = self.searcher.find(input, &self.delimiter) {
            if i > 0 {
                return Scan::Data(i);
            }
            return Scan::Delimiter(d);
        }
        // No full delimiter. A partial one can only start at the last CR in
        // the final d-1 bytes.
        let tail_start = input.len().saturating_sub(d - 1);
        if let Some(r) = memchr::memrchr(b'\r', &input[tail_start..]) {
            let q = tail_start + r;
            if input[q..] == self.delimiter[..input.len() - q] {
                self.carry.extend_from_slice(&input[q..]);
                return Scan::DataThenCarry(q, input.len());
            }
        }
        Scan::Data(input.len())
    }

    /// Feeds one chunk, calling `on_event` for every event it completes. An
    /// error from the callback stops parsing and is returned.
    pub fn feed<F>(&mut self, mut input: &[u8], mut on_event: F) -> Result<()>
    where
        F: FnMut(Event<'_>) -> Result<()>,
    {
        loop {
            let (used, event) = self.step(input)?;
            input = &input[used..];
            match event {
                Some(ev) => on_event(ev)?,
                None => return Ok(()),
            }
        }
    }

    /// Declares the end of input: an error unless the close delimiter was
    /// seen (`SMISK_ERR_BODY_TRUNCATED`, or the earlier error).
    pub fn finish(&mut self) -> Result<()> {
        match self.state {
            State::Epilogue => Ok(()),
            State::Failed => Err(self.error.clone().unwrap_or_else(|| {
                Error::new(SMISK_ERR_MULTIPART_MALFORMED, "multipart parser failed")
            })),
            State::Preamble => Err(self.fail(Error::new(
                SMISK_ERR_BODY_TRUNCATED,
                "multipart body ended before its first boundary",
            ))),
            _ => Err(self.fail(Error::new(
                SMISK_ERR_BODY_TRUNCATED,
                "multipart body ended before its closing boundary",
            ))),
        }
    }
}

enum Scan {
    /// The carry was content; it is in `flushed`. Nothing consumed.
    Flush,
    /// This many bytes are content; a delimiter (or nothing) follows.
    Data(usize),
    /// The first `.0` bytes are content, the rest up to `.1` went to carry.
    DataThenCarry(usize, usize),
    /// A delimiter ended after this many bytes.
    Delimiter(usize),
    /// This many bytes went to the carry; input exhausted.
    NeedMore(usize),
}

#[cfg(test)]
mod tests;
