"""WSGI test applications for tests/test_wsgi.py, served by smisk-wsgi.

Routes under /v/ are wrapped in wsgiref.validate.validator, with its
warnings turned into errors, so any PEP 3333 violation by the gateway (or a
missing close()) makes that request fail. Routes under /raw/ break the
rules on purpose to check how the gateway reacts. /state reports what the
process recorded: close() calls, re-raised exceptions, and everything the
validator reported outside a request (sys.unraisablehook), so an iterator
garbage-collected without close() is seen too.
"""
import json
import os
import sys
import time
import warnings
from wsgiref.validate import WSGIWarning, validator

warnings.simplefilter("error", WSGIWarning)

STATE = {"closed": [], "reraised": [], "unraisable": [], "pid": os.getpid()}


def _unraisable(info):
    STATE["unraisable"].append(f"{info.exc_type.__name__}: {info.exc_value} ({info.object!r})")


sys.unraisablehook = _unraisable


def text(start_response, body, status="200 OK", ctype="application/json"):
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def query(environ):
    out = {}
    for part in environ.get("QUERY_STRING", "").split("&"):
        if part:
            k, _, v = part.partition("=")
            out[k] = v
    return out


class Tracked:
    """An iterable with close() that records the call; `fail_at` makes
    iteration raise at that block."""

    def __init__(self, name, blocks, fail_at=None, start=None):
        self.name, self.it, self.fail_at, self.start = name, iter(blocks), fail_at, start
        self.i = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.start is not None:
            start, self.start = self.start, None
            start()
        if self.i == self.fail_at:
            raise RuntimeError(f"{self.name} failed at block {self.i}")
        self.i += 1
        return next(self.it)

    def close(self):
        STATE["closed"].append(self.name)


# ---- validated ------------------------------------------------------------


def v_hello(environ, start_response):
    return text(start_response, b"Hello World!\n", ctype="text/plain")


def v_environ(environ, start_response):
    plain = {k: v for k, v in environ.items() if "." not in k}
    return text(start_response, {
        "cgi": plain,
        "types": sorted({type(v).__name__ for v in plain.values()}),
        "version": list(environ["wsgi.version"]),
        "url_scheme": environ["wsgi.url_scheme"],
        "multithread": environ["wsgi.multithread"],
        "multiprocess": environ["wsgi.multiprocess"],
        "run_once": environ["wsgi.run_once"],
        "input_terminated": environ.get("wsgi.input_terminated"),
        "file_wrapper": environ.get("wsgi.file_wrapper") is not None,
    })


def v_input(environ, start_response):
    q = query(environ)
    inp = environ["wsgi.input"]
    mode = q.get("mode", "read")
    out = {"mode": mode}
    if mode == "read":
        n = int(q.get("n", "1000"))
        parts = []
        while True:
            b = inp.read(n)
            if not b:
                break
            parts.append(b)
        data = b"".join(parts)
        out["sizes"] = sorted({len(p) for p in parts})
    elif mode == "readline":
        lines = []
        while True:
            line = inp.readline()
            if not line:
                break
            lines.append(line)
        data = b"".join(lines)
        out["lines"] = len(lines)
        out["limited"] = None
    elif mode == "readline-limit":
        first = inp.readline(int(q["n"]))
        out["first"] = first.decode("latin-1")
        data = first + inp.read(1 << 30)
    elif mode == "readlines":
        lines = inp.readlines()
        out["lines"] = len(lines)
        data = b"".join(lines)
    elif mode == "readlines-hint":
        lines = inp.readlines(int(q["hint"]))
        out["lines"] = len(lines)
        data = b"".join(lines) + inp.read(1 << 30)
    else:  # iteration
        lines = list(inp)
        out["lines"] = len(lines)
        data = b"".join(lines)
    out["eof"] = [inp.read(10).decode(), inp.readline().decode()]
    out["len"] = len(data)
    out["sum"] = sum(data) % 65521
    out["content_length"] = environ.get("CONTENT_LENGTH")
    return text(start_response, out)


