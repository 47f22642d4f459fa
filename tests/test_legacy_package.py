"""The top-level smisk package, smisk.release, smisk.util.*, smisk.inflection,
smisk.charsets and smisk.session. Tests named p<N>_ check a Smisk 1.x fix."""
import codecs
import datetime
import io
import re
import subprocess
import sys
import threading
import time

import pytest

import harness


def run_python(code, **kw):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, **kw)


# --- smisk, smisk.release -------------------------------------------------------

def test_import_smisk_is_cheap_and_names_load_lazily():
    out = run_python("import sys, smisk; print('smisk.core' in sys.modules); "
                     "from smisk import Application, request; print('smisk.core' in sys.modules); "
                     "import smisk.core; print(Application is smisk.core.Application, smisk.__build__)")
    lines = out.stdout.split()
    assert lines[:3] == ["False", "True", "True"], out.stderr


def test_p72_top_level_reexports_the_core_names():
    """`from smisk import Application` (the Smisk 1.0 form) works."""
    import smisk
    import smisk.core

    names = ["Application", "Request", "Response", "Stream", "URL", "SessionStore", "FileSessionStore",
             "InvalidSessionError", "RequestTooLargeError", "bind", "unbind", "listening", "uid", "pack",
             "object_hash", "app", "request", "response"]
    assert set(names) <= set(smisk.__all__) and set(names) <= set(dir(smisk))
    for name in names:
        assert getattr(smisk, name) is getattr(smisk.core, name)
    from smisk import Application, response  # noqa: F401
    with pytest.raises(AttributeError):
        smisk.no_such_name
    assert smisk.__version__ == smisk.release.version


def test_build_is_a_urn_from_the_library_version():
    import ctypes

    import smisk
    import smisk.core

    assert smisk.__build__ is smisk.core.__build__
    assert re.fullmatch(r"urn:smisk:\d+\.\d+\.\d+(:rcsid:[0-9a-f]{7,40}(-dirty)?)?", smisk.core.__build__)
    # The version part is libsmisk's own (asked of the library, not typed in).
    lib = ctypes.CDLL(smisk.core._core.__file__)
    lib.smisk_version.restype = ctypes.c_char_p
    assert smisk.core.__build__.split(":")[2] == lib.smisk_version().decode()


def test_release():
    from smisk import release

    assert release.__all__ == ["version", "version_info", "author", "email", "copyright", "license"]
    pyproject = (harness.ROOT / "python-shim" / "pyproject.toml").read_text()
    assert f'version = "{release.version}"' in pyproject
    assert release.version_info == (2, 0, 0)
    assert release.license.startswith("MIT License") and "Permission is hereby granted" in release.license
    assert " ".join(release.license.split()[4:]) in " ".join((harness.ROOT / "LICENSE").read_text().split())
    assert release.copyright in (harness.ROOT / "LICENSE").read_text()


# --- smisk.util -------------------------------------------------------------------

def test_util_type():
    from smisk.util import type as t

    assert repr(t.Undefined) == "Undefined" and repr(t.Symbol("X")) == "X"
    assert t.None2 == (None, None) and t.RegexType is re.Pattern
    for name in t.__all__:
        assert hasattr(t, name), name
    assert t.StringTypes == (str, bytes) and t.LongType is int and t.DictType is dict
    assert isinstance(lambda: 1, t.FunctionType) and t.NoneType is type(None)


def test_util_collections():
    from smisk.util.collections import merge, merge_dict, merged, merged_dict, unique, unique_wild

    assert sorted(unique_wild([3, 1, 3])) == [1, 3]
    assert unique([3, 1, 3, 2, 1]) == [3, 1, 2]
    assert unique([[2], [1], [2]]) == [[1], [2]]
    assert unique([{"a": 1}, {"a": 1}, {"b": 2}]) == [{"a": 1}, {"b": 2}]
    a = {"x": {"y": 1, "l": [1]}, "k": 1}
    assert merge_dict(a, {"x": {"z": 2, "l": [2]}, "k": 2}) is a
    assert a == {"x": {"y": 1, "z": 2, "l": [1, 2]}, "k": 2}
    assert merge_dict({"l": [1]}, {"l": [2]}, merge_lists=False) == {"l": [2]}
    assert merge([1], [2]) == [1, 2]
    with pytest.raises(TypeError):
        merge("a", "b")
    orig = {"x": {"l": [1]}}
    assert merged_dict(orig, {"x": {"l": [2]}}) == {"x": {"l": [1, 2]}} and orig == {"x": {"l": [1]}}
    assert merged((1,), [2]) == (1, 2) and merged([1], (2,)) == [1, 2]


