"""The C request path of smisk.wsgi.Gateway (smisk.core.WSGIGatewayBase):
exact bytes on the wire for the one-block results it sends itself,
start_response by position and by keyword, the cached header lines against
the full checks of smisk.wsgi.headers, subclasses overriding environ() and
start_response(), and no per-request leak. Raw FastCGI over a unix socket
(tests/apps/wsgi/shapes.py, no validator wrapper, which would hide the
shapes)."""
import json
import os
import sys

import pytest

import harness
from fcgi_client import Conn, default_params
from wsgi_helpers import APPS, start_runner


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wsgi-shapes")
    app = start_runner(tmp, "shapes:application", name="shapes")
    conn = Conn(app.address)
    yield conn
    conn.close()
    app.stop()


def ask(conn, path, method="GET", **params):
    p = default_params(path, method=method)
    p.update(params)
    r = conn.request(1, p, keep_conn=True)
    assert r.end == (0, 0), (path, r.end)
    return r


HEAD = b"Status: 200 OK\r\nContent-Type: text/plain\r\n"


@pytest.mark.parametrize("path", ["/list", "/tuple"])
def test_one_block_gets_a_content_length(shapes, path):
    for _ in range(3):  # the first answer validates, the next ones come from the caches
        assert ask(shapes, path).stdout == HEAD + b"Content-Length: 2\r\n\r\nhi"


def test_no_content_length_where_http_has_none_or_the_app_gave_one(shapes):
    assert ask(shapes, "/list", method="HEAD").stdout == HEAD + b"\r\nhi"
    assert ask(shapes, "/no-content").stdout == b"Status: 204 No Content\r\n\r\n"
    assert ask(shapes, "/not-modified").stdout == b"Status: 304 Not Modified\r\n\r\n"
    assert ask(shapes, "/given-length").stdout == HEAD + b"Content-Length: 2\r\n\r\nhi"
    assert ask(shapes, "/empty").stdout == HEAD + b"Content-Length: 0\r\n\r\n"
    # Begun by write(): the length of the last block is not the body's.
    assert ask(shapes, "/written").stdout == HEAD + b"\r\nab"


def test_204_and_304_never_carry_the_content_length_the_app_gave(shapes):
    """RFC 9110 §8.6 / §15.4.5: Django's CommonMiddleware adds
    Content-Length: 0 to a 204; the answer goes out without it."""
    for _ in range(2):  # validated, then from the caches
        assert ask(shapes, "/no-content-with-length").stdout == b"Status: 204 No Content\r\nX-After: 1\r\n\r\n"
        assert ask(shapes, "/not-modified-with-length").stdout == (
            b'Status: 304 Not Modified\r\nETag: "v1"\r\n\r\n')


def test_start_response_by_keyword_and_exc_info(shapes):
    assert ask(shapes, "/keywords").stdout == (b"Status: 201 Created\r\nContent-Type: text/plain\r\n"
                                               b"Content-Length: 2\r\n\r\nkw")
    assert ask(shapes, "/exc-info-keyword").stdout == (b"Status: 500 Oops\r\nContent-Type: text/x-oops\r\n"
                                                       b"Content-Length: 8\r\n\r\nreplaced")


@pytest.mark.parametrize("path, message", [
    ("/bad-keyword", b"unexpected keyword argument &#39;bogus&#39;"),
    ("/one-argument", b"needs status and headers"),
    ("/sub-status", b"status must be a str"),
    ("/sub-header", b"must be a str"),
    ("/str-block", b"yielded str, not bytes"),
])
def test_what_the_cache_must_not_pass_gets_500(shapes, path, message):
    ask(shapes, "/list")  # "200 OK" and the Content-Type item are cached now
    for _ in range(2):
        r = ask(shapes, path)
        assert r.stdout.startswith(b"Status: 500"), r.stdout[:300]
        assert message in r.stdout, r.stdout[-600:]
    assert ask(shapes, "/list").stdout == HEAD + b"Content-Length: 2\r\n\r\nhi"


def test_repeated_and_alternating_header_sets_keep_their_lines(shapes):
    """start_response keeps the last call's lines for the same status and
    item objects: alternating sets, and one list edited in place between
    calls, must still send exactly their own lines."""
    latin1 = HEAD + b"X-Caf: caf\xe9\r\nContent-Length: 6\r\n\r\nlatin1"
    listed = HEAD + b"Content-Length: 2\r\n\r\nhi"
    given = HEAD + b"Content-Length: 2\r\n\r\nhi"
    for _ in range(2):
        assert ask(shapes, "/list").stdout == listed
        assert ask(shapes, "/list").stdout == listed
        assert ask(shapes, "/latin1").stdout == latin1
        assert ask(shapes, "/given-length").stdout == given
        assert ask(shapes, "/no-content").stdout == b"Status: 204 No Content\r\n\r\n"
    edited = HEAD + b"Content-Length: 2\r\n\r\ned"
    assert ask(shapes, "/edited-list").stdout == edited
    assert ask(shapes, "/edited-list", QUERY_STRING="add=1").stdout == HEAD + b"X-Edit: 1\r\n" + edited[len(HEAD):]
    assert ask(shapes, "/edited-list", QUERY_STRING="pop").stdout == edited
    assert ask(shapes, "/edited-list", QUERY_STRING="add=2").stdout == HEAD + b"X-Edit: 2\r\n" + edited[len(HEAD):]
    assert ask(shapes, "/edited-list", QUERY_STRING="pop").stdout == edited


