"""smisk.mvc's small parts in this process: statuses and HTTP exceptions,
the negotiation functions (Accept, Accept-Charset, Content-Type), the
Response helpers, redirects, templates and the namespace. Tests named after
a P-n would have caught that bug of the original."""
import types

import pytest

from smisk.mvc import http, negotiation
from smisk.mvc.helpers import compose_query, is_same_origin
from smisk.mvc.messages import Response
from smisk.serialization import Registry, Serializer


def fake_app(url=None):
    from smisk.core import URL

    request = types.SimpleNamespace(url=URL(url or "http://example.org/shop/cart"),
                                    cn_url=URL(url or "http://example.org/shop/cart"), env={})
    return types.SimpleNamespace(response=Response(), request=request)


# --- smisk.mvc.http ---------------------------------------------------------

def test_statuses():
    assert http.STATUS[404] is http.NotFound and http.STATUS[308] is http.PermanentRedirect
    assert str(http.NotFound) == "404 Not Found" and repr(http.NotFound) == "Status(404, 'Not Found')"
    assert http.InternalServerError.is_error and not http.NotFound.is_error
    assert http.NotFound.is_client_error and not http.OK.is_client_error
    assert http.RequestTimeout.name == "Request Time-out" and not http.RequestTimeout.has_body
    assert http.MultipleChoices.uses_template is False
    assert {"STATUS", "HTTPExc", "Status", "Status3xx", "Status300", "Status404", "TooManyRequests"} <= set(http.__all__)
    for name in http.__all__:
        assert hasattr(http, name), name


def test_P38_http_exceptions_carry_the_code():
    e = http.BadRequest("why", extra=1)
    assert isinstance(e, http.HTTPExc) and e.status is http.BadRequest and e.code == 400
    assert e.args == ("why",) and e.kwargs == {"extra": 1}
    assert str(e) == "400 Bad Request ('why',) {'extra': 1}"
    app = fake_app()
    assert e(app) == {"description": "why"}
    assert app.response.headers == ["Status: 400 Bad Request"]
    assert http.Conflict()(app) is None  # no body


def test_redirect_location_drops_credentials_fragment_and_default_port():
    app = fake_app()
    assert http.Found("http://u:p@example.org:80/x?q=1#frag")(app) == {
        "description": "The resource has moved to http://example.org/x?q=1"}
    assert app.response.headers.count("Location: http://example.org/x?q=1") == 1
    http.SeeOther("https://example.org:443/y")(app)
    http.SeeOther("https://example.org:8443/z")(app)
    assert [h for h in app.response.headers if h.startswith("Location")] == ["Location: https://example.org:8443/z"]
    with pytest.raises(TypeError):
        http.Found()(app)


def test_404_default_description():
    app = fake_app("http://example.org/a/b?x=1")
    assert http.NotFound()(app) == {"description": "No resource exists at /a/b?x=1"}
    assert http.NotFound("gone")(app) == {"description": "gone"}


# --- negotiation ------------------------------------------------------------

class J(Serializer):
    name, extensions, media_types, can_serialize = "J", ("j",), ("application/j",), True


class H(Serializer):
    name, extensions, media_types, can_serialize = "H", ("h",), ("text/h", "text/alt-h"), True


class T(Serializer):
    name, extensions, media_types, can_serialize = "T", ("t",), ("text/t",), True


@pytest.fixture
def registry():
    r = Registry()
    for s in (J, H, T):
        r.register(s)
    return r


@pytest.mark.parametrize("accept, default, expected, content_type", [
    ("application/j", None, J, "application/j"),
    ("text/t;q=0.9, application/j;q=0.8", None, T, "text/t"),
    ("text/t, application/j", J, J, "application/j"),          # a: the default at q=1
    ("text/t;q=0.9, application/j;q=0.5", J, T, "text/t"),      # b: the default is not at q=1
    ("image/png, */*", None, H, None),                           # c: the fallback
    ("image/png, */*", T, T, None),                              # c: the default
    ("image/*, text/*", None, H, None),                          # d: the first text/* serializer
    ("image/*, text/*", T, T, None),                             # d: the default's major type
    ("TEXT/ALT-H", None, H, "text/alt-h"),
])
def test_choose_serializer(registry, accept, default, expected, content_type):
    choice = negotiation.choose_serializer(accept, registry, default, H)
    assert (choice.serializer, choice.content_type) == (expected, content_type)


