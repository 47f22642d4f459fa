"""From a request path to a leaf: regex routes first, then the walk over the
controller tree.

`Router(method, url, args, params)` returns `(Destination, args, params)`.
A path that leads nowhere is not an exception here: the destination raises
`http.MethodNotFound` when it is called, so callers decide when a miss
matters. Only successful walks are cached, in a bounded LRU."""
import inspect
import logging
import re
import threading
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from smisk.mvc import arguments, control, http
from smisk.mvc.arguments import bind_arguments, binding
from smisk.mvc.decorators import leaf_chain
from smisk.util.cache import callable_cache_key

__all__ = ["Destination", "Filter", "Router", "RegExpFilter", "resolve_path", "bind_arguments"]

log = logging.getLogger(__name__)

ROUTE_CACHE_SIZE = 1024

_routers: "List[Router]" = []
_lock = threading.Lock()


def invalidate_route_caches() -> None:
    for router in list(_routers):
        router.cache.clear()
    arguments.clear_cache()


# --- destinations -----------------------------------------------------------

class Destination:
    """A resolved leaf: call it with the request's arguments."""

    def __init__(self, leaf: Any) -> None:
        self.leaf = leaf
        formats = getattr(leaf, "formats", None)
        self.formats: Optional[Tuple[str, ...]] = tuple(formats) if formats is not None else None

    @property
    def canonical_leaf(self) -> Any:
        """The leaf itself, under any leaf filters or wrappers."""
        return leaf_chain(self.leaf)[-1]

    @property
    def path(self) -> Optional[List[str]]:
        return control.path_to(self.leaf)

    @property
    def uri(self) -> Optional[str]:
        return control.uri_for(self.leaf)

    @property
    def template_path(self) -> Optional[List[str]]:
        return control.template_for(self.leaf)

    @property
    def action(self) -> Any:  # deprecated alias
        return self.leaf

    def __call__(self, *args: Any, **params: Any) -> Any:
        args2, params2 = bind_arguments(self.leaf, args, params)
        return self.leaf(*args2, **params2)

    def __str__(self) -> str:
        path = self.path
        return "/" + "/".join(path) if path is not None else "/"

    def __repr__(self) -> str:
        return f"<Destination {self}>"


class NotFoundDestination(Destination):
    """A path that leads nowhere: calling it raises `status(description)`."""

    def __init__(self, description: Optional[str] = None, status: http.Status = http.MethodNotFound) -> None:
        super().__init__(None)
        self.description = description  # None: "No resource exists at <path>"
        self.status = status

    @property
    def path(self) -> Optional[List[str]]:
        return None

    @property
    def template_path(self) -> Optional[List[str]]:
        return None

    def __call__(self, *args: Any, **params: Any) -> Any:
        raise self.status(self.description)


# --- the tree walk ----------------------------------------------------------

def resolve_path(path: str) -> Destination:
    """The destination of a URL path on the controller tree (not cached)."""
    root = control.root_controller()
    if root is None:
        return NotFoundDestination("No root controller exists", http.ControllerNotFound)
    # Not tokenize_path(): the format extension is already gone from
    # cn_url, so a dot left in the last segment is part of the name
    # ('/about.foo' is not '/about').
    segments = [s.lower() for s in path.split("/") if s]
    node: type = root
    leaf: Any = None
    for i, segment in enumerate(segments):
        index = control.node_index(node)
        child = index.children.get(segment)
        if child is not None:
            node = child
            continue
        instance = node()
        for attr in index.leaves.get(segment, ()):
            candidate = getattr(instance, attr)
            if getattr(candidate, "hidden", False):
                continue  # a hidden leaf is as if absent
            if control.leaf_is_visible(candidate, node):
                leaf = candidate
            break
        if leaf is None or i != len(segments) - 1:
            return NotFoundDestination()  # no such name, or a segment after a leaf
        return Destination(leaf)
    call = control._call_leaf_of(node)
    if call is None or not control.leaf_is_visible(call, node):
        return NotFoundDestination()
    return Destination(call)


# --- regex routes -----------------------------------------------------------

def _methods(methods: Union[None, str, Sequence[str]]) -> Optional[Tuple[str, ...]]:
    if methods is None:
        return None
    if isinstance(methods, str):
        return (methods.upper(),)
    if isinstance(methods, (list, tuple)):
        for m in methods:
            if not isinstance(m, str):
                raise TypeError(f"methods must be strings, not {type(m).__name__}")
        return tuple(m.upper() for m in methods)
    raise TypeError(f"methods must be a string or a list of strings, not {type(methods).__name__}")


class Filter:
    def match(self, method: str, url: Any) -> Tuple[Optional[List[Any]], Optional[Dict[str, Any]]]:
        return None, None


