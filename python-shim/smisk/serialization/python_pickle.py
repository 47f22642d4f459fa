"""Python pickles: written; reading is disabled.

Unpickling runs code chosen by whoever wrote the pickle, so a pickle sent
by a client is never read unless the application sets
`PythonPickleSerializer.allow_read = True` (or does so in a subclass),
knowing that it trusts every client completely."""
import pickle
from typing import Any, Optional, Tuple

from smisk.serialization import Serializer, SerializationError, UnserializationError, read_input, serializers
from smisk.serialization.optin import OptInReading

__all__ = ["PythonPickleSerializer"]


class PythonPickleSerializer(Serializer, metaclass=OptInReading):
    name = "Python pickle"
    extensions = ("pickle",)
    media_types = ("application/x-python-pickle", "application/x-pickle")
    charset = None
    can_serialize = True
    allow_read = False

    @classmethod
    def serialize(cls, params: Any, charset: Optional[str]) -> Tuple[Optional[str], bytes]:
        try:
            return None, pickle.dumps(params, pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as e:
            raise SerializationError(f"cannot pickle: {e}") from None

    @classmethod
    def unserialize(cls, file: Any, length: int = -1, charset: Optional[str] = None) -> Tuple[Any, Any]:
        if not cls.allow_read:
            raise UnserializationError("reading pickles is disabled: unpickling runs code the sender chose "
                                       "(set PythonPickleSerializer.allow_read = True only if every client "
                                       "is trusted)")
        try:
            return cls._result(pickle.loads(read_input(file, length)))
        except Exception as e:  # unpickling can raise anything
            raise UnserializationError(f"invalid pickle: {e}") from None


serializers.register(PythonPickleSerializer)
