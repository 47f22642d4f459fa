"""smisk.core (the CPython shim) serving real requests: a Python
Application (tests/apps/pyapp.py) behind a real nginx on 127.0.0.1, and
directly over FastCGI where the wire matters. Each test names the original
bug of the original Smisk it would have caught (docs/compat.md)."""

import json
import os
import signal
import stat
import sys
import time
from pathlib import Path

import pytest

import harness
from fcgi_client import Conn, default_params

PYAPP = harness.PYAPP
BOUNDARY = "----smisk-shim-test-b0undary"
start_pyapp = harness.start_pyapp


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shim")
    app = start_pyapp(tmp)
    nginx = harness.Nginx(tmp, app.address)
    yield nginx, app, tmp
    nginx.stop()
    app.stop()


def fetch(nginx, path, method="GET", body=None, headers=None):
    return harness.http_fetch(nginx.port, path, method, body, headers)


header = harness.header


def jget(nginx, path, **kw):
    status, headers, body = fetch(nginx, path, **kw)
    assert status == 200, (status, body[:2000])
    return json.loads(body)


def multipart(parts):
    out = b""
    for name, filename, ctype, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disp}\r\n".encode()
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


MP = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def upload_dir_entries(settle_s=5.0):
    """The files left in this user's upload directories. The shim removes a
    request's temp files right after its answer is complete, so this waits
    (up to settle_s) for the directories to empty before reporting."""
    base = Path(os.environ.get("TMPDIR") or "/tmp")
    deadline = time.monotonic() + settle_s
    while True:
        found = []
        for d in base.glob("smisk-upload*"):
            if d.is_dir() and d.stat().st_uid == os.getuid():
                found += [p.name for p in d.iterdir()]
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(0.01)


# ---- env, url, query ------------------------------------------------------------


class _Pairs:
    """Params in this order, names possibly repeated (fcgi_client reads .items())."""

    def __init__(self, pairs):
        self.pairs = pairs

    def items(self):
        return self.pairs


def test_env_is_exact_for_every_request_on_a_kept_connection(site):
    # The shim builds env from a private copy of the previous request's
    # params when the names repeat in the same order, setting only the values
    # that changed. Every kind of change must still give exactly the params
    # sent (Latin-1 decoded; a repeated name: the last value).
    _, app, _ = site
    base = [(k.encode(), v.encode()) for k, v in default_params("/env", "a=1").items()]

    def with_value(name, value):
        return [(k, value if k == name else v) for k, v in base]

    keep = [(k, v) for k, v in base if k == b"SCRIPT_NAME"]
    variants = [
        base,
        base,
        with_value(b"QUERY_STRING", b"a=2"),
        with_value(b"REMOTE_ADDR", b"\xe9" * 300),
        with_value(b"REMOTE_ADDR", b"\xe9" * 299 + b"x"),
        base,
        base[::-1],
        base + [(b"HTTP_X_EXTRA", b"1")],
        base[:-1],
        base + [(b"HTTP_X_DUP", b"first"), (b"HTTP_X_DUP", b"second")],
        base + [(b"HTTP_X_DUP", b"third"), (b"HTTP_X_DUP", b"fourth")],
        keep + [(k, b"") for k, v in base if k != b"SCRIPT_NAME"],
        keep + [(b"HTTP_X_%d" % i, b"v%d" % i) for i in range(100)],
        keep + [(b"HTTP_X_%d" % i, b"w%d" % i) for i in range(100)],
        base,
    ]
    conn = Conn(app.address)
    try:
        for i, params in enumerate(variants * 2):
            r = conn.request(params=_Pairs(params), keep_conn=True)
            got = json.loads(r.headers_and_body[1])["env"]
            assert got == {k.decode("latin-1"): v.decode("latin-1") for k, v in params}, i
    finally:
        conn.close()


def test_env_is_str_to_str_latin1_and_raw(site):
    nginx, _, _ = site
    out = jget(nginx, "/env?x=%C3%A5", headers={"X-Bytes": "caf\u00e9".encode("latin-1").decode("latin-1")})
    env = out["env"]
    assert out["types"] == ["strstr"]
    assert env["QUERY_STRING"] == "x=%C3%A5"
    assert env["REQUEST_METHOD"] == "GET" and out["method"] == "GET"
    assert env["SERVER_SOFTWARE"].startswith("nginx/")  # no smisk suffix
    assert env["HTTP_X_BYTES"] == "caf\u00e9"  # Latin-1 bytes-as-str
    assert out["is_active"] is True


