"""smisk-frontend, the CGI program in front of a persistent SCGI or FastCGI
daemon, under lighttpd mod_cgi and Apache mod_cgi (whose CGI programs, and
so the daemons they start, run as www-data when the tests run as root):
cold start with 20 concurrent first requests (one daemon started), a daemon
killed between requests (restarted), overload (503 with Retry-After, no lost
or mixed answers, slots never leaked by a killed front end), SCGI and
FastCGI daemons (smisk-wsgi), the fallback CGI, failed starts, the
forwarded environment and bodies, and valgrind on the front end itself.

Every daemon a front end starts writes its pid to the site's starts file
(its start command begins with `echo $$ >> starts`) and the front end's pid
file; each test stops those by PID."""
import grp
import hashlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import harness
from wsgi_helpers import APPS, SMISK_WSGI

FRONTEND_DIR = harness.ROOT / "frontend"
FRONTEND = FRONTEND_DIR / "smisk-frontend"
VENV_SITE = next((harness.ROOT / ".venv" / "lib").glob("python3*/site-packages"), None)
AS_ROOT = os.geteuid() == 0


def build():
    subprocess.run(["make", "-s", "-C", str(FRONTEND_DIR)], check=True, timeout=300)


# ---- the web servers -------------------------------------------------------


LIGHTTPD_CGI = """
server.document-root = "{www}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{tmp}/lighttpd-error.log"
server.modules = ("mod_cgi")
cgi.assign = (".cgi" => "")
"""


def as_www_data():
    pw = pwd.getpwnam("www-data")
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)


def www_data_runs(argv, env):
    """Can www-data run argv (a Python importing smisk.wsgi)?"""
    if not AS_ROOT:
        return True
    try:
        r = subprocess.run([*argv, "-c", "import smisk.wsgi"], env=env, capture_output=True, timeout=60,
                           preexec_fn=as_www_data, cwd="/")
    except OSError:
        return False
    return r.returncode == 0


def daemon_python(kind):
    """(argv prefix of the smisk-wsgi runner, env lines) for daemons that the
    front end under `kind` starts: under Apache they run as www-data, which
    may not reach the test venv's interpreter (a Python under /root); then a
    system Python of the same version with the venv's site-packages."""
    if kind == "lighttpd" or not AS_ROOT:
        return [str(SMISK_WSGI)], []
    base = {"PATH": "/usr/bin:/bin"}
    if www_data_runs([sys.executable], base):
        return [str(SMISK_WSGI)], []
    system = shutil.which(f"python{sys.version_info[0]}.{sys.version_info[1]}", path="/usr/bin:/usr/local/bin")
    if system and VENV_SITE and www_data_runs([system], dict(base, PYTHONPATH=str(VENV_SITE))):
        return [system, "-m", "smisk.wsgi"], [f"PYTHONPATH={VENV_SITE}"]
    pytest.skip("no Python that www-data may run with smisk installed")


class Web:
    """lighttpd or Apache running every *.cgi of a shared www directory (the
    sites' configuration files, which are their CGI scripts), in a temp dir
    www-data can pass through."""

    def __init__(self, kind):
        self.kind = kind
        self.root = Path(tempfile.mkdtemp(prefix=f"smisk-frontend-{kind}-"))
        self.root.chmod(0o755)
        self.www = self.root / "www"
        self.www.mkdir(mode=0o755)
        self.state = self.root / "state"
        self.state.mkdir(mode=0o755)
        self.python, self.python_env = daemon_python(kind)
        if kind == "lighttpd":
            self.prefix = ""
            port = harness.free_port()
            (self.root / "lighttpd.conf").write_text(LIGHTTPD_CGI.format(www=self.www, port=port, tmp=self.root))
            self.server = harness.Process([shutil.which("lighttpd") or "/usr/sbin/lighttpd", "-D", "-f",
                                           self.root / "lighttpd.conf"], log=self.root / "lighttpd.out")
            harness.wait_until(lambda: harness.can_connect(("127.0.0.1", port)) or not self.server.alive(),
                               what="lighttpd")
            assert self.server.alive(), self.server.log()
            self.server.port = port
        else:
            self.prefix = "/cgi"
            self.server = harness.Apache(self.root, {}, modules=("cgi", "alias"), extra=(
                f'ScriptAlias "/cgi/" "{self.www}/"\n<Directory "{self.www}">\n  Options +ExecCGI\n</Directory>\n'))
        self.port = self.server.port

    def error_log(self):
        if self.kind == "lighttpd":
            # lighttpd hands its CGI programs its own stderr.
            p = self.root / "lighttpd-error.log"
            return (p.read_text(errors="replace") if p.exists() else "") + self.server.log()
        return self.server.error_log()

    def fetch(self, path, method="GET", body=None, headers=None):
        return harness.http_fetch(self.port, self.prefix + path, method, body, headers, timeout=60)

    def stop(self):
        self.server.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module", params=["lighttpd", "apache"])