def test_util_cache_and_p68_stable_app_shared_key(tmp_path):
    """The key is the same in every process of the application (no
    salted hash())."""
    from smisk.util.cache import callable_cache_key

    class A:
        def m(self):
            pass

    class B(A):
        pass

    assert callable_cache_key(A().m) == callable_cache_key(A().m)
    assert callable_cache_key(A().m) != callable_cache_key(B().m)
    script = tmp_path / "myapp.py"
    script.write_text("from smisk.util.cache import app_shared_key; print(app_shared_key())")
    keys = {run_python(f"import runpy; runpy.run_path({str(script)!r}, run_name='__main__')").stdout.strip()
            for _ in range(2)}
    keys |= {subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=60).stdout.strip()}
    assert len(keys) == 1, keys
    key = keys.pop()
    assert re.fullmatch(r"myapp_[0-9a-f]{40}", key)
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(script.read_text())
    out = subprocess.run([sys.executable, pkg / "__init__.py"], capture_output=True, text=True, timeout=60)
    assert out.stdout.startswith("pkg_")


def test_util_introspect_and_p36_ensure_va_kwa_filters_keywords():
    """A wrapped leaf that has *args but no **kwargs gets only the
    keywords it names."""
    from smisk.util.introspect import introspect, repr2
    from smisk.util.type import Undefined

    class Shop:
        def add(self, item, qty=1, *, note=None):
            return (item, qty, note)

        def __call__(self, x):
            return x

    def plain(a, b=2):
        return (a, b)

    def with_args(a, *rest):
        return (a, rest)

    info = introspect.callable_info(Shop().add)
    assert info == {"name": "add", "args": (("item", Undefined), ("qty", 1), ("note", None)), "varargs": False,
                    "varkw": False, "method": True}
    assert introspect.callable_info(Shop.add)["method"] is True  # a function defined in a class body
    assert introspect.callable_info(Shop())["args"] == (("x", Undefined),)
    assert introspect.callable_info(plain)["method"] is False and introspect.callable_info(5) is None
    assert introspect.getargspec(plain) == (False, ["a", "b"], False, False, (2,))
    w = introspect.ensure_va_kwa(plain)
    assert w(1, 2, 3, c=4) == (1, 2) and w(a=9) == (9, 2) and w.wrapped_func is plain and w.__wrapped__ is plain
    assert w.__name__ == "plain" and introspect.callable_info(w)["varargs"] is True
    assert introspect.callable_info(w)["args"] == (("a", Undefined), ("b", 2))
    w2 = introspect.ensure_va_kwa(with_args)
    assert w2(1, 2, 3, unknown=5) == (1, (2, 3))  # the original passed unknown= and raised TypeError
    plain.slug, plain.methods = "p", ["GET"]
    w3 = introspect.ensure_va_kwa(plain, parent=Shop)
    assert w3.slug == "p" and w3.methods == ["GET"] and Shop.plain is w3

    def already(*a, **k):
        pass

    assert introspect.ensure_va_kwa(already) is already
    assert introspect.VARARGS == 4 and introspect.KWARGS == 8
    assert len(repr2("x" * 1000)) < 220
    listing = introspect.format_members(type("O", (), {"alpha": 1, "b": "two"})())
    width = max(len(name) for name in dir(type("O", (), {"alpha": 1, "b": "two"})()))
    assert f"\n{'alpha':<{width}} = 1\n" in listing and listing.endswith(f"\n{'b':<{width}} = 'two'")
    assert "\033[" in introspect.format_members(1, colorize=True)


