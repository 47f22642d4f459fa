#!/usr/bin/env python3
"""smisk.core codec calls through the CPython shim against the standard
library: per-call time (best of 5 repeats) and the speed-up. Prints a table.

Run from the repository root, with the shim installed in .venv
(scripts/install-deps does that):

    nice -n 10 taskset -c 1 .venv/bin/python bench/shim/run.py

The stdlib functions are the closest equivalents, not identical semantics
(parse_qs drops bare keys unless keep_blank_values; html.escape escapes ' as
&#x27;).

Then multipart through the shim: bench/shim/form_bench.py (a FastCGI POST
to a smisk.core app against python-multipart, see its docstring), run with
bench/.venv's Python; `--no-multipart` skips it, `--size-mib N` is passed on.
"""
import argparse
import html
import os
import subprocess
import sys
import timeit
import urllib.parse

from smisk.core import URL, pack, uid, xml

SHORT_Q = "name=Jack%20%C3%B6l&age=53&tags=a&tags=b&flag"
LONG_Q = "&".join(f"field{i}=value+{i}%20%C3%A5" for i in range(500))
TEXT = "Hello wörld & <friends> 'quoted' " * 30
ENCODED = urllib.parse.quote_plus(TEXT)

CASES = [
    ("decode short str", lambda: URL.decode("a+b%20c%C3%A5"),
     lambda: urllib.parse.unquote_plus("a+b%20c%C3%A5")),
    ("decode 1 KB str", lambda: URL.decode(ENCODED),
     lambda: urllib.parse.unquote_plus(ENCODED)),
    ("encode 1 KB str", lambda: URL.encode(TEXT),
     lambda: urllib.parse.quote(TEXT, safe="!'()*")),
    ("decompose_query 5 fields", lambda: URL.decompose_query(SHORT_Q),
     lambda: urllib.parse.parse_qs(SHORT_Q, keep_blank_values=True)),
    ("decompose_query 500 fields", lambda: URL.decompose_query(LONG_Q),
     lambda: urllib.parse.parse_qs(LONG_Q, keep_blank_values=True)),
    ("URL parse + to_s", lambda: URL("http://u:p@host.example:8080/a/b?x=1#f").to_s(),
     lambda: urllib.parse.urlsplit("http://u:p@host.example:8080/a/b?x=1#f").geturl()),
    ("xml.escape 1 KB str", lambda: xml.escape(TEXT), lambda: html.escape(TEXT)),
    ("xml.unescape 1 KB str", lambda: xml.unescape(xml.escape(TEXT)),
     lambda: html.unescape(html.escape(TEXT))),
    ("uid()", uid, None),
    ("pack 20 bytes", lambda: pack(b"\x01" * 20), None),
]


def per_call(fn):
    t = timeit.Timer(fn)
    n, _ = t.autorange()
    return min(t.repeat(5, n)) / n


HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_PY = os.path.join(os.path.dirname(HERE), ".venv", "bin", "python")


def form_bench(size_mib):
    ok = os.path.exists(BENCH_PY) and subprocess.run(
        [BENCH_PY, "-c", "import python_multipart, flup"], stderr=subprocess.DEVNULL).returncode == 0
    if not ok:
        print("\nmultipart through the shim skipped: bench/.venv lacks bench/requirements.txt "
              "(python3 -m venv bench/.venv && bench/.venv/bin/pip install -r bench/requirements.txt)")
        return
    print(flush=True)
    subprocess.run([BENCH_PY, os.path.join(HERE, "form_bench.py"), "--size-mib", str(size_mib)], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-multipart", action="store_true", help="only the codec table")
    ap.add_argument("--size-mib", type=int, default=32, help="file size of the multipart upload (default 32)")
    args = ap.parse_args()
    print(f"Python {sys.version.split()[0]}; times are per call, best of 5")
    print(f"{'case':<28} {'smisk.core':>12} {'stdlib':>12} {'speed-up':>9}")
    for name, ours, theirs in CASES:
        a = per_call(ours)
        if theirs is None:
            print(f"{name:<28} {a * 1e6:>10.2f}us {'-':>12} {'-':>9}")
            continue
        b = per_call(theirs)
        print(f"{name:<28} {a * 1e6:>10.2f}us {b * 1e6:>10.2f}us {b / a:>8.1f}x")
    if not args.no_multipart:
        form_bench(args.size_mib)


if __name__ == "__main__":
    main()
