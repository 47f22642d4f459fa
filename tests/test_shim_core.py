"""smisk.core through the CPython shim (python-shim/): uid, pack, URL,
decompose_query, xml and the exception classes, with the fixed values of
the original Smisk documentation, with the fixed values of docs/compat.md.

The shim is normally installed into .venv by scripts/install-deps; if it is
not importable the module fixture pip-installs ./python-shim into the running
interpreter's environment first.
"""
import hashlib
import importlib
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _import_core():
    try:
        return importlib.import_module("smisk.core")
    except ImportError:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
             str(ROOT / "python-shim")],
            check=True,
            timeout=900,
        )
        importlib.invalidate_caches()
        return importlib.import_module("smisk.core")


core = _import_core()
import smisk.core.xml as xml  # noqa: E402

URL = core.URL

PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = UPPER.lower()


# ---- module layout --------------------------------------------------------

def test_import_from_any_directory(tmp_path):
    code = "import smisk.core, smisk.core.xml; print(smisk.core.xml.escape('<'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert out.strip() == "&lt;"


def test_xml_module_is_both_attribute_and_submodule():
    assert core.xml is xml
    assert sys.modules["smisk.core.xml"] is xml


def test_exceptions_are_value_errors():
    assert issubclass(core.InvalidSessionError, ValueError)
    assert issubclass(core.RequestTooLargeError, ValueError)
    assert core.InvalidSessionError.__module__ == "smisk.core"
    assert core.RequestTooLargeError.__name__ == "RequestTooLargeError"


