//! C functions for request bodies: the low-level multipart push parser
//! (`smisk_multipart_*`) and the request-level form API (`smisk_form_*`).

#![allow(non_camel_case_types)]

use super::{arg_bytes, arg_mut, arg_ref, free_handle, guard, guard_value, into_handle};
use crate::form::{self, BodySource, Form, Kind};
use crate::multipart::{self, Event, Parser};
use crate::status::{smisk_status, Error, Result, SMISK_ERR_IO, SMISK_ERR_NOT_FOUND};
use libc::{c_char, c_void};
use std::path::PathBuf;

/// Opaque multipart push parser. Create with smisk_multipart_new(), release
/// with smisk_multipart_free().
pub struct smisk_multipart {
    parser: Parser,
}

/// What smisk_multipart_next() found.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum smisk_multipart_event_kind {
    /// The input was consumed without completing an event: feed more input
    /// (or call smisk_multipart_finish() at end of body).
    SMISK_MULTIPART_NEED_MORE = 0,
    /// A part begins; the name / filename / content type / headers fields
    /// of the event are set.
    SMISK_MULTIPART_PART_BEGIN = 1,
    /// Content bytes of the current part: data / data_len (never empty).
    SMISK_MULTIPART_DATA = 2,
    /// The current part ended.
    SMISK_MULTIPART_PART_END = 3,
    /// The closing boundary was seen; the rest of the body is ignored.
    SMISK_MULTIPART_END = 4,
}

/// One event of smisk_multipart_next(). Pointers borrow either the input
/// buffer passed to that call or storage inside the parser; they are valid
/// until the next call on the same parser (and, for DATA, while the input
/// buffer is alive). Absent values are (NULL, 0) with the matching has_ flag
/// false. Nothing here is to be freed.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct smisk_multipart_event {
    pub kind: smisk_multipart_event_kind,
    /// DATA: the content bytes.
    pub data: *const u8,
    pub data_len: usize,
    /// PART_BEGIN: Content-Disposition name parameter (raw bytes).
    pub name: *const u8,
    pub name_len: usize,
    pub has_name: bool,
    /// PART_BEGIN: Content-Disposition filename parameter (raw bytes; present
    /// even when empty marks a file part; filename* is ignored).
    pub filename: *const u8,
    pub filename_len: usize,
    pub has_filename: bool,
    /// PART_BEGIN: the part's Content-Type value.
    pub content_type: *const u8,
    pub content_type_len: usize,
    pub has_content_type: bool,
    /// PART_BEGIN: the raw header block (lines separated by CRLF, without
    /// the blank line).
    pub headers: *const u8,
    pub headers_len: usize,
}

impl smisk_multipart_event {
    fn empty(kind: smisk_multipart_event_kind) -> smisk_multipart_event {
        smisk_multipart_event {
            kind,
            data: std::ptr::null(),
            data_len: 0,
            name: std::ptr::null(),
            name_len: 0,
            has_name: false,
            filename: std::ptr::null(),
            filename_len: 0,
            has_filename: false,
            content_type: std::ptr::null(),
            content_type_len: 0,
            has_content_type: false,
            headers: std::ptr::null(),
            headers_len: 0,
        }
    }
}

fn opt(v: &Option<Vec<u8>>) -> (*const u8, usize, bool) {
    match v {
        Some(v) => (v.as_ptr(), v.len(), true),
        None => (std::ptr::null(), 0, false),
    }
}

/// Finds the boundary parameter of a multipart Content-Type value
/// (`content_type`, `content_type_len` bytes) and validates it (RFC 2046:
/// 1 to 70 characters, up to 200 accepted, no CR/LF or quotes). On success
/// the boundary is the `*boundary_len` bytes at `content_type + *offset`
/// (quotes excluded); nothing is allocated. A missing or invalid boundary is
/// SMISK_ERR_MULTIPART_BOUNDARY.
#[no_mangle]
pub unsafe extern "C" fn smisk_multipart_boundary(
    content_type: *const u8,
    content_type_len: usize,
    offset: *mut usize,
    boundary_len: *mut usize,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `content_type`, `offset` and
    // `boundary_len` are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn
    // NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let ct = arg_bytes(content_type, content_type_len, "content_type")?;
            let offset = arg_mut(offset, "offset")?;
            let boundary_len = arg_mut(boundary_len, "boundary_len")?;
            let r = multipart::boundary_range(ct)?;
            *offset = r.start;
            *boundary_len = r.len();
            Ok(())
        })
    }
}

