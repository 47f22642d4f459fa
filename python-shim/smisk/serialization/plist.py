"""XML property lists (Apple plist), read and written with plistlib."""
import datetime
import plistlib
import xml.parsers.expat
from typing import Any, Optional, Tuple

from smisk.serialization import Serializer, SerializationError, UnserializationError, data, read_input, serializers
from smisk.serialization.jsonlike import NOT_AN_ENTITY, entity_dict

__all__ = ["XMLPlistSerializer"]


def _convert(value: Any, depth: int = 0) -> Any:
    """`value` in the types plistlib writes: data → bytes, entities → their
    dict, aware datetimes → naive UTC, tuples → lists, None dropped from
    dicts (a plist has no null)."""
    if depth > 500:
        raise SerializationError("data nested more than 500 levels deep")
    if isinstance(value, (str, bool, int, float, bytes)):
        return value
    if isinstance(value, data):
        return value.data
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, datetime.datetime):
        if value.utcoffset() is not None:
            return value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise SerializationError(f"plist dict keys are strings, not {type(k).__name__}")
            if v is not None:
                out[k] = _convert(v, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        if any(v is None for v in value):
            raise SerializationError("a plist array cannot hold None")
        return [_convert(v, depth + 1) for v in value]
    entity = entity_dict(value)
    if entity is not NOT_AN_ENTITY:
        return _convert(entity, depth + 1)
    raise SerializationError(f"cannot write a {type(value).__name__} in a plist")


class XMLPlistSerializer(Serializer):
    name = "XML Property List"
    extensions = ("plist",)
    media_types = ("application/plist+xml",)
    charset = "utf-8"
    can_serialize = True
    can_unserialize = True

    @classmethod
    def serialize(cls, params: Any, charset: Optional[str]) -> Tuple[Optional[str], bytes]:
        value = _convert({} if params is None else params)
        try:
            return "utf-8", plistlib.dumps(value, fmt=plistlib.FMT_XML)
        except (TypeError, ValueError, OverflowError) as e:
            raise SerializationError(f"cannot write the plist: {e}") from None

    @classmethod
    def unserialize(cls, file: Any, length: int = -1, charset: Optional[str] = None) -> Tuple[Any, Any]:
        raw = read_input(file, length)
        try:
            # FMT_XML only; plistlib refuses entity declarations (no
            # expansion, no external entities).
            value = plistlib.loads(raw, fmt=plistlib.FMT_XML)
        except (plistlib.InvalidFileException, xml.parsers.expat.ExpatError, ValueError, TypeError,
                OverflowError, RecursionError) as e:
            raise UnserializationError(f"invalid XML property list: {e}") from None
        return cls._result(value)


serializers.register(XMLPlistSerializer)
