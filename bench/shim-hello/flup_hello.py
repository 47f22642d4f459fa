#!/usr/bin/env python3
"""The hello of examples/hello.py as a WSGI app on flup's FastCGI server:
the reference bench/shim-hello/run compares smisk.core with.

    bench/.venv/bin/python bench/shim-hello/flup_hello.py /tmp/flup.sock

flup is configured as the issue asks (no threads for the application, no
multiplexing); it stops on SIGTERM/SIGINT/SIGHUP.
"""
import sys

from flup.server.fcgi import WSGIServer

BODY = b"Hello World!\n"


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [BODY]


def main(argv):
    if len(argv) != 2:
        sys.exit(f"usage: {argv[0]} SOCKET_PATH")
    WSGIServer(hello, bindAddress=argv[1], multithreaded=False, multiplexed=False).run()


if __name__ == "__main__":
    main(sys.argv)
