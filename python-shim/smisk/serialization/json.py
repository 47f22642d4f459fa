"""JSON (RFC 8259) and JSONP."""
import json as _json
import re
import sys
from typing import Any, Optional, Tuple

from smisk import serialization as _context
from smisk.serialization import Serializer, SerializationError, UnserializationError, read_input, serializers
from smisk.serialization.jsonlike import jsonable_default

__all__ = ["JSONSerializer", "JSONPSerializer", "InvalidCallbackError", "json_encode", "json_decode"]

# Integers longer than this are refused when reading (int() of a long digit
# string costs quadratic time; CPython 3.11+ has the same default limit).
MAX_INT_DIGITS = 4300

_UNICODE_CHARSETS = {
    "utf-8": "utf-8", "utf8": "utf-8", "utf_8": "utf-8",
    "utf-16": "utf-16", "utf16": "utf-16", "utf_16": "utf-16",
    "utf-16-be": "utf-16-be", "utf-16be": "utf-16-be", "utf_16_be": "utf-16-be",
    "utf-16-le": "utf-16-le", "utf-16le": "utf-16-le", "utf_16_le": "utf-16-le",
    "utf-32": "utf-32", "utf32": "utf-32", "utf_32": "utf-32",
    "utf-32-be": "utf-32-be", "utf-32be": "utf-32-be", "utf_32_be": "utf-32-be",
    "utf-32-le": "utf-32-le", "utf-32le": "utf-32-le", "utf_32_le": "utf-32-le",
}

_encoder_unicode = _json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=jsonable_default)
_encoder_ascii = _json.JSONEncoder(ensure_ascii=True, allow_nan=False, default=jsonable_default)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_int(text: str) -> int:
    if len(text) > MAX_INT_DIGITS:
        raise ValueError(f"integer of {len(text)} digits (more than {MAX_INT_DIGITS})")
    return int(text)


# CPython 3.11+ refuses over-long integer strings itself (int_max_str_digits)
# inside the C scanner; older versions need the check, as a parse_int hook.
if getattr(sys, "get_int_max_str_digits", lambda: 0)() > 0:
    _decoder = _json.JSONDecoder(parse_constant=_reject_constant)
else:
    _decoder = _json.JSONDecoder(parse_constant=_reject_constant, parse_int=_parse_int)


def json_encode(obj: Any) -> str:
    """JSON text for `obj` (non-ASCII characters kept)."""
    try:
        return _encoder_unicode.encode(obj)
    except (TypeError, ValueError, RecursionError) as e:
        if isinstance(e, SerializationError):
            raise
        raise SerializationError(f"cannot write JSON: {e}") from None


def json_decode(text: str) -> Any:
    """The value of JSON `text`; UnserializationError when it is not JSON
    (NaN/Infinity and integers of more than 4300 digits are refused)."""
    try:
        return _decoder.decode(text)
    except (ValueError, RecursionError, MemoryError) as e:
        raise UnserializationError(f"invalid JSON: {e}") from None


class JSONSerializer(Serializer):
    """JSON. Written in the requested charset when it is a Unicode encoding,
    otherwise as ASCII-only UTF-8 (valid in any ASCII-compatible charset)."""

    name = "JSON"
    extensions: Tuple[str, ...] = ("json",)
    media_types = ("application/json",)
    charset = "utf-8"
    can_serialize = True
    can_unserialize = True

    @classmethod
    def serialize(cls, params: Any, charset: Optional[str]) -> Tuple[Optional[str], bytes]:
        codec = _UNICODE_CHARSETS.get((charset or "utf-8").lower())
        try:
            if codec is not None:
                return charset or "utf-8", _encoder_unicode.encode(params).encode(codec)
            return "utf-8", _encoder_ascii.encode(params).encode("ascii")
        except SerializationError:
            raise
        except (TypeError, ValueError, RecursionError) as e:
            raise SerializationError(f"cannot write JSON: {e}") from None

    @classmethod
    def unserialize(cls, file: Any, length: int = -1, charset: Optional[str] = None) -> Tuple[Any, Any]:
        raw = read_input(file, length)
        try:
            text = raw.decode(charset or "utf-8")
        except (UnicodeDecodeError, LookupError) as e:
            raise UnserializationError(f"JSON body is not {charset or 'utf-8'}: {e}") from None
        return cls._result(json_decode(text))


class InvalidCallbackError(SerializationError, ValueError):
    """A JSONP callback name that is not a JavaScript identifier path;
    smisk.mvc answers 400 Bad Request (`http_status`)."""

    http_status = 400


_CALLBACK_RE = re.compile(r"^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$", re.ASCII)
MAX_CALLBACK_LENGTH = 128


class JSONPSerializer(JSONSerializer):
    """JSON wrapped in a call: `<callback>(<json>);`. The callback is the
    request's `callback` query parameter (default 'jsonp_callback') and must
    be a dotted JavaScript identifier of at most 128 characters. Write only:
    a JSONP body is a script, not data to read."""

    name = "JSONP"
    extensions = ("js", "jsonp")
    media_types = ("text/javascript",)
    charset = "utf-8"
    can_serialize = True
    can_unserialize = False
    default_callback = "jsonp_callback"

    @classmethod
    def callback_name(cls) -> str:
        """The validated callback of the current request."""
        name: Any = None
        request = _context.current_request()
        if request is not None:
            name = request.get.get("callback")
        if name is None:
            return cls.default_callback
        if not isinstance(name, str) or len(name) > MAX_CALLBACK_LENGTH or not _CALLBACK_RE.match(name):
            raise InvalidCallbackError("the JSONP callback must be a JavaScript identifier path "
                                       f"(letters, digits, _ and $, dots between) of at most "
                                       f"{MAX_CALLBACK_LENGTH} characters")
        return name

    @classmethod
    def serialize(cls, params: Any, charset: Optional[str]) -> Tuple[Optional[str], bytes]:
        callback = cls.callback_name()
        used, body = JSONSerializer.serialize(params, charset)
        codec = _UNICODE_CHARSETS.get((used or "utf-8").lower(), "utf-8")
        return used, (callback + "(").encode(codec) + body + ");".encode(codec)

    @classmethod
    def unserialize(cls, file: Any, length: int = -1, charset: Optional[str] = None) -> Tuple[Any, Any]:
        raise UnserializationError("JSONP is write-only: send JSON (application/json) instead")

    @classmethod
    def add_content_type_header(cls, response: Any, charset: Optional[str]) -> None:
        super().add_content_type_header(response, charset)
        # A script answer must not be sniffed into another type.
        if not any(line[:23].lower() == "x-content-type-options:" for line in response.headers):
            response.headers.append("X-Content-Type-Options: nosniff")


serializers.register(JSONSerializer)
serializers.register(JSONPSerializer)
