"""smisk.core: the native core of smisk for CPython 3.

Everything here is implemented in the extension smisk.core._core, which
delegates to libsmisk (Rust, C ABI). smisk.core.xml is a module object
created by the extension; it is registered in sys.modules so
`import smisk.core.xml` works. The `app`, `request` and `response` proxies
are plain Python: they follow `Application.current` at every access, so
there is no import cycle (unlike the original's objectproxy).
"""
import marshal as _marshal
import sys as _sys

from smisk.core._core import (  # noqa: F401
    MAX_FORKS,
    URL,
    Application,
    FileSessionStore,
    InvalidSessionError,
    KeyValueSessionStore,
    Request,
    RequestTooLargeError,
    Response,
    SessionStore,
    Stream,
    WSGIGatewayBase,
    __build__,
    allowed,
    bind,
    listening,
    pack,
    set_allow,
    session_frame,
    session_unframe,
    set_protocol,
    uid,
    unbind,
    xml,
)

_sys.modules[__name__ + ".xml"] = xml


def object_hash(obj):
    """hash(obj) when obj is hashable, else the hash of its marshal bytes
    (hash(None) when it cannot be marshalled). Not used for session
    dirtiness: that compares serialized bytes."""
    try:
        return hash(obj)
    except TypeError:
        pass
    try:
        return hash(_marshal.dumps(obj))
    except ValueError:
        return hash(None)


class _Proxy:
    """Forwards everything to the object `resolve()` returns at that moment."""

    __slots__ = ("_resolve",)

    def __init__(self, resolve):
        object.__setattr__(self, "_resolve", resolve)

    def _target(self):
        return object.__getattribute__(self, "_resolve")()

    def __getattr__(self, name):
        return getattr(self._target(), name)

    def __setattr__(self, name, value):
        setattr(self._target(), name, value)

    def __delattr__(self, name):
        delattr(self._target(), name)

    def __getitem__(self, key):
        return self._target()[key]

    def __setitem__(self, key, value):
        self._target()[key] = value

    def __delitem__(self, key):
        del self._target()[key]

    def __call__(self, *args, **kwargs):
        return self._target()(*args, **kwargs)

    def __iter__(self):
        return iter(self._target())

    def __len__(self):
        return len(self._target())

    def __contains__(self, item):
        return item in self._target()

    def __bool__(self):
        return bool(self._target())

    def __eq__(self, other):
        return self._target() == other

    def __ne__(self, other):
        return self._target() != other

    def __hash__(self):
        return hash(self._target())

    def __repr__(self):
        return repr(self._target())

    def __str__(self):
        return str(self._target())


def _current_app():
    return Application.current


def _current_request():
    a = Application.current
    return None if a is None else a.request


def _current_response():
    a = Application.current
    return None if a is None else a.response


app = _Proxy(_current_app)
request = _Proxy(_current_request)
response = _Proxy(_current_response)

__all__ = [
    "Application",
    "FileSessionStore",
    "InvalidSessionError",
    "KeyValueSessionStore",
    "MAX_FORKS",
    "Request",
    "RequestTooLargeError",
    "Response",
    "SessionStore",
    "Stream",
    "URL",
    "allowed",
    "app",
    "bind",
    "listening",
    "object_hash",
    "pack",
    "request",
    "response",
    "session_frame",
    "session_unframe",
    "set_allow",
    "uid",
    "unbind",
    "xml",
]
