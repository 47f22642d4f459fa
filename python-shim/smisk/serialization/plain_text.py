"""Plain text: YAML when PyYAML is installed, else an indented listing."""
from typing import Any, List, Optional, Tuple

from smisk.serialization import Serializer, SerializationError, serializers
from smisk.serialization.jsonlike import to_jsonable

__all__ = ["PlainTextSerializer", "format_listing"]


def _scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return "%f" % value
    return str(value)


def _listing(value: Any, indent: int, out: List[str]) -> None:
    pad = "  " * indent
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            item = value[key]
            if isinstance(item, (dict, list)) and item:
                out.append(f"{pad}{key}:")
                _listing(item, indent + 1, out)
            else:
                out.append(f"{pad}{key}: {_scalar(item) if not isinstance(item, (dict, list)) else ''}".rstrip())
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                _listing(item, indent + 1, out)
            else:
                out.append(f"{pad}{_scalar(item) if not isinstance(item, (dict, list)) else ''}")
    else:
        out.append(pad + _scalar(value))


def format_listing(value: Any) -> str:
    """The listing written without PyYAML: dict keys sorted, `key: value`
    lines, nested values indented two spaces per level, one list item per
    line, true/false, floats as %f."""
    out: List[str] = []
    _listing(to_jsonable(value), 0, out)
    return "\n".join(out) + "\n" if out else ""


class PlainTextSerializer(Serializer):
    name = "Plain text"
    extensions = ("txt",)
    media_types = ("text/plain",)
    charset = "utf-8"
    can_serialize = True

    @classmethod
    def serialize(cls, params: Any, charset: Optional[str]) -> Tuple[Optional[str], bytes]:
        charset = charset or cls.charset or "utf-8"
        from smisk.serialization import yaml_serial

        if yaml_serial.yaml is not None:
            text = yaml_serial.dump_text(params)
        else:
            text = format_listing(params)
        try:
            return charset, text.encode(charset, cls.unicode_errors)
        except (UnicodeEncodeError, LookupError) as e:
            raise SerializationError(f"cannot write the text in {charset}: {e}") from None


serializers.register(PlainTextSerializer)
