//! 8 processes x 2000 random read / write / refresh / destroy operations on
//! 50 shared session ids. Afterwards every file must verify, and every read
//! ever done must have returned either "no session" or a payload that some
//! writer wrote whole (compared by SHA-1 against every writer's log).
//!
//! The parent test re-executes this test binary once per worker (the ignored
//! test `concurrency_worker`), so the workers are real processes sharing
//! nothing but the directory.

use smisk::session::{frame, id, Store};
use smisk::status::SMISK_ERR_NO_SESSION;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

const WORKERS: usize = 8;
const OPS: usize = 2000;
const IDS: usize = 50;
const MAX_PAYLOAD: usize = 8 * 1024;
const DEADLINE: Duration = Duration::from_secs(300);

fn shared_ids() -> Vec<String> {
    (0..IDS)
        .map(|n| {
            let d = sha1_smol::Sha1::from(format!("smisk-concurrency-{n}"))
                .digest()
                .bytes();
            smisk::uid::pack(&d, 5).unwrap()
        })
        .collect()
}

fn hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A payload unique to (worker, seq): a readable tag, then bytes derived from
/// it, of a length between 1 byte and 8 KiB, so a mix of two writes or a
/// cut-off one cannot hash like any whole write.
fn payload(worker: usize, seq: usize, rng: &mut XorShift) -> Vec<u8> {
    let len = 1 + (rng.next() as usize % MAX_PAYLOAD);
    let mut p = format!("w{worker}:s{seq}:").into_bytes();
    let mut x = XorShift((worker as u64) << 32 | seq as u64 | 1);
    while p.len() < len {
        p.extend_from_slice(&x.next().to_le_bytes());
    }
    p.truncate(len);
    p
}

#[test]
#[ignore = "worker process of eight_processes_share_fifty_ids"]
fn concurrency_worker() {
    let dir = std::env::var_os("SMISK_CONC_DIR").expect("run by the parent test");
    let worker: usize = std::env::var("SMISK_CONC_WORKER").unwrap().parse().unwrap();
    let log_path = std::env::var_os("SMISK_CONC_LOG").unwrap();
    let store = Store::open(Path::new(&dir), OsStr::new("")).unwrap();
    store.set_ttl(3600);
    // GC scans run concurrently with the renames (nothing is old enough to
    // be removed, but the scan and move-aside logic must not disturb them).
    store.set_gc_probability(0.02).unwrap();
    let ids = shared_ids();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ ((worker as u64 + 1) * 0x1000_0001));
    let mut log = String::new();
    for seq in 0..OPS {
        let sid = ids[rng.next() as usize % IDS].as_bytes();
        match rng.next() % 20 {
            0..=7 => match store.read(sid) {
                Ok(p) => writeln!(log, "R {}", hex(&p)).unwrap(),
                // "no data" is a missing file; any other reason means a file
                // was there but did not verify, which atomic replacement
                // must make impossible.
                Err(e) if e.status == SMISK_ERR_NO_SESSION && e.message.ends_with("no data") => {
                    log.push_str("N\n")
                }
                Err(e) if e.status == SMISK_ERR_NO_SESSION => {
                    writeln!(log, "B {}", e.message).unwrap()
                }
                Err(e) => writeln!(log, "E read {e:?}").unwrap(),
            },
            8..=13 => {
                let p = payload(worker, seq, &mut rng);
                // Logged before the write: a reader in another process may see
                // it before this call returns.
                writeln!(log, "W {}", hex(&p)).unwrap();
                if let Err(e) = store.write(sid, &p) {
                    writeln!(log, "E write {e:?}").unwrap();
                }
            }
            14..=17 => match store.refresh(sid) {
                Ok(()) => log.push_str("F\n"),
                Err(e) if e.status == SMISK_ERR_NO_SESSION => log.push_str("f\n"),
                Err(e) => writeln!(log, "E refresh {e:?}").unwrap(),
            },
            _ => match store.destroy(sid) {
                Ok(()) => log.push_str("D\n"),
                Err(e) => writeln!(log, "E destroy {e:?}").unwrap(),
            },
        }
    }
    std::fs::write(log_path, log).unwrap();
}

/// In the temp directory (ext4 on the CI machines: files are installed with
/// RENAME_EXCHANGE + unlink) ...
#[test]
fn eight_processes_share_fifty_ids() {
    eight_processes_share_fifty_ids_in(&std::env::temp_dir());
}

