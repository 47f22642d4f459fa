//! Session store operations per second from Rust (no FFI, no serialization),
//! for a 1 KiB payload on 100 ids, in each directory given on the command
//! line. Prints one table row per (directory, operation).
//!
//! Usage: smisk-session-bench OPS ROUNDS DIR...

use smisk::session::{id, Store};
use std::ffi::OsStr;
use std::time::Instant;

const IDS: usize = 100;

fn rate(ops: usize, f: &mut dyn FnMut(usize)) -> f64 {
    let start = Instant::now();
    for i in 0..ops {
        f(i);
    }
    ops as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: {} OPS ROUNDS DIR...", args[0]);
        std::process::exit(2);
    }
    let ops: usize = args[1].parse().expect("OPS");
    let rounds: usize = args[2].parse().expect("ROUNDS");
    let payload: Vec<u8> = (0..1024u32).map(|i| (i * 31 % 251) as u8).collect();
    for parent in &args[3..] {
        let dir = std::path::Path::new(parent)
            .join(format!("smisk-bench-native-{}", id::generate().unwrap()));
        let store = Store::open(&dir, OsStr::new("")).expect("open store");
        store.set_gc_probability(0.0).unwrap();
        let ids: Vec<String> = (0..IDS).map(|_| id::generate().unwrap()).collect();
        for sid in &ids {
            store.write(sid.as_bytes(), &payload).unwrap();
        }
        let (mut w, mut r, mut f) = (0f64, 0f64, 0f64);
        for _ in 0..rounds {
            w = w.max(rate(ops, &mut |i| {
                store.write(ids[i % IDS].as_bytes(), &payload).unwrap()
            }));
            r = r.max(rate(ops, &mut |i| {
                assert_eq!(
                    store.read(ids[i % IDS].as_bytes()).unwrap().len(),
                    payload.len()
                )
            }));
            f = f.max(rate(ops, &mut |i| {
                store.refresh(ids[i % IDS].as_bytes()).unwrap()
            }));
        }
        std::fs::remove_dir_all(&dir).unwrap();
        for (op, v) in [("write", w), ("read", r), ("refresh", f)] {
            println!("{:<28} {:<8} {:>12.0}", parent, op, v);
        }
    }
}
