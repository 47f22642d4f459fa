"""The MVC examples (examples/mvc/) behind a real nginx in its default
FastCGI set-up (fastcgi_keep_conn off, a unix socket in a temp dir), and
the key-value store through the built-in HTTP server (--http). Requests are
repeated: every one is a new FastCGI connection."""
import json
import plistlib
import re
import urllib.parse
import xmlrpc.client

import pytest
import yaml

import harness
import mvc_helpers as mh

REPEATS = 5
KVSTORE = mh.EXAMPLES / "kvstore" / "kvstore.py"
GUESTBOOK = mh.EXAMPLES / "guestbook" / "guestbook.py"


@pytest.fixture
def behind_nginx(tmp_path, nginx_factory):
    started = []

    def start(script, *args):
        p = mh.start(tmp_path, script, args=args, name=script.stem)
        started.append(p)
        return p, nginx_factory(p.address, keep_conn=False)

    yield start
    for p in started:
        assert p.stop() == 0, p.log()


def fetch(port, path, method="GET", body=None, headers=None):
    return harness.http_fetch(port, path, method, body, headers)


def test_minimal_behind_nginx(behind_nginx):
    p, nginx = behind_nginx(mh.EXAMPLES / "minimal.py")
    pids = set()
    for i in range(REPEATS * 4):
        status, headers, body = fetch(nginx.port, f"/hello.json?name=n{i}")
        assert status == 200, body
        answer = json.loads(body)
        assert answer["message"] == f"Hello n{i}!"
        pids.add(answer["pid"])
    assert len(pids) == 1
    status, headers, body = fetch(nginx.port, "/hello?name=x", headers={"Accept": "application/x-yaml"})
    assert status == 200 and yaml.safe_load(body)["message"] == "Hello x!"
    assert harness.header(headers, "Content-Location") == "/hello.yaml?name=x"
    status, headers, body = fetch(nginx.port, "/", headers={"Accept": "text/html,application/xhtml+xml;q=0.9"})
    assert status == 200 and b"Hello World!" in body and harness.header(headers, "Content-Type").startswith("text/html")
    status, _, body = fetch(nginx.port, "/nope.json")
    assert status == 404 and json.loads(body)["code"] == 404
    assert "Traceback" not in p.log()


