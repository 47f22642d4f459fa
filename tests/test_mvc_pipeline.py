"""The smisk.mvc request pipeline served for real: tests/apps/mvc_app.py
bound to a unix socket, asked over FastCGI (tests/fcgi_client.py), one
process per configuration. Negotiation by extension, Accept and
Accept-Charset, body decoding, errors per format, leaf restrictions.
Tests named after a P-n would have caught that bug of the original."""
import gzip
import json
import plistlib
import xmlrpc.client

import pytest
import yaml

import mvc_helpers as mh
from fcgi_client import default_params

# Writers of the default set: extension → (first media type, reader of the body)
WRITERS = {
    "json": ("application/json", json.loads),
    "js": ("text/javascript", None),
    "sphp": ("application/vnd.php.serialized", None),
    "yaml": ("application/x-yaml", yaml.safe_load),
    "txt": ("text/plain", None),
    "plist": ("application/plist+xml", plistlib.loads),
    "html": ("text/html", None),
    "xmlrpc": ("application/rpc+xml", lambda b: xmlrpc.client.loads(b)[0][0]),
}
MEDIA_TYPES = {  # every media type a default serializer answers for
    "application/json": "json", "text/javascript": "js", "application/vnd.php.serialized": "sphp",
    "application/x-php-serialized": "sphp", "application/x-yaml": "yaml", "text/yaml": "yaml",
    "text/x-yaml": "yaml", "text/plain": "txt", "application/plist+xml": "plist", "text/html": "html",
    "application/xhtml+xml": "html", "application/rpc+xml": "xmlrpc", "application/xml-rpc+xml": "xmlrpc",
}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mvc")
    (tmp / "file.txt.gz").write_bytes(gzip.compress(b"zipped"))
    p = mh.start(tmp, env={"MVC_APP_FILE": str(tmp / "file.txt.gz"), "MVC_APP_FAKE_MODEL": "1",
                           "MVC_APP_FILTERS": "1", "MVC_APP_MAX_FORM": "4096"})
    yield p
    p.stop()


@pytest.fixture(scope="module")
def lenient(tmp_path_factory):
    """strict_tcn off, JSON by default, ETags, a small body cap, tracebacks on."""
    tmp = tmp_path_factory.mktemp("mvc-lenient")
    conf = ('"smisk.mvc.strict_tcn": false, "smisk.mvc.response.serializer": "json", "smisk.mvc.etag": "sha1", '
            '"smisk.mvc.max_request_body": 100, "smisk.mvc.show_traceback": true')
    p = mh.start(tmp, env={"MVC_APP_CONF": conf}, name="lenient")
    yield p
    p.stop()


def ask(app, path, **kw):
    return mh.ask(app.address, path, **kw)


# --- negotiation ------------------------------------------------------------

@pytest.mark.parametrize("ext", sorted(WRITERS))
def test_every_serializer_by_extension(app, ext):
    a = ask(app, f"/unicode.{ext}")
    media_type, reader = WRITERS[ext]
    assert a.status == 200, a
    assert a.content_type.startswith(media_type), a
    assert a.header("Vary") == "Accept-Charset" and a.header("Content-Location") is None
    if reader is not None:
        assert reader(a.body) == {"text": "räksmörgås ☃"}
    elif ext == "js":
        assert a.body.startswith(b"jsonp_callback(") and a.header("X-Content-Type-Options") == "nosniff"
    else:
        assert "räksmörgås".encode() in a.body or b"r\\u00e4ksm" in a.body


@pytest.mark.parametrize("media_type", sorted(MEDIA_TYPES))
def test_every_serializer_by_accept(app, media_type):
    ext = MEDIA_TYPES[media_type]
    a = ask(app, "/unicode", headers={"Accept": media_type})
    assert a.status == 200, a
    assert a.content_type.split(";")[0] == media_type  # the type the client asked for
    assert a.header("Content-Location") == f"/unicode.{ext}"
    assert a.header("Vary") == "Accept-Charset, Accept"


