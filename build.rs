//! Generates `include/smisk.h` from the Rust sources with cbindgen and gives the
//! shared library its soname. The header is committed: a build that changes it
//! shows up in `git diff` (and `scripts/check-header` fails CI on drift).

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=src");

    // A versioned soname so that programs linked against libsmisk.so.0 keep
    // working across compatible upgrades. `rustc-link-arg`, not
    // `rustc-cdylib-link-arg`: cargo passes the latter on to every cdylib
    // that depends on this crate (compat/libfcgi would be named
    // libsmisk.so.0); the former stays in this package (its test programs
    // get the soname too, which does nothing to an executable).
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets it");
    println!("cargo:rustc-link-arg=-Wl,-soname,libsmisk.so.{major}");

    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    let header = crate_dir.join("include").join("smisk.h");
    match cbindgen::generate_with_config(&crate_dir, config) {
        Ok(bindings) => {
            // write_to_file only rewrites when the content changed, so an
            // unchanged header keeps its mtime.
            bindings.write_to_file(&header);
        }
        Err(err) => {
            // A parse error in the sources is reported by rustc with a better
            // message; do not hide it behind a build-script failure.
            println!("cargo:warning=cbindgen could not generate smisk.h: {err}");
        }
    }
}
