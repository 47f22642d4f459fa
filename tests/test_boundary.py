"""One owner for every rule across the Rust core, the C extension and
Python: each rule is decided once, in the library, and the layers above ask.

- Response headers live in the library from the moment they are set:
  Response.headers is a list that mirrors them, and send_file is the
  library's (the file opened once; its Content-Length and its body agree
  even when the file grows meanwhile).
- "Is this request HTTPS?" has one answer: request.url, wsgi.url_scheme and
  the session cookie's Secure flag agree behind a proxy that sets only
  REQUEST_SCHEME.
- Defaults and maxima come from the library.
- The extension never finishes a request itself.
"""
import json
import re

import pytest

import harness
from fcgi_client import Conn, default_params
from wsgi_helpers import start_runner

SHIM_SRC = harness.ROOT / "python-shim" / "src"


@pytest.fixture(scope="module")
def pyapp(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("boundary")
    app = harness.start_pyapp(tmp)
    yield app, tmp
    app.stop()


def ask(app, script, query="", **params):
    p = default_params(script=script, query=query)
    p.update(params)
    c = Conn(app.address)
    try:
        return c.request(params=p)
    finally:
        c.close()


def head_lines(resp):
    head, body = resp.headers_and_body
    return head.decode("latin-1").split("\r\n"), body


# ---- the header list ------------------------------------------------------------------------


def test_the_header_list_is_what_the_response_sends(pyapp):
    app, _ = pyapp
    resp = ask(app, "/header-list")
    lines, body = head_lines(resp)
    first, _, second = body.partition(b'}{')
    out = json.loads(first + b"}")
    after = json.loads(b"{" + second)
    sent = [line for line in lines if not line.startswith("X-Begin-Hook")]
    want = [x if isinstance(x, str) else x["bytes"] for x in out["list"]]
    assert sent == want, (sent, want)
    assert want == ["X-Bytes: b", "X-B: 2b", "X-B2: 2c", "X-A: 1b", "Content-Type: application/json"]
    assert out["popped"] == "X-First: 0" and out["same"] is True
    # A line that is neither str nor bytes is refused by the change itself,
    # and the list stays as it was (nothing of the change reaches the wire).
    assert len(out["errors"]) == 5 and all("must be str" in e for e in out["errors"]), out["errors"]
    assert "X-Ok: 1" not in sent
    # After begin() the list may still change (as a plain list could), but
    # nothing more is sent.
    assert after == {"after": "no error"} and "X-After-Begin: 1" not in lines


def test_the_list_mirrors_lines_the_library_adds(pyapp, tmp_path):
    """send_file's header (here X-Sendfile, chosen for Apache) is the
    library's line, and Response.headers shows it."""
    app, _ = pyapp
    f = tmp_path / "f.bin"
    f.write_bytes(b"x" * 10)
    resp = ask(app, "/send-file", query=f"path={f}", SERVER_SOFTWARE="Apache/2.4")
    lines, body = head_lines(resp)
    assert f"X-Sendfile: {f}" in lines and body == b""


def test_standalone_response_keeps_list_behaviour():
    import smisk.core as core

    r = core.Response()
    assert r.headers == [] and isinstance(r.headers, list)
    r.headers.append("A: 1")
    r.headers = ["B: 2", b"C: 3"]
    r.headers.insert(0, "Z: 0")
    r.set_cookie("s", "v")
    assert r.headers == ["Z: 0", "B: 2", b"C: 3", "Set-Cookie: s=v; Path=/"]
    assert r.find_header("b:") == 1 and r.find_header("c:") == -1  # bytes lines are not searched
    with pytest.raises(TypeError):
        r.headers.append(1)
    with pytest.raises(TypeError):
        r.headers = ("A: 1",)
    assert json.loads(json.dumps(r.headers[:2])) == ["Z: 0", "B: 2"]
    r.headers = None
    assert r.headers == []


# ---- send_file is the library's -------------------------------------------------------------


def growing_file(tmp_path, size=8 << 20):
    f = tmp_path / "grows.bin"
    data = bytes(range(256)) * (size // 256)
    f.write_bytes(data)
    return f, data


@pytest.mark.parametrize("round_", range(5))
def test_a_file_that_grows_while_it_is_sent_gets_a_consistent_answer(pyapp, tmp_path, round_):
    """Another thread appends to the file while send_file streams it. The
    answer's Content-Length is the size at the one open, and exactly those
    bytes follow (the extension's own copy opened the file twice and sent
    it to its end, longer than the length it had announced)."""
    app, _ = pyapp
    f, data = growing_file(tmp_path)
    resp = ask(app, "/send-growing", query=f"path={f}", SERVER_SOFTWARE="SomeServer/1.0")
    lines, body = head_lines(resp)
    length = [int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")]
    assert length == [len(body)], (length, len(body))
    assert body[:len(data)] == data[:len(body)]
    assert len(body) >= len(data)
    assert f.stat().st_size > len(data), "the file did grow meanwhile"
    assert resp.end == (0, 0)


def test_a_growing_file_through_nginx_default_setup(tmp_path):
    """Through nginx in its default set-up (no kept connections), repeated:
    the client reads exactly Content-Length bytes, all of the file's
    original content."""
    app = harness.start_pyapp(tmp_path)
    nginx = harness.Nginx(tmp_path, app.address, keep_conn=False,
                          extra_fastcgi="fastcgi_param SMISK_SENDFILE stream;")
    try:
        for _ in range(3):
            f, data = growing_file(tmp_path, size=4 << 20)
            status, headers, body = harness.http_fetch(nginx.port, f"/send-growing?path={f}", timeout=60)
            assert status == 200, body[:300]
            assert int(harness.header(headers, "Content-Length")) == len(body) >= len(data)
            assert body[:len(data)] == data
    finally:
        nginx.stop()
        app.stop()


# ---- one scheme ------------------------------------------------------------------------------


def test_request_scheme_https_without_https_is_https_everywhere(pyapp, tmp_path):
    """A proxy that sets only REQUEST_SCHEME=https: request.url,
    wsgi.url_scheme and the session cookie's Secure flag agree (they were
    http, https and no Secure)."""
    app, _ = pyapp
    out = json.loads(ask(app, "/url", REQUEST_SCHEME="https").headers_and_body[1])
    assert out["scheme"] == "https" and out["url"].startswith("https://")
    lines, _ = head_lines(ask(app, "/session", query="op=set&v=1", REQUEST_SCHEME="https"))
    (cookie,) = [line for line in lines if line.startswith("Set-Cookie:")]
    assert "; Secure" in cookie, cookie
    lines, _ = head_lines(ask(app, "/session", query="op=set&v=1"))
    (cookie,) = [line for line in lines if line.startswith("Set-Cookie:")]
    assert "; Secure" not in cookie and "SID=" in cookie
    # A non-empty HTTPS decides over REQUEST_SCHEME.
    out = json.loads(ask(app, "/url", REQUEST_SCHEME="https", HTTPS="off").headers_and_body[1])
    assert out["scheme"] == "http"

    wsgi = start_runner(tmp_path, "shapes:application", name="shapes")
    try:
        p = default_params(script="/environ")
        p["REQUEST_SCHEME"] = "https"
        c = Conn(wsgi.address)
        r = c.request(params=p)
        c.close()
        assert json.loads(r.headers_and_body[1])["wsgi.url_scheme"] == "https"
    finally:
        wsgi.stop()


# ---- defaults and maxima are the library's ---------------------------------------------------


def test_defaults_come_from_the_library():
    import ctypes

    import smisk.core as core

    lib = ctypes.CDLL(str(harness.ROOT / "target" / "release" / "libsmisk.so"))
    lib.smisk_session_default_name.restype = ctypes.c_char_p
    assert core.MAX_FORKS == 1024
    assert core.SessionStore().name == lib.smisk_session_default_name().decode() == "SID"
    assert core.SessionStore().ttl == core.FileSessionStore().ttl == 900
    r = core.Request()
    assert (r.max_multipart_size, r.max_formdata_size) == (2 << 30, 10 << 20)
    app = core.Application()
    with pytest.raises(ValueError, match=str(core.MAX_FORKS)):
        app.forks = core.MAX_FORKS + 1
    app.forks = core.MAX_FORKS


def test_no_layer_copies_a_default_or_decides_a_rule_of_the_library():
    """The literals the library owns appear nowhere in the extension or in
    smisk.wsgi, and the extension neither finishes a request nor opens a
    file itself."""
    c_sources = {p.name: p.read_text() for p in SHIM_SRC.glob("*.c")}
    for name, text in c_sources.items():
        code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        for needle in ("> 1024", "= 900", '"SID"', "2147483648", "10LL * 1024", "smisk_request_finish(",
                       "open(", "fstat(", '"HTTPS"', "REQUEST_SCHEME", "int stream_file("):
            assert needle not in code, f"{name} has {needle!r}"
    runner = (harness.ROOT / "python-shim" / "smisk" / "wsgi" / "runner.py").read_text()
    assert "1024" not in runner
    gateway = (harness.ROOT / "python-shim" / "smisk" / "wsgi" / "gateway.py").read_text()
    assert "_header_lines" not in gateway and "_good_" not in gateway and "_static_environ" not in gateway
