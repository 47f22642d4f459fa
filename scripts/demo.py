"""Runs the smisk hello example behind nginx on 127.0.0.1 (see scripts/demo):
the Python one (examples/hello.py on smisk.core) by default, the C one
(examples/hello.c) with --c, the WSGI one (examples/wsgi_hello.py under the
smisk-wsgi runner) with --wsgi."""

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import harness  # noqa: E402  (process and nginx helpers shared with the tests)


def main():
    args = sys.argv[1:]
    unknown = [a for a in args if a not in ("--check", "--c", "--wsgi")]
    if unknown or ("--c" in args and "--wsgi" in args):
        why = f"unknown: {' '.join(unknown)}" if unknown else "--c and --wsgi are alternatives"
        print(f"usage: scripts/demo [--check] [--c | --wsgi]  ({why})", file=sys.stderr)
        return 2
    check_only = "--check" in args
    if "--c" in args:
        program, name = harness.HELLO, "C hello (examples/hello.c)"
    elif "--wsgi" in args:
        runner = Path(harness.VENV_PYTHON).parent / "smisk-wsgi"
        program = [runner, "wsgi_hello:application", "--chdir", ROOT / "examples", "--bind"]
        name = "WSGI hello (examples/wsgi_hello.py, smisk-wsgi)"
    else:
        program, name = harness.PY_HELLO, "Python hello (examples/hello.py, smisk.core)"
    print("demo: building smisk and the examples (release)...", flush=True)
    harness.build_programs()
    with tempfile.TemporaryDirectory(prefix="smisk-demo-") as tmp:
        app = harness.start_app(tmp, program=program)
        nginx = harness.Nginx(tmp, app.address)
        try:
            url = nginx.url("/hello?name=smisk")
            print(f"demo: smisk {name} (pid {app.pid}) behind nginx (pid {nginx.pid}) at {url}")
            out = subprocess.run(["curl", "-sS", "-i", url], capture_output=True, text=True, timeout=10)
            print(f"$ curl -i {url}\n{out.stdout}", end="")
            if out.returncode != 0 or not out.stdout.endswith("Hello World!\n"):
                print(f"demo: unexpected answer: {out.stderr}", file=sys.stderr)
                return 1
            if check_only:
                return 0
            print("demo: serving; press Ctrl-C to stop", flush=True)
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            while app.alive() and nginx.alive():
                time.sleep(0.5)
            return 1
        except KeyboardInterrupt:
            return 0
        finally:
            nginx.stop()
            app.stop()


if __name__ == "__main__":
    sys.exit(main())
