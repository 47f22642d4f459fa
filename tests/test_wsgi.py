"""smisk.wsgi (PEP 3333) served by smisk-wsgi behind a real nginx, with
wsgiref.validate.validator around the applications (tests/apps/wsgi/
validated.py), plus raw FastCGI requests where the wire matters."""
import json
import os
import random
import time

import pytest

import harness
from fcgi_client import Conn, default_params, request_bytes
from wsgi_helpers import fetch, header, start_runner


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wsgi")
    app = start_runner(tmp, "validated:application", "--forks", "1")
    nginx = harness.Nginx(tmp, app.address)
    yield nginx, app, tmp
    nginx.stop()
    app.stop()


def get_json(nginx, path, **kw):
    status, headers, body = fetch(nginx.port, path, **kw)
    assert status == 200, (status, body[:2000])
    return json.loads(body)


def state(nginx):
    return get_json(nginx, "/v/state")


def assert_clean(nginx):
    """Nothing the validator reported outside a request (an iterable
    garbage-collected without close(), for one)."""
    assert state(nginx)["unraisable"] == []


# ---- environ, input ---------------------------------------------------------


def test_hello_content_length_from_single_block(site):
    nginx, _, _ = site
    status, headers, body = fetch(nginx.port, "/v/hello")
    assert (status, body) == (200, b"Hello World!\n")
    assert header(headers, "Content-Length") == "13"
    assert header(headers, "Content-Type") == "text/plain"


def test_environ_native_strings_and_wsgi_keys(site):
    nginx, _, _ = site
    out = get_json(nginx, "/v/environ/%C3%A5?x=1&y=%C3%A5",
                   headers={"X-Bytes": "caf\u00e9".encode("latin-1").decode("latin-1")})
    cgi = out["cgi"]
    assert out["types"] == ["str"]
    assert out["version"] == [1, 0] and out["url_scheme"] == "http"
    assert out["multithread"] is False and out["multiprocess"] is True and out["run_once"] is False
    assert out["input_terminated"] is True and out["file_wrapper"] is True
    # Latin-1 bytes-as-str: the UTF-8 bytes of 'å' are two characters.
    assert cgi["PATH_INFO"] == "/v/environ/\u00c3\u00a5"
    assert cgi["SCRIPT_NAME"] == ""
    assert cgi["QUERY_STRING"] == "x=1&y=%C3%A5"
    assert cgi["HTTP_X_BYTES"] == "caf\u00e9"
    assert cgi["REQUEST_METHOD"] == "GET"
    assert cgi["SERVER_SOFTWARE"].startswith("nginx/") and "smisk" not in cgi["SERVER_SOFTWARE"]
    assert "FCGI_ROLE" not in cgi


BODY = b"".join(b"line %d \x00\xff\r\n" % i for i in range(20000)) + b"no newline at the end"


@pytest.mark.parametrize("mode", ["read", "readline", "readlines", "readlines-hint", "iter", "readline-limit"])
def test_wsgi_input_modes(site, mode):
    nginx, _, _ = site
    extra = {"readlines-hint": "&hint=100", "readline-limit": "&n=4", "read": "&n=777"}.get(mode, "")
    out = get_json(nginx, f"/v/input?mode={mode}{extra}", method="POST", body=BODY,
                   headers={"Content-Type": "application/octet-stream"})
    assert out["len"] == len(BODY) and out["sum"] == sum(BODY) % 65521
    assert out["eof"] == ["", ""]  # b'' at EOF, again and again
    assert out["content_length"] == str(len(BODY))
    if mode in ("readline", "readlines", "iter"):
        assert out["lines"] == 20001
    if mode == "readlines-hint":
        assert out["lines"] == 10  # 11-byte lines: stops once 100 bytes are reached
    if mode == "readline-limit":
        assert out["first"] == "line"
    if mode == "read":
        assert out["sizes"] == sorted({777, len(BODY) % 777})


def test_wsgi_input_read_without_size_reads_everything(site):
    nginx, _, _ = site
    out = get_json(nginx, "/raw/read-all", method="POST", body=BODY)
    assert out == {"len": len(BODY), "again": ""}


def test_wsgi_input_empty_body(site):
    nginx, _, _ = site
    out = get_json(nginx, "/v/input?mode=iter", method="POST", body=b"")
    assert out["len"] == 0 and out["lines"] == 0 and out["eof"] == ["", ""]


# ---- output -----------------------------------------------------------------


def test_streaming_generator_and_close(site):
    nginx, _, _ = site
    status, headers, body = fetch(nginx.port, "/v/stream?bytes=1000001&chunk=1000")
    assert status == 200 and len(body) == 1000001
    assert body[:32] == b"0123456789abcdef" * 2
    assert header(headers, "Content-Length") is None  # unknown length: no guess
    assert "stream" in state(nginx)["closed"]


def test_write_callable_mixed_with_iterable(site):
    nginx, _, _ = site
    status, _, body = fetch(nginx.port, "/v/write")
    assert (status, body) == (200, b"one two three four")
    assert "write" in state(nginx)["closed"]
    assert_clean(nginx)


