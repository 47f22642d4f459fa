"""smisk.serialization: the registry, the base class, every format's round
trip and edge values, and hostile input to every reader (each ends in a
defined exception). Tests named p<N>_ check the fix of a Smisk 1.x bug."""
import datetime
import io
import pickle
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

import smisk.serialization.all  # noqa: F401  (registers every format)
from smisk.serialization import (Registry, SerializationError, Serializer, UnserializationError, data,
                                 serializers)
from smisk.serialization.json import (InvalidCallbackError, JSONPSerializer, JSONSerializer, json_decode,
                                      json_encode)
from smisk.serialization.php_serial import PHPSerialSerializer
from smisk.serialization.plain_text import PlainTextSerializer, format_listing
from smisk.serialization.plist import XMLPlistSerializer
from smisk.serialization.python_pickle import PythonPickleSerializer
from smisk.serialization.python_py import PythonPySerializer
from smisk.serialization.xhtml import XHTMLSerializer
from smisk.serialization.xmlbase import XMLSerializer, XMLUnserializationError, xml_mktext, xml_tag
from smisk.serialization.xmlgeneric import GenericXMLSerializer, GenericXMLUnserializationError
from smisk.serialization.xmlrpc import XMLRPCSerializer
from smisk.serialization.xspf import XSPFSerializer
from smisk.serialization.yaml_serial import YAMLSerializer
from smisk.util.DateTime import DateTime, UTCTimeZone

UTC = datetime.timezone.utc
NESTED = {"name": "Åsa ☃ 𝄞 \u202e", "n": 42, "neg": -7, "big": 2 ** 62, "f": 0.1, "t": True, "fa": False,
          "list": [1, "two", [3, {"four": 4}]], "empty": "", "emptylist": [], "emptydict": {}}


class Status:
    def __init__(self, code, name):
        self.code, self.name = code, name

    def __str__(self):
        return f"{self.code} {self.name}"


class Response:
    def __init__(self, headers=()):
        self.headers = list(headers)


def roundtrip(serializer, value, charset="utf-8"):
    used, body = serializer.serialize(value, charset)
    assert isinstance(body, bytes)
    return serializer.unserialize(io.BytesIO(body), len(body), used)


# --- registry and base -------------------------------------------------------

def test_default_and_all_modules_register_in_order():
    names = [s.name for s in serializers]
    for expected in ("JSON", "JSONP", "PHP serial", "Plain text", "XML Property List", "XHTML", "XML-RPC",
                     "Python pickle", "Python repr", "Generic XML", "XSPF", "YAML"):
        assert expected in names
    assert names.index("JSON") < names.index("PHP serial") < names.index("Plain text")
    assert serializers.find("application/json") is JSONSerializer
    assert serializers.find("JSON") is JSONSerializer  # extension, case-insensitive
    assert serializers.find("text/HTML") is XHTMLSerializer
    assert serializers.find("nope") is None
    assert JSONSerializer in serializers and serializers[0] is serializers.first_in
    assert len(serializers) == len(list(iter(serializers)))
    assert JSONSerializer in list(serializers.readers) and JSONPSerializer not in list(serializers.readers)
    assert XHTMLSerializer in list(serializers.writers)


def test_p57_json_module_is_the_stdlib_json_and_registered():
    """The package's json module does not shadow the standard library's."""
    import json as stdlib_json

    assert stdlib_json.__file__ != smisk.serialization.json.__file__
    assert hasattr(stdlib_json, "JSONDecoder")
    assert serializers.extensions["json"] is JSONSerializer


def test_p63_registries_have_their_own_state_and_unregister_is_safe():
    """State per Registry instance; unregistering gives a shared key
    back to the serializer that still declares it."""
    class A(Serializer):
        name, extensions, media_types, can_serialize = "A", ("x",), ("text/x",), True

    class B(A):
        name = "B"

    events = []

    class C(A):
        name = "C"

        @classmethod
        def did_register(cls, registry):
            events.append(("reg", registry))

        @classmethod
        def did_unregister(cls, registry):
            events.append(("unreg", registry))

    r1, r2 = Registry(), Registry()
    r1.register(A)
    r1.register(B)
    r1.register(A)  # no-op
    assert r2.serializers == [] and r2.find("x") is None
    assert r1.serializers == [A, B] and r1.find("x") is B and r1.first_in is A
    r1.unregister(B)
    assert r1.find("x") is A and r1.find("text/x") is A
    r1.unregister(A)
    assert r1.find("x") is None and r1.first_in is None and len(r1) == 0
    r2.register(C)
    r2.unregister()
    assert events == [("reg", r2), ("unreg", r2)] and r2.serializers == []


