"""Fair workers: with N prefork workers behind nginx's upstream keepalive
pool (32 kept-alive connections from wrk), each worker serves its share of
the answers; after a worker is killed with SIGKILL under that load, its
replacement takes its share within two seconds; no request fails.
wrk tallies the answers per serving worker (tests/apps/tally.lua reads the
pid from each body)."""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

import harness

PREFORK = harness.ROOT / "tests" / "apps" / "prefork"
TALLY = harness.ROOT / "tests" / "apps" / "tally.lua"
CONNS = 32

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


def start(tmp_path, forks):
    sock = str(tmp_path / "app.sock")
    env = dict(os.environ, SMISK_TEST_FORKS=str(forks))
    p = harness.Process([PREFORK, sock], env=env, log=tmp_path / "prefork.log")
    harness.wait_until(lambda: harness.can_connect(sock) or not p.alive(), what="prefork")
    harness.wait_until(lambda: p.log().count("prefork: start worker=") >= forks, what="workers")
    return p, sock


def worker_pids(p):
    return [int(x) for x in re.findall(r"prefork: start worker=\d+ pid=(\d+)", p.log())]


def wrk(port, seconds, background=False, method="GET", conns=CONNS):
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", "-s", str(TALLY),
            f"http://127.0.0.1:{port}/pid"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, TALLY_METHOD=method))
    return proc if background else tally(proc)


def tally(proc):
    """({worker pid: answers}, failed requests) from a finished wrk."""
    out, _ = proc.communicate(timeout=60)
    counts = {int(pid): int(n) for pid, n in re.findall(r"^pid (\d+) (\d+)$", out, re.M)}
    errors = re.search(r"^errors (\d+)$", out, re.M)
    assert errors, out
    return counts, int(errors.group(1)) + int(re.search(r"Non-2xx or 3xx responses: (\d+)", out).group(1)
                                               if "Non-2xx" in out else 0)


@pytest.mark.parametrize("forks, low, high", [(2, 0.40, 0.60), (4, 0.20, 0.30)])
def test_kept_alive_connections_spread_over_the_workers(tmp_path, forks, low, high):
    p, sock = start(tmp_path, forks)
    nginx = harness.Nginx(tmp_path, sock, keep_conn=True, pool=CONNS)
    try:
        wrk(nginx.port, 2)  # the pool fills and settles
        # Answers also follow CPU scheduling on a shared 2-vCPU machine:
        # one of three 2-second windows must be within the bounds, and no
        # request may fail in any.
        windows = []
        for _ in range(3):
            counts, failed = wrk(nginx.port, 2)
            total = sum(counts.values())
            assert failed == 0 and total > 1000, (failed, total)
            shares = {pid: counts.get(pid, 0) / total for pid in worker_pids(p)[-forks:]}
            windows.append(shares)
            if all(low <= s <= high for s in shares.values()):
                break
        else:
            raise AssertionError(f"no window within {low}-{high}: {windows}\n{p.log()[-1500:]}")
    finally:
        nginx.stop()
        p.stop()


def test_a_replacement_worker_takes_its_share_after_kill_9(tmp_path):
    p, sock = start(tmp_path, 2)
    nginx = harness.Nginx(tmp_path, sock, keep_conn=True, pool=CONNS)
    try:
        background = wrk(nginx.port, 5, background=True)
        time.sleep(1.5)
        os.kill(worker_pids(p)[-1], signal.SIGKILL)
        killed_at = time.monotonic()
        harness.wait_until(lambda: len(worker_pids(p)) >= 3, timeout=10, what="the replacement")
        replacement = worker_pids(p)[-1]
        time.sleep(max(0.0, killed_at + 2 - time.monotonic()))
        counts, failed = wrk(nginx.port, 1)  # answers in the third second after the kill
        total = sum(counts.values())
        assert failed == 0 and total > 500, (failed, total)
        assert counts.get(replacement, 0) / total >= 0.30, (counts, replacement, p.log()[-1500:])
        _, failed_during = tally(background)
        assert failed_during == 0, "requests failed across the kill"
    finally:
        nginx.stop()
        p.stop()


def test_a_released_connection_never_takes_a_request_with_it(tmp_path):
    """Workers give connections back while nginx keeps sending: a close
    between requests would cross a request nginx is writing, and nginx
    retries a GET on another connection but answers a POST with 502. The
    release goes with an answer, in a way nginx does not reuse."""
    p, sock = start(tmp_path, 2)
    nginx = harness.Nginx(tmp_path, sock, keep_conn=True, pool=CONNS)
    try:
        wrk(nginx.port, 1, method="POST")
        counts, failed = wrk(nginx.port, 6, method="POST")
        total = sum(counts.values())
        assert total > 2000, counts
        log = nginx.error_log()
        assert failed == 0, (failed, counts, log[-1500:])
        # A request crossed a closing upstream connection (wrk's own
        # connections closing at the end of a run are not these).
        crossed = [line for line in log.splitlines()
                   if "client prematurely closed" not in line
                   and ("Broken pipe) while sending request to upstream" in line
                        or "upstream prematurely closed" in line
                        or "reset by peer) while reading response header from upstream" in line)]
        assert not crossed, crossed[:5]
        assert len(counts) == 2, counts  # both workers served
    finally:
        nginx.stop()
        p.stop()


def test_apache_keeps_its_connections_and_loses_no_request(tmp_path):
    """Apache's mod_proxy_fcgi (enablereuse=on) reuses a pooled connection
    even with bytes waiting on it, and a close between requests can cross
    its next one: no release is safe, so workers never release its
    connections (the accept-side share still spreads new ones). Before,
    released connections failed requests with 503 ("Got bogus rid 0",
    "Broken pipe")."""
    port = harness.free_port()
    env = dict(os.environ, SMISK_TEST_FORKS="2")
    p = harness.Process([PREFORK, f"127.0.0.1:{port}"], env=env, log=tmp_path / "prefork.log")
    harness.wait_until(lambda: harness.can_connect(("127.0.0.1", port)) or not p.alive(), what="prefork")
    # Unlimited client keep-alive: Apache closing wrk's connections would
    # count as wrk read errors.
    apache = harness.Apache(tmp_path, ("127.0.0.1", port), proxy_params="enablereuse=on",
                            extra="MaxKeepAliveRequests 0")
    try:
        served = {}
        for method in ("GET", "POST"):
            # 8 connections: the test Apache has 8 worker threads.
            # Apache's event MPM closes kept-alive client connections under
            # load, which wrk counts as read errors: only wrong answers count.
            proc = wrk(apache.port, 3, background=True, method=method, conns=8)
            out, _ = proc.communicate(timeout=60)
            counts = {int(pid): int(n) for pid, n in re.findall(r"^pid (\d+) (\d+)$", out, re.M)}
            bad = int(re.search(r"^bad (\d+)$", out, re.M).group(1))
            assert bad == 0 and "Non-2xx" not in out and sum(counts.values()) > 1000, (method, out)
            for pid, n in counts.items():
                served[pid] = served.get(pid, 0) + n
        errors = [line for line in apache.error_log().splitlines() if "proxy_fcgi:error" in line]
        assert not errors, errors[:5]
        assert len(served) == 2, served
    finally:
        apache.stop()
        p.stop()
