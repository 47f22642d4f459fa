#!/usr/bin/env python3
"""Multipart form parsing through the shim: a real FastCGI POST of a
multipart body to a smisk.core app that reads request.post / request.files
(bench/shim/form_smisk.py), against python-multipart handling the same body
(bench/shim/form_pm.py) two ways:

  flup+pm     the same kind of harness: a WSGI app on flup's FastCGI server
              parsing wsgi.input with python_multipart.parse_form;
  pm in-proc  python-multipart alone, parsing the body from memory in this
              process (no socket, no FastCGI records): its best case.

Both apps do the same work: text fields into a dict of str, file parts
spooled to temp files (smisk: always, to a private directory; python-multipart:
its default, in memory up to 1 MiB then a temp file), temp files removed at
the end, and answer one summary line that is checked against the expected
one. Bodies (the generator of bench/multipart/run.py): (a) one 32 MiB file
part of random bytes, (b) 1000 small text fields.

Per request: end-to-end time from the first byte sent to END_REQUEST (best
run) and the server's CPU time (utime+stime from /proc over all runs /
runs); for pm in-proc the wall and CPU time of the parse. The smisk and flup
columns include transport (the client's records, the socket, FastCGI
framing), pm in-proc does not: "smisk e2e vs pm in-proc" is the
conservative comparison, and the goals (ahead on 32 MiB, >= 10x on
1000 small fields) are checked on it.

Run with bench/.venv's Python (python-multipart, flup); the smisk app runs
under .venv (the shim as scripts/install-deps installs it):

    nice -n 10 bench/.venv/bin/python bench/shim/form_bench.py [--size-mib 32] [--cpus 1,0]
"""
import argparse
import io
import os
import resource
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, HERE)

import fcgi_client  # noqa: E402
import form_pm  # noqa: E402
import benchlib as fb  # noqa: E402


mp = fb  # the multipart bodies: benchlib.BOUNDARY, CT, part
CT = mp.CT.decode()
VENV_PY = os.path.join(ROOT, ".venv", "bin", "python")


def bodies(size):
    fields = [(b"field%d" % i, os.urandom(8).hex().encode()) for i in range(1000)]
    end = b"--" + mp.BOUNDARY + b"--\r\n"
    return [
        ("(a) one %d MiB file" % (size >> 20), mp.part(b"file", os.urandom(size), b"big.bin") + end,
         form_pm.summary(0, 0, 1, size)),
        ("(b) 1000 text fields", b"".join(mp.part(n, v) for n, v in fields) + end,
         form_pm.summary(1000, 16 * 1000, 0, 0)),
    ]


def repeat(fn, min_runs, min_time, max_runs):
    """Runs fn until min_runs and min_time (or max_runs); returns the times."""
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or (time.perf_counter() - start < min_time and len(times) < max_runs):
        times.append(fn())
    return times


def serve(name, cmd, body, expected, tmp, cpus, args, script="/form"):
    """Best end-to-end seconds and server CPU seconds per request."""
    sock = os.path.join(tmp, name + ".sock")
    srv = fb.Proc(cmd + [sock], cpus[0], os.path.join(tmp, name + ".log"))
    try:
        fb.wait_unix(sock, srv)
        params = fcgi_client.default_params(script, method="POST", body_len=len(body))
        params["CONTENT_TYPE"] = CT
        data = fcgi_client.request_bytes(1, params, body)

        def one():
            conn = fcgi_client.Conn(sock, timeout=120)
            try:
                t0 = time.perf_counter()
                conn.send(data)
                resp = conn.read_response()
                t = time.perf_counter() - t0
            finally:
                conn.close()
            head, answer = resp.headers_and_body
            if resp.end != (0, 0) or answer.decode() != expected:
                raise SystemExit(f"form_bench: {name} answered {resp.stdout[:300]!r} {resp.end}, "
                                 f"stderr {resp.stderr[:300]!r}; expected {expected!r}")
            return t

        one()  # warm-up: imports, first allocations
        c0 = fb.cpu_seconds(srv.pid)
        times = repeat(one, args.min_runs, args.min_time, args.max_runs)
        c1 = fb.cpu_seconds(srv.pid)
        cpu = (c1[0] - c0[0] + c1[1] - c0[1]) / len(times)
        return min(times), cpu, len(times)
    finally:
        srv.stop()