/// Creates a multipart parser for `boundary` (`boundary_len` bytes, without
/// the leading "--"; the library copies it). `max_parts` caps the number of
/// parts (0 means the default, 1000) and `max_header_bytes` the size of one
/// part's header block (0 means the default, 16384). On success `*out`
/// receives a parser the caller releases with smisk_multipart_free().
#[no_mangle]
pub unsafe extern "C" fn smisk_multipart_new(
    boundary: *const u8,
    boundary_len: usize,
    max_parts: usize,
    max_header_bytes: usize,
    out: *mut *mut smisk_multipart,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `boundary` and `out` are NULL or
    // valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let boundary = arg_bytes(boundary, boundary_len, "boundary")?;
            let out = arg_mut(out, "out")?;
            let defaults = multipart::Limits::default();
            let limits = multipart::Limits {
                max_parts: if max_parts == 0 {
                    defaults.max_parts
                } else {
                    max_parts
                },
                max_header_bytes: if max_header_bytes == 0 {
                    defaults.max_header_bytes
                } else {
                    max_header_bytes
                },
            };
            *out = into_handle(smisk_multipart {
                parser: Parser::new(boundary, limits)?,
            });
            Ok(())
        })
    }
}

/// Parses from `input` (`input_len` bytes, any chunking of the body) up to
/// the next event. On success `*consumed` receives how many input bytes were
/// used and `*event` the event; pass the remaining `input + *consumed` to the
/// next call. SMISK_MULTIPART_NEED_MORE means all input was used. Errors:
/// SMISK_ERR_MULTIPART_MALFORMED, SMISK_ERR_TOO_MANY_PARTS,
/// SMISK_ERR_PART_HEADER_TOO_LARGE; after an error the parser keeps failing.
/// Event pointers are valid until the next call on this parser (see
/// smisk_multipart_event).
#[no_mangle]
pub unsafe extern "C" fn smisk_multipart_next(
    parser: *mut smisk_multipart,
    input: *const u8,
    input_len: usize,
    consumed: *mut usize,
    event: *mut smisk_multipart_event,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `parser`, `input`, `consumed` and
    // `event` are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL
    // into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let p = arg_mut(parser, "parser")?;
            let input = arg_bytes(input, input_len, "input")?;
            let consumed = arg_mut(consumed, "consumed")?;
            let event = arg_mut(event, "event")?;
            let (used, ev) = p.parser.step(input)?;
            use smisk_multipart_event_kind::*;
            let out = match ev {
                None => smisk_multipart_event::empty(SMISK_MULTIPART_NEED_MORE),
                Some(Event::Data(d)) => smisk_multipart_event {
                    data: d.as_ptr(),
                    data_len: d.len(),
                    ..smisk_multipart_event::empty(SMISK_MULTIPART_DATA)
                },
                Some(Event::PartEnd) => smisk_multipart_event::empty(SMISK_MULTIPART_PART_END),
                Some(Event::End) => smisk_multipart_event::empty(SMISK_MULTIPART_END),
                Some(Event::PartBegin(h)) => {
                    let (name, name_len, has_name) = opt(&h.name);
                    let (filename, filename_len, has_filename) = opt(&h.filename);
                    let (content_type, content_type_len, has_content_type) = opt(&h.content_type);
                    smisk_multipart_event {
                        name,
                        name_len,
                        has_name,
                        filename,
                        filename_len,
                        has_filename,
                        content_type,
                        content_type_len,
                        has_content_type,
                        headers: h.raw.as_ptr(),
                        headers_len: h.raw.len(),
                        ..smisk_multipart_event::empty(SMISK_MULTIPART_PART_BEGIN)
                    }
                }
            };
            *consumed = used;
            *event = out;
            Ok(())
        })
    }
}

/// Declares the end of the body. SMISK_OK if the closing boundary was seen,
/// SMISK_ERR_BODY_TRUNCATED if the body ended before it (or the parser's
/// earlier error).
#[no_mangle]
pub unsafe extern "C" fn smisk_multipart_finish(parser: *mut smisk_multipart) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `parser` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard(|| arg_mut(parser, "parser")?.parser.finish()) }
}

