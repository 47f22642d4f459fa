"""The controller tree: classes mapped to URL paths.

The root is the first direct subclass of `Controller` named `root` (any
case); every subclass of a node is a child node (a class's parent is its
first base); the methods of a controller are its *leaves*. A controller's
URL name is the `slug` set on that class itself or its class name
underscored without 'Controller'; a leaf's is its `slug` or its name.
Segments match names case-insensitively.

An inherited leaf is not reachable through a subclass unless it is exposed
with `delegates=True`. To decide what "inherited" means, every function
that takes a node resolves its *context class* (Python 3 has no unbound
methods): a class is itself, a controller instance its class, a bound
method the class of its `__self__`, a plain function the class in whose
body it was written (from `__qualname__`), and a wrapped leaf (a leaf
filter, `ensure_va_kwa`) keeps the context of the outer object. To ask
"as seen from subclass X", pass `X().method` (controllers are singletons).

This module knows the tree and the names; walking a URL path over it is
routing.py's job."""
import inspect
import logging
import sys
import threading
from typing import Any, Dict, Iterator, List, Optional, Tuple

from smisk.inflection import inflection
from smisk.mvc.decorators import expose, leaf_chain
from smisk.util.cache import callable_cache_key
from smisk.util.introspect import introspect
from smisk.util.string import tokenize_path
from smisk.util.type import Undefined

__all__ = ["root_controller", "controllers", "node_name", "uri_for", "path_to", "template_for",
           "method_origin", "leaf_is_visible", "Controller", "enable_reflection", "leaf_reflection"]

log = logging.getLogger(__name__)

enable_reflection = True
"""The smisk:* leaves of the root and OPTIONS reflection answers."""

REFLECTION_METHODS = ("OPTIONS", "GET", "HEAD")
ALL_METHODS = ("OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE")

_CACHE_LIMIT = 4096
_lock = threading.RLock()
_root: List[Any] = []          # [root class] once found
_path_cache: Dict[Any, Optional[Tuple[str, ...]]] = {}
_index_cache: Dict[type, "NodeIndex"] = {}
_reflection_cache: Dict[str, Any] = {}


def invalidate_caches() -> None:
    """Forgets the root, the paths and the per-class name indexes: call it
    after defining or removing controller classes at run time (tests do)."""
    with _lock:
        _root.clear()
        _path_cache.clear()
        _index_cache.clear()
        _reflection_cache.clear()
    from smisk.mvc import routing

    routing.invalidate_route_caches()


class ControllerType(type):
    """Controllers are singletons: cls() always returns the same instance,
    and __init__ runs only on the first call."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        instance = cls.__dict__.get("_smisk_instance")
        if instance is None:
            with _lock:
                instance = cls.__dict__.get("_smisk_instance")
                if instance is None:
                    instance = super().__call__(*args, **kwargs)
                    type.__setattr__(cls, "_smisk_instance", instance)
        return instance

    def __init__(cls, name: str, bases: Tuple[type, ...], ns: Dict[str, Any]) -> None:
        super().__init__(name, bases, ns)
        if _root or _index_cache or _path_cache:
            invalidate_caches()  # a class defined after routing started


# --- names and context ------------------------------------------------------

def _is_controller_class(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, Controller)


def parent_of(cls: type) -> Optional[type]:
    """The parent node of a controller class: its first base."""
    base = cls.__bases__[0] if cls.__bases__ else None
    return base if base is not None and _is_controller_class(base) else None


def controller_name_of(cls: type) -> str:
    """The slug set on `cls` itself (not inherited), else the class name
    without 'Controller', underscored ('BasketItems' → 'basket_items')."""
    slug = cls.__dict__.get("slug")
    if isinstance(slug, str):
        return slug
    return inflection.underscore(cls.__name__.replace("Controller", ""))


def leaf_name_of(leaf: Any) -> Optional[str]:
    slug = getattr(leaf, "slug", None)
    if isinstance(slug, str):
        return slug
    return getattr(leaf, "__name__", None)


def _resolve_qualname(func: Any) -> Optional[type]:
    """The class whose body defined the plain function `func`, found from
    its __module__ and __qualname__ ('root.about' → module.root)."""
    qualname = getattr(func, "__qualname__", "") or ""
    head, dot, _ = qualname.rpartition(".")
    if not dot or "<locals>" in head:
        return None
    obj: Any = sys.modules.get(getattr(func, "__module__", "") or "")
    for part in head.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj if isinstance(obj, type) else None


def context_class(node: Any) -> Optional[type]:
    """The class a node is seen from (see the module docstring)."""
    if isinstance(node, type):
        return node
    if isinstance(node, Controller):
        return type(node)
    owner = getattr(node, "__self__", None)
    if owner is not None and not inspect.ismodule(owner):
        return owner if isinstance(owner, type) else type(owner)
    for inner in leaf_chain(node):
        owner = getattr(inner, "__self__", None)
        if owner is not None and not inspect.ismodule(owner):
            return owner if isinstance(owner, type) else type(owner)
        found = _resolve_qualname(inner)
        if found is not None:
            return found
    return None


def _functions(node: Any) -> List[Any]:
    """The plain functions behind a node: every layer of its wrapper chain,
    bound methods unwrapped."""
    out = []
    for inner in leaf_chain(node):
        func = getattr(inner, "__func__", inner)
        if func not in out:
            out.append(func)
    return out


def _dict_function(value: Any) -> Any:
    return value.__func__ if isinstance(value, (classmethod, staticmethod)) else value


def method_origin(method: Any) -> Optional[type]:
    """The first class in the context class's MRO whose own __dict__ holds
    the method's function (or one of its wrappers), or None."""
    cls = context_class(method)
    if cls is None:
        return None
    return _origin_in(cls, method)


