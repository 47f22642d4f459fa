"""smisk: a web framework core (Rust library with a C ABI) for CPython 3,
with the Python layers of Smisk 1.x around it.

`import smisk` is cheap: the core's names (`Application`, `request`, ...)
are loaded from the extension `smisk.core` on first use, so both the 1.0
form `from smisk import Application` and the 1.1 form
`from smisk.core import Application` work.
"""
# No `typing` import at run time: `import smisk` is on every application's
# start-up path. MYPY is the constant type checkers treat as true.
MYPY = False

from smisk.release import copyright as __copyright__  # noqa: F401
from smisk.release import license as __license__  # noqa: F401
from smisk.release import author as __author__  # noqa: F401
from smisk.release import version as __version__  # noqa: F401

if MYPY:  # what the lazy names are, for type checkers
    from typing import Any, List

    from smisk.core import (  # noqa: F401
        URL,
        Application,
        FileSessionStore,
        InvalidSessionError,
        Request,
        RequestTooLargeError,
        Response,
        SessionStore,
        Stream,
        __build__,
        app,
        bind,
        listening,
        object_hash,
        pack,
        request,
        response,
        uid,
        unbind,
    )

# Names served from smisk.core on first access (module __getattr__, PEP 562).
_CORE_NAMES = frozenset((
    "Application", "Request", "Response", "Stream", "URL", "SessionStore", "FileSessionStore",
    "InvalidSessionError", "RequestTooLargeError", "bind", "unbind", "listening", "uid", "pack",
    "object_hash", "app", "request", "response", "__build__",
))

__all__ = [
    # the 1.1 names
    "app", "request", "response",
    # the smisk.core names, for the 1.0 form `from smisk import Application`
    "Application", "Request", "Response", "Stream", "URL", "SessionStore", "FileSessionStore",
    "InvalidSessionError", "RequestTooLargeError", "bind", "unbind", "listening", "uid", "pack",
    "object_hash",
]


def __getattr__(name: str) -> "Any":
    if name in _CORE_NAMES:
        import smisk.core

        value = getattr(smisk.core, name)
        # Cache it: later lookups are plain module attributes.
        globals()[name] = value
        return value
    raise AttributeError(f"module 'smisk' has no attribute {name!r}")


def __dir__() -> "List[str]":
    return sorted(set(globals()) | _CORE_NAMES)
