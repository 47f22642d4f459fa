"""What a callable accepts, and wrappers that make it accept anything.

Everything is on the class `introspect` (as in Smisk 1.x):
`introspect.callable_info(f)`, `introspect.getargspec(f)`,
`introspect.ensure_va_kwa(f)`, `introspect.format_members(o)`."""

import inspect
import reprlib
import threading
from typing import Any, Callable, Dict, Hashable, List, Optional, Tuple

from smisk.util.cache import callable_cache_key
from smisk.util.frozen import frozendict
from smisk.util.type import Undefined

__all__ = ["introspect", "repr2"]

_repr = reprlib.Repr()
_repr.maxstring = 200
_repr.maxother = 200
_repr.maxlong = 100

repr2: Callable[[Any], str] = _repr.repr
"""A repr limited to about 200 characters per string or other value."""

_ARGS_KINDS = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
               inspect.Parameter.KEYWORD_ONLY)
_POSITIONAL_KINDS = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)

_CACHE_LIMIT = 4096


def _defined_in_class_body(func: Any) -> bool:
    """True for a plain function written inside a class statement: what
    Python 2 called an unbound method (`SomeClass.method`)."""
    qualname = getattr(func, "__qualname__", "")
    head, dot, _ = qualname.rpartition(".")
    return bool(dot) and not head.endswith("<locals>")


def _innermost(f: Any) -> Any:
    """Follows wrapped_func / __wrapped__ (ensure_va_kwa, functools.wraps,
    leaf filters) to the callable whose parameters matter."""
    seen = set()
    while id(f) not in seen:
        seen.add(id(f))
        inner = getattr(f, "wrapped_func", None)
        if inner is None:
            inner = getattr(f, "__wrapped__", None)
        if inner is None or not callable(inner):
            break
        f = inner
    return f


def _signature(f: Any) -> Optional[inspect.Signature]:
    try:
        return inspect.signature(f, follow_wrapped=False)
    except (TypeError, ValueError):  # builtins without a text signature
        return None


def _drops_self(f: Any, sig: inspect.Signature) -> Tuple[bool, List[inspect.Parameter]]:
    """(method, parameters without the instance parameter)."""
    params = list(sig.parameters.values())
    if inspect.ismethod(f):
        return True, params  # signature() of a bound method omits self already
    if inspect.isfunction(f) and _defined_in_class_body(f) and params and params[0].name == "self" \
            and params[0].kind in _POSITIONAL_KINDS:
        return True, params[1:]
    if not inspect.isfunction(f) and not inspect.isbuiltin(f) and not inspect.isclass(f):
        return True, params  # a callable object: its bound __call__
    return False, params


