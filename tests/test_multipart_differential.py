"""Differential test of smisk's multipart parser against an independent one.

Loads target/debug/libsmisk.so with ctypes (no Python shim) and compares its
events with those of ``multipart.PushMultipartParser`` (PyPI ``multipart``)
on generated bodies: random names, filenames, content types, binary and
CR/LF-dense data with boundary look-alikes, fed in random chunkings. Also
drives the request-level ``smisk_form_parse`` with a ctypes read callback and
checks the spooled files byte for byte, and that none survives the form.

Generated names avoid ``%``, ``\\`` and ``"``: the two parsers deliberately
differ there (smisk returns raw bytes, ``multipart`` undoes legacy escapes).
"""

import ctypes
import os
import random
import stat
import tempfile

import multipart
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB_PATH = os.path.join(ROOT, "target", "debug", "libsmisk.so")

SEEDS = int(os.environ.get("SMISK_DIFF_CASES", "300"))


class Event(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int),
        ("data", ctypes.c_void_p),
        ("data_len", ctypes.c_size_t),
        ("name", ctypes.c_void_p),
        ("name_len", ctypes.c_size_t),
        ("has_name", ctypes.c_bool),
        ("filename", ctypes.c_void_p),
        ("filename_len", ctypes.c_size_t),
        ("has_filename", ctypes.c_bool),
        ("content_type", ctypes.c_void_p),
        ("content_type_len", ctypes.c_size_t),
        ("has_content_type", ctypes.c_bool),
        ("headers", ctypes.c_void_p),
        ("headers_len", ctypes.c_size_t),
    ]


class FormFile(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_void_p),
        ("name_len", ctypes.c_size_t),
        ("filename", ctypes.c_void_p),
        ("filename_len", ctypes.c_size_t),
        ("content_type", ctypes.c_void_p),
        ("content_type_len", ctypes.c_size_t),
        ("path", ctypes.c_char_p),
        ("path_len", ctypes.c_size_t),
        ("size", ctypes.c_uint64),
    ]


READ_FN = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)

NEED_MORE, PART_BEGIN, DATA, PART_END, END = range(5)
OK = 0
ERR_BODY_TRUNCATED = 37


@pytest.fixture(scope="module")
def lib():
    if not os.path.exists(LIB_PATH):
        pytest.fail("build first: cargo build (missing %s)" % LIB_PATH)
    lib = ctypes.CDLL(LIB_PATH)
    lib.smisk_multipart_new.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
        ctypes.POINTER(ctypes.c_void_p),
    ]
    lib.smisk_multipart_new.restype = ctypes.c_int
    lib.smisk_multipart_next.argtypes = [
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
        ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(Event),
    ]
    lib.smisk_multipart_next.restype = ctypes.c_int
    lib.smisk_multipart_finish.argtypes = [ctypes.c_void_p]
    lib.smisk_multipart_finish.restype = ctypes.c_int
    lib.smisk_multipart_free.argtypes = [ctypes.c_void_p]
    lib.smisk_multipart_free.restype = None
    lib.smisk_form_parse.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
        ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, READ_FN, ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_void_p),
    ]
    lib.smisk_form_parse.restype = ctypes.c_int
    lib.smisk_form_field_count.argtypes = [ctypes.c_void_p]
    lib.smisk_form_field_count.restype = ctypes.c_size_t
    lib.smisk_form_field_at.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t,
        ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t),
        ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t),
        ctypes.POINTER(ctypes.c_bool),
    ]
    lib.smisk_form_field_at.restype = ctypes.c_int
    lib.smisk_form_file_count.argtypes = [ctypes.c_void_p]
    lib.smisk_form_file_count.restype = ctypes.c_size_t
    lib.smisk_form_file_at.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(FormFile)]
    lib.smisk_form_file_at.restype = ctypes.c_int
    lib.smisk_form_free.argtypes = [ctypes.c_void_p]
    lib.smisk_form_free.restype = None
    lib.smisk_last_error.restype = ctypes.c_char_p
    return lib


def take(ptr, n):
    return ctypes.string_at(ptr, n) if n else b""


