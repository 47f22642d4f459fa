#!/usr/bin/env python3
"""Multipart parse throughput: smisk next to the PyPI parsers, in one run.

Bodies: (a) one 32 MiB file part of random bytes; (b) 1000 small text fields;
(c) a 32 MiB adversarial part made of near-delimiters ("\\r\\n--<boundary
minus its last byte>\\r\\n" repeated); (c') 32 MiB of "\\r\\n"; (c'') whole
delimiters with their middle byte flipped (the worst case found for smisk).
Parsers:
smisk's push parser with a counting sink (zero-copy, "scan"); the same
appending each part's data to a fresh in-memory buffer ("mem": one copy,
page faults of new memory included); smisk's request-level form::parse
spooling files to disk ("spool": 256 KiB reads, as from a socket);
`multipart` (PushMultipartParser), `python-multipart` (MultipartParser) and
`streaming-form-data` (StreamingFormDataParser), each with a counting sink
like "scan", which is how their published figures are measured. Best of N runs, GB/s = 1e9 bytes/s
of body. Then the peak RSS of a process parsing a 2 GiB upload from a pipe,
spooled to disk.

Usage: bench/multipart/run.py [--size-mib 32] [--rss-gib 2] [--chunk 0]
(needs bench/.venv with bench/requirements.txt; builds the release driver).
Run on an idle machine, one core: `taskset -c 1 bench/multipart/run.py`.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DRIVER = os.path.join(HERE, "target", "release", "smisk-bench-multipart")
sys.path.insert(0, os.path.join(ROOT, "bench"))
from benchlib import BOUNDARY, CT, part  # noqa: E402,F401  (the bodies every multipart bench sends)


def bodies(size):
    delim = b"\r\n--" + BOUNDARY
    near = delim[:-1] + b"\r\n"
    adversarial = (near * (size // len(near) + 1))[:size]
    crlf = (b"\r\n" * (size // 2 + 1))[:size]
    # Whole delimiters with their middle byte flipped: every one is a
    # candidate for any prefilter and fails only in the comparison.
    flipped = bytearray(delim)
    flipped[len(delim) // 2] ^= 1
    flipped = (bytes(flipped) * (size // len(delim) + 1))[:size]
    assert delim not in adversarial and delim not in crlf and delim not in flipped
    fields = [(b"field%d" % i, os.urandom(8).hex().encode()) for i in range(1000)]
    end = b"--" + BOUNDARY + b"--\r\n"
    return [
        ("(a) one %d MiB file" % (size >> 20), part(b"file", os.urandom(size), b"big.bin") + end, [b"file"]),
        ("(b) 1000 text fields", b"".join(part(n, v) for n, v in fields) + end, [n for n, _ in fields]),
        ("(c) near-delimiter junk", part(b"junk", adversarial, b"junk.bin") + end, [b"junk"]),
        ("(c') CR/LF only", part(b"crlf", crlf, b"crlf.bin") + end, [b"crlf"]),
        ("(c'') flipped delimiters", part(b"flip", flipped, b"flip.bin") + end, [b"flip"]),
    ]


def best(fn, body_len, min_time=0.6, max_iters=2000):
    """Best time of repeated runs (at least 3, about min_time seconds)."""
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < min_time and len(times) < max_iters):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if times[-1] > 5:  # a crawling parser: one run is enough
            break
    return body_len / min(times) / 1e9


def chunks(body, chunk):
    if not chunk or chunk >= len(body):
        return [body]
    return [body[i:i + chunk] for i in range(0, len(body), chunk)]


def run_multipart(body, names, chunk):
    import multipart

    pieces = chunks(body, chunk)

    def go():
        p = multipart.PushMultipartParser(BOUNDARY, max_segment_count=100000)
        n = 0
        for c in pieces:
            for ev in p.parse(c):
                if ev and not isinstance(ev, multipart.MultipartSegment):
                    n += len(ev)
        p.close()
        return n

    return go


def run_python_multipart(body, names, chunk):
    from python_multipart.multipart import MultipartParser

    pieces = chunks(body, chunk)

    def go():
        n = [0]

        def data(d, start, end):
            n[0] += end - start

        p = MultipartParser(BOUNDARY, callbacks={"on_part_data": data})
        for c in pieces:
            p.write(c)
        p.finalize()
        return n[0]

    return go


def run_streaming_form_data(body, names, chunk):
    from streaming_form_data import StreamingFormDataParser
    from streaming_form_data.targets import BaseTarget

    class Count(BaseTarget):
        n = 0

        def on_data_received(self, chunk):
            self.n += len(chunk)

    pieces = chunks(body, chunk)
    ct = CT.decode()

    def go():
        p = StreamingFormDataParser(headers={"Content-Type": ct})
        targets = [Count() for _ in names]
        for n, t in zip(names, targets):
            p.register(n.decode(), t)
        for c in pieces:
            p.data_received(c)
        return sum(t.n for t in targets)

    return go


def driver(*args):
    out = subprocess.run([DRIVER, *map(str, args)], check=True, capture_output=True, text=True).stdout
    return dict(kv.split("=") for kv in out.split())


def smisk(mode, path, body_len, chunk, spool_dir):
    iters = max(5, min(3000, int(6e8 // body_len)))
    if mode in ("mem", "scan"):
        r = driver(mode, path, BOUNDARY.decode(), iters, chunk or body_len)
    else:
        r = driver("spool", path, CT.decode(), iters, 256 * 1024, spool_dir)
    return body_len / float(r["seconds"]) / 1e9


def rss(gib, spool_dir):
    block = os.urandom(1 << 20)
    head = part(b"upload", b"", b"huge.bin")[:-2]  # headers and blank line, no data
    tail = b"\r\n--" + BOUNDARY + b"--\r\n"
    p = subprocess.Popen([DRIVER, "rss", CT.decode(), spool_dir], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=False)
    p.stdin.write(head)
    for _ in range(gib * 1024):
        p.stdin.write(block)
    p.stdin.write(tail)
    p.stdin.close()
    out = p.stdout.read().decode()
    if p.wait(timeout=600) != 0:
        raise SystemExit("rss run failed")
    return dict(kv.split("=") for kv in out.split())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=32)
    ap.add_argument("--rss-gib", type=int, default=2, help="0 skips the RSS run")
    ap.add_argument("--chunk", type=int, default=0,
                    help="bytes per parser call for the in-memory runs (0: whole body)")
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "--release", "-q"], cwd=HERE, check=True)
    parsers = [("multipart", run_multipart), ("python-multipart", run_python_multipart),
               ("streaming-form-data", run_streaming_form_data)]
    cols = ["smisk scan", "smisk mem", "smisk spool"] + [n for n, _ in parsers]
    rows = []
    with tempfile.TemporaryDirectory(prefix="smisk-bench-") as tmp:
        spool_dir = os.path.join(tmp, "spool")
        for label, body, names in bodies(args.size_mib << 20):
            path = os.path.join(tmp, "body")
            with open(path, "wb") as f:
                f.write(body)
            row = [smisk("scan", path, len(body), args.chunk, spool_dir),
                   smisk("mem", path, len(body), args.chunk, spool_dir),
                   smisk("spool", path, len(body), args.chunk, spool_dir)]
            for _, make in parsers:
                try:
                    row.append(best(make(body, names, args.chunk), len(body)))
                except Exception as e:  # a parser that rejects the body
                    print("%s on %s: %s" % (_, label, e), file=sys.stderr)
                    row.append(float("nan"))
            rows.append((label, len(body), row))
            assert os.listdir(spool_dir) == [], "temp files survived"

        print("\nmultipart parse throughput, GB/s (best run; body given %s)"
              % ("whole" if not args.chunk else "in %d-byte chunks" % args.chunk))
        print("%-26s %10s" % ("body", "bytes") + "".join("%21s" % c for c in cols))
        for label, n, row in rows:
            print("%-26s %10d" % (label, n) + "".join("%21.3f" % v for v in row))
        print("\nratios smisk scan / best Python, smisk scan / python-multipart")
        for label, _, row in rows:
            py = [v for v in row[3:] if v == v]
            print("%-26s %8.1fx %8.1fx" % (label, row[0] / max(py), row[0] / row[4]))
        for i, name in ((1, "mem"), (0, "scan")):
            a = rows[0][2][i]
            print("smisk %s: " % name + ", ".join(
                "%s/(a) = %.2f" % (label.split()[0], row[i] / a) for label, _, row in rows[2:])
                + " (goal >= 0.25)")

        if args.rss_gib:
            r = rss(args.rss_gib, spool_dir)
            grow = (int(r["rss_after_kib"]) - int(r["rss_before_kib"])) / 1024
            print("\n%d GiB upload from a pipe, spooled to disk: %.2f s (%.2f GB/s), peak RSS %.1f MiB "
                  "before parsing, %.1f MiB after: grew %.1f MiB (goal < 16)"
                  % (args.rss_gib, float(r["seconds"]), int(r["bytes"]) / float(r["seconds"]) / 1e9,
                     int(r["rss_before_kib"]) / 1024, int(r["rss_after_kib"]) / 1024, grow))
            assert int(r["bytes"]) == args.rss_gib << 30
            assert os.listdir(spool_dir) == [], "temp files survived"


if __name__ == "__main__":
    main()
