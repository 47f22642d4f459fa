//! Measures smisk's multipart parsing for bench/multipart/run.py.
//!
//! `smisk-bench-multipart mem   BODY BOUNDARY ITERS CHUNK`: push parser,
//!     data appended to in-memory buffers (one copy, like the Python parsers).
//! `smisk-bench-multipart scan  BODY BOUNDARY ITERS CHUNK`: push parser,
//!     data slices only counted (zero-copy: what the parser itself costs).
//! `smisk-bench-multipart spool BODY CONTENT_TYPE ITERS CHUNK DIR`: the
//!     request-level `form::parse`, files spooled to DIR (removed each time).
//! `smisk-bench-multipart rss   CONTENT_TYPE DIR`: parses a multipart body
//!     from stdin, spooling to DIR; reports peak RSS before and after.
//! Prints one line `seconds=<best> bytes=<body size> ...`.

use smisk::form::{self, BodySource, Limits, ReadSource};
use smisk::multipart::{Event, Limits as MpLimits, Parser};
use std::path::PathBuf;
use std::time::Instant;

/// Peak resident set size of this process image so far, in KiB (`VmHWM`:
/// unlike `getrusage`'s `ru_maxrss`, it is not inherited across `exec` from
/// the parent, here the Python driver holding the benchmark bodies).
fn max_rss_kib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(-1)
}

/// Feeds `body` from memory in `chunk`-byte reads, as a socket would.
struct Chunked<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl BodySource for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> smisk::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn mem(body: &[u8], boundary: &[u8], chunk: usize) -> usize {
    let mut p = Parser::new(boundary, MpLimits::default()).expect("boundary");
    let mut parts: Vec<Vec<u8>> = Vec::new();
    for c in body.chunks(chunk) {
        p.feed(c, |ev| {
            match ev {
                Event::PartBegin(_) => parts.push(Vec::new()),
                Event::Data(d) => {
                    if let Some(last) = parts.last_mut() {
                        last.extend_from_slice(d)
                    }
                }
                _ => {}
            }
            Ok(())
        })
        .expect("parse");
    }
    p.finish().expect("finish");
    parts.iter().map(Vec::len).sum()
}

/// Parser only: data slices are counted, not copied (the zero-copy path).
fn scan(body: &[u8], boundary: &[u8], chunk: usize) -> usize {
    let mut p = Parser::new(boundary, MpLimits::default()).expect("boundary");
    let mut n = 0;
    for c in body.chunks(chunk) {
        p.feed(c, |ev| {
            if let Event::Data(d) = ev {
                n += d.len();
            }
            Ok(())
        })
        .expect("parse");
    }
    p.finish().expect("finish");
    n
}

fn spool(body: &[u8], ct: &[u8], chunk: usize, dir: &PathBuf) -> usize {
    let limits = Limits {
        upload_dir: Some(dir.clone()),
        max_parts: 100_000,
        ..Limits::default()
    };
    let mut src = Chunked { data: body, chunk };
    let f = form::parse(Some(ct), Some(body.len() as u64), &mut src, &limits).expect("parse");
    let n = f
        .fields
        .iter()
        .map(|x| x.value.as_ref().map_or(0, Vec::len))
        .sum::<usize>()
        + f.files.iter().map(|x| x.size as usize).sum::<usize>();
    drop(f);
    n
}

fn best_of<F: FnMut() -> usize>(iters: usize, mut f: F) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut out = 0;
    for _ in 0..iters {
        let t = Instant::now();
        out = std::hint::black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, out)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("mem") => {
            let body = std::fs::read(&args[2]).expect("body");
            let iters: usize = args[4].parse().expect("iters");
            let chunk: usize = args[5].parse().expect("chunk");
            let (s, n) = best_of(iters, || mem(&body, args[3].as_bytes(), chunk));
            println!("seconds={s} bytes={} payload={n}", body.len());
        }
        Some("scan") => {
            let body = std::fs::read(&args[2]).expect("body");
            let iters: usize = args[4].parse().expect("iters");
            let chunk: usize = args[5].parse().expect("chunk");
            let (s, n) = best_of(iters, || scan(&body, args[3].as_bytes(), chunk));
            println!("seconds={s} bytes={} payload={n}", body.len());
        }
        Some("spool") => {
            let body = std::fs::read(&args[2]).expect("body");
            let iters: usize = args[4].parse().expect("iters");
            let chunk: usize = args[5].parse().expect("chunk");
            let dir = PathBuf::from(&args[6]);
            let (s, n) = best_of(iters, || spool(&body, args[3].as_bytes(), chunk, &dir));
            println!("seconds={s} bytes={} payload={n}", body.len());
        }
        Some("rss") => {
            let before = max_rss_kib();
            let limits = Limits {
                upload_dir: Some(PathBuf::from(&args[3])),
                max_multipart_size: -1,
                ..Limits::default()
            };
            let stdin = std::io::stdin();
            let mut src = ReadSource(stdin.lock());
            let t = Instant::now();
            let f = form::parse(Some(args[2].as_bytes()), None, &mut src, &limits).expect("parse");
            let s = t.elapsed().as_secs_f64();
            let after = max_rss_kib();
            let size: u64 = f.files.iter().map(|x| x.size).sum();
            drop(f);
            println!(
                "seconds={s} bytes={} rss_before_kib={before} rss_after_kib={after}",
                size
            );
        }
        _ => {
            eprintln!("usage: see the module documentation");
            std::process::exit(2);
        }
    }
}
