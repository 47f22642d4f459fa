"""Shared pieces of the networked-session tests: the stores on real
servers, raw clients to tamper with what they hold, the session test app
behind nginx, and a cookie-keeping HTTP client."""

import http.client
import os
import re
import sys
from pathlib import Path

import harness
import servers

SESSION_APP = harness.ROOT / "tests" / "apps" / "session_app.py"
PREFIX = "smisk:session:"


def store_for(kind, address, **kw):
    if kind == "memcached":
        from smisk.session.memcached import MemcachedSessionStore

        return MemcachedSessionStore(address, **kw) if address else MemcachedSessionStore(**kw)
    from smisk.session.redis import RedisSessionStore

    return RedisSessionStore(address, **kw)


def raw_client(kind, address):
    """A plain client of the server, to read and plant values."""
    if kind == "memcached":
        from pymemcache.client.base import Client

        host, _, port = address.rpartition(":")
        return Client(address if "/" in address else (host, int(port)), default_noreply=False)
    import redis

    if "/" in address:
        return redis.Redis(unix_socket_path=address)
    host, _, port = address.rpartition(":")
    return redis.Redis(host=host, port=int(port))


def start_server(kind, tmp, **kw):
    return servers.Memcached(tmp, **kw) if kind == "memcached" else servers.Redis(tmp, **kw)


def start_session_app(tmp, spec, address=None, forks=0, env=None, argv_prefix=(), name="app"):
    address = address or str(Path(tmp) / f"{name}.sock")
    full_env = dict(os.environ, SESSION_STORE=spec, PYTHONUNBUFFERED="1")
    full_env.update(env or {})
    p = harness.Process(list(argv_prefix) + [sys.executable, SESSION_APP, address, str(forks)], env=full_env,
                        log=Path(tmp) / f"{name}.log")
    if "/" in address:
        harness.wait_until(lambda: harness.can_connect(address) or not p.alive(), what="session app")
        assert p.alive(), p.log()
    p.address = address
    return p


class Client:
    """An HTTP client with one cookie jar (the SID cookie only)."""

    def __init__(self, port):
        self.port = port
        self.sid = None
        self.set_cookies = []

    def get(self, path):
        headers = {"Cookie": f"SID={self.sid}"} if self.sid else {}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read().decode()
            cookies = [v for k, v in resp.getheaders() if k.lower() == "set-cookie"]
        finally:
            conn.close()
        self.set_cookies = cookies
        for c in cookies:
            m = re.match(r"SID=([0-9a-v]*);", c)
            if m:
                self.sid = m.group(1) or None
        fields = dict(line.split("=", 1) for line in body.splitlines() if "=" in line)
        return resp.status, fields
