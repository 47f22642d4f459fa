"""Serialization: turning response data into bytes, and request bodies
into arguments, in several formats.

`serializers` is the global Registry. Importing a format module
(smisk.serialization.json, ...) registers its serializers there;
`smisk.serialization.all` imports every one. Serializers are classes used
as such (every method is a classmethod).

Readers of client input never execute or expand anything: XML is parsed
with defusedxml (no DTDs, no entities), the pickle and Python-literal
readers are off unless the application turns them on, and every malformed
or hostile input raises UnserializationError."""
import base64
import binascii

from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Type, Union

__all__ = [
    "data", "Registry", "serializers", "Serializer", "SerializationError", "UnserializationError",
    "read_input", "current_application", "current_request",
]


class SerializationError(Exception):
    """Data that a serializer cannot write."""


class UnserializationError(Exception):
    """A body that a serializer cannot read: malformed, hostile, or a format
    whose reading is disabled. smisk.mvc answers 400 Bad Request."""


class data:
    """Opaque binary data (XML-RPC base64, plist <data>, YAML !data, ...).

    data(source): bytes or bytearray as is, str encoded as UTF-8, a
    file-like object read to its end."""

    __slots__ = ("data",)

    def __init__(self, source: Any = b"") -> None:
        if isinstance(source, (bytes, bytearray, memoryview)):
            self.data = bytes(source)
        elif isinstance(source, str):
            self.data = source.encode("utf-8")
        elif isinstance(source, data):
            self.data = source.data
        elif hasattr(source, "read"):
            content = source.read()
            self.data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        else:
            raise TypeError(f"data() takes bytes, str or a file, not {type(source).__name__}")

    def encode(self) -> str:
        """Base64 text in lines of 76 characters (RFC 2045)."""
        return base64.encodebytes(self.data).decode("ascii")

    @classmethod
    def decode(cls, text: Union[str, bytes]) -> "data":
        """The data of base64 `text` (whitespace ignored); ValueError when it
        is not base64."""
        if isinstance(text, str):
            text = text.encode("ascii", "replace")
        compact = b"".join(text.split())
        try:
            return cls(base64.b64decode(compact, validate=True))
        except (binascii.Error, ValueError) as e:
            raise ValueError(f"not base64 data: {e}") from None

    def __len__(self) -> int:
        return len(self.data)

    def __bytes__(self) -> bytes:
        return self.data

    def __eq__(self, other: object) -> bool:
        if isinstance(other, data):
            return self.data == other.data
        if isinstance(other, (bytes, bytearray)):
            return self.data == bytes(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.data)

    def __repr__(self) -> str:
        shown = self.data if len(self.data) <= 32 else self.data[:32] + b"..."
        return f"<data {len(self.data)} bytes {shown!r}>"


def current_application() -> Any:
    """smisk.core.Application.current (None outside an application). The
    serializers that look at the request (JSONP's callback, the XHTML
    title, XSPF error ids, XML-RPC routing) ask here, and only here."""
    from smisk.core import Application

    return Application.current


def current_request() -> Any:
    """The request being served, or None."""
    app = current_application()
    request = getattr(app, "request", None)
    return request if request is not None and getattr(request, "is_active", True) else None


def read_input(file: Any, length: int = -1) -> bytes:
    """At most `length` bytes of `file` (-1: to the end). A file that gives
    text is read as UTF-8."""
    if isinstance(file, (bytes, bytearray)):
        raw = bytes(file)
        return raw if length is None or length < 0 else raw[:length]
    chunk = file.read() if length is None or length < 0 else file.read(length)
    if chunk is None:
        return b""
    return chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)


class Serializer:
    """Base class of the serializers. Subclasses set the attributes and
    implement serialize() and/or unserialize() as classmethods."""

    name: str = "Untitled serializer"
    extensions: Sequence[str] = ()
    media_types: Sequence[str] = ()
    charset: Optional[str] = None
    """Preferred response charset (None: the serializer has none)."""
    unicode_errors: str = "strict"
    handles_empty_response: bool = False
    """True when serialize(None, charset) is a valid body (e.g. XML-RPC)."""
    can_serialize: bool = False
    can_unserialize: bool = False

    @classmethod
    def serialize(cls, params: Any, charset: Optional[str]) -> Tuple[Optional[str], bytes]:
        """(charset actually used or None, body bytes) for `params`."""
        raise NotImplementedError(f"{cls.name} cannot serialize")

    @classmethod
    def serialize_error(cls, status: Any, params: Dict[str, Any], charset: Optional[str]) -> Tuple[Optional[str], bytes]:
        """An error body; `params` has name, code, description and maybe
        traceback and server. Default: serialize(params)."""
        return cls.serialize(params, charset)

    @classmethod
    def unserialize(cls, file: Any, length: int = -1, charset: Optional[str] = None) -> Tuple[Any, Any]:
        """(args, params) decoded from at most `length` bytes of `file`: a
        dict gives (None, dict), a list (list, None), any other value
        ((value,), None). UnserializationError for bad input."""
        raise UnserializationError(f"{cls.name} cannot unserialize")

    @classmethod
    def _result(cls, value: Any) -> Tuple[Any, Any]:
        if isinstance(value, dict):
            return None, value
        if isinstance(value, list):
            return value, None
        return (value,), None

    @classmethod
    def add_content_type_header(cls, response: Any, charset: Optional[str]) -> None:
        """Completes the response's Content-Type: adds '; charset=...' to an
        existing one without a charset, or adds the first media type."""
        headers = response.headers
        for i, line in enumerate(headers):
            if line[:13].lower() == "content-type:":
                if charset and "charset=" not in line.lower():
                    headers[i] = f"{line}; charset={charset}"
                return
        if cls.media_types:
            value = cls.media_types[0] + (f"; charset={charset}" if charset else "")
            headers.append(f"Content-Type: {value}")

    @classmethod
    def directions(cls) -> List[str]:
        """['read', 'write'], ['read'], ['write'] or []."""
        out = []
        if cls.can_unserialize:
            out.append("read")
        if cls.can_serialize:
            out.append("write")
        return out

    @classmethod
    def did_register(cls, registry: "Registry") -> None:
        """Called after `registry` registered this serializer."""

    @classmethod
    def did_unregister(cls, registry: "Registry") -> None:
        """Called after `registry` unregistered this serializer."""