def test_is_active_without_touching_env(site):
    # is_active was "env materialised", False during a request.
    nginx, _, _ = site
    assert fetch(nginx, "/is-active")[2] == b"active"


def test_url_reconstruction_through_nginx(site):
    nginx, _, _ = site
    out = jget(nginx, "/url?a=1&b=2", headers={"Referer": "http://ref.example/x?y=1"})
    assert out["scheme"] == "http"
    assert out["host"] in (None, "localhost", "127.0.0.1", "_")  # the test nginx has no server_name
    assert out["path"] == "/url"
    assert out["query"] == "a=1&b=2"
    assert out["url"].endswith("/url?a=1&b=2")
    assert out["referring"] == "http://ref.example/x?y=1"


def test_get_decoding_repeats_and_bare_keys(site):
    nginx, _, _ = site
    out = jget(nginx, "/get?a=1&a=2&a=3&b=%C3%A5+x&bare&e=&&k%E5=v")
    assert out["a"] == ["1", "2", "3"]
    assert out["b"] == "\u00e5 x"
    assert out["bare"] is None and out["e"] == ""
    assert "k\ufffd" in out  # invalid UTF-8 in a key: replaced, not kept as raw bytes


def test_charset_and_tolerant_modes(site):
    nginx, _, _ = site
    # Latin-1 charset decodes %E5 as å.
    out = jget(nginx, "/charset?charset=latin-1&v=%E5")
    assert out["get"]["v"] == "\u00e5"
    # UTF-8, tolerant: undecodable value falls back to Latin-1 as a whole.
    out = jget(nginx, "/charset?charset=utf-8&v=%E5x")
    assert out["get"]["v"] == "\u00e5x"
    # Not tolerant: UnicodeDecodeError -> the 500 page; the server keeps serving.
    status, _, body = fetch(nginx, "/charset?charset=utf-8&tolerant=0&v=%E5")
    assert status == 500 and b"UnicodeDecodeError" in body
    assert jget(nginx, "/get?ok=1") == {"ok": "1"}


def test_cookies_plus_kept_and_malformed_ignored(site):
    nginx, _, _ = site
    out = jget(nginx, "/cookies", headers={"Cookie": 'a=x+y%20z; =bad; q="quoted"; b=2'})
    assert out == {"a": "x+y z", "q": '"quoted"', "b": "2"}


# ---- bodies -----------------------------------------------------------------------


def test_urlencoded_post(site):
    nginx, _, _ = site
    out = jget(nginx, "/post", method="POST", body=b"x=1&y=%C3%A5&x=2&z", headers=FORM)
    assert out["post"] == {"x": ["1", "2"], "y": "\u00e5", "z": None}
    assert out["files"] == {}


def test_multipart_fields_files_repeated_and_cleanup(site):
    # Text fields over 8 KiB overflowed a buffer, files in lists were never deleted, binary
    # lines dropped, empty fields dropped, part limit 9).
    nginx, _, _ = site
    binary = bytes(range(256)) * 64 + b"\n\n\r\n\n" + b"\x00" * 10
    big_text = "t" * 20000
    parts = [("f%d" % i, None, None, b"v%d" % i) for i in range(12)]
    parts += [
        ("text", None, None, big_text.encode()),
        ("empty", None, None, b""),
        ("up", "a.bin", "application/octet-stream", binary),
        ("up", "C:\\dir\\b b.txt", "text/plain", b"second\n"),
        ("skipped", "", "application/octet-stream", b""),
    ]
    out = jget(nginx, "/post", method="POST", body=multipart(parts), headers=MP)
    post = out["post"]
    assert [post["f%d" % i] for i in range(12)] == ["v%d" % i for i in range(12)]
    assert post["text"] == big_text and post["empty"] == ""
    ups = out["files"]["up"]
    assert [u["filename"] for u in ups] == ["a.bin", "C:\\dir\\b b.txt"]
    assert ups[0]["size"] == ups[0]["data_len"] == len(binary)
    assert ups[0]["content_type"] == "application/octet-stream"
    assert ups[0]["mode"] == "0o600"
    assert ups[1]["data_head"] == "second\n"
    assert "skipped" not in out["files"]
    # Every temp file of the request is gone, list entries included.
    assert upload_dir_entries() == []
    for u in ups:
        assert not os.path.exists(u["path"])


