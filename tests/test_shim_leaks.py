"""Reference counting and leaks in smisk.core. First, 100 000
requests over FastCGI, rotating through every layer of the shim (env, url,
get/post/files, cookies, input stream, sessions, headers, set_cookie, writes,
the error page, bad session ids), while the application reports its RSS,
CPython's allocated-block count (sys.getallocatedblocks: a leaked object or
reference keeps a block alive), the gc-tracked object count and its open file
descriptors. After a warm-up, none of them may grow with the request count.
Second, a short session of the same rotation with the application under
valgrind: no invalid access or uninitialised use in the shim or libsmisk, and
nothing definitely lost.

SMISK_LEAK_REQUESTS overrides the count (e.g. for a quick local run)."""

import json
import os
import re
import shutil
import subprocess
import sys
import time

import harness
from fcgi_client import Conn, default_params

PYAPP = harness.PYAPP
TOTAL = int(os.environ.get("SMISK_LEAK_REQUESTS", "100000"))
WARMUP = min(10000, TOTAL // 5)
SAMPLES = 8
BOUNDARY = "leak-b0undary"
# A leak of one block per request over the measured span would be tens of
# thousands of blocks; these bounds leave room for CPython's own caches
# (method cache, interned strings, freelists) settling.
MAX_BLOCK_GROWTH = 1500
MAX_OBJECT_GROWTH = 500
MAX_RSS_GROWTH_KB = 3072
BAD_SID_INDEX = 5


def multipart_body():
    parts = [
        (b'name="title"', b"leak \xc3\xa5 test"),
        (b'name="tag"', b"a"),
        (b'name="tag"', b"b"),
        (b'name="upload"; filename="f.bin"\r\nContent-Type: application/octet-stream', bytes(range(256)) * 8),
    ]
    out = b""
    for disp, data in parts:
        out += b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; " + disp + b"\r\n\r\n" + data + b"\r\n"
    return out + b"--" + BOUNDARY.encode() + b"--\r\n"


def requests(cookie):
    """The rotation: (params, body, expected HTTP status)."""
    def params(script, query="", method="GET", body=b"", **extra):
        p = default_params(script=script, query=query, method=method,
                           body_len=len(body) if method == "POST" else None)
        p.update({"HTTP_COOKIE": cookie, "HTTP_REFERER": "http://ref.example/x?y=1", "HTTP_HOST": "leak.example"})
        p.update(extra)
        return p

    mp = multipart_body()
    form = b"a=1&b=%C3%A5&b=2&c"
    lines = b"line one\nline two\r\n" * 20 + b"no newline"
    return [
        (params("/everything", "x=1&y=%C3%A5&y=2"), b"", 200),
        (params("/everything", method="POST", body=mp,
                CONTENT_TYPE=f"multipart/form-data; boundary={BOUNDARY}"), mp, 200),
        (params("/everything", method="POST", body=form, CONTENT_TYPE="application/x-www-form-urlencoded"),
         form, 200),
        (params("/everything", "input=1", method="POST", body=lines, CONTENT_TYPE="text/plain"), lines, 200),
        (params("/everything", "raise=1"), b"", 500),
        # BAD_SID_INDEX: a hostile session id starts a new session.
        (params("/everything", HTTP_COOKIE="SID=../../etc/passwd; c=1"), b"", 200),
        (params("/session", "op=set-id&id=bad/id"), b"", 200),
        (params("/input", "mode=readline", method="POST", body=lines, CONTENT_TYPE="text/plain"), lines, 200),
        (params("/write", "kind=writelines"), b"", 200),
        (params("/headers"), b"", 200),
    ]


def status_of(stdout):
    head = stdout.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"status:"):
            return int(line.split()[1])
    return 200


def stats(conn, req_id):
    resp = conn.request(req_id, default_params(script="/stats"), keep_conn=True)
    return json.loads(resp.stdout.split(b"\r\n\r\n", 1)[1])


