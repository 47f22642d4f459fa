"""A smisk.core application whose sessions live in the store named by
$SESSION_STORE: "file:DIR", "memcached:ADDRESS" or "redis:ADDRESS" (a unix
socket path or host:port). Used by the networked-session tests and by
bench/session-stores/run.

    session_app.py ADDRESS [FORKS]

Routes (answers are text/plain "key=value" lines):
  /get          the session and which host/pid answered
  /set?k=..&v=.. session[k] = v (a new session if there is none)
  /incr         session["n"] += 1 (0 for a new session): read + write
  /rotate       a fresh session id, data kept
  /del          session = None
  /pid          which host/pid answered
"""
import os
import sys

import smisk.core as core


def make_store(spec):
    kind, _, where = spec.partition(":")
    if kind == "file":
        s = core.FileSessionStore(where)
        s.gc_probability = 0.0
        return s
    if kind == "memcached":
        from smisk.session.memcached import MemcachedSessionStore

        return MemcachedSessionStore(where)
    if kind == "redis":
        from smisk.session.redis import RedisSessionStore

        return RedisSessionStore(where)
    raise SystemExit(f"SESSION_STORE: unknown store {spec!r}")


class SessionApp(core.Application):
    host = os.environ.get("HOST_NAME", "?")

    def service(self):
        req, rsp = self.request, self.response
        path = req.url.path
        lines = [f"host={self.host}", f"pid={os.getpid()}"]
        if path == "/get":
            lines.append(f"session={req.session!r}")
        elif path == "/set":
            data = req.session if isinstance(req.session, dict) else {}
            data[req.get.get("k", "k")] = req.get.get("v", "")
            req.session = data
            lines.append(f"session={data!r}")
        elif path == "/incr":
            data = req.session
            if isinstance(data, dict) and isinstance(data.get("n"), int):
                data["n"] += 1
                lines.append("state=kept")
            else:
                req.session = data = {"n": 0, "pad": "x" * int(os.environ.get("SESSION_PAD", "200"))}
                lines.append("state=new")
            lines.append(f"n={data['n']}")
        elif path == "/rotate":
            data = req.session
            req.session_id = core.uid()
            lines.append(f"session={data!r}")
        elif path == "/del":
            req.session = None
            lines.append("session=None")
        elif path != "/pid":
            rsp.headers.append("Status: 404 Not Found")
        rsp.headers.append("Content-Type: text/plain")
        rsp.write(("\n".join(lines) + "\n").encode())


def main():
    address = sys.argv[1]
    core.bind(address)
    app = SessionApp()
    app.forks = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    app.sessions = make_store(os.environ["SESSION_STORE"])
    ttl = os.environ.get("SESSION_TTL")
    if ttl:
        app.sessions.ttl = int(ttl)
    app.run()


if __name__ == "__main__":
    main()
