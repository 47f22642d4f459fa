//! Fuzzes url-encoded form parsing through the request-level entry point
//! (`smisk::form::parse`): a defined outcome for every body, the field cap
//! and the size limit respected, output never larger than the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smisk::form::{parse, Limits};

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let (ctl, body) = data.split_at(1);
    let limits = Limits {
        max_formdata_size: 1 + i64::from(ctl[0]) * 64,
        max_fields: 1 + usize::from(ctl[0] % 32),
        ..Limits::default()
    };
    let mut src = body;
    let known = if ctl[0] & 1 == 0 {
        Some(body.len() as u64)
    } else {
        None
    };
    match parse(
        Some(b"application/x-www-form-urlencoded"),
        known,
        &mut src,
        &limits,
    ) {
        Ok(form) => {
            assert!(body.len() as i64 <= limits.max_formdata_size);
            assert!(form.fields.len() <= limits.max_fields);
            let out: usize = form
                .fields
                .iter()
                .map(|f| f.name.len() + f.value.as_ref().map_or(0, Vec::len))
                .sum();
            assert!(out <= body.len());
            assert!(form.files.is_empty());
        }
        Err(e) => assert!(e.is_too_large(), "unexpected error {e:?}"),
    }
});
