"""Mako templates, one per leaf and format: the leaf `/shop/cart/add`
answering HTML renders `shop/cart/add.html` from the template directories
(controllers and `__call__` leaves use `<path>/__call__.<ext>`), with the
leaf's returned dict as its arguments.

Escaping (the legacy rule, kept on purpose): the default filter is `str`,
so `${value}` is NOT HTML-escaped. Smisk 1.x templates escape explicitly
with `${value|h}`; a default `h` filter would escape those twice. New
applications should set `"smisk.mvc.template.default_filters": ["h"]`
(and then write `${value|n}` for trusted markup, `${value|n,j}` for
JSON). `j` (imported into every template) writes a value as a JavaScript
expression that is safe inside <script>: `${value|j}` under the default
`str` filter.

Mako is optional (`pip install 'smisk[templates]'`): without it
`Templates.is_useable` is false and applications answer through the
serializers only."""
import logging
import os
import posixpath
import threading
from collections import OrderedDict
from typing import Any, Dict, List, Optional

from smisk.config import config
from smisk.mvc import http

__all__ = ["Templates", "Template", "TemplateLookupException", "TopLevelLookupException"]

log = logging.getLogger(__name__)

try:
    from mako.exceptions import TemplateLookupException, TopLevelLookupException
    from mako.lookup import TemplateCollection
    from mako.template import Template
except ImportError:  # Mako is optional: templates are disabled
    Template = None

    class TemplateLookupException(Exception):  # type: ignore[no-redef]
        pass

    class TopLevelLookupException(TemplateLookupException):  # type: ignore[no-redef]
        pass

    TemplateCollection = object  # type: ignore[misc,assignment]

# A missing template answers 404 (legacy: the MVC layer reads `status`).
TopLevelLookupException.status = http.NotFound  # type: ignore[attr-defined]

_MISS = object()