def kv_requests(port):
    """PUT in JSON, YAML, XML-RPC and a form; GET by extension and Accept;
    DELETE. (status, decoded answer) checks at each step."""
    for n in range(REPEATS):
        key = f"k{n}.v"  # a dot that is not a format extension stays in the key
        status, _, body = fetch(port, f"/entry/{key}", "PUT", json.dumps({"value": [n, "ä"]}).encode(),
                                {"Content-Type": "application/json", "Accept": "application/json"})
        assert status == 201, body
        assert json.loads(body) == {"key": key, "value": [n, "ä"]}
        status, _, body = fetch(port, f"/entry/{key}.json")
        assert status == 200 and json.loads(body)["value"] == [n, "ä"]
        status, headers, body = fetch(port, f"/entry/{key}", headers={"Accept": "application/x-yaml"})
        assert status == 200 and yaml.safe_load(body) == {"key": key, "value": [n, "ä"]}
        status, _, body = fetch(port, f"/entry/{key}.xmlrpc")
        assert xmlrpc.client.loads(body)[0][0] == {"key": key, "value": [n, "ä"]}
        status, _, body = fetch(port, f"/entry/{key}.plist")
        assert plistlib.loads(body) == {"key": key, "value": [n, "ä"]}
        # YAML and XML-RPC bodies; the key captured from the path wins over one in the query
        status, _, body = fetch(port, f"/entry/{key}?key=other", "PUT", b"value: yaml\n",
                                {"Content-Type": "application/x-yaml", "Accept": "application/x-yaml"})
        assert status == 200 and yaml.safe_load(body) == {"key": key, "value": "yaml"}
        # XML-RPC: the method name entry.r<n> is the path /entry/r<n>; answered in XML-RPC
        call = xmlrpc.client.dumps(({"value": "rpc"},), methodname=f"entry.r{n}").encode()
        status, _, body = fetch(port, "/", "POST", call, {"Content-Type": "application/rpc+xml"})
        assert status == 201 and xmlrpc.client.loads(body)[0][0] == {"key": f"r{n}", "value": "rpc"}
        assert fetch(port, f"/entry/r{n}", "DELETE", headers={"Accept": "*/*"})[0] == 200
        status, _, body = fetch(port, f"/entry/{key}", "POST", urllib.parse.urlencode({"value": "form"}).encode(),
                                {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200 and json.loads(body)["value"] == "form"  # the configured default: JSON
        status, _, body = fetch(port, "/.json")
        assert key in json.loads(body)["keys"]
        status, _, body = fetch(port, f"/entry/{key}", "DELETE", headers={"Accept": "application/json"})
        assert status == 200 and json.loads(body) == {"deleted": key}
        status, _, body = fetch(port, f"/entry/{key}.json")
        assert status == 404 and json.loads(body)["code"] == 404
        status, headers, _ = fetch(port, f"/entry/{key}.json", "PATCH")
        assert status in (404, 405)
    # refusals: unknown body type, malformed body, a method the route does not take
    status, _, _ = fetch(port, "/entry/x", "PUT", b"<x/>", {"Content-Type": "image/png", "Accept": "*/*"})
    assert status == 415
    status, _, body = fetch(port, "/entry/x", "PUT", b"{bad", {"Content-Type": "application/json"})
    assert status == 400 and json.loads(body)["code"] == 400
    status, headers, _ = fetch(port, "/set.json")
    assert status == 405 and harness.header(headers, "Allow") == "PUT, POST, OPTIONS"


def test_kvstore_behind_nginx(behind_nginx):
    p, nginx = behind_nginx(KVSTORE)
    kv_requests(nginx.port)
    assert "Traceback" not in p.log(), p.log()


def test_kvstore_through_the_http_mode(tmp_path):
    port = harness.free_port()
    p = harness.Process([harness.VENV_PYTHON, KVSTORE, "--http-port", str(port), "--http-addr", "127.0.0.1"],
                        log=tmp_path / "kv-http.log")
    try:
        harness.wait_until(lambda: "httpd listening" in p.log() or not p.alive(), what="kvstore --http")
        kv_requests(port)
    finally:
        assert p.stop() == 0, p.log()


def test_guestbook_templates_and_sessions_behind_nginx(behind_nginx):
    p, nginx = behind_nginx(GUESTBOOK)
    html = {"Accept": "text/html"}
    cookie = None
    for visit in range(1, REPEATS + 1):
        headers = dict(html, Cookie=cookie) if cookie else html
        status, got, body = fetch(nginx.port, "/", headers=headers)
        assert status == 200, body
        assert f'<p id="visits">Visit number {visit}.</p>'.encode() in body
        set_cookie = harness.header(got, "Set-Cookie")
        if cookie is None:
            assert re.match(r"SID=[0-9a-v]{32}; Path=/; HttpOnly; SameSite=Lax$", set_cookie), set_cookie
            cookie = set_cookie.split(";")[0]
    form = urllib.parse.urlencode({"name": "<script>x</script>", "message": "hej ☃ & hå"}).encode()
    status, got, _ = fetch(nginx.port, "/sign", "POST", form,
                           {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"})
    assert status == 303 and harness.header(got, "Location").endswith("/")
    status, _, body = fetch(nginx.port, "/", headers=html)
    page = body.decode()
    assert "<b>&lt;script&gt;x&lt;/script&gt;</b>: hej ☃ &amp; hå" in page   # |h escapes
    assert "<script>x</script>" not in page
    assert '"name": "\\u003cscript\\u003ex\\u003c/script\\u003e"' in page      # |j is safe in <script>
    status, _, body = fetch(nginx.port, "/messages.json")
    assert json.loads(body)["entries"][0]["name"] == "<script>x</script>"
    status, _, body = fetch(nginx.port, "/no/such/page", headers=html)
    assert status == 404 and b'<h1 id="error">404 Not Found</h1>' in body   # the error template
    status, _, body = fetch(nginx.port, "/sign", "POST", b"name=&message=",
                            {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"})
    assert status == 400
    status, _, body = fetch(nginx.port, "/sign", "POST", b"name=a",
                            {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
    assert status == 400 and json.loads(body)["description"] == "Missing required parameters: message"
    assert "Traceback" not in p.log(), p.log()
