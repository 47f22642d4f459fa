"""Applies the smisk.mvc.* configuration keys after every (re)load."""
import importlib
import logging
from typing import Any

log = logging.getLogger("smisk.mvc")

# Extensions of the serializers smisk.mvc does not import by default: a
# configuration naming one imports its module first.
OPTIONAL_SERIALIZER_MODULES = {
    "xspf": "xspf", "xml": "xmlgeneric", "pickle": "python_pickle", "py": "python_py",
}


def default_serializer(value: Any) -> Any:
    """The Serializer that smisk.mvc.response.serializer names, or None."""
    from smisk.serialization import Serializer, serializers

    if value is None:
        return None
    if isinstance(value, type) and issubclass(value, Serializer):
        return value
    if not isinstance(value, str):
        log.error("smisk.mvc.response.serializer must be an extension name or a Serializer, not %r", value)
        return None
    found = serializers.find(value)
    if found is None and value.lower() in OPTIONAL_SERIALIZER_MODULES:
        importlib.import_module("smisk.serialization." + OPTIONAL_SERIALIZER_MODULES[value.lower()])
        found = serializers.find(value)
    if found is None:
        log.error("smisk.mvc.response.serializer: no serializer for %r", value)
    return found


def apply(conf: Any) -> None:
    from smisk.core import Application as CoreApplication
    from smisk.mvc.application import Application
    from smisk.mvc.messages import Response

    Response.serializer = default_serializer(conf.get("smisk.mvc.response.serializer"))
    show = conf.get("smisk.mvc.show_traceback")
    current = CoreApplication.current
    if show is not None:
        # The core's error page reads the instance's member, so both are set.
        Application.default_show_traceback = bool(show)
        if current is not None:
            current.show_traceback = bool(show)
    routes = getattr(current, "routes", None)
    if routes is not None and hasattr(routes, "configure"):
        routes.configure()
