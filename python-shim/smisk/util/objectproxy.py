"""ObjectProxy: forwards (almost) everything to another object.

Kept for applications that import it; smisk.core's app/request/response
proxies do not use it (they follow Application.current instead)."""
from typing import Any, Iterator

__all__ = ["ObjectProxy"]


class ObjectProxy:
    """Forwards attribute and item access, calls, iteration, len, `in`,
    hash, bool, == and repr to the wrapped object (`_object()`), which
    `_set_object(obj)` replaces."""

    __slots__ = ("__obj",)

    def __init__(self, obj: Any = None) -> None:
        object.__setattr__(self, "_ObjectProxy__obj", obj)

    def _object(self) -> Any:
        return object.__getattribute__(self, "_ObjectProxy__obj")

    def _set_object(self, obj: Any) -> None:
        object.__setattr__(self, "_ObjectProxy__obj", obj)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._object(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._object(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._object(), name)

    def __getitem__(self, key: Any) -> Any:
        return self._object()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._object()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._object()[key]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._object()(*args, **kwargs)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._object())

    def __len__(self) -> int:
        return len(self._object())

    def __contains__(self, item: Any) -> bool:
        return item in self._object()

    def __hash__(self) -> int:
        return hash(self._object())

    def __bool__(self) -> bool:
        return bool(self._object())

    def __eq__(self, other: Any) -> bool:
        return bool(self._object() == other)

    def __ne__(self, other: Any) -> bool:
        return bool(self._object() != other)

    def __repr__(self) -> str:
        obj = self._object()
        try:
            return repr(obj)
        except Exception:
            # A broken target must not make the proxy unprintable.
            return f"<ObjectProxy of {type(obj).__name__} object at {id(obj):#x}>"
