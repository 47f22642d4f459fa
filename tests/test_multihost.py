"""Several smisk backends, each on its own "host" (a network namespace joined
to this one by a veth pair, with addresses of the test's own private subnet
10.213.N.0/24), behind one nginx upstream: requests spread over all of them,
and stopping one backend (SIGTERM) loses no request. Needs root (ip netns);
skipped otherwise. Namespaces, links and processes are removed afterwards."""

import contextlib
import http.client
import os
import re
import signal
import subprocess
import time

import pytest

import harness
from test_process import PREFORK, children

BACKENDS = 3
PORT = 9000


def ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=check)


def netns_available():
    if os.geteuid() != 0 or not harness.shutil.which("ip"):
        return False
    name = f"smisk-probe-{os.getpid()}"
    ok = ip("netns", "add", name, check=False).returncode == 0
    if ok:
        ip("netns", "del", name, check=False)
    return ok


pytestmark = pytest.mark.skipif(not netns_available(), reason="needs root and ip netns")


@contextlib.contextmanager
def network_hosts(count, subnet, tag, default_route=False):
    """`count` "hosts": network namespaces, each joined to this one by a
    veth pair on 10.<subnet>.N.0/24 (this side .1, the host .2). Yields
    [(namespace, host address, this side's address)]; with default_route
    each host routes everything through this side (so it reaches this
    namespace's other addresses). Links and namespaces are removed after."""
    made = []
    try:
        for i in range(count):
            ns = f"smisk-{tag}-{i}"
            host_if, ns_if = f"s{tag}{i}h", f"s{tag}{i}n"
            ip("netns", "add", ns)
            made.append((ns, host_if))
            ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
            ip("link", "set", ns_if, "netns", ns)
            ip("addr", "add", f"10.{subnet}.{i}.1/24", "dev", host_if)
            ip("link", "set", host_if, "up")
            ip("-n", ns, "addr", "add", f"10.{subnet}.{i}.2/24", "dev", ns_if)
            ip("-n", ns, "link", "set", ns_if, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            if default_route:
                ip("-n", ns, "route", "add", "default", "via", f"10.{subnet}.{i}.1")
        yield [(ns, f"10.{subnet}.{i}.2", f"10.{subnet}.{i}.1") for i, (ns, _) in enumerate(made)]
    finally:
        for ns, host_if in made:
            ip("link", "del", host_if, check=False)
            ip("netns", "del", ns, check=False)


@pytest.fixture
def hosts():
    with network_hosts(BACKENDS, 213, f"mh{os.getpid() % 100000}") as made:
        yield [(ns, addr) for ns, addr, _ in made]


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_nginx_balances_over_backends_in_network_namespaces(tmp_path, hosts):
    backends = []
    nginx = None
    try:
        for ns, addr in hosts:
            # Not a loopback address: serve the nginx side of the link only
            # (without a list a backend would accept loopback peers alone).
            nginx_side = addr.rsplit(".", 1)[0] + ".1"
            env = dict(os.environ, SMISK_TEST_FORKS="2", FCGI_WEB_SERVER_ADDRS=nginx_side)
            p = harness.Process(["ip", "netns", "exec", ns, PREFORK, f"{addr}:{PORT}"], env=env,
                                log=tmp_path / f"{ns}.log")
            backends.append(p)
        for p in backends:
            harness.wait_until(lambda p=p: len(children(p.pid)) == 2 or not p.alive(), what="backend workers")
            assert p.alive(), p.log()
        nginx = harness.Nginx(tmp_path, [(a, PORT) for _, a in hosts], keep_conn=True, pool=16)
        port = nginx.port

        def owner(pid):
            return next(i for i, b in enumerate(backends) if pid in children(b.pid))

        seen = [0] * BACKENDS
        for _ in range(60):
            status, data = get(port, "/pid")
            assert status == 200, data
            seen[owner(int(re.search(rb"pid=(\d+)", data).group(1)))] += 1
        assert all(n >= 10 for n in seen), seen  # round robin: ~20 each
        for p in backends:  # the allow-list named nginx: nothing refused, no warning
            assert "refused" not in p.log() and "warning" not in p.log(), p.log()

        # One "host" goes away gracefully; nothing fails, the others serve.
        stopped = backends[1]
        stopped.proc.send_signal(signal.SIGTERM)
        assert stopped.proc.wait(20) == 0
        seen = [0] * BACKENDS
        for _ in range(60):
            status, data = get(port, "/pid")
            assert status == 200, data
            seen[owner(int(re.search(rb"pid=(\d+)", data).group(1)))] += 1
        assert seen[1] == 0 and seen[0] >= 10 and seen[2] >= 10, seen
    finally:
        if nginx:
            nginx.stop()
        for p in backends:
            p.stop()
        time.sleep(0.1)
