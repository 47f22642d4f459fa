"""The process model with real processes: smisk_run() in tests/apps/prefork
(forks=0 and prefork), driven directly over FastCGI and through nginx, with
signals sent to real PIDs. Every process is started here and stopped by PID."""

import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

import fcgi_client
import harness

PREFORK = harness.ROOT / "tests" / "apps" / "prefork"
LOADGEN_DIR = harness.ROOT / "bench" / "fcgi-load"
LOADGEN = LOADGEN_DIR / "target" / "release" / "fcgi-load"


def children(ppid):
    """PIDs whose parent is ppid (from /proc/*/stat), skipping zombies."""
    out = set()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == ppid and fields[0] != "Z":
            out.add(int(d.name))
    return out


def start(tmp, forks=0, wait_workers=True, **env):
    env = {f"SMISK_TEST_{k.upper()}": str(v) for k, v in env.items()}
    env["SMISK_TEST_FORKS"] = str(forks)
    p = harness.start_app(tmp, program=PREFORK, env=env)
    if forks and wait_workers:
        harness.wait_until(lambda: len(children(p.pid)) == forks and p.log().count("prefork: start") >= forks,
                           what=f"{forks} workers")
    return p


def fcgi(p, script, query=""):
    return fcgi_client.get(p.address, script, query)


def body(resp):
    return resp.headers_and_body[1].decode()


def pid_of(text):
    return int(re.search(r"pid=(\d+)", text).group(1))


def wait_exit(p, timeout=15.0):
    p.proc.wait(timeout)
    return p.proc.returncode


class Load:
    """Closed-loop HTTP load through nginx: `conns` threads, each on its own
    kept-alive HTTP connection, until stop() (bounded by max_seconds).
    Records every outcome: (start time, status or exception text, body)."""

    def __init__(self, nginx, path, conns=8, max_seconds=30.0):
        self.nginx, self.path = nginx, path
        self.results = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.deadline = time.monotonic() + max_seconds
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(conns)]
        for t in self.threads:
            t.start()

    def run(self):
        conn = None
        while not self.done.is_set() and time.monotonic() < self.deadline:
            t0 = time.monotonic()
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", self.nginx.port, timeout=30)
                conn.request("GET", self.path)
                resp = conn.getresponse()
                outcome = (t0, resp.status, resp.read())
            except (OSError, http.client.HTTPException) as e:
                outcome = (t0, repr(e), b"")
                if conn:
                    conn.close()
                conn = None
            with self.lock:
                self.results.append(outcome)
        if conn:
            conn.close()

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(40)
        return self.results

    def count(self):
        with self.lock:
            return len(self.results)


def failures(results):
    return [r for r in results if r[1] != 200]


# ---------------------------------------------------------------- forks = 0

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1])
def test_single_process_stops_gracefully_on_each_signal(tmp_path, sig):
    p = start(tmp_path)
    try:
        assert body(fcgi(p, "/pid")).startswith(f"pid={p.pid} worker=0")
        # A request in progress when the signal arrives is completed.
        conn = fcgi_client.Conn(p.address)
        conn.send(fcgi_client.request_bytes(params=fcgi_client.default_params("/sleep", "400")))
        time.sleep(0.15)
        p.proc.send_signal(sig)
        resp = conn.read_response()
        conn.close()
        assert body(resp) == f"slept pid={p.pid}\n"
        assert resp.end == (0, 0)
        assert wait_exit(p) == 0
        assert f"run returned status=0 signal={int(sig)} pid={p.pid}" in p.log()
        assert "prefork: stop worker=0" in p.log()
    finally:
        p.stop()


def test_single_process_blocked_in_accept_stops_at_once(tmp_path):
    p = start(tmp_path)
    try:
        fcgi(p, "/pid")
        time.sleep(0.2)  # now blocked in the wait for the next request
        t0 = time.monotonic()
        p.proc.send_signal(signal.SIGTERM)
        assert wait_exit(p, 5) == 0
        assert time.monotonic() - t0 < 0.5
    finally:
        p.stop()


def test_exit_call_stops_after_the_current_request(tmp_path):
    p = start(tmp_path)
    try:
        assert body(fcgi(p, "/exit")) == f"stopping pid={p.pid} status=0\n"
        assert wait_exit(p) == 0
        assert f"signal={int(signal.SIGUSR1)}" in p.log()
    finally:
        p.stop()