def test_uploads_moved_by_the_app_stay(site, tmp_path):
    nginx, _, _ = site
    dest = tmp_path / "kept"
    dest.mkdir()
    body = multipart([("doc", "x.txt", "text/plain", b"keep me"), ("doc", "y.txt", "text/plain", b"me too")])
    out = jget(nginx, f"/keep-upload?dest={dest}", method="POST", body=body, headers=MP)
    assert sorted(Path(p).read_bytes() for p in out["moved"]) == [b"keep me", b"me too"]
    assert upload_dir_entries() == []


@pytest.mark.parametrize("query,body,headers", [
    ("mms=100", multipart([("a", None, None, b"x" * 200)]), MP),
    ("mfs=10", b"a=" + b"x" * 100, FORM),
])
def test_size_limits_answer_413_and_server_goes_on(site, query, body, headers):
    nginx, _, _ = site
    status, hdrs, page = fetch(nginx, "/post?" + query, method="POST", body=body, headers=headers)
    assert status == 413, page[:500]
    assert b"RequestTooLargeError" in page
    assert int(header(hdrs, "Content-Length")) == len(page)
    assert upload_dir_entries() == []
    assert jget(nginx, "/get?after=1") == {"after": "1"}


def test_limit_zero_leaves_body_unparsed(site):
    nginx, _, _ = site
    out = jget(nginx, "/post?mfs=0", method="POST", body=b"a=1", headers=FORM)
    assert out["post"] == {}


def test_malformed_multipart_is_an_error_not_a_crash(site):
    # A lone "\n" as the first body line underflowed the boundary length.
    nginx, _, _ = site
    status, _, page = fetch(nginx, "/post", method="POST", body=b"\nnot multipart\r\n", headers=MP)
    assert status == 500 and b"ValueError" in page
    assert jget(nginx, "/get?alive=1") == {"alive": "1"}


# ---- input stream -----------------------------------------------------------------


def test_read_returns_the_whole_body(site):
    # read() gave at most 8192 bytes, read(-1) corrupted data past 2048.
    nginx, _, _ = site
    body = bytes((i * 7) % 251 for i in range(300_000))
    out = jget(nginx, "/input?mode=read", method="POST", body=body)
    assert out["len"] == len(body) and out["sum"] == sum(body) % 65521 and out["again"] == {"bytes": ""}


def test_read_n_chunks_then_empty(site):
    nginx, _, _ = site
    out = jget(nginx, "/input?mode=read-n&n=4096", method="POST", body=b"z" * 10000)
    assert out == {"parts": [4096, 4096, 1808], "after": ""}


def test_readline_at_eof_returns_empty_bytes(site):
    # readline at EOF returned None with the GIL released -> crash.
    nginx, _, _ = site
    out = jget(nginx, "/input?mode=readline", method="POST", body=b"one\ntwo\n\nlast")
    assert out == {"lines": ["one\n", "two\n", "\n", "last"], "eof": "", "eof2": ""}
    out = jget(nginx, "/input?mode=readline", method="GET")
    assert out == {"lines": [], "eof": "", "eof2": ""}


def test_readline_limit_readlines_hint_and_iteration(site):
    nginx, _, _ = site
    assert jget(nginx, "/input?mode=readline-limit&n=3", method="POST", body=b"abcdef\nx") == {
        "first": "abc", "rest": "def\nx"}
    assert jget(nginx, "/input?mode=readlines", method="POST", body=b"a\nb\nc") == {
        "lines": ["a\n", "b\n", "c"], "rest": ""}
    assert jget(nginx, "/input?mode=readlines&hint=3", method="POST", body=b"a\nb\nc\nd\n") == {
        "lines": ["a\n", "b\n"], "rest": "c\nd\n"}
    assert jget(nginx, "/input?mode=iter", method="POST", body=b"1\n2\n3") == {"lines": ["1\n", "2\n", "3"]}
    long_line = b"q" * 100_000 + b"\nend"
    out = jget(nginx, "/input?mode=readline", method="POST", body=long_line)
    assert [len(x) for x in out["lines"]] == [100_001, 3]


