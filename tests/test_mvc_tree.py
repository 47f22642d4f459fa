"""smisk.mvc's controller tree and routing, in this process: names, exposure,
hidden leaves, delegates, method restrictions, trailing slashes, unicode
slugs, regex routes, argument binding. Each tree is defined in a throwaway
module and removed afterwards, so trees never meet. Tests named after a P-n
would have caught that bug of the original."""
import gc
import sys
import textwrap
import types

import pytest

from smisk.mvc import control, http, routing
from smisk.mvc.control import (Controller, leaf_is_visible, method_origin, node_name, path_to, root_controller,
                               template_for, uri_for)
from smisk.mvc.decorators import LeafFilter, expose, hide, leaf_filter
from smisk.mvc.routing import Destination, RegExpFilter, Router, bind_arguments, resolve_path

# The example tree of the specification (and of docs/legacy.md).
EXAMPLE = """
from smisk.mvc import *

class root(Controller):
    def __call__(self, **kw): return 'root'
    def about(self): return 'about'
    @expose(delegates=True)
    def ping(self): return 'ping'

class shop(root):
    def __call__(self): return 'shop'
    @expose('best-sellers', methods='GET')
    def best_sellers(self): return 'best'
    @hide
    def restock(self): return 'restock'

class basket(shop):
    slug = 'cart'
    def add(self, item, qty=1): return (item, qty)

class NewsController(root):
    pass
"""


class Tree:
    """Classes defined from source in a module of their own."""

    counter = 0

    def __init__(self, source):
        Tree.counter += 1
        self.name = f"_smisk_test_tree_{Tree.counter}"
        self.module = types.ModuleType(self.name)
        sys.modules[self.name] = self.module
        control.invalidate_caches()
        exec(compile(textwrap.dedent(source), f"<{self.name}>", "exec"), self.module.__dict__)

    def __getattr__(self, name):
        return getattr(self.module, name)

    def close(self):
        del sys.modules[self.name]
        self.module.__dict__.clear()
        self.module = None
        control.invalidate_caches()
        gc.collect()
        assert root_controller() is None, "a controller tree outlived its test"


@pytest.fixture
def tree():
    trees = []

    def make(source=EXAMPLE):
        t = Tree(source)
        trees.append(t)
        return t

    yield make
    for t in trees:
        t.close()


def leaf_at(path):
    d = resolve_path(path)
    return None if isinstance(d, routing.NotFoundDestination) else d.leaf


def result(path, *args, **params):
    return resolve_path(path)(*args, **params)


# --- names and paths --------------------------------------------------------

def test_the_example_tree_paths(tree):
    t = tree()
    assert root_controller() is t.root
    assert path_to(t.shop().about) is None  # inherited, not delegating
    assert path_to(t.basket().ping) == ["shop", "cart", "ping"]
    assert template_for(t.shop) == ["shop", "__call__"]
    assert template_for(t.root().about) == ["about"]
    assert template_for(t.root) == ["__call__"]
    assert uri_for(t.root) == "/" and uri_for(t.root().__call__) == "/"
    assert uri_for(t.shop) == "/shop/" and uri_for(t.shop().__call__) == "/shop/"
    assert uri_for(t.basket().add) == "/shop/cart/add"
    assert uri_for(t.shop().restock) is None
    assert node_name(t.root) == "" and node_name(t.basket) == "cart" and node_name(t.shop().about) is None
    assert path_to(t.NewsController) == ["news"]
    assert [type(c).__name__ for c in control.controllers()] == ["root", "shop", "basket", "NewsController"]


@pytest.mark.parametrize("path, expected", [
    ("/", "root"), ("", "root"), ("/SHOP/", "shop"), ("/shop", "shop"), ("/shop/", "shop"), ("//shop//", "shop"),
    ("/shop/best-sellers", "best"), ("/about", "about"), ("/ABOUT/", "about"), ("/ping", "ping"),
    ("/shop/ping", "ping"), ("/shop/cart/ping", "ping"),
])
def test_tree_resolution_reaches(tree, path, expected):
    tree()
    assert result(path) == expected


