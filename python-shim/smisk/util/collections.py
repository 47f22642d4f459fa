"""List and dict helpers: duplicates removed, deep merges."""
from typing import Any, Iterable, List

__all__ = ["unique_wild", "unique", "merge", "merge_dict", "merged", "merged_dict"]


def unique_wild(seq: Iterable[Any]) -> List[Any]:
    """The items of `seq` without duplicates, in no particular order (items
    must be hashable)."""
    return list(set(seq))


def unique(seq: Iterable[Any]) -> List[Any]:
    """The items of `seq` without duplicates: hashable items keep their
    first-seen order; unhashable but orderable items come back sorted; other
    items are compared one by one (quadratic)."""
    items = list(seq)
    try:
        return list(dict.fromkeys(items))
    except TypeError:
        pass
    try:
        ordered = sorted(items)
    except TypeError:
        out: List[Any] = []
        for item in items:
            if item not in out:
                out.append(item)
        return out
    out = []
    for item in ordered:
        if not out or out[-1] != item:
            out.append(item)
    return out


def merge(a: Any, b: Any) -> Any:
    """Merges `b` into `a` in place and returns `a`: lists are extended,
    dicts merged with merge_dict(); other types raise TypeError."""
    if isinstance(a, list):
        a.extend(b)
        return a
    if isinstance(a, dict):
        return merge_dict(a, b)
    raise TypeError(f"merge() needs a list or a dict, not {type(a).__name__}")


def merge_dict(a: dict, b: dict, merge_lists: bool = True) -> dict:
    """Updates `a` with `b` in place and returns `a`: dict values merge
    recursively, list values are extended when `merge_lists`, anything else
    is replaced by b's value."""
    for key, value in b.items():
        current = a.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merge_dict(current, value, merge_lists)
        elif merge_lists and isinstance(current, list) and isinstance(value, list):
            current.extend(value)
        else:
            a[key] = value
    return a


def merged(a: Any, b: Any) -> Any:
    """Like merge(), without modifying `a`: lists and tuples are
    concatenated, dicts merged into a copy."""
    if isinstance(a, (list, tuple)):
        return a + type(a)(b)  # type: ignore[operator]
    if isinstance(a, dict):
        return merged_dict(a, b)
    raise TypeError(f"merged() needs a list, tuple or dict, not {type(a).__name__}")


def merged_dict(a: dict, b: dict, merge_lists: bool = True) -> dict:
    """Like merge_dict(), into a deep copy of the dict and list structure of `a`."""
    return merge_dict(_copy_structure(a), b, merge_lists)


def _copy_structure(value: Any) -> Any:
    # Only the containers merge_dict() would modify are copied.
    if isinstance(value, dict):
        return {k: _copy_structure(v) for k, v in value.items()}
    if isinstance(value, list):
        return list(value)
    return value