def test_input_stream_is_not_writable(site):
    nginx, _, _ = site
    out = jget(nginx, "/input?mode=write", method="POST", body=b"")
    assert out["error"] == "OSError"


# ---- output ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind,expected", [
    ("bytes", b"bytes\x00body"),
    ("str", "str \u00e5\u2603".encode()),
    ("writelines", b"abc"),
    ("call", b"xyz"),
    ("empty", b"has_begun=False"),
    ("out", b"raw output!"),
])
def test_writes_of_bytes_and_str(site, kind, expected):
    nginx, _, _ = site
    status, headers, body = fetch(nginx, f"/write?kind={kind}")
    assert status == 200 and body == expected
    assert header(headers, "X-Begin-Hook") == "yes"  # the subclass's begin() ran


def test_unencodable_str_is_an_exception_not_a_crash(site):
    # A conversion failure in writelines dereferenced NULL.
    nginx, _, _ = site
    status, _, body = fetch(nginx, "/write?kind=latin1-unencodable")
    assert status == 200  # "ok" had begun the response already
    assert body.startswith(b"ok") and b"UnicodeEncodeError" in body
    assert fetch(nginx, "/write?kind=bytes")[2] == b"bytes\x00body"


def test_large_response_streams(site):
    nginx, _, _ = site
    status, _, body = fetch(nginx, "/write?kind=big&n=5000000")
    assert status == 200 and len(body) == 5_000_000 and body[:16] == b"0123456789abcdef"


def test_headers_begin_has_begun_find_header(site):
    nginx, _, _ = site
    status, headers, body = fetch(nginx, "/headers")
    out = json.loads(body)
    assert out["found"] == [1, 2, -1]
    assert out["before"] is False and out["after"] is True
    assert "already begun" in out["twice"] and "already begun" in out["late"]
    assert header(headers, "X-One") == "1" and header(headers, "X-Late") is None


def test_no_stray_crlf_and_empty_service_answers(site):
    # An empty header list put "\r\n" at the start of the body.
    nginx, app, _ = site
    c = Conn(app.address)
    resp = c.request(params=default_params(script="/noheaders"))
    c.close()
    head, body = resp.headers_and_body
    assert body == b"body-first-byte"
    assert b"\r\n\r\n" not in head
    status, _, body = fetch(nginx, "/nothing")
    assert status == 200 and body == b""


def test_header_injection_rejected(site):
    nginx, _, _ = site
    status, headers, body = fetch(nginx, "/badheader")
    assert status == 500 and b"ValueError" in body
    assert header(headers, "X-Evil") is None and header(headers, "Set-Cookie") is None


def test_status_header_passes_through(site):
    nginx, _, _ = site
    status, _, body = fetch(nginx, "/status?code=418")
    assert status == 418 and body == b"status body"


def test_set_cookie_rfc6265(site):
    # Path was URL-encoded (%2F) and Expires truncated with a NUL.
    nginx, _, _ = site
    status, headers, _ = fetch(nginx, "/set-cookie")
    cookies = [v for k, v in headers if k.lower() == "set-cookie"]
    assert cookies[0] == "plain=value; Path=/"
    odd = cookies[1]
    assert odd.startswith("odd=a%20b%3Bc%22d; Path=/p; Domain=example.com; Max-Age=60; Expires=")
    assert odd.endswith(" GMT; Secure; HttpOnly; SameSite=Strict")
    assert "\x00" not in odd
    assert cookies[2].startswith("gone=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT")


def test_send_file_through_nginx_uses_x_accel_redirect(site, tmp_path):
    nginx, _, _ = site
    status, headers, body = fetch(nginx, "/send-file?path=/protected/file.bin")
    # nginx turns X-Accel-Redirect into an internal redirect; this test
    # config has no internal location for it, so the redirect target is
    # routed back to the app (SCRIPT_NAME /protected/file.bin -> 404).
    assert status == 404 and body == b"no route /protected/file.bin"


