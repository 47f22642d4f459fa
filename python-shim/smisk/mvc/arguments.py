"""Binding a request's arguments to a leaf's signature: what the client
sent that the leaf does not take is dropped, what it requires and did not
get is the client's error (400), before the leaf runs."""
import inspect
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from smisk.mvc import http
from smisk.util.cache import callable_cache_key

__all__ = ["bind_arguments", "binding"]

_plan_cache: Dict[Any, Optional["_Plan"]] = {}
_MISSING = object()
_lock = threading.Lock()


def clear_cache() -> None:
    _plan_cache.clear()


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_BY_NAME = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class _Plan:
    """What a signature accepts, worked out once per callable."""

    __slots__ = ("positional", "varargs", "varkw", "names", "required")

    def __init__(self, sig: inspect.Signature) -> None:
        parameters = list(sig.parameters.values())
        self.positional = tuple(p.name for p in parameters if p.kind in _POSITIONAL)
        self.varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)
        self.varkw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
        self.names = frozenset(p.name for p in parameters if p.kind in _BY_NAME)
        self.required = tuple(p.name for p in parameters
                              if p.default is inspect.Parameter.empty and p.kind in _POSITIONAL + _BY_NAME)


def _plan(func: Any) -> Optional[_Plan]:
    try:
        key = callable_cache_key(func)
        plan = _plan_cache.get(key, _MISSING)
    except TypeError:  # unhashable: not cached
        key, plan = None, _MISSING
    if plan is not _MISSING:
        return plan  # type: ignore[return-value]
    try:
        plan = _Plan(inspect.signature(func, follow_wrapped=False))
    except (TypeError, ValueError):
        plan = None
    if key is not None:
        with _lock:
            if len(_plan_cache) >= 4096:
                _plan_cache.clear()
            _plan_cache[key] = plan
    return plan  # type: ignore[return-value]


def bind_arguments(func: Any, args: Sequence[Any], params: Dict[str, Any]) -> Tuple[List[Any], Dict[str, Any]]:
    """The arguments `func` accepts out of what a request supplied: surplus
    positionals dropped unless it takes *args, unknown keywords dropped
    unless it takes **kwargs. A required parameter missing, or one given
    both positionally and by name, is the client's error: http.BadRequest."""
    plan = _plan(func)
    args = list(args)
    if plan is None:
        return args, dict(params)
    if not plan.varargs:
        del args[len(plan.positional):]
    given_positionally = plan.positional[:len(args)]
    if given_positionally and params:
        twice = sorted(k for k in params if k in given_positionally)
        if twice:
            raise http.BadRequest(f"Parameters given twice: {', '.join(twice)}")
    if plan.varkw:
        kwargs = dict(params)
    else:
        names = plan.names
        kwargs = {k: v for k, v in params.items() if k in names}
    if plan.required:
        missing = [n for n in plan.required if n not in kwargs and n not in given_positionally]
        if missing:
            raise http.BadRequest(f"Missing required parameters: {', '.join(missing)}")
    return args, kwargs


def binding(leaf: Any) -> Callable[..., Any]:
    """`leaf` behind bind_arguments(): what a leaf filter calls, so the
    arguments the filter adds or removes are checked against the leaf."""
    def bound_call(*args: Any, **kwargs: Any) -> Any:
        args2, kwargs2 = bind_arguments(leaf, args, kwargs)
        return leaf(*args2, **kwargs2)

    for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
        if hasattr(leaf, attr):
            setattr(bound_call, attr, getattr(leaf, attr))
    bound_call.__dict__.update(getattr(leaf, "__dict__", {}))
    bound_call.__wrapped__ = leaf  # type: ignore[attr-defined]
    return bound_call
