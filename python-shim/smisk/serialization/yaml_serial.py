"""YAML (needs PyYAML: pip install 'smisk[yaml]').

Written with the (C) SafeDumper, read with the (C) SafeLoader: no Python
tags, no objects constructed. `data` values travel as the tag !data
(base64). Without PyYAML this module still imports; `yaml` is None and the
serializer is not registered."""
import logging
from typing import Any, Optional, Tuple

from smisk.serialization import Serializer, SerializationError, UnserializationError, data, read_input, serializers
from smisk.serialization.jsonlike import jsonable_default

__all__ = ["yaml", "Loader", "Dumper", "YAMLSerializer", "dump_text", "MISSING_PYYAML"]

log = logging.getLogger(__name__)

MISSING_PYYAML = "YAML needs the PyYAML package, which is not installed (pip install 'smisk[yaml]')"

# Bounds for reading client input: aliases (a few aliases of aliases make a
# "billion laughs" structure) and nesting (the composer recurses).
MAX_ALIASES = 100
MAX_DEPTH = 200

try:
    import yaml
except ImportError:
    yaml = None
    log.debug(MISSING_PYYAML)

if yaml is not None:
    _BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Dumper(_BaseDumper):  # type: ignore[misc, valid-type]
        """SafeDumper with !data and the JSON-like mappings (sets, entities)."""

    class Loader(_BaseLoader):  # type: ignore[misc, valid-type]
        """SafeLoader with !data."""

    def _represent_data(dumper: Any, value: data) -> Any:
        return dumper.represent_scalar("!data", value.encode())

    def _construct_data(loader: Any, node: Any) -> data:
        try:
            return data.decode(loader.construct_scalar(node))
        except ValueError as e:
            raise yaml.constructor.ConstructorError(None, None, f"bad !data: {e}", node.start_mark)

    def _represent_other(dumper: Any, value: Any) -> Any:
        # Only the mappings jsonable_default() defines (sets, entities with
        # to_dict(), mappings); anything else is a SerializationError.
        return dumper.represent_data(jsonable_default(value))

    Dumper.add_representer(data, _represent_data)
    Dumper.add_representer(tuple, lambda d, v: d.represent_list(list(v)))
    Dumper.add_representer(set, _represent_other)
    Dumper.add_representer(frozenset, _represent_other)
    Loader.add_constructor("!data", _construct_data)
else:
    Dumper = None  # type: ignore[misc, assignment]
    Loader = None  # type: ignore[misc, assignment]


def register_entity_type(cls: type) -> None:
    """Writes instances of `cls` (an ORM entity base class) as their
    to_dict(). Called by the model layer when an ORM is present; there is
    no catch-all representer."""
    if Dumper is not None:
        Dumper.add_multi_representer(cls, _represent_other)


def dump_text(params: Any) -> str:
    """YAML text for `params` (PyYAML required)."""
    if yaml is None:
        raise SerializationError(MISSING_PYYAML)
    try:
        return yaml.dump(params, Dumper=Dumper, allow_unicode=True, default_flow_style=False)
    except yaml.representer.RepresenterError as e:
        raise SerializationError(f"cannot write YAML: {e}") from None
    except RecursionError:
        raise SerializationError("data nested too deeply") from None


def _check_events(text: str) -> None:
    depth = aliases = 0
    for event in yaml.parse(text, Loader=Loader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise UnserializationError(f"YAML nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise UnserializationError(f"YAML with more than {MAX_ALIASES} aliases")


_CHARSETS = {"utf-8": "utf-8", "utf8": "utf-8", "utf_8": "utf-8", "utf-16-be": "utf-16-be",
             "utf_16_be": "utf-16-be", "utf-16be": "utf-16-be", "utf-16-le": "utf-16-le",
             "utf_16_le": "utf-16-le", "utf-16le": "utf-16-le"}


class YAMLSerializer(Serializer):
    name = "YAML"
    extensions = ("yaml",)
    media_types = ("application/x-yaml", "text/yaml", "text/x-yaml")
    charset = "utf-8"
    can_serialize = yaml is not None
    can_unserialize = yaml is not None

    @classmethod
    def serialize(cls, params: Any, charset: Optional[str]) -> Tuple[Optional[str], bytes]:
        # YAML streams are UTF-8 or UTF-16 (YAML 1.1 §5.2).
        charset = _CHARSETS.get((charset or "utf-8").lower(), "utf-8")
        return charset, dump_text(params).encode(charset)

    @classmethod
    def unserialize(cls, file: Any, length: int = -1, charset: Optional[str] = None) -> Tuple[Any, Any]:
        if yaml is None:
            raise UnserializationError(MISSING_PYYAML)
        raw = read_input(file, length)
        try:
            text = raw.decode(charset or "utf-8")
        except (UnicodeDecodeError, LookupError) as e:
            raise UnserializationError(f"YAML body is not {charset or 'utf-8'}: {e}") from None
        try:
            _check_events(text)
            value = yaml.load(text, Loader=Loader)
        except yaml.YAMLError as e:
            raise UnserializationError(f"invalid YAML: {e}") from None
        except (ValueError, TypeError, RecursionError, MemoryError) as e:  # e.g. an integer past the digit limit
            raise UnserializationError(f"invalid YAML: {type(e).__name__}: {e}") from None
        return cls._result(value)


if yaml is not None:
    serializers.register(YAMLSerializer)
