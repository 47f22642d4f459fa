"""smisk.util.main (main(), Main, the command line), the development HTTP
server (smisk.util.httpd, smisk.util.fcgiproto) and the CGI mode of an MVC
application. Servers bind 127.0.0.1 or unix sockets in temp dirs and are
stopped by PID. Tests named after a P-n would have caught that bug of the
original."""
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import harness
import mvc_helpers as mh
from smisk.util import fcgiproto as fp
from smisk.util import httpd
from smisk.util.main import (extrapolate_binds, handle_errors_wrapper, main_cli_filter, parse_bind_arg)

PY = str(harness.VENV_PYTHON)


# --- the command line -------------------------------------------------------

def test_P26_command_line_overrides_only_given_options():
    o = main_cli_filter(appdir="/given", bind="given.sock", forks=3, argv=[])
    assert (o.appdir, o.bind, o.forks, o.http_port, o.debug) == ("/given", "given.sock", 3, None, False)
    o = main_cli_filter(appdir="/given", bind="given.sock", forks=3, argv=["--bind", ":5000"])
    assert (o.appdir, o.bind, o.forks) == ("/given", ":5000", 3)
    o = main_cli_filter(forks=3, argv=["-c", "0"])
    assert o.forks == 0  # a given 0 is given
    appdir, bind, forks, spawn, chdir, umask, stdout, stderr, pidfile, http_port, http_addr, debug = o[:12]
    assert forks == 0 and debug is False


def test_P27_umask_is_octal():
    assert main_cli_filter(argv=["--umask", "022"]).umask == 0o22
    assert main_cli_filter(argv=["--umask", "0777"]).umask == 0o777


@pytest.mark.parametrize("argv", [["--umask", "9"], ["--umask", "1000"], ["--forks", "x"], ["--forks", "5000"],
                                  ["--nope"], ["extra"], ["--http-port", "70000"]])
def test_bad_command_lines_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main_cli_filter(argv=argv)
    assert e.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_http_options():
    assert main_cli_filter(argv=["-H"]).http_port == 8080
    assert main_cli_filter(argv=["--http-port", "9000"]).http_port == 9000
    o = main_cli_filter(argv=["--http-addr", "127.0.0.1"])
    assert (o.http_addr, o.http_port) == ("127.0.0.1", 8080)
    o = main_cli_filter(argv=["--debug", "--autoreload", "--pidfile", "p", "-s", "2", "--chdir", "/",
                              "--stdout", "o", "--stderr", "e", "-d", "."])
    assert (o.debug, o.autoreload, o.pidfile, o.spawn, o.chdir, o.stdout, o.stderr, o.appdir) == \
        (True, True, "p", 2, "/", "o", "e", ".")


def test_parse_bind_arg_and_extrapolate_binds():
    assert parse_bind_arg("/tmp/s.sock") == ("/tmp/s.sock", None, None, [])
    assert parse_bind_arg(":5000") == (None, 5000, None, [])
    assert parse_bind_arg("*:5000") == (None, 5000, None, [])
    assert parse_bind_arg("[::1]:80") == (None, 80, "::1", [])
    assert parse_bind_arg(["-x", "--bind", "127.0.0.1:9", "y"]) == (None, 9, "127.0.0.1", ["-x", "y"])
    assert parse_bind_arg(["a"]) == (None, None, None, ["a"])
    with pytest.raises(ValueError):
        parse_bind_arg("host:port")
    assert extrapolate_binds(2, socket="/tmp/s") == ["/tmp/s0", "/tmp/s1"]
    assert extrapolate_binds(2, socket="/tmp/s%d.sock") == ["/tmp/s0.sock", "/tmp/s1.sock"]
    assert extrapolate_binds(2, port=7000) == ["127.0.0.1:7000", "127.0.0.1:7001"]
    assert extrapolate_binds(1, port=7000, address="::1") == ["[::1]:7000"]