/// Releases a parser from smisk_multipart_new(). NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn smisk_multipart_free(parser: *mut smisk_multipart) {
    // SAFETY: the C caller keeps the contract documented above: `parser` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard_value((), || free_handle(parser)) }
}

/// Default `smisk_form_limits.max_multipart_size`: 2 GiB, an `int64_t`.
pub const SMISK_DEFAULT_MAX_MULTIPART_SIZE: i64 = 2_147_483_648_i64;
/// Default `smisk_form_limits.max_formdata_size`: 10 MiB, an `int64_t`.
pub const SMISK_DEFAULT_MAX_FORMDATA_SIZE: i64 = 10_485_760_i64;
/// Default `smisk_form_limits.max_parts` (also what `max_parts` 0 means in
/// smisk_multipart_new()).
pub const SMISK_DEFAULT_MAX_PARTS: usize = 1000;
/// Default `smisk_form_limits.max_part_header_bytes`: 16 KiB.
pub const SMISK_DEFAULT_MAX_PART_HEADER_BYTES: usize = 16_384;
/// Longest multipart boundary accepted (RFC 2046 allows 70; 200 leaves room
/// for clients that exceed it).
pub const SMISK_MAX_BOUNDARY_LEN: usize = 200;

/// Limits for smisk_form_parse(). Fill with smisk_form_limits_default() and
/// change what you need.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct smisk_form_limits {
    /// Whole multipart body in bytes; negative: unlimited; 0: multipart
    /// bodies are left unparsed. Default 2 GiB.
    pub max_multipart_size: i64,
    /// Url-encoded body in bytes, and the sum of all multipart text field
    /// values; negative: unlimited; 0: url-encoded bodies are left unparsed
    /// (multipart text is then capped only by max_multipart_size).
    /// Default 10 MiB.
    pub max_formdata_size: i64,
    /// Most parts in a multipart body (default 1000).
    pub max_parts: usize,
    /// Most bytes in one part header block (default 16384).
    pub max_part_header_bytes: usize,
    /// Most fields in a url-encoded body (default 1000).
    pub max_fields: usize,
}

/// Writes the default limits into `*out`.
#[no_mangle]
pub unsafe extern "C" fn smisk_form_limits_default(out: *mut smisk_form_limits) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `out` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let out = arg_mut(out, "out")?;
            let d = form::Limits::default();
            *out = smisk_form_limits {
                max_multipart_size: d.max_multipart_size,
                max_formdata_size: d.max_formdata_size,
                max_parts: d.max_parts,
                max_part_header_bytes: d.max_part_header_bytes,
                max_fields: d.max_fields,
            };
            Ok(())
        })
    }
}

/// A body reader: fill `buf` with up to `cap` bytes and return how many,
/// 0 at end of body, or a negative value on error.
pub type smisk_read_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, buf: *mut u8, cap: usize) -> i64>;

struct CallbackSource {
    read: unsafe extern "C" fn(*mut c_void, *mut u8, usize) -> i64,
    ctx: *mut c_void,
}

impl BodySource for CallbackSource {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: the caller of smisk_form_parse promised that `read` may be
        // called with `ctx` and a writable buffer of `cap` bytes.
        let n = unsafe { (self.read)(self.ctx, buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            return Err(Error::new(
                SMISK_ERR_IO,
                format!("request body read callback failed ({n})"),
            ));
        }
        if n as u64 > buf.len() as u64 {
            return Err(Error::invalid(format!(
                "request body read callback returned {n} for a {}-byte buffer",
                buf.len()
            )));
        }
        Ok(n as usize)
    }
}

/// Opaque parsed request body: text fields and spooled files. Release with
/// smisk_form_free(), which also removes the temp files not kept.
pub struct smisk_form {
    form: Form,
}

/// How smisk_form_parse() handled the body.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum smisk_form_kind {
    /// Not a form, or the matching limit is 0: nothing was read and the body
    /// is intact for the application.
    SMISK_FORM_UNPARSED = 0,
    /// application/x-www-form-urlencoded.
    SMISK_FORM_URLENCODED = 1,
    /// multipart/*.
    SMISK_FORM_MULTIPART = 2,
}

