"""The wait of a server that gets a new connection per request (nginx's
default, fastcgi_keep_conn off): with nothing else to watch it blocks in
accept(2) itself and reads the connection with one blocking recv, so a
request costs accept4, recv, sendto and close (and setsockopt on a unix
socket, which does not inherit the listener's receive timeout), and no
epoll_wait. Counted with strace on the C hello (examples/hello, the C
API's accept loop) under bench/fcgi-load; then the mixes that must leave
that wait (kept-alive connections beside new ones, many connections at
once) are checked for lost or wrong answers, on a unix socket and TCP.
"""
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

import harness

HELLO = harness.ROOT / "examples" / "hello"
LOADGEN = harness.ROOT / "bench" / "fcgi-load" / "target" / "release" / "fcgi-load"


def load(address, conns, keep, seconds):
    """Runs fcgi-load against address; its JSON result (every answer is
    checked against the hello's bytes)."""
    target = address if isinstance(address, str) else f"{address[0]}:{address[1]}"
    r = subprocess.run([str(LOADGEN), "-q", "-c", str(conns), "-k", "on" if keep else "off",
                        "-d", str(seconds), "-t", "5000", target],
                       capture_output=True, text=True, timeout=seconds + 60)
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def assert_all_answered(res):
    assert res["ok"] > 0, res
    bad = {k: res[k] for k in ("errors", "bad_body", "bad_status", "protocol_errors",
                               "connect_errors", "dropped", "unanswered") if res[k]}
    assert not bad, res


def child_of(pid, timeout=10):
    """The one child of pid (strace's tracee)."""
    found = []

    def look():
        for task in Path(f"/proc/{pid}/task").iterdir():
            found.extend(int(c) for c in (task / "children").read_text().split())
        return bool(found)

    harness.wait_until(look, timeout=timeout, what=f"a child of {pid}")
    return found[0]


def strace_counts(path):
    """{syscall: calls} from an `strace -c` summary."""
    counts = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
            counts[parts[-1]] = int(parts[3])
    return counts


@pytest.fixture
def traced_hello(tmp_path):
    """examples/hello on a unix socket under strace -f -c; yields (address,
    stop) where stop() ends the hello and returns the syscall counts."""
    out = tmp_path / "strace.txt"
    app = harness.start_app(tmp_path, program=["strace", "-f", "-qq", "-c", "-o", str(out), "--", str(HELLO)])
    tracee = child_of(app.proc.pid)
    done = []

    def stop():
        os.kill(tracee, signal.SIGTERM)
        app.proc.wait(20)
        done.append(True)
        return strace_counts(out)

    yield app.address, stop
    if not done:
        app.stop()


def test_a_connection_per_request_costs_accept_read_send_close(traced_hello):
    address, stop = traced_hello
    res = load(address, 1, keep=False, seconds=1.5)
    assert_all_answered(res)
    counts = stop()
    n = res["ok"]
    assert n >= 200, res  # slowed by strace, but not to a crawl
    assert counts.get("accept4", 0) >= n, counts
    # The first read blocks (bounded by the receive timeout set on each
    # unix connection): no epoll wait, even for a request whose bytes came
    # after its connection.
    assert counts.get("setsockopt", 0) >= n, counts
    assert counts.get("epoll_pwait", 0) + counts.get("epoll_wait", 0) <= 10, counts
    assert counts.get("read", 0) + counts.get("recvfrom", 0) <= n * 1.05 + 10, counts
    per_request = sum(counts.values()) / n
    assert per_request <= 5.3, (per_request, counts)


def test_kept_alive_connections_still_wait_in_epoll(traced_hello):
    address, stop = traced_hello
    res = load(address, 2, keep=True, seconds=1.0)
    assert_all_answered(res)
    counts = stop()
    assert counts.get("accept4", 0) <= 4, counts  # two connections, each accepted once
    assert counts.get("epoll_pwait", 0) >= res["ok"] * 0.3, counts


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_new_and_kept_connections_together_lose_nothing(tmp_path, transport):
    """Load that keeps switching between the blocking accept and the epoll
    wait: bursts of new connections, two kept-alive ones beside them, and a
    connection per request alone, in rounds."""
    address = None if transport == "unix" else f"127.0.0.1:{harness.free_port()}"
    app = harness.start_app(tmp_path, program=str(HELLO), address=address)
    try:
        for _ in range(3):
            results = {}
            jobs = [("burst", 8, False), ("kept", 2, True), ("single", 1, False)]

            def run(name, conns, keep):
                results[name] = load(app.address, conns, keep, 0.7)

            threads = [threading.Thread(target=run, args=job) for job in jobs]
            for t in threads:
                t.start()
            for t in threads:
                t.join(90)
            assert set(results) == {j[0] for j in jobs}, results
            for res in results.values():
                assert_all_answered(res)
            assert_all_answered(load(app.address, 1, keep=False, seconds=0.3))
            time.sleep(0.05)
        assert app.alive(), app.log()
    finally:
        app.stop()
