//! Parser tests: RFC 2046 / 7578 edge cases, each checked under several
//! chunkings (whole, 1 byte, 2, 3, 7, 64 bytes, pseudo-random), which must all
//! give the same events.

use super::*;
use crate::status::*;

/// A normalized event: consecutive `Data` merged so chunkings compare equal.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Begin(PartHeaders),
    Data(Vec<u8>),
    PartEnd,
    End,
}

fn run_chunks(
    boundary: &[u8],
    limits: Limits,
    body: &[u8],
    sizes: &mut dyn FnMut() -> usize,
) -> (Vec<Ev>, Result<()>) {
    let mut p = Parser::new(boundary, limits).unwrap();
    let mut evs: Vec<Ev> = Vec::new();
    let mut rest = body;
    let mut result = Ok(());
    while !rest.is_empty() {
        let n = sizes().clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let r = p.feed(chunk, |ev| {
            match ev {
                Event::PartBegin(h) => evs.push(Ev::Begin(h.clone())),
                Event::Data(d) => {
                    assert!(!d.is_empty(), "empty Data event");
                    if let Some(Ev::Data(prev)) = evs.last_mut() {
                        prev.extend_from_slice(d);
                    } else {
                        evs.push(Ev::Data(d.to_vec()));
                    }
                }
                Event::PartEnd => evs.push(Ev::PartEnd),
                Event::End => evs.push(Ev::End),
            }
            Ok(())
        });
        if let Err(e) = r {
            result = Err(e);
            break;
        }
    }
    if result.is_ok() {
        result = p.finish();
    }
    (evs, result)
}

/// Parses `body` under many chunkings, asserts they agree, returns the result.
fn parse_with(boundary: &[u8], limits: Limits, body: &[u8]) -> (Vec<Ev>, Result<()>) {
    let whole = run_chunks(boundary, limits, body, &mut || usize::MAX);
    for size in [1usize, 2, 3, 7, 64] {
        let other = run_chunks(boundary, limits, body, &mut || size);
        assert_eq!(
            other.1.as_ref().map_err(|e| e.status),
            whole.1.as_ref().map_err(|e| e.status),
            "chunk {size}"
        );
        if whole.1.is_ok() {
            assert_eq!(other.0, whole.0, "chunk size {size} changed the events");
        }
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ body.len() as u64;
    let other = run_chunks(boundary, limits, body, &mut || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % 97) as usize + 1
    });
    assert_eq!(
        other.1.as_ref().map_err(|e| e.status),
        whole.1.as_ref().map_err(|e| e.status)
    );
    if whole.1.is_ok() {
        assert_eq!(other.0, whole.0, "random chunking changed the events");
    }
    whole
}

fn parse(body: &[u8]) -> (Vec<Ev>, Result<()>) {
    parse_with(b"XyZ", Limits::default(), body)
}

fn ok(body: &[u8]) -> Vec<Ev> {
    let (evs, r) = parse(body);
    r.unwrap();
    evs
}

fn err(body: &[u8]) -> smisk_status {
    parse(body).1.unwrap_err().status
}

fn headers(raw: &[u8]) -> PartHeaders {
    PartHeaders::parse(raw).unwrap()
}

fn field(name: &str) -> Ev {
    Ev::Begin(headers(
        format!("Content-Disposition: form-data; name=\"{name}\"").as_bytes(),
    ))
}

/// A body with one text part per (name, value).
fn body_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, value) in parts {
        b.extend_from_slice(
            format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
        );
        b.extend_from_slice(value);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(b"--XyZ--\r\n");
    b
}