def test_register_checks_types_and_associate():
    class Bad(Serializer):
        extensions = "json"  # a str, not a tuple

    r = Registry()
    with pytest.raises(TypeError):
        r.register(Bad)

    class A(Serializer):
        extensions, media_types = ("a",), ("text/a",)

    class B(Serializer):
        extensions, media_types = ("b",), ("text/b",)

    with pytest.raises(LookupError):
        r.associate(A, extension="z")
    r.register(A)
    r.register(B)
    r.associate(A, media_type=["Text/A2", "text/a3"], extension="AA")
    assert r.find("text/a2") is A and r.find("aa") is A
    with pytest.raises(ValueError):
        r.associate(B, extension="a", override_existing=False)
    r.associate(B, extension="a")
    assert r.find("a") is B


def test_serializer_base_class():
    assert Serializer.name == "Untitled serializer" and Serializer.directions() == []
    with pytest.raises(NotImplementedError):
        Serializer.serialize({}, None)
    with pytest.raises(UnserializationError):
        Serializer.unserialize(io.BytesIO(b""))
    assert JSONSerializer.directions() == ["read", "write"] and XHTMLSerializer.directions() == ["write"]
    assert Serializer._result({"a": 1}) == (None, {"a": 1})
    assert Serializer._result([1]) == ([1], None)
    assert Serializer._result(5) == ((5,), None)


def test_add_content_type_header():
    r = Response()
    JSONSerializer.add_content_type_header(r, "utf-8")
    assert r.headers == ["Content-Type: application/json; charset=utf-8"]
    r = Response(["content-type: text/x-mine"])
    JSONSerializer.add_content_type_header(r, "latin-1")
    assert r.headers == ["content-type: text/x-mine; charset=latin-1"]
    r = Response(["Content-Type: text/plain; charset=utf-8"])
    JSONSerializer.add_content_type_header(r, "latin-1")
    assert r.headers == ["Content-Type: text/plain; charset=utf-8"]
    r = Response()
    PHPSerialSerializer.add_content_type_header(r, None)
    assert r.headers == ["Content-Type: application/vnd.php.serialized"]


def test_data():
    d = data("åäö")
    assert bytes(d) == "åäö".encode() and len(d) == 6 and d == data(b"\xc3\xa5\xc3\xa4\xc3\xb6")
    assert data(io.BytesIO(b"xyz")) == b"xyz" and data(bytearray(b"q")).data == b"q"
    big = data(bytes(range(256)) * 2)
    text = big.encode()
    assert all(len(line) <= 76 for line in text.splitlines())
    assert data.decode(text) == big and hash(data.decode(text)) == hash(big)
    with pytest.raises(ValueError):
        data.decode("@@not base64@@")
    with pytest.raises(TypeError):
        data(12)


# --- round trips -------------------------------------------------------------

