from typing import Dict, List, Optional, Union, overload

from . import xml as xml

_Value = Union[str, None, List[Optional[str]]]
_BValue = Union[bytes, None, List[Optional[bytes]]]

class InvalidSessionError(ValueError): ...
class RequestTooLargeError(ValueError): ...

@overload
def uid(nbits: None = ..., node: Union[bytes, str, None] = ...) -> str: ...
@overload
def uid(nbits: int, node: Union[bytes, str, None] = ...) -> Union[str, bytes]: ...
def pack(data: bytes, nbits: Optional[int] = 5) -> str: ...

class URL:
    scheme: Optional[str]
    user: Optional[str]
    password: Optional[str]
    host: Optional[str]
    port: int
    path: Optional[str]
    query: Optional[str]
    fragment: Optional[str]
    @property
    def uri(self) -> Optional[str]: ...
    def __init__(self, url: Union[str, bytes, "URL", None, object] = None) -> None: ...
    def to_s(
        self,
        *,
        scheme: Union[bool, int, str, bytes] = True,
        user: Union[bool, int, str, bytes] = True,
        password: Union[bool, int, str, bytes] = True,
        host: Union[bool, int, str, bytes] = True,
        port: Union[bool, int, None] = True,
        port80: bool = False,
        path: Union[bool, int, str, bytes] = True,
        query: Union[bool, int, str, bytes] = True,
        fragment: Union[bool, int, str, bytes] = True,
    ) -> str: ...
    to_str = to_s
    @overload
    @staticmethod
    def encode(s: str) -> str: ...
    @overload
    @staticmethod
    def encode(s: bytes) -> bytes: ...
    @overload
    @staticmethod
    def escape(s: str) -> str: ...
    @overload
    @staticmethod
    def escape(s: bytes) -> bytes: ...
    @overload
    @staticmethod
    def decode(s: str) -> str: ...
    @overload
    @staticmethod
    def decode(s: bytes) -> bytes: ...
    @overload
    @staticmethod
    def unescape(s: str) -> str: ...
    @overload
    @staticmethod
    def unescape(s: bytes) -> bytes: ...
    @overload
    @staticmethod
    def decompose_query(string: object, charset: str = ..., tolerant: bool = ...) -> Dict[str, _Value]: ...
    @overload
    @staticmethod
    def decompose_query(string: object, charset: None, tolerant: bool = ...) -> Dict[bytes, _BValue]: ...
