"""flup's FastCGI WSGIServer, single-threaded and not multiplexed, as the
issues ask: flup_server.py MODULE:APP SOCKET. MODULE is looked up in the
current directory, then in this one (hello_app, flask_app). The flup
reference of bench/wsgi/run and bench/shim-hello/run."""
import importlib
import os
import sys

from flup.server.fcgi import WSGIServer

if len(sys.argv) != 3:
    sys.exit(f"usage: {sys.argv[0]} MODULE:APP SOCKET")
sys.path[:0] = [os.getcwd(), os.path.dirname(os.path.abspath(__file__))]
module, _, name = sys.argv[1].partition(":")
app = getattr(importlib.import_module(module), name)


def root_mounted(environ, start_response):
    # fcgi-load sends what nginx's stock fastcgi_params send: the path as
    # SCRIPT_NAME and no PATH_INFO. smisk.wsgi maps that to an application
    # at the root; flup does not, so the same mapping is done here.
    if not environ.get("PATH_INFO"):
        environ["PATH_INFO"] = environ.get("SCRIPT_NAME") or "/"
        environ["SCRIPT_NAME"] = ""
    return app(environ, start_response)


WSGIServer(root_mounted, bindAddress=sys.argv[2], multithreaded=False, multiplexed=False).run()