SerializerType = Type[Serializer]


class Registry:
    """Serializers by registration order, media type and extension (keys
    lower-cased; a later registration wins a shared key). Every Registry has
    its own state."""

    def __init__(self) -> None:
        self.serializers: List[SerializerType] = []
        self.media_types: Dict[str, SerializerType] = {}
        self.extensions: Dict[str, SerializerType] = {}
        self.first_in: Optional[SerializerType] = None

    def register(self, serializer: SerializerType) -> None:
        if serializer in self.serializers:
            return
        for attr in ("media_types", "extensions"):
            if not isinstance(getattr(serializer, attr), (tuple, list)):
                raise TypeError(f"{serializer.__name__}.{attr} must be a tuple or list, not "
                                f"{type(getattr(serializer, attr)).__name__}")
        self.serializers.append(serializer)
        for media_type in serializer.media_types:
            self.media_types[media_type.lower()] = serializer
        for ext in serializer.extensions:
            self.extensions[ext.lower()] = serializer
        if self.first_in is None:
            self.first_in = serializer
        serializer.did_register(self)

    def unregister(self, serializer: Optional[SerializerType] = None) -> None:
        """Removes `serializer` (None: every serializer). A key it owned goes
        back to the latest remaining serializer that declares it."""
        if serializer is None:
            removed, self.serializers = self.serializers, []
            self.media_types, self.extensions, self.first_in = {}, {}, None
            for s in removed:
                s.did_unregister(self)
            return
        if serializer not in self.serializers:
            return
        self.serializers.remove(serializer)
        for table, attr in ((self.media_types, "media_types"), (self.extensions, "extensions")):
            for key in [k for k, v in table.items() if v is serializer]:
                del table[key]
                for other in reversed(self.serializers):
                    if key in (x.lower() for x in getattr(other, attr)):
                        table[key] = other
                        break
        if self.first_in is serializer:
            self.first_in = self.serializers[0] if self.serializers else None
        serializer.did_unregister(self)

    def find(self, media_type_or_extension: str) -> Optional[SerializerType]:
        """The serializer for a media type or else an extension
        (case-insensitive), or None."""
        key = media_type_or_extension.lower()
        return self.media_types.get(key) or self.extensions.get(key)

    def associate(self, serializer: SerializerType, media_type: Union[str, Sequence[str], None] = None,
                  extension: Union[str, Sequence[str], None] = None, override_existing: bool = True) -> None:
        """Maps more media types and/or extensions to a registered
        serializer; with override_existing=False a key another serializer
        owns raises ValueError."""
        if serializer not in self.serializers:
            raise LookupError(f"{serializer.__name__} is not registered")
        for table, keys in ((self.media_types, media_type), (self.extensions, extension)):
            if keys is None:
                continue
            for key in ([keys] if isinstance(keys, str) else keys):
                key = key.lower()
                owner = table.get(key)
                if owner is not None and owner is not serializer and not override_existing:
                    raise ValueError(f"{key!r} already belongs to {owner.__name__}")
                table[key] = serializer

    @property
    def readers(self) -> Iterator[SerializerType]:
        return (s for s in self.serializers if "read" in s.directions())

    @property
    def writers(self) -> Iterator[SerializerType]:
        return (s for s in self.serializers if "write" in s.directions())

    def __iter__(self) -> Iterator[SerializerType]:
        return iter(self.serializers)

    def __contains__(self, serializer: object) -> bool:
        return serializer in self.serializers

    def __getitem__(self, index: int) -> SerializerType:
        return self.serializers[index]

    def __len__(self) -> int:
        return len(self.serializers)

    def __repr__(self) -> str:
        return f"<Registry {[s.name for s in self.serializers]}>"


serializers = Registry()
"""The global registry the format modules register into."""

