"""flup's FastCGI WSGIServer, single-threaded and not multiplexed:
flup_server.py MODULE:APP SOCKET. MODULE is looked up in the current
directory, then in this one (hello_app, flask_app); the application is
mounted at the root (root_mounted.py). The flup reference of
bench/wsgi/run and bench/shim-hello/run."""
import os
import sys

from flup.server.fcgi import WSGIServer

if len(sys.argv) != 3:
    sys.exit(f"usage: {sys.argv[0]} MODULE:APP SOCKET")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from root_mounted import load, mounted  # noqa: E402

WSGIServer(mounted(load(sys.argv[1])), bindAddress=sys.argv[2], multithreaded=False, multiplexed=False).run()