@pytest.mark.parametrize("accept, expected", [
    ("application/json;q=0.5, application/x-yaml;q=0.9", "application/x-yaml"),
    ("application/x-yaml;q=0.1, application/json", "application/json"),
    ("text/html;level=1;q=0.9, application/json;q=0.8", "text/html"),
    ("APPLICATION/JSON", "application/json"),
    ("application/unknown, application/json;q=0.2", "application/json"),
    ("*/*", "text/html"),                   # no default serializer: the fallback (HTML)
    ("application/unknown, */*;q=0.1", "text/html"),
    ("image/*, text/*;q=0.5", "text/javascript"),  # the first registered text/* serializer
    ("application/json;q=abc, text/html", "text/html"),  # a malformed q counts as 0
])
def test_accept_q_values(app, accept, expected):
    a = ask(app, "/unicode", headers={"Accept": accept})
    assert a.status == 200 and a.content_type.split(";")[0] == expected, (accept, a)


@pytest.mark.parametrize("accept", ["image/png", "garbage", ";;;", "application/json;q=0", "x" * 5000,
                                    ",,,;q=1", "text/html;q=0, application/json;q=0"])
def test_unmet_or_hostile_accept_is_406(app, accept):
    a = ask(app, "/unicode", headers={"Accept": accept})
    assert a.status == 406, a
    assert a.content_type.startswith("text/html")  # the error page in the fallback format


def test_no_accept_is_300_with_every_format_and_P19_alternates_are_encoded(app):
    a = ask(app, '/echo"x,y', query="q=1")
    assert a.status == 300, a
    assert a.header("TCN") == "list"
    alternates = a.header("Alternates")
    for ext in WRITERS:
        assert f'{{"/echo%22x%2Cy.{ext}?q=1" 1.0 {{type ' in alternates, alternates
    assert alternates.count('"') == 2 * len(WRITERS)  # no quote from the path survives
    assert b"/echo&quot;x,y.json?q=1" in a.body


def test_unknown_extension_is_part_of_the_name(app):
    assert ask(app, "/unicode.nosuchformat", headers={"Accept": "application/json"}).status == 404


@pytest.mark.parametrize("accept_charset, expected", [
    ("koi8-r", "koi8-r"),
    ("koi8-r, utf-8;q=0.3", "utf-8"),     # the preferred charset is acceptable: kept
    ("*", "utf-8"),
    ("iso-8859-1;q=0.5, *;q=0.1", "utf-8"),
    ("ISO-8859-1", "iso-8859-1"),
    ("x-unknown, latin-1;q=0.2", "latin-1"),
])
def test_charset_negotiation(app, accept_charset, expected):
    a = ask(app, "/latin.html", headers={"Accept-Charset": accept_charset})
    assert a.status == 200, a
    assert a.content_type == f"text/html; charset={expected}"
    assert "café".encode(expected, "xmlcharrefreplace") in a.body


def test_P43_unacceptable_charset_is_406_before_the_leaf(app):
    before = ask(app, "/side_effects.json").json["calls"]
    a = ask(app, "/writes.json", method="POST", headers={"Accept-Charset": "x-unknown"})
    assert a.status == 406, a
    assert ask(app, "/side_effects.json").json["calls"] == before


def test_charset_fallback_when_not_strict(lenient):
    a = ask(lenient, "/latin.html", headers={"Accept-Charset": "x-unknown"})
    assert a.status == 200 and a.content_type == "text/html; charset=utf-8"


def test_default_serializer_answers_without_accept(lenient):
    a = ask(lenient, "/unicode")
    assert a.status == 200 and a.json == {"text": "räksmörgås ☃"}
    assert ask(lenient, "/unicode", headers={"Accept": "image/png"}).status == 200  # strict_tcn off


# --- bodies and arguments ---------------------------------------------------

def test_json_body_merges_with_query(app):
    a = ask(app, "/echo.json", method="POST", query="a=1&b=query", body=b'{"b": 2, "c": [1]}',
            content_type="application/json")
    assert a.json == {"args": [], "params": {"a": "1", "b": 2, "c": [1]}}


@pytest.mark.parametrize("content_type", ['application/json; charset="utf-8"; junk', "APPLICATION/JSON;CHARSET=UTF-8",
                                          "application/json ; charset = utf-8", "application/json;=;charset"])
def test_P41_content_type_parameters(app, content_type):
    a = ask(app, "/echo.json", method="POST", body='{"x": "ä"}'.encode(), content_type=content_type)
    assert a.status == 200 and a.json["params"] == {"x": "ä"}, a


