"""Real processes for the integration tests: the smisk test programs, nginx,
lighttpd and Apache on 127.0.0.1 or unix sockets in a temp dir, each started
by the test and stopped by its PID."""

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTAPP = ROOT / "tests" / "apps" / "testapp"
HELLO = ROOT / "examples" / "hello"
PYAPP = ROOT / "tests" / "apps" / "pyapp.py"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
# The Python hello (smisk.core) as an argv prefix for start_app.
PY_HELLO = [VENV_PYTHON, ROOT / "examples" / "hello.py"]


def build_programs():
    subprocess.run(["make", "-s", "-C", str(ROOT / "examples")], check=True)
    subprocess.run(["make", "-s", "-C", str(ROOT / "tests" / "apps")], check=True)
    subprocess.run(["make", "-s", "-C", str(ROOT / "frontend")], check=True)


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


def http_fetch(port, path, method="GET", body=None, headers=None, timeout=30):
    """One HTTP request to 127.0.0.1:port: (status, [(name, value)], body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def header(headers, name):
    """The first value of header `name` (any case) in a getheaders() list, or None."""
    values = [v for k, v in headers if k.lower() == name.lower()]
    return values[0] if values else None


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


def start_pyapp(tmp, address=None, forks=0, env=None):
    """Starts tests/apps/pyapp.py (smisk.core) on address (default: a unix
    socket in tmp; "127.0.0.1:PORT" for TCP) with a session dir in tmp."""
    address = address or str(Path(tmp) / "py.sock")
    full_env = dict(os.environ)
    full_env.setdefault("PYAPP_SESSION_DIR", str(Path(tmp) / "sessions"))
    full_env.update(env or {})
    p = Process([sys.executable, PYAPP, address, str(forks)], env=full_env,
                log=Path(tmp) / f"pyapp-{os.path.basename(address)}.log")
    target = address if "/" in address else ("127.0.0.1", int(address.rsplit(":", 1)[1]))
    wait_until(lambda: can_connect(target) or not p.alive(), what="pyapp")
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
{upstreams}
  server {{
    listen 127.0.0.1:{port};
{locations}
    {extra_server}
  }}
}}
"""

NGINX_UPSTREAM = """
  upstream {name} {{
    {servers}
    {keepalive}
  }}"""

NGINX_LOCATION = """
    location {prefix} {{
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_NAME $fastcgi_script_name;
      fastcgi_pass {name};
      fastcgi_keep_conn {keep_conn};
      fastcgi_read_timeout 30s;
      {extra_fastcgi}
    }}"""

# SCGI: one request per connection (no keep-conn); nginx's scgi_params has
# no SCRIPT_NAME, so the same one as the FastCGI location is added.
NGINX_SCGI_LOCATION = """
    location {prefix} {{
      include /etc/nginx/scgi_params;
      scgi_param SCRIPT_NAME $uri;
      scgi_pass {name};
      scgi_read_timeout 30s;
      {extra_fastcgi}
    }}"""


def routes_of(upstream):
    """{path prefix: upstream} from one upstream (all paths) or a dict."""
    return dict(upstream) if isinstance(upstream, dict) else {"/": upstream}


