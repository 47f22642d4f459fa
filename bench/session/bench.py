#!/usr/bin/env python3
"""Session store throughput: smisk (through the C API, via ctypes) next to a
plain Python store (open/write/os.replace + marshal), in one run.

Both sides serialize the same ~1 KiB dict with marshal, so the difference is
the store itself (smisk adds id validation, O_EXCL|O_NOFOLLOW temp files, a
SHA-1 framed format and fstat-based expiry checks, and still pays ctypes call
overhead that the real CPython shim does not). Prints one table.

Usage: bench.py LIBSMISK_SO [--ops N] [--rounds R] [--dir DIR]...
"""
import argparse
import ctypes
import marshal
import os
import shutil
import sys
import tempfile
import time

IDS = 100


def load_lib(path):
    lib = ctypes.CDLL(path)
    u8p = ctypes.POINTER(ctypes.c_uint8)
    lib.smisk_session_store_new.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                            ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p)]
    lib.smisk_session_store_free.argtypes = [ctypes.c_void_p]
    lib.smisk_session_store_set_gc_probability.argtypes = [ctypes.c_void_p, ctypes.c_double]
    lib.smisk_session_store_write.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                              ctypes.c_char_p, ctypes.c_size_t]
    lib.smisk_session_store_read.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                             ctypes.POINTER(u8p), ctypes.POINTER(ctypes.c_size_t)]
    lib.smisk_session_store_refresh.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.smisk_session_id_new.argtypes = [ctypes.c_char_p, ctypes.c_size_t,
                                         ctypes.POINTER(ctypes.c_size_t)]
    lib.smisk_bytes_free.argtypes = [u8p, ctypes.c_size_t]
    lib.smisk_bytes_free.restype = None
    lib.smisk_last_error.restype = ctypes.c_char_p
    return lib


class SmiskStore:
    """What the shim does per call, done with ctypes."""

    def __init__(self, lib, directory):
        self.lib = lib
        self.h = ctypes.c_void_p()
        d = directory.encode()
        self.check(lib.smisk_session_store_new(d, len(d), None, 0, ctypes.byref(self.h)))
        # The Python baseline has no GC; measure the store operations alone.
        self.check(lib.smisk_session_store_set_gc_probability(self.h, 0.0))
        self.ptr = ctypes.POINTER(ctypes.c_uint8)()
        self.len = ctypes.c_size_t()

    def check(self, st):
        if st != 0:
            raise OSError(st, self.lib.smisk_last_error().decode())

    def new_id(self):
        buf = ctypes.create_string_buffer(32)
        n = ctypes.c_size_t()
        self.check(self.lib.smisk_session_id_new(buf, 32, ctypes.byref(n)))
        return buf.raw[:n.value]

    def write(self, sid, data):
        b = marshal.dumps(data)
        self.check(self.lib.smisk_session_store_write(self.h, sid, 32, b, len(b)))

    def read(self, sid):
        self.check(self.lib.smisk_session_store_read(self.h, sid, 32, ctypes.byref(self.ptr),
                                                     ctypes.byref(self.len)))
        b = ctypes.string_at(self.ptr, self.len.value)
        self.lib.smisk_bytes_free(self.ptr, self.len.value)
        return marshal.loads(b)

    def refresh(self, sid):
        self.check(self.lib.smisk_session_store_refresh(self.h, sid, 32))

    def close(self):
        self.lib.smisk_session_store_free(self.h)


class PlainStore:
    """The baseline: a plain Python file store, no validation or framing."""

    def __init__(self, directory):
        self.dir = directory

    def new_id(self):
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

    def close(self):
        pass


def sample_session():
    d = {"user": "alice", "roles": ["admin", "editor"], "csrf": "x" * 40, "cart": []}
    i = 0
    while len(marshal.dumps(d)) < 1024:
        d["cart"].append({"sku": "item-%04d" % i, "qty": i % 5, "price": 9.99 + i})
        i += 1
    return d


def measure(fn, ids, ops):
    start = time.perf_counter()
    n = len(ids)
    for i in range(ops):
        fn(ids[i % n])
    return ops / (time.perf_counter() - start)


def run(store, data, ops, rounds):
    ids = [store.new_id() for _ in range(IDS)]
    for sid in ids:
        store.write(sid, data)
    assert store.read(ids[0]) == data
    best = {}
    for _ in range(rounds):
        for name, fn in (("write", lambda s: store.write(s, data)),
                         ("read", store.read),
                         ("refresh", store.refresh)):
            best[name] = max(best.get(name, 0.0), measure(fn, ids, ops))
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lib")
    ap.add_argument("--ops", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", action="append", default=None,
                    help="parent directory to measure in (repeatable; default: the temp dir, "
                         "and /dev/shm when it exists)")
    args = ap.parse_args()
    lib = load_lib(args.lib)
    data = sample_session()
    size = len(marshal.dumps(data))
    dirs = args.dir or [tempfile.gettempdir()] + (["/dev/shm"] if os.path.isdir("/dev/shm") else [])
    print("session store, %d-byte marshal payload, %d ids, %d ops per op, best of %d rounds"
          % (size, IDS, args.ops, args.rounds))
    print("%-28s %-8s %12s %13s %7s" % ("directory (fs)", "op", "smisk ops/s", "python ops/s",
                                         "ratio"))
    for where in dirs:
        parent = tempfile.mkdtemp(prefix="smisk-bench-", dir=where)
        try:
            smisk = SmiskStore(lib, os.path.join(parent, "smisk"))
            os.mkdir(os.path.join(parent, "plain"), 0o700)
            plain = PlainStore(os.path.join(parent, "plain"))
            # Interleave the two sides round by round so that load from other
            # processes on a shared machine hits both alike.
            r_smisk, r_plain = {}, {}
            for _ in range(args.rounds):
                for res, store in ((r_smisk, smisk), (r_plain, plain)):
                    for op, v in run(store, data, args.ops, 1).items():
                        res[op] = max(res.get(op, 0.0), v)
            smisk.close()
        finally:
            shutil.rmtree(parent)
        label = "%s (%s)" % (where, fs_type(where))
        for op in ("write", "read", "refresh"):
            print("%-28s %-8s %12.0f %13.0f %6.2fx" % (label, op, r_smisk[op], r_plain[op],
                                                      r_smisk[op] / r_plain[op]))


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