def test_100k_requests_touching_every_feature_do_not_leak(tmp_path):
    uploads = tmp_path / "uploads-tmp"
    uploads.mkdir()
    sessions = tmp_path / "sessions"
    env = dict(os.environ, TMPDIR=str(uploads), PYAPP_SESSION_DIR=str(sessions))
    sock = str(tmp_path / "leak.sock")
    app = harness.Process([sys.executable, PYAPP, sock], env=env, log=tmp_path / "app.log")
    try:
        harness.wait_until(lambda: harness.can_connect(sock) or not app.alive(), what="pyapp")
        assert app.alive(), app.log()
        conn = Conn(sock, timeout=30)
        # One session id for the whole run: every request reads, modifies and
        # writes back the same session file.
        first = conn.request(1, default_params(script="/everything"), keep_conn=True).stdout
        sid = [line.split(b"=", 1)[1].split(b";")[0].decode() for line in first.split(b"\r\n")
               if line.startswith(b"Set-Cookie: SID=")]
        assert sid, first[:500]
        rotation = requests(f"SID={sid[0]}; c=cookie%20value")
        samples = []
        started = time.monotonic()
        n = 0
        checkpoints = {WARMUP + i * (TOTAL - WARMUP) // (SAMPLES - 1) for i in range(SAMPLES)}
        deadline = started + 600
        while n < TOTAL:
            params, body, want = rotation[n % len(rotation)]
            resp = conn.request(1, params, body, keep_conn=True)
            assert resp.end == (0, 0), (n, resp.end)
            got = status_of(resp.stdout)
            assert got == want, (n, params["SCRIPT_NAME"], resp.stdout[:300], resp.stderr[:300])
            n += 1
            if n in checkpoints:
                samples.append((n, stats(conn, 1)))
            assert time.monotonic() < deadline, f"only {n} requests in 600 s"
        elapsed = time.monotonic() - started
        conn.close()
        assert app.alive(), app.log()[-2000:]
    finally:
        app.stop()

    base = samples[0][1]
    table = "\n".join(f"{n:>7} {s['rss_kb']:>8} {s['blocks']:>8} {s['objects']:>8} {s['fds']:>4}"
                      for n, s in samples)
    print(f"\n{TOTAL} requests in {elapsed:.1f} s\n requests  rss_kB   blocks  objects  fds\n{table}")
    for n, s in samples[1:]:
        assert s["blocks"] - base["blocks"] <= MAX_BLOCK_GROWTH, table
        assert s["objects"] - base["objects"] <= MAX_OBJECT_GROWTH, table
        assert s["rss_kb"] - base["rss_kb"] <= MAX_RSS_GROWTH_KB, table
        assert s["fds"] == base["fds"], table
    # Upload spools are removed at the end of every request. The session
    # store holds the shared session plus one new session per request whose
    # cookie carried a bad id, and no temp files.
    leftovers = [p for p in uploads.rglob("*") if p.is_file()]
    assert leftovers == [], leftovers[:10]
    bad_id_requests = sum(1 for i in range(TOTAL) if i % len(rotation) == BAD_SID_INDEX)
    names = [p.name for p in sessions.iterdir()]
    assert len(names) == 1 + bad_id_requests
    assert all(re.fullmatch(r"[0-9a-v]{32}", name) for name in names), [x for x in names if len(x) != 32][:5]


def test_short_session_under_valgrind_is_clean(tmp_path):
    if not shutil.which("valgrind"):
        raise AssertionError("valgrind is not installed (scripts/install-deps installs it)")
    sock = str(tmp_path / "vg.sock")
    log = tmp_path / "valgrind.log"
    # PYTHONMALLOC=malloc: every object goes through malloc, so valgrind sees
    # each allocation of the interpreter, the shim and libsmisk.
    env = dict(os.environ, PYTHONMALLOC="malloc", PYAPP_SESSION_DIR=str(tmp_path / "sessions"),
               TMPDIR=str(tmp_path))
    argv = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite", f"--log-file={log}",
            sys.executable, PYAPP, sock]
    app = harness.Process(argv, env=env, log=tmp_path / "app.log")
    try:
        harness.wait_until(lambda: harness.can_connect(sock) or not app.alive(), timeout=120, what="pyapp")
        assert app.alive(), app.log()
        conn = Conn(sock, timeout=120)
        first = conn.request(1, default_params(script="/everything"), keep_conn=True).stdout
        sid = [line.split(b"=", 1)[1].split(b";")[0].decode() for line in first.split(b"\r\n")
               if line.startswith(b"Set-Cookie: SID=")]
        rotation = requests(f"SID={sid[0]}")
        for n in range(20 * len(rotation)):
            params, body, want = rotation[n % len(rotation)]
            resp = conn.request(1, params, body, keep_conn=True)
            assert status_of(resp.stdout) == want, (n, resp.stdout[:300])
        conn.close()
    finally:
        code = app.stop(timeout=60)
    text = log.read_text()
    assert "run() returned" in app.log() and code == 0, app.log()[-2000:]
    harness.assert_valgrind_clean(text)