def test_send_file_streams_for_unknown_servers(site, tmp_path):
    _, app, _ = site
    f = tmp_path / "payload.bin"
    data = os.urandom(200_000)
    f.write_bytes(data)
    params = default_params(script="/send-file", query=f"path={f}")
    params["SERVER_SOFTWARE"] = "SomeServer/1.0"
    c = Conn(app.address)
    resp = c.request(params=params)
    c.close()
    head, body = resp.headers_and_body
    assert body == data


# ---- the error page -------------------------------------------------------------------------


def test_error_page_escaped_no_traceback_by_default(site):
    # The page escaped nothing and showed tracebacks by default; a header block followed it.
    nginx, _, _ = site
    status, headers, body = fetch(nginx, "/raise?msg=%3Cscript%3Ealert(1)%3C/script%3E")
    assert status == 500
    assert int(header(headers, "Content-Length")) == len(body)
    assert b"<script>" not in body and b"&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert b"Traceback" not in body and b"Additional information has been logged." in body
    assert b"Status:" not in body and b"Content-Type:" not in body


def test_error_page_traceback_when_asked(site):
    nginx, _, _ = site
    status, _, body = fetch(nginx, "/raise?show=1&msg=%3Cb%3E")
    assert status == 500 and b"Traceback (most recent call last)" in body and b"&lt;b&gt;" in body
    assert b"<b>" not in body


def test_error_after_output_began_appends_fragment_only(site):
    nginx, _, _ = site
    status, _, body = fetch(nginx, "/raise?after_begin=1&msg=late")
    assert status == 200
    assert body.startswith(b"partial output ") and b"ValueError: late" in body
    assert b"<html" not in body


def test_error_page_without_server_software(site):
    # A missing SERVER_SOFTWARE crashed the error page.
    _, app, _ = site
    params = default_params(script="/raise")
    params.pop("SERVER_SOFTWARE", None)
    c = Conn(app.address)
    resp = c.request(params=params)
    c.close()
    head, body = resp.headers_and_body
    assert head.startswith(b"Status: 500") and b"Service Error" in body


def test_failing_error_handler_still_answers_500(site):
    nginx, _, _ = site
    status, _, _ = fetch(nginx, "/raise-in-error")
    assert status == 500
    assert jget(nginx, "/get?x=1") == {"x": "1"}


def test_log_error_and_errors_stream(site):
    nginx, app, _ = site
    c = Conn(app.address)
    resp = c.request(params=default_params(script="/log"))
    c.close()
    assert resp.headers_and_body[1] == b"logged"
    stderr = resp.stderr
    assert b"pyapp.py[" in stderr and b"] something <bad> happened\n" in stderr
    assert b"raw stderr line\nbytes line\nstr line\n" in stderr


# ---- sessions ------------------------------------------------------------------------------------


class Browser:
    def __init__(self, nginx):
        self.nginx = nginx
        self.cookies = {}
        self.last_headers = []

    def get(self, path):
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        status, hdrs, body = fetch(self.nginx, path, headers=headers)
        self.last_headers = hdrs
        for k, v in hdrs:
            if k.lower() == "set-cookie":
                name, rest = v.split("=", 1)
                value = rest.split(";", 1)[0]
                if "Max-Age=0" in v:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        assert status == 200, body
        return json.loads(body)

    def set_cookie_headers(self):
        return [v for k, v in self.last_headers if k.lower() == "set-cookie"]


