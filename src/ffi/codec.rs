//! C functions for the URL / query / cookie codec, XML escaping, `uid` and
//! `pack` (Rust side: `crate::codec`, `crate::uid`).
//!
//! Byte results of unbounded size are allocated by the library and handed
//! over as `(uint8_t **out, size_t *out_len)`, released with
//! `smisk_bytes_free`. Results of known small size (`smisk_uid`, `smisk_pack`)
//! go into caller buffers. Query and cookie pairs are delivered through a
//! callback, so the caller builds whatever map it needs without an
//! intermediate copy.

#![allow(non_camel_case_types)]

use super::{arg_bytes, arg_mut, arg_ref, copy_out, free_handle, give_bytes, guard, into_handle};
use crate::codec::{self, Component, Format, Part, PortPart, Separator, Url};
use crate::status::{Error, Result, SMISK_ERR_STOPPED};
use libc::c_void;
use std::borrow::Cow;

/// Default cap on the number of fields smisk_parse_query and
/// smisk_parse_cookies accept from one input.
pub const SMISK_MAX_FIELDS_DEFAULT: usize = 1000;

/// URL component index: the scheme ("http"; lower-cased by the parser).
pub const SMISK_URL_SCHEME: i32 = 0;
/// URL component index: the user name.
pub const SMISK_URL_USER: i32 = 1;
/// URL component index: the password.
pub const SMISK_URL_PASSWORD: i32 = 2;
/// URL component index: the host (an IPv6 address without its brackets).
pub const SMISK_URL_HOST: i32 = 3;
/// URL component index: the path (starts with "/").
pub const SMISK_URL_PATH: i32 = 4;
/// URL component index: the query (without "?").
pub const SMISK_URL_QUERY: i32 = 5;
/// URL component index: the fragment (without "#").
pub const SMISK_URL_FRAGMENT: i32 = 6;
/// Number of URL text components (the length of the smisk_url_format arrays).
pub const SMISK_URL_COMPONENTS: usize = 7;

/// smisk_url_format mode: use the stored value, if any.
pub const SMISK_URL_USE: i32 = 0;
/// smisk_url_format mode: leave the component out.
pub const SMISK_URL_OMIT: i32 = 1;
/// smisk_url_format mode: use the given text instead (an empty text omits
/// the component; for the port, the given number, 0 omitting it).
pub const SMISK_URL_REPLACE: i32 = 2;

/// A parsed URL: seven optional byte-string components and a port.
/// Create with smisk_url_new or smisk_url_parse, release with smisk_url_free.
pub struct smisk_url {
    pub(crate) url: Url,
}

/// Options for smisk_url_to_s. Fill it with smisk_url_format_init (every
/// component SMISK_URL_USE, port 80 suppressed), then change what you need.
///
/// `mode[i]`, `text[i]`, `text_len[i]` describe component i (SMISK_URL_SCHEME
/// ... SMISK_URL_FRAGMENT): `mode` is SMISK_URL_USE, SMISK_URL_OMIT or
/// SMISK_URL_REPLACE; with SMISK_URL_REPLACE, `text[i]` points to
/// `text_len[i]` bytes (NULL allowed when the length is 0, which omits the
/// component). The texts are only read during the call.
///
/// `port_mode` is SMISK_URL_USE, SMISK_URL_OMIT or SMISK_URL_REPLACE with
/// `port` (0-65535) as the number. `port80` true writes ":80" too; false
/// leaves port 80 out.
#[repr(C)]
pub struct smisk_url_format {
    pub mode: [i32; 7],
    pub text: [*const u8; 7],
    pub text_len: [usize; 7],
    pub port_mode: i32,
    pub port: u32,
    pub port80: bool,
}

