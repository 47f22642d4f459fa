"""Small helpers for leaves: query strings and redirects."""
import urllib.parse
from typing import Any, Dict, Optional

from smisk.mvc import http

__all__ = ["compose_query", "redirect_to", "is_same_origin"]


def compose_query(params: Any) -> str:
    """A query string ('a=1&b=x+y') from a dict or a list of pairs; list
    values give the key once per item."""
    return urllib.parse.urlencode(params, doseq=True)


def _default_port(scheme: Optional[str]) -> int:
    return 443 if scheme == "https" else 80


def is_same_origin(url: Any, base: Any = None) -> bool:
    """Whether `url` stays on this site: a relative path, or the same
    scheme, host and port as `base` (default: the current request's URL).
    '//host/...' (scheme-relative) counts as another site."""
    from smisk.core import URL

    text = str(url)
    if text.startswith("//") or text.startswith("\\"):
        return False
    if "://" not in text and ":" not in text.split("/", 1)[0]:
        return True  # a path ('/x', 'x', '?q=1')
    if base is None:
        from smisk.core import Application

        app = Application.current
        request = app.request if app is not None else None
        if request is None or not request.is_active:
            return False
        base = request.url
    try:
        target = URL(text)
        base = base if isinstance(base, URL) else URL(base)
    except ValueError:  # not a URL we can compare (javascript:..., bad port)
        return False
    if (target.scheme or "").lower() != (base.scheme or "").lower():
        return False
    if (target.host or "").lower() != (base.host or "").lower():
        return False
    return (target.port or _default_port(target.scheme)) == (base.port or _default_port(base.scheme))


def _entity_keys(entity: Any) -> Dict[str, Any]:
    try:
        from sqlalchemy import inspect as sa_inspect
    except ImportError:
        raise TypeError("redirect_to(entity=...) needs SQLAlchemy entities") from None
    mapper = sa_inspect(entity).mapper
    return {column.key: getattr(entity, column.key) for column in mapper.primary_key}


def redirect_to(url: Any, entity: Any = None, status: http.Status = http.Found, allow_external: bool = False,
                **params: Any) -> None:
    """Raises a redirect to `url`: a URL, a string, or a leaf/controller
    (its URI, with the request's format extension when it used one).
    `entity` (one or a list) adds its primary key values as parameters.
    A URL on another site is refused (ValueError) unless allow_external."""
    from smisk.core import URL, Application
    from smisk.mvc.control import uri_for

    if entity is not None:
        for e in entity if isinstance(entity, (list, tuple)) else [entity]:
            params.update(_entity_keys(e))
    if not url:
        target = "/"
    elif isinstance(url, URL):
        target = str(url)
    elif isinstance(url, str):
        target = url
    else:
        uri = uri_for(url)
        if uri is None:
            raise ValueError(f"{url!r} is not exposed: it has no URI to redirect to")
        app = Application.current
        fmt = getattr(getattr(app, "response", None), "format", None)
        target = uri + (f".{fmt}" if fmt and not uri.endswith("/") else "")
    if params:
        target += ("&" if "?" in target else "?") + compose_query(params)
    if not allow_external and not is_same_origin(target):
        raise ValueError(f"refusing to redirect to another site ({target!r}): pass allow_external=True")
    raise status(target)