def _origin_in(cls: type, method: Any) -> Optional[type]:
    funcs = _functions(method)
    name = getattr(funcs[0], "__name__", None)
    for klass in cls.__mro__:
        d = klass.__dict__
        candidates = [d[name]] if isinstance(name, str) and name in d else []
        candidates += [v for k, v in d.items() if k != name]
        for value in candidates:
            if _dict_function(value) in funcs:
                return klass
    return None


def _call_leaf_of(node: Any) -> Any:
    """A controller's __call__ leaf (bound on its instance), or None."""
    cls = node if isinstance(node, type) else type(node)
    for klass in cls.__mro__:
        if "__call__" in klass.__dict__ and klass is not object:
            if klass is ControllerType or not _is_controller_class(klass):
                return None
            return getattr(cls(), "__call__")
    return None


def _is_reflection_leaf(origin: Optional[type], leaf: Any) -> bool:
    name = getattr(_functions(leaf)[-1], "__name__", "")
    return origin is Controller and name.startswith("smisk_")


def leaf_is_visible(node: Any, cls: Optional[type] = None) -> bool:
    """Whether leaf `node` can be reached as seen from `cls` (default: its
    context class): not hidden, and delegating or defined by `cls` itself.
    The root also shows Controller's smisk:* leaves while reflection is on."""
    if cls is None:
        cls = context_class(node)
    if cls is None:
        return False
    if not inspect.isroutine(node) and not callable(getattr(node, "parent_leaf", None)):
        if isinstance(node, type) or isinstance(node, Controller):
            node = _call_leaf_of(node)
        else:
            node = getattr(node, "__call__", None)
        if node is None:
            return False
    if getattr(node, "hidden", False):
        return False
    if getattr(node, "delegates", False):
        return True
    origin = _origin_in(cls, node)
    if origin is cls:
        return True
    return enable_reflection and _is_reflection_leaf(origin, node) and cls is root_controller()


# --- the tree ---------------------------------------------------------------

def root_controller() -> Optional[type]:
    """The root controller class, or None."""
    if _root:
        return _root[0]  # type: ignore[no-any-return]
    for cls in Controller.__subclasses__():
        if cls.__name__.lower() == "root" and parent_of(cls) is Controller:
            with _lock:
                _root[:] = [cls]
            return cls
    return None


def children_of(cls: type) -> List[type]:
    """The direct child nodes of a controller class, in definition order."""
    subclasses: List[type] = cls.__subclasses__()
    return [c for c in subclasses if parent_of(c) is cls]


def _walk(cls: type) -> Iterator[type]:
    yield cls
    for child in children_of(cls):
        yield from _walk(child)


def controllers() -> List[Any]:
    """The instance of the root and of every descendant (empty without a root)."""
    root = root_controller()
    return [] if root is None else [c() for c in _walk(root)]


def _class_path(cls: type) -> Optional[Tuple[str, ...]]:
    root = root_controller()
    if root is None:
        return None
    names: List[str] = []
    node: Optional[type] = cls
    while node is not root:
        if node is None or node is Controller or node.__dict__.get("hidden", False):
            return None
        names.append(controller_name_of(node))
        node = parent_of(node)
    return tuple(reversed(names))


