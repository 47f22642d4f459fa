"""The plain WSGI hello every server in bench/wsgi/run answers."""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello World!\n"]