def test_util_python_and_p71_find_modules_for_classtree(tmp_path):
    """Modules of a class's whole subclass tree."""
    from smisk.util import python as p

    assert p.format_exc() == [] and p.format_exc(as_string=True) == ""
    try:
        raise ValueError("x")
    except ValueError:
        assert "ValueError: x" in p.format_exc(as_string=True)
        info = sys.exc_info()
    assert p.format_exc(info)[-1] == "ValueError: x\n"
    with pytest.raises(KeyError):
        p.wrap_exc_in_callable(KeyError("k"))(1, a=2)

    class K:
        @classmethod
        def c(cls):
            pass

        def m(self):
            pass

    assert p.classmethods(K) == ["c"]
    assert p.unique_sorted_modules_of_items([K, p.format_exc, K]) == sorted({__name__, p.__name__})
    (tmp_path / "b.py").write_text("")
    (tmp_path / "a.py").write_text("")
    (tmp_path / "c.pyc").write_bytes(b"")
    assert p.list_python_filenames_in_dir(str(tmp_path)) == ["a", "b"]
    assert p.list_python_filenames_in_dir(str(tmp_path), only_py=False) == ["a", "b", "c"]
    (tmp_path / "tree_a.py").write_text("class Base: pass\n")
    (tmp_path / "tree_b.py").write_text("from tree_a import Base\nclass Sub(Base): pass\n")
    (tmp_path / "tree_c.py").write_text("from tree_b import Sub\nclass SubSub(Sub): pass\n"
                                        "class Other(Sub): pass\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import tree_a
        import tree_b
        import tree_c

        assert p.find_modules_for_classtree(tree_a.Base) == [tree_b, tree_c]
        assert p.find_modules_for_classtree(tree_a.Base, exclude_root=False) == [tree_a, tree_b, tree_c]
        assert p.find_modules_for_classtree(tree_a.Base, unique=False) == [tree_b, tree_c, tree_c]
        with pytest.warns(DeprecationWarning):
            loaded = p.load_modules(str(tmp_path), parent_name="loaded_pkg")
        assert "loaded_pkg.a" in loaded and "loaded_pkg.tree_c" in loaded
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("tree_a", "tree_b", "tree_c"):
            sys.modules.pop(name, None)


def test_p44_parse_qvalue_header_is_robust():
    """Values lower-cased, malformed q is 0 (no exception), partials
    with a q are recorded."""
    from smisk.util.string import parse_qvalue_header

    vqs, highqs, partials, any_ = parse_qvalue_header(
        "Text/HTML;level=1, application/json;q=0.9, image/*, */*;q=0.1, text/*;q=0.3, bad;q=x, , x/y;q=1")
    assert vqs == [["text/html", 100], ["x/y", 100], ["application/json", 90], ["image/*", 50],
                   ["text/*", 30], ["*/*", 10], ["bad", 0]]
    assert highqs == ["x/y"] and partials == ["image", "text"] and any_ is True
    assert parse_qvalue_header("*/*")[3] is True and parse_qvalue_header("*/*")[0] == [["*/*", 0]]
    assert parse_qvalue_header("*/*;q=0")[3] is False  # q=0 means "not acceptable"
    assert parse_qvalue_header("q=2;q=2, a;q=7")[0] == [["q=2", 100], ["a", 100]]  # q clamped to 100
    cs = parse_qvalue_header("koi8-r, utf-8;q=0.3, *", accept_any_equals="*", partial_endswith=None)
    assert cs == ([["koi8-r", 100], ["utf-8", 30], ["*", 0]], [], [], True)
    assert parse_qvalue_header("utf-8, latin1", return_true_if_accepts_charset="latin1") == (True,) * 4


def test_p45_tokenize_path_and_strings():
    """An extension is removed from the last segment only, and the
    (already decoded) path is not decoded again."""
    from smisk.util.string import normalize_url, strip_filename_extension, tokenize_path

    assert tokenize_path("/user/john.doe/photos") == ["user", "john.doe", "photos"]
    assert tokenize_path("/a//b/c.html") == ["a", "b", "c"] and tokenize_path("/") == []
    assert tokenize_path("/a%2Fb/c") == ["a%2Fb", "c"]
    assert strip_filename_extension("a.b.c") == "a.b" and strip_filename_extension("abc") == "abc"
    from smisk.core import URL

    base = URL("https://user:pw@shop.example:8443/shop?q=1")
    assert str(normalize_url("cart.html", base)) == "https://user:pw@shop.example:8443/shop/cart.html"
    assert str(normalize_url("cart.html?x=1", URL("http://h/shop/"))) == "http://h/shop/cart.html?x=1"
    assert str(normalize_url("/other/path", URL("http://h:81/"))) == "http://h:81/other/path"
    assert normalize_url("cart.html", URL()).path == "/cart.html"
    u = URL("http://x/y")
    assert normalize_url(u, base) is not u and str(normalize_url(u, base)) == "http://user:pw@x:8443/y"


def test_p66_datetime():
    """now() carries the offset in effect, tzname is the offset,
    bad input is a ValueError."""
    from smisk.util.DateTime import DateTime, OffsetTimeZone, UTCTimeZone

    assert UTCTimeZone() is UTCTimeZone() and UTCTimeZone().tzname(None) == "UTC"
    tz = OffsetTimeZone("+02:00")
    assert tz.tzname(None) == "+02:00" and OffsetTimeZone(-330).tzname(None) == "-05:30"
    with pytest.raises(ValueError):
        OffsetTimeZone("2 hours")
    now = DateTime.now()
    assert now.utcoffset() == datetime.datetime.now().astimezone().utcoffset()
    assert abs((now.as_utc() - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) < 5
    dt = DateTime.parse_xml_schema_dateTime("2009-01-31T12:30:00.25+01:00")
    assert dt.as_utc() == datetime.datetime(2009, 1, 31, 11, 30, 0, 250000, tzinfo=datetime.timezone.utc)
    assert DateTime.parse_xml_schema_dateTime("2009-01-31T12:30:00").tzinfo is UTCTimeZone()
    for bad in ("2009-13-01T00:00:00Z", "yesterday", "2009-01-31 12:30:00", "2009-01-31T25:00:00Z", ""):
        with pytest.raises(ValueError):
            DateTime.parse_xml_schema_dateTime(bad)
    naive = DateTime(datetime.datetime(2009, 1, 1, 12))
    assert isinstance(naive, DateTime) and naive.as_utc().hour == 12 and naive.as_utc().tzinfo is not None
    import pickle

    assert pickle.loads(pickle.dumps(dt)) == dt


def test_p67_frozendict_and_other_small_utilities():
    """frozendict is hashable, the empty one too."""
    from smisk.util.benchmark import benchmark
    from smisk.util.frozen import frozendict
    from smisk.util.timing import Timer

    assert hash(frozendict()) == hash(frozendict()) and {frozendict(): 1}[frozendict()] == 1
    f = frozendict(a=1)
    for mutate in (lambda: f.__setitem__("b", 2), lambda: f.pop("a"), f.clear, lambda: f.setdefault("x", 1)):
        with pytest.raises(TypeError):
            mutate()
    assert f.update(b=2) == {"a": 1, "b": 2} and f == {"a": 1} and type(f.copy()) is dict
    t = Timer()
    time.sleep(0.01)
    assert re.fullmatch(r"\d+s \d+ms \d+us", t.finish()) and 0.005 < t.time() < 5 and t.stop
    out = io.StringIO()
    assert sum(1 for _ in benchmark("loop", 10, outfp=out)) == 10
    assert out.getvalue().startswith("loop: 10 iterations,")
    out = io.StringIO()
    with pytest.raises(ZeroDivisionError):
        for i in benchmark("fails", 10, outfp=out):
            if i == 3:
                1 / 0
    assert "fails: 3 iterations" in out.getvalue()


def test_util_threads():
    from smisk.util.threads import Monitor, PerpetualTimer

    calls, setups = [], []
    timer = PerpetualTimer(0.01, calls.append, setups.append, "tick")
    setups.clear()
    timer.setup_callback = lambda: setups.append(threading.current_thread().name)
    timer.start()
    harness.wait_until(lambda: len(calls) >= 3, timeout=10, what="timer ticks")
    timer.cancel()
    timer.join(5)
    assert calls[:3] == ["tick"] * 3 and len(setups) == 1 and timer.ident is not None
    ticks = []

    class Watcher(Monitor):
        pass

    m = Watcher(lambda: ticks.append(1), frequency=0.01)
    m.start()
    first = m.thread
    m.start()  # running already: no second thread
    assert m.thread is first and first.name == "Monitor:Watcher"
    harness.wait_until(lambda: ticks, timeout=10, what="monitor tick")
    m.restart()
    assert m.thread is not first
    m.stop()
    assert m.thread is None and not first.is_alive()
    off = Monitor(lambda: None, frequency=0)
    off.start()
    assert off.thread is None


def test_objectproxy():
    from smisk.util.objectproxy import ObjectProxy

    p = ObjectProxy([1, 2])
    assert len(p) == 2 and 1 in p and list(p) == [1, 2] and p[0] == 1 and p == [1, 2] and bool(p)
    p.append(3)
    p[0] = 0
    del p[1]
    assert p._object() == [0, 3] and repr(p) == "[0, 3]"
    p._set_object({"a": 1})
    assert hash(ObjectProxy("x")) == hash("x") and p["a"] == 1 and ObjectProxy(len)("ab") == 2

    class BadRepr:
        def __repr__(self):
            raise RuntimeError

    assert repr(ObjectProxy(BadRepr())).startswith("<ObjectProxy of BadRepr")
    q = ObjectProxy(type("O", (), {})())
    q.x = 1
    assert q.x == 1
    del q.x
    assert not hasattr(q._object(), "x")


# --- inflection ---------------------------------------------------------------------

def test_english_inflection():
    from smisk.inflection import Inflector, inflection, inflections

    assert inflections["en"] is inflection and inflections["eng"] is inflection
    pairs = {"knife": "knives", "city": "cities", "person": "people", "child": "children", "quiz": "quizzes",
             "matrix": "matrices", "index": "indices", "mouse": "mice", "ox": "oxen", "analysis": "analyses",
             "wife": "wives", "half": "halves", "status": "statuses", "bus": "buses", "tomato": "tomatoes",
             "octopus": "octopi", "axis": "axes", "datum": "data", "hive": "hives", "query": "queries",
             "box": "boxes", "man": "men", "sheep": "sheep", "news": "news", "Person": "People",
             "movie": "movies", "shoe": "shoes", "Equipment": "Equipment", "perspective": "perspectives"}
    for singular, plural in pairs.items():
        assert inflection.pluralize(singular) == plural, singular
        assert inflection.singularize(plural) == singular, plural
    assert inflection.singularize("series") == "series" and inflection.singularize("crises") == "crisis"
    assert inflection.tableize("OrderLine") == "order_lines" and inflection.classify("order_lines") == "OrderLine"
    assert inflection.classify("shop.order_lines") == "OrderLine"
    assert inflection.underscore("OrderItemsController") == "order_items_controller"
    assert inflection.underscore("ShopCart.LineItem") == "shop_cart/line_item"
    assert inflection.underscore("HTMLParser-Thing") == "html_parser_thing"
    assert inflection.humanize("customer_id") == "Customer" and inflection.humanize("unit_price") == "Unit price"
    assert inflection.demodulize("smisk.mvc.Controller") == "Controller"
    assert inflection.foreignKey("shop.OrderLine") == "order_line_id"
    assert inflection.foreignKey("OrderLine", False) == "order_lineid"
    for n, text in ((1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (13, "13th"),
                    (21, "21st"), (112, "112th"), (2003, "2003rd"), ("22", "22nd")):
        assert inflection.ordinalize(n) == text
    custom = Inflector("xx_TEST")
    custom.regular(r"$", "z", r"z$", "")
    custom.irregular("Foo", "Bar", first_letter_is_the_same=False)
    custom.uncountable("Same")
    assert custom.pluralize("cat") == "catz" and custom.pluralize("foo") == "bar" and custom.pluralize("Foo") == "Bar"
    assert custom.singularize("Bar") == "Foo" and custom.pluralize("same") == "same"
    custom.plural(r"at$", "ats")  # newest rule first
    assert custom.pluralize("cat") == "cats"
    custom.clear()
    assert custom.pluralize("cat") == "cat" and inflections["xx_TEST"] is custom


def test_p65_camelize_lower_first_letter_and_swedish_rules():
    """camelize(first_letter_uppercase=False) lower-cases the first
    letter; the Swedish rules produce real Swedish plurals."""
    from smisk.inflection import inflection, inflections
    from smisk.inflection.sv import SVInflector
    from smisk.inflection.sv import inflection as sv

    assert inflection.camelize("active_record/errors") == "ActiveRecord.Errors"
    assert inflection.camelize("active_record/errors", False) == "activeRecord.Errors"
    assert inflection.camelize("Order_line", False) == "orderLine"
    assert isinstance(sv, SVInflector) and inflections["sv"] is sv and inflections["sv_SV"] is sv
    pairs = {"bil": "bilar", "katt": "katter", "kvinna": "kvinnor", "vittne": "vittnen", "ros": "rosor",
             "mus": "möss", "hand": "händer", "man": "män", "Bil": "Bilar", "flicka": "flickor",
             "nation": "nationer", "lärare": "lärare", "hus": "hus", "bok": "böcker", "fot": "fötter"}
    for singular, plural in pairs.items():
        assert sv.pluralize(singular) == plural, singular
        assert sv.singularize(plural) == singular, plural
    assert [sv.ordinalize(n) for n in (1, 2, 3, 11, 12, 21, 22, 100)] == \
        ["1:a", "2:a", "3:e", "11:e", "12:e", "21:a", "22:a", "100:e"]


# --- charsets, session ------------------------------------------------------------------

def test_p70_charsets_are_only_text_encodings():
    """No transforms (rot_13, base64_codec ...) or escape codecs."""
    from smisk.charsets import charsets

    assert "utf_8" in charsets and "latin_1" in charsets and "koi8_r" in charsets
    assert "utf8" in charsets["utf_8"]["alias"] and charsets["utf_8"]["language"] == "all languages"
    for name in ("rot_13", "base64_codec", "zlib_codec", "hex_codec", "unicode_escape", "raw_unicode_escape",
                 "punycode", "idna", "unicode_internal", "uu_codec", "bz2_codec", "quopri_codec"):
        assert name not in charsets
    for name in charsets:
        info = codecs.lookup(name)
        assert info._is_text_encoding and "héllo".encode(name, "replace").decode(name, "replace")


def test_session_store_protocol():
    from smisk.session import Store

    s = Store()
    assert Store.ttl == 900 and Store.name == "SID"
    for call in (lambda: s.read("x"), lambda: s.write("x", 1), lambda: s.refresh("x"), lambda: s.destroy("x")):
        with pytest.raises(NotImplementedError):
            call()


# --- the import line of the issue, with and without the optional packages ------------

IMPORTS = "import smisk, smisk.config, smisk.serialization, smisk.inflection, smisk.util"


def test_imports_without_optional_packages():
    block = ("import sys\nclass B:\n def find_spec(self, n, p=None, t=None):\n"
             "  if n.split('.')[0] in ('yaml', 'defusedxml'): raise ImportError(n)\n"
             "sys.meta_path.insert(0, B())\n")
    code = block + IMPORTS + ("\nimport smisk.serialization.all, smisk.charsets, smisk.session, smisk.release\n"
                              "import smisk.util.type, smisk.util.collections, smisk.util.cache, smisk.util.introspect\n"
                              "import smisk.util.python, smisk.util.string, smisk.util.DateTime, smisk.util.threads\n"
                              "import smisk.util.timing, smisk.util.frozen, smisk.util.benchmark\n"
                              "import smisk.util.objectproxy, smisk.inflection.sv\nprint('ok')")
    out = run_python(code)
    assert out.stdout.strip() == "ok" and out.stderr == "", out.stderr


def test_the_legacy_layers_type_check(tmp_path):
    """The inline annotations of the public API are consistent (mypy)."""
    shim = harness.ROOT / "python-shim"
    targets = ["smisk/__init__.py", "smisk/release.py", "smisk/config.py", "smisk/charsets.py",
               "smisk/session", "smisk/util", "smisk/inflection", "smisk/serialization"]
    out = subprocess.run([sys.executable, "-m", "mypy", "--ignore-missing-imports", "--cache-dir",
                          str(tmp_path / "mypy-cache"), *targets], cwd=shim, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
