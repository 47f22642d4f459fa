//! Fuzzes the FastCGI request assembler (sans I/O) through all its stages:
//! records to a request, its body, and what a closing connection discards,
//! with the input cut into reads of every size. Invariants are checked by
//! `smisk::fcgi::fuzzing::assembler`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    smisk::fcgi::fuzzing::assembler(data);
});
