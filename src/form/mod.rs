//! Request-level form parsing: url-encoded and multipart bodies into text
//! fields and spooled files.
//!
//! [`parse`] takes the request's `CONTENT_TYPE`, `CONTENT_LENGTH`, a
//! [`BodySource`] (the request's stdin) and [`Limits`], and returns a
//! [`Form`]. What it guarantees:
//!
//! * Limit semantics (docs/multipart.md): `max_multipart_size`
//!   (default 2 GiB, negative = unlimited, 0 = body left unparsed) bounds the
//!   whole multipart body; `max_formdata_size` (default 10 MiB, 0 = body left
//!   unparsed, negative = unlimited) bounds a url-encoded body and, for a
//!   multipart body, the sum of all text field values kept in memory. A known
//!   `CONTENT_LENGTH` above a limit fails before a byte is read; otherwise
//!   reading stops one byte past the limit. Each limit has its own status
//!   (see `crate::status`, 30–37); `Error::is_too_large` tells which ones are
//!   HTTP 413.
//! * Never more than `CONTENT_LENGTH` bytes are read; a body shorter than it
//!   is `SMISK_ERR_BODY_TRUNCATED`.
//! * File parts stream to disk, each byte copied once (input chunk → `write`),
//!   into a private directory (0700) as fresh `O_EXCL|O_NOFOLLOW` 0600 files
//!   with random names. Memory stays bounded by the read buffer (256 KiB), the
//!   part-header cap and the text cap, whatever the upload size.
//! * Every temp file belongs to the [`Form`] from the moment it is created:
//!   dropping the form (or an error at any point, a limit hit mid-file
//!   included) removes them all, except files the application marked with
//!   [`Form::keep`] (it moved them, or wants them).
//! * Empty text fields are kept; a file part with an empty filename and no
//!   data (an untouched `<input type=file>`) is skipped; a part without a
//!   `name` is skipped; `filename*=` is ignored.

use crate::multipart::{self, Event, Parser};
use crate::status::{
    Error, Result, SMISK_ERR_BODY_TOO_LARGE, SMISK_ERR_BODY_TRUNCATED, SMISK_ERR_FIELD_TOO_LARGE,
};
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Default `max_multipart_size`: 2 GiB.
/// cbindgen:ignore
pub const DEFAULT_MAX_MULTIPART_SIZE: i64 = 2 << 30;
/// Default `max_formdata_size`: 10 MiB.
/// cbindgen:ignore
pub const DEFAULT_MAX_FORMDATA_SIZE: i64 = 10 << 20;
/// Default cap on url-encoded fields per body.
/// cbindgen:ignore
pub const DEFAULT_MAX_FIELDS: usize = 1000;
/// Size of the read buffer used for request bodies.
/// cbindgen:ignore
pub const READ_BUFFER: usize = 256 * 1024;

/// Where a request body comes from. The FastCGI request's stdin implements
/// it; so do byte slices and (through [`ReadSource`]) any `std::io::Read`.
pub trait BodySource {
    /// Reads up to `buf.len()` bytes; `Ok(0)` is end of input.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize>;
}

impl BodySource for &[u8] {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = buf.len().min(self.len());
        buf[..n].copy_from_slice(&self[..n]);
        *self = &self[n..];
        Ok(n)
    }
}

/// Adapts a `std::io::Read` (retrying on `EINTR`).
pub struct ReadSource<R>(pub R);

impl<R: std::io::Read> BodySource for ReadSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            match self.0.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::os("read request body", e)),
            }
        }
    }
}

