#!/usr/bin/env python3
"""A smisk.core application whose form limit answers 413 (the built-in
error page for RequestTooLargeError) before it has read the body: for
tests/test_unread_body.py.

    form_limit.py ADDRESS|- [FORKS]      (-: the socket on fd 0)
"""
import sys

from smisk.core import Application, bind


class FormLimit(Application):
    def service(self):
        self.request.max_formdata_size = 16 * 1024
        self.request.post  # raises RequestTooLargeError past the limit
        self.response.write(b"under the limit\n")


def main():
    if sys.argv[1] != "-":
        bind(sys.argv[1])
    app = FormLimit()
    app.forks = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    app.run()


if __name__ == "__main__":
    main()
