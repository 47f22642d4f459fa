"""The README's first command (scripts/demo) answers through nginx."""

import subprocess
import sys

import pytest

import harness


@pytest.mark.parametrize("flags, which", [([], "Python hello"), (["--c"], "C hello"), (["--wsgi"], "WSGI hello")])
def test_demo_check_answers_through_nginx(flags, which):
    out = subprocess.run([sys.executable, harness.ROOT / "scripts" / "demo.py", "--check", *flags],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "HTTP/1.1 200 OK" in out.stdout and out.stdout.endswith("Hello World!\n")
    assert "Content-Type: text/plain" in out.stdout
    assert f"smisk {which}" in out.stdout and "behind nginx" in out.stdout


def test_demo_rejects_unknown_flags():
    out = subprocess.run([sys.executable, harness.ROOT / "scripts" / "demo.py", "--bogus"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--bogus" in out.stderr
    out = subprocess.run([sys.executable, harness.ROOT / "scripts" / "demo.py", "--c", "--wsgi"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "usage" in out.stderr