@pytest.mark.parametrize("mode", ["yield", "write"])
def test_each_block_is_sent_before_the_next_is_asked_for(sendfile_app, tmp_path, mode):
    app, _ = sendfile_app
    marker = tmp_path / f"got-first-{mode}"
    c = Conn(app.address)
    try:
        c.send(request_bytes(1, default_params("/v/push", f"marker={marker}&mode={mode}")))
        t0 = time.monotonic()
        stdout = b""
        while b"first " not in stdout:
            kind, _, content = c.read_record()
            assert kind == 6, (kind, content)  # STDOUT
            stdout += content
        waited = time.monotonic() - t0
        marker.write_bytes(b"")
        rest = c.read_response()
    finally:
        c.close()
    assert waited < 2.5
    assert stdout.endswith(b"first ") and rest.stdout == b"saw marker"


def test_headers_wait_for_first_non_empty_block(site):
    # Only empty blocks so far: exc_info can still replace the status.
    nginx, _, _ = site
    status, _, body = fetch(nginx.port, "/v/empty-blocks")
    assert (status, body) == (503, b"replaced body")


def test_latin1_header_value_sent_as_latin1_bytes(site):
    nginx, _, _ = site
    status, headers, _ = fetch(nginx.port, "/v/latin1-header")
    assert status == 200
    assert header(headers, "X-Name") == "caf\u00e9"  # http.client decodes Latin-1


def test_wsgi_errors_is_text_and_reaches_the_error_log(site):
    nginx, _, _ = site
    status, _, body = fetch(nginx.port, "/v/errors")
    assert (status, body) == (200, b"logged")
    harness.wait_until(lambda: "wsgi.errors line" in nginx.error_log(), what="stderr in the nginx error log")
    assert "two lines" in nginx.error_log()


def test_file_wrapper_streams_without_sendfile(site, tmp_path):
    nginx, _, _ = site
    data = random.Random(7).randbytes(3 * 1024 * 1024 + 5)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    status, headers, body = fetch(nginx.port, f"/v/file?path={path}")
    assert status == 200 and body == data
    assert header(headers, "X-Accel-Redirect") is None
    status, _, body = fetch(nginx.port, f"/v/file?path={path}&skip=1000")
    assert status == 200 and body == data[1000:]
    assert_clean(nginx)


# ---- errors -----------------------------------------------------------------


def worker_pid(nginx):
    return get_json(nginx, "/v/rss")["pid"]


def test_exceptions_answer_500_and_the_worker_keeps_serving(site):
    nginx, app, _ = site
    pid = worker_pid(nginx)
    status, _, body = fetch(nginx.port, "/v/raise-before")
    assert status == 500 and b"raised before start_response" in body
    status, _, body = fetch(nginx.port, "/v/raise-first-block")
    assert status == 500 and b"raise-first-block failed at block 0" in body
    # Headers are out: the status stays, the body ends, nothing is appended.
    status, _, body = fetch(nginx.port, "/v/raise-in-iter")
    assert (status, body) == (200, b"first block ")
    assert fetch(nginx.port, "/v/hello")[0] == 200
    assert worker_pid(nginx) == pid
    closed = state(nginx)["closed"]
    assert "raise-first-block" in closed and "raise-in-iter" in closed
    assert "raise-in-iter failed at block 1" in app.log()  # logged by the gateway
    assert_clean(nginx)


def test_exc_info_before_output_replaces_status_and_headers(site):
    nginx, _, _ = site
    status, headers, body = fetch(nginx.port, "/v/exc-info-replace")
    assert (status, body) == (500, b"error page of the application")
    assert header(headers, "X-Dropped") is None


def test_exc_info_after_headers_sent_reraises(site):
    nginx, _, _ = site
    status, _, body = fetch(nginx.port, "/v/exc-info-after-sent")
    assert (status, body) == (200, b"partial ")
    st = state(nginx)
    assert st["reraised"] == [{"same": True, "msg": "disk gone"}]
    assert "exc-info-after-sent" in st["closed"]


@pytest.mark.parametrize("name", ["Connection", "keep-alive", "Transfer-Encoding", "Upgrade", "TE", "Trailer",
                                  "Proxy-Authenticate", "proxy-authorization"])
def test_hop_by_hop_headers_rejected(site, name):
    nginx, _, _ = site
    status, _, body = fetch(nginx.port, f"/raw/hop-by-hop?name={name}")
    assert status == 500
    assert b"hop-by-hop header" in body and name.encode() in body


def test_rule_breakers_get_500_and_close_is_called(site):
    nginx, _, _ = site
    cases = {
        "/raw/bad-header": b"contains CR, LF or NUL",
        "/raw/bad-status": b"status must be",
        "/raw/str-body": b"yielded str, not bytes",
        "/raw/twice": b"called a second time without exc_info",
        "/raw/no-start-response": b"before calling start_response",
        "/raw/hop-by-hop-in-iter": b"hop-by-hop header",
    }
    for path, message in cases.items():
        status, _, body = fetch(nginx.port, path)
        assert status == 500 and message in body, (path, status, body)
    closed = state(nginx)["closed"]
    for name in ("str-body", "no-start-response", "hop-in-iter"):
        assert name in closed
    assert fetch(nginx.port, "/v/hello")[0] == 200


