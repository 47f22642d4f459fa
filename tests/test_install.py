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
    frontend = subprocess.run([prefix / "bin" / "smisk-frontend", "--version"], capture_output=True, text=True)
    assert frontend.stdout == "smisk-frontend 0.1.0\n", frontend
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


def test_pip_install_shim_into_a_fresh_virtualenv(tmp_path):
    """`pip install ./python-shim` into a new virtualenv (not the test venv)
    gives a working smisk.core from any directory, with its stubs, serving the
    Python hello."""
    import sys

    venv = tmp_path / "venv"
    # The interpreter behind the test venv, so the new venv is not nested in it.
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", venv], check=True, timeout=120)
    py = venv / "bin" / "python"
    out = subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                          harness.ROOT / "python-shim"], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = ("import smisk.core, smisk.core.xml, pathlib; "
             "print(smisk.core.URL.decode('a%20b'), smisk.core.xml.escape('<'), "
             "pathlib.Path(smisk.core.__file__).parent.joinpath('__init__.pyi').is_file())")
    got = subprocess.run([py, "-c", probe], cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert got.stdout.split() == ["a", "b", "&lt;", "True"], got.stdout + got.stderr
    # The legacy layers: importable without the extras (defusedxml comes as a
    # dependency, PyYAML only with smisk[yaml]); the yaml extra enables YAML.
    legacy = ("import smisk, smisk.config, smisk.serialization, smisk.inflection, smisk.util, "
              "smisk.serialization.all as a, importlib.metadata as m; "
              "print(a.yaml_serial.yaml is None, a.xmlrpc.XMLRPCSerializer.directions(), "
              "'yaml' in (m.metadata('smisk').get_all('Provides-Extra') or []))")
    got = subprocess.run([py, "-c", legacy], cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert got.stdout.split() == ["True", "['read',", "'write']", "True"], got.stdout + got.stderr
    # smisk.mvc and the runner import without Mako (templates off); the
    # templates extra exists.
    mvc = ("import smisk.mvc, smisk.util.main, smisk.util.httpd, importlib.metadata as m; "
           "print(smisk.mvc.Templates.is_useable, "
           "'templates' in (m.metadata('smisk').get_all('Provides-Extra') or []))")
    got = subprocess.run([py, "-c", mvc], cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert got.stdout.split() == ["False", "True"], got.stdout + got.stderr
    out = subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "pyyaml>=6"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    got = subprocess.run([py, "-c", legacy], cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert got.stdout.split()[0] == "False", got.stdout + got.stderr
    sock = str(tmp_path / "py.sock")
    p = harness.Process([py, harness.ROOT / "examples" / "hello.py", sock], log=tmp_path / "py.log")
    try:
        harness.wait_until(lambda: harness.can_connect(sock) or not p.alive(), what="hello.py socket")
        import fcgi_client
        assert fcgi_client.get(sock).stdout.endswith(b"Hello World!\n"), p.log()
    finally:
        p.stop()
    # setuptools writes its metadata next to the sources (git-ignored); tidy
    # up as scripts/install-deps does.
    import shutil
    for leftover in [harness.ROOT / "python-shim" / "build", *(harness.ROOT / "python-shim").glob("*.egg-info")]:
        shutil.rmtree(leftover, ignore_errors=True)