def test_stub_files_ship():
    pkg = Path(core.__file__).parent
    assert (pkg / "__init__.pyi").is_file()
    assert (pkg / "xml.pyi").is_file()
    import ast

    for stub in ("__init__.pyi", "xml.pyi"):
        tree = ast.parse((pkg / stub).read_text())
        assert tree.body
    names = {n.name for n in ast.parse((pkg / "__init__.pyi").read_text()).body
             if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    assert {"URL", "uid", "pack", "InvalidSessionError", "RequestTooLargeError"} <= names


# ---- percent codec --------------------------------------------------------

def test_escape_printable_ascii():
    assert URL.escape(PRINTABLE) == (
        "%20!%22%23$%25&'()*+,-./0123456789%3A;%3C=%3E?%40" + UPPER
        + "%5B%5C%5D%5E_%60" + LOWER + "%7B%7C%7D~")


def test_encode_printable_ascii():
    assert URL.encode(PRINTABLE) == (
        "%20!%22%23%24%25%26'()*%2B%2C-.%2F0123456789%3A%3B%3C%3D%3E%3F%40" + UPPER
        + "%5B%5C%5D%5E_%60" + LOWER + "%7B%7C%7D~")


def test_escape_controls_and_high_bytes():
    assert URL.escape(b"\x01\t\n\x7f\x80\xff") == b"%01%09%0A%7F%80%FF"
    assert URL.escape("a b") == "a%20b"


def test_encode_non_ascii_str_is_utf8():  # was returned unchanged in py2
    assert URL.encode("å ä") == "%C3%A5%20%C3%A4"


def test_nul_is_ordinary_data():
    assert URL.escape("a \x00 ") == "a%20%00%20"
    assert URL.encode(b"a\x00" * 1000) == b"a%00" * 1000
    assert URL.decode("a%00b") == "a\x00b"


@pytest.mark.parametrize("inp,out", [
    ("a+b", "a b"),  # Was 'a+b'
    ("a+b%20", "a b "),
    ("%41", "A"), ("%4", "%4"), ("%zz", "%zz"), ("100%", "100%"), ("", ""),
])
def test_decode_vectors(inp, out):
    assert URL.decode(inp) == out
    assert URL.unescape(inp) == out
    assert URL.decode(inp.encode()) == out.encode()


def test_decode_utf8_strict_for_str():
    assert URL.decode(b"%e5") == b"\xe5"
    assert URL.decode("%C3%A5") == "å"
    with pytest.raises(UnicodeDecodeError):
        URL.decode("%e5")


@pytest.mark.parametrize("fn", [URL.encode, URL.escape, URL.decode, URL.unescape,
                                xml.escape, xml.unescape])
def test_type_preservation_and_identity(fn):
    assert type(fn("a<b c")) is str
    assert type(fn(b"a<b c")) is bytes
    s = "plainword"
    b = b"plainword"
    assert fn(s) is s  # unchanged input: the same object, as the original
    assert fn(b) is b
    for bad in (1, None, 1.5, ["a"], bytearray(b"a")):
        with pytest.raises(TypeError):
            fn(bad)


def test_large_inputs_without_gil():
    big = "å<b> +%" * 100_000  # above the no-GIL threshold
    enc = URL.encode(big)
    assert URL.decode(enc) == big
    assert xml.unescape(xml.escape(big.encode())) == big.encode()
    assert len(core.pack(bytearray(200_000), 5)) == 320_000


def test_round_trip_arbitrary_bytes():
    data = bytes(range(256)) * 4
    assert URL.decode(URL.encode(data)) == data
    assert URL.decode(URL.escape(data).replace(b"+", b"%2B")) == data
    assert xml.unescape(xml.escape("<&'\"> åäö")) == "<&'\"> åäö"


# ---- URL parsing ----------------------------------------------------------

def comps(u):
    return (u.scheme, u.user, u.password, u.host, u.port, u.path, u.query, u.fragment)


@pytest.mark.parametrize("inp,expected", [
    ("host", (None, None, None, "host", 0, None, None, None)),
    ("host:80", (None, None, None, "host", 80, None, None, None)),
    ("host:80/p", (None, None, None, "host", 80, "/p", None, None)),
    ("user:pass@host:1/x", (None, "user", "pass", "host", 1, "/x", None, None)),
    ("mailto:foo@bar", (None, "mailto", "foo", "bar", 0, None, None, None)),
    ("//host/path", (None, None, None, None, 0, "//host/path", None, None)),
    ("/path?x#y", (None, None, None, None, 0, "/path", "x", "y")),
    ("http://host?q=1", ("http", None, None, "host?q=1", 0, None, None, None)),
    ("HTTP://Host.COM/", ("http", None, None, "Host.COM", 0, "/", None, None)),
    ("file:///etc/passwd", ("file", None, None, None, 0, "/etc/passwd", None, None)),
    ("http://host", ("http", None, None, "host", 0, None, None, None)),
    ("http://host:80", ("http", None, None, "host", 80, None, None, None)),
    ("http://h:8080", ("http", None, None, "h", 8080, None, None, None)),
    ("http://", ("http", None, None, None, 0, None, None, None)),
    ("http://user@host", ("http", "user", None, "host", 0, None, None, None)),
    ("http://host/p?a#b?c", ("http", None, None, "host", 0, "/p", "a", "b?c")),
    ("http://h:/", ("http", None, None, "h", 0, "/", None, None)),
    ("", (None, None, None, None, 0, None, None, None)),
    # IPv6 literals: host without brackets.
    ("http://[::1]:80/", ("http", None, None, "::1", 80, "/", None, None)),
    ("[::1]:8080", (None, None, None, "::1", 8080, None, None, None)),
    ("http://u@[fe80::1%25eth0]/", ("http", "u", None, "fe80::1%25eth0", 0, "/", None, None)),
])
def test_parse_vectors(inp, expected):
    assert comps(URL(inp)) == expected
    assert comps(URL(inp.encode())) == expected


@pytest.mark.parametrize("bad", [
    "foo/bar", "a:b:c", "http://a:b@c:d@e/", "http://host:abc/", "http://host:-5/",
    "http://host:99999999999/", "http://host:65536/", "http://[::1/", "mailto:x",
])
def test_parse_errors_are_value_errors(bad):  # Was a silent all-None URL
    with pytest.raises(ValueError, match="^Failed to parse URL"):
        URL(bad)


def test_constructor_other_types():
    assert URL(None).to_s() == "" and URL().host is None
    assert URL(123).host == "123"
    a = URL("http://h:1/p?q#f")
    b = URL(a)
    b.host = "other"
    assert a.host == "h" and b.to_s() == "http://other:1/p?q#f"
    with pytest.raises(TypeError):
        URL("a", "b")


def test_setters_and_deleters():
    u = URL("http://h/p")
    u.host = "new.host"
    u.port = 8080
    u.query = "a=1"
    u.fragment = ""
    assert str(u) == "http://new.host:8080/p?a=1#"
    del u.path  # used to crash to_s in py2
    u.fragment = None
    assert str(u) == "http://new.host:8080?a=1"
    u.scheme = "HTTPS"  # setters store verbatim
    assert u.scheme == "HTTPS"
    del u.port
    assert u.port == 0
    with pytest.raises(ValueError):
        u.port = 65536
    with pytest.raises(ValueError):
        u.port = -1
    with pytest.raises(TypeError):
        u.port = "80"
    with pytest.raises(TypeError):
        u.host = 5
    u.host = "hå"
    assert u.host == "hå"
    with pytest.raises(AttributeError):
        u.uri = "/x"


def test_subclassable():
    class My(URL):
        pass

    m = My("http://h/p")
    assert m.path == "/p" and isinstance(m, URL)
    assert repr(m).endswith("'http://h/p'>")


# ---- to_s / uri -----------------------------------------------------------

FULL = "http://user:pass@some.host:1983/some/path.ext?arg1=245&arg2=hej%20du#chapter5"


def test_doc_vectors():  # the examples of the original documentation
    u = URL("http://host.name:1234/some/path")
    assert u.to_s() == "http://host.name:1234/some/path"
    assert u.to_s(host="another.host") == "http://another.host:1234/some/path"
    assert URL("https://host:443/some/path").to_s(port=False) == "https://host/some/path"


@pytest.mark.parametrize("url,kw,out", [
    ("http://h:80/", {}, "http://h/"),
    ("http://h:80/", {"port80": 1}, "http://h:80/"),
    ("https://h:443/", {}, "https://h:443/"),
    (FULL, {"port": 1}, FULL),
    (FULL, {"port": True}, FULL),
    (FULL, {"port": 2}, FULL.replace(":1983", ":2")),
    (FULL, {"port": 0}, FULL.replace(":1983", "")),
    (FULL, {"scheme": "ftp"}, FULL.replace("http:", "ftp:")),  # str override honoured now
    (FULL, {"user": False}, "http://some.host:1983/some/path.ext?arg1=245&arg2=hej%20du#chapter5"),
    (FULL, {"host": False}, "http://user:pass@:1983/some/path.ext?arg1=245&arg2=hej%20du#chapter5"),
    (FULL, {"query": "", "fragment": 0}, "http://user:pass@some.host:1983/some/path.ext"),
    ("http://h/p?", {}, "http://h/p"),
    ("http://h/p#", {}, "http://h/p#"),
    ("/p?q#f", {}, "/p?q#f"),
    ("mailto:foo@bar", {}, "mailto:foo@bar"),
    ("http://h/", {"port": True}, "http://h/"),  # was http://h:1/
    ("http://h/", {"port": 80}, "http://h/"),
    ("http://h/", {"port": 80, "port80": True}, "http://h:80/"),
    ("http://h/x", {"path": ""}, "http://h"),
    ("http://h/p", {"query": "a=1"}, "http://h/p?a=1"),
    ("http://h/p", {"user": "bob", "password": "x"}, "http://bob:x@h/p"),
    ("http://h/p", {"password": "x"}, "http://h/p"),
    ("http://[::1]:8080/", {}, "http://[::1]:8080/"),
    ("", {}, ""),
])
def test_to_s_vectors(url, kw, out):
    assert URL(url).to_s(**kw) == out
    assert URL(url).to_str(**kw) == out


def test_to_s_argument_errors():
    u = URL(FULL)
    with pytest.raises(TypeError):
        u.to_s(False)  # positional arguments were silently ignored
    with pytest.raises(TypeError):
        u.to_s(hots="x")
    with pytest.raises(ValueError):
        u.to_s(port=70000)
    with pytest.raises(TypeError):
        u.to_s(port="80")
    assert str(u) == FULL


def test_uri():
    assert URL(FULL).uri == "/some/path.ext?arg1=245&arg2=hej%20du#chapter5"
    assert URL("http://h").uri is None
    assert URL("http://h/p?#").uri == "/p#"


def test_parse_to_s_round_trip():
    for s in ["http://a:b@h:81/p?q#f", "https://[fe80::1%25eth0]:443/x", "/only/path?x",
              "ftp://h/", "http://h:/"]:
        u = URL(s)
        assert comps(URL(u.to_s())) == comps(u)


# ---- decompose_query ------------------------------------------------------

@pytest.mark.parametrize("inp,out", [
    ("name=Jack%20%C3%B6l&age=53", {"name": "Jack öl", "age": "53"}),  # D4
    ("a=1;b=2", {"a": "1;b=2"}),
    ("a", {"a": None}), ("=x", {"": "x"}), ("a=&b", {"a": "", "b": None}),
    ("a==b", {"a": "=b"}), ("a=b=c", {"a": "b=c"}),
    ("a+b=c+d", {"a b": "c d"}), ("%61=1", {"a": "1"}), (" a=1", {" a": "1"}),
    ("a=1&A=2", {"a": "1", "A": "2"}),
    ("&&&", {}),
    ("a=%E5", {"a": "å"}), ("a=%C3%A5", {"a": "å"}),
    ("k%C3%A5=v", {"kå": "v"}),
    ("k%E5=v", {"k\ufffd": "v"}),  # keys: charset with errors replaced
    ("a=1&a=2&a=3", {"a": ["1", "2", "3"]}),
    ("parse&x=%C3%A5&y=%E5&y=2&z&&w=a+b",
     {"parse": None, "x": "å", "y": ["å", "2"], "z": None, "w": "a b"}),
])
def test_decompose_query_vectors(inp, out):
    assert URL.decompose_query(inp) == out
    assert URL.decompose_query(inp.encode()) == out


def test_decompose_query_charsets():
    assert URL.decompose_query("k%E5=v", charset="latin_1") == {"kå": "v"}
    assert URL.decompose_query("a=%E5&k%E5=1", None) == {b"a": b"\xe5", b"k\xe5": b"1"}
    assert URL.decompose_query("a=%E5&a", charset=None) == {b"a": [b"\xe5", None]}
    with pytest.raises(UnicodeDecodeError):
        URL.decompose_query("a=%E5", tolerant=False)
    assert URL.decompose_query("a=%C3%A5", tolerant=False) == {"a": "å"}
    with pytest.raises(LookupError):
        URL.decompose_query("a=1", charset="no-such-charset")
    with pytest.raises(TypeError):
        URL.decompose_query("a=1", charset=b"utf-8")
    with pytest.raises(UnicodeEncodeError):
        URL.decompose_query("a=1", charset="utf\udc80")
    assert URL.decompose_query(123) == {"123": None}
    assert URL.decompose_query("a=1", "utf-8", 0) == {"a": "1"}


def test_decompose_query_field_cap():
    ok = "&".join(f"k{i}=v" for i in range(1000))
    assert len(URL.decompose_query(ok)) == 1000
    with pytest.raises(core.RequestTooLargeError):
        URL.decompose_query(ok + "&one=more")
    # Repeats count too; a huge value in few fields is fine (linear).
    with pytest.raises(core.RequestTooLargeError):
        URL.decompose_query("a&" * 5000)
    assert URL.decompose_query("a=" + "x" * 1_000_000)["a"] == "x" * 1_000_000


# ---- xml ------------------------------------------------------------------

@pytest.mark.parametrize("inp,out", [
    ("<&>\"'", "&lt;&amp;&gt;&quot;&#39;"),
    ("&amp;amp;", "&amp;amp;amp;"),
    ("a<", "a&lt;"),
    ("", ""),
])
def test_xml_escape(inp, out):
    assert xml.escape(inp) == out
    assert xml.escape(inp.encode()) == out.encode()


@pytest.mark.parametrize("inp,out", [
    ("&amp;amp;", "&amp;"),  # single pass
    ("&#39;&apos;", "''"),
    ("&AMP;", "&AMP;"), ("&lt", "&lt"), ("&quot", "&quot"),  # No garbage byte
    ("&quot;x", '"x'),
    ("abc", "abc"), ("", ""),
    ("a&lt;", "a<"),
    ("&#229;&#xE5;", "åå"),
    ("&#0;&#x110000;&#xZZ;", "&#0;&#x110000;&#xZZ;"),
])
def test_xml_unescape(inp, out):
    assert xml.unescape(inp) == out
    assert xml.unescape(inp.encode()) == out.encode()


# ---- pack / uid -----------------------------------------------------------

SEQ = bytes(range(20))


@pytest.mark.parametrize("data,nbits,out", [
    (b"\x00" * 20, 4, "0" * 40), (b"\x00" * 20, 5, "0" * 32), (b"\x00" * 20, 6, "0" * 27),
    (b"\xff" * 20, 4, "f" * 40), (b"\xff" * 20, 5, "v" * 32), (b"\xff" * 20, 6, "-" * 26 + "f"),
    (SEQ, 4, "00102030405060708090a0b0c0d0e0f001112131"),
    (SEQ, 5, "0804g1g05g1e0441ao2og6o1f04219c2"),
    (SEQ, 6, "04w03gg16s029EM2cQw3f0h4ic1"),
    (b"abc", 4, "162636"), (b"abc", 5, "1jo66"), (b"abc", 6, "x9So"),
    (hashlib.sha1(b"abc").digest(), 5, "9d6t3rs8680l6tq759sg789oc371dcnj"),
    (b"", 5, ""),
    (b"\x10", 4, "01"),
])
def test_pack_vectors(data, nbits, out):
    assert core.pack(data, nbits) == out
    assert core.pack(data=data, nbits=nbits) == out


def test_pack_any_length():  # Fixed-length output and heap overflow
    for n in (1, 7, 19, 21, 1000, 100_000):
        for nbits in (4, 5, 6):
            assert len(core.pack(b"\xa5" * n, nbits)) == -(-8 * n // nbits)
    assert core.pack(b"abc") == core.pack(b"abc", None) == "1jo66"
    assert core.pack(memoryview(b"abc")) == "1jo66"


def test_pack_errors():
    for bad in (3, 0, -1, 7, 2**40):
        with pytest.raises(ValueError, match="Invalid number of bits"):
            core.pack(b"abc", bad)
    with pytest.raises(ValueError, match="Invalid number of bits: 3"):
        core.pack(b"abc", 3)
    with pytest.raises(ValueError, match="Invalid number of bits: 1099511627776"):
        core.pack(b"abc", 2**40)
    with pytest.raises(TypeError):
        core.pack()  # segfaulted in py2
    with pytest.raises(TypeError):
        core.pack("abc")
    with pytest.raises(TypeError):
        core.pack(b"abc", "5")


def test_uid_shapes():
    assert re.fullmatch(r"[0-9a-v]{32}", core.uid())
    assert re.fullmatch(r"[0-9a-v]{32}", core.uid(None))
    assert re.fullmatch(r"[0-9a-f]{40}", core.uid(4))
    assert re.fullmatch(r"[0-9A-Za-z_-]{27}", core.uid(6))
    for raw in (0, -1):
        r = core.uid(raw)
        assert type(r) is bytes and len(r) == 20
    assert re.fullmatch(r"[0-9a-v]{32}", core.uid(5, b"node\x00x"))
    assert re.fullmatch(r"[0-9a-v]{32}", core.uid(node="nøde"))


def test_uid_unique():  # the original ids were time and pid only
    ids = {core.uid() for _ in range(2000)}
    assert len(ids) == 2000
    assert len({core.uid(5, b"same") for _ in range(100)}) == 100


def test_uid_errors():
    for bad in (3, 7, 2**40):
        with pytest.raises(ValueError, match="Invalid number of bits"):
            core.uid(bad)
    with pytest.raises(TypeError):
        core.uid("5")
    with pytest.raises(TypeError):
        core.uid(5, 123)


# ---- reference counting ---------------------------------------------------

def _exercise():
    u = URL(FULL)
    u.host = "x"
    u.to_s(scheme="ftp", port=99, path=False)
    str(u)
    _ = (u.uri, u.scheme, u.port, URL(u).query)
    URL.decompose_query("a=1&a=2&b=%E5&c")
    URL.decompose_query(b"a=1&b", None)
    URL.encode("å b")
    URL.decode(b"a+b%20")
    xml.escape("<x>")
    xml.unescape(b"&lt;&#229;")
    core.pack(b"abcdef", 6)
    core.uid(5, "n")
    for call in (lambda: URL("a:b:c"), lambda: URL.decompose_query("a&" * 1001),
                 lambda: core.pack(b"x", 3), lambda: URL.decode("%e5")):
        try:
            call()
        except (ValueError, UnicodeDecodeError):
            pass


def test_no_python_object_leaks():
    for _ in range(200):
        _exercise()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(3000):
            _exercise()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # One leaked small object per iteration would be > 100 KB.
    assert grown < 64 * 1024, grown
    s = "refcount-probe-xyz"
    rc = sys.getrefcount(s)
    for _ in range(1000):
        URL.encode(s)
        xml.escape(s)
    assert sys.getrefcount(s) == rc


def test_extension_compiles_warning_free(tmp_path):
    """The shim's C sources are clean under the project's C flags."""
    import shutil
    import sysconfig

    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "no C compiler (scripts/install-deps installs build-essential)"
    sources = sorted((ROOT / "python-shim" / "src").glob("*.c"))
    assert len(sources) > 1
    for src in sources:
        subprocess.run(
            [cc, "-std=c99", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fPIC", "-c",
             "-I", str(ROOT / "include"), "-I", sysconfig.get_paths()["include"],
             str(src), "-o", str(tmp_path / (src.stem + ".o"))],
            check=True, timeout=120,
        )


def test_type_stubs_match_the_runtime_module(tmp_path):
    """mypy's stubtest: every runtime name has a stub with a compatible
    signature and the stubs name nothing that does not exist. PEP 800
    disjoint-base markers are not used (the stubs target Python 3.9+)."""
    for module in ("smisk.core", "smisk.core.xml"):
        out = subprocess.run([sys.executable, "-m", "mypy.stubtest", "--ignore-disjoint-bases", module],
                             capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