@pytest.mark.parametrize("path", [
    "/shop/best_sellers",      # the slug replaces the name
    "/shop/about",             # inherited without delegates
    "/shop/basket/add",        # the class slug replaces the class name
    "/shop/restock",           # hidden
    "/news",                   # no own __call__
    "/controller_name", "/special_methods", "/__call__", "/_private",
    "/shop/smisk:methods",     # reflection on the root only
    "/about/extra",            # no segment after a leaf
    "/about.foo",              # an unknown suffix is part of the name
    "/nothing",
])
def test_tree_resolution_misses_are_404_destinations(tree, path):
    tree()
    d = resolve_path(path)
    assert isinstance(d, routing.NotFoundDestination)
    with pytest.raises(http.HTTPExc) as e:
        d()
    assert e.value.status.code == 404


def test_no_root_controller_is_a_404_destination():
    control.invalidate_caches()
    assert root_controller() is None
    with pytest.raises(http.HTTPExc) as e:
        resolve_path("/")()
    assert e.value.status is http.ControllerNotFound


def test_reflection_leaves_only_on_the_root(tree):
    t = tree()
    assert callable(leaf_at("/smisk:methods"))
    methods = leaf_at("/smisk:methods")()
    assert "/shop/cart/add" in methods and "/shop/restock" not in methods and "/shop/about" not in methods
    control.enable_reflection = False
    try:
        control.invalidate_caches()
        assert leaf_at("/smisk:methods") is None
    finally:
        control.enable_reflection = True
    assert t.root().smisk_serializers()["JSON"]["extensions"] == ["json"]


def test_P15_reflection_filters_are_substrings_not_regexps(tree):
    t = tree()
    r = t.root()
    assert set(r.smisk_methods(filter="CART")) == {"/shop/cart/add", "/shop/cart/ping"}
    assert r.smisk_methods(filter="(a+)+$") == {}  # no regular expression evaluated
    assert set(r.smisk_charsets(filter="UTF-8")) >= {"utf_8"} or set(r.smisk_charsets(filter="utf"))


def test_P47_slugs_are_not_inherited_and_match_any_case(tree):
    t = tree("""
        from smisk.mvc import *
        class root(Controller):
            def __call__(self): return 'root'
        class Parent(root):
            slug = 'Mum'
            def __call__(self): return 'parent'
            @expose('Hello-There')
            def hello(self): return 'hello'
        class Child(Parent):
            def __call__(self): return 'child'
    """)
    assert path_to(t.Child) == ["Mum", "child"]  # not ['Mum', 'Mum']
    assert result("/mum/child") == "child" and result("/MUM/CHILD/") == "child"
    assert result("/mUm/hello-there") == "hello"


def test_P48_controller_init_runs_once(tree):
    t = tree("""
        from smisk.mvc import *
        inits = []
        class root(Controller):
            def __init__(self):
                inits.append(1)
            def __call__(self): return len(inits)
    """)
    assert t.root() is t.root()
    control.controllers()
    assert result("/") == 1 and len(t.inits) == 1


def test_unicode_slugs(tree):
    tree("""
        from smisk.mvc import *
        class root(Controller):
            @expose('räksmörgås')
            def sandwich(self): return 'smörgås'
        class Ünïcode(root):
            slug = 'SLØG'
            def __call__(self): return 'unicode'
            def ÖL(self): return 'öl'
    """)
    assert result("/RÄKSMÖRGÅS") == "smörgås"
    assert result("/sløg/") == "unicode"
    assert result("/sløg/öl") == "öl"
    assert resolve_path("/sløg").uri == "/SLØG/"


def test_delegates_and_method_origin(tree):
    t = tree("""
        from smisk.mvc import *
        class root(Controller):
            pass
        class Vehicle(root):
            def wheels(self): return 4
            @expose(delegates=True)
            def honk(self): return 'honk'
        class Car(Vehicle):
            pass
        class Bike(Vehicle):
            def wheels(self): return 2
    """)
    assert method_origin(t.Car().wheels) is t.Vehicle
    assert method_origin(t.Bike().wheels) is t.Bike
    assert method_origin(t.Vehicle.wheels) is t.Vehicle  # a plain function: context from __qualname__
    assert not leaf_is_visible(t.Car().wheels) and leaf_is_visible(t.Bike().wheels)
    assert result("/vehicle/car/honk") == "honk"
    assert leaf_at("/vehicle/car/wheels") is None and result("/vehicle/bike/wheels") == 2
    assert result("/vehicle/wheels") == 4
    # no own __call__ and none inherited: a controller alone is not a leaf
    assert leaf_at("/vehicle") is None


