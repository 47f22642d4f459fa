"""The two examples Smisk 1.x users met first, verbatim (examples/smisk10_*.py),
behind a real nginx in its default FastCGI set-up: fastcgi_keep_conn off and a
unix socket in a temp dir."""
import shutil

import pytest

import harness

CORE_EXAMPLE = harness.ROOT / "examples" / "smisk10_hello.py"
WSGI_EXAMPLE = harness.ROOT / "examples" / "smisk10_wsgi_hello.py"
REPEATS = 5  # keep_conn off: a new connection per request


def spawn_fcgi(tmp_path, program, *args):
    """The program under spawn-fcgi with a unix socket on fd 0, as users ran it."""
    sock = str(tmp_path / "app.sock")
    p = harness.Process(["spawn-fcgi", "-n", "-s", sock, "--", harness.VENV_PYTHON, program, *args],
                        log=tmp_path / "app.log")
    harness.wait_until(lambda: harness.can_connect(sock) or not p.alive(), what=f"{program.name} socket")
    assert p.alive(), p.log()
    return p, sock


@pytest.mark.skipif(shutil.which("spawn-fcgi") is None, reason="spawn-fcgi not installed")
def test_announcement_hello_from_smisk_import_application(tmp_path, nginx_factory):
    """`from smisk import Application` and a service() writing a str."""
    assert "from smisk import Application" in CORE_EXAMPLE.read_text()
    p, sock = spawn_fcgi(tmp_path, CORE_EXAMPLE)
    try:
        nginx = nginx_factory(sock, keep_conn=False)
        for _ in range(REPEATS):
            status, _, body = harness.http_fetch(nginx.port, "/")
            assert (status, body) == (200, b"Hello World!"), p.log() + nginx.error_log()
        # It never reads a body: a POST must still get its whole answer
        # (a race without the lingering close: 20 repetitions).
        for _ in range(20):
            status, _, body = harness.http_fetch(nginx.port, "/", method="POST", body=b"x" * (1 << 20))
            assert (status, body) == (200, b"Hello World!"), p.log() + nginx.error_log()
    finally:
        p.stop()


def check_wsgi_str_body(p, nginx):
    for _ in range(REPEATS):
        status, _, body = harness.http_fetch(nginx.port, "/")
        assert status == 500, (status, body)
        assert b"yielded str, not bytes" in body and b"Hello, World!</" not in body
    log = p.log()
    assert "yielded str, not bytes (PEP 3333)" in log, log
    assert "return [b'Hello, World!'] or encode the str" in log, log
    # The traceback went to the web server's error log (FastCGI stderr).
    assert "TypeError" in nginx.error_log()


@pytest.mark.skipif(shutil.which("spawn-fcgi") is None, reason="spawn-fcgi not installed")
def test_readme_wsgi_hello_under_spawn_fcgi_is_a_500_that_says_what_to_write(tmp_path, nginx_factory):
    """`from smisk.wsgi import *` and main(hello_app) returning ["Hello, World!"]:
    PEP 3333 forbids str bodies, so 500, with a log line naming the fix."""
    p, sock = spawn_fcgi(tmp_path, WSGI_EXAMPLE)
    try:
        check_wsgi_str_body(p, nginx_factory(sock, keep_conn=False))
    finally:
        p.stop()


def test_readme_wsgi_hello_with_bind_on_the_command_line(tmp_path, nginx_factory):
    """main(hello_app) reads --bind from the script's command line."""
    p = harness.start_app(tmp_path, program=[harness.VENV_PYTHON, WSGI_EXAMPLE, "--bind"])
    try:
        check_wsgi_str_body(p, nginx_factory(p.address, keep_conn=False))
    finally:
        p.stop()


def test_wsgi_main_serves_a_bytes_application(tmp_path, nginx_factory):
    """The same script with the body as bytes answers 200."""
    fixed = tmp_path / "fixed_hello.py"
    fixed.write_text(WSGI_EXAMPLE.read_text().replace('["Hello, World!"]', '[b"Hello, World!"]'))
    p = harness.start_app(tmp_path, program=[harness.VENV_PYTHON, fixed, "--bind"])
    try:
        nginx = nginx_factory(p.address, keep_conn=False)
        for _ in range(REPEATS):
            status, headers, body = harness.http_fetch(nginx.port, "/")
            assert (status, body) == (200, b"Hello, World!")
            assert harness.header(headers, "Content-Type") == "text/plain"
    finally:
        p.stop()
