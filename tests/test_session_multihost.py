"""Sessions that outgrow one machine: two smisk backends, each on its own
"host" (a network namespace joined to this one by a veth pair, addresses
of the test's private subnet 10.219.N.0/24), behind one nginx upstream
(round robin), sharing their sessions through memcached or Redis on a
third address (this namespace's end of the first link, reached by both
hosts through their default route). A session created on one host is
read, modified and destroyed on the other. Needs root (ip netns); skipped
otherwise. Namespaces, links and processes are removed afterwards."""

import os
import time

import pytest

import harness
from session_net_helpers import PREFIX, Client, raw_client, start_session_app
from servers import Memcached, Redis
from test_multihost import netns_available, network_hosts

pytestmark = pytest.mark.skipif(not netns_available(), reason="needs root and ip netns")

PORT = 9000
HOSTS = 2
KINDS = [pytest.param("memcached", marks=pytest.mark.skipif(not Memcached.available(), reason="no memcached")),
         pytest.param("redis", marks=pytest.mark.skipif(not Redis.available(), reason="no redis-server"))]


@pytest.fixture
def hosts():
    with network_hosts(HOSTS, 219, f"ss{os.getpid() % 100000}", default_route=True) as made:
        yield made


def other(host):
    return "b" if host == "a" else "a"


@pytest.mark.parametrize("kind", KINDS)
def test_a_session_hops_between_hosts(kind, tmp_path, hosts):
    store_ip = hosts[0][2]  # this namespace's end of the first link
    port = harness.free_port()
    # Listening on the link address only: the hosts' way to the shared store.
    server = _on_address(kind, tmp_path, store_ip, port)
    backends, nginx = [], None
    try:
        for (ns, addr, gw), name in zip(hosts, "ab"):
            env = {"HOST_NAME": name, "FCGI_WEB_SERVER_ADDRS": gw}
            backends.append(start_session_app(tmp_path, f"{kind}:{store_ip}:{port}", address=f"{addr}:{PORT}",
                                              env=env, argv_prefix=["ip", "netns", "exec", ns], name=f"app-{name}"))
        for (ns, addr, gw), b in zip(hosts, backends):
            harness.wait_until(lambda b=b, addr=addr: harness.can_connect((addr, PORT)) or not b.alive(),
                               what="backend")
            assert b.alive(), b.log()
        nginx = harness.Nginx(tmp_path, [(addr, PORT) for _, addr, _ in hosts], keep_conn=False)
        raw = raw_client(kind, f"{store_ip}:{port}")
        c = Client(nginx.port)

        status, f = c.get("/set?k=user&v=alice")
        assert status == 200, f
        created_on, sid = f["host"], c.sid
        assert sid and raw.get(PREFIX + sid) is not None

        def on_other_host(path):
            for _ in range(6):  # round robin alternates; bounded
                status, f = c.get(path)
                assert status == 200, f
                if f["host"] == other(created_on):
                    return f
            pytest.fail(f"{path} never reached host {other(created_on)}")

        # Read on the other host.
        assert on_other_host("/get")["session"] == "{'user': 'alice'}"
        assert c.sid == sid and c.set_cookies == []
        # Modified on the other host, seen back on the first.
        on_other_host("/set?k=cart&v=3")
        for _ in range(6):
            status, f = c.get("/get")
            if f["host"] == created_on:
                break
        assert f["host"] == created_on and f["session"] == "{'user': 'alice', 'cart': '3'}"
        # Destroyed on the other host: gone everywhere.
        on_other_host("/del")
        assert c.sid is None and c.set_cookies[0].startswith("SID=; Path=/; Max-Age=0")
        assert raw.get(PREFIX + sid) is None
        c.sid = sid  # a client replaying the old cookie gets no session on either host
        seen = set()
        for _ in range(4):
            status, f = c.get("/get")
            assert f["session"] == "None"
            seen.add(f["host"])
        assert seen == {"a", "b"}
        for b in backends:
            assert "Traceback" not in b.log(), b.log()
    finally:
        if nginx:
            nginx.stop()
        for b in backends:
            b.stop()
        server.stop()
        time.sleep(0.1)


def _on_address(kind, tmp, address, port):
    """The store server listening on `address` (a test host link) only."""
    import servers

    if kind == "memcached":
        s = servers.Memcached.__new__(servers.Memcached)
        s.tmp, s.tcp, s.port, s.memory_mb = tmp, True, port, 64
        argv = [servers.MEMCACHED, "-m", "64", "-l", address, "-p", str(port), "-U", "0"]
        if os.geteuid() == 0:
            argv += ["-u", "root"]
    else:
        s = servers.Redis.__new__(servers.Redis)
        s.tmp, s.tcp, s.port = tmp, True, port
        argv = [servers.REDIS, "--port", str(port), "--bind", address, "--dir", str(tmp), "--save", "",
                "--appendonly", "no", "--protected-mode", "no"]
    harness.Process.__init__(s, argv, log=tmp / f"{kind}-link.log")
    harness.wait_until(lambda: harness.can_connect((address, port)) or not s.alive(), what=kind)
    assert s.alive(), s.log()
    return s