class RegExpFilter(Filter):
    """A route: a regular expression on the URL path (or the whole URL) that
    sends matching requests to `destination_path` on the tree; named groups
    become parameters."""

    def __init__(self, pattern: Any, destination_path: Any, regexp_flags: Any = re.I,
                 match_on_full_url: bool = False, methods: Union[None, str, Sequence[str]] = None,
                 params: Optional[Dict[str, Any]] = None) -> None:
        from smisk.core import URL

        if not isinstance(regexp_flags, int):
            regexp_flags = 0
        if isinstance(pattern, str):
            self.pattern = re.compile(pattern, regexp_flags)
        elif isinstance(pattern, re.Pattern):
            self.pattern = pattern
        else:
            raise ValueError(f"pattern must be a string or a compiled regular expression, not {pattern!r}")
        if isinstance(destination_path, URL):
            destination_path = destination_path.path or "/"
        if not isinstance(destination_path, str):
            raise ValueError(f"destination_path must be a string or URL, not {destination_path!r}")
        self.destination_path = destination_path.lower().rstrip("/") or "/"
        self.match_on_full_url = match_on_full_url
        self.methods = _methods(methods)
        self.params = dict(params or {})

    def match(self, method: str, url: Any) -> Tuple[Optional[List[Any]], Optional[Dict[str, Any]]]:
        if self.methods is not None and method.upper() not in self.methods:
            if not (method.upper() == "OPTIONS" and control.enable_reflection):
                return None, None
        m = self.pattern.match(str(url) if self.match_on_full_url else (url.path or "/"))
        if m is None:
            return None, None
        params = dict(self.params)
        params.update({k: v for k, v in m.groupdict().items() if v is not None})
        return [], params

    def __repr__(self) -> str:
        return f"<RegExpFilter {self.pattern.pattern!r} → {self.destination_path} {self.methods or ''}>"


class Router:
    """Regex routes (`filters`, first match wins), then the controller tree."""

    def __init__(self) -> None:
        self.filters: List[RegExpFilter] = []
        self.cache: "OrderedDict[str, Destination]" = OrderedDict()
        self._configured: List[RegExpFilter] = []
        _routers.append(self)

    def filter(self, pattern: Any, destination_path: Any, regexp_flags: Any = re.I, match_on_full_url: bool = False,
               params: Optional[Dict[str, Any]] = None,
               methods: Union[None, str, Sequence[str]] = None) -> RegExpFilter:
        """Adds a route; one with the same pattern text and methods replaces
        the earlier one in place."""
        f = RegExpFilter(pattern, destination_path, regexp_flags, match_on_full_url, methods, params)
        for i, existing in enumerate(self.filters):
            if existing.pattern.pattern == f.pattern.pattern and existing.methods == f.methods:
                self.filters[i] = f
                return f
        self.filters.append(f)
        return f

    def configure(self, config_key: str = "smisk.mvc.routes") -> None:
        """(Re)reads the routes from the configuration: a list of
        {'pattern', 'destination', 'methods'?} dicts or [pattern, destination]
        / [methods, pattern, destination] lists."""
        from smisk.config import config
        from smisk.core import URL

        routes = config.get(config_key, None)
        self.cache.clear()
        for f in self._configured:
            if f in self.filters:
                self.filters.remove(f)
        self._configured = []
        if routes is None:
            return
        if not isinstance(routes, (list, tuple)):
            raise TypeError(f"configuration key {config_key!r} must be a list, not {type(routes).__name__}")
        for n, item in enumerate(routes):
            where = f"{config_key}[{n}]"
            methods: Any = None
            if isinstance(item, dict):
                for key in ("pattern", "destination"):
                    if key not in item:
                        raise KeyError(f"{where} has no {key!r}")
                pattern, destination, methods = item["pattern"], item["destination"], item.get("methods")
            elif isinstance(item, (list, tuple)):
                if len(item) == 2:
                    pattern, destination = item
                elif len(item) == 3:
                    methods, pattern, destination = item
                else:
                    raise IndexError(f"{where} must be [pattern, destination] or [methods, pattern, destination]")
            else:
                raise TypeError(f"{where} must be a dict or a list, not {type(item).__name__}")
            if not isinstance(destination, str):
                raise TypeError(f"{where}: 'destination' must be a string")
            url = URL(destination)
            f = self.filter(pattern, url.path or "/", match_on_full_url=bool(url.scheme), methods=methods)
            self._configured.append(f)
        log.debug("routes: %r", self.filters)

    def resolve(self, path: str) -> Destination:
        """The tree destination of `path`, through the cache (hits only)."""
        key = path.lower()
        cache = self.cache
        destination = cache.get(key)
        if destination is not None:
            cache.move_to_end(key)
            return destination
        destination = resolve_path(path)
        if not isinstance(destination, NotFoundDestination):
            cache[key] = destination
            if len(cache) > ROUTE_CACHE_SIZE:
                cache.popitem(last=False)
        return destination

    def __call__(self, method: str, url: Any, args: Sequence[Any], params: Dict[str, Any]) -> Tuple[Destination, List[Any], Dict[str, Any]]:
        for f in self.filters:
            route_args, route_params = f.match(method, url)
            if route_args is not None:
                merged = dict(params)
                merged.update(route_params or {})  # captured groups win over query and body
                return self.resolve(f.destination_path), list(route_args) + list(args), merged
        return self.resolve(url.path or "/"), list(args), params