def _path(node: Any) -> Optional[Tuple[str, ...]]:
    if isinstance(node, type) or isinstance(node, Controller):
        cls = node if isinstance(node, type) else type(node)
        return _class_path(cls) if _is_controller_class(cls) else None
    context = context_class(node)
    if context is None or not _is_controller_class(context) or not leaf_is_visible(node, context):
        return None
    base = _class_path(context)
    if base is None:
        return None
    name = leaf_name_of(_functions(node)[0])
    if name == "__call__":
        return base
    return base + (name,) if name else None


def path_to(node: Any) -> Optional[List[str]]:
    """The URL segments from the root to `node` (a controller class or
    instance, or a leaf), or None when it is not on the tree, hidden or not
    visible from its context class. The root and root.__call__ are []."""
    try:
        key = callable_cache_key(node)
        hash(key)
    except TypeError:
        key = None
    if key is not None and key in _path_cache:
        cached = _path_cache[key]
    else:
        cached = _path(node)
        if key is not None:
            with _lock:
                if len(_path_cache) >= _CACHE_LIMIT:
                    _path_cache.clear()
                _path_cache[key] = cached
    return None if cached is None else list(cached)


def _is_call_leaf(node: Any) -> bool:
    return getattr(_functions(node)[0], "__name__", None) == "__call__" and leaf_name_of(node) == "__call__"


def _is_controller_node(node: Any) -> bool:
    return isinstance(node, Controller) or _is_controller_class(node)


def node_name(node: Any) -> Optional[str]:
    """The last segment of path_to(node): '' for the root, None when not exposed."""
    path = path_to(node)
    if path is None:
        return None
    return path[-1] if path else ""


def uri_for(node: Any) -> Optional[str]:
    """'/' + the path; controllers and __call__ leaves end with '/' (the
    root is '/'); None when not exposed."""
    path = path_to(node)
    if path is None:
        return None
    uri = "/" + "/".join(path)
    if path and (_is_controller_node(node) or _is_call_leaf(node)):
        uri += "/"
    return uri


def template_for(node: Any) -> Optional[List[str]]:
    """The template path of a node: its `template` attribute (tokenized,
    extension removed) when set; controllers and __call__ leaves end in
    '__call__'; other leaves are their path. None when not exposed."""
    template = getattr(node, "template", None)
    if isinstance(template, str) and not _is_controller_node(node):
        return tokenize_path(template)
    path = path_to(node)
    if path is None:
        return None
    if _is_controller_node(node) or _is_call_leaf(node):
        return path + ["__call__"]
    return path


# --- leaves of one controller ----------------------------------------------

class NodeIndex:
    """What URL segments mean at one controller class: child controllers and
    leaves by lower-cased name."""

    def __init__(self, cls: type) -> None:
        self.children: Dict[str, type] = {}
        for child in children_of(cls):
            if not child.__dict__.get("hidden", False):
                self.children.setdefault(controller_name_of(child).lower(), child)
        self.leaves: Dict[str, List[str]] = {}
        for attr in dir(cls):
            if attr.startswith("_"):
                continue
            static = inspect.getattr_static(cls, attr, None)
            if isinstance(static, (classmethod, staticmethod, type, property)) or not callable(static):
                continue
            name = leaf_name_of(static)
            if not name or name.startswith("_"):
                continue
            self.leaves.setdefault(name.lower(), []).append(attr)


def node_index(cls: type) -> NodeIndex:
    index = _index_cache.get(cls)
    if index is None:
        index = NodeIndex(cls)
        with _lock:
            _index_cache[cls] = index
    return index


def leaves_of(cls: type) -> Iterator[Any]:
    """Every visible leaf of a controller, bound on its instance."""
    instance = cls()
    for attrs in node_index(cls).leaves.values():
        for attr in attrs:
            leaf = getattr(instance, attr)
            if leaf_is_visible(leaf, cls):
                yield leaf


# --- reflection -------------------------------------------------------------

def _description(leaf: Any) -> str:
    doc = inspect.getdoc(_functions(leaf)[-1]) or inspect.getdoc(leaf) or ""
    first = doc.strip().split("\n\n", 1)[0]
    first = " ".join(first.split())
    return first[:-1] if first.endswith(".") else first


