"""scripts/install-libfcgi: the drop-in beside the system's libfcgi (which
stays untouched), its headers and fcgi.pc, and a libfcgi program built with
pkg-config that runs on it."""

import os
import subprocess

import fcgi_client
import harness
import libfcgi_helpers as lf


def test_install_beside_the_system_libfcgi_and_build_with_pkg_config(tmp_path):
    before = lf.STOCK_SO.resolve().read_bytes()
    prefix = tmp_path / "prefix"
    subprocess.run([harness.ROOT / "scripts" / "install-libfcgi", prefix], check=True, capture_output=True,
                   timeout=900)
    assert lf.STOCK_SO.resolve().read_bytes() == before
    libdir = prefix / "lib" / "smisk-libfcgi"
    assert (libdir / "libfcgi.so.0").resolve().name == "libfcgi.so.0.0.0"
    dyn = subprocess.run(["readelf", "-d", libdir / "libfcgi.so.0.0.0"], capture_output=True, text=True,
                         check=True).stdout
    assert "Library soname: [libfcgi.so.0]" in dyn
    for h in ("fcgiapp.h", "fcgi_stdio.h", "fcgi_config.h", "fastcgi.h", "fcgios.h"):
        assert (prefix / "include" / "smisk-libfcgi" / h).is_file()
    env = dict(os.environ, PKG_CONFIG_PATH=str(libdir / "pkgconfig"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "fcgi"], env=env, capture_output=True, text=True,
                           check=True).stdout.split()
    assert f"-I{prefix}/include/smisk-libfcgi" in flags and "-lfcgi" in flags
    exe = tmp_path / "hello"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", exe,
                    harness.ROOT / "bench" / "libfcgi_hello.c", *flags], check=True, timeout=120)
    # No LD_LIBRARY_PATH: the rpath from fcgi.pc finds the drop-in.
    sock = str(tmp_path / "hello.sock")
    p = harness.Process([exe, sock], env=lf.env_for("stock"), log=tmp_path / "hello.log")
    try:
        harness.wait_until(lambda: harness.can_connect(sock) or not p.alive(), what="hello socket")
        assert fcgi_client.get(sock).stdout.endswith(b"Hello World!\n")
        maps = open(f"/proc/{p.pid}/maps").read()
        assert str(libdir / "libfcgi.so.0.0.0") in maps
    finally:
        p.stop()