#[test]
fn fields_and_a_file() {
    let body = b"--XyZ\r\n\
Content-Disposition: form-data; name=\"a\"\r\n\r\n\
1\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n\
Content-Type: application/octet-stream\r\n\r\n\
\x00\x01\r\n\x02\r\n\
--XyZ--\r\n";
    let evs = ok(body);
    assert_eq!(evs.len(), 7);
    assert_eq!(evs[0], field("a"));
    assert_eq!(evs[1], Ev::Data(b"1".to_vec()));
    assert_eq!(evs[2], Ev::PartEnd);
    let Ev::Begin(h) = &evs[3] else { panic!() };
    assert_eq!(h.filename.as_deref(), Some(&b"x.bin"[..]));
    assert_eq!(
        h.content_type.as_deref(),
        Some(&b"application/octet-stream"[..])
    );
    assert_eq!(evs[4], Ev::Data(b"\x00\x01\r\n\x02".to_vec()));
    assert_eq!(evs[5], Ev::PartEnd);
    assert_eq!(evs[6], Ev::End);
}

#[test]
fn preamble_and_epilogue_are_ignored() {
    let evs = ok(b"This is the preamble.\r\n--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--XyZ--\r\nepilogue --XyZ\r\n garbage");
    assert_eq!(
        evs,
        vec![field("a"), Ev::Data(b"v".to_vec()), Ev::PartEnd, Ev::End]
    );
    // A preamble line that looks like the boundary but is not at a line start.
    let evs =
        ok(b"x--XyZ\r\n--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\r\n--XyZ--");
    assert_eq!(evs, vec![field("a"), Ev::PartEnd, Ev::End]);
}

#[test]
fn quoted_names_with_semicolons() {
    let evs = ok(b"--XyZ\r\nContent-Disposition: form-data; name=\"a;b\"; filename=\"c; d=e.txt\"\r\n\r\nz\r\n--XyZ--");
    let Ev::Begin(h) = &evs[0] else { panic!() };
    assert_eq!(h.name.as_deref(), Some(&b"a;b"[..]));
    assert_eq!(h.filename.as_deref(), Some(&b"c; d=e.txt"[..]));
}