# ---- memory -----------------------------------------------------------------


def test_streaming_100_mib_keeps_rss_flat(site):
    nginx, _, _ = site
    before = get_json(nginx, "/v/rss")
    total = 100 * 1024 * 1024
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=120)
    try:
        conn.request("GET", f"/v/stream?bytes={total}&chunk=65536")
        resp = conn.getresponse()
        assert resp.status == 200
        got = 0
        first = resp.read(1 << 20)
        got += len(first)
        assert first[:16] == b"0123456789abcdef"
        while True:
            b = resp.read(1 << 20)
            if not b:
                break
            got += len(b)
    finally:
        conn.close()
    assert got == total
    after = get_json(nginx, "/v/rss")
    assert after["pid"] == before["pid"]
    grew_kib = after["VmHWM"] - before["VmHWM"]
    print(f"\nworker VmRSS {before['VmRSS']} -> {after['VmRSS']} KiB, VmHWM {before['VmHWM']} -> "
          f"{after['VmHWM']} KiB over a {total >> 20} MiB response")
    assert grew_kib < 8 * 1024, (before, after)
    assert after["VmRSS"] - before["VmRSS"] < 8 * 1024


# ---- raw FastCGI: sendfile, PATH_INFO, HTTPS ---------------------------------------


@pytest.fixture(scope="module")
def sendfile_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wsgi-sendfile")
    app = start_runner(tmp, "validated:application", "--sendfile", name="sendfile")
    yield app, tmp
    app.stop()


def fcgi(address, script, query="", **params):
    p = default_params(script, query)
    p.update(params)
    c = Conn(address)
    try:
        return c.request(params=p)
    finally:
        c.close()


def test_file_wrapper_uses_the_servers_sendfile_header(sendfile_app):
    app, tmp = sendfile_app
    path = tmp / "served.bin"
    path.write_bytes(b"x" * 100000)
    r = fcgi(app.address, "/raw/file", f"path={path}", SERVER_SOFTWARE="nginx/1.22.1")
    head, body = r.headers_and_body
    assert f"X-Accel-Redirect: {path}".encode() in head.split(b"\r\n")
    assert body == b"" and b"Content-Length" not in head
    r = fcgi(app.address, "/raw/file", f"path={path}", SERVER_SOFTWARE="lighttpd/1.4.69")
    assert f"X-LIGHTTPD-send-file: {path}".encode() in r.headers_and_body[0].split(b"\r\n")
    # Unknown server, or a file not read from its start: streamed.
    for query, expect in ((f"path={path}", 100000), (f"path={path}&skip=10", 99990)):
        r = fcgi(app.address, "/raw/file", query)
        head, body = r.headers_and_body
        assert b"X-Accel-Redirect" not in head and body == b"x" * expect
        assert r.end == (0, 0)


def test_path_info_and_script_name_preserved_as_sent(sendfile_app):
    app, _ = sendfile_app
    r = fcgi(app.address, "/mount", SCRIPT_NAME="/mount", PATH_INFO="/v/environ/x", HTTPS="on")
    # The router sees PATH_INFO; SCRIPT_NAME stays the mount point.
    out = json.loads(r.headers_and_body[1])
    assert out["cgi"]["SCRIPT_NAME"] == "/mount" and out["cgi"]["PATH_INFO"] == "/v/environ/x"
    assert out["url_scheme"] == "https" and out["multiprocess"] is False
    assert out["types"] == ["str"]
    assert r.stderr == b""


def test_status_line_and_header_block_on_the_wire(sendfile_app):
    app, _ = sendfile_app
    r = fcgi(app.address, "/v/hello")
    assert r.stdout == (b"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
                        b"Hello World!\n")
    assert r.end == (0, 0)
    os.kill(app.pid, 0)  # still there


def test_environ_values_never_leak_between_requests(sendfile_app):
    # The shim reuses the str objects of the previous request's params when
    # the bytes are equal: equal lengths with other bytes, other orders and
    # long values must still come out as sent.
    app, _ = sendfile_app
    long_value = "x" * 300
    seen = []
    for params in ({"HTTP_X_A": "aaaa", "HTTP_X_B": "1"}, {"HTTP_X_A": "bbbb", "HTTP_X_B": "1"},
                   {"HTTP_X_B": "2", "HTTP_X_A": "bbbb"}, {"HTTP_X_A": long_value, "HTTP_X_B": "\u00e9"},
                   {"HTTP_X_A": long_value[:-1] + "y", "HTTP_X_B": "\u00e9"}):
        r = fcgi(app.address, "/v/environ", **params)
        cgi = json.loads(r.headers_and_body[1])["cgi"]
        seen.append((cgi["HTTP_X_A"], cgi["HTTP_X_B"]))
    utf8_as_latin1 = "\u00c3\u00a9"  # the client sends UTF-8; environ holds those bytes as Latin-1
    assert seen == [("aaaa", "1"), ("bbbb", "1"), ("bbbb", "2"), (long_value, utf8_as_latin1),
                    (long_value[:-1] + "y", utf8_as_latin1)]
