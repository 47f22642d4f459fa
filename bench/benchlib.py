"""Shared by the benchmark scripts under bench/ (fcgi-bench, wsgi/run,
shim-hello/run, floor/run, shim/form_bench.py): building the servers,
starting and stopping processes by PID, reading /proc, the load generator
and wrk runs, nginx, the run matrix and the result table. Import it with
bench/ on sys.path: `import benchlib`."""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
OUT = os.path.join(ROOT, "bench", "out")
LOADGEN = os.path.join(ROOT, "bench", "fcgi-load", "target", "release", "fcgi-load")
LIBFCGI_HELLO = os.path.join(OUT, "libfcgi_hello")
SMISK_HELLO = os.path.join(ROOT, "examples", "hello")  # built by make -C examples
EXPECTED_ESCAPED = r"Content-Type: text/plain\r\n\r\nHello World!\n"
HTTP_BODY = b"Hello World!\n"
URI = "/hello?name=world"
CLK_TCK = os.sysconf("SC_CLK_TCK")

LAYOUTS = {
    "A": "same vCPU: server and fcgi-load on CPU {srv}",
    "B": "split: server on CPU {srv}, fcgi-load on CPU {other}",
    "C": "nginx+wrk: server on CPU {srv}, nginx (1 worker) and wrk on CPU {other}",
}
ROWS = [(True, 1), (True, 32), (False, 1), (False, 32)]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    log("+ " + " ".join(cmd))
    subprocess.run(cmd, check=True, **kw)


# ---------------------------------------------------------------- build

NICE = ["nice", "-n", "10"]


def build(args):
    os.makedirs(OUT, exist_ok=True)
    run(NICE + ["cc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic",
                "-o", LIBFCGI_HELLO, os.path.join(ROOT, "bench", "libfcgi_hello.c"), "-lfcgi"])
    build_smisk()
    if "dropin" in getattr(args, "servers", "").split(","):
        # The drop-in libfcgi.so.0 (compat/libfcgi) for the `dropin` server.
        run(NICE + ["make", "-s", "-C", os.path.join(ROOT, "compat", "libfcgi"), "lib"])


def build_smisk():
    """The load generator, libsmisk and examples/hello (release)."""
    os.makedirs(OUT, exist_ok=True)
    run(NICE + ["cargo", "build", "--release", "--quiet",
                "--manifest-path", os.path.join(ROOT, "bench", "fcgi-load", "Cargo.toml")])
    if os.path.exists(os.path.join(ROOT, "examples", "hello.c")):
        run(NICE + ["cargo", "build", "--release", "--quiet"], cwd=ROOT)
        run(NICE + ["make", "-s", "-C", os.path.join(ROOT, "examples"), "PROFILE=release"])
    else:
        log("fcgi-bench: examples/hello.c does not exist yet: benchmarking libfcgi only")


def server(cmd, expected=EXPECTED_ESCAPED):
    """A server to measure: its command (the socket path is appended) and the
    exact STDOUT it answers, escaped as fcgi-load's -e takes it."""
    return {"cmd": list(cmd), "expected": expected}


# ---------------------------------------------------------------- processes

class Proc:
    """A process started pinned to a CPU; stopped by its own PID only."""

    def __init__(self, cmd, cpu, logpath):
        self.logf = open(logpath, "wb")
        # taskset execs the command, so Popen's PID is the command's PID.
        self.p = subprocess.Popen(["taskset", "-c", str(cpu)] + cmd, stdin=subprocess.DEVNULL,
                                  stdout=self.logf, stderr=subprocess.STDOUT)
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def children(self):
        """(pid, start time) of each child, so a later kill cannot hit a recycled PID."""
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                pids = [int(x) for x in f.read().split()]
        except OSError:
            return []
        return [(k, start_time(k)) for k in pids]

    def stop(self, sig=signal.SIGTERM, grace=3.0):
        # Children (nginx's worker) are remembered first: if the parent has to
        # be killed they would otherwise outlive it.
        kids = self.children()
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(grace)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        for kid in kids:
            signal_same(kid, signal.SIGKILL)
        if not self.logf.closed:
            self.logf.close()