def test_choose_serializer_refusals(registry):
    with pytest.raises(http.HTTPExc) as e:
        negotiation.choose_serializer("image/png", registry, None, H)
    assert e.value.status is http.NotAcceptable
    assert negotiation.choose_serializer("image/png", registry, J, H, strict_tcn=False).serializer is J
    with pytest.raises(http.HTTPExc) as e:
        negotiation.choose_serializer(None, registry, None, H)  # no Accept, no default: 300
    assert e.value.status is http.MultipleChoices
    assert negotiation.choose_serializer("", registry, None, H, no_http_exc=True).serializer is H
    one = Registry()
    one.register(J)
    assert negotiation.choose_serializer(None, one, None, J).serializer is J
    # a type refused with q=0 is not chosen through */*
    with pytest.raises(http.HTTPExc):
        negotiation.choose_serializer("text/h;q=0, */*", registry, None, H)


@pytest.mark.parametrize("header, current, expected", [
    (None, "utf-8", ("utf-8", [])),
    ("*", "utf-8", ("utf-8", [])),
    ("koi8-r", "utf-8", ("koi8-r", [["koi8-r", 100]])),
    ("koi8-r, utf-8;q=0.3", "utf-8", ("utf-8", [["koi8-r", 100], ["utf-8", 30]])),
    ("UTF8", "utf-8", ("utf-8", [["utf8", 100]])),      # aliases are the same charset
    ("base64, latin-1;q=0.1", "utf-8", ("latin-1", [["base64", 100], ["latin-1", 10]])),  # not a charset
    ("utf-8;q=0, koi8-r;q=0.4", "utf-8", ("koi8-r", [["koi8-r", 40], ["utf-8", 0]])),
])
def test_P43_choose_charset(header, current, expected):
    assert negotiation.choose_charset(header, current) == expected


def test_choose_charset_refusal_and_fallback():
    with pytest.raises(http.HTTPExc) as e:
        negotiation.choose_charset("x-unknown", "utf-8")
    assert e.value.status is http.NotAcceptable
    assert negotiation.choose_charset("x-unknown", "utf-8", strict_tcn=False)[0] == "utf-8"
    assert negotiation.accepts_charset([], "koi8-r")
    assert negotiation.accepts_charset([["utf8", 100]], "UTF-8")
    assert not negotiation.accepts_charset([["utf-8", 0]], "utf-8")
    assert negotiation.accepts_charset([["*", 50]], "koi8-r")


@pytest.mark.parametrize("value, expected", [
    (None, ("", {})),
    ("application/json", ("application/json", {})),
    ('Application/JSON; Charset="UTF-8"', ("application/json", {"charset": "UTF-8"})),
    ("text/plain; charset=utf-8; format=flowed; junk; =x", ("text/plain", {"charset": "utf-8", "format": "flowed"})),
    ('multipart/form-data; boundary="a;b=c"', ("multipart/form-data", {"boundary": "a;b=c"})),
    ("text/plain;charset=a=b", ("text/plain", {"charset": "a=b"})),
])
def test_P41_parse_content_type(value, expected):
    assert negotiation.parse_content_type(value) == expected


@pytest.mark.parametrize("path, expected", [
    ("/a/b.j", ("j", "/a/b")), ("/a/b.J", ("j", "/a/b")), ("/a.b/c", (None, "/a.b/c")),
    ("/a/b.x", (None, "/a/b.x")), ("/.j", ("j", "/")), ("/a.", (None, "/a.")), ("/", (None, "/")),
    ("/john.doe.j", ("j", "/john.doe")),
])
def test_split_format_extension(registry, path, expected):
    assert negotiation.split_format_extension(path, registry) == expected


# --- Response helpers -------------------------------------------------------

def test_P40_adjust_status():
    r = Response()
    r.headers = ["Content-Length: 0"]
    r.adjust_status(False)
    assert r.headers == ["Status: 204 No Content"]
    r.headers = ["Status: 201 Created", "Content-Length: 0"]
    r.adjust_status(False)
    assert r.headers == ["Status: 204 No Content"]
    r.headers = ["Status: 404 Not Found"]
    r.adjust_status(False)
    assert r.headers == ["Status: 404 Not Found"]
    r.adjust_status(True)
    assert r.headers == ["Status: 404 Not Found"]


def test_P53_replace_and_remove_headers():
    r = Response()
    r.headers = ["X-A: 1", "Vary: a", "x-a: 2", "X-B: 3"]
    r.replace_header("X-A: new")
    assert r.headers == ["X-A: new", "Vary: a", "X-B: 3"]
    r.replace_header("X-C: c")
    assert r.headers[-1] == "X-C: c"
    r.remove_headers("vary", "X-B:")
    assert r.headers == ["X-A: new", "X-C: c"]
    r.status = 404
    assert r.status is http.NotFound and "Status: 404 Not Found" in r.headers
    r.status = http.OK
    assert r.headers.count("Status: 200 OK") == 1


