"""Builds the smisk.core._core extension against libsmisk.a.

The Rust library is built first with `cargo build --release` in the
repository root (the parent of this directory, or $SMISK_ROOT), then the
extension is compiled and linked statically against target/release/libsmisk.a
so the installed package needs no shared libsmisk at run time.
"""
import os
import shutil
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("SMISK_ROOT", HERE.parent)).resolve()


def cargo():
    found = shutil.which("cargo")
    if found:
        return found
    home = Path.home() / ".cargo" / "bin" / "cargo"
    if home.exists():
        return str(home)
    raise RuntimeError("cargo not found: install Rust (https://rustup.rs) to build smisk")


class BuildWithCargo(build_ext):
    def run(self):
        if not (ROOT / "Cargo.toml").exists():
            raise RuntimeError(f"smisk sources not found at {ROOT} (set SMISK_ROOT)")
        subprocess.run([cargo(), "build", "--release", "--lib"], cwd=ROOT, check=True)
        lib = ROOT / "target" / "release" / "libsmisk.a"
        if not lib.exists():
            raise RuntimeError(f"cargo did not produce {lib}")
        for ext in self.extensions:
            ext.extra_objects = [str(lib)]
            # Relink when only the Rust library changed (setuptools compares
            # the sources and depends with the built extension, not the
            # extra objects).
            ext.depends = [*ext.depends, str(lib)]
            ext.include_dirs.append(str(ROOT / "include"))
        super().run()


setup(
    ext_modules=[
        Extension(
            "smisk.core._core",
            sources=sorted(str(p.relative_to(HERE)) for p in (HERE / "src").glob("*.c")),
            depends=["src/shim.h"],
            extra_compile_args=[
                "-std=c99",
                "-D_GNU_SOURCE",
                "-fvisibility=hidden",
                "-Wall",
                "-Wextra",
                "-Werror",
            ],
            extra_link_args=["-Wl,--gc-sections", "-static-libgcc", "-lpthread", "-ldl", "-lm"],
        )
    ],
    cmdclass={"build_ext": BuildWithCargo},
)
