"""compat/libfcgi, the drop-in libfcgi.so.0: its ABI against Debian's
libfcgi, libfcgi's example programs (written here to its API) on both
libraries with the same requests, no starved kept-alive connection, stop on
SIGTERM, CGI mode, FCGX_OpenSocket, and Debian's own programs unmodified on
the drop-in (fcgiwrap behind nginx, Perl's FCGI, mapserv, cgi-fcgi)."""

import concurrent.futures
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

import fcgi_client as f
import harness
import libfcgi_helpers as lf


@pytest.fixture(scope="module", autouse=True)
def built():
    lf.build()


# ------------------------------------------------------------------ ABI

def test_struct_layouts_and_constants_match_debians_headers():
    r = subprocess.run([str(lf.PROGRAMS / "layout_check")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
    assert re.search(r"layout: (\d+) passed, 0 failed", r.stdout), r.stdout
    assert int(re.search(r"(\d+) passed", r.stdout).group(1)) >= 80


def dynamic_symbols(path):
    out = subprocess.run(["nm", "-D", "-S", "--defined-only", str(path)], capture_output=True, text=True,
                         check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        name, kind = parts[-1], parts[-2]
        size = int(parts[1], 16) if kind in "BDR" and len(parts) == 4 else None
        syms[name] = (kind, size)
    return syms


def elf_dynamic(path, tag):
    out = subprocess.run(["objdump", "-p", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split()[1] for line in out.splitlines() if line.split()[:1] == [tag]]


def test_exports_exactly_debians_symbols_with_its_soname():
    stock, ours = dynamic_symbols(lf.STOCK_SO), dynamic_symbols(lf.DROPIN_SO)
    assert len(stock) == 89
    assert set(ours) == set(stock), (set(ours) ^ set(stock))
    for name, (kind, size) in stock.items():
        # Functions are functions; the data object has libfcgi's size (a
        # program's copy relocation of _fcgi_sF takes that many bytes).
        assert ours[name][0] == kind, name
        if size is not None:
            assert ours[name][1] == size, name
    assert stock["_fcgi_sF"][1] == 48
    assert elf_dynamic(lf.DROPIN_SO, "SONAME") == ["libfcgi.so.0"]
    assert not any("smisk" in n for n in elf_dynamic(lf.DROPIN_SO, "NEEDED"))


# ------------------------------------------------- the example programs

def echo_requests():
    return [
        (f.default_params("/echo", "a=1&b=2"), b"", f.RESPONDER, None),
        (f.default_params("/echo", method="POST", body_len=11), b"hello world", f.RESPONDER, None),
        (f.default_params("/echo", method="POST", body_len=70000), bytes(range(256)) * 273 + b"x" * 112,
         f.RESPONDER, None),
        (f.default_params("/echo", method="POST", body_len=20), b"short", f.RESPONDER, None),
    ]


def auth_params(user, password, query=""):
    p = f.default_params("/private", query)
    p.update({"REMOTE_USER": user, "REMOTE_PASSWD": password})
    return p


CASES = {
    "echo": echo_requests(),
    "echo-x": echo_requests(),
    "echo-cpp": echo_requests(),
    "size": [(f.default_params("/size", q), b"", f.RESPONDER, None) for q in ("0", "100", "200000")],
    "threaded": [(f.default_params("/threaded"), b"", f.RESPONDER, None)] * 6,
    "authorizer": [
        (auth_params("doe", "xxxx", "42"), b"", f.AUTHORIZER, None),
        (auth_params("doe", "wrong"), b"", f.AUTHORIZER, None),
        (f.default_params("/private"), b"", f.AUTHORIZER, None),
    ],
    "log-dump": [
        (f.default_params("/log", "letmein"), b"", f.AUTHORIZER, None),
        (f.default_params("/log", "nope"), b"", f.AUTHORIZER, None),
        (f.default_params("/log"), b"", f.RESPONDER, None),
    ],
    "filter": [
        (dict(f.default_params("/doc.txt", method="POST", body_len=4), FCGI_DATA_LENGTH="13"), b"form",
         lf.FILTER, b"the data file"),
        (dict(f.default_params("/big.txt"), FCGI_DATA_LENGTH="200000"), b"", lf.FILTER, b"z" * 200000),
        (f.default_params("/not-a-filter"), b"", f.RESPONDER, None),
    ],
}


def normalise(name, out):
    if name == "threaded":
        # Which thread served a request, and the counts, vary by schedule.
        out = re.sub(rb"Thread \d+", b"Thread N", out)
        out = re.sub(rb"<code>[ \d]*$", b"<code>", out)
    return out


def run_case(tmp, name, variant):
    env = {"LOG_FILE": str(Path(tmp) / "app.log.txt"), "THREADED_THREADS": "4"}
    Path(env["LOG_FILE"]).write_text("first line\nsecond line\n")
    p = lf.Program(tmp, [lf.binary(name, variant)], variant, env=env, name=name)
    try:
        assert p.uses_dropin() == (variant != "stock"), p.maps()
        answers = []
        for params, body, role, data in CASES[name]:
            out, err, status = lf.ask(p.address, params, body, role, data)
            answers.append((normalise(name, out), err, status))
        # The same requests again on one kept-alive connection. (Not for
        # threaded on Debian's libfcgi: its second request waits while
        # another thread holds the accept mutex in accept(2), until a new
        # connection comes; the kept-alive connection starves.)
        if name == "threaded":
            return answers
        c = f.Conn(p.address)
        for i, (params, body, role, data) in enumerate(CASES[name]):
            c.send(lf.request_bytes(i + 1, params, body, role, data, keep_conn=True))
            r = c.read_response(i + 1)
            answers.append((normalise(name, r.stdout), r.stderr, r.end[0]))
        c.close()
    finally:
        p.stop(timeout=3)
    return answers


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_answers_the_same_on_both_libraries(tmp_path, name):
    """Built against Debian's headers on Debian's libfcgi, the same binary
    on the drop-in, and rebuilt against the drop-in's headers: every
    answer (stdout, stderr, exit status) byte for byte the same."""
    answers = {}
    for v in lf.VARIANTS:
        (tmp_path / v).mkdir()
        answers[v] = run_case(tmp_path / v, name, v)
    assert answers["dropin"] == answers["stock"]
    assert answers["rebuilt"] == answers["stock"]
    outs = [a[0] for a in answers["stock"]]
    assert all(o for o in outs) and len(outs) == (1 if name == "threaded" else 2) * len(CASES[name])


def test_the_filter_role_reads_stdin_then_data(tmp_path):
    p = lf.Program(tmp_path, [lf.binary("filter", "rebuilt")], "rebuilt")
    try:
        params = dict(f.default_params("/f", method="POST", body_len=3), FCGI_DATA_LENGTH="5")
        out, _, status = lf.ask(p.address, params, b"abc", lf.FILTER, b"hello")
        assert out.endswith(b"stdin 3 data 5 declared 5\nHELLO") and status == 0
        out, _, status = lf.ask(p.address, params, b"abc", f.RESPONDER)
        assert out.startswith(b"Status: 400 ")
    finally:
        p.stop()


# ----------------------------------------------------------- starvation

STARVE_CASES = [
    ("echo", {}),
    ("threaded", {"THREADED_THREADS": "4", "THREADED_DELAY_MS": "5"}),
    # The threads in FCGX_Accept_r at the same time, without the mutex.
    ("threaded", {"THREADED_THREADS": "4", "THREADED_DELAY_MS": "5", "THREADED_NO_LOCK": "1"}),
]


def test_a_kept_alive_connection_goes_on_beside_threads_waiting_in_accept(tmp_path):
    """Sequential requests on one kept-alive connection to the threaded
    example (4 threads, libfcgi's accept mutex): all answered on the
    drop-in, repeated; on Debian's libfcgi the second waits whenever the
    mutex holder sits in accept(2) for a new connection."""
    p = lf.Program(tmp_path, [lf.binary("threaded", "stock")], "dropin", env={"THREADED_THREADS": "4"})
    try:
        for _ in range(5):
            c = f.Conn(p.address, timeout=5)
            for i in range(1, 21):
                c.send(lf.request_bytes(i, f.default_params("/x"), keep_conn=True))
                assert b"FastCGI Hello!" in c.read_response(i).stdout
            c.close()
    finally:
        p.stop()


@pytest.mark.parametrize("name,env", STARVE_CASES)
def test_32_kept_alive_connections_none_starved(tmp_path, name, env):
    """libfcgi serves one kept-alive connection per thread and starves the
    rest; on the drop-in every connection is answered, round after round."""
    p = lf.Program(tmp_path, [lf.binary(name, "stock")], "dropin", env=env, name=name)
    conns = [f.Conn(p.address) for _ in range(32)]
    try:
        for rnd in range(1, 6):
            for c in conns:
                c.send(lf.request_bytes(rnd, f.default_params("/x"), keep_conn=True))
            assert lf.answered_within(conns, rnd, 15) == 32, f"round {rnd}"
    finally:
        for c in conns:
            c.close()
        p.stop()
    # Debian's libfcgi with the same binary, for contrast.
    s = lf.Program(tmp_path, [lf.binary(name, "stock")], "stock", env=env, name=name)
    conns = [f.Conn(s.address) for _ in range(32)]
    try:
        for c in conns:
            c.send(lf.request_bytes(1, f.default_params("/x"), keep_conn=True))
        served = lf.answered_within(conns, 1, 1.5)
        assert served <= (4 if name == "threaded" else 1), served
    finally:
        for c in conns:
            c.close()
        s.stop(signal.SIGKILL)


def test_threads_on_one_socket_behind_nginx_keepalive(tmp_path):
    p = lf.Program(tmp_path, [lf.binary("threaded", "stock")], "dropin",
                   env={"THREADED_THREADS": "4", "THREADED_DELAY_MS": "2"})
    nginx = harness.Nginx(tmp_path, p.address, keep_conn=True, pool=32)
    try:
        def fetch(i):
            return harness.http_fetch(nginx.port, f"/t?{i}", timeout=20)
        with concurrent.futures.ThreadPoolExecutor(32) as ex:
            results = list(ex.map(fetch, range(320)))
        assert all(s == 200 and b"FastCGI Hello!" in b for s, _, b in results)
        threads = {m for _, _, b in results for m in re.findall(rb"Thread (\d+)", b)}
        assert len(threads) >= 2, threads
    finally:
        nginx.stop()
        p.stop()


def test_the_readers_getline_getchar_and_ungetchar(tmp_path):
    import zlib
    body = b"".join(f"line {i} {'x' * (i * 7 % 1500)}\n".encode() for i in range(300)) + b"no newline"
    want = f"len={len(body)} crc={zlib.crc32(body):08x}\n".encode()
    for variant in ("stock", "dropin"):
        p = lf.Program(tmp_path, [lf.binary("testapp", "stock"), "-"], variant, name="readers")
        try:
            for query in ("", "lines", "chars"):
                params = f.default_params("/echo", query, method="POST", body_len=len(body))
                out, _, status = lf.ask(p.address, params, body)
                assert out.endswith(b"\r\n\r\n" + want) and status == 0, (variant, query, out)
        finally:
            p.stop()


# ----------------------------------------------------------------- fork

def test_a_child_that_exits_after_fork_does_not_end_the_request(tmp_path):
    """The child's exit() runs FCGI_Finish (FCGI_Accept's atexit handler)
    on its copy of the request: on the drop-in a request belongs to the
    process that accepted it, and the copy is dropped without a byte sent."""
    answers = {}
    for variant in ("stock", "dropin"):
        p = lf.Program(tmp_path, [lf.binary("forker", "stock"), "child"], variant, name="forker")
        try:
            answers[variant] = [lf.ask(p.address, f.default_params("/fork"))[0] for _ in range(3)]
        finally:
            p.stop(timeout=2)
    whole = b"Content-type: text/plain\r\n\r\nbefore the fork\nafter the fork: the child exited with 0\n"
    assert answers["dropin"] == [whole] * 3
    # Debian's libfcgi: the child sends the END_REQUEST (and what was
    # buffered) first; the parent's answer is lost.
    assert answers["stock"] != [whole] * 3


def test_prefork_workers_serve_after_the_parent_served(tmp_path):
    p = lf.Program(tmp_path, [lf.binary("forker", "rebuilt"), "prefork", "2"], "rebuilt", name="prefork")
    try:
        out, _, _ = lf.ask(p.address, f.default_params("/"))
        assert out.endswith(f"parent {p.pid}\n".encode())
        conns = [f.Conn(p.address) for _ in range(8)]
        for rnd in range(1, 4):
            for c in conns:
                c.send(lf.request_bytes(rnd, f.default_params("/"), keep_conn=True))
            assert lf.answered_within(conns, rnd, 10) == 8
        pids = {int(lf.ask(p.address, f.default_params("/"))[0].split()[-1]) for _ in range(20)}
        assert p.pid not in pids and 1 <= len(pids) <= 2
        for c in conns:
            c.close()
    finally:
        code, by_signal_alone = p.stop(signal.SIGTERM, timeout=5)
    assert by_signal_alone and code == 0


# -------------------------------------------------------------- signals

def test_an_idle_threaded_program_stops_on_sigterm(tmp_path):
    """Whichever thread the signal lands on, every thread's FCGX_Accept_r
    returns (with libfcgi only the thread inside accept(2) would, if the
    signal interrupts it: other threads wait on, and the program with them).
    Repeated: the thread the kernel picks varies."""
    for i in range(5):
        p = lf.Program(tmp_path, [lf.binary("threaded", "stock")], "dropin", env={"THREADED_THREADS": "4"},
                       name=f"idle{i}")
        # Serving (the handler is installed when a socket is first served).
        for _ in range(i + 1):
            lf.ask(p.address, f.default_params("/x"))
        t0 = time.monotonic()
        code, by_signal_alone = p.stop(signal.SIGTERM, timeout=5)
        assert by_signal_alone and code == 0 and time.monotonic() - t0 < 3
        assert "every thread stopped" in p.log()


def test_sigterm_lets_requests_in_flight_finish_and_a_second_one_kills(tmp_path):
    env = {"THREADED_THREADS": "2", "THREADED_DELAY_MS": "700"}
    p = lf.Program(tmp_path, [lf.binary("threaded", "rebuilt")], "rebuilt", env=env)
    a, b = f.Conn(p.address), f.Conn(p.address)
    a.send(lf.request_bytes(1, f.default_params("/slow")))
    b.send(lf.request_bytes(1, f.default_params("/slow")))
    time.sleep(0.2)
    os.kill(p.pid, signal.SIGTERM)
    for c in (a, b):  # both were being served: both complete
        r = c.read_response(1)
        assert b"FastCGI Hello!" in r.stdout and r.end == (0, f.REQUEST_COMPLETE)
    harness.wait_until(lambda: not p.alive(), timeout=5, what="graceful exit")
    assert p.proc.returncode == 0
    p = lf.Program(tmp_path, [lf.binary("threaded", "rebuilt")], "rebuilt",
                   env={"THREADED_THREADS": "1", "THREADED_DELAY_MS": "5000"}, name="again")
    c = f.Conn(p.address)
    c.send(lf.request_bytes(1, f.default_params("/slow")))
    time.sleep(0.2)
    os.kill(p.pid, signal.SIGTERM)
    time.sleep(0.1)
    assert p.alive(), "the first SIGTERM waits for the request"
    t0 = time.monotonic()
    os.kill(p.pid, signal.SIGTERM)
    p.proc.wait(3)
    assert p.proc.returncode == -signal.SIGTERM and time.monotonic() - t0 < 2
    c.close()


def test_sigusr1_asks_for_a_shutdown_as_in_libfcgi(tmp_path):
    p = lf.Program(tmp_path, [lf.binary("echo", "stock")], "dropin")
    lf.ask(p.address, f.default_params("/x"))
    code, by_signal_alone = p.stop(signal.SIGUSR1, timeout=5)
    assert by_signal_alone and code == 0


# ------------------------------------------------------------- CGI mode

@pytest.mark.parametrize("variant", ["stock", "rebuilt"])
def test_started_as_cgi_an_fcgi_accept_program_serves_one_request(tmp_path, variant):
    env = {"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "CONTENT_LENGTH": "5",
           "QUERY_STRING": "cgi=1", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([str(lf.binary("echo", variant))], input=b"abcde", env=env, capture_output=True,
                       timeout=10)
    assert r.returncode == 0
    assert r.stdout.count(b"Request number 1<p>") == 1 and b"Request number 2" not in r.stdout
    assert b"Standard input:<br>\n<pre>\nabcde\n" in r.stdout
    assert b"QUERY_STRING=cgi=1\n" in r.stdout
    if variant == "rebuilt":
        stock = subprocess.run([str(lf.binary("echo", "stock"))], input=b"abcde", env=env, capture_output=True,
                               timeout=10)
        assert r.stdout == stock.stdout


# --------------------------------------------------------- FCGX_OpenSocket

def test_open_socket_tcp_and_a_stale_unix_socket(tmp_path):
    port = harness.free_port()
    p = lf.Program(tmp_path, [lf.binary("testapp", "stock"), f"127.0.0.1:{port}"], "dropin",
                   address=("127.0.0.1", port))
    try:
        assert f.get(("127.0.0.1", port), "/hello").stdout.endswith(b"Hello World!\n")
    finally:
        p.stop()
    stale = tmp_path / "stale.sock"
    lf.listening_unix(stale).close()  # a socket file nobody listens on
    p = lf.Program(tmp_path, [lf.binary("testapp", "stock"), stale], "dropin", address=str(stale), name="stale")
    try:
        assert f.get(str(stale), "/hello").stdout.endswith(b"Hello World!\n")
        umask = os.umask(0)
        os.umask(umask)
        assert stale.stat().st_mode & 0o777 == 0o777 & ~umask
    finally:
        p.stop()


def run_testapp(tmp, variant, address):
    return subprocess.run([str(lf.binary("testapp", variant)), address], env=lf.env_for(variant),
                          capture_output=True, timeout=10)


def test_open_socket_never_deletes_a_file_and_never_overflows(tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    r = run_testapp(tmp_path, "dropin", str(victim))
    assert r.returncode == 1 and victim.read_text() == "keep me"
    assert b"not a socket" in r.stderr
    # Debian's libfcgi unlinks it and binds there.
    proc = subprocess.Popen([str(lf.binary("testapp", "stock")), str(victim)], env=lf.env_for("stock"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        harness.wait_until(lambda: victim.is_socket() or proc.poll() is not None, what="stock bind")
        assert victim.is_socket()
    finally:
        proc.kill()
        proc.wait(5)
    long_path = "/tmp/" + "x" * 3000
    r = run_testapp(tmp_path, "dropin", long_path)
    assert r.returncode == 1 and b"FCGX_OpenSocket" in r.stderr
    stock = run_testapp(tmp_path, "stock", long_path)
    assert stock.returncode != 0  # libfcgi's strcpy into 1024 bytes


# ---------------------------------------------- Debian's programs, as shipped

CGI_SCRIPT = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo "method=$REQUEST_METHOD query=$QUERY_STRING"
if [ -n "$CONTENT_LENGTH" ]; then
  printf 'body='; head -c "$CONTENT_LENGTH" | md5sum
fi
"""


@pytest.mark.parametrize("keep_conn", [False, True])
def test_fcgiwrap_runs_a_shell_cgi_behind_nginx(tmp_path, keep_conn):
    script = tmp_path / "hello.cgi"
    script.write_text(CGI_SCRIPT)
    script.chmod(0o755)
    sock = tmp_path / "fcgiwrap.sock"
    p = lf.Program(tmp_path, ["/usr/sbin/fcgiwrap", "-c", "2", "-s", f"unix:{sock}"], "dropin",
                   address=str(sock), name="fcgiwrap")
    nginx = harness.Nginx(tmp_path, str(sock), keep_conn=keep_conn,
                          extra_fastcgi=f"fastcgi_param SCRIPT_FILENAME {script};")
    try:
        assert p.uses_dropin()
        status, _, body = harness.http_fetch(nginx.port, "/hello.cgi?x=1")
        assert status == 200 and body == b"method=GET query=x=1\n", body
        payload = os.urandom(300000)
        import hashlib
        status, _, body = harness.http_fetch(nginx.port, "/hello.cgi", method="POST", body=payload,
                                             headers={"Content-Type": "application/octet-stream"})
        assert status == 200 and body == b"method=POST query=\nbody=" + \
            hashlib.md5(payload).hexdigest().encode() + b"  -\n", body
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            got = list(ex.map(lambda i: harness.http_fetch(nginx.port, f"/hello.cgi?{i}"), range(40)))
        assert all(s == 200 and b == f"method=GET query={i}\n".encode() for i, (s, _, b) in enumerate(got))
    finally:
        nginx.stop()
        p.stop()


PERL_HELLO = r"""
use strict;
use warnings;
use FCGI;
my $socket = FCGI::OpenSocket($ARGV[0], 64);
my %env;
my $request = FCGI::Request(\*STDIN, \*STDOUT, \*STDERR, \%env, $socket);
my $count = 0;
while ($request->Accept() >= 0) {
    $count++;
    my $body = '';
    if (($env{REQUEST_METHOD} // '') eq 'POST') { local $/; $body = <STDIN> // ''; }
    print "Content-Type: text/plain\r\n\r\nHello from Perl, request $count, "
        . length($body) . " body bytes, $env{FCGI_ROLE}\n";
}
FCGI::CloseSocket($socket);
print STDERR "perl hello: stopped\n";
"""


def test_perl_fcgi_serves_a_hello_and_stops_on_sigterm(tmp_path):
    script = tmp_path / "hello.pl"
    script.write_text(PERL_HELLO)
    sock = tmp_path / "perl.sock"
    p = lf.Program(tmp_path, ["perl", script, sock], "dropin", address=str(sock), name="perl")
    try:
        assert p.uses_dropin()
        out = f.get(str(sock)).stdout
        assert out == b"Content-Type: text/plain\r\n\r\nHello from Perl, request 1, 0 body bytes, RESPONDER\n"
        out, _, _ = lf.ask(str(sock), f.default_params("/", method="POST", body_len=5000), b"p" * 5000)
        assert out.endswith(b"request 2, 5000 body bytes, RESPONDER\n")
        conns = [f.Conn(str(sock)) for _ in range(8)]
        for c in conns:
            c.send(lf.request_bytes(1, f.default_params("/"), keep_conn=True))
        assert lf.answered_within(conns, 1, 10) == 8
        for c in conns:
            c.close()
    finally:
        code, by_signal_alone = p.stop(signal.SIGTERM, timeout=5)
    assert by_signal_alone and code == 0 and "perl hello: stopped" in p.log()


MAPFILE = """MAP
  NAME "tiny"
  SIZE 64 48
  EXTENT 0 0 16 12
  IMAGECOLOR 255 255 255
  IMAGETYPE png
  LAYER
    NAME "box"
    TYPE POLYGON
    STATUS DEFAULT
    FEATURE
      POINTS 2 2 8 2 8 8 2 8 2 2 END
    END
    CLASS
      STYLE COLOR 255 0 0 END
    END
  END
END
"""


def test_mapserv_draws_a_tiny_map(tmp_path):
    (tmp_path / "tiny.map").write_text(MAPFILE)
    conf = tmp_path / "mapserver.conf"
    conf.write_text(f'CONFIG\n  ENV\n    MS_MAP_PATTERN "^{tmp_path}/"\n  END\nEND\n')
    query = f"map={tmp_path}/tiny.map&mode=map"
    images = {}
    for variant in ("stock", "dropin"):
        p = lf.Program(tmp_path, ["/usr/lib/cgi-bin/mapserv"], variant, env={"MAPSERVER_CONFIG_FILE": str(conf)},
                       name="mapserv")
        nginx = harness.Nginx(tmp_path, p.address, keep_conn=False)
        try:
            assert p.uses_dropin() == (variant == "dropin")
            out, err, status = lf.ask(p.address, f.default_params("/cgi-bin/mapserv", query))
            head, _, png = out.partition(b"\r\n\r\n")
            assert head == b"Content-Type: image/png" and png.startswith(b"\x89PNG\r\n\x1a\n"), out[:200]
            status, headers, body = harness.http_fetch(nginx.port, "/cgi-bin/mapserv?" + query)
            assert status == 200 and body == png
            images[variant] = png
        finally:
            nginx.stop()
            p.stop(timeout=1)  # mapserv handles SIGTERM itself (at its next request)
    assert images["dropin"] == images["stock"]


def test_cgi_fcgi_bridges_a_cgi_request_on_the_dropin(tmp_path):
    app = lf.Program(tmp_path, [lf.binary("testapp", "stock"), "-"], "dropin", name="testapp")
    env = {"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "SCRIPT_NAME": "/echo",
           "CONTENT_LENGTH": "100000", "PATH": "/usr/bin:/bin"}
    body = os.urandom(100000)
    try:
        outs = {}
        for variant in ("stock", "dropin"):
            e = dict(env, **({"LD_LIBRARY_PATH": str(lf.DROPIN)} if variant == "dropin" else {}))
            r = subprocess.run(["/usr/bin/cgi-fcgi", "-bind", "-connect", app.address], input=body, env=e,
                               capture_output=True, timeout=20)
            assert r.returncode == 0, r.stderr
            outs[variant] = r.stdout
        import zlib
        assert outs["dropin"] == outs["stock"] == \
            f"Content-Type: text/plain\r\n\r\nlen=100000 crc={zlib.crc32(body):08x}\n".encode()
    finally:
        app.stop()


# ------------------------------------------------------- behind nginx

@pytest.mark.parametrize("keep_conn", [False, True])
def test_testapp_behind_nginx(tmp_path, keep_conn):
    p = lf.Program(tmp_path, [lf.binary("testapp", "stock"), "-"], "dropin")
    nginx = harness.Nginx(tmp_path, p.address, keep_conn=keep_conn, pool=16)
    try:
        import zlib
        payload = os.urandom(2 << 20)
        status, _, body = harness.http_fetch(nginx.port, "/echo", method="POST", body=payload)
        assert status == 200 and body == f"len={len(payload)} crc={zlib.crc32(payload):08x}\n".encode()
        # A mirror only small: nginx reads no answer before it has sent
        # the whole body (with any responder library).
        small = os.urandom(20000)
        status, _, body = harness.http_fetch(nginx.port, "/mirror", method="POST", body=small)
        assert status == 200 and body == small
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            got = list(ex.map(lambda i: harness.http_fetch(nginx.port, "/hello"), range(200)))
        assert all(s == 200 and b == b"Hello World!\n" for s, _, b in got)
        status, _, body = harness.http_fetch(nginx.port, "/big?3000000")
        assert status == 200 and body == bytes(i % 251 for i in range(251)) * (3000000 // 251) + \
            bytes(i % 251 for i in range(3000000 % 251))
    finally:
        nginx.stop()
        p.stop()


# ------------------------------------------------------------- valgrind

def test_valgrind_clean_under_hostile_and_ordinary_requests(tmp_path):
    log = tmp_path / "valgrind.log"
    sock = str(tmp_path / "vg.sock")
    p = lf.Program(tmp_path, ["valgrind", "--error-exitcode=99", "--leak-check=full",
                              "--errors-for-leak-kinds=definite,indirect", f"--log-file={log}",
                              lf.binary("testapp", "rebuilt"), sock], "rebuilt", address=sock, name="vg")
    try:
        assert f.get(sock, "/hello").stdout.endswith(b"Hello World!\n")
        body = os.urandom(300000)
        out, _, _ = lf.ask(sock, f.default_params("/mirror", method="POST"), body, timeout=60)
        assert out.endswith(body)
        # CVE-2025-23016's lengths: a 0x7fffffff name length.
        c = f.Conn(sock, timeout=60)
        c.send(f.begin(1) + f.record(f.PARAMS, 1, b"\xff\xff\xff\xff\x01" + b"x" * 20) + f.record(f.PARAMS, 1))
        assert c.read_response(1).stdout.startswith(b"Status: 400 ")
        c.close()
        c = f.Conn(sock, timeout=60)  # abort mid-body
        c.send(f.begin(1, keep_conn=True) + f.stream(f.PARAMS, 1, f.encode_params(
            f.default_params("/echo", method="POST"))) + f.record(f.STDIN, 1, b"x" * 1000))
        time.sleep(0.3)
        c.send(f.record(f.ABORT_REQUEST, 1))
        assert c.read_response(1).end == (1, f.REQUEST_COMPLETE)
        c.close()
        c = f.Conn(sock, timeout=60)  # hang up mid-params
        c.send(f.begin(1) + f.record(f.PARAMS, 1, b"\x05"))
        c.close()
        assert f.get(sock, "/env", keep_conn=True).stdout.count(b"\n") > 5
    finally:
        code, by_signal_alone = p.stop(signal.SIGTERM, timeout=30)
    text = log.read_text()
    assert by_signal_alone and code == 0, text[-3000:]
    assert "ERROR SUMMARY: 0 errors" in text, text[-3000:]
    assert re.search(r"definitely lost: 0 bytes|All heap blocks were freed", text), text[-3000:]
