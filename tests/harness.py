"""Real processes for the integration tests: the smisk test programs, nginx
(and other servers later) on 127.0.0.1 or unix sockets in a temp dir, each
started by the test and stopped by its PID."""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTAPP = ROOT / "tests" / "apps" / "testapp"
HELLO = ROOT / "examples" / "hello"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
# The Python hello (smisk.core) as an argv prefix for start_app.
PY_HELLO = [VENV_PYTHON, ROOT / "examples" / "hello.py"]


def build_programs():
    subprocess.run(["make", "-s", "-C", str(ROOT / "examples")], check=True)
    subprocess.run(["make", "-s", "-C", str(ROOT / "tests" / "apps")], check=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise TimeoutError(f"timed out waiting for {what}")


def can_connect(address):
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        try:
            s.connect(address)
            return True
        except OSError:
            return False


class Process:
    """A child process stopped by its PID (SIGTERM, then SIGKILL)."""

    def __init__(self, argv, env=None, log=None):
        self.log_path = log
        out = open(log, "wb") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen([str(a) for a in argv], env=env, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        if log:
            out.close()

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.proc.returncode

    def log(self):
        return Path(self.log_path).read_text(errors="replace") if self.log_path else ""


def start_app(tmp, program=TESTAPP, address=None, env=None):
    """Starts a smisk program bound to a unix socket in tmp (or address).
    program is a path or an argv prefix (e.g. [python, script])."""
    address = address or str(Path(tmp) / "app.sock")
    full_env = dict(os.environ)
    full_env.update(env or {})
    argv = list(program) if isinstance(program, (list, tuple)) else [program]
    p = Process(argv + [address], env=full_env, log=Path(tmp) / "app.log")
    target = address if "/" in address else ("127.0.0.1", int(address.rsplit(":", 1)[1]))
    wait_until(lambda: can_connect(target) or not p.alive(), what=f"{program} on {address}")
    assert p.alive(), p.log()
    p.address = target
    return p


NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log info;
{user}
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  fastcgi_temp_path {tmp}/fastcgi;
  proxy_temp_path {tmp}/proxy;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  client_max_body_size 0;
  upstream app {{
    server {upstream};
    {keepalive}
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_NAME $fastcgi_script_name;
      fastcgi_pass app;
      fastcgi_keep_conn {keep_conn};
      fastcgi_read_timeout 30s;
    }}
  }}
}}
"""


class Nginx(Process):
    def __init__(self, tmp, upstream, keep_conn=True, pool=8):
        self.tmp = Path(tmp) / f"nginx-{free_port()}"
        self.tmp.mkdir(parents=True)
        self.port = free_port()
        conf = NGINX_CONF.format(
            tmp=self.tmp, port=self.port,
            upstream=f"unix:{upstream}" if isinstance(upstream, str) else f"{upstream[0]}:{upstream[1]}",
            keepalive=f"keepalive {pool};" if keep_conn else "",
            keep_conn="on" if keep_conn else "off",
            user="user root;" if os.geteuid() == 0 else "",
        )
        (self.tmp / "nginx.conf").write_text(conf)
        super().__init__([shutil.which("nginx") or "/usr/sbin/nginx", "-c", self.tmp / "nginx.conf",
                          "-p", self.tmp, "-e", self.tmp / "nginx-error.log"],
                         log=self.tmp / "nginx.out")
        wait_until(lambda: can_connect(("127.0.0.1", self.port)) or not self.alive(), what="nginx")
        assert self.alive(), self.log() + self.error_log()

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def error_log(self):
        p = self.tmp / "nginx-error.log"
        return p.read_text(errors="replace") if p.exists() else ""
