#!/usr/bin/env python3
"""The smallest Smisk MVC application: one controller, one leaf.

    python3 minimal.py --http-port 8080      # then: curl localhost:8080/hello.json?name=you
    python3 minimal.py --bind /tmp/app.sock  # behind nginx (fastcgi_pass unix:/tmp/app.sock)

The answer's format follows the path extension (/hello.json, /hello.yaml,
/hello.xmlrpc, ...) or the Accept header (a browser gets HTML); a client that sends neither
gets 300 Multiple Choices, the list of formats."""
from smisk.mvc import *


class root(Controller):
    def __call__(self):
        """The front page."""
        return {"message": "Hello World!"}

    def hello(self, name="World"):
        """Greets `name`."""
        return {"message": f"Hello {name}!", "pid": os.getpid()}


if __name__ == "__main__":
    main()
