"""SCGI beside FastCGI: the same applications on `scgi:` sockets behind
nginx (scgi_pass, unix and TCP), lighttpd (mod_scgi) and Apache
(mod_proxy_scgi); GET with a query, a 50 MiB POST streamed, an answer
before the body was read, a client gone mid-answer, the C hello, the Python
hello and a Flask app; hostile netstrings over a raw socket; fd 0 with
--protocol; prefork; and one Flask app answering identically as CGI,
FastCGI and SCGI."""
import hashlib
import http.client
import json
import os
import socket
import sys
import time
import zlib
from pathlib import Path

import pytest

import harness
from wsgi_helpers import APPS, SMISK_WSGI

FRONTS = ["nginx-unix", "nginx-tcp", "lighttpd", "apache"]
BIG = bytes(range(256)) * (50 * 4096)  # 50 MiB


def start_wsgi(tmp, address, *args, name="wsgi", env=None):
    argv = [SMISK_WSGI, "protocols:app", "--chdir", APPS, *args]
    if address is not None:
        argv += ["--bind", address]
    p = harness.Process(argv, env=dict(os.environ, **(env or {})), log=Path(tmp) / f"{name}.log")
    return p


def target(address):
    bare = address.split("scgi:", 1)[-1]
    return bare if "/" in bare else ("127.0.0.1", int(bare.rsplit(":", 1)[1]))


def started(p, address):
    t = target(address)
    harness.wait_until(lambda: harness.can_connect(t) or not p.alive(), timeout=30, what=f"app on {address}")
    assert p.alive(), p.log()
    p.address = t
    return p


class Apps:
    """testapp, the C hello, the Python hello and the Flask app on SCGI
    sockets of one transport."""

    def __init__(self, tmp, kind):
        self.procs = []
        d = Path(tmp) / kind
        d.mkdir()

        def address(name):
            return f"scgi:{d / name}.sock" if kind == "unix" else f"scgi:127.0.0.1:{harness.free_port()}"
        a = address("testapp")
        self.testapp = self.add(started(harness.Process([harness.TESTAPP, a], log=d / "testapp.log"), a))
        a = address("c")
        self.c = self.add(started(harness.Process([harness.HELLO, a], log=d / "c.log"), a))
        a = address("py")
        self.py = self.add(started(harness.Process([*harness.PY_HELLO, a], log=d / "py.log"), a))
        a = address("wsgi")
        self.wsgi = self.add(started(start_wsgi(d, a, "--forks", "2"), a))

    def add(self, p):
        self.procs.append(p)
        return p

    def routes(self):
        # Most specific first (lighttpd takes the first prefix that matches).
        return {"/c/": self.c.address, "/py/": self.py.address, "/w/": self.wsgi.address,
                "/": self.testapp.address}

    def stop(self):
        for p in self.procs:
            p.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scgi")
    unix, tcp = Apps(tmp, "unix"), Apps(tmp, "tcp")
    fronts = {
        "nginx-unix": harness.Nginx(tmp, unix.routes(), protocol="scgi"),
        "nginx-tcp": harness.Nginx(tmp, tcp.routes(), protocol="scgi"),
        "lighttpd": harness.Lighttpd(tmp, unix.routes(), protocol="scgi"),
        "apache": harness.Apache(tmp, tcp.routes(), protocol="scgi"),
    }
    yield fronts, unix, tcp
    for f in fronts.values():
        f.stop()
    unix.stop()
    tcp.stop()


def fetch(front, path, method="GET", body=None, headers=None):
    return harness.http_fetch(front.port, path, method, body, headers, timeout=60)


@pytest.mark.parametrize("front", FRONTS)
def test_get_with_a_query(stack, front):
    f = stack[0][front]
    status, _, body = fetch(f, "/params?a=1&b=%20x")
    assert status == 200, f.error_log()[-2000:]
    params = dict(line.split("=", 1) for line in body.decode().splitlines() if "=" in line)
    assert params["QUERY_STRING"] == "a=1&b=%20x"
    assert params["REQUEST_METHOD"] == "GET"
    assert params["SCGI"] == "1" and params["CONTENT_LENGTH"] in ("", "0")


@pytest.mark.parametrize("front", FRONTS)
def test_a_50_mib_post_is_streamed(stack, front):
    f = stack[0][front]
    status, _, body = fetch(f, "/echo", "POST", BIG, {"Content-Type": "application/octet-stream"})
    assert (status, body) == (200, b"len=%d crc=%08x\n" % (len(BIG), zlib.crc32(BIG))), f.error_log()[-2000:]
    status, _, body = fetch(f, "/w/read-exact", "POST", BIG, {"Content-Type": "application/octet-stream"})
    assert (status, body) == (200, f"{len(BIG)} {hashlib.sha1(BIG).hexdigest()}\n".encode())