def test_single_process_under_queued_load_stops_on_sigterm(tmp_path):
    """A stop signal under sustained load (32 kept-alive connections that
    always have a request ready, so the loop often hands out queued requests
    without entering its wait): the run still stops at once and cleanly,
    whether the wait or the rate-limited poll of pending signals sees it."""
    if not LOADGEN.exists():
        subprocess.run(["cargo", "build", "--quiet", "--release"], cwd=LOADGEN_DIR, check=True)
    p = start(tmp_path)
    load = subprocess.Popen([str(LOADGEN), "-q", "-c", "32", "-k", "on", "-d", "2", "-t", "5000", p.address],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.7)
        assert load.poll() is None and p.alive()
        t0 = time.monotonic()
        p.proc.send_signal(signal.SIGTERM)
        assert wait_exit(p, 10) == 0
        stopped_in = time.monotonic() - t0
        out, _ = load.communicate(timeout=30)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait(5)
        p.stop()
    assert f"run returned status=0 signal={int(signal.SIGTERM)}" in p.log()
    assert stopped_in < 2.0, stopped_in
    res = json.loads(out.strip().splitlines()[-1])
    # The load really kept the server busy, and what it answered was right.
    assert res["ok"] > 1000 and res["bad_body"] == 0 and res["protocol_errors"] == 0, res


def test_single_process_max_requests_returns_from_run(tmp_path):
    p = start(tmp_path, max_requests=3)
    try:
        for i in range(3):
            assert body(fcgi(p, "/pid")).endswith(f"served={i + 1}\n")
        assert wait_exit(p) == 0
        assert "run returned status=0 signal=0" in p.log()
    finally:
        p.stop()


def test_handler_failure_is_answered_500_and_the_server_goes_on(tmp_path):
    p = start(tmp_path)
    try:
        resp = fcgi(p, "/fail")
        assert resp.headers_and_body[0].startswith(b"Status: 500")
        assert body(fcgi(p, "/pid")).startswith(f"pid={p.pid}")
    finally:
        p.stop()


# ---------------------------------------------------------------- prefork

