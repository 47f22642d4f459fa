"""Who may talk to the application: the TCP peer allow-list (smisk-wsgi
--allow, smisk.core, FCGI_WEB_SERVER_ADDRS, the C test app, prefork
workers) and the unix socket file's mode, owner and group (a user outside
the group is refused by the kernel, a member and nginx running as that
member are served). Every server is on 127.0.0.x, ::1 or a unix socket in a
temp dir, and is stopped by its PID."""
import grp
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import harness
from fcgi_client import Conn, default_params, request_bytes
from wsgi_helpers import APPS, SMISK_WSGI

TESTS = Path(__file__).resolve().parent
AS_NOBODY = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]
needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                                reason="needs root and setpriv to act as another user")


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def reachable(target):
    try:
        if isinstance(target, str):
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(0.5)
                s.connect(target)
        else:
            socket.create_connection(target, timeout=0.5).close()
        return True
    except OSError:
        return False


def target_of(address):
    if "/" in address:
        return address
    host, _, port = address.rpartition(":")
    return (host.strip("[]"), int(port))


def start_wsgi(tmp, address, *args, env=None, name="app", prefix=()):
    """smisk-wsgi serving tests/apps/wsgi/counting.py on address."""
    full_env = dict(os.environ)
    full_env.pop("FCGI_WEB_SERVER_ADDRS", None)
    full_env.update(env or {})
    argv = [*prefix, SMISK_WSGI, "counting:application", "--bind", address, "--chdir", APPS, *args]
    p = harness.Process(argv, env=full_env, log=Path(tmp) / f"{name}.log")
    target = target_of(address)
    harness.wait_until(lambda: reachable(target) or not p.alive(), timeout=30, what=f"smisk-wsgi on {address}")
    assert p.alive(), p.log()
    p.address = target
    return p


def refused(target, source):
    """True when a whole request sent from source is answered by a close
    without a single byte."""
    c = Conn(target, timeout=5.0, source=source)
    try:
        try:
            c.send(request_bytes(params=default_params(f"/refused/{source}")))
        except (BrokenPipeError, ConnectionResetError):
            return True
        try:
            return c.sock.recv(1 << 16) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
    finally:
        c.close()


def served(target, source, script=None):
    """The body of the answer to a request from source."""
    c = Conn(target, timeout=10.0, source=source)
    try:
        resp = c.request(params=default_params(script or f"/served/{source}"))
        assert resp.end == (0, 0), resp.stdout
        return resp.headers_and_body[1].decode()
    finally:
        c.close()


def refusal_lines(log, source):
    return [line for line in log.splitlines()
            if re.search(rf"smisk\[\d+\]: refused a FastCGI connection from {re.escape(source)}:", line)]


# ---- TCP peers --------------------------------------------------------------

def test_a_peer_outside_the_list_is_refused_and_never_reaches_the_application(tmp_path):
    port = harness.free_port()
    p = start_wsgi(tmp_path, f"127.0.0.1:{port}", "--allow", "127.0.0.1")
    try:
        for _ in range(5):
            assert refused(p.address, "127.0.0.2")
        assert served(p.address, "127.0.0.1") .startswith("served=1 ")
    finally:
        p.stop()
    log = p.log()
    assert "app saw /served/127.0.0.1 from" in log
    assert "/refused/" not in log, log
    # Logged once for five refusals, with the list it was checked against.
    lines = refusal_lines(log, "127.0.0.2")
    assert len(lines) == 1 and "(127.0.0.1)" in lines[0], log
    assert "warning" not in log, "a loopback listener needs no list"


def test_a_peer_is_served_when_its_network_is_allowed(tmp_path):
    port = harness.free_port()
    p = start_wsgi(tmp_path, f"127.0.0.1:{port}", "--allow", "127.0.0.1", "--allow", "127.0.0.0/8")
    try:
        assert served(p.address, "127.0.0.2").startswith("served=1 ")
        assert served(p.address, "127.0.0.77").startswith("served=2 ")
    finally:
        p.stop()
    assert not refusal_lines(p.log(), "127.0.0.2")


def test_the_default_serves_loopback_peers(tmp_path):
    port = harness.free_port()
    p = start_wsgi(tmp_path, f"127.0.0.1:{port}")
    try:
        assert served(p.address, "127.0.0.2").startswith("served=1 ")
    finally:
        p.stop()


