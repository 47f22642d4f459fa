//! Request-level tests. Each test spools into its own private directory and
//! checks by listing it that no temp file survives the form.

use super::*;
use crate::status::*;
use std::os::unix::fs::PermissionsExt;

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!(
            "smisk-form-test-{tag}-{}",
            crate::uid::uid(5, b"").unwrap()
        ));
        crate::fsutil::ensure_private_dir(&p).unwrap();
        Scratch(p)
    }

    fn limits(&self) -> Limits {
        Limits {
            upload_dir: Some(self.0.clone()),
            ..Limits::default()
        }
    }

    fn entries(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    }

    fn assert_empty(&self) {
        assert_eq!(self.entries(), Vec::<PathBuf>::new(), "temp files survived");
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A source that hands out at most `step` bytes per read and counts reads.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
    taken: usize,
}

impl BodySource for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = buf.len().min(self.step).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.taken += n;
        Ok(n)
    }
}

/// A source that fails after `ok` bytes.
struct Failing<'a> {
    data: &'a [u8],
}

impl BodySource for Failing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.data.is_empty() {
            return Err(Error::new(SMISK_ERR_ABORTED, "peer hung up"));
        }
        let n = buf.len().min(self.data.len()).min(7);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

const CT: &[u8] = b"multipart/form-data; boundary=----b0undary";

enum P<'a> {
    Text(&'a str, &'a [u8]),
    File(&'a str, &'a str, &'a [u8]),
    Raw(&'a [u8]),
}

fn mp(parts: &[P]) -> Vec<u8> {
    let mut b = Vec::new();
    for p in parts {
        b.extend_from_slice(b"------b0undary\r\n");
        match p {
            P::Text(n, v) => {
                b.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{n}\"\r\n\r\n").as_bytes(),
                );
                b.extend_from_slice(v);
            }
            P::File(n, f, v) => {
                b.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{n}\"; filename=\"{f}\"\r\nContent-Type: image/png\r\n\r\n")
                        .as_bytes(),
                );
                b.extend_from_slice(v);
            }
            P::Raw(r) => b.extend_from_slice(r),
        }
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(b"------b0undary--\r\n");
    b
}

fn run(body: &[u8], limits: &Limits) -> Result<Form> {
    let mut src = body;
    parse(Some(CT), Some(body.len() as u64), &mut src, limits)
}

fn text(form: &Form) -> Vec<(String, Option<String>)> {
    form.fields
        .iter()
        .map(|f| {
            (
                String::from_utf8_lossy(&f.name).into_owned(),
                f.value
                    .as_ref()
                    .map(|v| String::from_utf8_lossy(v).into_owned()),
            )
        })
        .collect()
}