def test_supervisor_does_not_serve_and_workers_share_the_load(tmp_path):
    p = start(tmp_path, forks=2)
    try:
        workers = children(p.pid)
        seen = set()
        results = []

        def one():
            results.append(body(fcgi(p, "/sleep", "100")))

        threads = [threading.Thread(target=one) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        seen = {pid_of(r) for r in results}
        assert len(results) == 6
        assert seen == workers, (seen, workers)
        assert p.pid not in seen
    finally:
        p.stop()


def test_kill_9_worker_under_load_is_replaced(tmp_path, nginx_factory):
    p = start(tmp_path, forks=2)
    nginx = nginx_factory(p.address, pool=16)
    try:
        before = children(p.pid)
        load = Load(nginx, "/burn?2000", conns=8)
        harness.wait_until(lambda: load.count() > 100, what="load")
        victim = sorted(before)[0]
        os.kill(victim, signal.SIGKILL)
        harness.wait_until(lambda: len(children(p.pid)) == 2 and victim not in children(p.pid),
                           what="replacement worker")
        n = load.count()
        harness.wait_until(lambda: load.count() > n + 200, what="load after the kill")
        results = load.stop()
        after = children(p.pid)
        assert victim not in after and len(after) == 2
        assert len(after - before) == 1
        bad = failures(results)
        assert len(bad) <= 1, bad[:5]
        assert f"(pid {victim}) was killed by signal 9" in p.log()
        # The replacement serves.
        served_by = {pid_of(body(fcgi(p, "/sleep", "50"))) for _ in range(6)}
        assert served_by <= after
    finally:
        p.stop()


def test_sigterm_under_load_completes_in_flight_requests(tmp_path, nginx_factory):
    p = start(tmp_path, forks=2)
    nginx = nginx_factory(p.address, pool=16)
    try:
        results = []
        lock = threading.Lock()

        def one():
            try:
                r = harness_get(nginx, "/sleep?300")
            except Exception as e:  # noqa: BLE001 - any failure is recorded
                r = (repr(e), b"")
            with lock:
                results.append(r)

        threads = [threading.Thread(target=one) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(0.15)  # all 8 sent; 2 being served, 6 waiting in smisk
        p.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(30)
        assert len(results) == 8
        assert all(status == 200 and b"slept" in data for status, data in results), results
        assert wait_exit(p, 20) == 0
        assert f"run returned status=0 signal={int(signal.SIGTERM)} pid={p.pid}" in p.log()
        assert not children(p.pid)
    finally:
        p.stop()


def test_sigterm_with_continuous_load_exits_cleanly(tmp_path, nginx_factory):
    p = start(tmp_path, forks=2)
    nginx = nginx_factory(p.address, pool=16)
    try:
        load = Load(nginx, "/burn?1000", conns=8)
        harness.wait_until(lambda: load.count() > 100, what="load")
        time.sleep(0.5)
        t_sig = time.monotonic()
        p.proc.send_signal(signal.SIGTERM)
        assert wait_exit(p, 20) == 0
        # Prompt even though the workers always have queued requests (the
        # signal is polled between requests, not only in the wait).
        assert time.monotonic() - t_sig < 3.0
        results = load.stop()
        # Requests started before the signal were answered; after it, nginx
        # may answer 502 (the application is gone), never hang.
        early = [r for r in results if r[0] < t_sig]
        assert early and not failures(early), failures(early)[:5]
        assert all(r[1] in (200, 502) for r in results), {r[1] for r in results}
    finally:
        p.stop()


def harness_get(nginx, path):
    conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_sighup_under_load_restarts_all_workers_without_failures(tmp_path, nginx_factory):
    p = start(tmp_path, forks=2)
    nginx = nginx_factory(p.address, pool=16)
    try:
        old = children(p.pid)
        load = Load(nginx, "/burn?500", conns=8)
        harness.wait_until(lambda: load.count() > 100, what="load")
        p.proc.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: len(children(p.pid)) == 2 and not (children(p.pid) & old),
                           timeout=5, what="old workers replaced")
        n = load.count()
        harness.wait_until(lambda: load.count() > n + 200, what="load after the restart")
        results = load.stop()
        new = children(p.pid)
        assert len(new) == 2 and not (new & old)
        assert not failures(results), failures(results)[:5]
        assert len(results) > 300
        served_by = {pid_of(body(fcgi(p, "/sleep", "50"))) for _ in range(6)}
        assert served_by <= new
        assert p.alive()
        p.proc.send_signal(signal.SIGTERM)
        assert wait_exit(p) == 0
    finally:
        p.stop()


def test_drain_timeout_kills_workers_that_do_not_finish(tmp_path):
    p = start(tmp_path, forks=1, drain_ms=300)
    try:
        worker = next(iter(children(p.pid)))
        conn = fcgi_client.Conn(p.address)
        conn.send(fcgi_client.request_bytes(params=fcgi_client.default_params("/sleep", "10000")))
        time.sleep(0.2)
        t0 = time.monotonic()
        p.proc.send_signal(signal.SIGTERM)
        assert wait_exit(p, 8) == 0
        # drain_timeout_ms (300) + the supervisor's grace (500), not 10 s.
        assert time.monotonic() - t0 < 3.0
        assert "drain timeout: killing 1 worker(s)" in p.log()
        assert not Path(f"/proc/{worker}").exists() or worker not in children(p.pid)
        with pytest.raises((EOFError, ConnectionError)):
            conn.read_response()
        conn.close()
    finally:
        p.stop()


@pytest.mark.parametrize("mode,seconds,most", [("abort", 10.0, 16), ("fail", 3.0, 12)])
def test_worker_crashing_at_start_backs_off(tmp_path, mode, seconds, most):
    p = start(tmp_path, forks=2, wait_workers=False, crash_at_start=mode, backoff_ms=100,
              backoff_max_ms=10000)
    try:
        time.sleep(seconds)
        forks = p.log().count("prefork: fork-child")
        # Per worker slot, starts at 0, 0.1, 0.3, 0.7, 1.5, 3.1, 6.3 s (then
        # 12.7 s): 7 per slot in 10 s, 5 in 3 s. Without back-off: thousands.
        assert 6 <= forks <= most, forks
        assert "crash 3 in a row" in p.log()
        # The supervisor still holds the socket and stops promptly.
        assert harness.can_connect(p.address)
        p.proc.send_signal(signal.SIGTERM)
        assert wait_exit(p, 5) == 0
    finally:
        p.stop()


def test_max_requests_recycles_workers(tmp_path):
    p = start(tmp_path, forks=1, max_requests=5)
    try:
        pids = []
        for _ in range(17):
            text = body(fcgi(p, "/pid"))
            served = int(re.search(r"served=(\d+)", text).group(1))
            assert 1 <= served <= 5
            pids.append(pid_of(text))
        assert len(set(pids)) == 4  # 5 + 5 + 5 + 2
        assert p.pid not in pids
        # Recycling is not a crash: no back-off messages.
        assert "crash" not in p.log()
    finally:
        p.stop()


def test_crash_mid_request_affects_only_that_request(tmp_path):
    p = start(tmp_path, forks=2)
    try:
        with pytest.raises((EOFError, ConnectionError)):
            fcgi(p, "/crash")
        harness.wait_until(lambda: len(children(p.pid)) == 2, what="replacement")
        for _ in range(4):
            assert body(fcgi(p, "/pid")).startswith("pid=")
        assert "was killed by signal 6" in p.log()
    finally:
        p.stop()


def test_exit_call_in_a_worker_stops_the_supervisor(tmp_path):
    p = start(tmp_path, forks=2)
    try:
        assert body(fcgi(p, "/exit")).startswith("stopping")
        assert wait_exit(p) == 0
        assert f"run returned status=0 signal={int(signal.SIGUSR1)} pid={p.pid}" in p.log()
    finally:
        p.stop()


def test_supervisor_killed_takes_the_workers_down(tmp_path):
    p = start(tmp_path, forks=2)
    workers = children(p.pid)
    os.kill(p.pid, signal.SIGKILL)
    p.proc.wait(5)

    def alive(w):
        try:
            return Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def gone():
        return not any(alive(w) for w in workers)
    harness.wait_until(gone, what="workers to end after their supervisor")


# ---------------------------------------------------------------- CGI mode

LIGHTTPD_CONF = """
server.document-root = "{www}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{tmp}/lighttpd-error.log"
server.modules = ("mod_cgi")
cgi.assign = (".cgi" => "")
server.max-request-size = 4096
"""


@pytest.fixture
def lighttpd(tmp_path):
    lighttpd = harness.shutil.which("lighttpd") or "/usr/sbin/lighttpd"
    www = tmp_path / "www"
    www.mkdir()
    script = www / "app.cgi"
    script.write_text(f"#!/bin/sh\nexec {PREFORK} -\n")
    script.chmod(0o755)
    port = harness.free_port()
    conf = tmp_path / "lighttpd.conf"
    conf.write_text(LIGHTTPD_CONF.format(www=www, port=port, tmp=tmp_path))
    p = harness.Process([lighttpd, "-D", "-f", conf], log=tmp_path / "lighttpd.out")
    harness.wait_until(lambda: harness.can_connect(("127.0.0.1", port)) or not p.alive(), what="lighttpd")
    assert p.alive(), p.log()
    p.port = port
    p.tmp = tmp_path
    yield p
    p.stop()


def cgi_get(server, path, method="GET", data=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=data)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def cgi_temp_dirs():
    return set(Path(os.environ.get("TMPDIR", "/tmp")).glob("smisk-cgi-*"))


def test_cgi_mode_under_lighttpd_serves_one_request_per_process(lighttpd):
    before = cgi_temp_dirs()
    pids = set()
    for _ in range(3):
        status, headers, data = cgi_get(lighttpd, "/app.cgi/pid?x=1")
        assert status == 200, data
        assert headers["Content-Type"] == "text/plain"
        text = data.decode()
        assert re.fullmatch(r"pid=\d+ worker=0 served=1\n", text), text
        pids.add(pid_of(text))
    assert len(pids) == 3  # a fresh process each time, each served exactly one
    # No temp directory is left behind by the bridge, even though lighttpd
    # kills a CGI process as soon as it has the whole answer.
    assert cgi_temp_dirs() <= before


def test_cgi_mode_body_status_and_failure(lighttpd):
    payload = bytes(range(256)) * 13
    status, _, data = cgi_get(lighttpd, "/app.cgi/echo", method="POST", data=payload)
    assert status == 200
    assert data == f"len={len(payload)}\n".encode() + payload
    status, _, data = cgi_get(lighttpd, "/app.cgi/fail")
    assert status == 500
    assert data == b"Internal Server Error\n"
    status, _, data = cgi_get(lighttpd, "/app.cgi/other")
    assert (status, data) == (200, b"Hello World!\n")


def test_cgi_mode_needs_a_cgi_environment(tmp_path):
    # Started by hand (no GATEWAY_INTERFACE, fd 0 not a socket): an error,
    # not a bogus request.
    env = {k: v for k, v in os.environ.items() if k != "GATEWAY_INTERFACE"}
    r = harness.subprocess.run([str(PREFORK), "-"], env=env, stdin=harness.subprocess.DEVNULL,
                               capture_output=True, timeout=10)
    assert r.returncode == 1
    assert b"status=3" in r.stderr and b"CGI script" in r.stderr


def test_sighup_under_wrk_load_has_no_errors(tmp_path, nginx_factory):
    wrk = harness.shutil.which("wrk")
    if not wrk:
        pytest.skip("wrk not installed")
    p = start(tmp_path, forks=2)
    nginx = nginx_factory(p.address, pool=16)
    try:
        old = children(p.pid)
        run = harness.subprocess.Popen([wrk, "-t", "2", "-c", "8", "-d", "4s", nginx.url("/burn?300")],
                                       stdout=harness.subprocess.PIPE, text=True)
        time.sleep(1.0)
        p.proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        p.proc.send_signal(signal.SIGHUP)  # twice: restarts may overlap
        out, _ = run.communicate(timeout=30)
        m = re.search(r"(\d+) requests in", out)
        assert m and int(m.group(1)) > 1000, out
        assert "Non-2xx" not in out and "Socket errors" not in out, out
        new = children(p.pid)
        assert len(new) == 2 and not (new & old)
    finally:
        p.stop()