def leaf_reflection(leaf: Any) -> Optional[Dict[str, Any]]:
    """What a client may know about a leaf: params (name → required),
    description, formats, methods. None when not exposed."""
    if _is_controller_node(leaf):
        leaf = _call_leaf_of(leaf)
        if leaf is None:
            return None
    if path_to(leaf) is None:
        return None
    from smisk.serialization import serializers

    info = introspect.callable_info(_functions(leaf)[-1])
    params: Dict[str, Dict[str, Any]] = {}
    if info is not None:
        for name, default in info["args"]:
            if name == "self":
                continue
            params[name] = {"description": None, "required": default is Undefined}
    formats = getattr(leaf, "formats", None)
    if formats is None:
        formats = [s.extensions[0] for s in serializers if s.extensions]
    methods = getattr(leaf, "methods", None)
    if methods:
        out = list(methods)
        if "GET" in out and "HEAD" not in out:
            out.append("HEAD")
        if "OPTIONS" not in out:
            out.append("OPTIONS")
    else:
        out = list(ALL_METHODS)
    return {"params": params, "description": _description(leaf), "formats": list(formats), "methods": out}


def _matches(key: str, filter: Optional[str]) -> bool:
    """Reflection filters are plain case-insensitive substrings: a client
    never supplies a regular expression."""
    return not filter or str(filter).lower() in key.lower()


def _all_reflections() -> Dict[str, Any]:
    if "methods" in _reflection_cache:
        return _reflection_cache["methods"]  # type: ignore[no-any-return]
    out: Dict[str, Any] = {}
    for instance in controllers():
        cls = type(instance)
        call = _call_leaf_of(cls)
        if call is not None and leaf_is_visible(call, cls):
            uri = uri_for(cls)
            info = leaf_reflection(call)
            if uri is not None and info is not None:
                out[uri] = info
        for leaf in leaves_of(cls):
            uri = uri_for(leaf)
            info = leaf_reflection(leaf)
            if uri is not None and info is not None:
                out[uri] = info
    with _lock:
        _reflection_cache["methods"] = out
    return out


class Controller(metaclass=ControllerType):
    """Base class of controllers. Subclass it with a class named `root`;
    subclasses of that are the nodes below it."""

    smisk_enable_specials = True  # deprecated, no effect

    @classmethod
    def controller_name(cls) -> str:
        return controller_name_of(cls)

    @classmethod
    def controller_path(cls) -> Optional[List[str]]:
        return path_to(cls)

    @classmethod
    def controller_uri(cls) -> Optional[str]:
        return uri_for(cls)

    @classmethod
    def special_methods(cls) -> Dict[str, Any]:
        """Exposed name → function of the smisk:* leaves."""
        out = {}
        for attr, value in vars(Controller).items():
            if attr.startswith("smisk_") and callable(value):
                out[leaf_name_of(value) or attr] = value
        return out

    @expose("smisk:methods", methods=REFLECTION_METHODS)
    def smisk_methods(self, filter: Optional[str] = None, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        """The exposed URIs with their parameters, formats and methods."""
        return {k: v for k, v in _all_reflections().items() if _matches(k, filter)}

    @expose("smisk:charsets", methods=REFLECTION_METHODS)
    def smisk_charsets(self, filter: Optional[str] = None, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        """The character sets responses can be encoded in."""
        from smisk.charsets import charsets

        return {k: v for k, v in charsets.items() if _matches(k, filter)}

    @expose("smisk:serializers", methods=REFLECTION_METHODS)
    def smisk_serializers(self, filter: Optional[str] = None, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        """The formats (serializers) requests and responses can use."""
        from smisk.serialization import serializers

        out = {}
        for s in serializers:
            if _matches(s.name, filter):
                out[s.name] = {"extensions": list(s.extensions), "media_types": list(s.media_types),
                               "preferred_charset": s.charset, "description": inspect.getdoc(s) or "",
                               "directions": s.directions()}
        return out

    def redirect_to_referrer(self, fallback: str = "/") -> None:
        """Redirects (302) to the Referer when it is this site (same scheme,
        host and port, or a relative path), else to `fallback`."""
        from smisk.core import request
        from smisk.mvc import http
        from smisk.mvc.helpers import is_same_origin

        referrer = request.env.get("HTTP_REFERER") if request else None
        raise http.Found(referrer if referrer and is_same_origin(referrer) else fallback)

    redirect_to_referrer.hidden = True  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"<Controller {controller_name_of(type(self))} uri={uri_for(type(self))!r}>"
