"""CPython side of the codec benchmark: urllib.parse on the same inputs.

Prints the same tab-separated rows as the Rust binary:
operation, implementation, input, MB/s (10^6 input bytes per second).
"""
import sys
import time
import timeit
import urllib.parse
from pathlib import Path


def measure(nbytes, fn):
    """Best MB/s of 7 rounds of about 0.2 s of CPU time each (thread CPU
    time, as the Rust side: waiting for a shared CPU is not charged)."""
    timer = timeit.Timer(fn, timer=time.thread_time)
    number, _ = timer.autorange()
    best = min(timer.repeat(repeat=7, number=number)) / number
    return nbytes / best / 1e6


def row(op, impl, inp, mbs):
    print(f"{op}\t{impl}\t{inp}\t{mbs:.1f}")


def main(d):
    d = Path(d)
    raw = (d / "blob_raw.bin").read_bytes()
    enc = (d / "blob_encoded.txt").read_bytes().decode("ascii")
    q = (d / "query_2k.txt").read_bytes().decode("ascii")
    py = f"CPython {sys.version.split()[0]} urllib.parse"
    # quote's always-safe set is alnum and _.-~; adding !'()* gives exactly
    # smisk's encode set.
    row("encode", f"{py}.quote", "1 MiB blob",
        measure(len(raw), lambda: urllib.parse.quote(raw, safe="!'()*")))
    row("decode (+ and %XX)", f"{py}.unquote_plus", "1 MiB blob",
        measure(len(enc), lambda: urllib.parse.unquote_plus(enc, errors="surrogateescape")))
    row("decode (+ and %XX)", f"{py}.unquote_plus", "2 KiB query",
        measure(len(q), lambda: urllib.parse.unquote_plus(q)))
    row("parse query (dict of lists)", f"{py}.parse_qs", "2 KiB query",
        measure(len(q), lambda: urllib.parse.parse_qs(q, keep_blank_values=True)))


if __name__ == "__main__":
    main(sys.argv[1])