/// Called once per field by smisk_parse_query and smisk_parse_cookies, in
/// input order (repeated keys are delivered each time). `key`/`key_len` is
/// the decoded key; `has_value` is false when the field had no "=" (then
/// `value` is NULL and `value_len` 0). The pointers are valid only during the
/// call (copy what you keep); key and value are never NULL when present, even
/// if empty. Return 0 to continue, anything else to stop: the parse function
/// then returns SMISK_ERR_STOPPED.
pub type smisk_pair_fn = Option<
    unsafe extern "C" fn(
        ctx: *mut c_void,
        key: *const u8,
        key_len: usize,
        value: *const u8,
        value_len: usize,
        has_value: bool,
    ) -> i32,
>;

fn component(index: i32) -> Result<Component> {
    Component::from_index(index)
        .ok_or_else(|| Error::invalid(format!("unknown URL component index {index}")))
}

/// The shared body of the bytes-to-bytes codec functions.
///
/// # Safety
/// `input` is NULL or `input_len` readable bytes; `out` and `out_len` are
/// NULL or writable.
unsafe fn transform(
    input: *const u8,
    input_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
    f: fn(&[u8]) -> Cow<'_, [u8]>,
) -> crate::status::smisk_status {
    // SAFETY: the callers of this function guarantee its `# Safety` conditions, which are what the
    // unsafe calls below require.
    unsafe {
        guard(|| {
            let data = arg_bytes(input, input_len, "input")?;
            // Check the outputs before working, so a NULL is reported cheaply.
            arg_mut(out, "out")?;
            arg_mut(out_len, "out_len")?;
            give_bytes(f(data).into_owned(), out, out_len)
        })
    }
}

/// URL-encodes `input_len` bytes at `input` (`URL.encode`): every reserved
/// or unsafe byte -- everything except `A-Z a-z 0-9 ! ' ( ) * - . _ ~` --
/// becomes "%XX" with upper-case hex. Binary-safe.
///
/// Ownership: on success `*out`/`*out_len` receive a new buffer owned by the
/// caller, released with smisk_bytes_free(*out, *out_len); an empty result is
/// (NULL, 0). `input` may be NULL when `input_len` is 0.
#[no_mangle]
pub unsafe extern "C" fn smisk_url_encode(
    input: *const u8,
    input_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `input`, `out` and `out_len` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe { transform(input, input_len, out, out_len, codec::encode) }
}

/// URL-escapes `input_len` bytes at `input` (`URL.escape`): only the unsafe
/// bytes -- controls, space, the characters " % < > \ ^ ` { | } # : @ [ ]
/// and 0x7F-0xFF -- become "%XX"; / ? & = + $ , ; are kept. For whole URLs.
///
/// Ownership: as smisk_url_encode.
#[no_mangle]
pub unsafe extern "C" fn smisk_url_escape(
    input: *const u8,
    input_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `input`, `out` and `out_len` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe { transform(input, input_len, out, out_len, codec::escape) }
}

/// Form-decodes `input_len` bytes at `input` (`URL.decode`, `URL.unescape`):
/// "+" becomes a space, "%XX" (either case) the byte, and a malformed "%"
/// sequence is kept as it is. The result is raw bytes (not necessarily
/// UTF-8) and never longer than the input.
///
/// Ownership: as smisk_url_encode.
#[no_mangle]
pub unsafe extern "C" fn smisk_url_decode(
    input: *const u8,
    input_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `input`, `out` and `out_len` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe { transform(input, input_len, out, out_len, codec::decode) }
}

/// Escapes `& < > " '` as `&amp; &lt; &gt; &quot; &#39;` (`xml.escape`).
///
/// Ownership: as smisk_url_encode.
#[no_mangle]
pub unsafe extern "C" fn smisk_xml_escape(
    input: *const u8,
    input_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `input`, `out` and `out_len` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe { transform(input, input_len, out, out_len, codec::xml::escape) }
}

