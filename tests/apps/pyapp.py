"""The Python test application for tests/test_shim_app.py: one route per
smisk.core feature, answering JSON (or plain text) so the tests can check
exactly what the application saw. Routed by SCRIPT_NAME; arguments in the
query string.

Usage: pyapp.py ADDRESS [FORKS]    (ADDRESS: unix socket path or host:port;
"-" serves from fd 0 / CGI without bind()).
"""
import gc
import json
import os
import shutil
import sys

import smisk.core as core


def jsonable(o):
    if isinstance(o, bytes):
        return {"bytes": o.decode("latin-1")}
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    return o


class TrackingResponse(core.Response):
    """A subclass with its own begin(), as smisk.mvc had: it adds a header."""

    def begin(self):
        if self.find_header("X-Begin-Hook") == -1:
            self.headers.append("X-Begin-Hook: yes")
        super().begin()


class TestApp(core.Application):
    def __init__(self):
        super().__init__()
        self.response_class = TrackingResponse
        self.served = 0

    def application_will_start(self):
        print(f"will_start worker={self.worker_index} pid={os.getpid()}", flush=True)

    def application_did_stop(self):
        print(f"did_stop pid={os.getpid()}", flush=True)

    def reply(self, obj, status=None):
        if status:
            self.response.headers.append(f"Status: {status}")
        self.response.headers.append("Content-Type: application/json")
        self.response.write(json.dumps(jsonable(obj)))

    def service(self):
        self.served += 1
        req = self.request
        route = req.env.get("SCRIPT_NAME", "/")
        q = req.get
        handler = getattr(self, "r_" + route.strip("/").replace("-", "_"), None)
        if handler is None:
            self.response.headers = ["Status: 404 Not Found"]
            self.response.write("no route " + route)
            return
        handler(req, q)

    # ---- request data
    def r_env(self, req, q):
        self.reply({"env": req.env, "types": sorted({type(k).__name__ + type(v).__name__
                                                     for k, v in req.env.items()}),
                    "method": req.method, "is_active": req.is_active})

    def r_is_active(self, req, q):
        # Does not touch env first.
        self.response.write("active" if req.is_active else "inactive")

    def r_url(self, req, q):
        u = req.url
        self.reply({"url": str(u), "scheme": u.scheme, "host": u.host, "port": u.port, "path": u.path,
                    "query": u.query, "referring": str(req.referring_url) if req.referring_url else None})

    def r_get(self, req, q):
        self.reply(q)

    def r_charset(self, req, q):
        self.charset = q.get("charset", "utf-8")
        self.tolerant = q.get("tolerant", "1") == "1"
        try:
            self.reply({"get": req.get, "post": req.post, "cookies": req.cookies})
        finally:
            self.charset = "utf-8"
            self.tolerant = True

    def r_post(self, req, q):
        if "mms" in q:
            req.max_multipart_size = int(q["mms"])
        if "mfs" in q:
            req.max_formdata_size = int(q["mfs"])
        files = {}
        for name, entry in req.files.items():
            entries = entry if isinstance(entry, list) else [entry]
            out = []
            for e in entries:
                with open(e["path"], "rb") as f:
                    data = f.read()
                st = os.stat(e["path"])
                out.append({**e, "data_len": len(data), "mode": oct(st.st_mode & 0o777),
                            "data_head": data[:64].decode("latin-1")})
            files[name] = out
        try:
            self.reply({"post": req.post, "files": files,
                        "restored_limits": [req.max_multipart_size, req.max_formdata_size]})
        finally:
            req.max_multipart_size = 2147483648
            req.max_formdata_size = 10 * 1024 * 1024

    def r_keep_upload(self, req, q):
        dest = q["dest"]
        moved = []
        for name, entry in req.files.items():
            for i, e in enumerate(entry if isinstance(entry, list) else [entry]):
                target = os.path.join(dest, f"{name}-{i}")
                shutil.move(e["path"], target)
                moved.append(target)
        self.reply({"moved": moved})

    def r_cookies(self, req, q):
        self.reply(req.cookies)

    # ---- input stream
    def r_input(self, req, q):
        mode = q.get("mode", "read")
        s = req.input
        if mode == "read":
            data = s.read()
            self.reply({"len": len(data), "again": s.read(), "head": data[:16].decode("latin-1"),
                        "sum": sum(data) % 65521})
        elif mode == "read-n":
            n = int(q["n"])
            parts = []
            while True:
                b = s.read(n)
                if not b:
                    break
                parts.append(len(b))
            self.reply({"parts": parts, "after": s.read(n).decode()})
        elif mode == "readline":
            lines = []
            while True:
                line = s.readline()
                if not line:
                    break
                lines.append(line.decode("latin-1"))
            self.reply({"lines": lines, "eof": s.readline().decode(), "eof2": s.readline().decode()})
        elif mode == "readline-limit":
            self.reply({"first": s.readline(int(q["n"])).decode(), "rest": s.read().decode()})
        elif mode == "readlines":
            hint = int(q.get("hint", "-1"))
            self.reply({"lines": [x.decode() for x in s.readlines(hint)], "rest": s.read().decode()})
        elif mode == "iter":
            self.reply({"lines": [x.decode() for x in req]})  # iter(request) is iter(request.input)
        elif mode == "write":
            try:
                s.write(b"x")
            except OSError as e:
                self.reply({"error": type(e).__name__, "msg": str(e)})

    # ---- output
    def r_write(self, req, q):
        kind = q.get("kind", "bytes")
        r = self.response
        r.headers.append("Content-Type: text/plain; charset=" + self.charset)
        if kind == "bytes":
            r.write(b"bytes\x00body")
        elif kind == "str":
            r.write("str \u00e5\u2603")
        elif kind == "writelines":
            r.writelines([b"a", "b", b"", "c"])
        elif kind == "call":
            r(b"x", "y", "z")
        elif kind == "empty":
            r.write(b"")
            r.write("")
            self.response.out.write(b"" if r.has_begun else b"")
            r.write("has_begun=%s" % r.has_begun)
        elif kind == "out":
            r.begin()
            r.out.write(b"raw ")
            r.out.writelines([b"out", "put"])
            r.out.write_byte(33)
            r.out.flush()
        elif kind == "latin1-unencodable":
            self.charset = "latin-1"
            try:
                r.writelines(["ok", "\u2603"])
            finally:
                self.charset = "utf-8"
        elif kind == "big":
            n = int(q["n"])
            chunk = b"0123456789abcdef" * 4096
            while n > 0:
                r.write(chunk[:n])
                n -= len(chunk)

    def r_headers(self, req, q):
        r = self.response
        r.headers = ["Content-Type: text/plain", "X-One: 1", "x-two: 2"]
        found = [r.find_header("x-one"), r.find_header("X-TWO:"), r.find_header("X-Three")]
        before = r.has_begun
        r.begin()
        after = r.has_begun
        try:
            r.begin()
            twice = "no error"
        except OSError as e:
            twice = str(e)
        try:
            r.headers.append("X-Late: 1")
            r.set_cookie("late", "1")
            late = "no error"
        except OSError as e:
            late = str(e)
        r.write(json.dumps({"found": found, "before": before, "after": after, "twice": twice, "late": late}))

    def r_noheaders(self, req, q):
        self.response.write(b"body-first-byte")

    def r_nothing(self, req, q):
        pass

    def r_badheader(self, req, q):
        self.response.headers = ["X-Evil: a\r\nSet-Cookie: x=1"]
        self.response.write("never")

    def r_status(self, req, q):
        self.response.headers = [f"Status: {q['code']} Custom"]
        self.response.write("status body")

    def r_set_cookie(self, req, q):
        r = self.response
        r.set_cookie("plain", "value")
        r.set_cookie("odd", 'a b;c"d', path="/p", domain="example.com", secure=True, http_only=True,
                     max_age=60, same_site="strict")
        r.set_cookie("gone", "", max_age=0)
        r.write(json.dumps(r.headers))

    def r_header_list(self, req, q):
        """Every way to change the list; the wire must carry exactly what the
        list holds when the response begins (tests/test_boundary.py)."""
        h = self.response.headers
        h.append("X-A: 1")
        h.insert(0, "X-First: 0")
        h.extend(["X-B: 2", b"X-Bytes: b"])
        h += ["X-C: 3", "X-Dropped: 1"]
        h[1] = "X-A: 1b"
        h[2:3] = ["X-B: 2b", "X-B2: 2c"]
        del h[-1]
        h.remove("X-C: 3")
        popped = h.pop(0)
        h.sort(key=lambda x: x if isinstance(x, bytes) else x.encode())
        h.reverse()
        errors = []
        for bad in ([3], (lambda: h.append(3)), (lambda: h.extend(["X-Ok: 1", None])),
                    (lambda: h.insert(0, 1.5)), (lambda: h.__setitem__(slice(0, 1), [object()]))):
            try:
                bad() if callable(bad) else h.__iadd__(bad)
            except TypeError as e:
                errors.append(str(e))
        same = h is self.response.headers
        self.response.headers = list(h) + ["Content-Type: application/json"]
        copy = list(self.response.headers)
        self.response.write(json.dumps({"list": [jsonable(x) for x in copy], "popped": popped,
                                        "errors": errors, "same": same}))
        try:
            self.response.headers.append("X-After-Begin: 1")
            after = "no error"
        except OSError as e:
            after = str(e)
        self.response.write(json.dumps({"after": after}))

    def r_send_growing(self, req, q):
        """send_file of a file another thread appends to meanwhile."""
        import threading

        path = q["path"]
        started = threading.Event()
        stop = threading.Event()

        def grow():
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                chunk = b"g" * 65536
                for _ in range(20000):
                    os.write(fd, chunk)
                    started.set()
                    if stop.is_set():
                        break
            finally:
                os.close(fd)

        t = threading.Thread(target=grow)
        t.start()
        started.wait(10)
        try:
            self.response.send_file(path)
        finally:
            stop.set()
            t.join()

    def r_send_file(self, req, q):
        self.response.send_file(q["path"])

    def r_raise(self, req, q):
        self.show_traceback = q.get("show") == "1"
        try:
            if q.get("after_begin") == "1":
                self.response.write("partial output ")
            raise ValueError(q.get("msg", "boom"))
        finally:
            pass

    def r_raise_in_error(self, req, q):
        class Broken(Exception):
            pass
        raise Broken("first")

    def error(self, typ, val, tb):
        if typ.__name__ == "Broken":
            raise RuntimeError("error() itself failed")
        try:
            return super().error(typ, val, tb)
        finally:
            self.show_traceback = False

    def r_log(self, req, q):
        req.log_error("something <bad> happened")
        req.errors.write("raw stderr line\n")
        req.errors.writelines([b"bytes line\n", "str line\n"])
        req.errors.flush()
        self.response.write("logged")

    # ---- sessions
    def r_session(self, req, q):
        op = q.get("op", "get")
        if op == "get":
            data = req.session
        elif op == "set":
            req.session = {"v": q["v"], "items": []}
            data = req.session
        elif op == "append":  # modify in place
            req.session["items"].append(q["v"])
            data = req.session
        elif op == "destroy":
            req.session = None
            data = None
        elif op == "id":
            data = req.session_id
        elif op == "set-id":
            try:
                req.session_id = q["id"]
                data = req.session_id
            except ValueError as e:
                data = {"error": type(e).__name__}
        elif op == "unmarshallable":
            req.session = {"obj": object()}
            data = "set"
        else:
            data = None
        self.reply({"data": data, "store": self.sessions.dir})

    def r_session_late(self, req, q):
        self.response.write("begun ")
        try:
            req.session_id
            self.response.write("no error")
        except OSError as e:
            self.response.write("OSError: " + str(e))

    # ---- leak test (tests/test_shim_leaks.py): one request touching every layer
    def r_everything(self, req, q):
        r = self.response
        env = req.env
        facts = [len(env), req.method, str(req.url), req.url.host, req.referring_url, dict(req.get),
                 req.cookies.get("c")]
        if req.method == "POST":
            facts.append(sorted(req.post))
            for entry in req.files.values():
                for e in entry if isinstance(entry, list) else [entry]:
                    with open(e["path"], "rb") as f:
                        facts.append(len(f.read()))
        elif q.get("input"):
            facts.append([len(line) for line in req.input])
        session = req.session
        if session is None:
            req.session = {"n": 0, "items": []}
        else:
            session["n"] += 1  # modified in place: written back at the end
            session["items"] = session["items"][-3:] + [core.uid()]
        facts.append(req.session_id is not None)
        facts.append([core.URL.decode("a%20b+c"), core.URL.encode("x y/\u00e5"), core.pack(b"\x01\x02"),
                      core.xml.escape("<a & 'b'>"), core.URL("http://h:1/p?q#f").to_s(port=False),
                      core.URL.decompose_query("a=1&a=2&b"), core.object_hash(["x"])])
        r.headers.append("Content-Type: text/plain; charset=utf-8")
        r.headers.append("X-Leak-Test: 1")
        r.find_header("x-leak-test")
        r.set_cookie("c", "v;" + core.uid(), max_age=60, http_only=True)
        if q.get("raise"):
            raise ValueError("leak-test error <page>")
        r.write(json.dumps(facts, default=str))
        r.write(b" bytes")
        r.writelines(["\u00e5", b"!"])
        r.out.write(b".")

    def r_stats(self, req, q):
        gc.collect()
        with open("/proc/self/status") as f:
            status = dict(line.split(":", 1) for line in f)
        self.reply({"rss_kb": int(status["VmRSS"].split()[0]), "blocks": sys.getallocatedblocks(),
                    "objects": len(gc.get_objects()), "fds": len(os.listdir("/proc/self/fd"))})

    # ---- misc
    def r_proxies(self, req, q):
        self.reply({"app": core.app.served == self.served, "request": core.request.env is req.env,
                    "response": core.response.has_begun is False,
                    "current": core.Application.current is self})

    def r_exit(self, req, q):
        self.exit()
        self.response.write("exiting")

    def r_sysexit(self, req, q):
        sys.exit(3)

    def r_pid(self, req, q):
        self.response.write(str(os.getpid()))

    def r_fail_start(self, req, q):
        pass


def main():
    address = sys.argv[1]
    if address != "-":
        core.bind(address)
    app = TestApp()
    app.forks = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    if os.environ.get("PYAPP_SESSION_DIR"):
        app.sessions = core.FileSessionStore(os.environ["PYAPP_SESSION_DIR"])
        app.sessions.gc_probability = 0.0
    if os.environ.get("PYAPP_MAX_REQUESTS"):
        app.max_requests = int(os.environ["PYAPP_MAX_REQUESTS"])
    print(f"listening {core.listening()}", flush=True)
    try:
        app.run()
    except KeyboardInterrupt:
        print("KeyboardInterrupt from run()", flush=True)
        sys.exit(130)
    print("run() returned", flush=True)


if __name__ == "__main__":
    main()
