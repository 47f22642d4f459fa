//! Status codes and the crate's error type.
//!
//! Every fallible C function returns a [`smisk_status`]; the Rust side works with
//! [`Error`], which carries the status plus a human-readable message. The FFI
//! layer (`crate::ffi`) turns an `Error` into its status and stores the message
//! for `smisk_last_error()`.
//!
//! Numbering is append-only and grouped so that independent parts of the
//! library can add codes without colliding: 0–19 general, 20–29 codec,
//! 30–39 request bodies (forms, multipart), 40–49 sessions, 50–59 process model.

#![allow(non_camel_case_types)]

use std::fmt;

/// Result code of every fallible smisk function. `SMISK_OK` (0) is success.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum smisk_status {
    /// Success.
    SMISK_OK = 0,
    /// A required pointer argument was NULL.
    SMISK_ERR_NULL = 1,
    /// An argument was malformed or out of range (see smisk_last_error()).
    SMISK_ERR_INVALID = 2,
    /// The call is not allowed in the object's current state (for example a
    /// header added after the response has begun, or accept on an unbound server
    /// without a listening fd 0).
    SMISK_ERR_STATE = 3,
    /// An operating-system call failed; the message names the call and errno.
    SMISK_ERR_IO = 4,
    /// The web server aborted the request (FCGI_ABORT_REQUEST) or hung up.
    SMISK_ERR_ABORTED = 5,
    /// A configured timeout expired.
    SMISK_ERR_TIMEOUT = 6,
    /// A signal interrupted a blocking call (the caller decides whether to retry).
    SMISK_ERR_INTERRUPTED = 7,
    /// A configured size or count limit was exceeded.
    SMISK_ERR_TOO_LARGE = 8,
    /// The looked-up item does not exist.
    SMISK_ERR_NOT_FOUND = 9,
    /// A caller-provided output buffer is too small; the length output
    /// parameter, where the function has one, receives the size needed.
    SMISK_ERR_BUFFER_TOO_SMALL = 10,
    /// The peer sent malformed protocol data.
    SMISK_ERR_PROTOCOL = 11,
    /// Memory could not be allocated.
    SMISK_ERR_NO_MEMORY = 12,
    /// An internal error (a bug in smisk, reported instead of crashing).
    SMISK_ERR_PANIC = 13,
    /// The operation is not supported in this configuration or environment.
    SMISK_ERR_UNSUPPORTED = 14,
    /// A callback supplied by the caller returned non-zero and so stopped the
    /// operation (for example smisk_parse_query).
    SMISK_ERR_STOPPED = 20,
    /// A request body is larger than the configured limit (max_multipart_size
    /// for multipart bodies, max_formdata_size for url-encoded ones). Maps to
    /// HTTP 413.
    SMISK_ERR_BODY_TOO_LARGE = 30,
    /// A multipart body has more parts than the configured cap. HTTP 413.
    SMISK_ERR_TOO_MANY_PARTS = 31,
    /// A url-encoded body has more fields than the configured cap. HTTP 413.
    SMISK_ERR_TOO_MANY_FIELDS = 32,
    /// A multipart part header block is larger than the configured cap. HTTP 413.
    SMISK_ERR_PART_HEADER_TOO_LARGE = 33,
    /// The text fields of a multipart body exceed max_formdata_size. HTTP 413.
    SMISK_ERR_FIELD_TOO_LARGE = 34,
    /// A multipart body violates RFC 2046 framing (bad delimiter line, part
    /// header line without ':'). HTTP 400.
    SMISK_ERR_MULTIPART_MALFORMED = 35,
    /// A multipart Content-Type has no boundary parameter or an invalid one.
    /// HTTP 400.
    SMISK_ERR_MULTIPART_BOUNDARY = 36,
    /// A request body ended early: before CONTENT_LENGTH bytes, or a multipart
    /// body before its closing boundary. HTTP 400.
    SMISK_ERR_BODY_TRUNCATED = 37,
    /// No session: the id has no stored session, the session expired, or its
    /// file does not verify (wrong magic, version, length or checksum). The
    /// Python shim raises InvalidSessionError.
    SMISK_ERR_NO_SESSION = 40,
    /// A session id is not exactly 32 characters of [0-9a-v]; it was rejected
    /// before any file was touched.
    SMISK_ERR_SESSION_ID = 41,
}