/// Replaces the entities `&amp; &lt; &gt; &quot; &apos;` and numeric
/// references `&#NNN;` / `&#xHH;` (written as UTF-8) in one pass
/// (`xml.unescape`); anything malformed is left as it is.
///
/// Ownership: as smisk_url_encode.
#[no_mangle]
pub unsafe extern "C" fn smisk_xml_unescape(
    input: *const u8,
    input_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `input`, `out` and `out_len` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe { transform(input, input_len, out, out_len, codec::xml::unescape) }
}

/// The shared body of smisk_parse_query and smisk_parse_cookies.
///
/// # Safety
/// `input` is NULL or `input_len` readable bytes; `callback` (when given)
/// may be called with `ctx` as its documentation says.
unsafe fn parse_with(
    input: *const u8,
    input_len: usize,
    max_fields: usize,
    callback: smisk_pair_fn,
    ctx: *mut c_void,
    sep: Separator,
) -> crate::status::smisk_status {
    // SAFETY: the callers of this function guarantee its `# Safety` conditions, which are what the
    // unsafe calls below require.
    unsafe {
        guard(|| {
            let data = arg_bytes(input, input_len, "input")?;
            let callback = callback
                .ok_or_else(|| Error::new(crate::status::SMISK_ERR_NULL, "callback is NULL"))?;
            codec::parse_pairs_with(data, sep, max_fields, |key, value| {
                // Never hand C a NULL for present text, even when it is empty.
                let nonnull = |s: &[u8]| {
                    if s.is_empty() {
                        b"".as_ptr()
                    } else {
                        s.as_ptr()
                    }
                };
                let (vptr, vlen) = match &value {
                    Some(v) => (nonnull(v), v.len()),
                    None => (std::ptr::null(), 0),
                };
                // SAFETY: the caller promised a valid function; the pointers
                // stay valid for the duration of the call.
                let rc = callback(ctx, nonnull(&key), key.len(), vptr, vlen, value.is_some());
                if rc == 0 {
                    Ok(())
                } else {
                    Err(Error::new(
                        SMISK_ERR_STOPPED,
                        format!("callback returned {rc}"),
                    ))
                }
            })
        })
    }
}

/// Parses a query string or an application/x-www-form-urlencoded body:
/// fields split on "&" only (";" is data), empty fields skipped, key up to
/// the first "=", the rest is the value (no "=": no value), both
/// form-decoded ("+" is a space, "%XX" a byte, malformed "%" kept). Calls
/// `callback(ctx, ...)` once per field in order.
///
/// Fails with SMISK_ERR_TOO_LARGE, before any callback, when there are more
/// than `max_fields` fields (pass SMISK_MAX_FIELDS_DEFAULT unless configured
/// otherwise); with SMISK_ERR_STOPPED when the callback returned non-zero.
///
/// Ownership: `input` is only read during the call (NULL allowed when
/// `input_len` is 0); `ctx` is passed through untouched; `callback` must not
/// be NULL.
#[no_mangle]
pub unsafe extern "C" fn smisk_parse_query(
    input: *const u8,
    input_len: usize,
    max_fields: usize,
    callback: smisk_pair_fn,
    ctx: *mut c_void,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `input`, `callback` and `ctx` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        parse_with(
            input,
            input_len,
            max_fields,
            callback,
            ctx,
            Separator::Query,
        )
    }
}

/// Parses a Cookie header value: fields split on ";", leading whitespace
/// stripped, fields that are then empty or start with "=" skipped, key up to
/// the first "=", value the rest; "%XX" decoded but "+" kept. Quotes are
/// data. Each field is independent: a malformed one never hides the others.
/// Calls `callback(ctx, ...)` once per field in order.
///
/// Errors and ownership: as smisk_parse_query.
#[no_mangle]
pub unsafe extern "C" fn smisk_parse_cookies(
    input: *const u8,
    input_len: usize,
    max_fields: usize,
    callback: smisk_pair_fn,
    ctx: *mut c_void,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `input`, `callback` and `ctx` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        parse_with(
            input,
            input_len,
            max_fields,
            callback,
            ctx,
            Separator::Cookie,
        )
    }
}

