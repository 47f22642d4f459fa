"""Leaf decorators: `expose` (slug, template, formats, methods, delegates),
`hide`, and `leaf_filter` for wrapping leaves in filters.

The attributes these set are the whole interface between a leaf and the
router: control.py and routing.py read them, nothing else."""
import functools
from typing import Any, Callable, Iterable, List, Optional, Tuple, Union

__all__ = ["expose", "hide", "leaf_filter", "LeafFilter", "EXPOSURE_ATTRIBUTES"]

EXPOSURE_ATTRIBUTES = ("slug", "methods", "formats", "template", "delegates", "hidden")
"""What a leaf filter's wrapper carries over from the leaf it wraps."""

Strings = Union[str, Iterable[str], None]


def _strings(value: Strings, what: str) -> Optional[Tuple[str, ...]]:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = tuple(value)
        for item in items:
            if not isinstance(item, str):
                raise TypeError(f"{what} must be strings, not {type(item).__name__}")
        return items
    raise TypeError(f"{what} must be a string or a list of strings, not {type(value).__name__}")


def expose(slug: Any = None, template: Optional[str] = None, formats: Strings = None,
           delegates: bool = False, methods: Strings = None) -> Any:
    """Marks a leaf and says how it is reached: `slug` (its URL name),
    `template` (a template path), `formats` (extensions it answers in),
    `methods` (HTTP methods it accepts), `delegates` (reachable through
    subclasses too). Usable as @expose and as @expose(...)."""
    if callable(slug) and template is None and formats is None and methods is None and not delegates:
        return expose()(slug)  # bare @expose
    if slug is not None and not isinstance(slug, str):
        raise TypeError(f"slug must be a string, not {type(slug).__name__}")
    if template is not None and not isinstance(template, str):
        raise TypeError(f"template must be a string, not {type(template).__name__}")
    formats_t = _strings(formats, "formats")
    methods_t = _strings(methods, "methods")

    def decorate(func: Any) -> Any:
        target = getattr(func, "__func__", func)  # a classmethod/staticmethod object
        if slug is not None:
            target.slug = slug
        target.delegates = bool(delegates)
        if template is not None:
            target.template = template
        if formats_t is not None:
            target.formats = formats_t
        if methods_t is not None:
            target.methods = [m.upper() for m in methods_t]
        return func

    return decorate


def hide(func: Any = None) -> Any:
    """Makes a leaf (or controller class) unreachable: @hide or @hide()."""
    def decorate(f: Any) -> Any:
        getattr(f, "__func__", f).hidden = True
        return f
    return decorate if func is None else decorate(func)


def _carry_exposure(wrapper: Any, leaf: Any) -> None:
    for attr in EXPOSURE_ATTRIBUTES:
        if hasattr(leaf, attr):
            setattr(wrapper, attr, getattr(leaf, attr))


def _filter_proxy(leaf: Any, filter: Callable[..., Any], name: str) -> Any:
    from smisk.mvc.arguments import binding

    # The filter calls the leaf through its argument binding, so what the
    # filter adds or leaves in is checked against the leaf's own signature.
    bound_leaf = binding(leaf)

    def proxy(*args: Any, **kwargs: Any) -> Any:
        return filter(bound_leaf, *args, **kwargs)

    functools.update_wrapper(proxy, leaf, assigned=("__module__", "__name__", "__qualname__", "__doc__"),
                             updated=("__dict__",))
    _carry_exposure(proxy, leaf)
    proxy.parent_leaf = leaf  # type: ignore[attr-defined]
    proxy.__wrapped__ = leaf  # type: ignore[attr-defined]
    proxy.filter_name = name  # type: ignore[attr-defined]
    return proxy


def leaf_filter(filter: Callable[..., Any]) -> Callable[[Any], Any]:
    """Turns `filter(leaf, *args, **kwargs)` into a decorator of leaves. The
    wrapper keeps the leaf's name, docstring and exposure attributes, and
    points at it through `parent_leaf` and `__wrapped__`."""
    fname = getattr(filter, "__name__", "filter")

    def decorator(leaf: Any) -> Any:
        return _filter_proxy(leaf, filter, fname)

    decorator.__name__ = f"{fname}_leaf_filter"
    decorator.__qualname__ = decorator.__name__
    decorator.__doc__ = getattr(filter, "__doc__", None)
    return decorator


class LeafFilter:
    """Base for parameterised filters: `@MyFilter(options)` wraps the leaf
    in self.filter(leaf, *args, **kwargs)."""

    def filter_proxy(self, leaf: Any, filter: Callable[..., Any]) -> Any:
        name = f"{getattr(leaf, '__name__', 'leaf')}_with_{type(self).__name__}_" \
               f"{getattr(filter, '__name__', 'filter')}"
        proxy = _filter_proxy(leaf, filter, name)
        proxy.__name__ = getattr(leaf, "__name__", name)
        proxy.filter_name = name
        return proxy

    def __call__(self, leaf: Any) -> Any:
        return self.filter_proxy(leaf, self.filter)

    def filter(self, leaf: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.filter")


def leaf_chain(leaf: Any) -> List[Any]:
    """[leaf, the leaf it wraps, ...] down to the canonical leaf, following
    parent_leaf, then __wrapped__ / wrapped_func."""
    chain = [leaf]
    seen = {id(leaf)}
    while True:
        inner = getattr(leaf, "parent_leaf", None)
        if inner is None:
            inner = getattr(leaf, "__wrapped__", None)
        if inner is None:
            inner = getattr(leaf, "wrapped_func", None)
        if inner is None or id(inner) in seen:
            return chain
        seen.add(id(inner))
        chain.append(inner)
        leaf = inner