def test_P25_emergency_log_location_chain(tmp_path, monkeypatch, capsys):
    from smisk.config import config

    def crash():
        raise RuntimeError("kaboom")

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMISK_LOG_DIR", raising=False)
    monkeypatch.delenv("SMISK_APP_DIR", raising=False)
    assert handle_errors_wrapper(crash, error_cb=lambda code: ("exit", code)) == ("exit", 1)
    assert "kaboom" in (tmp_path / "error.log").read_text()
    appdir = tmp_path / "app"
    appdir.mkdir()
    monkeypatch.setenv("SMISK_APP_DIR", str(appdir))
    handle_errors_wrapper(crash, error_cb=lambda code: None)
    assert "kaboom" in (appdir / "error.log").read_text()
    logdir = tmp_path / "logs"
    logdir.mkdir()
    monkeypatch.setenv("SMISK_LOG_DIR", str(logdir))
    handle_errors_wrapper(crash, error_cb=lambda code: None)
    text = (logdir / "error.log").read_text()
    assert re.match(rf"\d{{4}}-\d\d-\d\dT.* \[{os.getpid()}\] Traceback", text), text
    config["smisk.emergency_logfile"] = str(tmp_path / "chosen.log")
    try:
        handle_errors_wrapper(crash, error_cb=lambda code: None)
    finally:
        del config["smisk.emergency_logfile"]
    assert "kaboom" in (tmp_path / "chosen.log").read_text()
    err = capsys.readouterr().err
    assert "Wrote emergency log to" in err and "RuntimeError: kaboom" in err
    assert handle_errors_wrapper(lambda: 5) == 5
    assert handle_errors_wrapper(lambda: (_ for _ in ()).throw(KeyboardInterrupt), abort_cb=lambda: "aborted") == \
        "aborted"
    with pytest.raises(SystemExit):
        handle_errors_wrapper(lambda: sys.exit(3))


RECORDING_SCRIPT = """
import json, os, sys
from smisk.mvc import *
from smisk.config import config

class root(Controller):
    def __call__(self): return {}

def record(**kw):
    app = kw.pop('application')
    print(json.dumps({'run': kw, 'autoreload': config.setting('smisk.autoreload'),
                      'root_level': logging.getLogger().level, 'appdir': os.environ.get('SMISK_APP_DIR'),
                      'environment': os.environ.get('SMISK_ENVIRONMENT'), 'app': type(app).__name__,
                      'conf': config.get('from_conf'), 'cwd': os.getcwd()}))
main.run = record
main(ARGS)
"""


def run_recording(tmp_path, args="", argv=()):
    script = tmp_path / "recorder.py"
    script.write_text(RECORDING_SCRIPT.replace("ARGS", args))
    env = {k: v for k, v in os.environ.items() if k not in ("SMISK_APP_DIR", "SMISK_ENVIRONMENT")}
    out = subprocess.run([PY, str(script), *argv], capture_output=True, text=True, timeout=60, env=env,
                         cwd=tmp_path)
    assert out.returncode == 0, out
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_main_passes_options_on_to_run(tmp_path):
    r = run_recording(tmp_path, "bind='default.sock', forks=1", ["--forks", "2", "--debug"])
    assert r["run"] == {"bind": "default.sock", "forks": 2, "handle_errors": True}
    assert r["root_level"] == logging.DEBUG and r["app"] == "Application" and r["environment"] == "stable"
    assert r["appdir"] == str(tmp_path) and r["autoreload"] is False


def test_P28_main_autoreload_true_sets_the_default(tmp_path):
    assert run_recording(tmp_path, "autoreload=True")["autoreload"] is True
    assert run_recording(tmp_path, "", ["--autoreload"])["autoreload"] is True


def test_main_loads_the_named_configuration_from_the_app_dir(tmp_path):
    appdir = tmp_path / "appdir"
    appdir.mkdir()
    (appdir / "myapp.conf").write_text('"from_conf": 42,\n')
    r = run_recording(tmp_path, "config='myapp'", ["--appdir", str(appdir), "--chdir", "/"])
    assert r["conf"] == 42 and r["appdir"] == str(appdir) and r["cwd"] == "/"


def test_cli_false_ignores_the_command_line(tmp_path):
    script = tmp_path / "recorder.py"
    script.write_text(RECORDING_SCRIPT.replace("ARGS", "cli=False, forks=1"))
    out = subprocess.run([PY, str(script), "--forks", "7", "--bogus"], capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout.strip().splitlines()[-1])["run"]["forks"] == 1