# --- helpers ----------------------------------------------------------------

def test_compose_query():
    assert compose_query({"a": 1, "b": ["x y", "z"]}) == "a=1&b=x+y&b=z"


@pytest.mark.parametrize("url, same", [
    ("/path", True), ("path?q=1", True), ("?q", True), ("http://example.org/x", True),
    ("http://example.org:80/x", True), ("http://EXAMPLE.org/", True),
    ("https://example.org/", False), ("http://example.org:8080/", False), ("http://evil.example/", False),
    ("//evil.example/x", False), ("\\\\evil.example", False), ("javascript:alert(1)", False),
])
def test_P8_same_origin(url, same):
    assert is_same_origin(url, "http://example.org/shop") is same


# --- templates --------------------------------------------------------------

@pytest.fixture
def templates(tmp_path):
    from smisk.mvc.template import Templates

    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "page.html").write_text("<p>${value}</p><p>${value|h}</p><script>var v = ${value|j};</script>")
    (tmp_path / "t" / "sub").mkdir()
    (tmp_path / "t" / "sub" / "child.html").write_text('<%inherit file="../base.html"/>child')
    (tmp_path / "t" / "base.html").write_text("[${next.body()}]")
    (tmp_path / "secret.html").write_text("secret")
    t = Templates()
    t.directories = [str(tmp_path / "t")]
    return t


def test_P6_legacy_escaping_rule_and_safe_j(templates):
    out = templates.template_for_uri("/page.html").render_unicode(value="</script><b>&")
    assert "<p></script><b>&</p>" in out                      # default filter 'str': not escaped
    assert "<p>&lt;/script&gt;&lt;b&gt;&amp;</p>" in out        # |h escapes
    assert 'var v = "\\u003c/script\\u003e\\u003cb\\u003e\\u0026";' in out
    dict_out = templates.template_for_uri("/page.html").render_unicode(value={"k": [1, "<"]})
    assert 'var v = {"k": [1, "\\u003c"]};' in dict_out       # |j sees the data, not its repr


def test_h_as_default_filter(templates, tmp_path):
    from smisk.config import config
    from smisk.mvc.template import Templates

    config["smisk.mvc.template.default_filters"] = ["h"]
    try:
        t = Templates()
        t.directories = templates.directories
        out = t.template_for_uri("/page.html").render_unicode(value="<b>")
        assert "<p>&lt;b&gt;</p>" in out and "&amp;lt;" not in out.split("<script>")[0].split("</p>")[0]
    finally:
        del config["smisk.mvc.template.default_filters"]


def test_P51_template_paths_are_confined(templates):
    from smisk.mvc.template import TopLevelLookupException

    for uri in ("/../secret.html", "../secret.html", "/sub/../../secret.html"):
        assert templates.template_for_uri(uri, exc_if_not_found=False) is None, uri
    with pytest.raises(TopLevelLookupException) as e:
        templates.template_for_uri("/nope.html")
    assert e.value.status is http.NotFound
    assert templates.template_for_uri("/sub/child.html").render_unicode() == "[child]"
    assert templates.filename_to_uri(templates.directories[0] + "/sub/child.html") == "/sub/child.html"
    assert templates.adjust_uri("x.html", "/sub/child.html") == "/sub/x.html"


def test_template_cache_limit(templates):
    from smisk.config import config
    from smisk.mvc.template import Templates

    config["smisk.mvc.template.cache_limit"] = 1
    try:
        t = Templates()
        t.directories = templates.directories
        a = t.template_for_uri("/page.html")
        t.template_for_uri("/base.html")
        assert t.template_for_uri("/page.html") is not a  # evicted, compiled again
        assert len(t.cache.items) == 1
    finally:
        del config["smisk.mvc.template.cache_limit"]


def test_render_error_lookup(templates, tmp_path):
    from smisk.config import config

    (tmp_path / "t" / "err.html").write_text("E ${code} ${description|h}")
    config["smisk.mvc.template.errors"] = {0: "err"}
    try:
        assert templates.render_error(http.NotFound, {"code": 404, "description": "<x>"}) == "E 404 &lt;x&gt;"
        assert templates.render_error(http.NotFound, {}, "json") is None
    finally:
        del config["smisk.mvc.template.errors"]


def test_put_string(templates):
    templates.put_string("/inline.txt", "hello ${name}")
    assert templates.template_for_uri("inline.txt").render_unicode(name="you") == "hello you"


# --- the namespace ----------------------------------------------------------

