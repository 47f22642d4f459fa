"""Unvalidated WSGI applications for the gateway's C request path
(smisk.core.WSGIGatewayBase): the one-block result it sends itself, start_response
called every way PEP 3333 allows, and what must still reach the full checks of
smisk.wsgi.headers. Run as a script, it serves CustomGateway (a subclass
overriding environ() and start_response()) on the unix socket of argv[1], or
with "shadowed" as argv[2] ShadowedGateway (wsgi_app a class attribute)."""
import gc
import json
import sys

from smisk.wsgi import Gateway


class Str(str):
    pass


TEXT = [("Content-Type", "text/plain")]


def s_list(environ, start_response):
    start_response("200 OK", TEXT)
    return [b"hi"]


def s_tuple(environ, start_response):
    start_response("200 OK", TEXT)
    return (b"hi",)


def s_given_length(environ, start_response):
    start_response("200 OK", TEXT + [("Content-Length", "2")])
    return [b"hi"]


def s_no_content(environ, start_response):
    start_response("204 No Content", [])
    return [b""]


def s_not_modified(environ, start_response):
    start_response("304 Not Modified", [])
    return [b""]


def s_no_content_with_length(environ, start_response):
    # What Django's CommonMiddleware does to a 204.
    start_response("204 No Content", [("Content-Length", "0"), ("X-After", "1")])
    return [b""]


def s_not_modified_with_length(environ, start_response):
    start_response("304 Not Modified", [("content-length", "1234"), ("ETag", '"v1"')])
    return []


def s_empty(environ, start_response):
    start_response("200 OK", TEXT)
    return [b""]


def s_written(environ, start_response):
    write = start_response("200 OK", TEXT)
    write(b"a")
    return [b"b"]


def s_keywords(environ, start_response):
    start_response(status="201 Created", headers=TEXT)
    return [b"kw"]


def s_exc_info_keyword(environ, start_response):
    start_response("200 OK", TEXT)
    try:
        raise ValueError("late")
    except ValueError:
        start_response("500 Oops", [("Content-Type", "text/x-oops")], exc_info=sys.exc_info())
    return [b"replaced"]


def s_bad_keyword(environ, start_response):
    start_response("200 OK", TEXT, bogus=1)
    return [b"never"]


def s_one_argument(environ, start_response):
    start_response("200 OK")
    return [b"never"]


def s_sub_status(environ, start_response):
    start_response(Str("200 OK"), TEXT)
    return [b"never"]


def s_sub_header(environ, start_response):
    start_response("200 OK", [("Content-Type", Str("text/plain"))])
    return [b"never"]


def s_latin1(environ, start_response):
    start_response("200 OK", TEXT + [("X-Caf", "caf\xe9")])
    return [b"latin1"]


def s_str_block(environ, start_response):
    start_response("200 OK", TEXT)
    return ["text"]


def s_environ(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    keys = ("PATH_INFO", "SCRIPT_NAME", "CONTENT_TYPE", "CONTENT_LENGTH", "wsgi.url_scheme", "shapes.custom")
    out = {k: environ.get(k) for k in keys}
    out["has_http_content"] = "HTTP_CONTENT_TYPE" in environ or "HTTP_CONTENT_LENGTH" in environ
    return [json.dumps(out).encode()]


EDITED = [("Content-Type", "text/plain")]


def s_edited_list(environ, start_response):
    # One list object every time, edited in place by the query string:
    # the lines sent must follow its items, not the object.
    query = environ.get("QUERY_STRING", "")
    if query.startswith("add="):
        EDITED.append(("X-Edit", query[4:]))
    elif query == "pop":
        EDITED.pop()
    start_response("200 OK", EDITED)
    return [b"ed"]


def s_environ_items(environ, start_response):
    # What the environ's copies must not share: the application's own
    # additions, and the gateway's shared items as they are now (the query
    # string "set=V" changes one of them for the requests after this one).
    start_response("200 OK", [("Content-Type", "application/json")])
    out = {k: v for k, v in environ.items() if isinstance(v, (str, bool))}
    query = environ.get("QUERY_STRING", "")
    if query.startswith("set="):
        environ["smisk.app"]._shared_environ["shapes.shared"] = query[4:]
    environ["shapes.added"] = "by the app"
    environ["REQUEST_METHOD"] = "CHANGED"
    return [json.dumps(out).encode()]


def s_rebind(environ, start_response):
    # While the gateway is calling it, its wsgi_app (the only reference to
    # the running callable, under CustomGateway) is replaced.
    environ["smisk.app"].wsgi_app = lambda e, s: application(e, s)
    start_response("200 OK", TEXT)
    return [b"rebound"]


def s_unique(environ, start_response):
    # A header value never seen before: past 512 of them the caches are full.
    n = environ["QUERY_STRING"]
    start_response("200 OK", TEXT + [("X-N", n)])
    return [n.encode()]


def s_stats(environ, start_response):
    gc.collect()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"blocks": sys.getallocatedblocks(), "objects": len(gc.get_objects())}).encode()]


ROUTES = {"/" + name[2:].replace("_", "-"): fn for name, fn in list(globals().items()) if name.startswith("s_")}


def application(environ, start_response):
    return ROUTES[environ["PATH_INFO"]](environ, start_response)


class CustomGateway(Gateway):
    def environ(self):
        env = super().environ()
        env["shapes.custom"] = "yes"
        return env

    def start_response(self, status, headers, exc_info=None):
        return super().start_response(status, headers + [("X-Wrapped", "1")], exc_info)


class ShadowedGateway(CustomGateway):
    # A class attribute over WSGIGatewayBase's wsgi_app slot: assignments
    # then go to the instance dict, which the gateway must still find.
    wsgi_app = staticmethod(application)


if __name__ == "__main__":
    import smisk.core

    smisk.core.bind(sys.argv[1])
    gateway_class = ShadowedGateway if sys.argv[2:] == ["shadowed"] else CustomGateway
    # A callable referenced by the gateway alone (see s_rebind).
    gateway_class(lambda environ, start_response: application(environ, start_response)).run()