/// Parses a request body into a form.
///
/// `content_type` / `content_length` are the CONTENT_TYPE and CONTENT_LENGTH
/// parameters as raw bytes with explicit lengths; pass NULL (length 0) when
/// absent. An empty CONTENT_LENGTH counts as absent; one that is not decimal
/// digits is SMISK_ERR_INVALID. The media type is compared
/// case-insensitively: multipart/... is parsed as multipart (boundary from
/// the header), application/x-www-form-urlencoded as a url-encoded form,
/// anything else is left unparsed and unread. `limits` may be NULL for the
/// defaults (see smisk_form_limits). `upload_dir` (`upload_dir_len` bytes)
/// is the directory for file parts, created 0700 if missing and required to
/// be private; NULL means a per-process directory under $TMPDIR or /tmp.
/// `read(ctx, buf, cap)` supplies the body; it is never asked for more than
/// CONTENT_LENGTH bytes in total, nor (beyond one byte) past a size limit,
/// and is not called after smisk_form_parse() returns.
///
/// On success `*out` receives a form the caller releases with
/// smisk_form_free(). On failure nothing is returned and every temp file
/// already written is removed. Limit errors (SMISK_ERR_BODY_TOO_LARGE,
/// SMISK_ERR_TOO_MANY_PARTS, SMISK_ERR_TOO_MANY_FIELDS,
/// SMISK_ERR_PART_HEADER_TOO_LARGE, SMISK_ERR_FIELD_TOO_LARGE; see
/// smisk_status_is_too_large()) mean HTTP 413; SMISK_ERR_MULTIPART_MALFORMED,
/// SMISK_ERR_MULTIPART_BOUNDARY, SMISK_ERR_BODY_TRUNCATED mean HTTP 400; a
/// negative return of `read` gives SMISK_ERR_IO.
#[no_mangle]
pub unsafe extern "C" fn smisk_form_parse(
    content_type: *const u8,
    content_type_len: usize,
    content_length: *const u8,
    content_length_len: usize,
    limits: *const smisk_form_limits,
    upload_dir: *const u8,
    upload_dir_len: usize,
    read: smisk_read_fn,
    ctx: *mut c_void,
    out: *mut *mut smisk_form,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `content_type`, `content_length`,
    // `limits`, `upload_dir`, `read`, `ctx` and `out` are NULL or valid for the stated lengths and
    // lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let ct = if content_type.is_null() {
                None
            } else {
                Some(arg_bytes(content_type, content_type_len, "content_type")?)
            };
            let cl = if content_length.is_null() {
                None
            } else {
                Some(arg_bytes(
                    content_length,
                    content_length_len,
                    "content_length",
                )?)
            };
            let read =
                read.ok_or_else(|| Error::new(crate::status::SMISK_ERR_NULL, "read is NULL"))?;
            let out = arg_mut(out, "out")?;
            let l = form_limits(limits, upload_dir, upload_dir_len)?;
            let length = form::parse_content_length(cl)?;
            let mut source = CallbackSource { read, ctx };
            let parsed = form::parse(ct, length, &mut source, &l)?;
            *out = into_handle(smisk_form { form: parsed });
            Ok(())
        })
    }
}

use std::os::unix::ffi::OsStrExt;

/// The Rust limits for a C `smisk_form_limits` (NULL: defaults) and upload
/// directory (NULL: the per-process default).
///
/// # Safety
/// `limits` is NULL or a readable `smisk_form_limits`; `upload_dir` NULL or
/// `upload_dir_len` readable bytes.
unsafe fn form_limits(
    limits: *const smisk_form_limits,
    upload_dir: *const u8,
    upload_dir_len: usize,
) -> Result<form::Limits> {
    // SAFETY: the callers of this function guarantee its `# Safety` conditions, which are what the
    // unsafe calls below require.
    unsafe {
        let mut l = form::Limits::default();
        if let Some(c) = limits.as_ref() {
            l.max_multipart_size = c.max_multipart_size;
            l.max_formdata_size = c.max_formdata_size;
            l.max_parts = c.max_parts;
            l.max_part_header_bytes = c.max_part_header_bytes;
            l.max_fields = c.max_fields;
        }
        if !upload_dir.is_null() {
            let dir = arg_bytes(upload_dir, upload_dir_len, "upload_dir")?;
            if dir.is_empty() {
                return Err(Error::invalid("upload_dir is empty"));
            }
            l.upload_dir = Some(PathBuf::from(std::ffi::OsStr::from_bytes(dir)));
        }
        Ok(l)
    }
}

