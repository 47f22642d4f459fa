//! libFuzzer target: the invariants of `smisk::codec::fuzzing::check_cookie`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    smisk::codec::fuzzing::check_cookie(data);
});