def start_time(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])  # field 22
    except (OSError, ValueError, IndexError):
        return None


def signal_same(kid, sig):
    """Signals (pid, start time) only if that very process still exists."""
    pid, started = kid
    if started is not None and start_time(pid) == started:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def cpu_seconds(pid):
    """(utime, stime) of the whole process (all threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    # rest[0] is field 3 (state); utime/stime are fields 14/15.
    return int(rest[11]) / CLK_TCK, int(rest[12]) / CLK_TCK


def cpu_ticks():
    """{vCPU: (busy, total)} clock ticks from /proc/stat; busy is all but
    idle and iowait, whoever ran (other work on a shared machine included)."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *v = line.split()
                v = [int(x) for x in v[:8]]
                out[int(name[3:])] = (sum(v) - v[3] - v[4], sum(v))
    return out


def busy_pct(before, after, cpu):
    """How busy vCPU `cpu` was between two cpu_ticks() readings, in %."""
    total = after[cpu][1] - before[cpu][1]
    return 100 * (after[cpu][0] - before[cpu][0]) / total if total else None


def status_kib(pid, field):
    """A KiB figure of /proc/PID/status ("VmHWM", "RssAnon"...), or None."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def peak_rss_kib(pid):
    return status_kib(pid, "VmHWM")


def wait_unix(path, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"server exited with {proc.p.returncode} before listening on {path}")
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                return
            except OSError:
                pass
            finally:
                s.close()
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {path} after {timeout}s")


def wait_tcp(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"nginx exited with {proc.p.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- one row

def run_loadgen(sock, cpu, keep, conns, seconds, args, expected=EXPECTED_ESCAPED, extra=()):
    cmd = ["taskset", "-c", str(cpu), LOADGEN, "-q", "-c", str(conns), "-k", "on" if keep else "off",
           "-d", str(seconds), "-t", str(args.timeout_ms), "-e", expected, *extra, sock]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=seconds + 60)
    if r.returncode not in (0, 1):
        raise RuntimeError(f"fcgi-load failed ({r.returncode}): {r.stderr.strip()}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# nginx with one worker in front of unix:{sock}; {backend} is the location's
# body (the FastCGI one below, or a WSGI peer's).
NGINX_TEMPLATE = """\
worker_processes 1;
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log error;
{user}
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/nginx-body;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    proxy_temp_path {tmp}/nginx-proxy;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    upstream app {{
        server unix:{sock};
        {keepalive}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            {backend}
        }}
    }}
}}
"""

# fcgi-bench's location: every param spelled out, keep-conn and timeout filled in.
FASTCGI_BACKEND = """fastcgi_pass app;
            fastcgi_keep_conn {keep_conn};
            fastcgi_connect_timeout 2s;
            fastcgi_read_timeout {read_timeout}s;
            fastcgi_param SCRIPT_FILENAME /srv/www$fastcgi_script_name;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
            fastcgi_param SCRIPT_NAME $fastcgi_script_name;
            fastcgi_param REQUEST_URI $request_uri;
            fastcgi_param DOCUMENT_URI $document_uri;
            fastcgi_param DOCUMENT_ROOT $document_root;
            fastcgi_param SERVER_PROTOCOL $server_protocol;
            fastcgi_param REQUEST_SCHEME $scheme;
            fastcgi_param GATEWAY_INTERFACE CGI/1.1;
            fastcgi_param SERVER_SOFTWARE nginx/$nginx_version;
            fastcgi_param REMOTE_ADDR $remote_addr;
            fastcgi_param REMOTE_PORT $remote_port;
            fastcgi_param SERVER_ADDR $server_addr;
            fastcgi_param SERVER_PORT $server_port;
            fastcgi_param SERVER_NAME $server_name;
            fastcgi_param HTTP_HOST $host;"""
NGINX_CONF = NGINX_TEMPLATE.replace("{backend}", FASTCGI_BACKEND)


def http_check(port):
    """One request through nginx, verified (wrk itself does not check bodies)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{URI}", timeout=5) as r:
            ok = (r.status == 200 and r.read() == HTTP_BODY
                  and r.headers.get("Content-Type", "").startswith("text/plain"))
            return ok
    except OSError:
        return False


