"""An answer is never lost because the application left request input
unread: the matrix of web servers (nginx with fastcgi_keep_conn off, its
default, and on, over a unix socket and over TCP; lighttpd; Apache
mod_proxy_fcgi) × applications that read none, part or exactly
CONTENT_LENGTH of the body × body sizes, each cell repeated (it is a race).
Every answer's status and complete body are checked; the pass mark is zero
wrong answers.

Run alone, `python tests/test_unread_body.py [REPS_SCALE]` prints the whole
table (correct answers per cell) instead of asserting.
"""
import concurrent.futures
import hashlib
import http.client
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from wsgi_helpers import APPS, SMISK_WSGI  # noqa: E402

# Body size -> repetitions per cell (fewer for the big bodies, never < 5).
SIZES = {"64 KiB": (64 << 10, 20), "1 MiB": (1 << 20, 20), "10 MiB": (10 << 20, 20), "50 MiB": (50 << 20, 5)}
FORM_APP = harness.ROOT / "tests" / "apps" / "form_limit.py"
BOUNDARY = "unreadbodyboundary7MA4YWxk"

_data = random.Random(15).randbytes(max(size for size, _ in SIZES.values()))
_bodies = {}


def body(app, size):
    """(request body, content type) for one app and size, built once."""
    key = (app, size)
    if key not in _bodies:
        data = _data[:size]
        if app == "django-upload":
            head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n"
                    "Content-Type: application/octet-stream\r\n\r\n").encode()
            _bodies[key] = (head + data + f"\r\n--{BOUNDARY}--\r\n".encode(),
                            f"multipart/form-data; boundary={BOUNDARY}")
        elif app == "form-413":
            _bodies[key] = (b"a=" + data[:size - 2], "application/x-www-form-urlencoded")
        else:
            _bodies[key] = (data, "application/octet-stream")
    return _bodies[key]


_digests = {}


def sha1_of(size):
    if size not in _digests:
        _digests[size] = hashlib.sha1(_data[:size]).hexdigest()
    return _digests[size]


HELLO = (200, b"Hello World!\n")


def check(app, size, rep, status, payload):
    """None when the answer is the right one, else what was wrong."""
    if app in ("c-hello", "py-hello"):
        want = HELLO
    elif app == "wsgi-403-404":
        want = (403, b"forbidden\n") if rep % 2 == 0 else (404, b"missing\n")
    elif app == "read-exact":
        want = (200, f"{size} {sha1_of(size)}\n".encode())
    elif app == "django-upload":
        if status == 200 and payload.startswith(b"{"):
            got = json.loads(payload)
            return None if got == {"size": size, "sha1": sha1_of(size)} else f"200 {got}"
        want = (200, b"json")
    elif app == "form-413":
        # The built-in error page: complete when it ends with its last line.
        if status == 413 and b"RequestTooLargeError" in payload and payload.endswith(b"</body></html>\r\n"):
            return None
        want = (413, b"the error page")
    elif app == "flask-413":
        if status == 413 and b"Request Entity Too Large" in payload and payload.rstrip().endswith(b"</p>"):
            return None
        want = (413, b"Werkzeug's page")
    else:
        raise ValueError(app)
    return None if (status, payload) == want else f"{status} {payload[:120]!r}"


PATHS = {
    "c-hello": lambda rep: "/c/hello",
    "py-hello": lambda rep: "/py/hello",
    "wsgi-403-404": lambda rep: "/wsgi/forbidden" if rep % 2 == 0 else "/wsgi/missing",
    "form-413": lambda rep: "/form/post",
    "read-exact": lambda rep: "/wsgi/read-exact",
    "flask-413": lambda rep: "/flask/upload",
    "django-upload": lambda rep: "/django/upload/",
}
APPS_IN_ORDER = list(PATHS)
FRONTS = ["nginx, keep_conn off, unix", "nginx, keep_conn off, TCP", "nginx, keep_conn on, unix",
          "nginx, keep_conn on, TCP", "lighttpd, unix", "Apache mod_proxy_fcgi, TCP"]


def ask(port, app, size, rep):
    data, ctype = body(app, size)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", PATHS[app](rep), body=data, headers={"Content-Type": ctype})
        resp = conn.getresponse()
        return check(app, size, rep, resp.status, resp.read())
    except (OSError, http.client.HTTPException) as e:
        return f"{type(e).__name__}: {e}"
    finally:
        conn.close()