/// Parses the body of a FastCGI request as a form, like smisk_form_parse()
/// with CONTENT_TYPE and CONTENT_LENGTH taken from the request's params and
/// the body read from its stdin. `limits` and `upload_dir` as for
/// smisk_form_parse(). On success `*out` receives a form the caller releases
/// with smisk_form_free() (at the latest when the request ends: that removes
/// the temp files not kept). After an error the rest of the body is left
/// unread; the responder skips it when the request finishes. A body the web
/// server aborted gives SMISK_ERR_ABORTED.
#[no_mangle]
pub unsafe extern "C" fn smisk_request_parse_form(
    request: *mut crate::fcgi::Request,
    limits: *const smisk_form_limits,
    upload_dir: *const u8,
    upload_dir_len: usize,
    out: *mut *mut smisk_form,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `request`, `limits`, `upload_dir`
    // and `out` are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL
    // into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let request = arg_mut(request, "request")?;
            let out = arg_mut(out, "out")?;
            let l = form_limits(limits, upload_dir, upload_dir_len)?;
            if !request.is_active() {
                return Err(Error::state("the request has finished"));
            }
            let content_type = request.param(b"CONTENT_TYPE").map(<[u8]>::to_vec);
            let length = form::parse_content_length(request.param(b"CONTENT_LENGTH"))?;
            let parsed = form::parse(content_type.as_deref(), length, request, &l)?;
            *out = into_handle(smisk_form { form: parsed });
            Ok(())
        })
    }
}

/// Hands `form` to `request`, which releases it (removing its temp files
/// not kept, as smisk_form_free does) right after the answer is complete,
/// when the request finishes: the client does not wait for the removal of a
/// large upload, and the caller need not know when that is. The form must
/// not be used afterwards. A request that is no longer active (or NULL)
/// releases it at once. NULL form is a no-op.
#[no_mangle]
pub unsafe extern "C" fn smisk_form_free_after_finish(
    form: *mut smisk_form,
    request: *mut crate::fcgi::Request,
) {
    // SAFETY: the C caller keeps the contract documented above: `form` is NULL or a form handle
    // it owns and gives up, `request` NULL or a live request handle.
    unsafe {
        guard_value((), || {
            if form.is_null() {
                return;
            }
            let form = Box::from_raw(form);
            match request.as_mut() {
                Some(r) => r.drop_after_finish(form),
                None => drop(form),
            }
        })
    }
}

/// How the body was handled (SMISK_FORM_UNPARSED for NULL).
#[no_mangle]
pub unsafe extern "C" fn smisk_form_get_kind(form: *const smisk_form) -> smisk_form_kind {
    // SAFETY: the C caller keeps the contract documented above: `form` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard_value(smisk_form_kind::SMISK_FORM_UNPARSED, || {
            match form.as_ref() {
                None => smisk_form_kind::SMISK_FORM_UNPARSED,
                Some(f) => match f.form.kind {
                    Kind::Unparsed => smisk_form_kind::SMISK_FORM_UNPARSED,
                    Kind::UrlEncoded => smisk_form_kind::SMISK_FORM_URLENCODED,
                    Kind::Multipart => smisk_form_kind::SMISK_FORM_MULTIPART,
                },
            }
        })
    }
}

/// Number of body bytes read by smisk_form_parse() (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn smisk_form_bytes_read(form: *const smisk_form) -> u64 {
    // SAFETY: the C caller keeps the contract documented above: `form` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard_value(0, || form.as_ref().map_or(0, |f| f.form.bytes_read)) }
}

/// Number of text fields (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn smisk_form_field_count(form: *const smisk_form) -> usize {
    // SAFETY: the C caller keeps the contract documented above: `form` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard_value(0, || form.as_ref().map_or(0, |f| f.form.fields.len())) }
}

