"""Cache keys: per callable, and per application (shared by its processes)."""
import hashlib
import os
import sys
from typing import Any, Hashable

__all__ = ["callable_cache_key", "app_shared_key"]


def callable_cache_key(node: Any) -> Hashable:
    """A hashable key that tells callables apart: a bound method by the class
    of its instance and its function (the same method seen through two
    subclasses gives two keys), anything else by itself (not by id(): an
    id is reused once its object is gone, and a cache must not hand a new
    function the entry of a dead one)."""
    func = getattr(node, "__func__", None)
    owner = getattr(node, "__self__", None)
    if func is not None and owner is not None:
        cls = owner if isinstance(owner, type) else type(owner)
        return (cls, func)
    return node


def app_shared_key() -> str:
    """'<name>_<digest>', the same in every process of one application:
    <name> is the main script's base name without extension (for an
    __init__.py its directory's name), <digest> a SHA-1 of the absolute
    path of the main file. Used to name resources shared between those
    processes. Python's hash() is salted per process, so it is not used."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv and sys.argv[0] else "")
    path = os.path.abspath(path) if path else os.getcwd()
    base = os.path.basename(path)
    name = os.path.splitext(base)[0]
    if name == "__init__":
        name = os.path.basename(os.path.dirname(path))
    digest = hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{name or 'smisk'}_{digest}"
