"""The FastCGI responder behind a real nginx on 127.0.0.1 (and under
spawn-fcgi): the paths a web application depends on."""

import http.client
import os
import socket
import subprocess
import threading
import zlib

import pytest

import harness


def echo_line(data):
    return f"len={len(data)} crc={zlib.crc32(data):08x}\n".encode()


def get(nginx, path, method="GET", body=None, headers=None, conn=None):
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        if own:
            conn.close()


def stats(nginx):
    _, _, body = get(nginx, "/stats")
    return dict(kv.split("=") for kv in body.decode().split())


@pytest.mark.parametrize("keep_conn", [True, False])
def test_get_with_query_reaches_the_app_as_params(app, nginx_factory, keep_conn):
    nginx = nginx_factory(app.address, keep_conn=keep_conn)
    status, headers, body = get(nginx, "/params?a=1&b=%C3%A5+x")
    assert status == 200
    assert headers["Content-Type"] == "text/plain"
    lines = body.decode().splitlines()
    params = dict(line.split("=", 1) for line in lines)
    assert params["REQUEST_METHOD"] == "GET"
    assert params["QUERY_STRING"] == "a=1&b=%C3%A5+x"
    assert params["SCRIPT_NAME"] == "/params"
    assert params["SERVER_SOFTWARE"].startswith("nginx/")


@pytest.mark.parametrize("keep_conn", [True, False])
def test_post_50_mib_body_is_streamed_through(app, nginx_factory, keep_conn):
    nginx = nginx_factory(app.address, keep_conn=keep_conn)
    body = os.urandom(1 << 20) * 50
    status, _, out = get(nginx, "/echo", method="POST", body=body,
                         headers={"Content-Type": "application/octet-stream"})
    assert (status, out) == (200, echo_line(body))
    # Streamed, not accumulated: the app's peak RSS stays far below 50 MiB.
    assert int(stats(nginx)["rss_kb"]) < 20 * 1024
    # A small body mirrored back byte for byte.
    small = os.urandom(100_000)
    assert get(nginx, "/mirror", method="POST", body=small)[2] == small


def test_readline_sees_every_line(app, nginx_factory):
    nginx = nginx_factory(app.address)
    body = b"".join(b"line %d\n" % i for i in range(5000)) + b"tail without newline"
    status, _, out = get(nginx, "/echo?lines", method="POST", body=body)
    assert status == 200
    assert out == echo_line(body)


@pytest.mark.parametrize("keep_conn", [True, False])
def test_many_requests_in_a_row(app, nginx_factory, keep_conn):
    nginx = nginx_factory(app.address, keep_conn=keep_conn)
    conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=30)
    for i in range(2000):
        status, _, body = get(nginx, "/hello", conn=conn)
        assert (status, body) == (200, b"Hello World!\n"), i
    conn.close()
    s = stats(nginx)
    assert int(s["requests"]) >= 2000
    if keep_conn:
        # nginx's upstream keepalive pool (8) is reused: 2000 requests did not
        # leave 2000 connections open, nor close the pooled ones.
        assert 1 <= int(s["conns"]) <= 9
    else:
        assert int(s["conns"]) == 1  # only the connection of this very request


def test_concurrent_clients_through_keepalive_pool(app, nginx_factory):
    nginx = nginx_factory(app.address, keep_conn=True, pool=32)
    errors = []

    def client(n):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=30)
            for _ in range(n):
                status, _, body = get(nginx, "/hello", conn=conn)
                if (status, body) != (200, b"Hello World!\n"):
                    errors.append((status, body))
            conn.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(100,)) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    assert int(stats(nginx)["requests"]) >= 3200


