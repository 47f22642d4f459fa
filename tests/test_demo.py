"""The README's first command (scripts/demo) answers through nginx."""

import subprocess
import sys

import harness


def test_demo_check_answers_through_nginx():
    out = subprocess.run([sys.executable, harness.ROOT / "scripts" / "demo.py", "--check"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "HTTP/1.1 200 OK" in out.stdout and out.stdout.endswith("Hello World!\n")
    assert "behind nginx" in out.stdout