pub use smisk_status::*;

/// The one table of status codes: for each code, its C name and the short
/// message `smisk_status_str` gives. The enum above is what cbindgen writes
/// into the header; the `match` this macro generates is exhaustive, so a code
/// of the enum missing here (or a name here the enum lacks) does not compile,
/// and [`smisk_status::ALL`], [`smisk_status::name`] and
/// [`smisk_status::describe`] come from this list alone.
macro_rules! status_table {
    ($($code:ident => $message:literal,)*) => {
        impl smisk_status {
            /// Every status, in numeric order.
            pub const ALL: &'static [smisk_status] = &[$($code),*];

            /// The same description as [`describe`](Self::describe), as a C
            /// string (for `smisk_status_str`).
            pub fn describe_c(self) -> &'static std::ffi::CStr {
                match self {
                    $($code => $message,)*
                }
            }

            /// The C name of the status ("SMISK_ERR_IO"), as a C string (for
            /// `smisk_status_name`).
            pub fn name_c(self) -> &'static std::ffi::CStr {
                match self {
                    $($code => {
                        const NAME: &std::ffi::CStr =
                            match std::ffi::CStr::from_bytes_with_nul(
                                concat!(stringify!($code), "\0").as_bytes(),
                            ) {
                                Ok(name) => name,
                                Err(_) => panic!("status names have no NUL"),
                            };
                        NAME
                    })*
                }
            }
        }
    };
}

status_table! {
    SMISK_OK => c"success",
    SMISK_ERR_NULL => c"a required pointer argument was NULL",
    SMISK_ERR_INVALID => c"invalid argument",
    SMISK_ERR_STATE => c"call not allowed in the current state",
    SMISK_ERR_IO => c"operating-system I/O error",
    SMISK_ERR_ABORTED => c"request aborted by the web server or peer hung up",
    SMISK_ERR_TIMEOUT => c"timed out",
    SMISK_ERR_INTERRUPTED => c"interrupted by a signal",
    SMISK_ERR_TOO_LARGE => c"size or count limit exceeded",
    SMISK_ERR_NOT_FOUND => c"not found",
    SMISK_ERR_BUFFER_TOO_SMALL => c"output buffer too small",
    SMISK_ERR_PROTOCOL => c"malformed protocol data from peer",
    SMISK_ERR_NO_MEMORY => c"out of memory",
    SMISK_ERR_PANIC => c"internal error in smisk",
    SMISK_ERR_UNSUPPORTED => c"not supported",
    SMISK_ERR_STOPPED => c"stopped by the caller's callback",
    SMISK_ERR_BODY_TOO_LARGE => c"request body too large",
    SMISK_ERR_TOO_MANY_PARTS => c"too many multipart parts",
    SMISK_ERR_TOO_MANY_FIELDS => c"too many form fields",
    SMISK_ERR_PART_HEADER_TOO_LARGE => c"multipart part headers too large",
    SMISK_ERR_FIELD_TOO_LARGE => c"form field data too large",
    SMISK_ERR_MULTIPART_MALFORMED => c"malformed multipart body",
    SMISK_ERR_MULTIPART_BOUNDARY => c"missing or invalid multipart boundary",
    SMISK_ERR_BODY_TRUNCATED => c"request body truncated",
    SMISK_ERR_NO_SESSION => c"no session (missing, expired or does not verify)",
    SMISK_ERR_SESSION_ID => c"malformed session id",
}

impl smisk_status {
    /// A short, static, English description of the status.
    pub fn describe(self) -> &'static str {
        // The C strings are the single source; they are ASCII, so this never fails.
        self.describe_c().to_str().unwrap_or("")
    }

    /// The C name of the status, such as `"SMISK_ERR_IO"`.
    pub fn name(self) -> &'static str {
        self.name_c().to_str().unwrap_or("")
    }

    /// Maps a raw integer back to a status, for functions that take a status
    /// from C (where an out-of-range value must not become an invalid enum).
    pub fn from_raw(raw: i32) -> Option<smisk_status> {
        Self::ALL.iter().copied().find(|s| *s as i32 == raw)
    }
}