def test_client_disconnecting_mid_response_does_not_hurt_the_app(app, nginx_factory):
    nginx = nginx_factory(app.address, keep_conn=True)
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", nginx.port), timeout=10)
        s.sendall(b"GET /big?200000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        got = 0
        while got < 1 << 20:
            got += len(s.recv(65536))
        s.close()
    # The app notices the hang-up on write (nginx closes the upstream
    # connection) and goes on serving.
    harness.wait_until(lambda: int(stats(nginx)["aborted"]) >= 3, timeout=20, what="aborted writes counted")
    assert get(nginx, "/hello")[2] == b"Hello World!\n"
    assert app.alive()


def test_big_response_arrives_intact(app, nginx_factory):
    nginx = nginx_factory(app.address)
    n = 5_000_000
    status, _, body = get(nginx, f"/big?{n}")
    assert status == 200 and len(body) == n
    assert body == bytes(i % 251 for i in range(n))


def test_status_stderr_and_header_validation(app, nginx_factory):
    nginx = nginx_factory(app.address)
    assert get(nginx, "/status?404")[0] == 404
    assert get(nginx, "/status?201")[0] == 201
    status, _, body = get(nginx, "/stderr")
    assert (status, body) == (200, b"ok\n")
    harness.wait_until(lambda: "a line for the error log" in nginx.error_log(), what="stderr in nginx log")
    status, headers, body = get(nginx, "/badheader")
    assert status == 200 and "Injected" not in headers
    assert body.startswith(b"status=2 "), body  # SMISK_ERR_INVALID
    status, _, body = get(nginx, "/nothing")
    assert (status, body) == (200, b"")


def test_hello_example_over_tcp(app_factory, nginx_factory):
    port = harness.free_port()
    hello = app_factory(program=harness.HELLO, address=f"127.0.0.1:{port}")
    nginx = nginx_factory(hello.address)
    assert get(nginx, "/anything")[2] == b"Hello World!\n"


def test_hello_under_spawn_fcgi_on_fd0(tmp_path, nginx_factory):
    sock = str(tmp_path / "spawned.sock")
    # -n: spawn-fcgi execs the program in the foreground with the socket on fd 0
    p = harness.Process(["spawn-fcgi", "-n", "-s", sock, "--", harness.HELLO, "-"], log=tmp_path / "spawn.log")
    try:
        harness.wait_until(lambda: harness.can_connect(sock) or not p.alive(), what="spawn-fcgi socket")
        assert p.alive(), p.log()
        nginx = nginx_factory(sock, keep_conn=True)
        for _ in range(50):
            assert get(nginx, "/")[2] == b"Hello World!\n"
        nginx_off = nginx_factory(sock, keep_conn=False)
        assert get(nginx_off, "/")[2] == b"Hello World!\n"
    finally:
        assert p.stop() in (-15, 0, 143), p.log()


def test_hello_refuses_a_bad_address_with_a_message(tmp_path):
    out = subprocess.run([str(harness.HELLO), "not-an-address"], capture_output=True, timeout=10)
    assert out.returncode == 1
    assert b"cannot bind not-an-address" in out.stderr
    regular = tmp_path / "file"
    regular.write_text("keep me")
    out = subprocess.run([str(harness.HELLO), str(regular)], capture_output=True, timeout=10)
    assert out.returncode == 1 and b"not a socket" in out.stderr
    assert regular.read_text() == "keep me"


def test_ctypes_example_serves_through_nginx(tmp_path, nginx_factory):
    """The C API used through Python's ctypes only (FFI-friendliness)."""
    import sys

    sock = str(tmp_path / "ctypes.sock")
    p = harness.Process([sys.executable, harness.ROOT / "examples" / "ctypes_hello.py", sock],
                        log=tmp_path / "ctypes.log")
    try:
        harness.wait_until(lambda: harness.can_connect(sock) or not p.alive(), what="ctypes example socket")
        assert p.alive(), p.log()
        nginx = nginx_factory(sock)
        for _ in range(20):
            assert get(nginx, "/?ctypes")[2] == b"Hello ctypes! (from Python via ctypes)\n"
        assert get(nginx, "/")[2] == b"Hello World! (from Python via ctypes)\n"
    finally:
        p.stop()
