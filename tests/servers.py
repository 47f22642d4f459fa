"""Database and cache servers for the tests, each started by the test in a
private temp dir, on a unix socket there (or 127.0.0.1), and stopped by its
PID: memcached, redis-server and PostgreSQL. A server that is not installed
makes `available()` false so its tests skip."""

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import harness


def _which(name, pattern=None):
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None and pattern:
        hits = sorted(glob.glob(pattern))
        found = hits[-1] if hits else None
    return found


MEMCACHED = _which("memcached")
REDIS = _which("redis-server")
PG_BIN = os.path.dirname(os.path.realpath(_which("postgres", "/usr/lib/postgresql/*/bin/postgres") or "/")) if _which("postgres", "/usr/lib/postgresql/*/bin/postgres") else None


def private_dir(tag, owner=None):
    """A fresh 0700 directory under the system temp dir (pytest's tmp_path
    is root's own, which an unprivileged server cannot enter), given to
    `owner` (a user name) when set."""
    d = Path(tempfile.mkdtemp(prefix=f"smisk-{tag}-"))
    if owner:
        pw = pwd.getpwnam(owner)
        os.chown(d, pw.pw_uid, pw.pw_gid)
    return d


class Memcached(harness.Process):
    """memcached on a unix socket in `tmp` (or on 127.0.0.1:port with tcp=True)."""

    def __init__(self, tmp, tcp=False, port=None, memory_mb=64):
        self.tmp = Path(tmp)
        self.tcp = tcp
        self.port = port or (harness.free_port() if tcp else 0)
        self.socket = str(self.tmp / "memcached.sock")
        self.memory_mb = memory_mb
        self._start()

    def _start(self):
        argv = [MEMCACHED, "-m", str(self.memory_mb), "-c", "256", "-t", "2"]
        argv += ["-l", "127.0.0.1", "-p", str(self.port), "-U", "0"] if self.tcp else ["-s", self.socket, "-a", "0600"]
        if os.geteuid() == 0:
            argv += ["-u", "root"]
        super().__init__(argv, log=self.tmp / f"memcached-{time.monotonic_ns()}.log")
        target = ("127.0.0.1", self.port) if self.tcp else self.socket
        harness.wait_until(lambda: harness.can_connect(target) or not self.alive(), what="memcached")
        assert self.alive(), self.log()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}" if self.tcp else self.socket

    def restart(self, down_for=0.0):
        self.stop()
        time.sleep(down_for)
        self._start()

    @staticmethod
    def available():
        return MEMCACHED is not None


class Redis(harness.Process):
    """redis-server on a unix socket in `tmp` (no TCP; or 127.0.0.1:port with
    tcp=True), its data (an append-only file) in `tmp`."""

    def __init__(self, tmp, tcp=False, port=None, persistent=True):
        self.tmp = Path(tmp)
        self.tcp = tcp
        self.port = port or (harness.free_port() if tcp else 0)
        self.socket = str(self.tmp / "redis.sock")
        self.persistent = persistent
        self._start()

    def _start(self):
        argv = [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.tmp),
                "--save", "", "--appendonly", "yes" if self.persistent else "no", "--protected-mode", "yes",
                "--daemonize", "no", "--databases", "2"]
        if not self.tcp:
            argv += ["--unixsocket", self.socket, "--unixsocketperm", "600"]
        super().__init__(argv, log=self.tmp / f"redis-{time.monotonic_ns()}.log")
        target = ("127.0.0.1", self.port) if self.tcp else self.socket
        harness.wait_until(lambda: harness.can_connect(target) or not self.alive(), what="redis-server")
        assert self.alive(), self.log()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}" if self.tcp else self.socket

    def restart(self, down_for=0.0):
        self.stop()  # SIGTERM: redis flushes the append-only file and exits
        time.sleep(down_for)
        self._start()

    @staticmethod
    def available():
        return REDIS is not None


def _as_user(user):
    """argv prefix running a command as `user` when we are root
    (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv:
        pw = pwd.getpwnam(user)
        return [setpriv, f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups"]
    return [shutil.which("runuser") or "/sbin/runuser", "-u", user, "--"]


class Postgres(harness.Process):
    """A throw-away PostgreSQL cluster: initdb into a private temp dir,
    `postgres` listening only on a unix socket in it (no TCP), run as
    `nobody` when we are root. `url` is the SQLAlchemy URL of the database
    `smisk`. stop() ends it by PID (SIGINT: fast shutdown) and removes the
    directory."""

    USER = "nobody"

    def __init__(self):
        self.user = self.USER if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.dir = private_dir("pg", owner=self.USER if os.geteuid() == 0 else None)
        data = self.dir / "data"
        prefix = _as_user(self.USER)
        env = dict(os.environ, LC_ALL="C", LANG="C")
        subprocess.run(prefix + [f"{PG_BIN}/initdb", "-D", str(data), "-U", "smisk", "-A", "trust", "-E", "UTF8",
                                 "--no-sync"], check=True, capture_output=True, env=env, timeout=120)
        super().__init__(prefix + [f"{PG_BIN}/postgres", "-D", str(data), "-k", str(self.dir), "-c",
                                   "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
                                   "-c", "full_page_writes=off", "-c", "max_connections=40",
                                   "-c", "shared_buffers=16MB"],
                         env=env, log=self.dir / "postgres.log")
        sock = str(self.dir / ".s.PGSQL.5432")
        harness.wait_until(lambda: harness.can_connect(sock) or not self.alive(), timeout=60, what="postgres")
        assert self.alive(), self.log()
        harness.wait_until(self._ready, timeout=60, what="postgres accepting queries")
        subprocess.run(prefix + [f"{PG_BIN}/createdb", "-h", str(self.dir), "-U", "smisk", "smisk"], check=True,
                       capture_output=True, env=env, timeout=60)
        self.url = f"postgresql+psycopg://smisk@/smisk?host={self.dir}"

    def _ready(self):
        r = subprocess.run([f"{PG_BIN}/pg_isready", "-h", str(self.dir), "-U", "smisk"], capture_output=True)
        return r.returncode == 0

    def stop(self, sig=signal.SIGINT, timeout=30.0):
        try:
            return super().stop(sig, timeout)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    @staticmethod
    def available():
        return PG_BIN is not None and shutil.which("setpriv") is not None or os.geteuid() != 0 and PG_BIN
