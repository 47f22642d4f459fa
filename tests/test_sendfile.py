"""smisk.core's Response.send_file end to end, per web server: the Python
app (tests/apps/pyapp.py, route /send-file?path=...) behind a real nginx
(X-Accel-Redirect to an internal location), lighttpd (mod_fastcgi with
x-sendfile: X-LIGHTTPD-send-file and X-Sendfile), Apache (mod_proxy_fcgi,
with and without mod_xsendfile) and a FastCGI peer smisk does not
recognise (smisk streams the file). The client must get the exact bytes of
a binary file of a few MiB; a Range request proves that the web server, not
smisk, sent it. Missing files, relative paths and '..' get defined errors.
The behaviour is documented in docs/sendfile.md."""

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest

import harness
from fcgi_client import Conn, default_params

SIZE = 3 * 1024 * 1024 + 12345  # a few MiB, not a multiple of any chunk size


@pytest.fixture(scope="module")
def files():
    # Apache's workers run as www-data when the tests run as root: the
    # directory must be reachable for them, so not under pytest's 0700 tmp.
    d = Path(tempfile.mkdtemp(prefix="smisk-sendfile-"))
    d.chmod(0o755)
    data = bytearray(os.urandom(SIZE))
    data[::97] = bytes(len(data[::97]))  # NULs all over
    data[1000:5000] = bytes(4000)  # and a long run of them
    (d / "data.bin").write_bytes(bytes(data))
    (d / "data.bin").chmod(0o644)
    (d / "sub").mkdir(mode=0o755)
    yield d, bytes(data)
    shutil.rmtree(d)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sendfile-app")
    # TCP: Apache's www-data workers could not connect to a root-owned socket.
    p = harness.start_pyapp(tmp, address=f"127.0.0.1:{harness.free_port()}")
    yield p
    p.stop()


def fetch(port, path, headers=None):
    status, hdrs, body = harness.http_fetch(port, path, headers=headers)
    return status, {k.lower(): v for k, v in hdrs}, body


def send_file_url(path, **query):
    extra = "".join(f"&{k}={quote(v)}" for k, v in query.items())
    return f"/send-file?path={quote(str(path))}{extra}"


def assert_sent_by_server(port, path, data, leaked_header, **query):
    """The exact bytes, no sendfile header for the client, and a Range
    request answered with 206: only the web server does ranges."""
    status, headers, body = fetch(port, send_file_url(path, **query))
    assert status == 200, body[:500]
    assert body == data
    assert leaked_header.lower() not in headers
    status, headers, body = fetch(port, send_file_url(path, **query), headers={"Range": "bytes=1000-1099"})
    assert status == 206 and body == data[1000:1100]
    assert headers["content-range"] == f"bytes 1000-1099/{len(data)}"


def assert_streamed_by_smisk(port, path, data, **query):
    status, headers, body = fetch(port, send_file_url(path, **query), headers={"Range": "bytes=1000-1099"})
    assert status == 200 and body == data  # smisk ignores Range: the whole file
    for h in ("x-sendfile", "x-accel-redirect", "x-lighttpd-send-file"):
        assert h not in headers


def assert_error_page(status, headers, body, code, *needles):
    assert status == code, body[:500]
    assert headers["content-type"] == "text/html; charset=utf-8"
    if "content-length" in headers:  # Apache re-chunks FastCGI bodies
        assert int(headers["content-length"]) == len(body)
    assert body.startswith(b"<!DOCTYPE html>") and body.endswith(b"</body></html>\r\n")
    for n in needles:
        assert n.encode() in body, body


# ---- nginx: X-Accel-Redirect to an internal location ----------------------------------------