def smisk_events(lib, boundary, body, chunks):
    """Events from smisk, data merged per part; ("error", status) on failure."""
    handle = ctypes.c_void_p()
    assert lib.smisk_multipart_new(boundary, len(boundary), 0, 0, ctypes.byref(handle)) == OK
    events = []
    try:
        pos = 0
        for size in chunks:
            chunk = body[pos:pos + size]
            pos += size
            buf = ctypes.create_string_buffer(chunk, len(chunk))
            off = 0
            used = ctypes.c_size_t()
            ev = Event()
            for _ in range(len(chunk) + 10):
                st = lib.smisk_multipart_next(
                    handle, ctypes.addressof(buf) + off, len(chunk) - off,
                    ctypes.byref(used), ctypes.byref(ev))
                if st != OK:
                    return events, ("error", st)
                off += used.value
                if ev.kind == NEED_MORE:
                    break
                if ev.kind == PART_BEGIN:
                    events.append(("part",
                                   take(ev.name, ev.name_len) if ev.has_name else None,
                                   take(ev.filename, ev.filename_len) if ev.has_filename else None,
                                   take(ev.content_type, ev.content_type_len) if ev.has_content_type else None,
                                   b""))
                elif ev.kind == DATA:
                    kind, n, f, ct, data = events[-1]
                    events[-1] = (kind, n, f, ct, data + take(ev.data, ev.data_len))
                elif ev.kind in (PART_END, END):
                    pass
            else:
                raise AssertionError("parser made no progress")
        st = lib.smisk_multipart_finish(handle)
        return events, ("ok",) if st == OK else ("error", st)
    finally:
        lib.smisk_multipart_free(handle)


def reference_events(boundary, body, chunks):
    """Events from multipart.PushMultipartParser, in the same shape."""
    events = []
    parser = multipart.PushMultipartParser(boundary, max_header_count=64, max_header_size=16384)
    try:
        pos = 0
        for size in chunks:
            chunk = body[pos:pos + size]
            pos += size
            for ev in parser.parse(chunk):
                if isinstance(ev, multipart.MultipartSegment):
                    ct = ev.header("Content-Type")
                    events.append(("part",
                                   None if ev.name is None else ev.name.encode("utf8"),
                                   None if ev.filename is None else ev.filename.encode("utf8"),
                                   None if ct is None else ct.encode("utf8"),
                                   b""))
                elif ev:
                    kind, n, f, ct, data = events[-1]
                    events[-1] = (kind, n, f, ct, data + bytes(ev))
        parser.close()
        return events, ("ok",)
    except multipart.MultipartError as e:
        return events, ("error", type(e).__name__)


NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-. ;=[]:/"


