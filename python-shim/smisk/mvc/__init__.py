"""smisk.mvc: Smisk's model-view-controller layer.

    from smisk.mvc import *

    class root(Controller):
        def __call__(self):
            return {'message': 'Hello World!'}

    if __name__ == '__main__':
        main()

A tree of controller classes maps URLs to leaves (smisk.mvc.control and
routing); a leaf returns a dict, which a template (smisk.mvc.template) or
the negotiated serializer (by path extension, Accept and Accept-Charset)
turns into the response; `raise http.NotFound(...)` and friends answer
with a status (smisk.mvc.http). `main()` runs the application (see
smisk.util.main for the command line).

Importing this module registers the default serializers and the
configuration filter that applies the smisk.mvc.* keys; nothing else."""
import logging
import mimetypes
import os
import re
import sys
from typing import Any

from smisk.config import LOGGING_DATEFMT, LOGGING_FORMAT, config
from smisk.core import URL, app, request, response
from smisk.serialization import Serializer, serializers

# The default serializers, in the order that shows in reflection and in
# the 300 page.
import smisk.serialization.json  # noqa: F401
import smisk.serialization.php_serial  # noqa: F401
import smisk.serialization.yaml_serial  # noqa: F401  (registers only with PyYAML)
import smisk.serialization.plain_text  # noqa: F401
import smisk.serialization.plist  # noqa: F401
import smisk.serialization.xhtml  # noqa: F401
import smisk.serialization.xmlrpc  # noqa: F401

from smisk.util.cache import *  # noqa: F401,F403
from smisk.util.collections import *  # noqa: F401,F403
from smisk.util.DateTime import *  # noqa: F401,F403
from smisk.util.introspect import *  # noqa: F401,F403
from smisk.util.python import *  # noqa: F401,F403
from smisk.util.string import *  # noqa: F401,F403
from smisk.util.threads import *  # noqa: F401,F403
from smisk.util.timing import *  # noqa: F401,F403
from smisk.util.type import *  # noqa: F401,F403
import smisk.util.cache as _ucache
import smisk.util.collections as _ucollections
import smisk.util.DateTime as _udatetime
import smisk.util.introspect as _uintrospect
import smisk.util.python as _upython
import smisk.util.string as _ustring
import smisk.util.threads as _uthreads
import smisk.util.timing as _utiming
import smisk.util.type as _utype

from smisk.mvc import control, decorators, helpers, http, routing, template
from smisk.mvc.application import Application, environment
from smisk.mvc.control import Controller
from smisk.mvc.decorators import expose, hide, leaf_filter
from smisk.mvc.helpers import compose_query, redirect_to
from smisk.mvc.launcher import Main, main, run, setup
from smisk.mvc.messages import Request, Response
from smisk.mvc.routing import Destination, Router
from smisk.mvc.template import Templates
from smisk.mvc import configfilter as _configfilter

log = logging.getLogger("smisk.mvc")



def __getattr__(name: str) -> Any:
    """`smisk.mvc.model` and `smisk.mvc.Entity` are imported on first use
    (SQLAlchemy is heavy, and optional): `import smisk.mvc` stays cheap."""
    if name in ("model", "Entity"):
        import importlib

        model = importlib.import_module("smisk.mvc.model")
        return model if name == "model" else model.Entity
    raise AttributeError(f"module 'smisk.mvc' has no attribute {name!r}")

config.add_filter(_configfilter.apply)

__all__ = sorted(set([
    "Controller", "expose", "hide", "leaf_filter", "http", "redirect_to", "compose_query", "main", "setup",
    "run", "Application", "Request", "Response", "Main", "environment", "config", "serializers", "Serializer",
    "Router", "Destination", "Templates", "Entity", "model", "control", "app", "request", "response", "URL",
    "os", "sys", "logging", "LOGGING_FORMAT", "LOGGING_DATEFMT", "log", "routing", "decorators", "helpers",
    "template", "mimetypes", "re",
] + [name for module in (_ucache, _ucollections, _udatetime, _uintrospect, _upython, _ustring, _uthreads,
                         _utiming, _utype) for name in getattr(module, "__all__", ())]))