/// A new unique id: SHA-1 over 32 bytes from the OS random generator
/// followed by the `node_len` bytes at `node` (NULL allowed when 0).
/// `nbits` 4, 5 or 6 gives text packed as smisk_pack does (40, 32 or 27
/// characters); 0 or -1 gives the raw 20-byte digest. Other values fail with
/// SMISK_ERR_INVALID ("Invalid number of bits: N").
///
/// The result is written to the caller's buffer `buf` of `buf_cap` bytes (64
/// is always enough) and its length to `*out_len`. When the buffer is too
/// small, SMISK_ERR_BUFFER_TOO_SMALL is returned and `*out_len` receives the
/// size needed. No terminating NUL is written.
#[no_mangle]
pub unsafe extern "C" fn smisk_uid(
    nbits: i32,
    node: *const u8,
    node_len: usize,
    buf: *mut u8,
    buf_cap: usize,
    out_len: *mut usize,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `node`, `buf` and `out_len` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let node = arg_bytes(node, node_len, "node")?;
            let raw = matches!(nbits, 0 | -1);
            if !raw {
                let bits = u32::try_from(nbits).unwrap_or(0);
                if !(4..=6).contains(&bits) {
                    return Err(Error::invalid(format!("Invalid number of bits: {nbits}")));
                }
            }
            let digest = crate::uid::uid_bytes(node)?;
            if raw {
                copy_out(&digest, buf, buf_cap, out_len)
            } else {
                let text = crate::uid::pack(&digest, nbits as u32)?;
                copy_out(text.as_bytes(), buf, buf_cap, out_len)
            }
        })
    }
}

/// Packs `data_len` bytes at `data` as text with `nbits` (4, 5 or 6) bits
/// per character, least significant bits first, over the alphabet
/// "0-9a-zA-Z_-" (nbits 4: "0-9a-f", low nibble first; 5: "0-9a-v"). The
/// result has exactly ceil(8 * data_len / nbits) characters.
///
/// The result goes to the caller's buffer `buf` of `buf_cap` bytes, its
/// length to `*out_len`; when the buffer is too small nothing is written but
/// `*out_len` receives the size needed, with SMISK_ERR_BUFFER_TOO_SMALL.
/// Bad `nbits` gives SMISK_ERR_INVALID ("Invalid number of bits: N"). No
/// terminating NUL is written. `data` may be NULL when `data_len` is 0.
#[no_mangle]
pub unsafe extern "C" fn smisk_pack(
    data: *const u8,
    data_len: usize,
    nbits: i32,
    buf: *mut u8,
    buf_cap: usize,
    out_len: *mut usize,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `data`, `buf` and `out_len` are
    // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
    // SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let data = arg_bytes(data, data_len, "data")?;
            let bits = u32::try_from(nbits).unwrap_or(0);
            if !(4..=6).contains(&bits) {
                return Err(Error::invalid(format!("Invalid number of bits: {nbits}")));
            }
            // Check the size before doing the work (and before 8 * len could
            // overflow: arg_bytes bounds len by isize::MAX).
            let needed = data
                .len()
                .checked_mul(8)
                .map(|b| b.div_ceil(bits as usize))
                .ok_or_else(|| Error::too_large("input too large to pack"))?;
            let out_len_ref = arg_mut(out_len, "out_len")?;
            if needed > buf_cap {
                *out_len_ref = needed;
                return Err(Error::new(
                    crate::status::SMISK_ERR_BUFFER_TOO_SMALL,
                    format!("output needs {needed} bytes, buffer has {buf_cap}"),
                ));
            }
            let mut text = Vec::with_capacity(needed);
            crate::uid::pack_into(data, bits, &mut text)?;
            copy_out(&text, buf, buf_cap, out_len)
        })
    }
}