class _Cache:
    """limit -1: unbounded; 0: nothing kept; N: the N most recently used."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: "OrderedDict[str, Any]" = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self.lock:
            value = self.items.get(key)
            if value is not None and self.limit > 0:
                self.items.move_to_end(key)
            return value

    def put(self, key: str, value: Any) -> None:
        if self.limit == 0:
            return
        with self.lock:
            self.items[key] = value
            if self.limit > 0 and len(self.items) > self.limit:
                self.items.popitem(last=False)

    def drop(self, key: str) -> None:
        with self.lock:
            self.items.pop(key, None)


def _default_filters() -> List[str]:
    filters = list(config.setting("smisk.mvc.template.default_filters"))
    # 'str' (and the legacy 'unicode') is filters.text: str() that keeps the
    # value for a later |j.
    return ["_smisk_text" if f in ("str", "unicode") else f for f in filters]


def _inside(directory: str, path: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


class Templates(TemplateCollection):  # type: ignore[misc,valid-type]
    """The template directories and the compiled templates (a Mako lookup)."""

    is_useable = Template is not None

    imports = [
        "import os, sys, time, logging",
        "from smisk.core import app, request, response",
        "from smisk.mvc.template.filters import j, text as _smisk_text",
    ]

    def __init__(self) -> None:
        self.directories: List[str] = []
        self.reset_cache()

    def reset_cache(self) -> None:
        limit = config.setting("smisk.mvc.template.cache_limit")
        self.cache = _Cache(limit)
        self.uri_cache = _Cache(limit)

    @property
    def autoreload(self) -> bool:
        return bool(config.setting("smisk.mvc.template.autoreload"))

    # the Mako lookup protocol

    def get_template(self, uri: str, relativeto: Optional[str] = None) -> Any:
        if relativeto is not None:
            uri = self.adjust_uri(uri, relativeto)
        return self.template_for_uri(uri)

    def adjust_uri(self, uri: str, relativeto: Optional[str]) -> str:
        if uri.startswith("/") or not relativeto:
            return "/" + uri.lstrip("/")
        return posixpath.normpath(posixpath.join(posixpath.dirname("/" + relativeto.lstrip("/")), uri))

    def filename_to_uri(self, filename: str, *more: Any) -> str:
        # Mako calls filename_to_uri(uri, filename) on collections.
        filename = more[0] if more else filename
        cached = self.uri_cache.get(filename)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        full = os.path.normpath(os.path.abspath(filename))
        for directory in self.directories:
            if _inside(directory, full):
                uri = "/" + os.path.relpath(full, directory).replace(os.sep, "/")
                self.uri_cache.put(filename, uri)
                return uri
        return "/" + os.path.basename(filename)

    # lookup

    def _find(self, uri: str) -> Optional[str]:
        relative = uri.lstrip("/")
        for directory in self.directories:
            path = os.path.normpath(os.path.join(directory, relative))
            # Confined: '..' or an absolute URI never leaves the directory.
            if _inside(directory, path) and os.path.isfile(path):
                return path
        return None

    def template_for_uri(self, uri: str, exc_if_not_found: bool = True) -> Any:
        """The compiled template at `uri` in the first directory that has
        it; a miss raises TopLevelLookupException (404) or returns None."""
        uri = "/" + uri.lstrip("/")
        cached = self.cache.get(uri)
        if cached is not None and cached is not _MISS:
            if not self.autoreload:
                return cached
            filename = cached.filename
            if filename is None:
                return cached  # put_string(): no file behind it
            try:
                mtime = os.stat(filename).st_mtime
            except OSError:
                self.cache.drop(uri)
                raise TemplateLookupException(f"Template source gone: {uri}") from None
            if mtime <= cached.module._modified_time:
                return cached
            cached = None
        if cached is _MISS and not self.autoreload:
            path = None
        else:
            path = self._find(uri)
        if path is None:
            self.cache.put(uri, _MISS)
            if exc_if_not_found:
                raise TopLevelLookupException(f"Template not found: {uri}")
            return None
        template = self.compile(uri, path)
        self.cache.put(uri, template)
        return template

    def compile(self, uri: str, filename: Optional[str] = None, text: Optional[str] = None) -> Any:
        if Template is None:
            raise RuntimeError("templates need Mako: pip install 'smisk[templates]'")
        from smisk.core import Application

        app = Application.current
        # Mako's formatted error pages show template source: only with tracebacks on.
        format_exceptions = bool(config.setting("smisk.mvc.template.format_exceptions")
                                 and app is not None and app.show_traceback)
        template = Template(
            text=text, filename=filename, uri=uri, lookup=self,
            format_exceptions=format_exceptions,
            input_encoding=config.setting("smisk.mvc.template.input_encoding"),
            cache_type=config.setting("smisk.mvc.template.cache_type"),
            default_filters=_default_filters(),
            imports=self.imports + [f"log = logging.getLogger({('template:' + uri)!r})"],
        )
        if log.isEnabledFor(logging.DEBUG):
            log.debug("compiled %s:\n%s", uri, template.code)
        return template

    def put_template(self, uri: str, template: Any) -> None:
        self.cache.put("/" + uri.lstrip("/"), template)

    def put_string(self, uri: str, text: str) -> Any:
        """Compiles `text` as the template at `uri` (no file behind it)."""
        uri = "/" + uri.lstrip("/")
        template = self.compile(uri, text=text)
        self.cache.put(uri, template)
        return template

    def render_error(self, status: Any, params: Dict[str, Any], format: str = "html") -> Optional[str]:
        """The error page from smisk.mvc.template.errors (by status code,
        then the Status, then 0 for any), or None."""
        errors = config.setting("smisk.mvc.template.errors") or {}
        uri = None
        for key in (status.code, str(status.code), status, 0, "0"):
            try:
                uri = errors.get(key)
            except TypeError:
                continue
            if uri:
                break
        if not uri:
            return None
        template = self.template_for_uri(f"{uri}.{format}", exc_if_not_found=False)
        if template is None:
            return None
        return render(template, params)


def encoding_errors(uri: str) -> str:
    """How characters the charset lacks are written: HTML/XML entities in
    markup, '?' elsewhere."""
    return "htmlentityreplace" if uri.endswith((".html", ".xml", ".xhtml")) else "replace"


def render(template: Any, params: Optional[Dict[str, Any]] = None) -> str:
    for key in params or ():
        if not isinstance(key, str):
            raise TypeError(f"template arguments need str keys, not {type(key).__name__} ({key!r})")
    return template.render_unicode(**(params or {}))  # type: ignore[no-any-return]