def to_us(v):
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", v)
    if not m:
        return None
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]


def run_wrk(port, cpu, conns, seconds, args):
    cmd = ["taskset", "-c", str(cpu), "wrk", "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--latency",
           f"--timeout={max(2, args.timeout_ms // 1000 + 1)}s", f"http://127.0.0.1:{port}{URI}"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=seconds + 60)
    out = r.stdout
    res = {"wrk_output": out}
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    total = int(m.group(1)) if m else 0
    secs = float(m.group(2)) * {"ms": 1e-3, "s": 1, "m": 60}[m.group(3)] if m else float(seconds)
    non2xx = int(re.search(r"Non-2xx or 3xx responses: (\d+)", out).group(1)) \
        if "Non-2xx" in out else 0
    sock_err = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        sock_err = sum(int(x) for x in m.groups()[:3])
        res["unanswered"] = int(m.group(4))
    else:
        res["unanswered"] = 0
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    res.update({
        "ok": total - non2xx, "elapsed_s": secs, "rps": (total - non2xx) / secs if secs else 0,
        "p50_us": to_us(pct["50"]) if "50" in pct else None,
        "p99_us": to_us(pct["99"]) if "99" in pct else None,
        "errors": non2xx + sock_err, "non2xx": non2xx, "socket_errors": sock_err,
    })
    return res


