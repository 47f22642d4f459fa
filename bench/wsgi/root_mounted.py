"""The application of MODULE:APP mounted at the root, for FastCGI servers
that take the request's parameters as sent.

bench/fcgi-load sends what nginx's stock fastcgi_params send: the path as
SCRIPT_NAME and no PATH_INFO. smisk.wsgi maps that to an application at the
root; flup and uWSGI do not, so `mounted(app)` does the same mapping in
front of the application (the hello ignores the path; Flask routes on it).

flup_server.py wraps its application with `mounted`; uWSGI loads this
module (`--module root_mounted:application`) with the target in the
environment variable BENCH_WSGI_APP (MODULE:APP, looked up in the current
directory, then in this one)."""
import importlib
import os
import sys


def load(spec):
    sys.path[:0] = [os.getcwd(), os.path.dirname(os.path.abspath(__file__))]
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def mounted(app):
    def root_mounted(environ, start_response):
        if not environ.get("PATH_INFO"):
            environ["PATH_INFO"] = environ.get("SCRIPT_NAME") or "/"
            environ["SCRIPT_NAME"] = ""
        return app(environ, start_response)
    return root_mounted


if "BENCH_WSGI_APP" in os.environ:
    application = mounted(load(os.environ["BENCH_WSGI_APP"]))
