# The WSGI example of Smisk 1.x's README, unchanged. It returns a str, which
# PEP 3333 (Python 3) does not allow: smisk.wsgi answers 500 and its log line
# says what to write instead (return [b"Hello, World!"]).
#
#   spawn-fcgi -n -s /tmp/hello.sock -- .venv/bin/python examples/smisk10_wsgi_hello.py
#   .venv/bin/python examples/smisk10_wsgi_hello.py --bind /tmp/hello.sock
from smisk.wsgi import *
def hello_app(env, start_response):
  start_response("200 OK", [('Content-Type', 'text/plain')])
  return ["Hello, World!"]

main(hello_app)