def v_stream(environ, start_response):
    q = query(environ)
    total = int(q.get("bytes", "1000"))
    chunk = int(q.get("chunk", "65536"))
    block = (b"0123456789abcdef" * (chunk // 16 + 1))[:chunk]
    start_response("200 OK", [("Content-Type", "application/octet-stream")])

    def gen():
        left = total
        while left > 0:
            yield block if left >= chunk else block[:left]
            left -= chunk

    return Tracked("stream", gen())


def v_write(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"one ")
    write(b"")
    write(b"two ")
    return Tracked("write", [b"three ", b"", b"four"])


def v_push(environ, start_response):
    # Waits (bounded) for the client to confirm it got the first block: a
    # gateway that buffered the block until the next one would make the
    # client wait instead.
    q = query(environ)
    marker = q["marker"]
    write = start_response("200 OK", [("Content-Type", "text/plain")])

    def wait():
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            if os.path.exists(marker):
                return b"saw marker"
            time.sleep(0.01)
        return b"no marker"

    if q.get("mode") == "write":
        write(b"first ")
        return [wait()]

    def gen():
        yield b"first "
        yield wait()

    return gen()


def v_empty_blocks(environ, start_response):
    # Headers go out with the first non-empty block, so a status can still
    # be replaced (exc_info) after empty blocks.
    def gen():
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b""
        try:
            raise KeyError("late")
        except KeyError:
            start_response("503 Replaced", [("Content-Type", "text/plain")], sys.exc_info())
        yield b"replaced body"

    return gen()


def v_raise_before(environ, start_response):
    raise ValueError("raised before start_response")


def v_raise_in_iter(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Tracked("raise-in-iter", [b"first block "], fail_at=1)


def v_raise_first_block(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Tracked("raise-first-block", [], fail_at=0)


def v_exc_info_replace(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Dropped", "1")])
    try:
        raise LookupError("caught")
    except LookupError:
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"error page of the application"]


def v_exc_info_after_sent(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    def gen():
        yield b"partial "
        try:
            raise OSError("disk gone")
        except OSError as e:
            original = e
            try:
                start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
            except OSError as again:
                STATE["reraised"].append({"same": again is original, "msg": str(again)})
                raise
        yield b"never"

    return Tracked("exc-info-after-sent", gen())


def v_file(environ, start_response):
    q = query(environ)
    f = open(q["path"], "rb")
    if "skip" in q:
        f.seek(int(q["skip"]))
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](f, 8192)


def v_errors(environ, start_response):
    err = environ["wsgi.errors"]
    err.write("wsgi.errors line\n")
    err.writelines(["two ", "lines\n"])
    err.flush()
    return text(start_response, b"logged", ctype="text/plain")


def v_latin1_header(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Name", "caf\u00e9")])
    return [b"ok"]


def v_state(environ, start_response):
    return text(start_response, STATE)


def v_rss(environ, start_response):
    out = {"pid": os.getpid()}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return text(start_response, out)


# ---- raw: rule breakers, and what a validator wrapper would hide --------------


def r_file(environ, start_response):
    # Unwrapped, so the gateway sees its own wsgi.file_wrapper object.
    return v_file(environ, start_response)


def r_hop_by_hop(environ, start_response):
    name = query(environ).get("name", "Connection")
    start_response("200 OK", [("Content-Type", "text/plain"), (name, "close")])
    return [b"never"]


def r_bad_header(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Evil", "a\r\nSet-Cookie: x=1")])
    return [b"never"]


def r_bad_status(environ, start_response):
    start_response("OK", [("Content-Type", "text/plain")])
    return [b"never"]


def r_str_body(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Tracked("str-body", ["text, not bytes"])


def r_twice(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"never"]


def r_no_start_response(environ, start_response):
    return Tracked("no-start-response", [b"data without headers"])


def r_read_all(environ, start_response):
    inp = environ["wsgi.input"]
    data = inp.read()
    return text(start_response, {"len": len(data), "again": inp.read().decode()})


def r_hop_by_hop_in_iter(environ, start_response):
    # start_response itself raises inside the iteration: close() still runs.
    return Tracked("hop-in-iter", [b"x"], start=lambda: start_response(
        "200 OK", [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")]))


ROUTES = {}
for _name, _fn in list(globals().items()):
    if _name.startswith("v_"):
        ROUTES["/v/" + _name[2:].replace("_", "-")] = validator(_fn)
    elif _name.startswith("r_"):
        ROUTES["/raw/" + _name[2:].replace("_", "-")] = _fn


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    route = ROUTES.get(path)
    if route is None and path.startswith("/v/environ"):
        route = ROUTES["/v/environ"]
    if route is None:
        return text(start_response, b"no route " + path.encode("latin-1"), "404 Not Found", "text/plain")
    return route(environ, start_response)
