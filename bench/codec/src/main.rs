//! Codec throughput: smisk next to the raw `percent-encoding` and
//! `form_urlencoded` crates, on the inputs `gen` writes (the same files the
//! CPython side of `bench/codec/run` reads).
//!
//! `smisk-codec-bench gen DIR` writes the inputs; `smisk-codec-bench run DIR`
//! prints one tab-separated line per measurement:
//! `operation  implementation  input  MB/s` (MB = 10^6 bytes of input).

use smisk::codec::{self, percent, query::Separator};
use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

/// Deterministic PRNG (SplitMix64) so every run measures the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "smörgåsbord",
    "hello",
    "world",
    "räksmörgås",
    "東京",
    "price",
    "a&b",
    "50%",
    "x=y",
    "path/to/file",
    "C++",
    "naïve",
    "user@example.com",
    "[tag]",
    "#anchor",
    "quote\"d",
];
const KEYS: &[&str] = &[
    "q",
    "utm_source",
    "utm_medium",
    "page",
    "sort",
    "filter[price][min]",
    "lang",
    "sid",
    "redirect_uri",
    "tags[]",
    "category",
    "ref",
    "session_state",
    "name",
    "email",
    "comment",
];

/// A query string of exactly `fields` fields and `len` bytes: form-encoded
/// keys and values with UTF-8 text, spaces as `+`, reserved characters and
/// plain numbers, as a browser would send. Each field but the last stays
/// within `len / fields` bytes; the last one is padded to the exact length.
fn make_query(fields: usize, len: usize) -> Vec<u8> {
    let mut rng = Rng(0x0051_5EED);
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let budget = len / fields - 1;
    let mut parts: Vec<String> = Vec::new();
    for i in 0..fields - 1 {
        let key = enc(&format!("{}{}", rng.pick(KEYS), i));
        let mut field = format!("{key}={}", rng.next() % 100000);
        if i % 4 != 0 {
            let mut value = String::new();
            for _ in 0..4 {
                let mut longer = value.clone();
                if !longer.is_empty() {
                    longer.push(' ');
                }
                longer.push_str(rng.pick(WORDS));
                let candidate = format!("{key}={}", enc(&longer));
                if candidate.len() > budget {
                    break;
                }
                value = longer;
                field = candidate;
            }
        }
        parts.push(field);
    }
    let used: usize = parts.iter().map(|p| p.len() + 1).sum();
    let key = format!("comment{}=", fields - 1);
    let pad = len - used - key.len();
    parts.push(format!("{key}{}", "x".repeat(pad)));
    parts.join("&").into_bytes()
}

/// 1 MiB of bytes of which about half need escaping (UTF-8 text with
/// punctuation and spaces mixed with binary runs), and its encoded form cut
/// to exactly 1 MiB at an escape boundary.
fn make_blobs() -> (Vec<u8>, Vec<u8>) {
    let mut rng = Rng(0x0B10_B5EE);
    let mut raw = Vec::with_capacity(1 << 20);
    while raw.len() < 1 << 20 {
        if rng.next().is_multiple_of(4) {
            for _ in 0..rng.next() % 16 {
                raw.push(rng.next() as u8);
            }
        } else {
            raw.extend_from_slice(rng.pick(WORDS).as_bytes());
            raw.push(b' ');
        }
    }
    raw.truncate(1 << 20);
    let mut enc = percent::encode(&raw).into_owned();
    let mut cut = 1 << 20;
    while enc[cut - 1] == b'%' || enc[cut - 2] == b'%' {
        cut -= 1;
    }
    enc.truncate(cut);
    while enc.len() < 1 << 20 {
        enc.push(b'a');
    }
    (raw, enc)
}

/// CPU time of the calling thread: on a shared machine, time spent waiting
/// for the CPU is not charged to the code being measured.
fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Best MB/s of 7 rounds, each running `f` repeatedly for about 0.2 s of
/// CPU time.
fn measure<F: FnMut() -> usize>(bytes: usize, mut f: F) -> f64 {
    let mut best = 0.0f64;
    for _ in 0..7 {
        let start = cpu_now();
        let mut iters = 0u64;
        let mut sink = 0usize;
        while cpu_now() - start < Duration::from_millis(200) {
            for _ in 0..8 {
                sink = sink.wrapping_add(f());
            }
            iters += 8;
        }
        black_box(sink);
        let secs = (cpu_now() - start).as_secs_f64();
        best = best.max(bytes as f64 * iters as f64 / secs / 1e6);
    }
    best
}

