#!/usr/bin/env python3
"""Session store throughput: smisk.core.FileSessionStore (the CPython shim on
the C API, what an application uses) next to a plain Python store
(open/write/os.replace + marshal), in one run.

Both sides serialize the same ~1 KiB dict with marshal, so the difference is
the store itself (smisk adds id validation, O_EXCL|O_NOFOLLOW temp files, a
SHA-1 framed format and fstat-based expiry checks). Rounds alternate between
the two sides so that load from other processes hits both alike. For each
operation the table gives the best ops/s of each side, their ratio, the range
of the per-round ratios, and CPU time (user + system) per operation of each
side (less sensitive than wall time to a busy machine).

Usage: bench.py [--ops N] [--rounds R] [--dir DIR]...
"""
import argparse
import marshal
import os
import resource
import shutil
import sys
import tempfile
import time

import smisk.core

IDS = 100
OPS = ("write", "read", "refresh")


class SmiskStore:
    def __init__(self, directory):
        self.store = smisk.core.FileSessionStore(dir=directory)
        # The Python baseline has no GC; measure the store operations alone.
        self.store.gc_probability = 0.0
        self.write = self.store.write
        self.read = self.store.read
        self.refresh = self.store.refresh

    @staticmethod
    def new_id():
        return smisk.core.uid()


class PlainStore:
    """The baseline: a plain Python file store, no validation or framing."""

    def __init__(self, directory):
        self.dir = directory

    @staticmethod
    def new_id():
        return os.urandom(16).hex()

    def write(self, sid, data):
        path = os.path.join(self.dir, sid)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            marshal.dump(data, f)
        os.replace(tmp, path)

    def read(self, sid):
        # f.read() + loads: marshal.load(f) pulls the file through many small
        # reads and would make the baseline look needlessly slow.
        with open(os.path.join(self.dir, sid), "rb") as f:
            return marshal.loads(f.read())

    def refresh(self, sid):
        os.utime(os.path.join(self.dir, sid))


def sample_session():
    d = {"user": "alice", "roles": ["admin", "editor"], "csrf": "x" * 40, "cart": []}
    i = 0
    while len(marshal.dumps(d)) < 1024:
        d["cart"].append({"sku": "item-%04d" % i, "qty": i % 5, "price": 9.99 + i})
        i += 1
    return d


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(fn, ids, ops):
    """(ops per wall second, CPU microseconds per op)."""
    n = len(ids)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for i in range(ops):
        fn(ids[i % n])
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    return ops / wall, cpu / ops * 1e6


def one_round(store, ids, data, ops):
    out = {}
    for op in OPS:
        fn = (lambda s: store.write(s, data)) if op == "write" else getattr(store, op)
        out[op] = measure(fn, ids, ops)
    return out


def bench_dir(where, data, ops, rounds):
    """{op: {"smisk": [(rate, cpu_us)...], "python": [...]}} for one parent dir."""
    parent = tempfile.mkdtemp(prefix="smisk-bench-", dir=where)
    try:
        os.mkdir(os.path.join(parent, "plain"), 0o700)
        stores = {"smisk": SmiskStore(os.path.join(parent, "smisk")),
                  "python": PlainStore(os.path.join(parent, "plain"))}
        ids = {}
        for side, store in stores.items():
            ids[side] = [store.new_id() for _ in range(IDS)]
            for sid in ids[side]:
                store.write(sid, data)
            assert store.read(ids[side][0]) == data
        res = {op: {side: [] for side in stores} for op in OPS}
        for _ in range(rounds):
            for side, store in stores.items():
                for op, v in one_round(store, ids[side], data, ops).items():
                    res[op][side].append(v)
        return res
    finally:
        shutil.rmtree(parent)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", action="append", default=None,
                    help="parent directory to measure in (repeatable; default: the temp dir, "
                         "and /dev/shm when it exists)")
    args = ap.parse_args()
    data = sample_session()
    size = len(marshal.dumps(data))
    dirs = args.dir or [tempfile.gettempdir()] + (["/dev/shm"] if os.path.isdir("/dev/shm") else [])
    print("session store, %d-byte marshal payload, %d ids, %d ops per op, %d rounds; "
          "smisk = smisk.core.FileSessionStore, python = open/write/os.replace"
          % (size, IDS, args.ops, args.rounds))
    print("%-24s %-8s %12s %13s %7s %13s %9s %10s" % (
        "directory (fs)", "op", "smisk ops/s", "python ops/s", "ratio", "round ratios",
        "smisk µs", "python µs"))
    for where in dirs:
        res = bench_dir(where, data, args.ops, args.rounds)
        label = "%s (%s)" % (where, fs_type(where))
        for op in OPS:
            s, p = res[op]["smisk"], res[op]["python"]
            best_s, best_p = max(r for r, _ in s), max(r for r, _ in p)
            ratios = [a[0] / b[0] for a, b in zip(s, p)]
            print("%-24s %-8s %12.0f %13.0f %6.2fx %6.2f-%-5.2fx %9.1f %10.1f" % (
                label, op, best_s, best_p, best_s / best_p, min(ratios), max(ratios),
                min(c for _, c in s), min(c for _, c in p)))
    print("µs = least CPU time (user + system) per operation over the rounds")


def fs_type(path):
    """The file system type of the mount holding path (from /proc/mounts)."""
    best, kind = "", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                mnt = parts[1]
                real = os.path.realpath(path)
                if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
                    best, kind = mnt, parts[2]
    except OSError:
        pass
    return kind


if __name__ == "__main__":
    sys.exit(main())