@pytest.mark.parametrize("front", FRONTS)
def test_answers_before_the_body_is_read_are_never_lost(stack, front):
    """The C hello and a 403 never read the body: the lingering close reads
    it for them (a race without it: 20 repetitions)."""
    f = stack[0][front]
    body = b"u" * (10 << 20)
    for i in range(20):
        path = "/c/" if i % 2 == 0 else "/w/forbidden"
        want = (200, b"Hello World!\n") if i % 2 == 0 else (403, b"forbidden\n")
        status, _, got = fetch(f, path, "POST", body, {"Content-Type": "application/octet-stream"})
        assert (status, got) == want, f.error_log()[-2000:]


@pytest.mark.parametrize("front", FRONTS)
def test_a_client_gone_mid_answer(stack, front):
    f = stack[0][front]
    conn = http.client.HTTPConnection("127.0.0.1", f.port, timeout=30)
    conn.request("GET", "/big?300000000")
    resp = conn.getresponse()
    assert resp.status == 200
    resp.read(1 << 20)
    conn.close()  # 299 MB unread: the web server drops the upstream
    time.sleep(0.2)
    for _ in range(3):
        assert fetch(f, "/hello")[2] == b"Hello World!\n"
    _, unix, tcp = stack
    assert unix.testapp.alive() and tcp.testapp.alive()


@pytest.mark.parametrize("front", FRONTS)
def test_the_c_hello_the_python_hello_and_flask(stack, front):
    f = stack[0][front]
    for _ in range(5):
        assert fetch(f, "/c/")[::2] == (200, b"Hello World!\n")
        assert fetch(f, "/py/")[::2] == (200, b"Hello World!\n")
        status, headers, body = fetch(f, "/w/hello")
        assert (status, body, harness.header(headers, "X-Test")) == (200, b"hello from flask\n", "1")
        status, _, body = fetch(f, "/w/info?x=1&x=2", "POST", b"a=b&c=d",
                                {"Content-Type": "application/x-www-form-urlencoded"})
        got = json.loads(body)
        assert (status, got["args"], got["form"], got["length"]) == (200, {"x": ["1", "2"]},
                                                                     {"a": ["b"], "c": ["d"]}, 7), got


# ---- hostile peers over a raw socket ------------------------------------------------


def netstring(content):
    return b"%d:" % len(content) + content + b","


def scgi_header(content_length, extra=b""):
    return netstring(b"CONTENT_LENGTH\0%d\0SCGI\x001\0SCRIPT_NAME\0/hello\0" % content_length + extra)


def raw(address, data, shut=True):
    s = socket.socket(socket.AF_UNIX if isinstance(address, str) else socket.AF_INET)
    s.settimeout(10)
    s.connect(address)
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        for _ in range(10000):
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
        raise AssertionError("no end of answer")
    finally:
        s.close()


@pytest.mark.parametrize("data, status", [
    (b"x5:", b"400"),
    (b"-5:abcde,", b"400"),
    (b"05:abcde,", b"400"),
    (b"12345678901:", b"431"),
    (b"99999999:", b"431"),  # decided from the length alone
    (netstring(b"SCGI\x001\0CONTENT_LENGTH\x000\0"), b"400"),  # CONTENT_LENGTH not first
    (netstring(b"CONTENT_LENGTH\x000\0"), b"400"),  # no SCGI=1
    (netstring(b"CONTENT_LENGTH\0-3\0SCGI\x001\0"), b"400"),  # negative
    (netstring(b"CONTENT_LENGTH\0abc\0SCGI\x001\0")[:-1] + b";", b"400"),  # no ','
])
def test_malformed_netstrings_get_defined_answers(stack, data, status):
    _, unix, _ = stack
    out = raw(unix.testapp.address, data)
    assert out.startswith(b"Status: " + status), out[:200]
    assert raw(unix.testapp.address, scgi_header(0)) .endswith(b"Hello World!\n")
    assert unix.testapp.alive()


def test_a_body_shorter_than_announced_ends_that_request_only(stack):
    _, unix, _ = stack
    before = raw(unix.testapp.address, netstring(b"CONTENT_LENGTH\x000\0SCGI\x001\0SCRIPT_NAME\0/stats\0"))
    out = raw(unix.testapp.address, netstring(b"CONTENT_LENGTH\x00100\0SCGI\x001\0SCRIPT_NAME\0/echo\0") + b"short")
    assert out == b""  # the app's read failed (aborted): nothing to say
    after = raw(unix.testapp.address, netstring(b"CONTENT_LENGTH\x000\0SCGI\x001\0SCRIPT_NAME\0/stats\0"))

    def aborted(stats):
        return int(stats.split(b"aborted=")[1].split()[0])
    assert aborted(after) == aborted(before) + 1


def test_a_peer_that_writes_everything_first_gets_the_whole_answer(stack):
    """10 MiB written before a byte is read: no EPIPE, the whole answer."""
    _, unix, tcp = stack
    body = b"z" * (10 << 20)
    for app in (unix.c, tcp.c):
        for _ in range(5):
            out = raw(app.address, scgi_header(len(body)) + body, shut=False)
            assert out == b"Content-Type: text/plain\r\n\r\nHello World!\n"


# ---- fd 0, prefork, and the same app as CGI, FastCGI and SCGI -------------------------