/// A new empty URL (every component absent, port 0). Never NULL (the
/// process aborts if memory runs out). Release it with smisk_url_free.
#[no_mangle]
pub extern "C" fn smisk_url_new() -> *mut smisk_url {
    into_handle(smisk_url { url: Url::new() })
}

/// Releases a URL. smisk_url_free(NULL) is a no-op.
#[no_mangle]
pub unsafe extern "C" fn smisk_url_free(url: *mut smisk_url) {
    // SAFETY: the C caller keeps the contract documented above: `url` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe { super::guard_value((), || free_handle(url)) }
}

/// Parses `input_len` bytes at `input` as a URL (the original Smisk grammar:
/// "host:80/p" is host and port, "mailto:a@b" is user "mailto", password
/// "a", host "b", "?" and "#" only delimit inside the path; IPv6 literals in
/// brackets). Fails with SMISK_ERR_INVALID for malformed input (for example
/// "foo/bar", "a:b:c", a second "@", a port that is not 0-65535 in digits).
///
/// Ownership: on success `*out` receives a new URL owned by the caller
/// (release with smisk_url_free); on failure `*out` is not written.
#[no_mangle]
pub unsafe extern "C" fn smisk_url_parse(
    input: *const u8,
    input_len: usize,
    out: *mut *mut smisk_url,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `input` and `out` are NULL or valid
    // for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let data = arg_bytes(input, input_len, "input")?;
            let out = arg_mut(out, "out")?;
            let url = Url::parse(data)?;
            *out = into_handle(smisk_url { url });
            Ok(())
        })
    }
}

/// A copy of `url` in `*out` (owned by the caller, release with
/// smisk_url_free).
#[no_mangle]
pub unsafe extern "C" fn smisk_url_clone(
    url: *const smisk_url,
    out: *mut *mut smisk_url,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `url` and `out` are NULL or valid
    // for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let url = arg_ref(url, "url")?;
            let out = arg_mut(out, "out")?;
            *out = into_handle(smisk_url {
                url: url.url.clone(),
            });
            Ok(())
        })
    }
}

/// Reads component `component` (SMISK_URL_SCHEME ... SMISK_URL_FRAGMENT) of
/// `url`. When present, `*present` is true and `*out`/`*out_len` point to its
/// bytes (not NUL-terminated; possibly empty, for a query or fragment);
/// when absent, `*present` is false, `*out` NULL and `*out_len` 0.
///
/// Ownership: the bytes belong to `url` and stay valid until `url` is
/// changed or freed. An unknown index gives SMISK_ERR_INVALID.
#[no_mangle]
pub unsafe extern "C" fn smisk_url_get(
    url: *const smisk_url,
    component: i32,
    out: *mut *const u8,
    out_len: *mut usize,
    present: *mut bool,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `url`, `out`, `out_len` and
    // `present` are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL
    // into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let url = arg_ref(url, "url")?;
            let c = self::component(component)?;
            let out = arg_mut(out, "out")?;
            let out_len = arg_mut(out_len, "out_len")?;
            let present = arg_mut(present, "present")?;
            match url.url.get(c) {
                Some(v) => {
                    *out = v.as_ptr();
                    *out_len = v.len();
                    *present = true;
                }
                None => {
                    *out = std::ptr::null();
                    *out_len = 0;
                    *present = false;
                }
            }
            Ok(())
        })
    }
}

/// Sets component `component` of `url` to a copy of the `value_len` bytes at
/// `value` when `present` is true (stored as given: no lower-casing or
/// validation), or makes it absent when `present` is false (then `value` is
/// ignored). `value` may be NULL when `value_len` is 0.
#[no_mangle]
pub unsafe extern "C" fn smisk_url_set(
    url: *mut smisk_url,
    component: i32,
    value: *const u8,
    value_len: usize,
    present: bool,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `url` and `value` are NULL or valid
    // for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let url = arg_mut(url, "url")?;
            let c = self::component(component)?;
            let value = if present {
                Some(arg_bytes(value, value_len, "value")?)
            } else {
                None
            };
            url.url.set(c, value);
            Ok(())
        })
    }
}

