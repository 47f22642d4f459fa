"""Shared by the smisk.wsgi tests: start smisk-wsgi on a unix socket in a
temp dir (stopped by its PID) and fetch through nginx."""
import os
import sys
from pathlib import Path

import harness

APPS = Path(__file__).resolve().parent / "apps" / "wsgi"
SMISK_WSGI = Path(sys.executable).parent / "smisk-wsgi"


def start_runner(tmp, spec, *args, name="app", env=None, module=False):
    sock = str(Path(tmp) / f"{name}.sock")
    argv = [sys.executable, "-m", "smisk.wsgi"] if module else [SMISK_WSGI]
    argv += [spec, "--bind", sock, "--chdir", APPS, *args]
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = harness.Process(argv, env=full_env, log=Path(tmp) / f"{name}.log")
    harness.wait_until(lambda: harness.can_connect(sock) or not p.alive(), timeout=30, what=f"smisk-wsgi {spec}")
    assert p.alive(), p.log()
    p.address = sock
    return p


def fetch(port, path, method="GET", body=None, headers=None, timeout=60):
    return harness.http_fetch(port, path, method, body, headers, timeout)


header = harness.header