class introspect:
    VARARGS = 4
    KWARGS = 8

    _info_cache: Dict[Hashable, frozendict] = {}
    _cache_lock = threading.Lock()

    @classmethod
    def callable_info(cls, f: Any) -> Optional[frozendict]:
        """A cached frozendict describing callable `f`, or None for a
        non-callable: name (str), args (tuple of (name, default) pairs,
        default `Undefined` when there is none; keyword-only parameters
        included, in order), varargs and varkw (bool: takes *args /
        **kwargs), method (bool: an instance parameter was removed).

        Arguments and defaults are read through wrapped_func/__wrapped__;
        varargs and varkw are those of `f` itself (a wrapper that adds
        *args, **kwargs reports them)."""
        if not callable(f):
            return None
        key = callable_cache_key(f)
        try:
            cached = cls._info_cache.get(key)
        except TypeError:  # an unhashable callable: not cached
            cached, key = None, None
        if cached is not None:
            return cached
        outer_sig = _signature(f)
        inner = _innermost(f)
        inner_sig = _signature(inner) if inner is not f else outer_sig
        if outer_sig is None or inner_sig is None:
            return None
        method, params = _drops_self(inner, inner_sig)
        if inner is not f and inspect.ismethod(f):
            method = True
        outer_kinds = {p.kind for p in outer_sig.parameters.values()}
        args = tuple((p.name, Undefined if p.default is inspect.Parameter.empty else p.default)
                     for p in params if p.kind in _ARGS_KINDS)
        name = getattr(f, "__name__", None) or getattr(inner, "__name__", None) or type(f).__name__
        info = frozendict({
            "name": name,
            "args": args,
            "varargs": inspect.Parameter.VAR_POSITIONAL in outer_kinds,
            "varkw": inspect.Parameter.VAR_KEYWORD in outer_kinds,
            "method": method,
        })
        if key is not None:
            with cls._cache_lock:
                if len(cls._info_cache) >= _CACHE_LIMIT:
                    cls._info_cache.clear()  # bounded: dynamically made callables must not pile up
                cls._info_cache[key] = info
        return info

    @classmethod
    def getargspec(cls, f: Any) -> Tuple[bool, List[str], bool, bool, Optional[Tuple[Any, ...]]]:
        """(is_method, args, varargs, varkw, defaults) for `f`, with the
        rules of callable_info(): args are the parameter names; defaults
        the defaults of the trailing parameters that have one (None when
        none does). TypeError for a non-callable."""
        info = cls.callable_info(f)
        if info is None:
            raise TypeError(f"{f!r} is not a callable with a signature")
        names = [name for name, _ in info["args"]]
        defaults: List[Any] = []
        for _, default in reversed(info["args"]):
            if default is Undefined:
                break
            defaults.insert(0, default)
        return info["method"], names, info["varargs"], info["varkw"], tuple(defaults) or None

    @classmethod
    def ensure_va_kwa(cls, f: Any, parent: Any = None) -> Any:
        """`f` when it takes both *args and **kwargs; otherwise a wrapper
        accepting anything that passes `f` at most as many positional
        arguments as it names (all of them when it takes *args) and, unless
        `f` takes **kwargs, only the keywords it names. The wrapper carries
        f's __name__, __doc__ and attributes (slug, methods, formats,
        template, delegates, hidden, ...), and wrapped_func = __wrapped__ =
        f. With `parent`, the wrapper is also set as parent.<f.__name__>.
        None for a non-callable."""
        info = cls.callable_info(f)
        if info is None:
            return None
        sig = _signature(f)
        params = list(sig.parameters.values()) if sig is not None else []
        kinds = {p.kind for p in params}
        takes_varargs = inspect.Parameter.VAR_POSITIONAL in kinds
        takes_varkw = inspect.Parameter.VAR_KEYWORD in kinds
        if takes_varargs and takes_varkw:
            return f
        n_positional = sum(1 for p in params if p.kind in _POSITIONAL_KINDS)
        keyword_names = frozenset(p.name for p in params if p.kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY))

        def va_kwa_wrapper(*args: Any, **kwargs: Any) -> Any:
            if not takes_varargs:
                args = args[:n_positional]
            if not takes_varkw:
                # A name also given positionally would be a duplicate: drop it.
                taken = {p.name for p in params[:len(args)] if p.kind in _POSITIONAL_KINDS}
                kwargs = {k: v for k, v in kwargs.items() if k in keyword_names and k not in taken}
            return f(*args, **kwargs)

        for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
            value = getattr(f, attr, None)
            if value is not None:
                setattr(va_kwa_wrapper, attr, value)
        va_kwa_wrapper.__dict__.update(getattr(f, "__dict__", {}))
        va_kwa_wrapper.wrapped_func = f  # type: ignore[attr-defined]
        va_kwa_wrapper.__wrapped__ = f  # type: ignore[attr-defined]
        if parent is not None:
            setattr(parent, info["name"], va_kwa_wrapper)
        return va_kwa_wrapper

    @classmethod
    def format_members(cls, o: Any, colorize: bool = False) -> str:
        """One 'name = repr' line per attribute of `o` (names padded to the
        longest); `colorize` adds ANSI colours, one per value type."""
        items = []
        for name in dir(o):
            try:
                value = getattr(o, name)
            except Exception as e:  # a property that raises still gets a line
                value = e
            items.append((name, value))
        width = max((len(name) for name, _ in items), default=0)
        colours: Dict[type, int] = {}
        lines = []
        for name, value in items:
            text = _repr.repr(value)
            if colorize:
                colour = 31 + colours.setdefault(type(value), len(colours)) % 5
                lines.append(f"\033[1;{colour}m{name:<{width}}\033[m = \033[1;{colour}m{text}\033[m")
            else:
                lines.append(f"{name:<{width}} = {text}")
        return "\n".join(lines)