/// The port of `url` in `*port` (0 when not given).
#[no_mangle]
pub unsafe extern "C" fn smisk_url_get_port(
    url: *const smisk_url,
    port: *mut u32,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `url` and `port` are NULL or valid
    // for the stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let url = arg_ref(url, "url")?;
            *arg_mut(port, "port")? = u32::from(url.url.port);
            Ok(())
        })
    }
}

/// Sets the port of `url` (0 means "not given"); values above 65535 fail
/// with SMISK_ERR_INVALID.
#[no_mangle]
pub unsafe extern "C" fn smisk_url_set_port(
    url: *mut smisk_url,
    port: u32,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `url` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let url = arg_mut(url, "url")?;
            url.url.port = u16::try_from(port)
                .map_err(|_| Error::invalid(format!("port {port} out of range (0-65535)")))?;
            Ok(())
        })
    }
}

/// Fills `*format` with the defaults of smisk_url_to_s: every component and
/// the port SMISK_URL_USE, no replacement texts, `port80` false.
#[no_mangle]
pub unsafe extern "C" fn smisk_url_format_init(
    format: *mut smisk_url_format,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `format` is NULL or valid for the
    // stated lengths and lifetimes; the arg_* helpers turn NULL into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let format = arg_mut(format, "format")?;
            *format = smisk_url_format {
                mode: [SMISK_URL_USE; 7],
                text: [std::ptr::null(); 7],
                text_len: [0; 7],
                port_mode: SMISK_URL_USE,
                port: 0,
                port80: false,
            };
            Ok(())
        })
    }
}

/// The Rust format for a C `smisk_url_format`.
///
/// # Safety
/// Each `text[i]` of `f` is NULL or `text_len[i]` readable bytes that live
/// as long as `f`.
unsafe fn read_format(f: &smisk_url_format) -> Result<Format<'_>> {
    // SAFETY: the callers of this function guarantee its `# Safety` conditions, which are what the
    // unsafe calls below require.
    unsafe {
        let mut fmt = Format {
            port80: f.port80,
            ..Format::default()
        };
        for c in Component::ALL {
            let i = c as usize;
            *fmt.part_mut(c) = match f.mode[i] {
                SMISK_URL_USE => Part::Use,
                SMISK_URL_OMIT => Part::Omit,
                SMISK_URL_REPLACE => {
                    Part::Replace(arg_bytes(f.text[i], f.text_len[i], "format text")?)
                }
                other => {
                    return Err(Error::invalid(format!(
                        "unknown format mode {other} for component {i}"
                    )))
                }
            };
        }
        fmt.port =
            match f.port_mode {
                SMISK_URL_USE => PortPart::Use,
                SMISK_URL_OMIT => PortPart::Omit,
                SMISK_URL_REPLACE => PortPart::Replace(u16::try_from(f.port).map_err(|_| {
                    Error::invalid(format!("port {} out of range (0-65535)", f.port))
                })?),
                other => return Err(Error::invalid(format!("unknown port mode {other}"))),
            };
        Ok(fmt)
    }
}

/// Writes `url` as text (`URL.to_s`): `scheme "://"`, `user [":" password]
/// "@"` (the password only with a user), the host (in brackets when it
/// contains ":"), `":" port` when the port is not 0 and not 80 (unless
/// `port80`), the path, `"?" query` when the query is not empty and
/// `"#" fragment` when a fragment is present. `format` (NULL: the defaults of
/// smisk_url_format_init) chooses per component: stored value, omitted, or
/// replaced.
///
/// Ownership: on success `*out`/`*out_len` receive a new buffer owned by the
/// caller, released with smisk_bytes_free(*out, *out_len); an empty result is
/// (NULL, 0).
#[no_mangle]
pub unsafe extern "C" fn smisk_url_to_s(
    url: *const smisk_url,
    format: *const smisk_url_format,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `url`, `format`, `out` and
    // `out_len` are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL
    // into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let url = arg_ref(url, "url")?;
            let fmt = match format.as_ref() {
                Some(f) => read_format(f)?,
                None => Format::default(),
            };
            arg_mut(out, "out")?;
            arg_mut(out_len, "out_len")?;
            give_bytes(url.url.to_s(&fmt), out, out_len)
        })
    }
}