def test_bind_to_a_bare_socket_name_in_the_current_directory(tmp_path):
    proc = subprocess.Popen([PY, str(mh.EXAMPLES / "minimal.py"), "--bind", "relative.sock"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sock = str(tmp_path / "relative.sock")
        harness.wait_until(lambda: harness.can_connect(sock) or proc.poll() is not None, what="relative socket")
        a = mh.ask(sock, "/hello.json", query="name=rel")
        assert a.json["message"] == "Hello rel!"
    finally:
        proc.terminate()
        proc.wait(10)


def test_prefork_workers_serve(tmp_path):
    p = mh.start(tmp_path, mh.EXAMPLES / "minimal.py", args=["--forks", "2"], name="prefork")
    try:
        pids = {mh.ask(p.address, "/hello.json").json["pid"] for _ in range(40)}
        assert 1 <= len(pids) <= 2 and p.pid not in pids  # the supervisor never serves
    finally:
        assert p.stop() == 0


def test_P30_spawned_daemons_and_their_working_directory(tmp_path):
    pidfile = tmp_path / "pids"
    out = subprocess.run([PY, str(mh.EXAMPLES / "minimal.py"), "--spawn", "2", "--bind", str(tmp_path / "d%d.sock"),
                          "--pidfile", str(pidfile), "--chdir", str(tmp_path), "--stderr", str(tmp_path / "err")],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.count("starting at") == 2, out
    socks = [str(tmp_path / "d0.sock"), str(tmp_path / "d1.sock")]
    pids = []
    try:
        harness.wait_until(lambda: all(harness.can_connect(s) for s in socks), what="spawned daemons")
        harness.wait_until(lambda: len(pidfile.read_text().split()) == 2, what="pidfile")
        pids = [int(x) for x in pidfile.read_text().split()]
        for pid in pids:
            assert os.readlink(f"/proc/{pid}/cwd") == str(tmp_path)
        answered = {mh.ask(s, "/hello.json").json["pid"] for s in socks}
        assert answered == set(pids)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        harness.wait_until(lambda: not any(os.path.exists(f"/proc/{pid}") and
                                           open(f"/proc/{pid}/stat").read().split()[2] != "Z" for pid in pids),
                           what="daemons to stop")


def test_run_without_a_socket_outside_cgi_is_an_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "GATEWAY_INTERFACE"}
    env["SMISK_LOG_DIR"] = str(tmp_path)
    out = subprocess.run([PY, str(mh.EXAMPLES / "minimal.py")], capture_output=True, text=True, timeout=60, env=env,
                         stdin=subprocess.DEVNULL)
    assert out.returncode != 0 and "FastCGI" in out.stderr, out
    assert f"Wrote emergency log to {tmp_path}/error.log" in out.stderr, out.stderr


# --- CGI mode ---------------------------------------------------------------

def test_cgi_mode_serves_one_request():
    a = mh.cgi(mh.MVC_APP, "/echo.json", query="x=1")
    assert a.status == 200 and a.json == {"args": [], "params": {"x": "1"}}, a
    a = mh.cgi(mh.MVC_APP, "/echo.json", method="POST", body=b'{"y": [1]}', content_type="application/json")
    assert a.json == {"args": [], "params": {"y": [1]}}
    a = mh.cgi(mh.MVC_APP, "/nothing.yaml")
    assert a.status == 404 and b"code: 404" in a.body


def test_cgi_mode_with_templates():
    a = mh.cgi(mh.EXAMPLES / "guestbook" / "guestbook.py", "/", headers={"Accept": "text/html"})
    assert a.status == 200 and b'<p id="visits">Visit number 1.</p>' in a.body, a
    assert a.header("Set-Cookie").startswith("SID=")


# --- the development HTTP server -------------------------------------------

def start_http(tmp_path, script, *args):
    port = harness.free_port()
    p = harness.Process([PY, script, "--http-port", str(port), "--http-addr", "127.0.0.1", *args],
                        log=tmp_path / f"httpd-{port}.log", env=dict(os.environ))
    harness.wait_until(lambda: "httpd listening on" in p.log() or not p.alive(), what="httpd")
    assert p.alive(), p.log()
    p.port = port
    p.child = int(re.search(r"backed by application (\d+)", p.log()).group(1))
    return p


def test_http_mode_serves_through_fastcgi(tmp_path):
    p = start_http(tmp_path, mh.MVC_APP)
    try:
        assert re.search(r"httpd listening on 127\.0\.0\.1:\d+ backed by application \d+", p.log())
        status, headers, body = harness.http_fetch(p.port, "/unicode.json")
        assert status == 200 and json.loads(body) == {"text": "räksmörgås ☃"}
        assert harness.header(headers, "Server").startswith("smiskhttpd/") and harness.header(headers, "Date")
        # PATH_INFO is the decoded path without the query; no HTTP_PROXY (a header named Proxy must not become one)
        status, _, body = harness.http_fetch(p.port, "/env.json?a=b%20c", headers={"Proxy": "http://evil:1",
                                                                                  "X-Custom": "1"})
        env = json.loads(body)
        assert env["PATH_INFO"] == "/env.json" and env["QUERY_STRING"] == "a=b%20c"
        assert env["REQUEST_URI"] == "/env.json?a=b%20c" and env["HTTP_PROXY"] is None
        assert env["HTTP_X_CUSTOM"] == "1" and env["SERVER_NAME"] == "127.0.0.1"
        assert env["SERVER_SOFTWARE"].startswith("smiskhttpd/")
        big = b"a=" + b"z" * (1 << 20)  # streamed in records of 64 KiB
        status, _, body = harness.http_fetch(p.port, "/size.json", method="POST", body=big,
                                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200 and json.loads(body) == {"lengths": {"a": 1 << 20}}
        status, _, body = harness.http_fetch(p.port, "/need.json")
        assert status == 400 and json.loads(body)["code"] == 400
        status, headers, body = harness.http_fetch(p.port, "/unicode.json", method="HEAD")
        assert status == 200 and body == b""
        for _ in range(10):
            assert harness.http_fetch(p.port, "/inits_count.json")[0] == 200
    finally:
        assert p.stop() == 0
    assert not os.path.exists(f"/proc/{p.child}") or open(f"/proc/{p.child}/stat").read().split()[2] == "Z"


def test_fcgiproto_records_and_name_values():
    r = fp.Record(fp.FCGI_STDOUT, 1, b"abc")
    out = r.toOutputString()
    assert len(out) == 16 and r.totalLength() == 16 and out[8:11] == b"abc"
    h = fp.Record.fromHeaderString(out[:8])
    assert (h.type, h.reqId, h.contentLength, h.paddingLength) == (fp.FCGI_STDOUT, 1, 3, 5)
    with pytest.raises(fp.FastCGIError):
        fp.Record(fp.FCGI_STDIN, 1, b"x" * 70000)
    data = fp.writeNameValue(b"A" * 200, b"v") + fp.writeNameValue(b"k", b"")
    assert list(fp.parseNameValues(data)) == [(b"A" * 200, b"v"), (b"k", b"")]
    with pytest.raises(fp.FastCGIError):
        list(fp.parseNameValues(data[:-1]))


def test_P31_channel_read_waits_for_all_bytes_and_raises_eof_on_short_reads():
    a, b = socket.socketpair()
    ch = fp.Channel(a)

    def send():
        b.sendall(b"12")
        time.sleep(0.05)
        b.sendall(b"34")
        b.close()

    t = threading.Thread(target=send)
    t.start()
    assert ch.read(4) == b"1234"
    t.join()
    with pytest.raises(EOFError):
        ch.read(1)
    ch.close()


def test_P31_refused_backend_errno_and_503(tmp_path):
    server = httpd.Server(("127.0.0.1", 0), fcgi_address=str(tmp_path / "missing.sock"))
    server.get_fcgi_backend = lambda addr=None, max_connect_retries=0: httpd.Server.get_fcgi_backend(
        server, addr, max_connect_retries=0)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    t.start()
    try:
        status, headers, _ = harness.http_fetch(server.naddr[1], "/")
        assert status == 503
    finally:
        server.shutdown()
        server.server_close()
        t.join(5)


def test_P18_warning_when_the_dev_server_is_not_on_loopback(caplog):
    caplog.set_level(logging.WARNING, "smisk.util.httpd")
    httpd.Server(("0.0.0.0", 0), bind_and_activate=False).server_close()  # never bound
    assert "development only" in caplog.text
    caplog.clear()
    httpd.Server(("127.0.0.1", 0), bind_and_activate=False).server_close()
    assert caplog.text == ""
    assert httpd.is_loopback("::1") and httpd.is_loopback("localhost") and not httpd.is_loopback("10.0.0.1")


def test_mypy_of_the_mvc_layer_and_the_runner(tmp_path):
    shim = harness.ROOT / "python-shim"
    out = subprocess.run([PY, "-m", "mypy", "--ignore-missing-imports", "--cache-dir", str(tmp_path / "cache"),
                          "smisk/mvc", "smisk/util/main.py", "smisk/util/httpd.py", "smisk/util/fcgiproto.py",
                          "smisk/autoreload.py", "smisk/ipc", "smisk/session"],
                         cwd=shim, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:]