/// The crate's error: a status, a message for humans and, for an error the
/// operating system reported, its errno.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    pub status: smisk_status,
    pub message: String,
    /// The OS error number behind the error (`Error::os`), else None. Code
    /// that must tell one OS failure from another (ENOENT: "not there")
    /// branches on this field, never on the message.
    pub errno: Option<i32>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(status: smisk_status, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
            errno: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(SMISK_ERR_INVALID, message)
    }

    pub fn state(message: impl Into<String>) -> Error {
        Error::new(SMISK_ERR_STATE, message)
    }

    pub fn too_large(message: impl Into<String>) -> Error {
        Error::new(SMISK_ERR_TOO_LARGE, message)
    }

    /// True for the statuses that mean "a size or count limit was exceeded",
    /// which the Python layer answers with HTTP 413.
    pub fn is_too_large(&self) -> bool {
        matches!(
            self.status,
            SMISK_ERR_TOO_LARGE
                | SMISK_ERR_BODY_TOO_LARGE
                | SMISK_ERR_TOO_MANY_PARTS
                | SMISK_ERR_TOO_MANY_FIELDS
                | SMISK_ERR_PART_HEADER_TOO_LARGE
                | SMISK_ERR_FIELD_TOO_LARGE
        )
    }

    pub fn protocol(message: impl Into<String>) -> Error {
        Error::new(SMISK_ERR_PROTOCOL, message)
    }

    /// An OS error, with the operation that failed (`"bind /tmp/x.sock"`).
    pub fn os(context: impl fmt::Display, err: std::io::Error) -> Error {
        let status = match err.kind() {
            std::io::ErrorKind::Interrupted => SMISK_ERR_INTERRUPTED,
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => SMISK_ERR_TIMEOUT,
            std::io::ErrorKind::OutOfMemory => SMISK_ERR_NO_MEMORY,
            _ => SMISK_ERR_IO,
        };
        Error {
            status,
            message: format!("{context}: {err}"),
            errno: err.raw_os_error(),
        }
    }

    /// The error of the last failed libc call (`errno`), with context.
    pub fn last_os(context: impl fmt::Display) -> Error {
        Error::os(context, std::io::Error::last_os_error())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.status, self.message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_covers_every_code_exactly_once() {
        // from_raw is the exact inverse of `as i32` over the whole range the
        // numbering plan uses, and nothing else maps.
        let mut seen = 0;
        for raw in -1..1000 {
            match smisk_status::from_raw(raw) {
                Some(s) => {
                    assert_eq!(s as i32, raw);
                    seen += 1;
                }
                None => assert!(!smisk_status::ALL.iter().any(|s| *s as i32 == raw)),
            }
        }
        assert_eq!(seen, smisk_status::ALL.len());
        let mut names = std::collections::HashSet::new();
        let mut messages = std::collections::HashSet::new();
        for w in smisk_status::ALL.windows(2) {
            assert!((w[0] as i32) < (w[1] as i32), "ALL is in numeric order");
        }
        for s in smisk_status::ALL {
            let name = s.name();
            assert_eq!(format!("{s:?}"), name, "the name is the variant's");
            assert!(name.starts_with("SMISK_"), "{name}");
            assert!(!s.describe().is_empty(), "{name} has no message");
            assert!(names.insert(name), "{name} twice");
            assert!(messages.insert(s.describe()), "{name}: message shared");
        }
    }

    #[test]
    fn os_errors_keep_errno() {
        let e = Error::os("open /x", std::io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(e.status, SMISK_ERR_IO);
        assert_eq!(e.errno, Some(libc::ENOENT));
        assert!(e.message.starts_with("open /x: "));
        // The number is a field, not read back from the text.
        let mut e = e;
        e.message = "no number here".into();
        assert_eq!(e.errno, Some(libc::ENOENT));
        assert_eq!(Error::invalid("bad (os error 2)").errno, None);
        let e = Error::os("read", std::io::Error::from_raw_os_error(libc::EINTR));
        assert_eq!(e.status, SMISK_ERR_INTERRUPTED);
    }
}