/// Limits for one request. `Default` gives the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Whole multipart body: negative unlimited, 0 leaves it unparsed.
    pub max_multipart_size: i64,
    /// Url-encoded body, and the sum of multipart text values: negative
    /// unlimited, 0 leaves url-encoded bodies unparsed (and does not cap
    /// multipart text values).
    pub max_formdata_size: i64,
    /// Most parts in a multipart body.
    pub max_parts: usize,
    /// Most bytes in one part's header block.
    pub max_part_header_bytes: usize,
    /// Most fields in a url-encoded body.
    pub max_fields: usize,
    /// Directory for file parts; `None` is the per-process default
    /// (see [`default_upload_dir`]).
    pub upload_dir: Option<PathBuf>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_multipart_size: DEFAULT_MAX_MULTIPART_SIZE,
            max_formdata_size: DEFAULT_MAX_FORMDATA_SIZE,
            max_parts: multipart::DEFAULT_MAX_PARTS,
            max_part_header_bytes: multipart::DEFAULT_MAX_HEADER_BYTES,
            max_fields: DEFAULT_MAX_FIELDS,
            upload_dir: None,
        }
    }
}

/// How the body was handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Not a form (or the limit is 0): nothing was read, the body is intact.
    Unparsed,
    /// `application/x-www-form-urlencoded`.
    UrlEncoded,
    /// `multipart/*`.
    Multipart,
}

/// A text field: raw bytes as sent (url-decoded for url-encoded bodies).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: Vec<u8>,
    /// `None` for a url-encoded token without `=`.
    pub value: Option<Vec<u8>>,
}

/// A file part spooled to disk.
#[derive(Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// The part's `name`.
    pub name: Vec<u8>,
    /// The `filename` parameter, raw as sent (may be empty).
    pub filename: Vec<u8>,
    /// The part's `Content-Type`, empty if absent.
    pub content_type: Vec<u8>,
    path: CString,
    /// Bytes written.
    pub size: u64,
    kept: bool,
}

impl FileEntry {
    /// Path of the temp file.
    pub fn path(&self) -> &Path {
        Path::new(OsStr::from_bytes(self.path.as_bytes()))
    }

    /// The path as a C string (for the C API).
    pub fn path_c(&self) -> &std::ffi::CStr {
        &self.path
    }

    /// True once [`Form::keep`] marked it.
    pub fn is_kept(&self) -> bool {
        self.kept
    }
}

/// The parsed body of one request. Dropping it removes its temp files.
#[derive(Debug)]
pub struct Form {
    pub kind: Kind,
    /// Text fields in body order, repeats kept.
    pub fields: Vec<Field>,
    /// File parts in body order, repeats kept.
    pub files: Vec<FileEntry>,
    /// Body bytes read from the source.
    pub bytes_read: u64,
}

impl Form {
    fn new(kind: Kind) -> Form {
        Form {
            kind,
            fields: Vec::new(),
            files: Vec::new(),
            bytes_read: 0,
        }
    }

    /// Marks file `index` as the application's: it is no longer removed.
    pub fn keep(&mut self, index: usize) -> Result<()> {
        let n = self.files.len();
        let f = self.files.get_mut(index).ok_or_else(|| {
            Error::new(
                crate::status::SMISK_ERR_NOT_FOUND,
                format!("file index {index} out of range ({n} files)"),
            )
        })?;
        f.kept = true;
        Ok(())
    }

    /// Removes every temp file not kept (already gone is fine). Called by
    /// `Drop`; idempotent.
    pub fn remove_files(&mut self) {
        for f in &mut self.files {
            if !f.kept {
                // ENOENT means the application moved it away: nothing to do.
                // SAFETY: f.path is a valid NUL-terminated path.
                unsafe { libc::unlink(f.path.as_ptr()) };
                f.kept = true;
            }
        }
    }
}

impl Drop for Form {
    fn drop(&mut self) {
        self.remove_files();
    }
}

static DEFAULT_DIR: Mutex<Option<(u32, PathBuf)>> = Mutex::new(None);

