"""An MVC application exercising the pipeline (tests/test_mvc_pipeline.py):
argv: [--bind ADDRESS] and the other main() options. Config from
MVC_APP_CONF (a config string) when set."""
import os
import sys

from smisk.mvc import *
from smisk.mvc.decorators import leaf_filter
from smisk.config import config


@leaf_filter
def add_flag(leaf, *args, **kwargs):
    kwargs["flag"] = "filtered"
    return leaf(*args, **kwargs)


class root(Controller):
    def __init__(self):
        self.inits = getattr(self, "inits", 0) + 1
        self.calls = 0

    def __call__(self, **params):
        return {"root": True, "params": params}

    def echo(self, *args, **params):
        """Echoes its arguments.

        More text here."""
        return {"args": list(args), "params": params}

    def need(self, item, qty=1):
        return {"item": item, "qty": qty}

    def inits_count(self):
        return {"inits": self.inits}

    @expose(methods=("GET",))
    def get_only(self):
        return {"ok": True}

    @expose(methods=("POST", "PUT"))
    def writes(self, value=None):
        self.calls += 1
        return {"calls": self.calls, "value": value}

    def side_effects(self):
        return {"calls": self.calls}

    @expose(formats=("json", "js"))
    def json_only(self):
        return {"json": True}

    @expose(formats=("xmlrpc", "yaml"))
    def rpc_or_yaml(self):
        return {"ok": 1}

    def empty(self):
        return None

    def text(self):
        return "plain str ✓"

    def raw(self):
        response.headers.append("Content-Type: application/octet-stream")
        return b"\x00\x01raw"

    def boom(self):
        raise KeyError("secret-internal-detail")

    def typeerror_inside(self):
        return len(5)

    def teapot(self):
        raise http.Conflict("busy")

    def go(self, to="/echo"):
        redirect_to(to)

    def go_external(self):
        redirect_to("http://evil.example/")

    def upload(self, **params):
        return {"fields": params, "files": sorted(request.files)}

    def status_created(self):
        response.status = http.Created
        return {"created": True}

    def headers_twice(self):
        response.headers.append("X-Thing: 1")
        response.headers.append("X-Thing: 2")
        response.replace_header("X-Thing: 3")
        return {"ok": True}

    def sendfile(self):
        response.send_file(os.environ["MVC_APP_FILE"])

    @add_flag
    @expose(methods="POST")
    def filtered(self, flag=None, value=None):
        return {"flag": flag, "value": value}

    @expose(methods="POST")
    @add_flag
    def filtered2(self, flag=None, value=None):
        return {"flag": flag, "value": value}

    def unicode(self):
        return {"text": "räksmörgås ☃"}

    def latin(self):
        return {"text": "caf\xe9"}

    def env(self):
        keys = ("HTTP_PROXY", "PATH_INFO", "QUERY_STRING", "REQUEST_URI", "SERVER_SOFTWARE", "SERVER_NAME",
                "CONTENT_LENGTH", "HTTP_X_CUSTOM")
        return {k: request.env.get(k) for k in keys}

    @expose(methods="POST")
    def size(self, **params):
        return {"lengths": {k: len(v) for k, v in params.items()}}

    def model_counts(self):
        return dict(sys.modules["smisk.mvc.model"].counts)

    def model_fail(self):
        raise http.Conflict("no")

    def model_redirect(self):
        raise http.SeeOther("/echo")

    def filter_trace(self):
        return {"trace": list(TRACE)}


class Ünïcode(root):
    slug = "sløg"

    def __call__(self):
        return {"unicode": True}

    @expose("dæta")
    def data(self):
        return {"data": "åäö"}


class api(root):
    @expose(delegates=True)
    def version(self):
        return {"version": 2}


TRACE = []


def tracing(name):
    @leaf_filter
    def trace(leaf, *args, **kwargs):
        TRACE.append(name)
        return leaf(*args, **kwargs)
    trace.__name__ = name
    return trace


class FakeModel:
    """Stands in for smisk.mvc.model (the ORM): records commits and rollbacks."""

    class metadata:
        bind = True

    session = None

    def __init__(self):
        self.counts = {"commit": 0, "rollback": 0}

    def commit_if_needed(self):
        self.counts["commit"] += 1

    def rollback_if_needed(self):
        self.counts["rollback"] += 1

    def setup_all(self, create=False):
        pass

    def cleanup_all(self):
        pass


class App(Application):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if os.environ.get("MVC_APP_FILTERS"):
            self.leaf_filters = [tracing("inner"), tracing("outer")]

    def service(self):
        if os.environ.get("MVC_APP_MAX_FORM"):
            self.request.max_formdata_size = int(os.environ["MVC_APP_MAX_FORM"])
        TRACE.clear()
        super().service()


if __name__ == "__main__":
    if os.environ.get("MVC_APP_FAKE_MODEL"):
        sys.modules["smisk.mvc.model"] = FakeModel()
    if os.environ.get("MVC_APP_CONF"):
        config.loads(os.environ["MVC_APP_CONF"])
    main(App)