/// Text field `index` (0-based, body order, repeated names kept). On success
/// `*name`/`*name_len` and `*value`/`*value_len` receive the raw bytes
/// (url-decoded for url-encoded bodies, not charset-decoded) and
/// `*has_value` is false for a url-encoded token without '=' (the value is
/// then (NULL, 0)). The pointers stay valid until smisk_form_free(); do not
/// free them. An index out of range is SMISK_ERR_NOT_FOUND.
#[no_mangle]
pub unsafe extern "C" fn smisk_form_field_at(
    form: *const smisk_form,
    index: usize,
    name: *mut *const u8,
    name_len: *mut usize,
    value: *mut *const u8,
    value_len: *mut usize,
    has_value: *mut bool,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `form`, `name`, `name_len`,
    // `value`, `value_len` and `has_value` are NULL or valid for the stated lengths and lifetimes;
    // the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let f = arg_ref(form, "form")?;
            let name = arg_mut(name, "name")?;
            let name_len = arg_mut(name_len, "name_len")?;
            let value = arg_mut(value, "value")?;
            let value_len = arg_mut(value_len, "value_len")?;
            let has_value = arg_mut(has_value, "has_value")?;
            let field = f.form.fields.get(index).ok_or_else(|| {
                Error::new(
                    SMISK_ERR_NOT_FOUND,
                    format!(
                        "field index {index} out of range ({} fields)",
                        f.form.fields.len()
                    ),
                )
            })?;
            *name = field.name.as_ptr();
            *name_len = field.name.len();
            let (v, vl, has) = opt(&field.value);
            *value = v;
            *value_len = vl;
            *has_value = has;
            Ok(())
        })
    }
}

/// A spooled file part, as returned by smisk_form_file_at(). All pointers
/// borrow the form and stay valid until smisk_form_free(); do not free them.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct smisk_form_file {
    /// The part's name parameter (raw bytes).
    pub name: *const u8,
    pub name_len: usize,
    /// The filename parameter as sent (raw bytes, may be empty).
    pub filename: *const u8,
    pub filename_len: usize,
    /// The part's Content-Type ("" if absent).
    pub content_type: *const u8,
    pub content_type_len: usize,
    /// Path of the temp file (also NUL-terminated).
    pub path: *const c_char,
    pub path_len: usize,
    /// Bytes in the file.
    pub size: u64,
}

/// Number of file parts (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn smisk_form_file_count(form: *const smisk_form) -> usize {
    // SAFETY: the C caller keeps the contract documented above: `form` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard_value(0, || form.as_ref().map_or(0, |f| f.form.files.len())) }
}

/// File part `index` (0-based, body order) into `*out`. An index out of
/// range is SMISK_ERR_NOT_FOUND.
#[no_mangle]
pub unsafe extern "C" fn smisk_form_file_at(
    form: *const smisk_form,
    index: usize,
    out: *mut smisk_form_file,
) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `form` and `out` are NULL or valid
    // for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let f = arg_ref(form, "form")?;
            let out = arg_mut(out, "out")?;
            let file = f.form.files.get(index).ok_or_else(|| {
                Error::new(
                    SMISK_ERR_NOT_FOUND,
                    format!(
                        "file index {index} out of range ({} files)",
                        f.form.files.len()
                    ),
                )
            })?;
            let path = file.path_c();
            *out = smisk_form_file {
                name: file.name.as_ptr(),
                name_len: file.name.len(),
                filename: file.filename.as_ptr(),
                filename_len: file.filename.len(),
                content_type: file.content_type.as_ptr(),
                content_type_len: file.content_type.len(),
                path: path.as_ptr(),
                path_len: path.to_bytes().len(),
                size: file.size,
            };
            Ok(())
        })
    }
}

/// Marks file `index` as the application's: smisk_form_free() will not
/// remove it (call this after moving the file, or to keep it in place).
/// A file the application renamed away is simply not found at free time, so
/// moving without calling this is also safe. An index out of range is
/// SMISK_ERR_NOT_FOUND.
#[no_mangle]
pub unsafe extern "C" fn smisk_form_file_keep(form: *mut smisk_form, index: usize) -> smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `form` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard(|| arg_mut(form, "form")?.form.keep(index)) }
}

/// Releases a form and removes every temp file it still owns (all files not
/// marked with smisk_form_file_keep()). NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn smisk_form_free(form: *mut smisk_form) {
    // SAFETY: the C caller keeps the contract documented above: `form` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { guard_value((), || free_handle(form)) }
}

/// True when `status` means a size or count limit was exceeded (HTTP 413):
/// SMISK_ERR_TOO_LARGE and the request-body limit codes 30 to 34. Any
/// integer is accepted.
#[no_mangle]
pub extern "C" fn smisk_status_is_too_large(status: i32) -> bool {
    guard_value(false, || {
        smisk_status::from_raw(status)
            .map(|s| Error::new(s, "").is_too_large())
            .unwrap_or(false)
    })
}
