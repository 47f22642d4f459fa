//! Fuzzes an SCGI request through the request assembler (sans I/O): the
//! header netstring, the body it announces, and what a closing connection
//! discards, with the input cut into reads of every size. Invariants are
//! checked by `smisk::fcgi::fuzzing::scgi`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    smisk::fcgi::fuzzing::scgi(data);
});
