//! Fuzzes the multipart push parser: any input must give a defined outcome
//! (events or an error, never a panic), and the same outcome whatever the
//! chunking. The first two bytes pick a chunking seed and small limits so the
//! part-count and header caps are reached too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smisk::multipart::{Event, Limits, Parser};

#[derive(Debug, PartialEq)]
enum Ev {
    Begin(Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>),
    Data(Vec<u8>),
    PartEnd,
    End,
}

fn run(
    body: &[u8],
    limits: Limits,
    mut next_size: impl FnMut() -> usize,
) -> (Vec<Ev>, Result<(), i32>) {
    let mut p = Parser::new(b"XyZ", limits).unwrap();
    let mut evs = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let n = next_size().clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let r = p.feed(chunk, |ev| {
            match ev {
                Event::PartBegin(h) => evs.push(Ev::Begin(
                    h.raw.clone(),
                    h.name.clone(),
                    h.filename.clone(),
                    h.content_type.clone(),
                )),
                Event::Data(d) => {
                    assert!(!d.is_empty());
                    match evs.last_mut() {
                        Some(Ev::Data(prev)) => prev.extend_from_slice(d),
                        _ => evs.push(Ev::Data(d.to_vec())),
                    }
                }
                Event::PartEnd => evs.push(Ev::PartEnd),
                Event::End => evs.push(Ev::End),
            }
            Ok(())
        });
        if let Err(e) = r {
            return (evs, Err(e.status as i32));
        }
    }
    (evs, p.finish().map_err(|e| e.status as i32))
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (ctl, body) = data.split_at(2);
    let limits = Limits {
        max_parts: 1 + (ctl[0] as usize % 16),
        max_header_bytes: 8 + (ctl[1] as usize) * 4,
    };
    let whole = run(body, limits, || usize::MAX);
    let mut seed = u32::from(ctl[0]) << 8 | u32::from(ctl[1]) | 1;
    let chunked = run(body, limits, || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        (seed % 11) as usize + 1
    });
    assert_eq!(whole.1, chunked.1, "chunking changed the outcome");
    if whole.1.is_ok() {
        assert_eq!(whole.0, chunked.0, "chunking changed the events");
    }
    let data_bytes: usize = whole
        .0
        .iter()
        .map(|e| if let Ev::Data(d) = e { d.len() } else { 0 })
        .sum();
    assert!(data_bytes <= body.len());
});