/// ... and on tmpfs (installed with rename).
#[test]
fn eight_processes_share_fifty_ids_on_tmpfs() {
    eight_processes_share_fifty_ids_in(Path::new("/dev/shm"));
}

fn eight_processes_share_fifty_ids_in(parent: &Path) {
    let base = parent.join(format!("smisk-test-conc-{}", id::generate().unwrap()));
    std::fs::create_dir(&base).unwrap();
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o700)).unwrap();
    let dir = base.join("store");
    Store::open(&dir, OsStr::new("")).unwrap();

    let exe = std::env::current_exe().unwrap();
    let mut children = Vec::new();
    for w in 0..WORKERS {
        let child = std::process::Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "concurrency_worker",
                "--test-threads=1",
            ])
            .env("SMISK_CONC_DIR", &dir)
            .env("SMISK_CONC_WORKER", w.to_string())
            .env("SMISK_CONC_LOG", base.join(format!("log{w}")))
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        children.push(child);
    }
    let start = Instant::now();
    let mut failed = Vec::new();
    for (w, mut child) in children.into_iter().enumerate() {
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                if !status.success() {
                    failed.push(w);
                }
                break;
            }
            if start.elapsed() > DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                failed.push(w);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let elapsed = start.elapsed();
    assert!(failed.is_empty(), "workers {failed:?} failed or timed out");

    let mut written = HashSet::new();
    let (mut reads, mut whole, mut none, mut writes, mut refreshes, mut destroys) =
        (0, 0, 0, 0, 0, 0);
    let mut unverified = Vec::new();
    let mut read_hashes = Vec::new();
    let mut errors = Vec::new();
    for w in 0..WORKERS {
        let log = std::fs::read_to_string(base.join(format!("log{w}"))).unwrap();
        for line in log.lines() {
            match line.split_at(1) {
                ("W", h) => {
                    writes += 1;
                    written.insert(h.trim().to_string());
                }
                ("R", h) => {
                    reads += 1;
                    read_hashes.push(h.trim().to_string());
                }
                ("N", _) => {
                    reads += 1;
                    none += 1;
                }
                ("B", why) => {
                    reads += 1;
                    unverified.push(why.trim().to_string());
                }
                ("F", _) | ("f", _) => refreshes += 1,
                ("D", _) => destroys += 1,
                _ => errors.push(line.to_string()),
            }
        }
    }
    let mut torn = 0;
    for h in &read_hashes {
        if written.contains(h) {
            whole += 1;
        } else {
            torn += 1;
        }
    }

    // Every file left verifies and holds a payload some writer wrote whole;
    // no temp file or anything else is left behind.
    let ids: HashSet<String> = shared_ids().into_iter().collect();
    let mut files = 0;
    let mut bad_files = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        files += 1;
        let content = std::fs::read(e.path()).unwrap();
        match frame::decode(name.as_bytes(), &content) {
            Ok(p) if ids.contains(&name) && written.contains(&hex(p)) => {}
            _ => bad_files.push(name),
        }
    }
    println!(
        "concurrency: {WORKERS} processes x {OPS} ops on {IDS} ids in {:.2?}: \
         {reads} reads ({whole} whole payloads, {none} no-session, {torn} torn/foreign, \
         {} unverifiable files), \
         {writes} writes, {refreshes} refreshes, {destroys} destroys, {} errors; \
         {files} files left, {} not verifying",
        elapsed,
        unverified.len(),
        errors.len(),
        bad_files.len()
    );
    let _ = std::fs::remove_dir_all(&base);
    assert_eq!(
        reads + writes + refreshes + destroys + errors.len(),
        WORKERS * OPS
    );
    assert!(
        errors.is_empty(),
        "errors: {:?}",
        &errors[..errors.len().min(5)]
    );
    assert_eq!(torn, 0, "torn or foreign reads");
    assert!(
        unverified.is_empty(),
        "{} reads met a file that did not verify, e.g. {:?}",
        unverified.len(),
        unverified.first()
    );
    assert!(
        bad_files.is_empty(),
        "files that do not verify: {bad_files:?}"
    );
    // The run must actually have exercised both outcomes.
    assert!(whole > 100 && none > 10, "whole {whole}, none {none}");
}