/// The request URI of `url` (`URL.uri`): path, `"?" query` when the query is
/// not empty, `"#" fragment` when present. `*present` is false (and `*out`
/// NULL, `*out_len` 0) when path, query and fragment are all absent.
///
/// Ownership: as smisk_url_to_s.
#[no_mangle]
pub unsafe extern "C" fn smisk_url_uri(
    url: *const smisk_url,
    out: *mut *mut u8,
    out_len: *mut usize,
    present: *mut bool,
) -> crate::status::smisk_status {
    // SAFETY: the C caller keeps the contract documented above: `url`, `out`, `out_len` and
    // `present` are NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL
    // into SMISK_ERR_NULL.
    unsafe {
        guard(|| {
            let url = arg_ref(url, "url")?;
            arg_mut(out, "out")?;
            arg_mut(out_len, "out_len")?;
            let present = arg_mut(present, "present")?;
            let uri = url.url.uri();
            *present = uri.is_some();
            give_bytes(uri.unwrap_or_default(), out, out_len)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::*;

    #[test]
    fn constants_match_the_rust_side() {
        assert_eq!(SMISK_MAX_FIELDS_DEFAULT, codec::DEFAULT_MAX_FIELDS);
        assert_eq!(SMISK_URL_COMPONENTS, Component::ALL.len());
        for (i, c) in Component::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
        }
        assert_eq!(
            Component::from_index(SMISK_URL_FRAGMENT),
            Some(Component::Fragment)
        );
    }

    unsafe extern "C" fn collect(
        ctx: *mut c_void,
        key: *const u8,
        key_len: usize,
        value: *const u8,
        value_len: usize,
        has_value: bool,
    ) -> i32 {
        // SAFETY: the C caller keeps the contract documented above: `ctx`, `key` and `value` are
        // NULL or valid for the stated lengths and lifetimes; the arg_* helpers turn NULL into
        // SMISK_ERR_NULL.
        unsafe {
            let out = &mut *(ctx as *mut Vec<(Vec<u8>, Option<Vec<u8>>)>);
            let k = std::slice::from_raw_parts(key, key_len).to_vec();
            let v = has_value.then(|| std::slice::from_raw_parts(value, value_len).to_vec());
            out.push((k, v));
            i32::from(out.len() >= 3)
        }
    }

    #[test]
    fn parse_callbacks_and_stop() {
        let mut got: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        let input = b"a=1&b&=&c=x+y";
        // SAFETY: input is a live buffer of input.len() bytes; got outlives
        // the call, and collect reads ctx as that Vec.
        let st = unsafe {
            smisk_parse_query(
                input.as_ptr(),
                input.len(),
                10,
                Some(collect),
                &mut got as *mut _ as *mut c_void,
            )
        };
        assert_eq!(st, SMISK_ERR_STOPPED);
        assert_eq!(
            got,
            vec![
                (b"a".to_vec(), Some(b"1".to_vec())),
                (b"b".to_vec(), None),
                (b"".to_vec(), Some(b"".to_vec()))
            ]
        );
        // SAFETY: the callback is NULL, which is refused before input is read.
        let st = unsafe {
            smisk_parse_cookies(input.as_ptr(), input.len(), 10, None, std::ptr::null_mut())
        };
        assert_eq!(st, SMISK_ERR_NULL);
    }
}
