"""frozendict: a dict that cannot change after construction."""
from typing import Any, NoReturn

__all__ = ["frozendict"]


class frozendict(dict):
    """An immutable, hashable dict. Mutators raise TypeError; update()
    returns an updated mutable copy instead of changing this one."""

    __slots__ = ("_hash",)
    _hash: int

    def _immutable(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("frozendict is immutable")

    __setitem__ = __delitem__ = _immutable  # type: ignore[assignment]
    clear = pop = popitem = setdefault = _immutable  # type: ignore[assignment]
    __ior__ = _immutable  # type: ignore[assignment]

    def update(self, *args: Any, **kwargs: Any) -> dict:  # type: ignore[override]
        """A mutable copy of this dict updated with the arguments."""
        copy = dict(self)
        copy.update(*args, **kwargs)
        return copy

    def copy(self) -> dict:  # type: ignore[override]
        """A mutable copy."""
        return dict(self)

    def __hash__(self) -> int:  # type: ignore[override]
        try:
            return self._hash
        except AttributeError:
            # frozenset of the items: order-independent, and defined for {}.
            h = hash(frozenset(self.items()))
            object.__setattr__(self, "_hash", h)
            return h

    def __reduce__(self) -> Any:
        return (frozendict, (dict(self),))

    def __repr__(self) -> str:
        return f"frozendict({dict.__repr__(self)})"