fn row(op: &str, imp: &str, input: &str, mbs: f64) {
    println!("{op}\t{imp}\t{input}\t{mbs:.1}");
}

fn run(dir: &Path) {
    let read = |name: &str| std::fs::read(dir.join(name)).expect("run `gen` first");
    let raw = read("blob_raw.bin");
    let enc = read("blob_encoded.txt");
    let q = read("query_2k.txt");
    let set = percent::RESERVED_UNSAFE_SET;

    row(
        "encode",
        "smisk",
        "1 MiB blob",
        measure(raw.len(), || percent::encode(black_box(&raw)).len()),
    );
    row(
        "encode",
        "percent-encoding",
        "1 MiB blob",
        measure(raw.len(), || {
            percent_encoding::percent_encode(black_box(&raw), set)
                .to_string()
                .len()
        }),
    );
    row(
        "decode (+ and %XX)",
        "smisk",
        "1 MiB blob",
        measure(enc.len(), || codec::decode(black_box(&enc)).len()),
    );
    row(
        "decode (%XX only)",
        "smisk",
        "1 MiB blob",
        measure(enc.len(), || codec::decode_percent(black_box(&enc)).len()),
    );
    row(
        "decode (%XX only)",
        "percent-encoding",
        "1 MiB blob",
        measure(enc.len(), || {
            percent_encoding::percent_decode(black_box(&enc))
                .collect::<Vec<u8>>()
                .len()
        }),
    );
    row(
        "decode (+ and %XX)",
        "smisk",
        "2 KiB query",
        measure(q.len(), || codec::decode(black_box(&q)).len()),
    );
    row(
        "parse query (stream pairs)",
        "smisk",
        "2 KiB query",
        measure(q.len(), || {
            let mut n = 0;
            codec::parse_pairs(black_box(&q), Separator::Query, 1000, |k, v| {
                n += k.len() + v.map_or(0, |v| v.len());
            })
            .unwrap();
            n
        }),
    );
    row(
        "parse query (stream pairs)",
        "form_urlencoded",
        "2 KiB query",
        measure(q.len(), || {
            form_urlencoded::parse(black_box(&q))
                .map(|(k, v)| k.len() + v.len())
                .sum()
        }),
    );
    row(
        "parse query (dict of lists)",
        "smisk",
        "2 KiB query",
        measure(q.len(), || {
            let mut map: HashMap<Vec<u8>, Vec<Option<Vec<u8>>>> = HashMap::new();
            codec::parse_pairs(black_box(&q), Separator::Query, 1000, |k, v| {
                map.entry(k.into_owned())
                    .or_default()
                    .push(v.map(|v| v.into_owned()));
            })
            .unwrap();
            map.len()
        }),
    );
    row(
        "parse query (dict of lists)",
        "form_urlencoded",
        "2 KiB query",
        measure(q.len(), || {
            let mut map: HashMap<String, Vec<String>> = HashMap::new();
            for (k, v) in form_urlencoded::parse(black_box(&q)) {
                map.entry(k.into_owned()).or_default().push(v.into_owned());
            }
            map.len()
        }),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("gen"), Some(dir)) => {
            let dir = Path::new(dir);
            let (raw, enc) = make_blobs();
            let q = make_query(40, 2048);
            assert_eq!(q.len(), 2048);
            assert_eq!(q.iter().filter(|&&b| b == b'&').count(), 39);
            std::fs::write(dir.join("blob_raw.bin"), &raw).unwrap();
            std::fs::write(dir.join("blob_encoded.txt"), &enc).unwrap();
            std::fs::write(dir.join("query_2k.txt"), &q).unwrap();
            let escaped = enc.iter().filter(|&&b| b == b'%').count() * 3;
            eprintln!(
                "inputs: raw blob {} B, encoded blob {} B ({:.0}% of it in %XX), query {} B",
                raw.len(),
                enc.len(),
                100.0 * escaped as f64 / enc.len() as f64,
                q.len()
            );
        }
        (Some("run"), Some(dir)) => run(Path::new(dir)),
        _ => {
            eprintln!("usage: smisk-codec-bench gen|run DIR");
            std::process::exit(2);
        }
    }
}
