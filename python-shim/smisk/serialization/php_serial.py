"""PHP's serialize() format (write only)."""
import math
from typing import Any, List, Optional, Tuple

from smisk.serialization import Serializer, SerializationError, data, serializers

__all__ = ["PHPSerialSerializer", "php_serialize"]


def _float(value: float) -> str:
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    return repr(value)


def _string(raw: bytes, out: List[bytes]) -> None:
    # PHP counts bytes, not characters.
    out.append(b's:%d:"' % len(raw))
    out.append(raw)
    out.append(b'";')


def _key(key: Any, out: List[bytes]) -> None:
    if isinstance(key, (bool, int, float)):
        out.append(b"i:%d;" % int(key))
    elif isinstance(key, str):
        _string(key.encode("utf-8"), out)
    elif key is None:
        out.append(b's:0:"";')
    else:
        raise SerializationError(f"PHP array keys are ints or strings, not {type(key).__name__}")


def _value(value: Any, out: List[bytes], depth: int) -> None:
    if depth > 500:
        raise SerializationError("data nested more than 500 levels deep")
    if value is None:
        out.append(b"N;")
    elif isinstance(value, bool):
        out.append(b"b:1;" if value else b"b:0;")
    elif isinstance(value, int):
        out.append(b"i:%d;" % value)
    elif isinstance(value, float):
        out.append(b"d:" + _float(value).encode("ascii") + b";")
    elif isinstance(value, str):
        _string(value.encode("utf-8"), out)
    elif isinstance(value, (bytes, bytearray, data)):
        _string(bytes(value), out)
    elif isinstance(value, (list, tuple)):
        out.append(b"a:%d:{" % len(value))
        for i, item in enumerate(value):
            out.append(b"i:%d;" % i)
            _value(item, out, depth + 1)
        out.append(b"}")
    elif isinstance(value, dict):
        out.append(b"a:%d:{" % len(value))
        for k, v in value.items():
            _key(k, out)
            _value(v, out, depth + 1)
        out.append(b"}")
    else:
        raise SerializationError(f"cannot write a {type(value).__name__} in PHP serial format")


def php_serialize(value: Any) -> bytes:
    """`value` in PHP's serialize() format."""
    out: List[bytes] = []
    _value(value, out, 0)
    return b"".join(out)


class PHPSerialSerializer(Serializer):
    name = "PHP serial"
    extensions = ("sphp", "phpser")
    media_types = ("application/vnd.php.serialized", "application/x-php-serialized")
    charset = None
    can_serialize = True

    @classmethod
    def serialize(cls, params: Any, charset: Optional[str]) -> Tuple[Optional[str], bytes]:
        return None, php_serialize(params)


serializers.register(PHPSerialSerializer)