class Stack:
    """The applications on unix sockets and on TCP (prefork there), and the
    six front ends, all in one temp dir, stopped by their PIDs."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.procs = []
        env = {"DJANGO_TEST_DIR": str(self.tmp)}
        unix = self.apps("unix", lambda name: str(self.tmp / f"{name}.sock"), forks=0, env=env)
        tcp = self.apps("tcp", lambda name: f"127.0.0.1:{harness.free_port()}", forks=2, env=env)
        self.fronts = {}
        for keep in (False, True):
            for kind, apps in (("unix", unix), ("TCP", tcp)):
                label = f"nginx, keep_conn {'on' if keep else 'off'}, {kind}"
                self.fronts[label] = self.started(harness.Nginx(self.tmp, self.routes(apps), keep_conn=keep))
        self.fronts["lighttpd, unix"] = self.started(harness.Lighttpd(self.tmp, self.routes(unix)))
        self.fronts["Apache mod_proxy_fcgi, TCP"] = self.started(harness.Apache(self.tmp, self.routes(tcp)))

    def started(self, p):
        self.procs.append(p)
        return p

    def apps(self, kind, address_of, forks, env):
        d = self.tmp / kind
        d.mkdir()
        full_env = dict(os.environ, **env)
        c = self.started(harness.start_app(d, harness.HELLO, address=address_of("c")))
        py = self.started(harness.start_app(d, harness.PY_HELLO, address=address_of("py")))
        form_address = address_of("form")
        form = self.started(harness.start_app(d, [harness.VENV_PYTHON, FORM_APP], address=form_address))
        wsgi_address = address_of("wsgi")
        argv = [SMISK_WSGI, "unread:application", "--bind", wsgi_address, "--chdir", APPS, "--forks", str(forks)]
        wsgi = self.started(harness.Process(argv, env=full_env, log=d / "wsgi.log"))
        target = wsgi_address if "/" in wsgi_address else ("127.0.0.1", int(wsgi_address.rsplit(":", 1)[1]))
        harness.wait_until(lambda: harness.can_connect(target) or not wsgi.alive(), timeout=60, what="smisk-wsgi")
        assert wsgi.alive(), wsgi.log()
        return {"c": c.address, "py": py.address, "form": form.address, "wsgi": target}

    @staticmethod
    def routes(apps):
        return {"/c/": apps["c"], "/py/": apps["py"], "/form/": apps["form"], "/wsgi/": apps["wsgi"],
                "/flask/": apps["wsgi"], "/django/": apps["wsgi"]}

    def stop(self):
        for p in reversed(self.procs):
            p.stop()


def run_cell(front, app, size, reps, pool):
    """Wrong answers of one cell: [(rep, what)]."""
    results = pool.map(lambda rep: (rep, ask(front.port, app, size, rep)), range(reps))
    return [(rep, what) for rep, what in results if what is not None]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("unread"))
    yield s
    s.stop()


@pytest.mark.parametrize("front_name", FRONTS)
def test_no_answer_is_lost_to_unread_input(stack, front_name):
    front = stack.fronts[front_name]
    wrong = {}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for app in APPS_IN_ORDER:
            for label, (size, reps) in SIZES.items():
                bad = run_cell(front, app, size, reps, pool)
                if bad:
                    wrong[f"{app}, {label}"] = f"{len(bad)} of {reps} wrong, e.g. {bad[0]}"
    assert wrong == {}, "\n".join(f"{k}: {v}" for k, v in wrong.items()) + "\n" + front.error_log()[-2000:]
    for p in stack.procs:
        assert p.alive(), p.log()


def main(argv):
    scale = float(argv[1]) if len(argv) > 1 else 1.0
    harness.build_programs()
    with tempfile.TemporaryDirectory() as tmp:
        s = Stack(tmp)
        try:
            labels = list(SIZES)
            print(f"| front end | app | {' | '.join(labels)} |")
            print("|---|---|" + "---|" * len(labels))
            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                for front_name in FRONTS:
                    for app in APPS_IN_ORDER:
                        cells = []
                        for label in labels:
                            size, reps = SIZES[label]
                            reps = max(5, round(reps * scale))
                            bad = run_cell(s.fronts[front_name], app, size, reps, pool)
                            cells.append(f"{reps - len(bad)} of {reps}")
                        print(f"| {front_name} | {app} | {' | '.join(cells)} |", flush=True)
            print(f"({time.monotonic() - started:.0f} s)")
        finally:
            s.stop()


if __name__ == "__main__":
    main(sys.argv)