def test_inherited_call_does_not_make_a_class_reachable(tree):
    tree("""
        from smisk.mvc import *
        class root(Controller):
            def __call__(self): return 'root'
        class quiet(root):
            pass
        class loud(root):
            @expose(delegates=True)
            def __call__(self): return 'loud'
        class louder(loud):
            pass
    """)
    assert leaf_at("/quiet") is None
    assert result("/loud/louder/") == "loud"


def test_hidden_controllers_and_class_methods(tree):
    t = tree("""
        from smisk.mvc import *
        class root(Controller):
            @classmethod
            def factory(cls): return 'no'
            @staticmethod
            def helper(): return 'no'
            count = 3
        @hide
        class secret(root):
            def __call__(self): return 'secret'
    """)
    for path in ("/factory", "/helper", "/count", "/secret", "/secret/"):
        assert leaf_at(path) is None, path
    assert path_to(t.secret) is None


# --- decorators -------------------------------------------------------------

def test_expose_validates_and_normalises():
    @expose(methods="get", formats="json")
    def f(): pass
    assert f.methods == ["GET"] and f.formats == ("json",) and f.delegates is False

    @expose
    def g(): pass
    assert g.delegates is False

    with pytest.raises(TypeError):
        expose(methods=[1])
    with pytest.raises(TypeError):
        expose(formats=3)


def test_P33_leaf_filters_keep_exposure_in_any_order():
    @leaf_filter
    def double(leaf, *a, **kw):
        return leaf(*a, **kw) * 2

    @double
    @expose("x-slug", methods="POST", formats=("json",), template="t.html")
    def below(value=1):
        """Doc."""
        return value

    @expose("x-slug", methods="POST", formats=("json",), template="t.html")
    @double
    def above(value=1):
        return value

    for f in (below, above):
        assert (f.slug, f.methods, f.formats, f.template) == ("x-slug", ["POST"], ("json",), "t.html")
        assert f(value=3) == 6
    assert below.__name__ == "below" and below.__doc__ == "Doc." and below.__wrapped__.__name__ == "below"
    assert double.__name__ == "double_leaf_filter"
    assert hide(below).hidden is True


def test_leaf_filter_class_and_binding_of_what_the_filter_adds(tree):
    t = tree("""
        from smisk.mvc import *
        from smisk.mvc.decorators import LeafFilter
        class Tag(LeafFilter):
            def __init__(self, tag): self.tag = tag
            def filter(self, leaf, *args, **kwargs):
                kwargs['tag'] = self.tag
                return leaf(*args, **kwargs)
        class root(Controller):
            @Tag('t1')
            def tagged(self, tag, value='v'): return (tag, value)
    """)
    assert result("/tagged", value="x", junk="dropped") == ("t1", "x")
    assert t.root.tagged.__name__ == "tagged"
    assert "Tag" in t.root.tagged.filter_name


# --- binding ----------------------------------------------------------------

def test_P35_arguments_are_bound_before_the_call(tree):
    tree()
    assert result("/shop/cart/add", item="x", junk="ignored") == ("x", 1)
    assert result("/shop/cart/add", "x", "2", "surplus") == ("x", "2")
    with pytest.raises(http.HTTPExc) as e:
        result("/shop/cart/add", qty=2)
    assert e.value.status is http.BadRequest and e.value.args == ("Missing required parameters: item",)
    with pytest.raises(http.HTTPExc) as e:
        result("/shop/cart/add", "x", item="y")
    assert e.value.status is http.BadRequest


def test_a_typeerror_inside_a_leaf_propagates():
    def leaf(a):
        return len(a)

    with pytest.raises(TypeError):
        Destination(leaf)(5)


def test_bind_arguments_keyword_only_and_kwargs():
    def f(a, *, b, c=3, **rest): pass
    assert bind_arguments(f, [1], {"b": 2, "z": 9}) == ([1], {"b": 2, "z": 9})
    with pytest.raises(http.HTTPExc):
        bind_arguments(f, [1], {})


# --- regex routes -----------------------------------------------------------

def url(path):
    from smisk.core import URL
    u = URL()
    u.path = path
    return u