/// The per-process upload directory: `$TMPDIR` (or `/tmp`) joined with
/// `smisk-uploads-<random>`, created 0700 on first use. A forked child gets
/// its own (the cache is keyed by pid). The random name keeps another local
/// user from squatting the path in advance. The directory itself stays when
/// the process exits (empty: every file in it belongs to some `Form`).
pub fn default_upload_dir() -> Result<PathBuf> {
    let pid = std::process::id();
    let mut slot = DEFAULT_DIR.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((p, dir)) = slot.as_ref() {
        if *p == pid {
            // Re-checked every time (one mkdir + lstat): a temp cleaner may
            // have removed it, or someone may have swapped it meanwhile.
            crate::fsutil::ensure_private_dir(dir)?;
            return Ok(dir.clone());
        }
    }
    let base = std::env::var_os("TMPDIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    let dir = base.join(format!(
        "smisk-uploads-{}",
        crate::uid::uid(5, &pid.to_le_bytes())?
    ));
    crate::fsutil::ensure_private_dir(&dir)?;
    *slot = Some((pid, dir.clone()));
    Ok(dir)
}

/// Parses `CONTENT_LENGTH`: absent or empty is unknown; anything but
/// decimal digits is `SMISK_ERR_INVALID`.
pub fn parse_content_length(raw: Option<&[u8]>) -> Result<Option<u64>> {
    let Some(raw) = raw else { return Ok(None) };
    let start = raw
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    let raw = &raw[start..end];
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.len() > 19 || !raw.iter().all(u8::is_ascii_digit) {
        return Err(Error::invalid(format!(
            "CONTENT_LENGTH is not a number: {:?}",
            String::from_utf8_lossy(&raw[..raw.len().min(40)])
        )));
    }
    // At most 19 digits always fit in u64.
    Ok(Some(
        raw.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')),
    ))
}

/// Reads the body in bounded chunks, enforcing CONTENT_LENGTH and a limit.
struct Reader<'s> {
    source: &'s mut dyn BodySource,
    length: Option<u64>,
    limit: Option<u64>,
    read: u64,
    too_large: fn(u64) -> Error,
}

impl Reader<'_> {
    /// Next chunk into `buf`; empty at end of body.
    fn next<'b>(&mut self, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        let mut want = buf.len() as u64;
        if let Some(len) = self.length {
            want = want.min(len - self.read);
        }
        if let Some(limit) = self.limit {
            // One byte past the limit is enough to know it was exceeded.
            want = want.min(limit + 1 - self.read.min(limit + 1));
        }
        let want = want as usize;
        // The buffer is filled, not handed on after one read: a socket read
        // returns what one wake-up brought (~30 KiB on a unix socket), and
        // a file part's data goes to its spool file in the chunks the parser
        // gets, so small chunks meant 8x the write syscalls and a partial
        // page-cache page (zeroed by the kernel) at every chunk boundary.
        let mut filled = 0;
        while filled < want {
            let n = self.source.read(&mut buf[filled..want])?;
            if n > want - filled {
                return Err(Error::state(
                    "body source returned more bytes than asked for",
                ));
            }
            if n == 0 {
                break;
            }
            filled += n;
            self.read += n as u64;
            if let Some(limit) = self.limit {
                if self.read > limit {
                    return Err((self.too_large)(limit));
                }
            }
        }
        if filled == 0 && want > 0 {
            if let Some(len) = self.length {
                if self.read < len {
                    return Err(Error::new(
                        SMISK_ERR_BODY_TRUNCATED,
                        format!("request body ended after {} of {len} bytes", self.read),
                    ));
                }
            }
        }
        Ok(&buf[..filled])
    }
}

fn limit_of(raw: i64) -> Option<u64> {
    (raw > 0).then_some(raw as u64)
}

fn multipart_too_large(limit: u64) -> Error {
    Error::new(
        SMISK_ERR_BODY_TOO_LARGE,
        format!("multipart data size limit exceeded ({limit} bytes)"),
    )
}

fn formdata_too_large(limit: u64) -> Error {
    Error::new(
        SMISK_ERR_BODY_TOO_LARGE,
        format!("form data size limit exceeded ({limit} bytes)"),
    )
}