#[test]
fn missing_final_crlf_and_padding() {
    assert_eq!(
        ok(b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--XyZ--").last(),
        Some(&Ev::End)
    );
    // Transport padding after a delimiter (RFC 2046 §5.1.1).
    let evs = ok(b"--XyZ \t \r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--XyZ\t\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n\r\n--XyZ--");
    assert_eq!(
        evs,
        vec![
            field("a"),
            Ev::Data(b"v".to_vec()),
            Ev::PartEnd,
            field("b"),
            Ev::PartEnd,
            Ev::End
        ]
    );
}

#[test]
fn boundary_look_alikes_stay_data() {
    let tricky: &[&[u8]] = &[
        b"\r\n--XyA",
        b"\r\n--Xy",
        b"--XyZ",
        b"x--XyZ--",
        b"\r\n-XyZ",
        b"\r--XyZ",
        b"\n--XyZ",
        b"\r\r\n--Xy\r\n--X\r\n-\r\n",
        b"\r",
        b"\r\n",
        b"\r\n-",
        b"\r\n--",
        b"\r\n--X",
        b"-",
        b"--",
    ];
    for t in tricky {
        for value in [
            t.to_vec(),
            [b"abc", *t].concat(),
            [*t, b"abc"].concat(),
            t.repeat(5),
        ] {
            let evs = ok(&body_of(&[("a", &value), ("b", b"2")]));
            let mut expect = vec![field("a")];
            if !value.is_empty() {
                expect.push(Ev::Data(value.clone()));
            }
            expect.extend([
                Ev::PartEnd,
                field("b"),
                Ev::Data(b"2".to_vec()),
                Ev::PartEnd,
                Ev::End,
            ]);
            assert_eq!(evs, expect, "value {value:?}");
        }
    }
}

#[test]
fn crlf_dense_data_is_kept_byte_exact() {
    let mut seed = 12345u32;
    let mut data = Vec::new();
    for _ in 0..5000 {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        data.push([b'\r', b'\n', b'-', b'X', b'y', 0][(seed >> 16) as usize % 6]);
    }
    // Whatever the generator made, it must not contain the delimiter itself.
    assert!(memmem::find(&data, b"\r\n--XyZ").is_none());
    let evs = ok(&body_of(&[("f", &data)]));
    assert_eq!(evs, vec![field("f"), Ev::Data(data), Ev::PartEnd, Ev::End]);
    // The 1-byte-line case that the original parser dropped.
    let evs = ok(&body_of(&[("f", b"line1\n\nline3\n\n\n")]));
    assert_eq!(evs[1], Ev::Data(b"line1\n\nline3\n\n\n".to_vec()));
}

#[test]
fn lf_only_bodies_are_malformed() {
    assert_eq!(
        err(b"--XyZ\nContent-Disposition: form-data; name=\"a\"\n\nv\n--XyZ--\n"),
        SMISK_ERR_MULTIPART_MALFORMED
    );
    // With a preamble the LF-only delimiter is never found.
    assert_eq!(
        err(b"pre\n--XyZ\nContent-Disposition: form-data; name=\"a\"\n\nv\n--XyZ--\n"),
        SMISK_ERR_BODY_TRUNCATED
    );
}

#[test]
fn junk_after_a_delimiter_is_malformed() {
    assert_eq!(
        err(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--XyZjunk\r\n--XyZ--"
        ),
        SMISK_ERR_MULTIPART_MALFORMED
    );
    assert_eq!(err(b"--XyZ\r\r\n"), SMISK_ERR_MULTIPART_MALFORMED);
    assert_eq!(err(b"--XyZ-x"), SMISK_ERR_MULTIPART_MALFORMED);
    assert_eq!(err(b"--XyZ  x\r\n"), SMISK_ERR_MULTIPART_MALFORMED);
    // A header line without a colon.
    assert_eq!(
        err(b"--XyZ\r\nnot a header\r\n\r\nv\r\n--XyZ--"),
        SMISK_ERR_MULTIPART_MALFORMED
    );
}

#[test]
fn huge_headers_hit_the_cap() {
    let limits = Limits {
        max_parts: 10,
        max_header_bytes: 100,
    };
    // Exactly at the cap: header block (line + CRLF + blank CRLF) = 100 bytes.
    let line = format!("X-Pad: {}", "p".repeat(100 - 4 - 7));
    let body = format!("--XyZ\r\n{line}\r\n\r\nv\r\n--XyZ--");
    let (evs, r) = parse_with(b"XyZ", limits, body.as_bytes());
    r.unwrap();
    let Ev::Begin(h) = &evs[0] else { panic!() };
    assert_eq!(h.raw.len() + 4, 100);
    let body = format!("--XyZ\r\n{line}p\r\n\r\nv\r\n--XyZ--");
    let (_, r) = parse_with(b"XyZ", limits, body.as_bytes());
    assert_eq!(r.unwrap_err().status, SMISK_ERR_PART_HEADER_TOO_LARGE);
    // A header block that never ends stops at the cap, not at end of input.
    let mut p = Parser::new(b"XyZ", Limits::default()).unwrap();
    let mut body = b"--XyZ\r\n".to_vec();
    body.extend(std::iter::repeat(b'h').take(1 << 20));
    let e = p.feed(&body, |_| Ok(())).unwrap_err();
    assert_eq!(e.status, SMISK_ERR_PART_HEADER_TOO_LARGE);
    assert!(p.header_buf.len() <= DEFAULT_MAX_HEADER_BYTES + 2);
}

#[test]
fn thousands_of_tiny_parts() {
    let names: Vec<String> = (0..3000).map(|i| format!("f{i}")).collect();
    let parts: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let limits = Limits {
        max_parts: 3000,
        ..Limits::default()
    };
    let (evs, r) = parse_with(b"XyZ", limits, &body_of(&parts));
    r.unwrap();
    assert_eq!(evs.len(), 3000 * 3 + 1);
    // The default cap is 1000 parts: 1000 pass, 1001 fail.
    assert!(parse(&body_of(&parts[..1000])).1.is_ok());
    assert_eq!(err(&body_of(&parts[..1001])), SMISK_ERR_TOO_MANY_PARTS);
}

#[test]
fn no_parts() {
    assert_eq!(ok(b"--XyZ--"), vec![Ev::End]);
    assert_eq!(ok(b"--XyZ--\r\n"), vec![Ev::End]);
    assert_eq!(ok(b"preamble\r\n--XyZ--\r\n"), vec![Ev::End]);
    assert_eq!(err(b""), SMISK_ERR_BODY_TRUNCATED);
    assert_eq!(err(b"no boundary anywhere"), SMISK_ERR_BODY_TRUNCATED);
}

#[test]
fn empty_parts_and_headerless_parts() {
    let evs = ok(b"--XyZ\r\n\r\n\r\n--XyZ\r\n\r\nabc\r\n--XyZ--");
    let empty = Ev::Begin(PartHeaders::default());
    assert_eq!(
        evs,
        vec![
            empty.clone(),
            Ev::PartEnd,
            empty,
            Ev::Data(b"abc".to_vec()),
            Ev::PartEnd,
            Ev::End
        ]
    );
}

#[test]
fn truncated_bodies_fail_at_every_length() {
    let body = body_of(&[("a", b"hello"), ("b", b"\r\n--Xy")]);
    for cut in 0..body.len() {
        let (_, r) = parse(&body[..cut]);
        let full_close = cut >= body.len() - 2; // "--XyZ--" seen, only the CRLF missing
        if full_close {
            assert!(r.is_ok(), "cut {cut}");
        } else {
            assert_eq!(r.unwrap_err().status, SMISK_ERR_BODY_TRUNCATED, "cut {cut}");
        }
    }
}

#[test]
fn errors_latch() {
    let mut p = Parser::new(b"XyZ", Limits::default()).unwrap();
    assert!(p.feed(b"--XyZ!", |_| Ok(())).is_err());
    assert_eq!(
        p.feed(b"\r\n", |_| Ok(())).unwrap_err().status,
        SMISK_ERR_MULTIPART_MALFORMED
    );
    assert_eq!(
        p.finish().unwrap_err().status,
        SMISK_ERR_MULTIPART_MALFORMED
    );
    // A callback error stops parsing and comes back unchanged.
    let mut p = Parser::new(b"XyZ", Limits::default()).unwrap();
    let e = p
        .feed(&body_of(&[("a", b"1")]), |_| Err(Error::invalid("stop")))
        .unwrap_err();
    assert_eq!(e.message, "stop");
}

#[test]
fn bad_boundaries_are_rejected() {
    for b in [&b""[..], b"a\rb", b"a\nb", b"trailing ", b"quo\"te"] {
        assert_eq!(
            Parser::new(b, Limits::default()).unwrap_err().status,
            SMISK_ERR_MULTIPART_BOUNDARY
        );
    }
    assert!(Parser::new(&[b'a'; MAX_BOUNDARY_LEN + 1], Limits::default()).is_err());
    assert!(
        Parser::from_content_type(b"multipart/form-data; boundary=\"XyZ\"", Limits::default())
            .is_ok()
    );
}

#[test]
fn data_borrows_the_input_chunk() {
    // Zero-copy: with the whole body in one chunk, the file data slice points
    // into that chunk.
    let payload = vec![0xabu8; 100_000];
    let body = body_of(&[("f", &payload)]);
    let mut p = Parser::new(b"XyZ", Limits::default()).unwrap();
    let range = body.as_ptr_range();
    let mut seen = 0;
    p.feed(&body, |ev| {
        if let Event::Data(d) = ev {
            assert!(range.contains(&d.as_ptr()));
            seen += d.len();
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, payload.len());
}

#[test]
fn step_reports_consumption() {
    let body = body_of(&[("a", b"123")]);
    let mut p = Parser::new(b"XyZ", Limits::default()).unwrap();
    let mut input = &body[..];
    let mut kinds = Vec::new();
    for _ in 0..100 {
        let (used, ev) = p.step(input).unwrap();
        input = &input[used..];
        match ev {
            None => break,
            Some(Event::PartBegin(_)) => kinds.push("begin"),
            Some(Event::Data(_)) => kinds.push("data"),
            Some(Event::PartEnd) => kinds.push("end"),
            Some(Event::End) => kinds.push("close"),
        }
    }
    assert!(input.is_empty());
    assert_eq!(kinds, ["begin", "data", "end", "close"]);
    assert!(p.is_done());
    assert_eq!(p.parts(), 1);
}

#[test]
fn one_byte_at_a_time_equals_one_50_mib_chunk() {
    // 50 MiB over three parts, CR/LF-dense near the delimiters; compared by
    // SHA-1 of each part's data and the event sequence.
    let mut body = Vec::with_capacity(50 << 20);
    let mut seed = 7u32;
    for i in 0..3 {
        body.extend_from_slice(
            format!("--XyZ\r\nContent-Disposition: form-data; name=\"p{i}\"\r\n\r\n").as_bytes(),
        );
        let start = body.len();
        body.resize(start + (50 << 20) / 3 - 100, 0);
        for b in &mut body[start..] {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *b = [b'\r', b'\n', b'-', b'X', b'y', (seed >> 24) as u8][(seed >> 16) as usize % 6];
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--XyZ--\r\n");
    let digest = |chunk: usize| {
        let mut p = Parser::new(b"XyZ", Limits::default()).unwrap();
        let mut out: Vec<(String, sha1_smol::Sha1)> = Vec::new();
        for c in body.chunks(chunk) {
            p.feed(c, |ev| {
                match ev {
                    Event::PartBegin(_) => out.push(("begin".into(), sha1_smol::Sha1::new())),
                    Event::Data(d) => out.last_mut().unwrap().1.update(d),
                    Event::PartEnd => out.push(("end".into(), sha1_smol::Sha1::new())),
                    Event::End => out.push(("close".into(), sha1_smol::Sha1::new())),
                }
                Ok(())
            })
            .unwrap();
        }
        p.finish().unwrap();
        out.into_iter()
            .map(|(k, h)| format!("{k}:{}", h.digest()))
            .collect::<Vec<_>>()
    };
    let whole = digest(body.len());
    assert_eq!(whole.len(), 7);
    assert_eq!(digest(1), whole);
}

#[test]
fn header_names_are_case_insensitive_and_first_wins() {
    let evs = ok(b"--XyZ\r\ncontent-DISPOSITION : form-data; name=first\r\nContent-Disposition: form-data; name=second\r\nCONTENT-TYPE:text/x\r\n\r\nv\r\n--XyZ--");
    let Ev::Begin(h) = &evs[0] else { panic!() };
    assert_eq!(h.name.as_deref(), Some(&b"first"[..]));
    assert_eq!(h.content_type.as_deref(), Some(&b"text/x"[..]));
    assert_eq!(h.headers.len(), 3);
    // Unquoted values may contain '='; quoted ones may contain anything but '"'.
    let evs = ok(b"--XyZ\r\nContent-Disposition: form-data; name=a=b; filename=\"x\\y z;\"\r\n\r\n\r\n--XyZ--");
    let Ev::Begin(h) = &evs[0] else { panic!() };
    assert_eq!(h.name.as_deref(), Some(&b"a=b"[..]));
    assert_eq!(h.filename.as_deref(), Some(&b"x\\y z;"[..]));
}

#[test]
fn binary_data_with_nul_and_high_bytes() {
    let data: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let evs = ok(&body_of(&[("bin", &data), ("z", b"\0")]));
    assert_eq!(evs[1], Ev::Data(data));
    assert_eq!(evs[4], Ev::Data(b"\0".to_vec()));
}
