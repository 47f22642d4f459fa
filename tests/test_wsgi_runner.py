"""The smisk-wsgi command line: help, usage errors (exit status 2 and a
message), logging of start, workers and stop, --max-requests recycling,
and `python -m smisk.wsgi`."""
import signal
import subprocess
import sys

import harness
from fcgi_client import get
from wsgi_helpers import APPS, SMISK_WSGI, start_runner


def run(*args, timeout=60):
    return subprocess.run([str(SMISK_WSGI), *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_help_lists_the_options():
    for argv in ([str(SMISK_WSGI), "--help"], [sys.executable, "-m", "smisk.wsgi", "--help"]):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        for opt in ("--bind", "--forks", "--max-requests", "--sendfile", "MODULE[:APP]", "SIGHUP"):
            assert opt in r.stdout
        assert r.stdout.startswith("usage: smisk-wsgi")


def test_bad_module_paths_exit_2_with_a_message(tmp_path):
    sock = str(tmp_path / "x.sock")
    cases = {
        "no_such_module_xyz:app": "cannot import 'no_such_module_xyz'",
        "validated:no_such_attr": "has no attribute 'no_such_attr'",
        "validated:STATE": "not a WSGI application",
        "bad path!": "bad application path",
        "validated:a-b": "bad application name",
        "json": "has no 'application' or 'app'",
    }
    for spec, message in cases.items():
        r = run(spec, "--bind", sock, "--chdir", str(APPS))
        assert r.returncode == 2, (spec, r.returncode, r.stderr)
        assert message in r.stderr and "usage: smisk-wsgi" in r.stderr, (spec, r.stderr)


def test_exception_while_importing_the_application_exits_1(tmp_path):
    (tmp_path / "broken_app.py").write_text("raise RuntimeError('module-level failure')\n")
    r = run("broken_app:app", "--bind", str(tmp_path / "x.sock"), "--chdir", str(tmp_path))
    assert r.returncode == 1
    assert "RuntimeError: module-level failure" in r.stderr and "Failed to load" in r.stderr


def test_bad_addresses_and_options_exit_2(tmp_path):
    regular = tmp_path / "regular-file"
    regular.write_text("not a socket")
    for address in ("127.0.0.1:99999", "no-port-here", str(regular), "[::1:80"):
        r = run("validated:application", "--bind", address, "--chdir", str(APPS))
        assert r.returncode == 2, (address, r.returncode, r.stderr)
        assert f"cannot listen on {address!r}" in r.stderr
    assert regular.read_text() == "not a socket"  # never deleted
    r = run("validated:application", "--forks", "-1")
    assert r.returncode == 2 and "--forks must be between" in r.stderr
    r = run("validated:application", "--chdir", str(tmp_path / "missing"))
    assert r.returncode == 2 and "--chdir" in r.stderr


def test_logs_start_workers_and_graceful_stop(tmp_path):
    p = start_runner(tmp_path, "validated:application", "--forks", "2", name="logs")
    harness.wait_until(lambda: p.log().count("Booting worker") == 2, what="two workers booted")
    r = get(p.address, script="/v/hello")
    assert r.stdout.endswith(b"Hello World!\n")
    assert p.stop(signal.SIGTERM) == 0
    log = p.log()
    for line in ("Starting smisk-wsgi", f"Listening at: {p.address}", "Application: validated:application; 2 worker",
                 "Booting worker 0 with pid", "Booting worker 1 with pid", "Worker 0 exiting", "Worker 1 exiting",
                 "Stopped"):
        assert line in log, (line, log)


def test_sigint_stops_with_exit_0(tmp_path):
    p = start_runner(tmp_path, "validated:application", name="int", module=True)
    assert get(p.address, script="/v/hello").stdout.endswith(b"Hello World!\n")
    assert p.stop(signal.SIGINT) == 0
    assert "Stopped (SIGINT)" in p.log()


def test_max_requests_recycles_workers(tmp_path):
    p = start_runner(tmp_path, "validated:application", "--forks", "1", "--max-requests", "3", name="recycle")
    try:
        pids = []
        for _ in range(10):
            r = get(p.address, script="/v/rss")
            assert r.end == (0, 0)
            pids.append(r.stdout.split(b'"pid": ')[1].split(b",")[0])
        # 3 requests per worker process, in order.
        assert [len(set(pids[i:i + 3])) for i in (0, 3, 6)] == [1, 1, 1]
        assert len(set(pids)) == 4
        harness.wait_until(lambda: p.log().count("Booting worker 0") >= 4, what="recycled workers logged")
        assert p.log().count("Worker 0 exiting") >= 3
    finally:
        p.stop()
