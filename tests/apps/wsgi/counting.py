"""A WSGI application for tests/test_peer_access.py: every request it sees
is logged on stderr ("app saw REQUEST_URI from REMOTE_ADDR"), and it
answers with the number of requests this process served and its pid, so a
test can tell whether a refused peer ever reached it."""
import os
import sys

SERVED = 0


def application(environ, start_response):
    global SERVED
    SERVED += 1
    print(f"app saw {environ.get('REQUEST_URI')} from {environ.get('REMOTE_ADDR')}", file=sys.stderr,
          flush=True)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"served={SERVED} pid={os.getpid()}\n".encode()]