def test_fd0_with_protocol_scgi_under_spawn_fcgi(tmp_path, nginx_factory):
    sock = str(tmp_path / "fd0.sock")
    p = harness.Process(["spawn-fcgi", "-n", "-s", sock, "--", SMISK_WSGI, "protocols:app", "--chdir", APPS,
                         "--protocol", "scgi"], log=tmp_path / "spawn.log")
    try:
        harness.wait_until(lambda: harness.can_connect(sock) or not p.alive(), what="spawn-fcgi")
        nginx = nginx_factory({"/w/": sock}, protocol="scgi")
        for _ in range(5):
            assert fetch(nginx, "/w/hello")[::2] == (200, b"hello from flask\n"), p.log()
    finally:
        p.stop()


def test_prefork_workers_serve_scgi(tmp_path, nginx_factory):
    sock = str(tmp_path / "pre.sock")
    p = harness.Process([sys.executable, harness.PYAPP, f"scgi:{sock}", "2"], log=tmp_path / "pre.log",
                        env=dict(os.environ, PYAPP_SESSION_DIR=str(tmp_path / "s")))
    try:
        harness.wait_until(lambda: harness.can_connect(sock) or not p.alive(), what="pyapp")
        nginx = nginx_factory({"/": sock}, protocol="scgi")
        pids = {fetch(nginx, "/pid")[2] for _ in range(40)}
        assert len(pids) == 2, pids
    finally:
        assert p.stop() == 0


CGI_CONF = """
server.document-root = "{www}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{tmp}/cgi-error.log"
server.modules = ("mod_cgi")
cgi.assign = (".cgi" => "")
"""


def comparable(answer):
    status, headers, body = answer
    keep = {"content-type", "x-test"}
    return status, sorted((k.lower(), v) for k, v in headers if k.lower() in keep), body


def test_the_same_flask_app_answers_identically_as_cgi_fastcgi_and_scgi(tmp_path):
    """Status, the application's headers and the body, behind lighttpd
    (which speaks all three) and nginx (FastCGI and SCGI)."""
    procs = []
    try:
        fcgi_sock, scgi_sock = str(tmp_path / "f.sock"), str(tmp_path / "s.sock")
        for address in (fcgi_sock, f"scgi:{scgi_sock}"):
            procs.append(started(start_wsgi(tmp_path, address, name=address[-6:-5]), address))
        www = tmp_path / "www"
        www.mkdir()
        script = www / "app.cgi"
        script.write_text(f"#!/bin/sh\nexec {SMISK_WSGI} protocols:app --chdir {APPS}\n")
        script.chmod(0o755)
        port = harness.free_port()
        (tmp_path / "cgi.conf").write_text(CGI_CONF.format(www=www, port=port, tmp=tmp_path))
        cgi = harness.Process([harness.shutil.which("lighttpd") or "/usr/sbin/lighttpd", "-D", "-f",
                               tmp_path / "cgi.conf"], log=tmp_path / "cgi.out")
        procs.append(cgi)
        harness.wait_until(lambda: harness.can_connect(("127.0.0.1", port)) or not cgi.alive(), what="lighttpd")
        cgi.port = port
        fronts = {
            "cgi": (cgi, "/app.cgi"),
            "lighttpd fastcgi": (harness.Lighttpd(tmp_path, {"/w/": fcgi_sock}), ""),
            "lighttpd scgi": (harness.Lighttpd(tmp_path, {"/w/": scgi_sock}, protocol="scgi"), ""),
            "nginx fastcgi": (harness.Nginx(tmp_path, fcgi_sock, keep_conn=False), ""),
            "nginx scgi": (harness.Nginx(tmp_path, scgi_sock, protocol="scgi"), ""),
        }
        procs.extend(f for f, _ in fronts.values() if f is not cgi)
        requests = [("GET", "/w/hello", None, {}),
                    ("GET", "/w/info?q=%C3%A5&q=2", None, {"Cookie": "c=v1"}),
                    ("POST", "/w/info", b"x=1&y=%20", {"Content-Type": "application/x-www-form-urlencoded"}),
                    ("POST", "/w/read-exact", BIG[:3 << 20], {"Content-Type": "application/octet-stream"}),
                    ("GET", "/w/missing", None, {})]
        cgi_dirs = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("smisk-cgi-*"))
        for method, path, body, headers in requests:
            answers = {name: comparable(harness.http_fetch(f.port, prefix + path, method, body, headers))
                       for name, (f, prefix) in fronts.items()}
            reference = answers["nginx fastcgi"]
            assert reference[0] in (200, 404)
            for name, got in answers.items():
                assert got == reference, f"{method} {path}: {name} differs\n{got}\n{reference}"
        # lighttpd kills each CGI process once it has the answer: its
        # private socket directory was gone before that.
        time.sleep(0.2)
        assert set(Path(os.environ.get("TMPDIR", "/tmp")).glob("smisk-cgi-*")) <= cgi_dirs
    finally:
        for p in reversed(procs):
            p.stop()