def measure(name, spec, layout, keep, conns, tmp, args, cpus):
    srv_cpu, other_cpu = cpus
    sock = os.path.join(tmp, f"{name}-{layout}-{int(keep)}-{conns}.sock")
    srv = Proc(spec["cmd"] + [sock], srv_cpu, os.path.join(tmp, f"{name}.log"))
    nginx = None
    try:
        wait_unix(sock, srv)
        if layout == "C":
            port = free_port()
            conf = os.path.join(tmp, "nginx.conf")
            user = "user root;" if os.geteuid() == 0 else ""
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(
                    tmp=tmp, sock=sock, port=port, user=user,
                    keepalive="keepalive 32;" if keep else "",
                    keep_conn="on" if keep else "off",
                    read_timeout=max(1, args.timeout_ms // 1000)))
            nginx = Proc(["nginx", "-p", tmp, "-e", os.path.join(tmp, "nginx-error.log"), "-c", conf],
                         other_cpu, os.path.join(tmp, "nginx.log"))
            wait_tcp(port, nginx)
            verified = http_check(port)
        cpu0 = cpu_seconds(srv.pid)
        if layout == "C":
            res = run_wrk(port, other_cpu, conns, args.seconds, args)
            res["verified"] = verified and http_check(port)
        else:
            lg_cpu = srv_cpu if layout == "A" else other_cpu
            res = run_loadgen(sock, lg_cpu, keep, conns, args.seconds, args, spec["expected"])
        cpu1 = cpu_seconds(srv.pid)
        user, system = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
        res["server_user_s"], res["server_sys_s"] = user, system
        res["server_cpu_s"] = user + system
        res["server_sys_pct"] = 100 * system / (user + system) if user + system else None
        res["cpu_us_per_req"] = (user + system) * 1e6 / res["ok"] if res["ok"] else None
        res["peak_rss_kib"] = peak_rss_kib(srv.pid)
        res["anon_kib"] = status_kib(srv.pid, "RssAnon")
        res["server_alive"] = srv.alive()
    finally:
        if nginx:
            nginx.stop(signal.SIGQUIT)
        srv.stop()
    res.update({"server": name, "layout": layout, "keep_conn": keep, "conns": conns})
    return res


def combine(runs):
    """One row from repeated runs: medians of rates, latencies and CPU; worst
    case of memory, errors and starvation (answers per connection: the least
    even run); the raw runs kept alongside."""
    def median(key):
        vals = sorted(r[key] for r in runs if r.get(key) is not None)
        return vals[len(vals) // 2] if vals else None
    good = [r for r in runs if "failed" not in r]
    if not good:
        return dict(runs[0], runs=runs)
    failed = len(runs) - len(good)
    runs_all, runs = runs, good
    row = dict(runs[0])
    row["failed_runs"] = failed
    for key in ("rps", "p50_us", "p99_us", "cpu_us_per_req", "server_sys_pct"):
        row[key] = median(key)
    row["peak_rss_kib"] = max((r["peak_rss_kib"] or 0) for r in runs) or None
    row["anon_kib"] = max((r.get("anon_kib") or 0) for r in runs) or None
    for key in ("errors", "unanswered", "ok"):
        row[key] = sum(r.get(key, 0) for r in runs)
    if "per_conn_min" in row:
        # Fairness is a within-run property: show the least even run's range.
        worst = min(runs, key=lambda r: r["per_conn_min"] / r["per_conn_max"] if r["per_conn_max"] else 0)
        row["per_conn_min"], row["per_conn_max"] = worst["per_conn_min"], worst["per_conn_max"]
        row["conns_never_answered"] = max(r["conns_never_answered"] for r in runs)
    if "verified" in row:
        row["verified"] = all(r["verified"] for r in runs)
    row["server_alive"] = all(r["server_alive"] for r in runs)
    row["runs"] = runs_all
    return row


# ---------------------------------------------------------------- strace

def strace_counts(name, spec, keep, tmp, args, cpus):
    """Syscalls per request of the server, from `strace -c -f` over a short run."""
    srv_cpu, other_cpu = cpus
    sock = os.path.join(tmp, f"{name}-strace-{int(keep)}.sock")
    out = os.path.join(tmp, f"strace-{name}-{int(keep)}.txt")
    tracer = Proc(["strace", "-f", "-c", "-o", out] + spec["cmd"] + [sock], srv_cpu,
                  os.path.join(tmp, f"{name}-strace.log"))
    try:
        wait_unix(sock, tracer)
        res = run_loadgen(sock, other_cpu, keep, 1, args.strace_seconds, args, spec["expected"],
                          extra=("-n", str(args.strace_requests)))
    finally:
        # Stop the traced server (strace's child, by its PID); strace then
        # writes its summary and exits on its own.
        kids = tracer.children()
        for kid in kids:
            signal_same(kid, signal.SIGTERM)
        try:
            tracer.p.wait(10)
        except subprocess.TimeoutExpired:
            pass
        tracer.stop()  # kills strace and the server if they did not end
    calls, total = {}, None
    with open(out) as f:
        for line in f:
            t = line.split()
            if len(t) >= 5 and re.fullmatch(r"[\d.]+", t[0]) and t[-1] != "total":
                calls[t[-1]] = int(t[3])
            elif t and t[-1] == "total":
                total = int(t[3])
    ok = res["ok"]
    return {
        "server": name, "keep_conn": keep, "ok": ok, "total_calls": total,
        "per_req": total / ok if ok and total else None,
        "top": sorted(((c / ok, s) for s, c in calls.items()), reverse=True)[:6] if ok else [],
        "loadgen": res,
    }


# ---------------------------------------------------------------- report

def fmt(v, spec):
    if v is None:
        width = re.match(r"\d*", spec).group(0)
        return "-".rjust(int(width) if width else 1)
    return format(v, spec)


def ratio(a, b):
    return a / b if a is not None and b else None


def table_head(title, seconds, repeat, cpus, load_before, load_after):
    lines = [f"{title}, {seconds}s per run, median of {repeat} run(s) per row, "
             f"server on CPU {cpus[0]}; "
             f"loadavg before {load_before}, after {load_after} (shared machine)"]
    for k, v in LAYOUTS.items():
        lines.append(f"  {k}: {v.format(srv=cpus[0], other=cpus[1])}")
    return lines


ROW_HEADER = (f"{'lay':3} {'keep':4} {'conn':>4} {'server':8} {'req/s':>9} {'p50 us':>8} {'p99 us':>8} "
              f"{'err':>5} {'unans':>5} {'cpu us/req':>10} {'sys%':>4} {'RSS KiB':>8} {'anon':>5} {'answers/conn':>17} "
              f"{'served':>6}")


def row_cells(r, name, layout, keep, conns):
    """The measured columns of one row (ROW_HEADER), or a FAILED line."""
    if "failed" in r:
        return f"{layout:3} {'on' if keep else 'off':4} {conns:>4} {name:8} FAILED: {r['failed']}"
    if layout == "C":
        per_conn, served = "-", ("ok" if r.get("verified") else "BAD")
    else:
        per_conn = f"{r['per_conn_min']}..{r['per_conn_max']}"
        served = f"{conns - r['conns_never_answered']}/{conns}"
    if not r["server_alive"]:
        served = "DIED"
    return (f"{layout:3} {'on' if keep else 'off':4} {conns:>4} {name:8} {fmt(r['rps'], '9.0f')} "
            f"{fmt(r['p50_us'], '8.1f')} {fmt(r['p99_us'], '8.1f')} {r['errors']:>5} "
            f"{r.get('unanswered', 0):>5} {fmt(r['cpu_us_per_req'], '10.2f')} {fmt(r['server_sys_pct'], '4.0f')} "
            f"{fmt(r['peak_rss_kib'], '8d')} {fmt(r.get('anon_kib'), '5d')} {per_conn:>17} {served:>6}")


def strace_lines(straces):
    if not straces:
        return []
    lines = ["", "syscalls per request (strace -c -f, 1 connection, server side):"]
    for s in straces:
        top = ", ".join(f"{n} {c:.2f}" for c, n in s["top"])
        lines.append(f"  {s['server']:8} keep-conn {'on ' if s['keep_conn'] else 'off'}: "
                     f"{fmt(s['per_req'], '.2f')}  ({top})")
    return lines


def table(results, straces, names, seconds, repeat, cpus, load_before, load_after):
    lines = table_head("FastCGI hello benchmark", seconds, repeat, cpus, load_before, load_after)
    hdr = f"{ROW_HEADER}  {'rps x':>6} {'cpu x':>6} {'rss x':>6}  goal"
    lines.append(hdr)
    lines.append("-" * len(hdr))
    by = {(r["server"], r["layout"], r["keep_conn"], r["conns"]): r for r in results}
    for layout in LAYOUTS:
        for keep, conns in ROWS:
            for name in names:
                r = by.get((name, layout, keep, conns))
                if r is None:
                    continue
                if "failed" in r:
                    lines.append(row_cells(r, name, layout, keep, conns))
                    continue
                base = by.get(("libfcgi", layout, keep, conns))
                if base and "failed" in base:
                    base = None
                rx = cx = mx = None
                goal = ""
                if name != "libfcgi" and base:
                    rx = ratio(r["rps"], base["rps"])
                    cx = ratio(r["cpu_us_per_req"], base["cpu_us_per_req"])
                    mx = ratio(r["peak_rss_kib"], base["peak_rss_kib"])
                    cpu_goal = 0.5 if keep else 2 / 3
                    misses = []
                    if rx is None or rx < 1:
                        misses.append("rps")
                    if cx is None or cx > cpu_goal:
                        misses.append("cpu")
                    if mx is None or mx > 1:
                        misses.append("rss")
                    if r["errors"] or r.get("unanswered"):
                        misses.append("errors")
                    if layout != "C" and r["conns_never_answered"]:
                        misses.append("starved")
                    if not r["server_alive"] or r.get("failed_runs"):
                        misses.append("died/failed")
                    goal = "met" if not misses else "MISS " + ",".join(misses)
                lines.append(f"{row_cells(r, name, layout, keep, conns)}  "
                             f"{fmt(rx, '6.2f')} {fmt(cx, '6.2f')} {fmt(mx, '6.2f')}  {goal}")
    lines.extend(strace_lines(straces))
    lines.append("")
    lines.append(f"cpu us/req = server utime+stime (/proc/PID/stat, 1/{CLK_TCK} s ticks) / answered requests; "
                 "sys% = kernel share of it; RSS = server VmHWM; x = smisk/libfcgi;")
    lines.append("anon = server RssAnon KiB at the end of the run: its private memory, without the file-backed "
                 "pages of code (the binary, libc) that RSS also counts and every process mapping them shares.")
    lines.append("goal: rps x >= 1, cpu x <= 0.5 (keep-conn on) / 0.67 (off), rss x <= 1, no errors, "
                 "no starved connection. served = connections that got >= 1 answer "
                 "(C: body verified through nginx).")
    return "\n".join(lines)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def add_run_args(ap, name):
    """The options every hello benchmark built on this script takes."""
    ap.add_argument("--seconds", type=float, default=3.0, help="run length of each row (default 3)")
    ap.add_argument("--quick", action="store_true", help="1 s rows, shorter strace runs")
    ap.add_argument("--layouts", default="ABC", help="subset of ABC (default ABC)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per row and server, interleaved; the table shows medians (default 1)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--no-strace", action="store_true", help="skip the syscall count runs")
    ap.add_argument("--timeout-ms", type=int, default=1000,
                    help="per-request timeout; slower requests count as unanswered (default 1000)")
    ap.add_argument("--cpus", default="1,0",
                    help="SERVER,OTHER: the server's vCPU and the other one (default 1,0)")
    ap.add_argument("--render", metavar="JSON",
                    help=f"only print the table of a saved run (bench/out/{name}-*.json)")
    ap.add_argument("--json", help=f"write raw results here (default bench/out/{name}-<time>.json)")


def check_run_args(ap, args, name):
    """Validates the common options and the tools; returns (layouts, cpus)."""
    if args.quick:
        args.seconds = min(args.seconds, 1.0)
    if not 0 < args.seconds <= 60:
        ap.error("--seconds must be in (0, 60]")
    if not 1 <= args.repeat <= 9:
        ap.error("--repeat must be 1..9")
    args.strace_seconds = 2 if args.quick else 5
    args.strace_requests = 5000 if args.quick else 20000
    layouts = [l for l in args.layouts.upper() if l in LAYOUTS]

    for tool in ["taskset", "cc", "cargo"] + (["nginx", "wrk"] if "C" in layouts else []) \
            + ([] if args.no_strace else ["strace"]):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"{name}: {tool} not found (scripts/install-deps installs it)")
    os.environ["PATH"] += ":/usr/sbin:/sbin"

    cpus_avail = sorted(os.sched_getaffinity(0))
    try:
        want = tuple(int(c) for c in args.cpus.split(","))
    except ValueError:
        ap.error("--cpus takes SERVER,OTHER, e.g. 1,0")
    if len(want) != 2:
        ap.error("--cpus takes SERVER,OTHER, e.g. 1,0")
    cpus = want if set(want) <= set(cpus_avail) else (cpus_avail[0], cpus_avail[0])
    if cpus[0] == cpus[1]:
        log(f"{name}: CPUs {args.cpus} not both available (have {cpus_avail}): "
            f"everything on CPU {cpus[0]}, layouts B and C are not split")
    return layouts, cpus


def run_matrix(srvs, layouts, args, cpus):
    """Every layout x row x server (fresh server per run), then the strace
    runs; returns the raw record that save_raw() writes."""
    names = list(srvs)
    tmp = tempfile.mkdtemp(prefix="smisk-bench-")
    os.chmod(tmp, 0o755)
    results, straces = [], []
    load_before = loadavg()
    t0 = time.monotonic()
    try:
        for layout in layouts:
            for keep, conns in ROWS:
                # Servers alternate run by run (and swap who goes first) so drift
                # on the shared machine hits all alike.
                runs = {name: [] for name in names}
                for rep in range(args.repeat):
                    for name in (names if rep % 2 == 0 else names[::-1]):
                        log(f"bench: {name} layout {layout} keep-conn {'on' if keep else 'off'} "
                            f"c={conns} run {rep + 1}/{args.repeat}")
                        try:
                            runs[name].append(measure(name, srvs[name], layout, keep, conns, tmp, args, cpus))
                        except (RuntimeError, OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
                            # One broken run must not cost the rest of the table.
                            log(f"bench: run failed: {e}")
                            runs[name].append({"server": name, "layout": layout, "keep_conn": keep,
                                               "conns": conns, "failed": str(e)})
                results.extend(combine(r) for r in runs.values())
        if not args.no_strace:
            for name in names:
                for keep in (True, False):
                    log(f"bench: strace {name} keep-conn {'on' if keep else 'off'}")
                    straces.append(strace_counts(name, srvs[name], keep, tmp, args, cpus))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = loadavg()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for r in results:
        for run_ in r.get("runs", []):
            if run_.get("errors") == 0:
                run_.pop("wrk_output", None)
        r.pop("wrk_output", None)
    return {"time": stamp, "seconds": args.seconds, "repeat": args.repeat, "cpus": cpus,
            "loadavg_before": load_before, "loadavg_after": load_after, "wall_s": time.monotonic() - t0,
            "nproc": os.cpu_count(), "uname": " ".join(os.uname()), "servers": srvs,
            "results": results, "strace": straces}


def save_raw(raw, args, name, render):
    """Writes the raw numbers (first, so a bug in the table code cannot lose a
    long run), prints render(raw) and stores the table with them."""
    path = args.json or os.path.join(OUT, f"{name}-{raw['time']}.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(raw, f, indent=1)
    text = render(raw)
    print(text)
    raw["table"] = text
    with open(path, "w") as f:
        json.dump(raw, f, indent=1)
    log(f"{name}: raw results in {path}")


# ---- multipart bodies (bench/multipart/run.py, bench/shim/form_bench.py) ----

BOUNDARY = b"----smiskbench7MA4YWxkTrZu0gW"
CT = b"multipart/form-data; boundary=" + BOUNDARY


def part(name, data, filename=None):
    """One multipart part (a file part when filename is given)."""
    cd = b'Content-Disposition: form-data; name="' + name + b'"'
    if filename is not None:
        cd += b'; filename="' + filename + b'"\r\nContent-Type: application/octet-stream'
    return b"--" + BOUNDARY + b"\r\n" + cd + b"\r\n\r\n" + data + b"\r\n"


# ---------------------------------------------------------------- WSGI peers
# bench/wsgi/run and bench/mvc/run: the bench venv (flup, gunicorn, uWSGI,
# Granian, Flask and this checkout's shim), nginx in front, wrk, and CPU of a process tree.

VENV = os.path.join(ROOT, "bench", ".venv")
PY = os.path.join(VENV, "bin", "python")
WSGI_URI = "/hello?name=world"
WSGI_BODY = b"Hello World!\n"

WSGI_NGINX_CONF = NGINX_TEMPLATE
FASTCGI = """include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_NAME "";
            fastcgi_param PATH_INFO $fastcgi_script_name;
            fastcgi_pass app;
            fastcgi_keep_conn {keep_conn};
            fastcgi_read_timeout 5s;"""
PROXY = """proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_read_timeout 5s;"""
# uWSGI's own protocol; nginx-common ships uwsgi_params (its stock set, the
# counterpart of fastcgi_params). nginx keeps no uwsgi connection alive.
UWSGI = """include /etc/nginx/uwsgi_params;
            uwsgi_pass app;
            uwsgi_read_timeout 5s;"""


def ensure_venv(build=True):
    need = not os.path.exists(PY)
    if not need:
        r = subprocess.run([PY, "-c", "import flup, gunicorn, granian, flask, smisk.wsgi"], capture_output=True)
        need = r.returncode != 0 or not os.path.exists(os.path.join(VENV, "bin", "uwsgi"))
    if need:
        print("setting up bench/.venv (bench/requirements.txt + ./python-shim)", file=sys.stderr)
        if not os.path.exists(PY):
            subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        pip = [PY, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run(pip + ["-r", os.path.join(ROOT, "bench", "requirements.txt")], check=True)
        subprocess.run(pip + ["--no-deps", os.path.join(ROOT, "python-shim")], check=True)
    elif build:
        # The table must measure this checkout: reinstall the shim (and the
        # library it links) from the sources. A stale python-shim/build would
        # be reused without relinking libsmisk.a, so it goes first.
        print("reinstalling ./python-shim into bench/.venv (--no-build skips this)", file=sys.stderr)
        shim = os.path.join(ROOT, "python-shim")
        for d in ("build", "smisk_core.egg-info", "smisk.egg-info"):
            shutil.rmtree(os.path.join(shim, d), ignore_errors=True)
        subprocess.run(["nice", "-n", "10", PY, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "--no-deps", "--force-reinstall", shim], check=True)
        shutil.rmtree(os.path.join(shim, "build"), ignore_errors=True)
    if not os.path.exists(LOADGEN):
        subprocess.run(["nice", "-n", "10", "cargo", "build", "--quiet", "--release"],
                       cwd=os.path.join(ROOT, "bench", "fcgi-load"), check=True)


def tree(pid):
    out = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            for k in f.read().split():
                out += tree(int(k))
    except OSError:
        pass
    return out


def tree_cpu(pid):
    total = 0.0
    for p in tree(pid):
        try:
            u, s = cpu_seconds(p)
            total += u + s
        except OSError:
            pass
    return total


def tree_wait(pid):
    """Seconds the threads of the process tree spent runnable but waiting
    for a CPU (/proc/PID/task/TID/schedstat, field 2): the time other work
    on the same vCPU took from them."""
    total = 0
    for p in tree(pid):
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9


def tree_rss(pid):
    return max((peak_rss_kib(p) or 0) for p in tree(pid))


def run_wrk_hello(port, cpu, conns, seconds, headers=(), uri=WSGI_URI):
    """wrk on `uri` through nginx at 127.0.0.1:port (the WSGI benches);
    headers ("Cookie: SID=...",) go with every request."""
    cmd = ["taskset", "-c", str(cpu), "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout=5s"]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(f"http://127.0.0.1:{port}{uri}")
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=seconds + 60).stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    total = int(m.group(1)) if m else 0
    secs = float(m.group(2)) * {"ms": 1e-3, "s": 1, "m": 60}[m.group(3)] if m else float(seconds)
    non2xx = int(re.search(r"Non-2xx or 3xx responses: (\d+)", out).group(1)) if "Non-2xx" in out else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errs = sum(int(x) for x in m.groups()) if m else 0
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    return {"ok": total - non2xx, "rps": (total - non2xx) / secs if secs else 0.0,
            "p50_us": to_us(pct["50"]) if "50" in pct else None,
            "p99_us": to_us(pct["99"]) if "99" in pct else None,
            "errors": non2xx + errs, "wrk_output": out}


