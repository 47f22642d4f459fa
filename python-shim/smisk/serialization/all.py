"""Imports (and so registers) every serializer smisk provides."""
from smisk.serialization import json, php_serial, plain_text, plist, python_pickle, python_py  # noqa: F401
from smisk.serialization import xhtml, xmlgeneric, xmlrpc, xspf, yaml_serial  # noqa: F401

__all__ = ["json", "php_serial", "plain_text", "plist", "python_pickle", "python_py", "xhtml", "xmlgeneric",
           "xmlrpc", "xspf", "yaml_serial"]