def web(request):
    binary = "lighttpd" if request.param == "lighttpd" else "apache2"
    if shutil.which(binary) is None and not Path(f"/usr/sbin/{binary}").exists():
        pytest.skip(f"{binary} is not installed")
    build()
    w = Web(request.param)
    yield w
    w.stop()


# ---- one application behind the front end -----------------------------------


class Site:
    """An application behind smisk-frontend: its configuration is its CGI
    script (www/NAME.cgi, first line the front end's #!), its state (socket,
    lock, slots, pid file, starts file) in a directory of its own that
    www-data owns."""

    def __init__(self, web, name, protocol="scgi", transport="unix", max_in_flight=32, start_timeout=10,
                 forks=0, delay=0.0, start=None, fallback=None, retry_after=2, extra=()):
        self.web = web
        self.name = name
        self.dir = web.state / name
        self.dir.mkdir(mode=0o755)
        if AS_ROOT:
            os.chown(self.dir, pwd.getpwnam("www-data").pw_uid, grp.getgrnam("www-data").gr_gid)
        self.starts = self.dir / "starts"
        scheme = "scgi:" if protocol == "scgi" else ""
        if transport == "unix":
            self.address = f"{scheme}{self.dir}/app.sock"
            state = []
        else:
            self.address = f"{scheme}127.0.0.1:{harness.free_port()}"
            state = [f"state = {self.dir}/fe"]
        runner = " ".join(web.python)
        if start is None:
            start = (f"exec {runner} frontend_app:application --chdir {APPS} --bind {self.address} "
                     f"--forks {forks} --log-level warning")
        sleep = f"sleep {delay}; " if delay else ""
        self.pid_file = self.dir / ("fe.pid" if state else "app.sock.pid")
        lines = [f"#!{FRONTEND}", f"# {name}: written by tests/test_frontend.py",
                 f"address = {self.address}",
                 f"start = echo $$ >> {self.starts}; {sleep}{start}",
                 f"start_timeout = {start_timeout}", f"max_in_flight = {max_in_flight}",
                 f"retry_after = {retry_after}", f"log = {self.dir}/daemon.log", "timeout = 30",
                 "env = FRONTEND_APP_ROLE=daemon", *[f"env = {e}" for e in web.python_env], *state, *extra]
        if fallback:
            lines.append(f"fallback = {fallback.format(dir=self.dir)}")
        self.script = web.www / f"{name}.cgi"
        self.script.write_text("\n".join(lines) + "\n")
        self.script.chmod(0o755)

    def url(self, path):
        return f"/{self.name}.cgi{path}"

    def fetch(self, path, method="GET", body=None, headers=None):
        return self.web.fetch(self.url(path), method, body, headers)

    def started(self):
        """The pids of every daemon the front end started, in order."""
        return [int(x) for x in self.starts.read_text().split()] if self.starts.exists() else []

    def pid(self):
        return int(self.pid_file.read_text())

    def log(self):
        p = self.dir / "daemon.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def ours(self, pid):
        """Is pid (still) a daemon this site started? (Its command line
        names the site's address, so a recycled pid is never signalled.)"""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            return f"--bind {self.address} " in cmdline
        except OSError:
            return False

    def kill(self, pid, sig=signal.SIGTERM, timeout=10):
        """Signals a daemon; SIGKILL goes to its whole process group (the
        front end starts it in a session of its own), prefork workers too."""
        if self.ours(pid):
            if sig == signal.SIGKILL and os.getpgid(pid) == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        harness.wait_until(lambda: exited(pid), timeout=timeout, what=f"daemon {pid} to exit")

    def stop(self):
        for pid in self.started():
            try:
                self.kill(pid)
            except TimeoutError:
                self.kill(pid, signal.SIGKILL)