/// Parses a request body according to its `CONTENT_TYPE` (media type
/// compared case-insensitively: `multipart/*` or
/// `application/x-www-form-urlencoded`; anything else is left unparsed).
pub fn parse(
    content_type: Option<&[u8]>,
    content_length: Option<u64>,
    source: &mut dyn BodySource,
    limits: &Limits,
) -> Result<Form> {
    let ct = content_type.unwrap_or(b"");
    let media = multipart::media_type(ct);
    if media.len() >= 10 && media[..10].eq_ignore_ascii_case(b"multipart/") {
        if limits.max_multipart_size == 0 {
            return Ok(Form::new(Kind::Unparsed));
        }
        return parse_multipart(ct, content_length, source, limits);
    }
    if media.eq_ignore_ascii_case(b"application/x-www-form-urlencoded") {
        if limits.max_formdata_size == 0 {
            return Ok(Form::new(Kind::Unparsed));
        }
        return parse_urlencoded(content_length, source, limits);
    }
    Ok(Form::new(Kind::Unparsed))
}

fn parse_urlencoded(
    content_length: Option<u64>,
    source: &mut dyn BodySource,
    limits: &Limits,
) -> Result<Form> {
    let limit = limit_of(limits.max_formdata_size);
    if let (Some(len), Some(max)) = (content_length, limit) {
        if len > max {
            return Err(formdata_too_large(max));
        }
    }
    let mut reader = Reader {
        source,
        length: content_length,
        limit,
        read: 0,
        too_large: formdata_too_large,
    };
    let mut body = Vec::new();
    let mut buf = vec![0u8; READ_BUFFER.min(content_length.unwrap_or(u64::MAX).max(1) as usize)];
    loop {
        let chunk = reader.next(&mut buf)?;
        if chunk.is_empty() {
            break;
        }
        body.extend_from_slice(chunk);
    }
    let mut form = Form::new(Kind::UrlEncoded);
    form.bytes_read = reader.read;
    let fields = &mut form.fields;
    crate::codec::query::parse_pairs(
        &body,
        crate::codec::query::Separator::Query,
        limits.max_fields,
        |name, value| {
            fields.push(Field {
                name: name.into_owned(),
                value: value.map(|v| v.into_owned()),
            })
        },
    )
    .map_err(|e| {
        if e.status == crate::status::SMISK_ERR_TOO_LARGE {
            Error::new(crate::status::SMISK_ERR_TOO_MANY_FIELDS, e.message)
        } else {
            e
        }
    })?;
    Ok(form)
}

/// Metadata of a file part, copied from its headers.
struct FileMeta {
    name: Vec<u8>,
    filename: Vec<u8>,
    content_type: Vec<u8>,
}

/// What the current part turns into.
enum Sink {
    Skip,
    Text {
        name: Vec<u8>,
        value: Vec<u8>,
    },
    /// `open` is the entry index and file once the first byte arrived.
    File {
        meta: FileMeta,
        open: Option<(usize, File)>,
    },
}

/// Creates a temp file for `meta` and registers it in `form` before any
/// byte is written: from here on the form owns (and removes) it.
fn create_file(form: &mut Form, dir: &Path, meta: &FileMeta) -> Result<(usize, File)> {
    let file_name = format!("upload-{}", crate::uid::uid(5, b"")?);
    let file = crate::fsutil::create_private_file(dir, OsStr::new(&file_name))?;
    let path = CString::new(dir.join(&file_name).into_os_string().into_vec())
        .map_err(|_| Error::invalid("upload directory path contains a NUL byte"))?;
    form.files.push(FileEntry {
        name: meta.name.clone(),
        filename: meta.filename.clone(),
        content_type: meta.content_type.clone(),
        path,
        size: 0,
        kept: false,
    });
    Ok((form.files.len() - 1, file))
}

struct Spool<'f> {
    form: &'f mut Form,
    dir: PathBuf,
    text_limit: Option<u64>,
    text_total: u64,
    sink: Sink,
}

