"""The WSGI applications of tests/test_unread_body.py behind one smisk-wsgi,
routed by path: each answers a POST whose body it reads not at all, partly or
exactly to CONTENT_LENGTH, as real applications do.

    /wsgi/forbidden, /wsgi/missing   403 / 404 without reading the body
    /wsgi/read-exact                 reads CONTENT_LENGTH bytes: "<n> <sha1>"
    /flask/upload                    Flask with MAX_CONTENT_LENGTH: 413
    /django/upload/                  a Django file upload (djangoapp.py)
"""
import hashlib

from flask import Flask, request

import djangoapp

limited = Flask("limited")
limited.config["MAX_CONTENT_LENGTH"] = 16 * 1024


@limited.route("/upload", methods=["POST"])
def upload():
    return f"{len(request.get_data())} bytes\n"


def text(start_response, status, body):
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def read_exact(environ):
    left = int(environ.get("CONTENT_LENGTH") or 0)
    digest = hashlib.sha1()
    stream = environ["wsgi.input"]
    n = 0
    while left > 0:
        data = stream.read(min(left, 1 << 20))
        if not data:
            break
        digest.update(data)
        n += len(data)
        left -= len(data)
    return f"{n} {digest.hexdigest()}\n".encode()


def mount(app, prefix, environ, start_response):
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    environ["SCRIPT_NAME"], environ["PATH_INFO"] = prefix, path[len(prefix):]
    return app(environ, start_response)


def application(environ, start_response):
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    if path == "/wsgi/forbidden":
        return text(start_response, "403 Forbidden", b"forbidden\n")
    if path == "/wsgi/missing":
        return text(start_response, "404 Not Found", b"missing\n")
    if path == "/wsgi/read-exact":
        return text(start_response, "200 OK", read_exact(environ))
    if path.startswith("/flask/"):
        return mount(limited, "/flask", environ, start_response)
    if path.startswith("/django/"):
        return mount(djangoapp.application, "/django", environ, start_response)
    return text(start_response, "404 Not Found", b"no such route\n")