#[test]
fn urlencoded_bodies() {
    let body = b"a=1&b=x+y&a=%32&empty=&bare";
    for (len, step) in [(Some(body.len() as u64), 1000), (None, 1000), (None, 1)] {
        let mut src = Trickle {
            data: body,
            step,
            taken: 0,
        };
        let form = parse(
            Some(b"Application/X-WWW-Form-Urlencoded; charset=utf-8"),
            len,
            &mut src,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(form.kind, Kind::UrlEncoded);
        let s = |x: &str| x.to_string();
        assert_eq!(
            text(&form),
            vec![
                (s("a"), Some(s("1"))),
                (s("b"), Some(s("x y"))),
                (s("a"), Some(s("2"))),
                (s("empty"), Some(s(""))),
                (s("bare"), None)
            ]
        );
        assert_eq!(form.bytes_read, body.len() as u64);
    }
}

#[test]
fn urlencoded_limits() {
    let ct = Some(&b"application/x-www-form-urlencoded"[..]);
    let body = b"a=0123456789";
    let limits = Limits {
        max_formdata_size: 5,
        ..Limits::default()
    };
    // Known length over the limit: nothing is read.
    let mut src = Trickle {
        data: body,
        step: 100,
        taken: 0,
    };
    let e = parse(ct, Some(12), &mut src, &limits).unwrap_err();
    assert_eq!(e.status, SMISK_ERR_BODY_TOO_LARGE);
    assert!(e.is_too_large());
    assert_eq!(src.taken, 0);
    // Unknown length: reading stops one byte past the limit.
    let mut src = Trickle {
        data: body,
        step: 100,
        taken: 0,
    };
    let e = parse(ct, None, &mut src, &limits).unwrap_err();
    assert_eq!(e.status, SMISK_ERR_BODY_TOO_LARGE);
    assert_eq!(src.taken, 6);
    // Exactly at the limit passes.
    let mut src = &b"a=123"[..];
    assert_eq!(parse(ct, None, &mut src, &limits).unwrap().fields.len(), 1);
    // Limit 0 leaves the body unparsed and unread.
    let mut src = Trickle {
        data: body,
        step: 100,
        taken: 0,
    };
    let form = parse(
        ct,
        None,
        &mut src,
        &Limits {
            max_formdata_size: 0,
            ..Limits::default()
        },
    )
    .unwrap();
    assert_eq!((form.kind, src.taken), (Kind::Unparsed, 0));
    // Negative: unlimited.
    let mut src = &body[..];
    let form = parse(
        ct,
        None,
        &mut src,
        &Limits {
            max_formdata_size: -1,
            ..Limits::default()
        },
    )
    .unwrap();
    assert_eq!(form.fields[0].value.as_deref(), Some(&b"0123456789"[..]));
    // Field cap.
    let many = "x=1&".repeat(1001);
    let mut src = many.as_bytes();
    assert_eq!(
        parse(ct, None, &mut src, &Limits::default())
            .unwrap_err()
            .status,
        SMISK_ERR_TOO_MANY_FIELDS
    );
    // Never reads past CONTENT_LENGTH; a short body is truncated.
    let mut src = Trickle {
        data: b"a=1&b=2",
        step: 100,
        taken: 0,
    };
    assert_eq!(
        parse(ct, Some(3), &mut src, &Limits::default())
            .unwrap()
            .fields
            .len(),
        1
    );
    assert_eq!(src.taken, 3);
    let mut src = &b"a=1"[..];
    assert_eq!(
        parse(ct, Some(10), &mut src, &Limits::default())
            .unwrap_err()
            .status,
        SMISK_ERR_BODY_TRUNCATED
    );
}

#[test]
fn other_content_types_are_left_alone() {
    for ct in [
        None,
        Some(&b"text/plain"[..]),
        Some(b"application/json"),
        Some(b"x-www-form-urlencoded"),
        Some(b""),
    ] {
        let mut src = Trickle {
            data: b"a=1",
            step: 10,
            taken: 0,
        };
        let form = parse(ct, Some(3), &mut src, &Limits::default()).unwrap();
        assert_eq!(
            (form.kind, src.taken, form.fields.len()),
            (Kind::Unparsed, 0, 0)
        );
    }
}

#[test]
fn content_length_parsing() {
    assert_eq!(parse_content_length(None).unwrap(), None);
    assert_eq!(parse_content_length(Some(b"")).unwrap(), None);
    assert_eq!(parse_content_length(Some(b" 42 ")).unwrap(), Some(42));
    assert_eq!(
        parse_content_length(Some(b"18446744073709551615"))
            .unwrap_err()
            .status,
        SMISK_ERR_INVALID
    );
    assert_eq!(
        parse_content_length(Some(b"9999999999999999999")).unwrap(),
        Some(9_999_999_999_999_999_999)
    );
    for bad in [&b"-1"[..], b"1e3", b"0x10", b"12a", b"+5"] {
        assert_eq!(
            parse_content_length(Some(bad)).unwrap_err().status,
            SMISK_ERR_INVALID
        );
    }
}

#[test]
fn multipart_fields_and_files() {
    let dir = Scratch::new("basic");
    let png: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let body = mp(&[
        P::Text("title", b"hello"),
        P::Text("empty", b""),
        P::File("pic", "C:\\dir\\a b.png", &png),
        P::File("pic", "b.png", b"\r\n\n\r"),
        P::File("none", "", b""),
        P::File("zero", "zero.txt", b""),
        P::Raw(
            b"Content-Disposition: form-data; name=\"star\"; filename*=UTF-8''x.txt\r\n\r\nstarval",
        ),
        P::Raw(b"Content-Disposition: form-data\r\n\r\nnameless"),
        P::Text("title", b"again"),
    ]);
    for step in [usize::MAX, 1, 13] {
        let mut src = Trickle {
            data: &body,
            step,
            taken: 0,
        };
        let form = parse(Some(CT), None, &mut src, &dir.limits()).unwrap();
        assert_eq!(form.kind, Kind::Multipart);
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            text(&form),
            vec![
                ("title".into(), s("hello")),
                ("empty".into(), s("")),
                ("star".into(), s("starval")),
                ("title".into(), s("again"))
            ]
        );
        assert_eq!(form.files.len(), 3, "empty file input skipped");
        let f = &form.files[0];
        assert_eq!(
            (&f.name[..], &f.filename[..], &f.content_type[..]),
            (&b"pic"[..], &b"C:\\dir\\a b.png"[..], &b"image/png"[..])
        );
        assert_eq!(f.size, png.len() as u64);
        assert_eq!(std::fs::read(f.path()).unwrap(), png);
        assert_eq!(
            std::fs::metadata(f.path()).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(f.path().starts_with(&dir.0));
        assert_eq!(std::fs::read(form.files[1].path()).unwrap(), b"\r\n\n\r");
        assert_eq!(
            (&form.files[2].filename[..], form.files[2].size),
            (&b"zero.txt"[..], 0)
        );
        assert_eq!(std::fs::read(form.files[2].path()).unwrap(), b"");
        assert_eq!(dir.entries().len(), 3);
        drop(form);
        dir.assert_empty();
    }
    assert_eq!(
        std::fs::metadata(&dir.0).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

#[test]
fn kept_and_moved_files_survive() {
    let dir = Scratch::new("keep");
    let body = mp(&[
        P::File("a", "a", b"AAA"),
        P::File("b", "b", b"BBB"),
        P::File("c", "c", b"CCC"),
    ]);
    let mut form = run(&body, &dir.limits()).unwrap();
    form.keep(0).unwrap();
    assert_eq!(form.keep(3).unwrap_err().status, SMISK_ERR_NOT_FOUND);
    let moved = dir.0.join("moved-by-app");
    std::fs::rename(form.files[1].path(), &moved).unwrap();
    let kept = form.files[0].path().to_path_buf();
    drop(form);
    assert_eq!(dir.entries(), {
        let mut v = vec![kept.clone(), moved.clone()];
        v.sort();
        v
    });
    assert_eq!(std::fs::read(&kept).unwrap(), b"AAA");
}

#[test]
fn limits_mid_file_remove_everything() {
    let dir = Scratch::new("limits");
    let big = vec![b'z'; 300_000];
    let body = mp(&[
        P::File("a", "a.bin", b"first"),
        P::File("b", "b.bin", &big),
        P::Text("t", b"x"),
    ]);
    // Whole-body limit, unknown length: hit while spooling the second file.
    let limits = Limits {
        max_multipart_size: 200_000,
        ..dir.limits()
    };
    let mut src = Trickle {
        data: &body,
        step: 4096,
        taken: 0,
    };
    let e = parse(Some(CT), None, &mut src, &limits).unwrap_err();
    assert_eq!(e.status, SMISK_ERR_BODY_TOO_LARGE);
    assert!(src.taken <= 200_001);
    dir.assert_empty();
    // Known length over the limit: refused before reading.
    let mut src = Trickle {
        data: &body,
        step: 4096,
        taken: 0,
    };
    let e = parse(Some(CT), Some(body.len() as u64), &mut src, &limits).unwrap_err();
    assert_eq!((e.status, src.taken), (SMISK_ERR_BODY_TOO_LARGE, 0));
    // Text cap (max_formdata_size) after files were written.
    let body2 = mp(&[
        P::File("a", "a.bin", b"first"),
        P::Text("t", &[b'x'; 11]),
        P::Text("u", b"y"),
    ]);
    let limits = Limits {
        max_formdata_size: 10,
        ..dir.limits()
    };
    let e = run(&body2, &limits).unwrap_err();
    assert_eq!(e.status, SMISK_ERR_FIELD_TOO_LARGE);
    assert!(e.is_too_large());
    dir.assert_empty();
    // The text cap is cumulative over fields: 6 + 5 > 10.
    let body3 = mp(&[P::Text("t", b"xxxxxx"), P::Text("u", b"yyyyy")]);
    assert_eq!(
        run(&body3, &limits).unwrap_err().status,
        SMISK_ERR_FIELD_TOO_LARGE
    );
    let body4 = mp(&[P::Text("t", b"xxxxx"), P::Text("u", b"yyyyy")]);
    assert_eq!(run(&body4, &limits).unwrap().fields.len(), 2);
    // Too many parts after files.
    let limits = Limits {
        max_parts: 2,
        ..dir.limits()
    };
    let e = run(&body, &limits).unwrap_err();
    assert_eq!(e.status, SMISK_ERR_TOO_MANY_PARTS);
    dir.assert_empty();
    // Header cap.
    let huge = format!(
        "Content-Disposition: form-data; name=\"h\"\r\nX-Pad: {}\r\n\r\nv",
        "p".repeat(20_000)
    );
    let body5 = mp(&[P::File("a", "a.bin", b"first"), P::Raw(huge.as_bytes())]);
    assert_eq!(
        run(&body5, &dir.limits()).unwrap_err().status,
        SMISK_ERR_PART_HEADER_TOO_LARGE
    );
    dir.assert_empty();
}

#[test]
fn broken_bodies_remove_everything() {
    let dir = Scratch::new("broken");
    let body = mp(&[
        P::File("a", "a.bin", &[7u8; 50_000]),
        P::File("b", "b.bin", b"x"),
    ]);
    // Truncated at every interesting point: CONTENT_LENGTH promises more.
    for cut in [10, 100, 30_000, body.len() - 20, body.len() - 3] {
        let mut src = &body[..cut];
        let e = parse(Some(CT), Some(body.len() as u64), &mut src, &dir.limits()).unwrap_err();
        assert_eq!(e.status, SMISK_ERR_BODY_TRUNCATED, "cut {cut}");
        dir.assert_empty();
        // Unknown length: the parser notices the missing close delimiter.
        let mut src = &body[..cut];
        let e = parse(Some(CT), None, &mut src, &dir.limits()).unwrap_err();
        assert_eq!(e.status, SMISK_ERR_BODY_TRUNCATED, "cut {cut}");
        dir.assert_empty();
    }
    // Malformed framing after a file.
    let mut bad = mp(&[P::File("a", "a.bin", b"data")]);
    bad.truncate(bad.len() - 4);
    bad.extend_from_slice(b"xx\r\n");
    assert_eq!(
        run(&bad, &dir.limits()).unwrap_err().status,
        SMISK_ERR_MULTIPART_MALFORMED
    );
    dir.assert_empty();
    // The source fails mid-file.
    let mut src = Failing {
        data: &body[..20_000],
    };
    let e = parse(Some(CT), None, &mut src, &dir.limits()).unwrap_err();
    assert_eq!(e.status, SMISK_ERR_ABORTED);
    dir.assert_empty();
    // LF-only body.
    let lf = b"------b0undary\nContent-Disposition: form-data; name=\"a\"\n\nv\n------b0undary--\n";
    assert_eq!(
        run(lf, &dir.limits()).unwrap_err().status,
        SMISK_ERR_MULTIPART_MALFORMED
    );
}

#[test]
fn multipart_dispatch_and_limit_semantics() {
    let dir = Scratch::new("dispatch");
    let body = mp(&[P::Text("a", b"1")]);
    // 0: left unparsed and unread.
    let mut src = Trickle {
        data: &body,
        step: 100,
        taken: 0,
    };
    let form = parse(
        Some(CT),
        None,
        &mut src,
        &Limits {
            max_multipart_size: 0,
            ..dir.limits()
        },
    )
    .unwrap();
    assert_eq!((form.kind, src.taken), (Kind::Unparsed, 0));
    // Negative: unlimited.
    let form = run(
        &body,
        &Limits {
            max_multipart_size: -1,
            ..dir.limits()
        },
    )
    .unwrap();
    assert_eq!(form.fields.len(), 1);
    // Case-insensitive media type, other multipart subtypes.
    for ct in [
        &b"Multipart/Form-Data; boundary=\"----b0undary\""[..],
        b"multipart/mixed;boundary=----b0undary",
    ] {
        let mut src = &body[..];
        assert_eq!(
            parse(Some(ct), None, &mut src, &dir.limits())
                .unwrap()
                .fields
                .len(),
            1
        );
    }
    // Missing boundary: an error, nothing read.
    let mut src = Trickle {
        data: &body,
        step: 100,
        taken: 0,
    };
    let e = parse(Some(b"multipart/form-data"), None, &mut src, &dir.limits()).unwrap_err();
    assert_eq!((e.status, src.taken), (SMISK_ERR_MULTIPART_BOUNDARY, 0));
    // Empty body: an empty form.
    let mut src = &b""[..];
    assert!(parse(Some(CT), Some(0), &mut src, &dir.limits())
        .unwrap()
        .fields
        .is_empty());
    let mut src = &b""[..];
    assert!(parse(Some(CT), None, &mut src, &dir.limits())
        .unwrap()
        .fields
        .is_empty());
    // No parts at all.
    let form = run(b"------b0undary--", &dir.limits()).unwrap();
    assert!(form.fields.is_empty() && form.files.is_empty());
    // Bytes after CONTENT_LENGTH are not read.
    let mut longer = body.clone();
    longer.extend_from_slice(b"NEXT REQUEST");
    let mut src = Trickle {
        data: &longer,
        step: 5,
        taken: 0,
    };
    parse(Some(CT), Some(body.len() as u64), &mut src, &dir.limits()).unwrap();
    assert_eq!(src.taken, body.len());
    dir.assert_empty();
}

#[test]
fn upload_dir_must_be_private() {
    let dir = Scratch::new("perm");
    let open = dir.0.join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let body = mp(&[P::File("a", "a", b"x")]);
    let e = run(
        &body,
        &Limits {
            upload_dir: Some(open.clone()),
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.status, SMISK_ERR_INVALID);
    assert_eq!(std::fs::read_dir(&open).unwrap().count(), 0);
}

#[test]
fn default_upload_dir_is_private_and_stable() {
    let a = default_upload_dir().unwrap();
    let b = default_upload_dir().unwrap();
    assert_eq!(a, b);
    assert_eq!(
        std::fs::metadata(&a).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert!(a
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("smisk-uploads-"));
    // Removed behind our back (a temp cleaner): recreated on the next use.
    std::fs::remove_dir(&a).unwrap();
    assert_eq!(default_upload_dir().unwrap(), a);
    assert!(a.is_dir());
    std::fs::remove_dir(&a).unwrap();
}