impl Spool<'_> {
    fn event(&mut self, ev: Event<'_>) -> Result<()> {
        match ev {
            Event::PartBegin(h) => {
                self.sink = match (&h.name, &h.filename) {
                    (None, _) => Sink::Skip,
                    (Some(name), None) => Sink::Text {
                        name: name.clone(),
                        value: Vec::new(),
                    },
                    (Some(name), Some(filename)) => Sink::File {
                        meta: FileMeta {
                            name: name.clone(),
                            filename: filename.clone(),
                            content_type: h.content_type.clone().unwrap_or_default(),
                        },
                        open: None,
                    },
                };
            }
            Event::Data(data) => match &mut self.sink {
                Sink::Skip => {}
                Sink::Text { value, .. } => {
                    self.text_total += data.len() as u64;
                    if let Some(max) = self.text_limit {
                        if self.text_total > max {
                            return Err(Error::new(
                                SMISK_ERR_FIELD_TOO_LARGE,
                                format!("form text fields exceed {max} bytes (max_formdata_size)"),
                            ));
                        }
                    }
                    value.extend_from_slice(data);
                }
                Sink::File { meta, open } => {
                    let (index, file) = match open {
                        Some(o) => o,
                        None => open.insert(create_file(self.form, &self.dir, meta)?),
                    };
                    let entry = &mut self.form.files[*index];
                    file.write_all(data)
                        .map_err(|e| Error::os(format!("write {}", entry.path().display()), e))?;
                    entry.size += data.len() as u64;
                }
            },
            Event::PartEnd => match std::mem::replace(&mut self.sink, Sink::Skip) {
                Sink::Skip => {}
                Sink::Text { name, value } => self.form.fields.push(Field {
                    name,
                    value: Some(value),
                }),
                // No data: an untouched file input (empty filename) is
                // skipped; a named empty file becomes a 0-byte file.
                Sink::File { meta, open: None } => {
                    if !meta.filename.is_empty() {
                        create_file(self.form, &self.dir, &meta)?;
                    }
                }
                // Closing the descriptor is all that is left to do.
                Sink::File { open: Some(_), .. } => {}
            },
            Event::End => {}
        }
        Ok(())
    }
}

fn parse_multipart(
    content_type: &[u8],
    content_length: Option<u64>,
    source: &mut dyn BodySource,
    limits: &Limits,
) -> Result<Form> {
    let limit = limit_of(limits.max_multipart_size);
    if let (Some(len), Some(max)) = (content_length, limit) {
        if len > max {
            return Err(multipart_too_large(max));
        }
    }
    let mut parser = Parser::from_content_type(
        content_type,
        multipart::Limits {
            max_parts: limits.max_parts,
            max_header_bytes: limits.max_part_header_bytes,
        },
    )?;
    let mut form = Form::new(Kind::Multipart);
    if content_length == Some(0) {
        return Ok(form);
    }
    let dir = match &limits.upload_dir {
        Some(d) => {
            crate::fsutil::ensure_private_dir(d)?;
            d.clone()
        }
        None => default_upload_dir()?,
    };
    let mut reader = Reader {
        source,
        length: content_length,
        limit,
        read: 0,
        too_large: multipart_too_large,
    };
    let mut buf = vec![0u8; READ_BUFFER.min(content_length.unwrap_or(u64::MAX) as usize)];
    let mut spool = Spool {
        form: &mut form,
        dir,
        text_limit: limit_of(limits.max_formdata_size),
        text_total: 0,
        sink: Sink::Skip,
    };
    // On any error below, `form` is dropped and takes its temp files along.
    loop {
        let chunk = reader.next(&mut buf)?;
        if chunk.is_empty() {
            break;
        }
        parser.feed(chunk, |ev| spool.event(ev))?;
    }
    drop(spool);
    form.bytes_read = reader.read;
    if reader.read == 0 {
        // An empty body of unknown length: no parts.
        return Ok(form);
    }
    parser.finish()?;
    Ok(form)
}

#[cfg(test)]
mod tests;
