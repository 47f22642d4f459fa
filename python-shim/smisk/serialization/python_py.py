"""Python literals (repr): written; reading is off unless turned on, and
then only through ast.literal_eval, never eval."""
import ast
import re
from typing import Any, Optional, Tuple

from smisk.serialization import Serializer, SerializationError, UnserializationError, read_input, serializers
from smisk.serialization.optin import OptInReading

__all__ = ["PythonPySerializer"]

_LONG_DIGITS = re.compile(r"\d{4301}")


class PythonPySerializer(Serializer, metaclass=OptInReading):
    name = "Python repr"
    extensions = ("py",)
    media_types = ("text/x-python",)
    charset = None
    can_serialize = True
    allow_read = False
    """Set to True to read request bodies with ast.literal_eval."""

    @classmethod
    def serialize(cls, params: Any, charset: Optional[str]) -> Tuple[Optional[str], bytes]:
        try:
            return None, ascii(params).encode("ascii")
        except RecursionError:
            raise SerializationError("data nested too deeply") from None

    @classmethod
    def unserialize(cls, file: Any, length: int = -1, charset: Optional[str] = None) -> Tuple[Any, Any]:
        if not cls.allow_read:
            raise UnserializationError("reading Python literals is disabled "
                                       "(set PythonPySerializer.allow_read = True to read them with "
                                       "ast.literal_eval)")
        raw = read_input(file, length)
        try:
            text = raw.decode(charset or "utf-8")
        except (UnicodeDecodeError, LookupError) as e:
            raise UnserializationError(f"body is not {charset or 'utf-8'}: {e}") from None
        if _LONG_DIGITS.search(text):
            raise UnserializationError("integer literal of more than 4300 digits")
        try:
            value = ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as e:
            raise UnserializationError(f"not a Python literal: {e}") from None
        return cls._result(value)


serializers.register(PythonPySerializer)
