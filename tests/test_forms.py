"""Form bodies end to end: nginx -> smisk responder -> smisk_request_parse_form.
Uploads are spooled to a private directory and every temp file is gone when
the request ends (checked by listing the directory)."""

import os
import zlib

import pytest

from test_fcgi_nginx import get

BOUNDARY = "----smisk-test-7MA4YWxkTrZu0gW"


def multipart(parts):
    out = b""
    for name, filename, ctype, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disp}\r\n".encode()
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


@pytest.fixture
def upload_dir(tmp_path):
    d = tmp_path / "uploads"
    d.mkdir(mode=0o700)
    return d


@pytest.fixture
def form_site(app_factory, nginx_factory, upload_dir, tmp_path):
    app = app_factory(tmp=tmp_path, env={"SMISK_TEST_UPLOAD_DIR": str(upload_dir)})
    return nginx_factory(app.address)


def post(nginx, path, body, ctype):
    return get(nginx, path, method="POST", body=body, headers={"Content-Type": ctype})


def test_multipart_fields_and_files(form_site, upload_dir):
    big = os.urandom(3 << 20) + b"\r\n--" + BOUNDARY.encode()[:-1] + b"x\r\n\n\n"  # boundary look-alike inside data
    body = multipart([
        ("t", None, None, b"hello"),
        ("f", "C:\\dir\\a b.txt", "text/plain", b"line1\n\nline3\r\n\r\nend"),
        ("empty", None, None, b""),
        ("emptyfile", "", "application/octet-stream", b""),
        ("bin", "blob.bin", "application/octet-stream", big),
        ("t", None, None, b"second"),
    ])
    status, _, out = post(form_site, "/form", body, f"multipart/form-data; boundary={BOUNDARY}")
    assert status == 200, out
    lines = out.decode("latin-1").splitlines()
    assert lines[0] == "kind=2"
    assert "field t=hello" in lines and "field t=second" in lines and "field empty=" in lines
    txt = b"line1\n\nline3\r\n\r\nend"
    assert f"file f filename=C:\\dir\\a b.txt type=text/plain size={len(txt)} crc={zlib.crc32(txt):08x}" in lines
    assert f"file bin filename=blob.bin type=application/octet-stream size={len(big)} crc={zlib.crc32(big):08x}" in lines
    assert not any(line.startswith("file emptyfile") for line in lines)  # no filename, no data: skipped
    assert os.listdir(upload_dir) == []  # every temp file removed at request end


def test_urlencoded_form_fields(form_site):
    status, _, out = post(form_site, "/form", b"a=1&b=%C3%A5+x&a=2&&flag", "application/x-www-form-urlencoded")
    assert status == 200
    assert out.splitlines() == [b"kind=1", b"field a=1", "field b=å x".encode(), b"field a=2", b"field flag"]


def test_other_bodies_are_left_unparsed(form_site):
    status, _, out = post(form_site, "/form", b'{"json": true}', "application/json")
    assert (status, out) == (200, b"kind=0\n")


@pytest.mark.parametrize("ctype,body", [
    ("multipart/form-data; boundary=" + BOUNDARY, None),
    ("application/x-www-form-urlencoded", b"a=" + b"x" * 5000),
])
def test_size_limit_gives_413_and_leaves_no_temp_file(form_site, upload_dir, ctype, body):
    if body is None:
        body = multipart([("f", "big.bin", "application/octet-stream", os.urandom(200_000))])
    status, _, out = post(form_site, "/form?4096", body, ctype)
    assert status == 413, out
    assert out.startswith(b"error=3")
    assert os.listdir(upload_dir) == []
    # the same connection pool keeps working afterwards
    assert get(form_site, "/hello")[2] == b"Hello World!\n"


def test_malformed_multipart_gives_400(form_site, upload_dir):
    status, _, out = post(form_site, "/form", b"no boundary here", "multipart/form-data; boundary=" + BOUNDARY)
    assert status == 400
    status, _, out = post(form_site, "/form", multipart([("a", None, None, b"1")]), "multipart/form-data")
    assert status == 400  # no boundary parameter
    truncated = multipart([("f", "x.bin", None, b"x" * 10000)])[:-30]
    status, _, out = post(form_site, "/form", truncated, "multipart/form-data; boundary=" + BOUNDARY)
    assert status == 400
    assert os.listdir(upload_dir) == []