@pytest.fixture(scope="module")
def nginx(app, files, tmp_path_factory):
    d, _ = files
    n = harness.Nginx(
        tmp_path_factory.mktemp("sendfile-nginx"), app.address,
        extra_server=f"location /protected/ {{ internal; alias {d}/; }}",
        # Lets a test choose the override per request; a deployment sets it
        # with a fixed value, e.g. "fastcgi_param SMISK_SENDFILE stream;".
        extra_fastcgi="fastcgi_param SMISK_SENDFILE $arg_smisk_sendfile if_not_empty;")
    yield n
    n.stop()


def test_nginx_sends_the_file_through_x_accel_redirect(nginx, files):
    _, data = files
    assert_sent_by_server(nginx.port, "/protected/data.bin", data, "X-Accel-Redirect")


def test_nginx_missing_file_is_its_404(nginx):
    status, _, _ = fetch(nginx.port, send_file_url("/protected/missing.bin"))
    assert status == 404


def test_nginx_dotdot_and_relative_paths_are_refused(nginx):
    status, headers, body = fetch(nginx.port, send_file_url("/protected/../data.bin"))
    assert_error_page(status, headers, body, 500, "ValueError", "&#39;..&#39; segment")
    status, headers, body = fetch(nginx.port, send_file_url("protected/data.bin"))
    assert_error_page(status, headers, body, 500, "ValueError", "is relative")


def test_nginx_with_smisk_sendfile_stream_gets_the_file_from_smisk(nginx, files):
    d, data = files
    assert_streamed_by_smisk(nginx.port, d / "data.bin", data, smisk_sendfile="stream")
    status, headers, body = fetch(nginx.port, send_file_url(d / "data.bin", smisk_sendfile="stream"))
    assert status == 200 and body == data and int(headers["content-length"]) == SIZE


def test_nginx_streaming_a_missing_file_is_a_clean_500(nginx, files):
    d, _ = files
    status, headers, body = fetch(nginx.port, send_file_url(d / "missing.bin", smisk_sendfile="stream"))
    # Checked before the response began: a whole error page, not a cut 200.
    assert_error_page(status, headers, body, 500, "FileNotFoundError", "No such file or directory")


# ---- lighttpd 1.4: X-LIGHTTPD-send-file (and X-Sendfile) -------------------------------------

@pytest.fixture(scope="module")
def lighttpd(app, files, tmp_path_factory):
    d, _ = files
    s = harness.Lighttpd(
        tmp_path_factory.mktemp("sendfile-lighttpd"), app.address,
        fastcgi_options=f'"x-sendfile" => "enable", "x-sendfile-docroot" => ("{d}")',
        extra='$HTTP["querystring"] =~ "hdr=xs" { setenv.add-environment = ("SMISK_SENDFILE" => "X-Sendfile") }')
    yield s
    s.stop()


def test_lighttpd_sends_the_file_through_x_lighttpd_send_file(lighttpd, files):
    d, data = files
    assert_sent_by_server(lighttpd.port, d / "data.bin", data, "X-LIGHTTPD-send-file")


def test_lighttpd_1_4_also_honours_x_sendfile(lighttpd, files):
    d, data = files
    assert_sent_by_server(lighttpd.port, d / "data.bin", data, "X-Sendfile", hdr="xs")


def test_lighttpd_missing_file_and_outside_the_docroot(lighttpd, files):
    d, _ = files
    assert fetch(lighttpd.port, send_file_url(d / "missing.bin"))[0] == 404
    # x-sendfile-docroot confines what the app can hand over.
    assert fetch(lighttpd.port, send_file_url("/etc/hostname"))[0] == 403


def test_lighttpd_dotdot_is_refused(lighttpd, files):
    d, _ = files
    status, headers, body = fetch(lighttpd.port, send_file_url(f"{d}/sub/../data.bin"))
    assert_error_page(status, headers, body, 500, "ValueError", "&#39;..&#39; segment")


# ---- Apache 2.4: mod_proxy_fcgi, X-Sendfile needs mod_xsendfile -------------------------------

