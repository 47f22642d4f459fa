"""The value mapping shared by the JSON-like writers (JSON, YAML without
its own types, plain text): what a response may contain and how it is
written."""
import collections.abc
import datetime
from typing import Any

from smisk.serialization import SerializationError, data

__all__ = ["jsonable_default", "to_jsonable", "format_datetime", "entity_dict"]

_NOT_AN_ENTITY = object()


def entity_dict(value: Any) -> Any:
    """The dict of an ORM entity (an instance with a to_dict() method), or
    the marker NOT_AN_ENTITY for anything else. Every writer asks here, so
    what counts as an entity is decided once."""
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, type):
        return to_dict()
    return _NOT_AN_ENTITY


NOT_AN_ENTITY = _NOT_AN_ENTITY


def format_datetime(value: datetime.date) -> str:
    """ISO 8601; aware datetimes in UTC with a 'Z'."""
    if isinstance(value, datetime.datetime) and value.utcoffset() is not None:
        return value.astimezone(datetime.timezone.utc).replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


def jsonable_default(obj: Any) -> Any:
    """json.dumps(default=...): datetimes → ISO 8601, data → base64 text,
    entities (objects with to_dict()) → their dict, sets → lists, other
    mappings → dicts. Anything else raises SerializationError: no str() of
    arbitrary objects."""
    if isinstance(obj, (datetime.date, datetime.time)):
        return format_datetime(obj) if isinstance(obj, datetime.date) else obj.isoformat()
    if isinstance(obj, data):
        return obj.encode()
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, collections.abc.Mapping):
        return dict(obj)
    entity = entity_dict(obj)
    if entity is not NOT_AN_ENTITY:
        return entity
    raise SerializationError(f"cannot serialize a {type(obj).__name__} (a value of type "
                             f"{type(obj).__module__}.{type(obj).__qualname__})")


_PLAIN = (str, int, float, bool, type(None))


def to_jsonable(obj: Any, _depth: int = 0) -> Any:
    """`obj` with every value jsonable_default() maps replaced, tuples as
    lists: plain str/int/float/bool/None, lists and dicts only."""
    if _depth > 500:
        raise SerializationError("data nested more than 500 levels deep")
    if isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, dict):
        return {k: to_jsonable(v, _depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, _depth + 1) for v in obj]
    return to_jsonable(jsonable_default(obj), _depth + 1)