def session_files(tmp):
    d = Path(tmp) / "sessions"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_session_lifecycle_end_to_end(site):
    nginx, _, tmp = site
    b = Browser(nginx)
    before = session_files(tmp)
    # Reading the session alone creates no file and no cookie.
    assert b.get("/session?op=get")["data"] is None
    assert b.set_cookie_headers() == [] and session_files(tmp) == before
    # Data: file + cookie with the contract's attributes.
    out = b.get("/session?op=set&v=1")
    assert out["data"] == {"v": "1", "items": []}
    (cookie,) = b.set_cookie_headers()
    assert cookie.endswith("; Path=/; HttpOnly; SameSite=Lax")
    sid = b.cookies["SID"]
    assert len(sid) == 32 and sid in session_files(tmp)
    st = os.stat(Path(tmp) / "sessions" / sid)
    assert stat.S_IMODE(st.st_mode) == 0o600
    # Read back; in-place modification is saved.
    assert b.get("/session?op=get")["data"] == {"v": "1", "items": []}
    b.get("/session?op=append&v=a")
    b.get("/session?op=append&v=b")
    assert b.get("/session?op=get")["data"] == {"v": "1", "items": ["a", "b"]}
    assert b.set_cookie_headers() == []
    assert b.get("/session?op=id")["data"] == sid
    # Destroy: file gone, cookie expired.
    b.get("/session?op=destroy")
    assert any("Max-Age=0" in c for c in b.set_cookie_headers())
    assert sid not in session_files(tmp)
    assert b.get("/session?op=get")["data"] is None


def test_bad_session_cookies_start_fresh(site):
    # Ids with ../ or CR/LF reached the file system and headers.
    nginx, _, tmp = site
    for bad in ["../../etc/passwd", "a" * 31, "A" * 32, "z" * 32, "x" * 5000]:
        b = Browser(nginx)
        b.cookies["SID"] = bad
        assert b.get("/session?op=get")["data"] is None
        out = b.get("/session?op=set&v=fresh")
        assert b.cookies["SID"] != bad and len(b.cookies["SID"]) == 32
        assert out["data"]["v"] == "fresh"
    # A well-formed id with no stored session is not adopted (no fixation).
    b = Browser(nginx)
    b.cookies["SID"] = "0123456789abcdefghijklmnopqrstuv"
    b.get("/session?op=set&v=x")
    assert b.cookies["SID"] != "0123456789abcdefghijklmnopqrstuv"


def test_session_id_setter_validates(site):
    nginx, _, _ = site
    b = Browser(nginx)
    b.get("/session?op=set&v=1")
    out = b.get("/session?op=set-id&id=../evil%0d%0aSet-Cookie:x")
    assert out["data"] == {"error": "InvalidSessionError"}
    new_id = "0123456789abcdefghijklmnopqrstuv"
    out = b.get(f"/session?op=set-id&id={new_id}")
    assert out["data"] == new_id and b.cookies["SID"] == new_id
    assert b.get("/session?op=get")["data"] == {"v": "1", "items": []}


def test_expired_session_reads_as_none(tmp_path):
    app = start_pyapp(tmp_path)
    nginx = harness.Nginx(tmp_path, app.address)
    try:
        b = Browser(nginx)
        b.get("/session?op=set&v=old")
        sid = b.cookies["SID"]
        path = tmp_path / "sessions" / sid
        old = time.time() - 3600
        os.utime(path, (old, old))
        assert b.get("/session?op=get")["data"] is None
    finally:
        nginx.stop()
        app.stop()


def test_session_write_failure_is_logged_not_fatal(site):
    # A failed session write during reset stopped the whole server.
    nginx, app, _ = site
    status, _, _ = fetch(nginx, "/session?op=unmarshallable")
    assert status == 200
    assert "session not saved" in app.log()
    assert jget(nginx, "/get?still=1") == {"still": "1"}


def test_session_id_after_output_began(site):
    nginx, _, _ = site
    status, _, body = fetch(nginx, "/session-late")
    assert body.startswith(b"begun OSError: output already started")


# ---- proxies, lifecycle, process ---------------------------------------------------------------------


def test_module_proxies_follow_the_current_application(site):
    nginx, _, _ = site
    assert jget(nginx, "/proxies") == {"app": True, "request": True, "response": True, "current": True}


def test_hooks_run_and_sigint_raises_keyboardinterrupt(tmp_path):
    app = start_pyapp(tmp_path)
    c = Conn(app.address)
    assert c.request(params=default_params(script="/pid")).headers_and_body[1] == str(app.pid).encode()
    c.close()
    code = app.stop(sig=signal.SIGINT)
    log = app.log()
    assert "will_start worker=0" in log and "did_stop" in log
    assert "KeyboardInterrupt from run()" in log and code == 130