def test_latin1_value_from_the_cache_is_the_same_bytes(shapes):
    want = HEAD + b"X-Caf: caf\xe9\r\nContent-Length: 6\r\n\r\nlatin1"
    assert [ask(shapes, "/latin1").stdout for _ in range(3)] == [want] * 3


def test_new_items_past_the_cache_size_are_still_checked_and_sent(shapes):
    from smisk.wsgi import headers

    for n in range(headers._CACHE_MAX + 100):
        r = ask(shapes, "/unique", QUERY_STRING=str(n))
        want = HEAD + f"X-N: {n}\r\nContent-Length: {len(str(n))}\r\n\r\n{n}".encode()
        assert r.stdout == want, (n, r.stdout)
    # Full caches still refuse what the check refuses.
    assert b"must be a str" in ask(shapes, "/sub-header").stdout


def test_environ_completion(shapes):
    r = ask(shapes, "/environ", method="POST", HTTP_CONTENT_TYPE="text/x-a", HTTP_CONTENT_LENGTH="0",
            CONTENT_TYPE="", REQUEST_SCHEME="https")
    out = json.loads(r.headers_and_body[1])
    assert out == {"PATH_INFO": "/environ", "SCRIPT_NAME": "", "CONTENT_TYPE": "text/x-a", "CONTENT_LENGTH": "0",
                   "wsgi.url_scheme": "https", "shapes.custom": None, "has_http_content": False}
    r = ask(shapes, "/environ", HTTPS="ON", CONTENT_TYPE="text/kept", HTTP_CONTENT_TYPE="text/dropped")
    out = json.loads(r.headers_and_body[1])
    assert out["wsgi.url_scheme"] == "https" and out["CONTENT_TYPE"] == "text/kept"
    assert not out["has_http_content"]
    # The client's params have no PATH_INFO (the whole path is SCRIPT_NAME,
    # as nginx's stock fastcgi_params send it); a SCRIPT_NAME of "/" is the root.
    out = json.loads(ask(shapes, "/ignored", SCRIPT_NAME="/", PATH_INFO="/environ").headers_and_body[1])
    assert out["PATH_INFO"] == "/environ" and out["SCRIPT_NAME"] == ""
    assert out["wsgi.url_scheme"] == "http"


def test_environ_of_each_request_is_its_own(shapes):
    """The environ is made from a template of the last one (params and the
    gateway's shared items): changed params, the application's changes to
    its environ, a change of the shared items and a param named like a
    shared item must all come out as if built from scratch."""
    def items(**params):
        return json.loads(ask(shapes, "/environ-items", **params).headers_and_body[1])

    first = items(QUERY_STRING="a=1")
    assert first["QUERY_STRING"] == "a=1" and first["REQUEST_METHOD"] == "GET"
    assert "shapes.added" not in first and "shapes.shared" not in first
    again = items(QUERY_STRING="a=2")
    assert again["QUERY_STRING"] == "a=2" and again["REQUEST_METHOD"] == "GET"
    assert "shapes.added" not in again
    assert {k: v for k, v in again.items() if k != "QUERY_STRING"} == \
        {k: v for k, v in first.items() if k != "QUERY_STRING"}
    items(QUERY_STRING="set=one")
    assert items(QUERY_STRING="b")["shapes.shared"] == "one"
    items(QUERY_STRING="set=two")
    assert items(QUERY_STRING="b")["shapes.shared"] == "two"
    # A param with a shared item's name: the shared item wins, every time.
    for _ in range(3):
        assert items(**{"wsgi.run_once": "param"})["wsgi.run_once"] is False
    assert items(QUERY_STRING="c", EXTRA_PARAM="x")["EXTRA_PARAM"] == "x"
    assert "EXTRA_PARAM" not in items(QUERY_STRING="c")
    # Values of the same length, of another length and back (the template
    # keeps their bytes, in place while the length stays).
    for q, port in [("x=1", "1"), ("x=2", "22"), ("x=22", "22"), ("x=1", "3"), ("y=333", "4444"), ("x=4", "4445")]:
        got = items(QUERY_STRING=q, REMOTE_PORT=port)
        assert (got["QUERY_STRING"], got["REMOTE_PORT"]) == (q, port)


