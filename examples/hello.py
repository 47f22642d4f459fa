#!/usr/bin/env python3
"""The classic Smisk hello world, on smisk.core for Python 3.

    python examples/hello.py /tmp/hello.sock      # or 127.0.0.1:9000

Put a FastCGI-speaking web server in front of the address (scripts/demo does
that with nginx). Without an address it serves the listening socket on fd 0,
as spawn-fcgi or a web server hands it over, or runs once as a CGI script.
"""
import sys

from smisk.core import Application, bind


class Hello(Application):
    def service(self):
        self.response.headers.append("Content-Type: text/plain")
        self.response.write(b"Hello World!\n")


def main(argv):
    if len(argv) > 2:
        sys.exit(f"usage: {argv[0]} [ADDRESS]")
    if len(argv) == 2:
        bind(argv[1])
    Hello().run()


if __name__ == "__main__":
    main(sys.argv)