@pytest.fixture(scope="module")
def apache_xsendfile(app, files, tmp_path_factory):
    d, _ = files
    s = harness.Apache(tmp_path_factory.mktemp("sendfile-apache-xs"), app.address, modules=["xsendfile"],
                       extra=f"XSendFile On\nXSendFilePath {d}")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def apache_plain(app, tmp_path_factory):
    # Without mod_xsendfile; the documented fix is "SetEnv SMISK_SENDFILE
    # stream" (here only for requests asking for it, to show both).
    s = harness.Apache(tmp_path_factory.mktemp("sendfile-apache"), app.address,
                       extra='<If "%{QUERY_STRING} =~ /stream=1/">\n  SetEnv SMISK_SENDFILE stream\n</If>')
    yield s
    s.stop()


def test_apache_with_mod_xsendfile_sends_the_file(apache_xsendfile, files):
    d, data = files
    assert_sent_by_server(apache_xsendfile.port, d / "data.bin", data, "X-Sendfile")


def test_apache_with_mod_xsendfile_missing_file_is_its_404(apache_xsendfile, files):
    d, _ = files
    assert fetch(apache_xsendfile.port, send_file_url(d / "missing.bin"))[0] == 404


def test_apache_without_mod_xsendfile_passes_the_header_on(apache_plain, files):
    # What Apache does when nothing handles X-Sendfile: the header reaches
    # the client and the body is empty. smisk cannot see this from the
    # FastCGI params, hence SMISK_SENDFILE (next test).
    d, _ = files
    status, headers, body = fetch(apache_plain.port, send_file_url(d / "data.bin"))
    assert status == 200 and body == b""
    assert headers["x-sendfile"] == str(d / "data.bin")


def test_apache_with_smisk_sendfile_stream_gets_the_file_from_smisk(apache_plain, files):
    d, data = files
    assert_streamed_by_smisk(apache_plain.port, d / "data.bin", data, stream="1")


def test_apache_streaming_a_missing_file_is_a_clean_500(apache_plain, files):
    d, _ = files
    status, headers, body = fetch(apache_plain.port, send_file_url(d / "missing.bin", stream="1"))
    assert_error_page(status, headers, body, 500, "FileNotFoundError")


# ---- a server smisk does not recognise: smisk streams ------------------------------------------

def raw(app, path, software="SomeServer/1.0"):
    params = default_params(script="/send-file", query=f"path={quote(str(path))}")
    params["SERVER_SOFTWARE"] = software
    c = Conn(app.address, timeout=30)
    try:
        resp = c.request(params=params)
    finally:
        c.close()
    head, body = resp.headers_and_body
    return head, body


def test_unknown_server_gets_the_file_streamed_with_content_length(app, files):
    d, data = files
    head, body = raw(app, d / "data.bin")
    lines = head.decode("latin-1").split("\r\n")
    assert f"Content-Length: {SIZE}" in lines
    assert "X-Begin-Hook: yes" in lines  # the application's begin() still ran
    assert not any(line.lower().startswith(("x-sendfile", "x-accel", "x-lighttpd")) for line in lines)
    assert body == data


def test_unknown_server_missing_file_or_directory_is_a_500_before_any_byte(app, files):
    d, _ = files
    for path, needle in [(d / "missing.bin", b"FileNotFoundError"), (d / "sub", b"not a regular file")]:
        head, body = raw(app, path)
        assert head.startswith(b"Status: 500 Internal Server Error\r\n"), head
        assert f"Content-Length: {len(body)}".encode() in head
        assert needle in body and str(path).encode() in body
        assert b"Content-Length: " + str(SIZE).encode() not in head


def test_unknown_server_relative_and_dotdot_paths_are_refused(app, files):
    d, _ = files
    for path, needle in [("data.bin", b"is relative"), (f"{d}/sub/../data.bin", b"segment"),
                         ("/etc/../etc/hostname", b"segment")]:
        head, body = raw(app, path)
        assert head.startswith(b"Status: 500"), head
        assert b"ValueError" in body and needle in body