def gen_body(rng):
    boundary = "".join(rng.choice("abcdefXYZ0123456789-_'()+,./:=?") for _ in range(rng.randint(1, 40)))
    boundary = boundary.rstrip(" ") or "b"
    delim = b"\r\n--" + boundary.encode()
    parts = []
    for _ in range(rng.randint(0, 8)):
        name = "".join(rng.choice(NAME_CHARS) for _ in range(rng.randint(0, 12)))
        filename = None
        if rng.random() < 0.4:
            filename = "".join(rng.choice(NAME_CHARS) for _ in range(rng.randint(0, 12)))
        ctype = rng.choice([None, "text/plain", "application/octet-stream", "image/png; x=1"])
        style = rng.random()
        n = rng.choice([0, 1, 2, 5, 50, 1000, 20000])
        if style < 0.3:
            data = bytes(rng.getrandbits(8) for _ in range(n))
        elif style < 0.7:
            # CR/LF-dense with pieces of the delimiter.
            pieces = [b"\r", b"\n", b"\r\n", b"-", b"--", delim[:-1], delim[: max(1, len(delim) // 2)],
                      b"--" + boundary.encode(), b"\r\n\r\n", b"x"]
            out = bytearray()
            while len(out) < n:
                out += rng.choice(pieces)
            data = bytes(out[:n])
        else:
            data = bytes(rng.choice(b"abc \t") for _ in range(n))
        # The body must not contain the delimiter itself (RFC 2046).
        while delim in data or (data + b"\r\n").find(delim) != -1:
            data = data.replace(delim[:3], b"")
        parts.append((name, filename, ctype, data))
    body = bytearray()
    if rng.random() < 0.3:
        body += b"preamble line\r\n"
    for name, filename, ctype, data in parts:
        body += b"--" + boundary.encode() + b"\r\n"
        cd = 'form-data; name="%s"' % name
        if filename is not None:
            cd += '; filename="%s"' % filename
        body += b"Content-Disposition: " + cd.encode() + b"\r\n"
        if ctype:
            body += b"Content-Type: " + ctype.encode() + b"\r\n"
        body += b"\r\n" + data + b"\r\n"
    body += b"--" + boundary.encode() + b"--"
    if rng.random() < 0.5:
        body += b"\r\n"
    if rng.random() < 0.2:
        body += b"epilogue"
    return boundary.encode(), bytes(body), parts


def gen_chunks(rng, n):
    out = []
    left = n
    mode = rng.random()
    while left > 0:
        if mode < 0.2:
            size = 1
        elif mode < 0.6:
            size = rng.randint(1, 17)
        else:
            size = rng.randint(1, 5000)
        size = min(size, left)
        out.append(size)
        left -= size
    return out or [0]


@pytest.mark.parametrize("seed", range(SEEDS))
def test_agrees_with_multipart_package(lib, seed):
    rng = random.Random(seed)
    boundary, body, parts = gen_body(rng)
    chunks = gen_chunks(rng, len(body)) if rng.random() < 0.7 else [len(body)]
    ours = smisk_events(lib, boundary, body, chunks)
    theirs = reference_events(boundary, body, [len(body)])
    assert ours[1] == ("ok",), lib.smisk_last_error()
    assert theirs[1] == ("ok",)
    assert ours[0] == theirs[0]
    # And both equal what was generated.
    assert [(p[0].encode(), None if p[1] is None else p[1].encode(), p[3]) for p in parts] == [
        (e[1], e[2], e[4]) for e in ours[0]
    ]


@pytest.mark.parametrize("seed", range(0, SEEDS, 10))
def test_truncated_bodies_are_rejected_by_both(lib, seed):
    rng = random.Random(seed + 100000)
    boundary, body, _ = gen_body(rng)
    # Cut before the close delimiter's final "--".
    end = body.rfind(b"--" + boundary + b"--")
    for cut in sorted({rng.randint(0, end + len(boundary) + 3) for _ in range(5)}):
        ours = smisk_events(lib, boundary, body[:cut], [cut] if cut else [0])
        theirs = reference_events(boundary, body[:cut], [cut] if cut else [0])
        assert ours[1] == ("error", ERR_BODY_TRUNCATED), (cut, ours[1])
        assert theirs[1][0] == "error", cut


def smisk_form(lib, content_type, body, upload_dir, step):
    state = {"pos": 0}

    def read(_ctx, buf, cap):
        n = min(cap, step, len(body) - state["pos"])
        ctypes.memmove(buf, body[state["pos"]:state["pos"] + n], n)
        state["pos"] += n
        return n

    cb = READ_FN(read)
    form = ctypes.c_void_p()
    length = str(len(body)).encode()
    st = lib.smisk_form_parse(content_type, len(content_type), length, len(length), None,
                              upload_dir, len(upload_dir), cb, None, ctypes.byref(form))
    return st, form


@pytest.mark.parametrize("seed", range(0, SEEDS, 5))
def test_form_spools_files_exactly_and_cleans_up(lib, seed):
    rng = random.Random(seed + 7)
    boundary, body, parts = gen_body(rng)
    ct = b'multipart/form-data; boundary="' + boundary + b'"'
    with tempfile.TemporaryDirectory() as tmp:
        updir = os.path.join(tmp, "up")
        st, form = smisk_form(lib, ct, body, updir.encode(), rng.choice([1, 7, 4096, 1 << 20]))
        assert st == OK, lib.smisk_last_error()
        try:
            assert stat.S_IMODE(os.stat(updir).st_mode) == 0o700
            expect_fields = [(p[0].encode(), p[3]) for p in parts if p[1] is None]
            expect_files = [p for p in parts if p[1] is not None and (p[1] or p[3])]
            fields = []
            for i in range(lib.smisk_form_field_count(form)):
                n, nl, v, vl = ctypes.c_void_p(), ctypes.c_size_t(), ctypes.c_void_p(), ctypes.c_size_t()
                hv = ctypes.c_bool()
                assert lib.smisk_form_field_at(form, i, ctypes.byref(n), ctypes.byref(nl), ctypes.byref(v),
                                               ctypes.byref(vl), ctypes.byref(hv)) == OK
                fields.append((take(n.value, nl.value), take(v.value, vl.value)))
            assert fields == expect_fields
            assert lib.smisk_form_file_count(form) == len(expect_files)
            for i, (name, filename, ctype, data) in enumerate(expect_files):
                f = FormFile()
                assert lib.smisk_form_file_at(form, i, ctypes.byref(f)) == OK
                assert take(f.name, f.name_len) == name.encode()
                assert take(f.filename, f.filename_len) == filename.encode()
                assert take(f.content_type, f.content_type_len) == (ctype or "").encode()
                assert f.size == len(data)
                assert stat.S_IMODE(os.stat(f.path).st_mode) == 0o600
                with open(f.path, "rb") as fh:
                    assert fh.read() == data
            assert len(os.listdir(updir)) == len(expect_files)
        finally:
            lib.smisk_form_free(form)
        assert os.listdir(updir) == []

        # The same body cut short: an error, and still nothing left behind.
        cut = body[: rng.randint(0, len(body) - 1)]
        st, form = smisk_form(lib, ct, cut, updir.encode(), 4096)
        if st == OK:
            lib.smisk_form_free(form)
        assert os.listdir(updir) == []