def test_kept_completion_follows_the_params_it_reads(shapes):
    """After two requests with the same CONTENT_*/PATH_INFO/SCRIPT_NAME
    params the completed environ is kept and copied: a change of those
    params must complete it again, one of the others must reach it, and
    the application's changes to its copy must not."""
    n = 0
    for content_type, http_content_type, want in [("", "text/a", "text/a"), ("text/kept", "text/b", "text/kept"),
                                                  ("", "text/c", "text/c")]:
        for _ in range(4):
            n += 1
            got = json.loads(ask(shapes, "/environ-items", QUERY_STRING=f"n={n}", CONTENT_TYPE=content_type,
                                 HTTP_CONTENT_TYPE=http_content_type).headers_and_body[1])
            assert (got["CONTENT_TYPE"], got["QUERY_STRING"], got["REQUEST_METHOD"]) == (want, f"n={n}", "GET")
            assert (got["PATH_INFO"], got["SCRIPT_NAME"]) == ("/environ-items", "")
            assert "HTTP_CONTENT_TYPE" not in got and "shapes.added" not in got
    for script, path in [("/environ-items", "/environ-items"), ("/", "/environ-items")]:
        for _ in range(3):
            got = json.loads(ask(shapes, "/ignored", SCRIPT_NAME=script, PATH_INFO=path).headers_and_body[1])
            assert (got["PATH_INFO"], got["SCRIPT_NAME"]) == ("/environ-items", "" if script == "/" else script)


@pytest.mark.parametrize("variant", ["custom", "shadowed"])
def test_subclass_overrides_of_environ_and_start_response_are_used(tmp_path, variant):
    """Also: the application replaces gateway.wsgi_app while it runs, and
    (shadowed) a subclass whose class attribute hides the wsgi_app slot."""
    sock = str(tmp_path / "custom.sock")
    argv = [sys.executable, str(APPS / "shapes.py"), sock] + ([variant] if variant == "shadowed" else [])
    app = harness.Process(argv, log=tmp_path / "custom.log")
    try:
        harness.wait_until(lambda: harness.can_connect(sock) or not app.alive(), timeout=30, what="CustomGateway")
        assert app.alive(), app.log()
        conn = Conn(sock)
        for _ in range(2):
            assert ask(conn, "/list").stdout == HEAD + b"X-Wrapped: 1\r\nContent-Length: 2\r\n\r\nhi"
            out = json.loads(ask(conn, "/environ").headers_and_body[1])
            assert out["shapes.custom"] == "yes" and out["PATH_INFO"] == "/environ"
            rebound = HEAD + b"X-Wrapped: 1\r\nContent-Length: 7\r\n\r\nrebound"
            assert ask(conn, "/rebind").stdout == rebound
        conn.close()
    finally:
        app.stop()


def test_the_c_path_does_not_leak_per_request(shapes):
    rotation = ["/list", "/tuple", "/keywords", "/exc-info-keyword", "/written", "/latin1", "/sub-status",
                "/environ", "/empty"]

    def stats():
        return json.loads(ask(shapes, "/stats").headers_and_body[1])

    for n in range(2000):
        ask(shapes, rotation[n % len(rotation)])
    before = stats()
    for n in range(20000):
        ask(shapes, rotation[n % len(rotation)])
    after = stats()
    # One leaked object per request would be 20 000 blocks.
    assert after["blocks"] - before["blocks"] < 1000, (before, after)
    assert after["objects"] - before["objects"] < 300, (before, after)


def test_the_c_path_under_valgrind_is_clean(tmp_path):
    """Every shape once or twice, the gateway under valgrind: no invalid access
    or uninitialised use in the shim, nothing of ours definitely lost."""
    sock = str(tmp_path / "vg.sock")
    log = tmp_path / "valgrind.log"
    env = dict(os.environ, PYTHONMALLOC="malloc")
    argv = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite", f"--log-file={log}",
            sys.executable, str(APPS / "shapes.py"), sock]
    app = harness.Process(argv, env=env, log=tmp_path / "app.log")
    try:
        harness.wait_until(lambda: harness.can_connect(sock) or not app.alive(), timeout=120, what="valgrind")
        assert app.alive(), app.log()
        conn = Conn(sock, timeout=120)
        for path in ["/list", "/tuple", "/given-length", "/no-content", "/written", "/keywords",
                     "/exc-info-keyword", "/bad-keyword", "/one-argument", "/sub-status", "/sub-header",
                     "/latin1", "/str-block", "/environ", "/rebind"] * 2:
            assert ask(conn, path).stdout.startswith(b"Status: ")
        conn.close()
    finally:
        code = app.stop(timeout=60)
    assert code == 0, app.log()[-2000:]
    harness.assert_valgrind_clean(log.read_text())