def test_regex_routes_and_P17_captured_groups_win(tree):
    tree("""
        from smisk.mvc import *
        class root(Controller):
            def get(self, key): return ('get', key)
            def set(self, key, value=None): return ('set', key, value)
    """)
    from smisk.config import config
    config.loads('"smisk.mvc.routes": [{"pattern": "^/entry/(?P<key>.+)", "methods": ["PUT", "POST"], '
                 '"destination": "/set"}, ["GET", "^/entry/(?P<key>.+)", "/get"]]', post_process=False)
    try:
        r = Router()
        r.configure()
        d, args, params = r("PUT", url("/entry/a.b"), [], {"key": "from-query", "value": 1})
        assert d(*args, **params) == ("set", "a.b", 1)
        d, args, params = r("GET", url("/entry/zz"), [], {})
        assert d(*args, **params) == ("get", "zz")
        d, args, params = r("DELETE", url("/entry/zz"), [], {})
        assert isinstance(d, routing.NotFoundDestination)  # no route: the tree, which has no /entry
        n = len(r.filters)
        r.configure()
        assert len(r.filters) == n  # configure() twice does not duplicate
    finally:
        config.pop("smisk.mvc.routes")


def test_P46_router_filter_replaces_same_pattern_and_methods_and_passes_params(tree):
    tree("""
        from smisk.mvc import *
        class root(Controller):
            def show(self, **kw): return kw
    """)
    r = Router()
    r.filter(r"^/a$", "/show", methods="get", params={"fixed": 1})
    r.filter(r"^/a$", "/show", methods=["GET"], params={"fixed": 2})
    r.filter(r"^/a$", "/show", methods="POST", params={"fixed": 3})
    assert len(r.filters) == 2 and r.filters[0].methods == ("GET",)
    d, args, params = r("GET", url("/a"), [], {})
    assert d(*args, **params) == {"fixed": 2}
    with pytest.raises(TypeError):
        r.filter(r"^/b$", "/show", methods=5)
    with pytest.raises(ValueError):
        RegExpFilter(5, "/show")
    with pytest.raises(ValueError):
        RegExpFilter("^/x", 5)


def test_regexp_filter_full_url_and_options_reflection():
    f = RegExpFilter(r"^https://example\.org/", "/Shop/", match_on_full_url=True, methods="GET")
    assert f.destination_path == "/shop"
    from smisk.core import URL
    assert f.match("GET", URL("https://example.org/x")) == ([], {})
    assert f.match("POST", URL("https://example.org/x")) == (None, None)
    assert f.match("OPTIONS", URL("https://example.org/x")) == ([], {})  # reflection is on


def test_configure_rejects_bad_routes():
    from smisk.config import config
    r = Router()
    for bad, exc in ((5, TypeError), ([{"pattern": "x"}], KeyError), ([["a"]], IndexError), ([3], TypeError)):
        config["smisk.mvc.routes"] = bad
        try:
            with pytest.raises(exc) as e:
                r.configure()
            assert "smisk.mvc.routes" in str(e.value)
        finally:
            config.pop("smisk.mvc.routes")


def test_P14_only_successful_resolutions_are_cached_in_a_bounded_lru(tree):
    tree("""
        from smisk.mvc import *
        class root(Controller):
            def __call__(self): return 'root'
            def a(self): return 'a'
    """)
    r = Router()
    for i in range(50):
        r.resolve(f"/miss-{i}")
    assert len(r.cache) == 0  # a flood of misses cannot fill memory
    r.resolve("/a")
    r.resolve("/A")
    assert list(r.cache) == ["/a"]
    old = routing.ROUTE_CACHE_SIZE
    routing.ROUTE_CACHE_SIZE = 1
    try:
        r.resolve("/")
        assert list(r.cache) == ["/"]
    finally:
        routing.ROUTE_CACHE_SIZE = old


def test_destination_properties(tree):
    t = tree()
    d = resolve_path("/shop/cart/add")
    assert d.path == ["shop", "cart", "add"] and d.uri == "/shop/cart/add" and str(d) == "/shop/cart/add"
    assert d.template_path == ["shop", "cart", "add"] and d.action is d.leaf
    assert d.canonical_leaf.__func__ is t.basket.add


def test_leaf_reflection(tree):
    tree("""
        from smisk.mvc import *
        class root(Controller):
            @expose(methods='GET', formats=['json'])
            def item(self, id, verbose=False):
                '''Returns one item.

                More details.'''
    """)
    info = control.leaf_reflection(leaf_at("/item"))
    assert info == {"params": {"id": {"description": None, "required": True},
                               "verbose": {"description": None, "required": False}},
                    "description": "Returns one item", "formats": ["json"],
                    "methods": ["GET", "HEAD", "OPTIONS"]}
