"""Binding a request's arguments to a leaf's signature: what the client
sent that the leaf does not take is dropped, what it requires and did not
get is the client's error (400), before the leaf runs."""
import inspect
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from smisk.mvc import http
from smisk.util.cache import callable_cache_key

__all__ = ["bind_arguments", "binding"]

_signature_cache: Dict[Any, Optional[inspect.Signature]] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    _signature_cache.clear()


def _signature(func: Any) -> Optional[inspect.Signature]:
    try:
        key = callable_cache_key(func)
        hash(key)
    except TypeError:
        key = None
    if key is not None and key in _signature_cache:
        return _signature_cache[key]
    try:
        sig: Optional[inspect.Signature] = inspect.signature(func, follow_wrapped=False)
    except (TypeError, ValueError):
        sig = None
    if key is not None:
        with _lock:
            if len(_signature_cache) >= 4096:
                _signature_cache.clear()
            _signature_cache[key] = sig
    return sig


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_BY_NAME = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def bind_arguments(func: Any, args: Sequence[Any], params: Dict[str, Any]) -> Tuple[List[Any], Dict[str, Any]]:
    """The arguments `func` accepts out of what a request supplied: surplus
    positionals dropped unless it takes *args, unknown keywords dropped
    unless it takes **kwargs. A required parameter missing, or one given
    both positionally and by name, is the client's error: http.BadRequest."""
    sig = _signature(func)
    args = list(args)
    if sig is None:
        return args, dict(params)
    parameters = list(sig.parameters.values())
    positional = [p for p in parameters if p.kind in _POSITIONAL]
    takes_varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)
    takes_varkw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    if not takes_varargs:
        args = args[:len(positional)]
    given_positionally = {p.name for p in positional[:len(args)]}
    twice = sorted(k for k in params if k in given_positionally)
    if twice:
        raise http.BadRequest(f"Parameters given twice: {', '.join(twice)}")
    if takes_varkw:
        kwargs = dict(params)
    else:
        names = {p.name for p in parameters if p.kind in _BY_NAME}
        kwargs = {k: v for k, v in params.items() if k in names}
    missing = [p.name for p in parameters
               if p.default is inspect.Parameter.empty and p.kind in _POSITIONAL + _BY_NAME
               and p.name not in given_positionally and p.name not in kwargs]
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