def test_json_roundtrip_and_helpers():
    assert roundtrip(JSONSerializer, NESTED) == (None, NESTED)
    assert roundtrip(JSONSerializer, [1, 2]) == ([1, 2], None)
    assert roundtrip(JSONSerializer, "x") == (("x",), None)
    when = datetime.datetime(2009, 2, 3, 4, 5, 6, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    _, body = JSONSerializer.serialize({"when": when, "d": datetime.date(2009, 1, 2), "bin": data(b"\x00"),
                                        "tuple": (1, 2), "set": {3}}, "utf-8")
    assert json_decode(body.decode()) == {"when": "2009-02-03T02:05:06Z", "d": "2009-01-02", "bin": "AA==\n",
                                          "tuple": [1, 2], "set": [3]}
    assert json_encode({"a": "å"}) == '{"a": "å"}'
    for charset in ("utf-16", "UTF-32-LE"):
        used, body = JSONSerializer.serialize(NESTED, charset)
        assert used == charset and JSONSerializer.unserialize(io.BytesIO(body), -1, charset)[1] == NESTED
    used, body = JSONSerializer.serialize({"a": "åß"}, "iso-8859-1")
    assert used == "utf-8" and body == b'{"a": "\\u00e5\\u00df"}'


def test_json_refuses_what_is_not_json():
    class Thing:
        pass

    with pytest.raises(SerializationError):
        JSONSerializer.serialize({"x": Thing()}, "utf-8")  # no silent str()
    with pytest.raises(SerializationError):
        JSONSerializer.serialize({"x": float("nan")}, "utf-8")

    class Entity:
        def to_dict(self):
            return {"id": 1}

    assert json_decode(JSONSerializer.serialize([Entity()], None)[1].decode()) == [{"id": 1}]


def test_p64_jsonp_is_write_only_and_p5_checks_the_callback(monkeypatch):
    """JSONP cannot be read; the callback is validated and the
    response is marked nosniff."""
    assert JSONPSerializer.directions() == ["write"]
    with pytest.raises(UnserializationError):
        JSONPSerializer.unserialize(io.BytesIO(b"cb({})"))
    assert JSONPSerializer.serialize({"a": 1}, "utf-8") == ("utf-8", b'jsonp_callback({"a": 1});')
    for good in ("cb", "jQuery123_456", "$.ns.fn", "_a$"):
        monkeypatch.setattr(JSONPSerializer, "callback_name", classmethod(lambda cls, g=good: g))
        assert JSONPSerializer.serialize([], "utf-8")[1] == good.encode() + b"([]);"
    monkeypatch.undo()
    import smisk.serialization.json as js

    for bad in ("alert(1)//", "a b", "1abc", "a..b", "<script>", "x" * 129, "a.", "é"):
        assert not js._CALLBACK_RE.match(bad) or len(bad) > js.MAX_CALLBACK_LENGTH
    r = Response()
    JSONPSerializer.add_content_type_header(r, "utf-8")
    assert r.headers == ["Content-Type: text/javascript; charset=utf-8", "X-Content-Type-Options: nosniff"]
    assert issubclass(InvalidCallbackError, SerializationError) and InvalidCallbackError.http_status == 400


def test_jsonp_callback_from_the_request(monkeypatch):
    class FakeRequest:
        is_active = True

        def __init__(self, callback):
            self.get = {"callback": callback}

    monkeypatch.setattr(smisk.serialization, "current_request", lambda: FakeRequest("my.cb"))
    assert JSONPSerializer.serialize(1, "utf-8")[1] == b"my.cb(1);"
    monkeypatch.setattr(smisk.serialization, "current_request", lambda: FakeRequest("alert(document.cookie)//"))
    with pytest.raises(InvalidCallbackError):
        JSONPSerializer.serialize(1, "utf-8")


def test_p61_php_serial_counts_bytes_and_keeps_strings():
    """String lengths are UTF-8 byte counts; numeric strings stay strings."""
    assert PHPSerialSerializer.serialize("å", None) == (None, b's:2:"\xc3\xa5";')
    assert PHPSerialSerializer.serialize("123", None)[1] == b's:3:"123";'
    value = {"a": [True, False, None, 1, 1.5], 2: "x", None: data(b"\x00"), True: -1}
    assert PHPSerialSerializer.serialize(value, None)[1] == (
        b'a:4:{s:1:"a";a:5:{i:0;b:1;i:1;b:0;i:2;N;i:3;i:1;i:4;d:1.5;}i:2;s:1:"x";s:0:"";s:1:"\x00";i:1;i:-1;}')
    assert PHPSerialSerializer.serialize(float("inf"), None)[1] == b"d:INF;"
    with pytest.raises(SerializationError):
        PHPSerialSerializer.serialize({"t": datetime.datetime.now()}, None)
    assert PHPSerialSerializer.directions() == ["write"]


def test_plain_text_with_and_without_yaml():
    used, body = PlainTextSerializer.serialize({"b": 1, "a": ["x", "y"]}, "utf-8")
    assert used == "utf-8" and b"a:" in body and b"- x" in body
    assert format_listing({"b": {"c": True}, "a": [1.5, "q"], "z": None}) == (
        "a:\n  1.500000\n  q\nb:\n  c: true\nz: null\n")
    assert PlainTextSerializer.serialize({"a": "e"}, "ascii")[0] == "ascii"
    with pytest.raises(SerializationError):
        PlainTextSerializer.serialize({"a": "€"}, "ascii")  # unicode_errors is 'strict'
    with pytest.raises(SerializationError):
        PlainTextSerializer.serialize({"a": "€"}, "no-such-charset")


def test_plist_roundtrip_and_edges():
    value = {"s": "Åsa", "n": 1, "f": 2.5, "t": True, "l": [1, "a"], "d": {"x": {}},
             "when": datetime.datetime(2009, 1, 2, 3, 4, 5, tzinfo=UTC), "bin": data(b"\x00\xff"), "none": None}
    _, got = roundtrip(XMLPlistSerializer, value)
    assert got["bin"] == b"\x00\xff" and got["when"] == datetime.datetime(2009, 1, 2, 3, 4, 5)
    assert "none" not in got and got["s"] == "Åsa" and got["d"] == {"x": {}}
    with pytest.raises(SerializationError):
        XMLPlistSerializer.serialize([None], None)
    with pytest.raises(SerializationError):
        XMLPlistSerializer.serialize({1: "int key"}, None)
    with pytest.raises(SerializationError):
        XMLPlistSerializer.serialize({"big": 2 ** 70}, None)


def test_p58_no_catch_all_conversions():
    """An arbitrary object is a SerializationError in every writer, not
    a silent str() or a crash on isinstance against a non-class."""
    class Thing:
        pass

    for s in (XMLPlistSerializer, YAMLSerializer, GenericXMLSerializer, XMLRPCSerializer, PHPSerialSerializer,
              JSONSerializer):
        with pytest.raises(SerializationError):
            s.serialize({"x": Thing()}, "utf-8")


def test_pickle_writes_and_p3_never_reads_by_default():
    """Reading a pickle would run code the client chose."""
    _, body = PythonPickleSerializer.serialize(NESTED, None)
    assert pickle.loads(body) == NESTED
    assert PythonPickleSerializer.directions() == ["write"] and not PythonPickleSerializer.can_unserialize

    class Boom:
        def __reduce__(self):
            return (sys.exit, ("pickle payload ran",))

    with pytest.raises(UnserializationError, match="disabled"):
        PythonPickleSerializer.unserialize(io.BytesIO(pickle.dumps(Boom())))

    class Trusting(PythonPickleSerializer):
        allow_read = True

    assert Trusting.can_unserialize and Trusting.directions() == ["read", "write"]
    assert roundtrip(Trusting, {"a": 1}) == (None, {"a": 1})
    with pytest.raises(UnserializationError):
        Trusting.unserialize(io.BytesIO(b"\x80\x05garbage"))


def test_p2_python_literals_read_only_when_enabled_and_never_evaluated(monkeypatch):
    """The py reader is off by default; turned on, it uses
    ast.literal_eval, so an expression is an error, not code run."""
    used, body = PythonPySerializer.serialize({"a": "åäö", "b": (1, 2)}, None)
    assert used is None and body.isascii()
    assert not PythonPySerializer.can_unserialize
    with pytest.raises(UnserializationError, match="disabled"):
        PythonPySerializer.unserialize(io.BytesIO(body))
    monkeypatch.setattr(PythonPySerializer, "allow_read", True)
    assert PythonPySerializer.can_unserialize
    assert PythonPySerializer.unserialize(io.BytesIO(body)) == (None, {"a": "åäö", "b": (1, 2)})
    for payload in (b"__import__('os').system('touch /tmp/pwned')", b"(lambda: 1)()", b"[x for x in ()]",
                    b"1 +", b"9" * 5000, b"[" * 100000 + b"]" * 100000, b"\xff"):
        with pytest.raises(UnserializationError):
            PythonPySerializer.unserialize(io.BytesIO(payload))


def test_xhtml_page_and_error_page(monkeypatch):
    used, body = XHTMLSerializer.serialize({"b": [1, True], "a": "<script>&"}, "utf-8")
    text = body.decode()
    assert used == "utf-8" and text.startswith('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html')
    assert "<title>Response</title>" in text and "&lt;script&gt;&amp;" in text
    assert text.index("<li>a: ") < text.index("<li>b: ") and "<ol><li><tt>1</tt></li><li><tt>True</tt>" in text
    ET.fromstring(body)  # well-formed
    used, body = XHTMLSerializer.serialize({"a": "€"}, "iso-8859-1")
    assert b"&#8364;" in body and b'encoding="iso-8859-1"' in body
    params = {"name": "500 Internal Server Error", "code": 500, "description": "one\n\ntwo <b>",
              "traceback": "Traceback <x>", "server": "nginx at example"}
    _, body = XHTMLSerializer.serialize_error(Status(500, "Internal Server Error"), params, "utf-8")
    text = body.decode()
    assert "<p>one</p><p>two &lt;b&gt;</p>" in text and '<pre class="traceback">Traceback &lt;x&gt;' in text
    assert "<address>nginx at example</address>" in text
    _, body = XHTMLSerializer.serialize_error(Status(404, "Not Found"), dict(params, code=404), "utf-8")
    assert b"traceback" not in body.split(b"</style>")[1]
    _, body = XHTMLSerializer.serialize_error(Status(400, "Bad"), {"description_html": "<em>x</em>"}, None)
    assert b"<em>x</em>" in body

    class Destination:
        path = ["shop", "cart"]

    app = type("App", (), {"destination": Destination(), "request": None})()
    monkeypatch.setattr(smisk.serialization, "current_application", lambda: app)
    assert b"<title>/shop/cart.html</title>" in XHTMLSerializer.serialize({}, "utf-8")[1]


def test_p59_generic_xml_roundtrip_written_once_encoded_with_empty_strings():
    """The document is encoded once (no double-encoded UTF-8) and an
    empty <string/> reads back as ''."""
    value = dict(NESTED, when=datetime.datetime(2009, 1, 2, 3, 4, 5, tzinfo=UTC), bin=data(b"\x00\x01"),
                 none=None, tuple=(1, 2))
    used, body = GenericXMLSerializer.serialize(value, "utf-8")
    assert "Åsa".encode() in body and "Åsa".encode().decode("latin-1").encode() not in body
    _, got = GenericXMLSerializer.unserialize(io.BytesIO(body))
    expected = dict(value, tuple=[1, 2])
    assert got == expected and isinstance(got["when"], DateTime) and got["empty"] == ""
    used, body = GenericXMLSerializer.serialize({"a": "€å"}, "iso-8859-1")
    assert b"&#8364;\xe5" in body
    assert GenericXMLSerializer.unserialize(io.BytesIO(body))[1] == {"a": "€å"}
    with pytest.raises(GenericXMLUnserializationError):
        GenericXMLSerializer.unserialize(io.BytesIO(b"<dict><string>no key</string></dict>"))
    with pytest.raises(GenericXMLUnserializationError):
        GenericXMLSerializer.unserialize(io.BytesIO(b"<dict><blob k='a'/></dict>"))
    with pytest.raises(GenericXMLUnserializationError):
        GenericXMLSerializer.unserialize(io.BytesIO(b"<dict><int k='a'>x</int></dict>"))


def test_xml_base_helpers():
    elem = xml_mktext("title", 5, rel="x")
    assert ET.tostring(elem) == b'<title rel="x">5</title>'
    assert xml_tag(ET.Element("{http://ns/}a")) == ("a", "http://ns/") and xml_tag(ET.Element("a")) == ("a", None)
    assert XMLSerializer.xml_declaration % "utf-8" == '<?xml version="1.0" encoding="utf-8"?>\n'


def test_xmlrpc_roundtrip_fault_and_p62_method_name_routes(monkeypatch):
    """The method name becomes the routing URL (cn_url); a fault
    carries the HTTP status code."""
    import xmlrpc.client

    value = {k: v for k, v in NESTED.items() if k != "big"}
    used, body = XMLRPCSerializer.serialize(value, "utf-8")
    assert xmlrpc.client.loads(body.decode())[0] == (value,)
    with pytest.raises(SerializationError):
        XMLRPCSerializer.serialize(NESTED, "utf-8")  # 2**62 exceeds XML-RPC's 32-bit int
    assert XMLRPCSerializer.serialize(None, "utf-8")[1].count(b"<nil/>") == 1  # empty response
    _, body = XMLRPCSerializer.serialize_error(Status(404, "Not Found"), {"name": "404 Not Found",
                                                                          "description": "no such leaf"}, None)
    with pytest.raises(xmlrpc.client.Fault) as fault:
        xmlrpc.client.loads(body.decode())
    assert fault.value.faultCode == 404 and fault.value.faultString == "404 Not Found: no such leaf"

    import smisk.core

    class FakeRequest:
        url = smisk.core.URL("http://example.com/RPC2?x=1")

    app = type("App", (), {"request": FakeRequest()})()
    monkeypatch.setattr(smisk.serialization, "current_request", lambda: app.request)
    call = xmlrpc.client.dumps((1, "two", {"k": "v"}, xmlrpc.client.Binary(b"\x00")),
                                methodname="shop.cart.add").encode()
    args, kwargs = XMLRPCSerializer.unserialize(io.BytesIO(call), len(call), "utf-8")
    assert args == [1, "two", data(b"\x00")] and kwargs == {"k": "v"}
    assert app.request.cn_url.path == "/shop/cart/add" and app.request.cn_url.host == "example.com"
    assert app.request.url.path == "/RPC2"
    no_method = xmlrpc.client.dumps((1,), methodresponse=True).encode()
    with pytest.raises(UnserializationError, match="methodName"):
        XMLRPCSerializer.unserialize(io.BytesIO(no_method))


def test_p60_xspf_namespace_version_and_reader():
    """The XSPF namespace and version="1"; the reader maps the known
    elements and skips unknown ones."""
    playlist = {"title": "Spellista", "creator": "Åsa", "date": datetime.datetime(2009, 1, 2, tzinfo=UTC),
                "link": {"rel": "http://a/", "content": "http://b/"},
                "trackList": [{"title": "Go", "trackNum": 1, "duration": 410000, "location": "spotify:x",
                               "album": "A"}, {"title": "Two"}]}
    used, body = XSPFSerializer.serialize(playlist, "utf-8")
    root = ET.fromstring(body)
    assert root.tag == "{http://xspf.org/ns/0/}playlist" and root.get("version") == "1"
    _, got = XSPFSerializer.unserialize(io.BytesIO(body))
    assert got == playlist and isinstance(got["date"], DateTime)
    foreign = (b'<playlist version="1" xmlns="http://xspf.org/ns/0/"><title>t</title><bogus>x</bogus>'
               b'<meta rel="r">c</meta><meta rel="s">d</meta><trackList><track><trackNum>2</trackNum>'
               b'<unknown/></track></trackList></playlist>')
    got = XSPFSerializer.unserialize(io.BytesIO(foreign))[1]
    assert got == {"title": "t", "meta": [{"rel": "r", "content": "c"}, {"rel": "s", "content": "d"}],
                   "trackList": [{"trackNum": 2}]}
    with pytest.raises(XMLUnserializationError):
        XSPFSerializer.unserialize(io.BytesIO(b"<playlist><title>no namespace</title></playlist>"))
    with pytest.raises(XMLUnserializationError):
        XSPFSerializer.unserialize(io.BytesIO(foreign.replace(b"<trackNum>2", b"<trackNum>-2")))
    _, body = XSPFSerializer.serialize_error(Status(404, "Not Found"), {"name": "404 Not Found",
                                                                        "description": "gone", "code": 404}, None)
    got = XSPFSerializer.unserialize(io.BytesIO(body))[1]
    assert got["title"] == "404 Not Found" and got["identifier"] == "smisk:error:404"


def test_yaml_roundtrip_with_data_tag():
    value = dict(NESTED, when=datetime.datetime(2009, 1, 2, 3, 4, 5, tzinfo=UTC), bin=data(b"\x00\xff"),
                 tuple=(1, 2), none=None)
    used, body = YAMLSerializer.serialize(value, "utf-8")
    assert b"!data" in body and "Åsa".encode() in body
    _, got = YAMLSerializer.unserialize(io.BytesIO(body), len(body), used)
    assert got == dict(value, tuple=[1, 2])
    for charset in ("utf-16-le", "UTF-16-BE"):
        used, body = YAMLSerializer.serialize({"a": "☃"}, charset)
        assert YAMLSerializer.unserialize(io.BytesIO(body), -1, used)[1] == {"a": "☃"}
    assert YAMLSerializer.serialize({}, "koi8-r")[0] == "utf-8"


# --- hostile input -------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<ROOT>&lol4;</ROOT>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><ROOT>&xxe;</ROOT>"""


def xml_payloads(root, with_dtd=True):
    """Billion laughs, an external entity and (with_dtd) an external DTD,
    rooted at `root`. Property lists carry a DOCTYPE by convention, so the
    plist reader accepts a DTD (expat never fetches it) but no entity."""
    payloads = [BILLION_LAUGHS.replace(b"ROOT", root), EXTERNAL_ENTITY.replace(b"ROOT", root)]
    if with_dtd:
        payloads.append(b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:1/x.dtd"><' + root + b"/>")
    return payloads


XML_READERS = {
    GenericXMLSerializer: b"string",
    XSPFSerializer: b'playlist xmlns="http://xspf.org/ns/0/"',
    XMLPlistSerializer: b"plist",
    XMLRPCSerializer: b"methodCall",
}


@pytest.mark.parametrize("serializer", list(XML_READERS), ids=lambda s: s.name)
def test_p4_xml_readers_refuse_entities_and_dtds(serializer):
    """No entity expansion, no external entities, no DTD: each ends in
    UnserializationError before anything is expanded or fetched."""
    root = XML_READERS[serializer]
    payloads = xml_payloads(root.split(b" ")[0], with_dtd=serializer is not XMLPlistSerializer)
    if serializer is XSPFSerializer:
        payloads = [p.replace(b"<playlist", b"<" + root, 1) for p in payloads]
    for payload in payloads:
        with pytest.raises(UnserializationError):
            serializer.unserialize(io.BytesIO(payload), len(payload))


@pytest.mark.parametrize("serializer", list(XML_READERS), ids=lambda s: s.name)
def test_xml_readers_refuse_deep_nesting_and_garbage(serializer):
    deep = b"<array>" * 100000 + b"</array>" * 100000
    wrapped = {GenericXMLSerializer: deep,
               XSPFSerializer: b'<playlist xmlns="http://xspf.org/ns/0/">' + deep + b"</playlist>",
               XMLPlistSerializer: b"<plist><array>" + deep.replace(b"array", b"array") + b"</array></plist>",
               XMLRPCSerializer: b"<methodCall><methodName>a</methodName><params><param><value>" +
               b"<array><data><value>" * 50000 + b"</value></data></array>" * 50000 + b"</value></param></params>"
               b"</methodCall>"}[serializer]
    for payload in (wrapped, b"", b"<unclosed", b"\x00\xff\xfe", b"not xml at all"):
        try:
            serializer.unserialize(io.BytesIO(payload), len(payload))
        except UnserializationError:
            continue
        # A parser that accepts deep nesting (plist, XML-RPC use a stack)
        # must still have returned a value, not crashed.
        assert payload is wrapped and serializer in (XMLPlistSerializer, XMLRPCSerializer)


def test_huge_numbers_are_refused_or_bounded():
    big = b"9" * 100000
    with pytest.raises(UnserializationError):
        JSONSerializer.unserialize(io.BytesIO(b"[" + big + b"]"))
    with pytest.raises(UnserializationError):
        GenericXMLSerializer.unserialize(io.BytesIO(b"<int>" + big + b"</int>"))
    with pytest.raises(UnserializationError):
        YAMLSerializer.unserialize(io.BytesIO(b"a: " + big))
    call = b"<methodCall><methodName>a</methodName><params><param><value><int>" + big + \
        b"</int></value></param></params></methodCall>"
    with pytest.raises(UnserializationError):
        XMLRPCSerializer.unserialize(io.BytesIO(call))
    # Floats past the range are infinities in JSON text: refused.
    with pytest.raises(UnserializationError):
        JSONSerializer.unserialize(io.BytesIO(b"[NaN, Infinity]"))


def test_json_hostile_input():
    for payload in (b"[" * 100000 + b"]" * 100000, b'{"a": ', b"\xff\xfe", b'{"a": 1} trailing', b"",
                    b'"\\ud800"x'):
        with pytest.raises(UnserializationError):
            JSONSerializer.unserialize(io.BytesIO(payload))


def test_yaml_hostile_input():
    laughs = b"a: &a [x,x,x,x,x,x,x,x,x]\n" + b"".join(
        b"%s: &%s [%s]\n" % (bytes([98 + i]), bytes([98 + i]), b",".join([b"*" + bytes([97 + i])] * 9))
        for i in range(12))
    for payload in (laughs, b"- " * 10 + b"[" * 10000 + b"]" * 10000,
                    b"!!python/object/apply:os.system ['touch /tmp/pwned']", b"a: !!python/name:os.system",
                    b"a: [unclosed", b"\xff", b"!data '@@@'"):
        with pytest.raises(UnserializationError):
            YAMLSerializer.unserialize(io.BytesIO(payload))


def test_p13_readers_read_at_most_length():
    """A reader decodes only the `length` bytes it is given, however
    long the stream."""
    stream = io.BytesIO(b'{"a": 1}' + b" " * 10 + b"garbage that would not parse")
    assert JSONSerializer.unserialize(stream, 8) == (None, {"a": 1})
    assert stream.tell() == 8


# --- without the optional packages ----------------------------------------------

BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError('blocked for the test: ' + name)
sys.meta_path.insert(0, Block())
"""


def run_blocked(blocked, code):
    return subprocess.run([sys.executable, "-c", BLOCK.format(blocked=set(blocked)) + code],
                          capture_output=True, text=True, timeout=60)


def test_without_pyyaml_only_yaml_is_disabled():
    out = run_blocked({"yaml"}, """
import io, smisk.serialization.all as a
from smisk.serialization import serializers, SerializationError, UnserializationError
from smisk.serialization.yaml_serial import YAMLSerializer, yaml, MISSING_PYYAML
assert yaml is None and YAMLSerializer not in serializers and YAMLSerializer.directions() == []
try:
    YAMLSerializer.unserialize(io.BytesIO(b'a: 1'))
except UnserializationError as e:
    print('read:', e)
try:
    YAMLSerializer.serialize({}, 'utf-8')
except SerializationError as e:
    print('write:', e)
print(a.plain_text.PlainTextSerializer.serialize({'a': [1, True]}, 'utf-8')[1])
print(a.json.JSONSerializer.serialize({'a': 1}, 'utf-8')[1])
""")
    assert out.returncode == 0, out.stderr
    assert "read: YAML needs the PyYAML package, which is not installed (pip install 'smisk[yaml]')" in out.stdout
    assert "write: YAML needs the PyYAML package" in out.stdout
    assert "b'a:\\n  1\\n  true\\n'" in out.stdout and 'b\'{"a": 1}\'' in out.stdout


def test_without_defusedxml_xml_reading_is_disabled_and_writing_works():
    out = run_blocked({"defusedxml"}, """
import io, smisk.serialization.all as a
from smisk.serialization import UnserializationError
for s in (a.xmlgeneric.GenericXMLSerializer, a.xmlrpc.XMLRPCSerializer, a.xspf.XSPFSerializer):
    assert s.directions() == ['write'], s
    try:
        s.unserialize(io.BytesIO(b'<dict/>'))
    except UnserializationError as e:
        print(s.name, e)
print(a.xmlgeneric.GenericXMLSerializer.serialize({'a': 1}, 'utf-8')[1])
print(a.plist.XMLPlistSerializer.directions())
""")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("reading XML needs the defusedxml package") == 3
    assert '<dict><int k="a">1</int></dict>' in out.stdout and "['read', 'write']" in out.stdout
