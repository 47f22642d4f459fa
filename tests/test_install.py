"""scripts/install: a shared library with a soname, the static library, the
header and a pkg-config file that a C program builds against."""

import os
import subprocess

import harness


def test_install_and_build_with_pkg_config(tmp_path):
    prefix = tmp_path / "prefix"
    subprocess.run([harness.ROOT / "scripts" / "install", prefix], check=True, capture_output=True, timeout=600)
    lib = prefix / "lib"
    assert (lib / "libsmisk.so").resolve().name == "libsmisk.so.0.1.0"
    dyn = subprocess.run(["readelf", "-d", lib / "libsmisk.so.0.1.0"], capture_output=True, text=True, check=True)
    assert "Library soname: [libsmisk.so.0]" in dyn.stdout
    env = dict(os.environ, PKG_CONFIG_PATH=str(lib / "pkgconfig"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "smisk"], env=env, capture_output=True,
                           text=True, check=True).stdout.split()
    assert f"-I{prefix}/include" in flags and "-lsmisk" in flags
    exe = tmp_path / "hello-dyn"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", exe,
                    harness.ROOT / "examples" / "hello.c", *flags], check=True, timeout=120)
    needed = subprocess.run(["readelf", "-d", exe], capture_output=True, text=True, check=True).stdout
    assert "Shared library: [libsmisk.so.0]" in needed
    # The dynamically linked hello runs against the installed library.
    sock = str(tmp_path / "dyn.sock")
    p = harness.Process([exe, sock], env=dict(os.environ, LD_LIBRARY_PATH=str(lib)), log=tmp_path / "dyn.log")
    try:
        harness.wait_until(lambda: harness.can_connect(sock) or not p.alive(), what="hello-dyn socket")
        import fcgi_client
        assert fcgi_client.get(sock).stdout.endswith(b"Hello World!\n")
    finally:
        p.stop()