@pytest.mark.skipif(not has_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_ipv6_loopback_refused_and_allowed(tmp_path):
    port = harness.free_port()
    p = start_wsgi(tmp_path, f"[::1]:{port}", "--allow", "127.0.0.1", name="v4only")
    try:
        assert refused(p.address, "::1")
    finally:
        p.stop()
    assert "/refused/" not in p.log() and refusal_lines(p.log(), "::1")
    p = start_wsgi(tmp_path, f"[::1]:{port}", "--allow", "::1/128", name="v6")
    try:
        assert served(p.address, "::1").startswith("served=1 ")
    finally:
        p.stop()


def test_the_environment_variable_form_in_a_c_program(tmp_path):
    """FCGI_WEB_SERVER_ADDRS (libfcgi's comma-separated form) when nothing
    is set through the API: tests/apps/testapp.c does not set a list."""
    port = harness.free_port()
    app = harness.start_app(tmp_path, address=f"127.0.0.1:{port}",
                            env={"FCGI_WEB_SERVER_ADDRS": "10.9.9.9,127.0.0.1"})
    try:
        target = ("127.0.0.1", port)
        for _ in range(3):
            assert refused(target, "127.0.0.2")
        # The application never saw them: its counter is still 0.
        assert served(target, "127.0.0.1", script="/stats").startswith("requests=0 ")
    finally:
        app.stop()
    assert len(refusal_lines(app.log(), "127.0.0.2")) == 1
    app = harness.start_app(tmp_path, address=f"127.0.0.1:{port}",
                            env={"FCGI_WEB_SERVER_ADDRS": "127.0.0.0/8"})
    try:
        assert served(("127.0.0.1", port), "127.0.0.2", script="/hello") == "Hello World!\n"
    finally:
        app.stop()


def test_the_environment_variable_with_smisk_wsgi_and_allow_wins(tmp_path):
    port = harness.free_port()
    env = {"FCGI_WEB_SERVER_ADDRS": "127.0.0.1"}
    p = start_wsgi(tmp_path, f"127.0.0.1:{port}", env=env, name="env")
    try:
        assert refused(p.address, "127.0.0.2")
    finally:
        p.stop()
    p = start_wsgi(tmp_path, f"127.0.0.1:{port}", "--allow", "127.0.0.2", env=env, name="flag")
    try:
        assert served(p.address, "127.0.0.2").startswith("served=1 ")
    finally:
        p.stop()


def test_prefork_workers_inherit_the_list(tmp_path):
    port = harness.free_port()
    p = harness.start_pyapp(tmp_path, address=f"127.0.0.1:{port}", forks=2,
                            env={"FCGI_WEB_SERVER_ADDRS": "127.0.0.1"})
    target = ("127.0.0.1", port)
    try:
        for _ in range(10):
            assert refused(target, "127.0.0.2")
            assert refused(target, "127.0.0.3")
        pids = {served(target, "127.0.0.1", script="/pid") for _ in range(10)}
    finally:
        p.stop()
    log = p.log()
    assert pids and str(p.pid) not in pids, "the supervisor never serves"
    lines = refusal_lines(log, "127.0.0.2") + refusal_lines(log, "127.0.0.3")
    refusers = {int(re.search(r"smisk\[(\d+)\]", line).group(1)) for line in lines}
    # Workers refused them (the supervisor never accepts), at most one line
    # per address and worker.
    assert refusers and p.pid not in refusers, log
    assert 2 <= len(lines) <= 4, log


def test_the_python_api(tmp_path):
    code = r"""
import smisk.core as c
assert c.allowed() == ["10.1.0.0/16"], "FCGI_WEB_SERVER_ADDRS when nothing is set"
c.set_allow("10.0.0.5, fd00::/8")
assert c.allowed() == ["10.0.0.5", "fd00::/8"], c.allowed()
c.set_allow(["192.168.0.0/16", "::ffff:10.0.0.0/104"])
assert c.allowed() == ["192.168.0.0/16", "10.0.0.0/8"], c.allowed()
for bad, word in (("10.0.0.1/8", "10.0.0.0/8"), ("", "empty"), ([], "empty"), ("web1", "web1")):
    try:
        c.set_allow(bad)
    except ValueError as e:
        assert word in str(e), (bad, e)
    else:
        raise AssertionError(bad)
assert c.allowed() == ["192.168.0.0/16", "10.0.0.0/8"], "a failed set changes nothing"
for bad in (5, [1, 2]):
    try:
        c.set_allow(bad)
    except TypeError:
        pass
    else:
        raise AssertionError(bad)
c.set_allow(None)
assert c.allowed() == ["10.1.0.0/16"], "back to FCGI_WEB_SERVER_ADDRS"
c.bind("127.0.0.1:0", allow="any")
assert c.allowed() == ["any"]
c.unbind()
for kw in ({"mode": 0o600}, {"owner": "root"}, {"group": 0}):
    try:
        c.bind("127.0.0.1:0", **kw)
    except ValueError as e:
        assert "unix sockets" in str(e), e
    else:
        raise AssertionError(kw)
print("ok")
"""
    env = dict(os.environ, FCGI_WEB_SERVER_ADDRS="10.1.0.0/16")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_malformed_lists_are_clear_errors_at_start(tmp_path):
    def run(*args, env=None):
        full = dict(os.environ)
        full.pop("FCGI_WEB_SERVER_ADDRS", None)
        full.update(env or {})
        return subprocess.run([str(SMISK_WSGI), "counting:application", "--chdir", str(APPS), *args],
                              capture_output=True, text=True, timeout=60, env=full, stdin=subprocess.DEVNULL)

    tcp = f"127.0.0.1:{harness.free_port()}"
    for allow, word in (("10.0.0.300", "10.0.0.300"), ("", "empty"), ("10.0.0.1/8", "10.0.0.0/8"),
                        ("web1.example", "host names are not resolved")):
        r = run("--bind", tcp, "--allow", allow)
        assert r.returncode == 2 and "--allow" in r.stderr and word in r.stderr, (allow, r.stderr)
    for forks in ("0", "2"):
        r = run("--bind", tcp, "--forks", forks, env={"FCGI_WEB_SERVER_ADDRS": "127.0.0.1,web1"})
        assert r.returncode == 2, (forks, r.returncode, r.stderr)
        assert "FCGI_WEB_SERVER_ADDRS" in r.stderr and "web1" in r.stderr, r.stderr
        assert "Booting worker" not in r.stderr, "decided before any worker starts"
    # The C test app: its accept fails with the message; it serves nobody.
    port = harness.free_port()
    env = dict(os.environ, FCGI_WEB_SERVER_ADDRS="127.0.0.1;127.0.0.2")
    r = subprocess.run([str(harness.TESTAPP), f"127.0.0.1:{port}"], capture_output=True, text=True,
                       timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "FCGI_WEB_SERVER_ADDRS" in r.stderr, r.stderr


def test_usage_errors_of_the_socket_options(tmp_path):
    def run(*args):
        return subprocess.run([str(SMISK_WSGI), "counting:application", "--chdir", str(APPS), *args],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    r = run("--socket-mode", "0660")
    assert r.returncode == 2 and "need --bind" in r.stderr, r.stderr
    r = run("--bind", str(tmp_path / "s.sock"), "--socket-mode", "0999")
    assert r.returncode == 2 and "octal" in r.stderr, r.stderr
    r = run("--bind", str(tmp_path / "s.sock"), "--socket-mode", "7777")
    assert r.returncode == 2 and "beyond the permission bits 0777" in r.stderr, r.stderr
    r = run("--bind", f"127.0.0.1:{harness.free_port()}", "--socket-mode", "0600")
    assert r.returncode == 2 and "apply to unix sockets" in r.stderr, r.stderr
    for opt, name in (("--socket-owner", "no-such-user-smisk"), ("--socket-group", "no-such-group-smisk")):
        r = run("--bind", str(tmp_path / "s.sock"), opt, name)
        assert r.returncode == 2 and name in r.stderr, r.stderr
    assert not (tmp_path / "s.sock").exists()
    r = subprocess.run([str(SMISK_WSGI), "--help"], capture_output=True, text=True, timeout=60)
    for opt in ("--allow", "--socket-mode", "--socket-owner", "--socket-group", "FCGI_WEB_SERVER_ADDRS"):
        assert opt in r.stdout


# ---- unix socket ownership ------------------------------------------------------

@pytest.fixture
def shared_dir():
    """A directory other users can pass through (0711), unlike pytest's."""
    d = Path(tempfile.mkdtemp(prefix="smisk-own-", dir="/tmp"))
    os.chmod(d, 0o711)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_default_mode_is_0660_whatever_the_umask(tmp_path):
    sock = tmp_path / "app.sock"
    p = start_wsgi(tmp_path, str(sock), prefix=["sh", "-c", 'umask 000; exec "$@"', "sh"])
    try:
        st = os.lstat(sock)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
        assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())
        assert [e.name for e in tmp_path.iterdir() if e.name.startswith(".smisk-")] == []
    finally:
        p.stop()
    assert not sock.exists(), "removed at stop"


@needs_root
def test_mode_owner_and_group_by_name_and_number(tmp_path):
    sock = tmp_path / "app.sock"
    p = start_wsgi(tmp_path, str(sock), "--socket-mode", "0600", "--socket-owner", "nobody",
                   "--socket-group", str(grp.getgrnam("www-data").gr_gid))
    try:
        st = os.lstat(sock)
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert (st.st_uid, st.st_gid) == (65534, grp.getgrnam("www-data").gr_gid)
    finally:
        p.stop()


CONNECT_AS = r"""
import sys
sys.path.insert(0, sys.argv[2])
from fcgi_client import get
try:
    resp = get(sys.argv[1], script="/as-" + sys.argv[3])
except PermissionError:
    print("EACCES")
else:
    print(resp.headers_and_body[1].decode().split()[0])
"""


def connect_as(sock, *setpriv_args, tag):
    r = subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup", *setpriv_args, sys.executable, "-c",
                        CONNECT_AS, str(sock), str(TESTS), tag], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@needs_root
def test_only_the_socket_group_can_connect(shared_dir, tmp_path):
    sock = shared_dir / "app.sock"
    gid = grp.getgrnam("www-data").gr_gid
    p = start_wsgi(tmp_path, str(sock), "--socket-group", "www-data")
    try:
        assert stat.S_IMODE(os.lstat(sock).st_mode) == 0o660
        # nobody, in no group of the socket: the kernel refuses the connect.
        assert connect_as(sock, "--clear-groups", tag="outsider") == "EACCES"
        # The same user as a member of the socket's group is served.
        assert connect_as(sock, "--groups", str(gid), tag="member") == "served=1"
    finally:
        p.stop()
    assert "/as-outsider" not in p.log() and "/as-member" in p.log()
    # Control: with 0666 the outsider connects, so the directory was not
    # what stopped it.
    p = start_wsgi(tmp_path, str(sock), "--socket-mode", "0666", name="open")
    try:
        assert connect_as(sock, "--clear-groups", tag="outsider") == "served=1"
    finally:
        p.stop()


@needs_root
def test_a_user_who_may_not_give_the_socket_away_gets_a_clear_error(shared_dir):
    own = shared_dir / "nobody"
    own.mkdir()
    os.chown(own, 65534, 65534)
    r = subprocess.run([*AS_NOBODY, str(SMISK_WSGI), "counting:application", "--chdir", str(APPS),
                        "--bind", str(own / "s.sock"), "--socket-owner", "root"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "only root may" in r.stderr, r.stderr
    assert list(own.iterdir()) == [], "nothing left behind"


@needs_root
def test_nginx_as_another_user_behind_a_0660_socket_in_its_group(shared_dir, tmp_path):
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.skip("nginx is not installed")
    sock = shared_dir / "app.sock"
    p = start_wsgi(tmp_path, str(sock), "--socket-group", "www-data")
    try:
        nginx = harness.Nginx(tmp_path, str(sock), user="www-data www-data")
        try:
            status, _, body = harness.http_fetch(nginx.port, "/hello")
            assert (status, body.split()[0]) == (200, b"served=1"), nginx.error_log()
            workers = subprocess.run(["ps", "-o", "user=", "--ppid", str(nginx.pid)], capture_output=True,
                                     text=True).stdout.split()
            assert workers and set(workers) == {"www-data"}, workers
        finally:
            nginx.stop()
    finally:
        p.stop()
    # Control: the same nginx, socket left in root's group: refused (502).
    p = start_wsgi(tmp_path, str(sock), name="rootgroup")
    try:
        nginx = harness.Nginx(tmp_path, str(sock), user="www-data www-data")
        try:
            status, _, _ = harness.http_fetch(nginx.port, "/hello")
            assert status == 502
            assert "Permission denied" in nginx.error_log()
        finally:
            nginx.stop()
    finally:
        p.stop()


def other_server(kind, tmp, shared, sock):
    """lighttpd or Apache whose workers run as www-data, in front of sock
    (lighttpd opens its log as www-data: it lives in shared)."""
    if kind == "lighttpd":
        return harness.Lighttpd(shared, str(sock), user=("www-data", "www-data"))
    if kind == "apache":  # Apache's default: a new connection per request
        return harness.Apache(tmp, str(sock))
    # enablereuse=on (FCGI_KEEP_CONN), as docs/deployment.md recommends.
    return harness.Apache(tmp, str(sock), proxy_params="enablereuse=on")


@needs_root
@pytest.mark.parametrize("kind", ["lighttpd", "apache", "apache-reuse"])
def test_lighttpd_and_apache_as_www_data_behind_a_0660_socket(kind, shared_dir, tmp_path):
    """The settings docs/deployment.md recommends for the other two servers,
    and Apache's default (no connection reuse)."""
    binary = {"lighttpd": "lighttpd", "apache": "apache2", "apache-reuse": "apache2"}[kind]
    if shutil.which(binary) is None and not Path(f"/usr/sbin/{binary}").exists():
        pytest.skip(f"{binary} is not installed")
    sock = shared_dir / "app.sock"
    p = start_wsgi(tmp_path, str(sock), "--socket-group", "www-data")
    try:
        server = other_server(kind, tmp_path, shared_dir, sock)
        try:
            for n in range(1, 21):
                status, _, body = harness.http_fetch(server.port, "/hello")
                assert (status, body.split()[0]) == (200, b"served=%d" % n), server.error_log()
        finally:
            server.stop()
    finally:
        p.stop()
