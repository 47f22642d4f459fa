"""XML-RPC (method responses written, method calls read).

Reading parses with defusedxml's protection (no DTD, no entities). The
method name 'a.b.c' becomes the routing path '/a/b/c' of the current
request (`request.cn_url`) when `respect_method_name` is true; dict
parameters become keyword arguments, the others positional ones."""
import datetime
import xmlrpc.client
from typing import Any, Optional, Tuple

from smisk import serialization as _context
from smisk.serialization import Serializer, SerializationError, UnserializationError, data, read_input, serializers
from smisk.serialization.jsonlike import NOT_AN_ENTITY, entity_dict
from smisk.serialization.xmlbase import MISSING_DEFUSEDXML, defusedxml

__all__ = ["XMLRPCSerializer"]

if defusedxml is not None:
    from defusedxml.xmlrpc import DefusedExpatParser
else:
    DefusedExpatParser = None


def _convert(value: Any, depth: int = 0) -> Any:
    """`value` in the types xmlrpc.client marshals: data → Binary, aware
    datetimes → UTC, entities → their dict."""
    if depth > 500:
        raise SerializationError("data nested more than 500 levels deep")
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (bytes, bytearray, data)):
        return xmlrpc.client.Binary(bytes(value))
    if isinstance(value, datetime.datetime):
        if value.utcoffset() is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return xmlrpc.client.DateTime(value)
    if isinstance(value, dict):
        return {k: _convert(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_convert(v, depth + 1) for v in value]
    entity = entity_dict(value)
    if entity is not NOT_AN_ENTITY:
        return _convert(entity, depth + 1)
    raise SerializationError(f"cannot write a {type(value).__name__} in XML-RPC")


def _plain(value: Any) -> Any:
    """Read values in plain Python types (Binary → data)."""
    if isinstance(value, xmlrpc.client.Binary):
        return data(value.data)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def method_name_to_path(name: str) -> str:
    """'shop.cart.add' → '/shop/cart/add'."""
    return "/" + "/".join(part for part in name.split(".") if part)


class XMLRPCSerializer(Serializer):
    name = "XML-RPC"
    extensions = ("xmlrpc",)
    media_types = ("application/rpc+xml", "application/xml-rpc+xml")
    charset = "utf-8"
    unicode_errors = "xmlcharrefreplace"
    handles_empty_response = True
    can_serialize = True
    can_unserialize = defusedxml is not None
    respect_method_name = True

    @classmethod
    def _encode(cls, payload: Any, charset: Optional[str]) -> Tuple[Optional[str], bytes]:
        charset = charset or cls.charset or "utf-8"
        try:
            text = xmlrpc.client.dumps(payload, methodresponse=True, encoding=charset, allow_none=True)
            return charset, text.encode(charset, cls.unicode_errors)
        except (TypeError, OverflowError, ValueError, LookupError, RecursionError) as e:
            raise SerializationError(f"cannot write XML-RPC: {e}") from None

    @classmethod
    def serialize(cls, params: Any, charset: Optional[str]) -> Tuple[Optional[str], bytes]:
        return cls._encode((_convert(params),), charset)

    @classmethod
    def serialize_error(cls, status: Any, params: Any, charset: Optional[str]) -> Tuple[Optional[str], bytes]:
        """A Fault whose code is the HTTP status code."""
        code = getattr(status, "code", None)
        if not isinstance(code, int):
            code = params.get("code", 500)
        name = params.get("name") or str(status)
        description = params.get("description") or ""
        return cls._encode(xmlrpc.client.Fault(code, f"{name}: {description}"), charset)

    @classmethod
    def unserialize(cls, file: Any, length: int = -1, charset: Optional[str] = None) -> Tuple[Any, Any]:
        if DefusedExpatParser is None:
            raise UnserializationError(MISSING_DEFUSEDXML)
        raw = read_input(file, length)
        unmarshaller = xmlrpc.client.Unmarshaller(use_datetime=True)
        parser = DefusedExpatParser(unmarshaller, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        try:
            parser.feed(raw)
            parser.close()
            values = _plain(list(unmarshaller.close()))
        except Exception as e:
            # Whatever the parser or unmarshaller raises on hostile input
            # (DTDForbidden, ExpatError, ResponseError, ValueError for an
            # over-long integer, RecursionError ...) is a bad request.
            raise UnserializationError(f"invalid XML-RPC call: {type(e).__name__}: {e}") from None
        method = unmarshaller.getmethodname()
        if not method:
            raise UnserializationError("an XML-RPC call needs a <methodName>")
        if cls.respect_method_name:
            cls.route_method(method)
        args, kwargs = [], {}
        for value in values:
            if isinstance(value, dict):
                kwargs.update(value)
            else:
                args.append(value)
        return args, kwargs

    @classmethod
    def route_method(cls, method: str) -> None:
        """Points the current request's routing URL (`cn_url`, what
        smisk.mvc routes on) at the path of the method name."""
        from smisk.core import URL

        request = _context.current_request()
        if request is None:
            return
        base = getattr(request, "cn_url", None) or request.url
        url = URL(base)
        url.path = method_name_to_path(method)
        request.cn_url = url


serializers.register(XMLRPCSerializer)
