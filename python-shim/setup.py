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


def source_revision():
    """The source revision for smisk.core.__build__: $SMISK_BUILD_REVISION, else
    the git commit of ROOT (with "-dirty" when the tree has changes), else None.
    Only [0-9A-Za-z._+-] is kept, since it becomes a C string literal."""
    revision = os.environ.get("SMISK_BUILD_REVISION")
    git = shutil.which("git")
    if revision is None and git and (ROOT / ".git").exists():
        def run(*args):
            return subprocess.run([git, "-C", str(ROOT), *args], capture_output=True, text=True, timeout=30)
        head = run("rev-parse", "--short=12", "HEAD")
        if head.returncode == 0:
            revision = head.stdout.strip()
            if run("diff", "--quiet", "HEAD", "--", ".").returncode == 1:
                revision += "-dirty"
    if not revision:
        return None
    return "".join(c for c in revision if c.isascii() and (c.isalnum() or c in "._+-")) or None


class BuildWithCargo(build_ext):
    def run(self):
        if not (ROOT / "Cargo.toml").exists():
            raise RuntimeError(f"smisk sources not found at {ROOT} (set SMISK_ROOT)")
        subprocess.run([cargo(), "build", "--release", "--lib"], cwd=ROOT, check=True)
        lib = ROOT / "target" / "release" / "libsmisk.a"
        if not lib.exists():
            raise RuntimeError(f"cargo did not produce {lib}")
        revision = source_revision()
        for ext in self.extensions:
            ext.extra_objects = [str(lib)]
            # Relink when only the Rust library changed (setuptools compares
            # the sources and depends with the built extension, not the
            # extra objects).
            ext.depends = [*ext.depends, str(lib)]
            ext.include_dirs.append(str(ROOT / "include"))
            if revision:
                ext.define_macros.append(("SMISK_SHIM_REVISION", f'"{revision}"'))
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