def in_process(body, expected, args):
    def one():
        t0 = time.perf_counter()
        answer = form_pm.handle(CT, len(body), io.BytesIO(body))
        t = time.perf_counter() - t0
        if answer != expected:
            raise SystemExit(f"form_bench: python-multipart gave {answer!r}, expected {expected!r}")
        return t

    one()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    times = repeat(one, args.min_runs, args.min_time, args.max_runs)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) / len(times)
    return min(times), cpu, len(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=32)
    ap.add_argument("--cpus", default="1,0", help="SERVER,CLIENT vCPUs (default 1,0; pm in-proc runs on CLIENT)")
    ap.add_argument("--min-runs", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=1.5, help="seconds per cell at least (default 1.5)")
    ap.add_argument("--max-runs", type=int, default=300)
    args = ap.parse_args()
    if not 1 <= args.size_mib <= 1024:
        ap.error("--size-mib must be 1..1024")
    if not 1 <= args.min_runs <= args.max_runs <= 10000 or not 0 <= args.min_time <= 60:
        ap.error("need 1 <= --min-runs <= --max-runs <= 10000 and --min-time in [0, 60]")
    want = tuple(int(c) for c in args.cpus.split(","))
    avail = sorted(os.sched_getaffinity(0))
    cpus = want if len(want) == 2 and set(want) <= set(avail) else (avail[0], avail[-1])
    os.sched_setaffinity(0, {cpus[1]})
    if not os.path.exists(VENV_PY):
        sys.exit("form_bench: no .venv with the shim: run scripts/install-deps")

    rows = []
    with tempfile.TemporaryDirectory(prefix="smisk-form-bench-") as tmp:
        for label, body, expected in bodies(args.size_mib << 20):
            fb.log(f"form_bench: {label}")
            smisk_app = [VENV_PY, os.path.join(HERE, "form_smisk.py")]
            s = serve("smisk", smisk_app, body, expected, tmp, cpus, args)
            d = serve("drain", smisk_app, body, f"drained={len(body)}\n", tmp, cpus, args, "/drain")
            f = serve("flup", [sys.executable, os.path.join(HERE, "form_pm.py")], body, expected, tmp, cpus, args)
            p = in_process(body, expected, args)
            rows.append((label, len(body), s, d, f, p))
        left = [n for n in os.listdir(tmp) if not n.endswith((".sock", ".log"))]
        assert not left, f"temp files survived: {left}"

    out = [f"multipart through the shim: one FastCGI POST per run, server on CPU {cpus[0]}, client and "
           f"pm in-proc on CPU {cpus[1]}; loadavg {fb.loadavg()} (shared machine: noisy)",
           f"{'body':<22} {'bytes':>9} | {'smisk.core':>10} {'cpu':>6} | {'drain':>8} | {'flup+pm':>9} {'cpu':>6} | "
           f"{'pm in-proc':>10} {'cpu':>6} | {'flup+pm/smisk':>13} {'in-proc/smisk':>13} {'cpu x':>5}  goal"]
    out.append("-" * len(out[-1]))
    for label, n, s, d, f, p in rows:
        fx, px = f[0] / s[0], p[0] / s[0]
        cx = p[1] / s[1] if s[1] else float("nan")
        need = 1.0 if label.startswith("(a)") else 10.0
        goal = (f"same harness {'met' if fx >= need else 'MISS'}, in-proc {'met' if px >= need else 'MISS'} "
                f"(>= {need:g}x)")
        out.append(f"{label:<22} {n:>9} | {s[0] * 1e3:>7.2f} ms {s[1] * 1e3:>6.2f} | {d[0] * 1e3:>5.2f} ms | "
                   f"{f[0] * 1e3:>6.2f} ms {f[1] * 1e3:>6.2f} | {p[0] * 1e3:>7.2f} ms {p[1] * 1e3:>6.2f} | "
                   f"{fx:>12.1f}x {px:>12.1f}x {cx:>4.1f}x  {goal}")
    out.append("")
    out.append("smisk.core, flup+pm: best end-to-end time of one request (first byte sent to END_REQUEST); drain: the "
               "same for a smisk.core request that only reads the body (the transport's share);")
    out.append("cpu: server utime+stime per request in ms (/proc, 10 ms ticks, averaged over the runs); pm in-proc: "
               "python-multipart parsing from memory in one process (wall, CPU ms).")
    out.append("x/smisk = that time over smisk.core's; cpu x = pm in-proc CPU over smisk.core's server CPU. Runs per "
               "cell (smisk/drain/flup/in-proc): "
               + ", ".join(f"{lab.split()[0]} {s[2]}/{d[2]}/{f[2]}/{p[2]}" for lab, _, s, d, f, p in rows) + ".")
    print("\n".join(out))


if __name__ == "__main__":
    main()