class Nginx(Process):
    """nginx in front of upstream (unix socket path or (host, port), or a
    list of them balanced round robin), or of several: a dict {location
    prefix: upstream}. keep_conn=False is nginx's
    default (fastcgi_keep_conn off, no upstream keepalive pool).
    extra_server is inserted into the server block (more locations),
    extra_fastcgi into each FastCGI location (more fastcgi_param lines).
    user: the `user` directive for the workers ("www-data www-data"); by
    default root's workers stay root. protocol="scgi": scgi_pass instead of
    fastcgi_pass (keep_conn does not apply)."""

    def __init__(self, tmp, upstream, keep_conn=True, pool=8, extra_server="", extra_fastcgi="", user=None,
                 protocol="fastcgi"):
        self.tmp = Path(tmp) / f"nginx-{free_port()}"
        self.tmp.mkdir(parents=True)
        self.port = free_port()
        upstreams, locations = [], []
        scgi = protocol == "scgi"
        keep_conn = keep_conn and not scgi
        for i, (prefix, address) in enumerate(routes_of(upstream).items()):
            name = "app" if i == 0 else f"app{i}"
            # A list of addresses: one upstream balanced over all of them.
            servers = "\n    ".join(
                "server " + (f"unix:{a}" if isinstance(a, str) else f"{a[0]}:{a[1]}") + ";"
                for a in (address if isinstance(address, list) else [address]))
            upstreams.append(NGINX_UPSTREAM.format(
                name=name, keepalive=f"keepalive {pool};" if keep_conn else "", servers=servers))
            template = NGINX_SCGI_LOCATION if scgi else NGINX_LOCATION
            locations.append(template.format(prefix=prefix, name=name, keep_conn="on" if keep_conn else "off",
                                             extra_fastcgi=extra_fastcgi))
        conf = NGINX_CONF.format(
            tmp=self.tmp, port=self.port, upstreams="".join(upstreams), locations="".join(locations),
            user=f"user {user};" if user else "user root;" if os.geteuid() == 0 else "",
            extra_server=extra_server,
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


LIGHTTPD_CONF = """
server.document-root = "{www}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{tmp}/lighttpd-error.log"
server.upload-dirs = ("{tmp}")
server.modules = ("mod_{protocol}", "mod_setenv")
{protocol}.server = ({backends})
{extra}
"""

LIGHTTPD_BACKEND = """
  "{prefix}" => ((
    {backend},
    "check-local" => "disable",
    {fastcgi_options}
  ))"""


class Lighttpd(Process):
    """lighttpd with mod_fastcgi passing every path to upstream (unix socket
    path or (host, port)), or a dict {path prefix: upstream}.
    fastcgi_options are more `"key" => value` lines of each backend (e.g.
    x-sendfile); extra is appended to the config.
    user: (user, group) lighttpd switches to after start (it opens its
    error log afterwards, so its directory is given to them and tmp must
    be a directory they can pass through). protocol="scgi": mod_scgi
    instead of mod_fastcgi."""

    def __init__(self, tmp, upstream, fastcgi_options="", extra="", user=None, protocol="fastcgi"):
        self.tmp = Path(tmp) / f"lighttpd-{free_port()}"
        (self.tmp / "www").mkdir(parents=True)
        if user:
            shutil.chown(self.tmp, *user)
            extra = f'server.username = "{user[0]}"\nserver.groupname = "{user[1]}"\n{extra}'
        self.port = free_port()
        backends = []
        for prefix, address in routes_of(upstream).items():
            backend = (f'"socket" => "{address}"' if isinstance(address, str)
                       else f'"host" => "{address[0]}", "port" => {address[1]}')
            backends.append(LIGHTTPD_BACKEND.format(prefix=prefix, backend=backend, fastcgi_options=fastcgi_options))
        conf = LIGHTTPD_CONF.format(www=self.tmp / "www", port=self.port, tmp=self.tmp, protocol=protocol,
                                    backends=",".join(backends), extra=extra)
        (self.tmp / "lighttpd.conf").write_text(conf)
        binary = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
        super().__init__([binary, "-D", "-f", self.tmp / "lighttpd.conf"], log=self.tmp / "lighttpd.out")
        wait_until(lambda: can_connect(("127.0.0.1", self.port)) or not self.alive(), what="lighttpd")
        assert self.alive(), self.log() + self.error_log()

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def error_log(self):
        p = self.tmp / "lighttpd-error.log"
        return p.read_text(errors="replace") if p.exists() else ""


APACHE_MODULES = Path("/usr/lib/apache2/modules")

APACHE_CONF = """
ServerRoot "{tmp}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {tmp}/httpd.pid
ErrorLog {tmp}/error.log
LogLevel warn
DefaultRuntimeDir {tmp}
{user}
{modules}
StartServers 1
ServerLimit 1
ThreadsPerChild 8
MaxRequestWorkers 8
MinSpareThreads 1
MaxSpareThreads 8
DocumentRoot {tmp}/www
{proxies}
{extra}
"""


class Apache(Process):
    """Apache 2.4 (mpm_event) with mod_proxy_fcgi passing every path to
    upstream, a (host, port) or a unix socket path, or a dict {path prefix:
    upstream}: run as root, Apache's workers switch to www-data, so a unix
    socket must let www-data in (its group, and a directory www-data can
    pass through). modules are extra module names to load (e.g.
    "xsendfile"); extra is appended; proxy_params are worker parameters of
    each ProxyPass line ("enablereuse=on"). protocol="scgi": mod_proxy_scgi
    instead of mod_proxy_fcgi."""

    def __init__(self, tmp, upstream, modules=(), extra="", proxy_params="", protocol="fastcgi"):
        self.tmp = Path(tmp) / f"apache-{free_port()}"
        (self.tmp / "www").mkdir(parents=True)
        self.port = free_port()
        scheme = "scgi" if protocol == "scgi" else "fcgi"
        names = ["mpm_event", "authz_core", "proxy", f"proxy_{scheme}", "env", *modules]
        loads = "\n".join(f"LoadModule {n}_module {APACHE_MODULES / f'mod_{n}.so'}" for n in names)
        user = "User www-data\nGroup www-data" if os.geteuid() == 0 else ""
        # Longest prefix first: Apache takes the first ProxyPass that matches.
        routes = sorted(routes_of(upstream).items(), key=lambda r: -len(r[0]))
        proxies = "\n".join(
            f'ProxyPass "{prefix}" "'
            + (f"unix:{address}|{scheme}://localhost" if isinstance(address, str)
               else f"{scheme}://{address[0]}:{address[1]}")
            + f'{prefix}" {proxy_params}'
            for prefix, address in routes)
        conf = APACHE_CONF.format(tmp=self.tmp, port=self.port, user=user, modules=loads, proxies=proxies,
                                  extra=extra)
        (self.tmp / "httpd.conf").write_text(conf)
        binary = shutil.which("apache2") or "/usr/sbin/apache2"
        super().__init__([binary, "-f", self.tmp / "httpd.conf", "-DFOREGROUND"], log=self.tmp / "apache.out")
        wait_until(lambda: can_connect(("127.0.0.1", self.port)) or not self.alive(), what="apache")
        assert self.alive(), self.log() + self.error_log()

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def error_log(self):
        p = self.tmp / "error.log"
        return p.read_text(errors="replace") if p.exists() else ""


def valgrind_records(log):
    """The error and leak records of a valgrind log, one string each."""
    records, current = [], []
    for line in log.splitlines():
        body = line.split("== ", 1)[1] if "== " in line else ""
        if body.strip():
            current.append(body)
        elif current:
            records.append("\n".join(current))
            current = []
    if current:
        records.append("\n".join(current))
    return records


def assert_valgrind_clean(text):
    """The valgrind log `text` of a Python process using the shim has a leak
    summary, nothing definitely lost, and no record of ours."""
    assert "LEAK SUMMARY" in text or "All heap blocks were freed" in text, text[-2000:]
    assert re.search(r"definitely lost: 0 bytes", text) or "All heap blocks were freed" in text, text[-3000:]
    # CPython 3.11 itself reports uninitialised reads in its startup imports
    # (not in our code); any record with a frame in the extension (which
    # links libsmisk statically) is ours.
    # With debug info, frames name their source file: the shim's C files or
    # Rust sources; without, the shared object.
    shim_sources = "|".join(re.escape(p.name) for p in (ROOT / "python-shim" / "src").glob("*.c"))
    ours_re = re.compile(rf"_core\.cpython|\((?:{shim_sources}):\d+\)|\.rs:\d+\)")
    ours = [r for r in valgrind_records(text) if ours_re.search(r)]
    assert ours == [], "\n\n".join(ours[:5])
