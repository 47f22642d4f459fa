"""flup's FastCGI WSGIServer, single-threaded and not multiplexed, as the
issue asks: flup_server.py SOCKET MODULE:APP (run with --chdir semantics of
the current directory)."""
import importlib
import os
import sys

from flup.server.fcgi import WSGIServer

sys.path.insert(0, os.getcwd())
module, _, name = sys.argv[2].partition(":")
app = getattr(importlib.import_module(module), name)


def root_mounted(environ, start_response):
    # fcgi-load sends what nginx's stock fastcgi_params send: the path as
    # SCRIPT_NAME and no PATH_INFO. smisk.wsgi maps that to an application
    # at the root; flup does not, so the same mapping is done here.
    if not environ.get("PATH_INFO"):
        environ["PATH_INFO"] = environ.get("SCRIPT_NAME") or "/"
        environ["SCRIPT_NAME"] = ""
    return app(environ, start_response)


WSGIServer(root_mounted, bindAddress=sys.argv[1], multithreaded=False, multiplexed=False).run()
