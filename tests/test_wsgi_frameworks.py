"""A real Flask and a real Django application (tests/apps/wsgi/) served by
smisk-wsgi with two workers behind a real nginx: routes, forms, file
uploads, cookies and each framework's own sessions."""
import hashlib
import http.cookiejar
import json
import os
import random
import signal
import urllib.error
import urllib.request

import pytest

import harness
from test_shim_app import MP, multipart
from wsgi_helpers import fetch, header, start_runner


class Browser:
    """urllib with a cookie jar: what a browser would send back."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def open(self, path, data=None, headers=None):
        req = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def json(self, path, **kw):
        status, _, body = self.open(path, **kw)
        assert status == 200, (status, body[:1000])
        return json.loads(body)

    def cookie(self, name):
        return next((c for c in self.jar if c.name == name), None)


def increments(browser, path, n):
    outs = [browser.json(path) for _ in range(n)]
    return [o["n"] for o in outs], {o["pid"] for o in outs}


def restart_workers(app):
    """SIGHUP to smisk-wsgi: new worker processes replace the old ones, so
    state that survives lives outside the workers (cookie, database)."""
    log = app.log()
    booted, exited = log.count("Booting worker"), log.count("exiting (pid")
    os.kill(app.pid, signal.SIGHUP)
    harness.wait_until(lambda: app.log().count("Booting worker") >= booted + 2
                       and app.log().count("exiting (pid") >= exited + 2, timeout=40, what="workers restarted")


def serve(tmp_path_factory, name, spec, env=None):
    tmp = tmp_path_factory.mktemp(name)
    app = start_runner(tmp, spec, "--forks", "2", name=name, env=env)
    nginx = harness.Nginx(tmp, app.address)
    return app, nginx, tmp


UPLOAD = random.Random(3).randbytes(300 * 1024)


# ---- Flask --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flask_site(tmp_path_factory):
    app, nginx, _ = serve(tmp_path_factory, "flask", "flaskapp:app")
    yield nginx, app
    nginx.stop()
    app.stop()


def test_flask_routes_redirect_404_and_own_500(flask_site):
    nginx, app = flask_site
    b = Browser(nginx.url(""))
    assert b.open("/")[2] == b"hello from flask"
    out = b.json("/user/j%C3%B6rg/42?tag=a&tag=b")
    assert out["name"] == "j\u00f6rg" and out["n"] == 42 and out["args"] == {"tag": ["a", "b"]}
    status, _, body = b.open("/go")  # redirect followed by urllib
    assert (status, body) == (200, b"hello from flask")
    assert b.open("/user/x/notanint")[0] == 404
    status, _, body = b.open("/boom")
    assert status == 500 and b"Internal Server Error" in body  # Flask's page, not smisk's
    assert "flask view failed" in nginx.error_log()  # app.logger writes to wsgi.errors
    assert b.open("/")[0] == 200


def test_flask_form_fields_and_file_uploads(flask_site):
    nginx, _ = flask_site
    body = multipart([("title", None, None, "gr\u00fc\u00dfe".encode()), ("tags", None, None, b"a"),
                      ("tags", None, None, b"b"), ("doc", "big.bin", "application/octet-stream", UPLOAD),
                      ("doc", "small.txt", "text/plain", b"hello\n")])
    out = Browser(nginx.url("")).json("/form", data=body, headers=MP)
    assert out["form"] == {"title": ["gr\u00fc\u00dfe"], "tags": ["a", "b"]}
    docs = out["files"]["doc"]
    assert [d["filename"] for d in docs] == ["big.bin", "small.txt"]
    assert docs[0]["size"] == len(UPLOAD) and docs[0]["sha1"] == hashlib.sha1(UPLOAD).hexdigest()
    assert docs[1]["sha1"] == hashlib.sha1(b"hello\n").hexdigest() and docs[1]["content_type"] == "text/plain"


def test_flask_urlencoded_form_and_json(flask_site):
    nginx, _ = flask_site
    b = Browser(nginx.url(""))
    out = b.json("/form", data=b"title=a+b%26c&tags=1&tags=2",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert out["form"] == {"title": ["a b&c"], "tags": ["1", "2"]}
    payload = {"k": ["v", 1, None], "u": "\u2603"}
    out = b.json("/json", data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    assert out["got"] == payload and out["length"] == len(json.dumps(payload))


def test_flask_cookies_and_signed_session_across_workers(flask_site):
    nginx, app = flask_site
    b = Browser(nginx.url(""))
    status, headers, _ = b.open("/cookie/set?v=ginger")
    assert status == 200 and "HttpOnly" in headers["Set-Cookie"]
    assert b.json("/cookie/get") == {"flavour": "ginger"}
    first, old_pids = increments(b, "/session/incr", 6)
    restart_workers(app)
    second, new_pids = increments(b, "/session/incr", 6)
    # New processes continued the count: the signed cookie carried the state.
    assert first + second == list(range(1, 13))
    assert not old_pids & new_pids
    assert b.cookie("session") is not None
    # A tampered session cookie is not trusted: a fresh session starts.
    b.cookie("session").value = b.cookie("session").value[:-2] + "xx"
    assert b.json("/session/incr")["n"] == 1
    assert Browser(nginx.url("")).json("/session/incr")["n"] == 1  # a new client: its own session


def test_flask_streamed_response(flask_site):
    nginx, _ = flask_site
    status, headers, body = fetch(nginx.port, "/stream?n=500")
    assert status == 200 and body == b"".join(b"chunk %d\n" % i for i in range(500))
    assert header(headers, "Content-Type").startswith("text/plain")


# ---- Django ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def django_site(tmp_path_factory):
    data = tmp_path_factory.mktemp("django-data")
    app, nginx, _ = serve(tmp_path_factory, "django", "djangoapp:application",
                          env={"DJANGO_TEST_DIR": str(data)})
    yield nginx, app, data
    nginx.stop()
    app.stop()


def test_django_routes_and_404(django_site):
    nginx, _, _ = django_site
    b = Browser(nginx.url(""))
    assert b.open("/")[2] == b"hello from django"
    out = b.json("/items/7/?q=%C3%A5")
    assert out["n"] == 7 and out["path"] == "/items/7/" and out["q"] == {"q": "\u00e5"}
    # Debian's fastcgi_params send HTTP_HOST as $host (no port).
    assert out["secure"] is False and out["host"] == "127.0.0.1"
    assert b.open("/items/x/")[0] == 404
    # CommonMiddleware's APPEND_SLASH redirect, followed.
    status, _, body = b.open("/items/8")
    assert status == 200 and json.loads(body)["n"] == 8


def test_django_csrf_protected_form_with_uploads(django_site):
    nginx, _, data = django_site
    b = Browser(nginx.url(""))
    token = b.json("/csrf/")["token"]
    assert b.cookie("csrftoken") is not None
    body = multipart([("csrfmiddlewaretoken", None, None, token.encode()), ("name", None, None, b"d\xc3\xa9j\xc3\xa0"),
                      ("f", "big.bin", "application/octet-stream", UPLOAD), ("f", "s.txt", "text/plain", b"tiny")])
    headers = dict(MP, Referer=nginx.url("/csrf/"))
    out = b.json("/form/", data=body, headers=headers)
    assert out["post"] == {"name": ["d\u00e9j\u00e0"]}
    big, small = out["files"]["f"]
    assert big["size"] == len(UPLOAD) and big["sha1"] == hashlib.sha1(UPLOAD).hexdigest()
    assert big["on_disk"] is True  # the body is over FILE_UPLOAD_MAX_MEMORY_SIZE: spooled
    assert small["size"] == 4 and small["sha1"] == hashlib.sha1(b"tiny").hexdigest()
    # Without the token, Django's CSRF check answers 403.
    no_token = multipart([("name", None, None, b"x")])
    assert Browser(nginx.url("")).open("/form/", data=no_token, headers=MP)[0] == 403
    assert not list(data.glob("*.upload*"))  # Django removed its temp files


def test_django_sessions_in_sqlite_across_workers(django_site):
    nginx, app, data = django_site
    b = Browser(nginx.url(""))
    first, old_pids = increments(b, "/session/", 6)
    restart_workers(app)
    second, new_pids = increments(b, "/session/", 6)
    assert first + second == list(range(1, 13))
    assert not old_pids & new_pids
    sid = b.cookie("sessionid")
    assert sid is not None and (data / "db.sqlite3").exists()
    other = Browser(nginx.url(""))
    assert other.json("/session/")["n"] == 1


def test_django_cookies(django_site):
    nginx, _, _ = django_site
    b = Browser(nginx.url(""))
    status, headers, _ = b.open("/cookie/?set=teal")
    assert status == 200 and "HttpOnly" in headers["Set-Cookie"] and "SameSite=Lax" in headers["Set-Cookie"]
    assert b.json("/cookie/") == {"colour": "teal"}