def exited(pid):
    """Has pid exited, its descriptors closed? Its command line empties
    before its sockets are closed (the kernel drops the memory map first),
    so a connect just after could still be queued on a listener about to
    go; a zombie ("Z") or a reaped process has closed them all."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


@pytest.fixture
def sites(web):
    made = []

    def make(name, **kw):
        s = Site(web, f"{name}-{len(made)}-{os.getpid()}-{time.monotonic_ns() % 100000}", **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def body_of(answer):
    return answer[2].decode(errors="replace")


def fields(text):
    return dict(kv.split("=", 1) for kv in text.split())


def concurrently(n, fn):
    results = [None] * n
    errors = []

    def run(i):
        try:
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return results


# ---- tests through the web servers --------------------------------------------


@pytest.mark.parametrize("protocol", ["scgi", "fastcgi"])
def test_20_concurrent_first_requests_start_one_daemon(web, sites, protocol):
    # The start takes a while (sleep 0.3), so the others really arrive
    # while nothing listens yet.
    site = sites("cold", protocol=protocol, delay=0.3)
    answers = concurrently(20, lambda i: site.fetch(f"/echo?id=r{i}"))
    assert len(site.started()) == 1, (site.started(), web.error_log()[-3000:])
    pids = set()
    for i, (status, headers, body) in enumerate(answers):
        assert status == 200, (body, web.error_log()[-3000:])
        got = fields(body.decode())
        assert (got["id"], got["role"]) == (f"r{i}", "daemon"), body
        pids.add(int(got["pid"]))
    assert pids == {site.pid()} == set(site.started())
    if web.kind == "apache" and AS_ROOT:  # started by a CGI program of Apache's workers
        assert pwd.getpwuid(os.stat(f"/proc/{site.pid()}").st_uid).pw_name == "www-data"


@pytest.mark.parametrize("protocol, transport", [("scgi", "unix"), ("fastcgi", "tcp")])
def test_a_killed_daemon_is_restarted_by_the_next_request(web, sites, protocol, transport):
    site = sites("killed", protocol=protocol, transport=transport)
    first = fields(body_of(site.fetch("/echo?id=a")))
    assert int(first["pid"]) == site.pid()
    site.kill(int(first["pid"]), signal.SIGKILL)
    for i in range(3):
        status, _, body = site.fetch(f"/echo?id=b{i}")
        got = fields(body.decode())
        assert (status, got["id"]) == (200, f"b{i}"), (body, web.error_log()[-3000:])
    assert int(got["pid"]) != int(first["pid"])
    assert site.started() == [int(first["pid"]), int(got["pid"])] and site.pid() == int(got["pid"])


@pytest.mark.parametrize("protocol", ["scgi", "fastcgi"])
def test_overload_answers_503_and_never_mixes_answers(web, sites, protocol):
    limit = 3
    # More daemon workers than slots: the front end's limit is what holds.
    site = sites("busy", protocol=protocol, max_in_flight=limit, forks=limit + 1)
    assert site.fetch("/echo?id=warm")[0] == 200  # started, before the burst
    answers = concurrently(12, lambda i: site.fetch(f"/sleep?ms=700&id=s{i}"))
    ok = [i for i, a in enumerate(answers) if a[0] == 200]
    busy = [i for i, a in enumerate(answers) if a[0] == 503]
    assert len(ok) + len(busy) == 12, [a[0] for a in answers]
    assert len(ok) >= limit and busy, ([a[0] for a in answers], web.error_log()[-2000:])
    spans = []
    for i in ok:
        got = fields(body_of(answers[i]))
        assert got["id"] == f"s{i}"
        spans.append((float(got["t0"]), float(got["t1"])))
    # Never more than `limit` requests in the application at once.
    assert max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans) <= limit, spans
    for i in busy:
        status, headers, body = answers[i]
        assert harness.header(headers, "Retry-After") == "2"
        assert harness.header(headers, "Content-Type") == "text/html; charset=utf-8"
        assert b"<h1>Service Unavailable</h1>" in body
    assert len(site.started()) == 1
    # Every slot is free again, once the front ends have exited: a web
    # server may pass an answer on to its client before its CGI process is
    # gone (lighttpd does), so the last slot can lag the last answer.
    def slots_free():
        out = subprocess.run([FRONTEND, "--status", site.script], capture_output=True, text=True).stdout
        return f"in flight      0 of {limit}" in out

    harness.wait_until(slots_free, timeout=10, what="every slot to be free")
    assert site.fetch("/echo?id=after")[0] == 200


def test_the_environment_and_bodies_are_forwarded(web, sites):
    scgi, fcgi = sites("env-scgi"), sites("env-fcgi", protocol="fastcgi", transport="tcp")
    long_value = "v" * 6000
    big = os.urandom(5 << 20)
    script_name = f"{web.prefix}/{{}}.cgi"
    for site in (scgi, fcgi):
        status, headers, body = site.fetch("/env?a=1&b=%20", headers={"X-Long": long_value, "Cookie": "c=1"})
        got = json.loads(body)
        assert status == 200, body
        assert got["QUERY_STRING"] == "a=1&b=%20" and got["PATH_INFO"] == "/env"
        assert got["SCRIPT_NAME"] == script_name.format(site.name)
        assert got["HTTP_X_LONG"] == long_value and got["HTTP_COOKIE"] == "c=1"
        assert got["REQUEST_METHOD"] == "GET" and got["GATEWAY_INTERFACE"] == "CGI/1.1"
        # The request that started the daemon left nothing in its environment.
        assert got["daemon_env"] == {"FRONTEND_APP_ROLE": "daemon"}, got["daemon_env"]
        status, _, body = site.fetch("/post", "POST", big, {"Content-Type": "application/octet-stream"})
        assert (status, body) == (200, f"{len(big)} {hashlib.sha1(big).hexdigest()}\n".encode())
        # An answer before the body is read: the body is still taken.
        for _ in range(3):
            assert site.fetch("/early", "POST", big[:1 << 20])[::2] == (403, b"forbidden\n")
        status, headers, body = site.fetch("/big?bytes=3000000")
        assert (status, len(body)) == (200, 3000000) and body[:256] == bytes(range(256))
        assert site.fetch("/stderr")[2] == b"logged\n"
        assert site.fetch("/missing")[0] == 404
    assert "frontend_app: a line for the error log" in web.error_log() + fcgi.log() + scgi.log()


def test_the_fallback_serves_as_cgi_when_the_daemon_cannot_start(web, sites):
    runner = " ".join(web.python)
    env = " ".join(web.python_env)
    # TMPDIR: the CGI's own temp files stay in the site's directory.
    fallback = f"exec env TMPDIR={{dir}} {env} {runner} frontend_app:application --chdir {APPS}"
    site = sites("fallback", start="exit 3", fallback=fallback)
    status, headers, body = site.fetch("/echo?id=f1")
    assert (status, harness.header(headers, "X-Role")) == (200, "cgi"), (body, web.error_log()[-2000:])
    assert fields(body.decode())["id"] == "f1"
    # stdin reaches the fallback untouched.
    data = os.urandom(300000)
    status, _, body = site.fetch("/post", "POST", data)
    assert (status, body) == (200, f"{len(data)} {hashlib.sha1(data).hexdigest()}\n".encode())
    # One attempt per retry_after (2 s), not one per request.
    assert len(site.started()) == 1
    assert "exited with status 3 before it listened" in web.error_log()


def test_smisk_in_cgi_mode_leaves_no_temp_dir_when_the_web_server_kills_it(web, sites):
    """lighttpd sends SIGTERM to a CGI program still running after its
    answer ended; smisk's CGI mode removes its bridge directory before it
    answers, so the kill leaves nothing behind (Python takes its time to
    exit)."""
    site = sites("cgimode")  # for its www-data directory
    tmp = site.dir / "tmp"
    tmp.mkdir()
    if AS_ROOT:
        os.chown(tmp, pwd.getpwnam("www-data").pw_uid, grp.getgrnam("www-data").gr_gid)
    script = web.www / f"{site.name}-direct.cgi"
    script.write_text(f"#!/bin/sh\nexec env TMPDIR={tmp} {' '.join(web.python_env)} {' '.join(web.python)} "
                      f"frontend_app:application --chdir {APPS}\n")
    script.chmod(0o755)
    for i in range(3):
        status, headers, body = web.fetch(f"/{script.name}/echo?id=c{i}")
        assert (status, harness.header(headers, "X-Role")) == (200, "cgi"), body
    time.sleep(0.5)  # lighttpd's SIGTERM, the processes' exit
    assert list(tmp.iterdir()) == []


def test_503_when_the_daemon_cannot_start_and_a_hung_start_is_killed(web, sites):
    failing = sites("nostart", start="exit 3")
    status, headers, body = failing.fetch("/echo?id=x")
    assert (status, harness.header(headers, "Retry-After")) == (503, "2"), body
    assert b"Service Unavailable" in body
    # A start that never listens: 503 after start_timeout, and the process
    # (here a sleep) is killed, not left to come up later.
    hung = sites("hung", start="exec sleep 60", start_timeout=1)
    t0 = time.monotonic()
    assert hung.fetch("/echo?id=y")[0] == 503
    assert 0.9 < time.monotonic() - t0 < 5
    [pid] = hung.started()

    def sleeping():
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x0060\x00"
        except OSError:
            return False
    try:
        harness.wait_until(lambda: not sleeping(), timeout=5, what="the hung start to be killed")
    finally:
        if sleeping():
            os.kill(pid, signal.SIGKILL)
    assert not hung.pid_file.exists()


def test_a_killed_front_end_releases_its_slot(web, sites):
    site = sites("slot", max_in_flight=1, forks=2)  # a worker stays free of the hog
    assert site.fetch("/echo?id=warm")[0] == 200
    env = cgi_env("/sleep", "ms=20000&id=hog", script=site.url(""))
    hog = subprocess.Popen([FRONTEND, site.script], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    try:
        harness.wait_until(lambda: b"1 of 1" in subprocess.run([FRONTEND, "--status", site.script],
                                                              capture_output=True).stdout,
                           what="the slot to be taken")
        second = site.fetch("/echo?id=second")
        assert second[0] == 503, second
        hog.kill()  # SIGKILL: no chance to clean anything up
        hog.wait(10)
    finally:
        if hog.poll() is None:
            hog.kill()
            hog.wait(10)
        hog.stdout.close()
        hog.stderr.close()
    status, _, body = site.fetch("/echo?id=third")
    assert status == 200, (body, web.error_log()[-2000:])
    assert fields(body.decode())["id"] == "third"
    site.kill(site.pid(), signal.SIGKILL)  # its worker still sleeps for the hog


# ---- the front end run directly -------------------------------------------------


def cgi_env(path, query="", method="GET", length=None, script="/app.cgi", **extra):
    env = {"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": method, "SCRIPT_NAME": script, "PATH_INFO": path,
           "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
           "REMOTE_ADDR": "127.0.0.1", "PATH": "/usr/bin:/bin"}
    if length is not None:
        env["CONTENT_LENGTH"] = str(length)
    env.update(extra)
    return env


def run_frontend(argv, env, data=b"", valgrind_log=None):
    prefix = []
    if valgrind_log:
        prefix = ["valgrind", "-q", "--leak-check=full", "--show-leak-kinds=definite,indirect,possible",
                  "--errors-for-leak-kinds=definite,indirect,possible", "--error-exitcode=99",
                  f"--log-file={valgrind_log}"]
    return subprocess.run(prefix + [str(a) for a in argv], env=env, input=data, capture_output=True, timeout=120)


def head_and_body(out):
    head, _, body = out.partition(b"\r\n\r\n")
    return head.decode(), body


def test_unit_tests_of_the_codecs_and_the_config_under_valgrind(tmp_path):
    subprocess.run(["make", "-s", "-C", str(FRONTEND_DIR), "unit"], check=True, timeout=300)
    log = tmp_path / "vg.log"
    r = run_frontend([FRONTEND_DIR / "tests" / "unit"], {}, valgrind_log=log)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode() + log.read_text()
    assert b"frontend-unit: " in r.stdout and b" 0 failed" in r.stdout, r.stdout
    assert log.read_text() == ""


def write_conf(path, *lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_front_end_under_valgrind(tmp_path):
    """Forwarding over SCGI and FastCGI (a 100 KB header, a body), a start,
    the 503 of a full house and of a failed start, a config error: no
    memory error, nothing leaked."""
    build()
    procs = []
    try:
        for proto in ("scgi", "fcgi"):
            address = f"{proto}:{tmp_path}/{proto}.sock"
            procs.append(harness.Process([SMISK_WSGI, "frontend_app:application", "--chdir", APPS, "--bind",
                                          address], log=tmp_path / f"{proto}.log"))
            harness.wait_until(lambda: harness.can_connect(f"{tmp_path}/{proto}.sock"), timeout=30, what=proto)
            conf = write_conf(tmp_path / f"{proto}.conf", f"address = {address}", "max_in_flight = 2")
            data = os.urandom(200000)
            for i, (env, body) in enumerate([
                    (cgi_env("/env", "q=1", HTTP_X_LONG="x" * 100000), b""),
                    (cgi_env("/post", method="POST", length=len(data)), data),
                    (cgi_env("/early", method="POST", length=len(data)), data)]):
                log = tmp_path / f"vg-{proto}-{i}.log"
                r = run_frontend([FRONTEND, conf], env, body, valgrind_log=log)
                assert r.returncode == 0 and log.read_text() == "", (r.stderr.decode(), log.read_text())
                head, out = head_and_body(r.stdout)
                assert head.startswith("Status: 200" if i < 2 else "Status: 403"), head
                if i == 0:
                    assert b'"HTTP_X_LONG": "' + b"x" * 100000 in out
                if i == 1:
                    assert out == f"{len(data)} {hashlib.sha1(data).hexdigest()}\n".encode()

        # A start (the daemon outlives the valgrind'ed front end).
        sock = tmp_path / "started.sock"
        conf = write_conf(tmp_path / "start.conf", f"address = scgi:{sock}",
                          f"start = echo $$ > {tmp_path}/started; exec {SMISK_WSGI} frontend_app:application "
                          f"--chdir {APPS} --bind scgi:{sock}", "env = FRONTEND_APP_ROLE=daemon")
        log = tmp_path / "vg-start.log"
        r = run_frontend([FRONTEND, conf], cgi_env("/echo", "id=v"), valgrind_log=log)
        started = int((tmp_path / "started").read_text())
        try:
            assert r.returncode == 0 and log.read_text() == "", (r.stderr.decode(), log.read_text())
            assert b"id=v role=daemon" in r.stdout
        finally:
            os.kill(started, signal.SIGTERM)
            harness.wait_until(lambda: not Path(f"/proc/{started}").exists(), what="the started daemon")

        # 503: a full house (both slots held by sleeping front ends).
        conf = tmp_path / "scgi.conf"
        hogs = [subprocess.Popen([FRONTEND, conf], env=cgi_env("/sleep", "ms=3000"), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL) for _ in range(2)]
        try:
            harness.wait_until(lambda: b"2 of 2" in subprocess.run([FRONTEND, "--status", conf],
                                                                  capture_output=True).stdout, what="slots")
            log = tmp_path / "vg-503.log"
            r = run_frontend([FRONTEND, "--config", conf], cgi_env("/echo"), valgrind_log=log)
            assert r.returncode == 0 and log.read_text() == "", log.read_text()
            head, out = head_and_body(r.stdout)
            assert head.startswith("Status: 503 Service Unavailable") and "Retry-After: 5" in head, head
            assert f"Content-Length: {len(out)}" in head
            assert b"2 requests in flight" in r.stderr
        finally:
            for h in hogs:
                h.kill()
                h.wait(10)

        # 503: the start fails; then the failed start is not retried.
        conf = write_conf(tmp_path / "fail.conf", f"address = {tmp_path}/none.sock", "start = exit 7")
        for i in range(2):
            log = tmp_path / f"vg-fail-{i}.log"
            r = run_frontend([FRONTEND, conf], cgi_env("/echo"), valgrind_log=log)
            assert r.returncode == 0 and log.read_text() == "", log.read_text()
            assert r.stdout.startswith(b"Status: 503"), r.stdout
        assert b"a start failed less than 5 s ago" in r.stderr

        # A configuration error: 500 and the reason in the error log.
        conf = write_conf(tmp_path / "bad.conf", "address = /x.sock", "max_inflight = 3")
        log = tmp_path / "vg-bad.log"
        r = run_frontend([FRONTEND, conf], cgi_env("/echo"), valgrind_log=log)
        assert r.returncode == 2 and log.read_text() == "", log.read_text()
        assert r.stdout.startswith(b"Status: 500 Internal Server Error")
        assert b"line 2: unknown key max_inflight" in r.stderr
    finally:
        for p in procs:
            p.stop()


def test_command_line_and_config_errors(tmp_path):
    build()
    r = subprocess.run([FRONTEND, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--status" in r.stdout
    (tmp_path / "run").mkdir()
    conf = write_conf(tmp_path / "app.conf", "address = scgi:run/app.sock", "start = exec true",
                      "start_timeout = 2.5")
    r = subprocess.run([FRONTEND, "--check", conf], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"unix socket {tmp_path}/run/app.sock" in r.stdout and "start_timeout  2.500 s" in r.stdout
    # Not a CGI request: refuses, without answering.
    r = subprocess.run([FRONTEND, conf], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 2 and "GATEWAY_INTERFACE is not set" in r.stderr and r.stdout == ""
    # The configuration from the environment.
    r = subprocess.run([FRONTEND], capture_output=True, env=dict(cgi_env("/x"), SMISK_FRONTEND_CONFIG=str(conf)))
    assert r.stdout.startswith(b"Status: 503"), r.stdout + r.stderr  # `true` never listens
    # A bad CONTENT_LENGTH is the front end's 400.
    r = subprocess.run([FRONTEND, conf], capture_output=True, env=cgi_env("/x", method="POST", length="1x"))
    assert r.stdout.startswith(b"Status: 400 Bad Request"), r.stdout


def test_a_front_end_killed_while_its_daemon_starts_leaves_no_second_start(tmp_path):
    """The starting front end dies (its lock goes with it) while the daemon
    is still coming up: the next request waits for that daemon instead of
    starting another one."""
    build()
    sock = tmp_path / "slow.sock"
    starts = tmp_path / "starts"
    conf = write_conf(tmp_path / "slow.conf", f"address = scgi:{sock}", "start_timeout = 10",
                      f"start = echo $$ >> {starts}; sleep 1.5; exec {SMISK_WSGI} frontend_app:application "
                      f"--chdir {APPS} --bind scgi:{sock}", "env = FRONTEND_APP_ROLE=daemon")
    first = subprocess.Popen([FRONTEND, conf], env=cgi_env("/echo", "id=1"), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    pids = []
    try:
        harness.wait_until(lambda: starts.exists() and Path(f"{sock}.pid").exists(), what="the start")
        first.kill()
        first.wait(10)
        r = run_frontend([FRONTEND, conf], cgi_env("/echo", "id=2"))
        pids = [int(x) for x in starts.read_text().split()]
        assert b"id=2 role=daemon" in r.stdout, r.stdout + r.stderr
        assert len(pids) == 1, r.stderr
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
        for pid in pids or ([int(x) for x in starts.read_text().split()] if starts.exists() else []):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in pids:
            harness.wait_until(lambda: not Path(f"/proc/{pid}/cmdline").exists()
                               or not Path(f"/proc/{pid}/cmdline").read_bytes(), what="the daemon to stop")
