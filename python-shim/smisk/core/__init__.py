"""smisk.core: the native core (see python-shim/README.md for what exists).

Everything here is implemented in the extension smisk.core._core, which
delegates to libsmisk. smisk.core.xml is a module object created by the
extension; it is registered in sys.modules so `import smisk.core.xml` works.
"""
import sys as _sys

from smisk.core._core import (  # noqa: F401
    URL,
    InvalidSessionError,
    RequestTooLargeError,
    pack,
    uid,
    xml,
)

_sys.modules[__name__ + ".xml"] = xml

__all__ = ["URL", "InvalidSessionError", "RequestTooLargeError", "pack", "uid", "xml"]