def test_sigterm_returns_from_run(tmp_path):
    app = start_pyapp(tmp_path)
    # The socket accepts from bind() on, but the handlers exist only once
    # run() started: an answered request proves it did.
    c = Conn(app.address)
    assert c.request(params=default_params(script="/pid")).end == (0, 0)
    c.close()
    assert app.stop(sig=signal.SIGTERM) == 0
    assert "run() returned" in app.log()


def test_exit_stops_after_the_current_request(tmp_path):
    app = start_pyapp(tmp_path)
    c = Conn(app.address)
    assert c.request(params=default_params(script="/exit")).headers_and_body[1] == b"exiting"
    c.close()
    app.proc.wait(10)
    assert "run() returned" in app.log()


def test_sys_exit_in_service_propagates_from_run(tmp_path):
    app = start_pyapp(tmp_path)
    c = Conn(app.address)
    head, _ = c.request(params=default_params(script="/sysexit")).headers_and_body
    c.close()
    assert head.startswith(b"Status: 500")
    assert app.proc.wait(10) == 3


def test_forks_serve_from_several_workers_with_hooks(tmp_path):
    app = start_pyapp(tmp_path, forks=2)
    try:
        pids = set()
        deadline = time.monotonic() + 10
        while len(pids) < 2 and time.monotonic() < deadline:
            conns = [Conn(app.address) for _ in range(4)]
            for c in conns:
                c.send(b"")
            for c in conns:
                pids.add(c.request(params=default_params(script="/pid")).headers_and_body[1])
                c.close()
        assert len(pids) == 2 and str(app.pid).encode() not in pids
    finally:
        code = app.stop(sig=signal.SIGTERM)
    log = app.log()
    assert "will_start worker=0" in log and "will_start worker=1" in log
    assert log.count("did_stop") >= 2 and code == 0


def test_max_requests_without_forks_returns(tmp_path):
    app = start_pyapp(tmp_path, env={"PYAPP_MAX_REQUESTS": "3"})
    for _ in range(3):
        c = Conn(app.address)
        c.request(params=default_params(script="/pid"))
        c.close()
    assert app.proc.wait(10) == 0
    assert "run() returned" in app.log()


def test_run_without_socket_is_a_clear_error(tmp_path):
    env = dict(os.environ)
    env.pop("GATEWAY_INTERFACE", None)
    p = harness.Process([sys.executable, PYAPP, "-"], env=env, log=tmp_path / "nosock.log")
    p.proc.wait(20)
    assert p.proc.returncode == 1
    assert "Application must be run in a FastCGI environment" in p.log()


def test_cgi_mode_serves_one_request(tmp_path):
    import subprocess
    env = dict(os.environ, GATEWAY_INTERFACE="CGI/1.1", REQUEST_METHOD="GET", SCRIPT_NAME="/get",
               QUERY_STRING="cgi=1", SERVER_NAME="localhost", SERVER_PORT="80", SERVER_PROTOCOL="HTTP/1.1")
    out = subprocess.run([sys.executable, PYAPP, "-"], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                         timeout=30)
    assert b'{"cgi": "1"}' in out.stdout, out


def test_bind_errors_and_listening():
    import smisk.core as core
    with pytest.raises(ValueError):
        core.bind("no-port-here")
    assert core.listening() is None


def test_standalone_objects_raise_instead_of_crashing():
    # Response.write/begin and Stream methods outside a request segfaulted.
    import smisk.core as core
    r = core.Response()
    with pytest.raises(OSError):
        r.write(b"x")
    with pytest.raises(OSError):
        r.begin()
    with pytest.raises(OSError):
        r.out.write(b"x")
    r.set_cookie("a", "b")  # formatting works without a request
    assert r.headers == ["Set-Cookie: a=b; Path=/"]
    req = core.Request()
    assert req.env == {} and req.get == {} and req.is_active is False
    with pytest.raises(OSError):
        req.input.read()
    with pytest.raises(TypeError):
        core.Stream()
    s = core.FileSessionStore.__new__(core.FileSessionStore)  # no __init__
    with pytest.raises(core.InvalidSessionError):
        s.read("0" * 32)