def test_namespace_of_from_smisk_mvc_import_star():
    ns = {}
    exec("from smisk.mvc import *", ns)
    for name in ("Controller", "expose", "hide", "leaf_filter", "http", "redirect_to", "compose_query", "main",
                 "setup", "run", "Application", "Request", "Response", "Main", "environment", "config",
                 "serializers", "Serializer", "Router", "Destination", "Templates", "Entity", "model", "control",
                 "app", "request", "response", "URL", "os", "sys", "logging", "LOGGING_FORMAT", "LOGGING_DATEFMT",
                 "log", "routing", "decorators", "helpers", "template", "mimetypes", "re", "StringType",
                 "tokenize_path", "parse_qvalue_header", "introspect", "frozendict" if False else "Timer",
                 "unique", "format_exc", "DateTime", "callable_cache_key", "Monitor"):
        assert name in ns, name
    import smisk.mvc
    assert "json" in smisk.mvc.serializers.extensions  # the default serializers are registered


def test_P73_config_naming_an_unloaded_serializer_imports_it():
    import subprocess
    import sys

    code = ("import sys; from smisk.mvc import configfilter; "
            "assert 'smisk.serialization.xspf' not in sys.modules; "
            "s = configfilter.default_serializer('xspf'); print(s.name)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "XSPF", out


def test_P72_application_takes_show_traceback():
    import subprocess
    import sys

    code = ("from smisk.mvc import Application; a = Application(show_traceback=True); "
            "b = Application(show_traceback=False); print(a.show_traceback, b.show_traceback, "
            "type(a.routes).__name__, a.request_class.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "False", "Router", "Request"], out


def test_P51_setup_without_app_dir_or_templates_directory(tmp_path):
    import os
    import subprocess
    import sys

    script = tmp_path / "app.py"
    script.write_text("from smisk.mvc import *\na = Application()\na.setup()\nprint(a.templates)\n")
    env = {k: v for k, v in os.environ.items() if k != "SMISK_APP_DIR"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "None", out
    (tmp_path / "templates").mkdir()
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env)
    assert "Templates" in out.stdout, out


def test_every_public_name_exists():
    import smisk.mvc.control
    import smisk.mvc.decorators
    import smisk.mvc.filters
    import smisk.mvc.helpers
    import smisk.mvc.routing
    import smisk.mvc.template
    import smisk.util.fcgiproto
    import smisk.util.httpd
    import smisk.util.main
    expected = {
        smisk.mvc.control: {"root_controller", "controllers", "node_name", "uri_for", "path_to", "template_for",
                            "method_origin", "leaf_is_visible", "Controller", "enable_reflection",
                            "leaf_reflection"},
        smisk.mvc.routing: {"Destination", "Filter", "Router", "RegExpFilter"},
        smisk.mvc.decorators: {"expose", "hide", "leaf_filter", "LeafFilter"},
        smisk.mvc.helpers: {"compose_query", "redirect_to"},
        smisk.mvc.template: {"Templates", "Template"},
        smisk.mvc.filters: {"confirm", "AuthFilter", "SessionAuthFilter", "DigestAuthFilter", "sortable_entities"},
        smisk.util.main: {"absapp", "setup_appdir", "main_cli_filter", "handle_errors_wrapper", "Main", "main",
                          "daemonize", "wait_for_child_processes", "control_process_runloop", "find_program_path",
                          "parse_bind_arg", "extrapolate_binds", "fork_binds"},
        smisk.util.httpd: {"Server", "RequestHandler"},
        smisk.util.fcgiproto: {"FastCGIError", "Record", "parseNameValues", "writeNameValue", "Channel",
                               "FCGI_MAX_PACKET_LEN", "FCGI_KEEP_CONN", "FCGI_RESPONDER"},
    }
    for module, names in expected.items():
        assert names <= set(getattr(module, "__all__", names)), module
        for name in names:
            assert hasattr(module, name), (module, name)
    assert hasattr(smisk.util.main, "_prepare_env")
    assert smisk.mvc.control.Controller.controller_name.__self__ is smisk.mvc.control.Controller


def test_P52_debug_work_is_guarded_with_isEnabledFor():
    import pathlib

    import smisk.mvc
    for path in pathlib.Path(smisk.mvc.__file__).parent.rglob("*.py"):
        text = path.read_text()
        assert "log.level" not in text and "logger.level" not in text, path


def test_absapp_and_setup_appdir(tmp_path, monkeypatch):
    from smisk.util.main import absapp, setup_appdir

    with pytest.raises(ValueError):
        absapp(int)
    with pytest.raises(ValueError):
        absapp(object())
    monkeypatch.setenv("SMISK_APP_DIR", "/somewhere")
    assert setup_appdir() == "/somewhere"
    assert setup_appdir(str(tmp_path)) == str(tmp_path)
    import os
    assert os.environ["SMISK_APP_DIR"] == str(tmp_path)
