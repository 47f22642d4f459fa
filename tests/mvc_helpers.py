"""Helpers for the smisk.mvc tests: start an MVC script bound to a unix
socket in a temp dir, and ask it over FastCGI (or as a CGI script)."""
import json
import os
import subprocess

import harness
from fcgi_client import Conn, default_params

MVC_APP = harness.ROOT / "tests" / "apps" / "mvc_app.py"
EXAMPLES = harness.ROOT / "examples" / "mvc"


class Answer:
    def __init__(self, stdout):
        head, _, self.body = stdout.partition(b"\r\n\r\n")
        self.headers = []
        for line in head.decode("latin-1").split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                self.headers.append((name.strip(), value.strip()))
        status = self.header("Status") or "200 OK"
        self.status = int(status.split()[0])

    def header(self, name):
        return harness.header(self.headers, name)

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def content_type(self):
        return self.header("Content-Type")

    def __repr__(self):
        return f"<Answer {self.status} {self.headers} {self.body[:300]!r}>"


def params_for(path, method="GET", query="", headers=None, body=b"", content_type=None):
    p = default_params(script=path, query=query, method=method)
    p["REQUEST_URI"] = path + ("?" + query if query else "")
    if body or method in ("POST", "PUT", "PATCH"):
        p["CONTENT_LENGTH"] = str(len(body))
    if content_type:
        p["CONTENT_TYPE"] = content_type
    for name, value in (headers or {}).items():
        p["HTTP_" + name.upper().replace("-", "_")] = value
    return p


def ask(address, path, method="GET", query="", headers=None, body=b"", content_type=None, params=None):
    """One FastCGI request: an Answer (status, headers, body)."""
    c = Conn(address, timeout=30)
    try:
        p = params if params is not None else params_for(path, method, query, headers, body, content_type)
        r = c.request(params=p, body=body)
    finally:
        c.close()
    return Answer(r.stdout)


def start(tmp, script=MVC_APP, args=(), env=None, name="mvc"):
    """The script bound to a unix socket in tmp (--bind)."""
    sock = str(tmp / f"{name}.sock")
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = harness.Process([harness.VENV_PYTHON, script, "--bind", sock, *args], env=full_env,
                        log=tmp / f"{name}.log")
    harness.wait_until(lambda: harness.can_connect(sock) or not p.alive(), what=f"{script} on {sock}")
    assert p.alive(), p.log()
    p.address = sock
    return p


def cgi(script, path, method="GET", query="", headers=None, body=b"", content_type=None, env=None, args=()):
    """The script run once as a CGI program (GATEWAY_INTERFACE set, stdin
    the body): an Answer from its stdout."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("HTTP_")}
    e.update(params_for(path, method, query, headers, body, content_type))
    e["PATH_INFO"] = path
    e["SCRIPT_NAME"] = ""
    e.update(env or {})
    out = subprocess.run([str(harness.VENV_PYTHON), str(script), *args], env=e, input=body, capture_output=True,
                         timeout=60)
    assert out.returncode == 0, out
    stdout = out.stdout.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    a = Answer(stdout)
    a.stderr = out.stderr
    return a