def test_yaml_and_xmlrpc_bodies(app):
    a = ask(app, "/echo.json", method="PUT", body=b"x: 1\ny: [a, b]\n", content_type="application/x-yaml")
    assert a.json["params"] == {"x": 1, "y": ["a", "b"]}
    call = xmlrpc.client.dumps(({"k": "v"}, 5), methodname="echo")
    a = ask(app, "/", method="POST", body=call.encode(), content_type="application/rpc+xml")
    assert a.status == 200 and a.content_type.startswith("application/rpc+xml")  # the rpc answers in kind
    assert xmlrpc.client.loads(a.body)[0][0] == {"args": [5], "params": {"k": "v"}}


@pytest.mark.parametrize("body, content_type", [
    (b"{bad", "application/json"), (b"[1, 2", "application/json"), (b"\xff\xfe", "application/json"),
    (b"a: [", "application/x-yaml"), (b"!!python/object:os.system {}", "application/x-yaml"),
    (b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><methodCall/>", "application/rpc+xml"),
    (b"<methodCall><params/></methodCall>", "application/rpc+xml"),
    (b"NaN", "application/json"),
])
def test_malformed_bodies_are_400(app, body, content_type):
    a = ask(app, "/echo.json", method="POST", body=body, content_type=content_type)
    assert a.status == 400, a
    assert a.json["code"] == 400 and "Traceback" not in a.body.decode()


def test_unreadable_body_types_are_415(app):
    for ct in ("application/x-unknown", "text/html", "text/javascript"):  # unknown, write-only formats
        a = ask(app, "/echo", method="POST", body=b"x", content_type=ct, headers={"Accept": "application/json"})
        assert a.status == 415, (ct, a)
        assert a.body == b""  # 415 has no body


def test_P13_decoded_bodies_are_capped(lenient):
    big = json.dumps({"x": "y" * 200}).encode()
    a = ask(lenient, "/echo.json", method="POST", body=big, content_type="application/json")
    assert a.status == 413 and a.json["code"] == 413
    small = json.dumps({"x": "y"}).encode()
    assert ask(lenient, "/echo.json", method="POST", body=small, content_type="application/json").status == 200


def test_form_over_the_core_limit_is_413(app):
    body = b"a=" + b"x" * 10000
    a = ask(app, "/echo.json", method="POST", body=body, content_type="application/x-www-form-urlencoded")
    assert a.status == 413, a


def test_bad_content_length_is_400(app):
    p = mh.params_for("/echo.json", "POST", body=b"{}", content_type="application/json")
    p["CONTENT_LENGTH"] = "12abc"
    a = mh.ask(app.address, "/echo.json", params=p, body=b"{}")
    assert a.status in (400, 411), a


def test_P42_multipart_text_fields_become_leaf_params(app):
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\nfile data\r\n--{boundary}--\r\n").encode()
    a = ask(app, "/upload.json", method="POST", body=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert a.json == {"fields": {"title": "hello"}, "files": ["doc"]}


def test_P35_missing_parameters_are_400_naming_them(app):
    a = ask(app, "/need.json")
    assert a.status == 400 and a.json["description"] == "Missing required parameters: item"
    assert ask(app, "/need.json", query="item=x&junk=1").json == {"item": "x", "qty": 1}


def test_undecodable_query_is_400(app):
    a = ask(app, "/echo.json", query="a=%ff%fe")
    assert a.status in (200, 400)  # the core decodes tolerantly (latin-1) by default: never a 500


# --- leaf restrictions ------------------------------------------------------

def test_method_restriction_405_with_allow(app):
    a = ask(app, "/get_only.json", method="POST")
    assert a.status == 405 and a.header("Allow") == "GET, HEAD, OPTIONS"
    assert a.body == b""  # 405 has no body
    assert ask(app, "/get_only.json", method="HEAD").status == 200


def test_P49_options_reflects_without_running_the_leaf(app):
    before = ask(app, "/side_effects.json").json["calls"]
    a = ask(app, "/writes.json", method="OPTIONS")
    assert a.status == 200 and a.header("Allow") == "POST, PUT, OPTIONS"
    assert a.json["methods"] == ["POST", "PUT", "OPTIONS"]
    a = ask(app, "/side_effects.json", method="OPTIONS")
    assert a.header("Allow") == "OPTIONS, GET, HEAD, POST, PUT, DELETE" and "params" in a.json
    assert ask(app, "/side_effects.json").json["calls"] == before
    a = ask(app, "/", method="OPTIONS", params=dict(mh.params_for("/*", "OPTIONS", headers={"Accept": "application/json"}), SCRIPT_NAME="*"))
    assert a.status == 200 and set(a.json) == {"methods", "charsets", "serializers"}


def test_P49_head_errors_have_no_body(app):
    a = ask(app, "/nothing.json", method="HEAD")
    assert a.status == 404 and a.body == b"" and int(a.header("Content-Length")) > 0
    a = ask(app, "/unicode.json", method="HEAD")
    assert a.status == 200 and a.body == b"" and int(a.header("Content-Length")) > 0


def test_P34_format_restrictions(app, lenient):
    assert ask(app, "/json_only.json").status == 200
    assert ask(app, "/json_only.js").status == 200
    a = ask(app, "/json_only.yaml")
    assert a.status == 404 and a.json if False else a.status == 404
    assert "Resource not available as 'yaml'" in a.body.decode()
    assert ask(app, "/json_only", headers={"Accept": "text/html"}).status == 406
    # any listed extension of the serializer keeps it (yaml has one; xmlrpc too)
    assert ask(app, "/rpc_or_yaml", headers={"Accept": "text/yaml"}).content_type.startswith("text/yaml")
    # not strict: the first listed format, with its own Content-Type
    a = ask(lenient, "/json_only", headers={"Accept": "text/html"})
    assert a.status == 200 and a.content_type == "application/json; charset=utf-8" and a.json == {"json": True}


# --- answers ----------------------------------------------------------------

def test_P40_empty_answers_are_204_with_one_status(app):
    a = ask(app, "/empty.json")
    assert a.status == 204 and a.all("Status") == ["204 No Content"] and a.header("Content-Length") is None
    a = ask(app, "/empty.xmlrpc")  # XML-RPC answers None with a body
    assert a.status == 200 and xmlrpc.client.loads(a.body)[0] == (None,)


def test_str_bytes_and_status(app):
    a = ask(app, "/text.txt")
    assert a.body == "plain str ✓".encode() and a.content_type == "text/plain; charset=utf-8"
    a = ask(app, "/raw.json")
    assert a.body == b"\x00\x01raw" and a.content_type.startswith("application/octet-stream")
    a = ask(app, "/status_created.json")
    assert a.status == 201 and a.all("Status") == ["201 Created"]


def test_P53_replace_header_removes_duplicates(app):
    assert ask(app, "/headers_twice.json").all("X-Thing") == ["3"]


def test_P50_send_file_encoding_and_single_begin(app):
    a = ask(app, "/sendfile", headers={"Accept": "*/*"})
    assert a.status == 200, a
    assert a.header("Content-Encoding") == "gzip" and a.content_type == "text/plain"
    assert "charset" not in a.content_type and a.header("Vary") is None
    assert gzip.decompress(a.body) == b"zipped"


def test_P54_etag_and_if_none_match(lenient):
    a = ask(lenient, "/unicode.json")
    etag = a.header("ETag")
    assert etag and etag.startswith('"') and len(etag) == 42
    assert ask(lenient, "/unicode.json").header("ETag") == etag  # stable: no config reload per request
    b = ask(lenient, "/unicode.json", headers={"If-None-Match": f'"x", {etag}'})
    assert b.status == 304 and b.body == b"" and b.header("ETag") == etag


def test_P32_app_global_leaf_filters_each_once_in_order(app):
    for _ in range(3):
        assert ask(app, "/filter_trace.json").json == {"trace": ["outer", "inner"]}


def test_leaf_filters_in_any_decorator_order(app):
    for path in ("/filtered.json", "/filtered2.json"):
        a = ask(app, path, method="POST", body=b"value=v", content_type="application/x-www-form-urlencoded")
        assert a.json == {"flag": "filtered", "value": "v"}
        assert ask(app, path).status == 405


def test_P48_controllers_initialised_once(app):
    for _ in range(3):
        assert ask(app, "/inits_count.json").json == {"inits": 1}


def test_unicode_slugs_and_delegates(app):
    assert ask(app, "/SLØG/DÆTA.json").json == {"data": "åäö"}
    assert ask(app, "/sløg/").status == 300
    assert ask(app, "/api/version.json").json == {"version": 2}


def test_redirects(app):
    a = ask(app, "/go.json", query="to=/echo")
    assert a.status == 302 and a.header("Location") == "http://localhost/echo"
    assert a.json["description"] == "The resource has moved to http://localhost/echo"
    p = mh.params_for("/go.json", query="to=/x%23frag")
    p.update(HTTPS="on", SERVER_PORT="443", SERVER_NAME="example.org")
    assert mh.ask(app.address, "/go.json", params=p).header("Location") == "https://example.org/x"


def test_P8_redirect_to_another_site_is_refused(app):
    assert ask(app, "/go_external.json").status == 500


# --- errors -----------------------------------------------------------------

@pytest.mark.parametrize("ext", ["json", "yaml", "plist"])
def test_errors_per_format_carry_P38_the_status_code(app, ext):
    a = ask(app, f"/nothing.{ext}")
    _, reader = WRITERS[ext]
    body = reader(a.body)
    assert a.status == 404 and body["code"] == 404 and body["name"] == "404 Not Found"
    assert body["description"] == "No resource exists at /nothing"


def test_error_pages_in_the_other_formats(app):
    fault = ask(app, "/need.xmlrpc")
    assert fault.status == 400
    with pytest.raises(xmlrpc.client.Fault) as e:
        xmlrpc.client.loads(fault.body)
    assert e.value.faultCode == 400
    assert ask(app, "/teapot.json").body == b""  # 409 has no body
    html = ask(app, "/need.html")
    assert html.status == 400 and b"Missing required parameters: item" in html.body
    assert html.content_type == "text/html; charset=utf-8"
    txt = ask(app, "/need.txt")
    assert txt.status == 400 and b"Missing required parameters" in txt.body
    js = ask(app, "/nothing.js", query="callback=cb")
    assert js.status == 404 and js.body.startswith(b"cb(")


def test_bad_jsonp_callback_is_400(app):
    a = ask(app, "/unicode.js", query="callback=alert(1)//")
    assert a.status == 400, a
    assert b"alert(1)" not in a.body.split(b"description")[0]


def test_P10_500_bodies_hide_internal_messages(app):
    a = ask(app, "/boom.json")
    assert a.status == 500 and a.json["description"] == "Internal Server Error"
    assert "secret-internal-detail" not in a.body.decode() and "traceback" not in a.json
    assert a.header("Vary") == "Accept, Accept-Charset"
    assert ask(app, "/typeerror_inside.json").status == 500


def test_show_traceback_shows_it(lenient):
    a = ask(lenient, "/boom.json")
    assert a.status == 500 and "secret-internal-detail" in a.json["description"]
    assert "Traceback" in a.json["traceback"]


def test_P39_error_without_server_variables(app):
    p = default_params(script="/nothing.json")
    for k in ("SERVER_SOFTWARE", "SERVER_NAME"):
        p.pop(k)
    a = mh.ask(app.address, "/nothing.json", params=p)
    assert a.status == 404 and a.json["server"] == " at "


def test_msie_error_padding(app):
    a = ask(app, "/nothing.json", headers={"User-Agent": "Mozilla/4.0 (compatible; MSIE 6.0)"})
    assert a.status == 404 and len(a.body) == 512 and a.header("Content-Length") == "512"


def test_P37_model_rolls_back_on_4xx_and_commits_on_redirects(app):
    before = ask(app, "/model_counts.json").json
    assert ask(app, "/model_fail.json").status == 409
    assert ask(app, "/model_redirect.json").status == 303
    after = ask(app, "/model_counts.json").json
    assert after["rollback"] == before["rollback"] + 1
    assert after["commit"] == before["commit"] + 2  # the redirect and the first model_counts


def test_repeated_requests_are_stable(app):
    """The same answers 30 times: per-request state is reset."""
    for i in range(30):
        assert ask(app, "/unicode.json").json == {"text": "räksmörgås ☃"}
        a = ask(app, "/unicode", headers={"Accept": "application/x-yaml"})
        assert a.content_type.startswith("application/x-yaml") and a.header("Content-Location") == "/unicode.yaml"
        assert ask(app, "/nothing.json").status == 404
