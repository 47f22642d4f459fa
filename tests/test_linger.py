"""Lingering close: a connection without keep-conn whose request body the
application did not read is half-closed after the answer, and the rest of
the request is read and discarded before it is closed, so the peer's writes
never fail (EPIPE, reset) and its answer is never lost. On every transport
and in every process mode, against a raw FastCGI peer that writes the whole
request before it reads anything (the most hostile ordering); bounded in
time and bytes (SMISK_LIMIT_LINGER_TIMEOUT_MS, SMISK_LIMIT_LINGER_MAX_BYTES)."""
import socket
import time
from pathlib import Path

import pytest

import fcgi_client as f
import harness

BODY = bytes(range(256)) * (10 * 4096)  # 10 MiB
FORM_APP = harness.ROOT / "tests" / "apps" / "form_limit.py"


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def connect(address):
    if isinstance(address, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        s = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(address)
    return s


def hostile_request(address, body=BODY, script="/hello"):
    """Writes BEGIN, PARAMS and the whole body (keep-conn off) before it
    reads a byte, then reads the answer and the server's EOF. Returns
    (stdout, app status); a failed write raises."""
    c = f.Conn.__new__(f.Conn)
    c.sock, c.buf = connect(address), b""
    try:
        params = f.default_params(script, method="POST", body_len=len(body))
        params["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
        c.sock.sendall(f.begin(1, keep_conn=False) + f.stream(f.PARAMS, 1, f.encode_params(params)))
        c.sock.sendall(f.stream(f.STDIN, 1, body))  # BrokenPipeError here is the bug
        r = c.read_response(1)
        assert c.sock.recv(1) == b"", "the server closes after the answer"
        return r.stdout, r.end[0]
    finally:
        c.sock.close()


def start(tmp, kind, program, forks=None, env=None):
    """program on a transport: unix, tcp4, tcp6, or fd0 (spawn-fcgi)."""
    argv = list(program) if isinstance(program, (list, tuple)) else [program]
    tail = [str(forks)] if forks is not None else []
    if kind == "fd0":
        sock = str(Path(tmp) / "fd0.sock")
        p = harness.Process(["spawn-fcgi", "-n", "-s", sock, "--", *argv, "-", *tail], env=env,
                            log=Path(tmp) / "spawn.log")
        harness.wait_until(lambda: harness.can_connect(sock) or not p.alive(), what="spawn-fcgi")
        assert p.alive(), p.log()
        p.address = sock
        return p
    if kind == "tcp6":
        port = harness.free_port()
        p = harness.Process([*argv, f"[::1]:{port}", *tail], env=env, log=Path(tmp) / "app.log")

        def up():
            try:
                connect(("::1", port)).close()
                return True
            except OSError:
                return not p.alive()
        harness.wait_until(up, what="app on [::1]")
        assert p.alive(), p.log()
        p.address = ("::1", port)
        return p
    address = str(Path(tmp) / "app.sock") if kind == "unix" else f"127.0.0.1:{harness.free_port()}"
    p = harness.Process([*argv, address, *tail], env=env, log=Path(tmp) / "app.log")
    target = address if kind == "unix" else ("127.0.0.1", int(address.rsplit(":", 1)[1]))
    harness.wait_until(lambda: harness.can_connect(target) or not p.alive(), what=f"app on {address}")
    assert p.alive(), p.log()
    p.address = target
    return p


TRANSPORTS = ["unix", "tcp4", "tcp6", "fd0"]
HELLO_ANSWER = b"Content-Type: text/plain\r\n\r\nHello World!\n"


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_c_hello_never_reads_and_loses_no_answer(tmp_path, kind):
    if kind == "tcp6" and not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    app = start(tmp_path, kind, harness.HELLO)
    try:
        for _ in range(20):
            assert hostile_request(app.address) == (HELLO_ANSWER, 0)
        assert app.alive()
    finally:
        app.stop()


@pytest.mark.parametrize("kind, forks", [("unix", 0), ("unix", 2), ("tcp4", 2), ("fd0", 0)])
def test_python_form_limit_answers_413_in_every_process_mode(tmp_path, kind, forks):
    """smisk.core's form limit stops reading at 16 KiB and answers 413; in
    prefork the workers inherit the lingering close."""
    app = start(tmp_path, kind, [harness.VENV_PYTHON, FORM_APP], forks=forks)
    try:
        for _ in range(20):
            stdout, status = hostile_request(app.address, script="/form")
            assert stdout.startswith(b"Status: 413") and stdout.endswith(b"</body></html>\r\n"), stdout[:200]
        assert app.alive()
    finally:
        app.stop()


def test_a_lingering_connection_does_not_hold_up_the_others(tmp_path):
    """One peer that answers slowly while the server lingers on its body
    does not delay other requests: lingering happens in the event loop."""
    app = harness.start_app(tmp_path)
    slow = connect(app.address)
    try:
        params = f.default_params("/hello", method="POST", body_len=1 << 20)
        slow.sendall(f.begin(1) + f.stream(f.PARAMS, 1, f.encode_params(params)) + f.record(f.STDIN, 1, b"x" * 1000))
        time.sleep(0.2)  # answered; now lingering on the rest of the 1 MiB
        for _ in range(50):
            started = time.monotonic()
            r = f.get(app.address, "/hello")
            assert r.stdout.endswith(b"Hello World!\n")
            assert time.monotonic() - started < 2
        # The slow peer still gets its whole answer once it sends the rest.
        for i in range(16):
            slow.sendall(f.record(f.STDIN, 1, b"y" * 65535))
        slow.sendall(f.record(f.STDIN, 1))
        c = f.Conn.__new__(f.Conn)
        c.sock, c.buf = slow, b""
        assert c.read_response(1).stdout.endswith(b"Hello World!\n")
        assert slow.recv(1) == b""
    finally:
        slow.close()
        app.stop()


def test_linger_timeout_closes_a_peer_that_never_ends_its_body(tmp_path):
    app = harness.start_app(tmp_path, env={"SMISK_TEST_LINGER_TIMEOUT_MS": "300"})
    try:
        s = connect(app.address)
        params = f.default_params("/hello", method="POST", body_len=10)
        s.sendall(f.begin(1) + f.stream(f.PARAMS, 1, f.encode_params(params)) + f.record(f.STDIN, 1, b"12345"))
        c = f.Conn.__new__(f.Conn)
        c.sock, c.buf = s, b""
        assert c.read_response(1).stdout.endswith(b"Hello World!\n")
        started = time.monotonic()
        s.settimeout(10)
        assert s.recv(1) == b""  # our side was shut at once (half-close)
        # ...and the connection is closed within the linger timeout (plus
        # the once-a-second sweep): a write then fails.
        deadline = time.monotonic() + 5
        closed = False
        while time.monotonic() < deadline and not closed:
            try:
                s.send(b"z" * 1000)
                time.sleep(0.05)
            except OSError:
                closed = True
        assert closed and time.monotonic() - started < 3
        s.close()
        assert f.get(app.address, "/hello").stdout.endswith(b"Hello World!\n")
    finally:
        app.stop()


def test_linger_max_bytes_bounds_what_is_discarded(tmp_path):
    """Past SMISK_LIMIT_LINGER_MAX_BYTES the connection is closed even if
    the peer keeps sending: a peer cannot keep the server reading."""
    app = harness.start_app(tmp_path, env={"SMISK_TEST_LINGER_MAX_BYTES": "1000000"})
    try:
        s = connect(app.address)
        params = f.default_params("/hello", method="POST", body_len=50 << 20)
        s.sendall(f.begin(1) + f.stream(f.PARAMS, 1, f.encode_params(params)))
        sent, failed = 0, None
        record = f.record(f.STDIN, 1, b"q" * 65535)
        while sent < 50 << 20:
            try:
                s.sendall(record)
            except OSError as e:
                failed = e
                break
            sent += len(record)
        assert failed is not None, "the server kept reading past its linger limit"
        assert sent < 8 << 20, sent
        s.close()
        assert f.get(app.address, "/hello").stdout.endswith(b"Hello World!\n")
    finally:
        app.stop()


def test_keep_conn_connection_skips_an_unread_body(tmp_path):
    """With keep-conn the unread body is skipped record by record and the
    next request on the connection is served."""
    app = harness.start_app(tmp_path)
    c = f.Conn(app.address, timeout=30)
    try:
        for i in range(1, 6):
            params = f.default_params("/hello", method="POST", body_len=len(BODY))
            c.send(f.begin(i, keep_conn=True) + f.stream(f.PARAMS, i, f.encode_params(params))
                   + f.stream(f.STDIN, i, BODY))
            assert c.read_response(i).stdout.endswith(b"Hello World!\n")
    finally:
        c.close()
        app.stop()

