"""Programs written for libfcgi, run on Debian's libfcgi and on smisk's
drop-in (compat/libfcgi), for tests/test_libfcgi*.py.

Three ways to run a program:
  "stock"   built against Debian's headers, on Debian's libfcgi.so.0
  "dropin"  the same binary on the drop-in (LD_LIBRARY_PATH)
  "rebuilt" built against the drop-in's headers, linked with it
Every process is started by the test and stopped by its PID."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import fcgi_client as f
import harness

ROOT = harness.ROOT
PROGRAMS = ROOT / "target" / "libfcgi-programs"
DROPIN = ROOT / "target" / "release" / "libfcgi-dropin"
DROPIN_SO = ROOT / "target" / "release" / "libfcgi.so"
STOCK_SO = Path("/usr/lib/x86_64-linux-gnu/libfcgi.so.0")
VARIANTS = ("stock", "dropin", "rebuilt")
DATA = 8  # FCGI_DATA
FILTER = 3


def build():
    subprocess.run(["make", "-s", "-C", str(ROOT / "compat" / "libfcgi")], check=True)


def binary(name, variant):
    return PROGRAMS / ("dropin" if variant == "rebuilt" else "stock") / name


def env_for(variant, extra=None):
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    if variant == "dropin":
        env["LD_LIBRARY_PATH"] = str(DROPIN)
    env.update(extra or {})
    return env


def listening_unix(path, backlog=128):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.listen(backlog)
    return s


class Program:
    """A FastCGI program, started with its listening socket on fd 0 (as
    spawn-fcgi and web servers start them) unless argv names an address.
    self.address is the unix socket to connect to."""

    def __init__(self, tmp, argv, variant="dropin", env=None, address=None, name="app"):
        tmp = Path(tmp)
        self.variant = variant
        self.log_path = tmp / f"{name}-{variant}.log"
        log = open(self.log_path, "wb")
        full_env = env_for(variant, env)
        argv = [str(a) for a in argv]
        if address is None:
            self.address = str(tmp / f"{name}-{variant}.sock")
            if os.path.exists(self.address):
                os.unlink(self.address)
            sock = listening_unix(self.address)
            try:
                self.proc = subprocess.Popen(argv, stdin=sock.fileno(), stdout=log, stderr=subprocess.STDOUT,
                                             env=full_env)
            finally:
                sock.close()
        else:
            self.address = address
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=full_env)
            harness.wait_until(lambda: harness.can_connect(address) or not self.alive(), what=f"{argv[0]}")
        log.close()
        assert self.alive(), self.log()

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        return self.log_path.read_text(errors="replace")

    def maps(self):
        return Path(f"/proc/{self.pid}/maps").read_text()

    def uses_dropin(self):
        """Whether the process mapped the drop-in (not Debian's libfcgi),
        once the dynamic loader has mapped one of them."""
        ours, stock = str(DROPIN_SO.resolve()), str(STOCK_SO.resolve())
        harness.wait_until(lambda: ours in self.maps() or stock in self.maps(), what="libfcgi mapped")
        text = self.maps()
        return ours in text and stock not in text

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Signals the process, waits; SIGKILL after timeout. Returns
        (returncode, stopped_by_the_signal_alone)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
                return self.proc.returncode, True
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
                return self.proc.returncode, False
        return self.proc.returncode, True


def request_bytes(req_id, params, body=b"", role=f.RESPONDER, data=None, keep_conn=False):
    out = f.begin(req_id, role=role, keep_conn=keep_conn) + f.stream(f.PARAMS, req_id, f.encode_params(params))
    out += f.stream(f.STDIN, req_id, body)
    if data is not None:
        out += f.stream(DATA, req_id, data)
    return out


def ask(address, params, body=b"", role=f.RESPONDER, data=None, timeout=10.0):
    """One request on a fresh connection: (stdout, stderr, app status)."""
    c = f.Conn(address, timeout=timeout)
    try:
        c.send(request_bytes(1, params, body, role, data))
        r = c.read_response(1)
        assert r.end[1] == f.REQUEST_COMPLETE, r.end
        return r.stdout, r.stderr, r.end[0]
    finally:
        c.close()


def answered_within(conns, req_id, timeout):
    """How many of the connections (each sent a request) answer within
    timeout seconds in all (the ones answered by then are read quickly)."""
    deadline = time.monotonic() + timeout
    n = 0
    for c in conns:
        c.sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            c.read_response(req_id)
            n += 1
        except (TimeoutError, socket.timeout, EOFError, ConnectionError):
            pass
    return n
