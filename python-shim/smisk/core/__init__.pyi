from types import TracebackType
from typing import Any, Callable, ClassVar, Dict, FrozenSet, Iterable, Iterator, List, Optional, Tuple, Type, Union, final, overload

from . import xml as xml

_Value = Union[str, None, List[Optional[str]]]
_BValue = Union[bytes, None, List[Optional[bytes]]]

__build__: str
#: Most worker processes Application.forks accepts (the library's maximum).
MAX_FORKS: int

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

_Field = Union[str, bytes, List[Union[str, bytes]]]
_File = Dict[str, Union[str, int]]  # filename, content_type, path, size

@final
class Stream:
    @property
    def closed(self) -> bool: ...
    def read(self, size: int = ...) -> bytes: ...
    def readline(self, size: int = ...) -> bytes: ...
    def readlines(self, hint: int = ...) -> List[bytes]: ...
    def readable(self) -> bool: ...
    def writable(self) -> bool: ...
    def write(self, data: Union[bytes, bytearray, memoryview, str]) -> None: ...
    def write_byte(self, byte: int) -> None: ...
    def writelines(self, lines: Iterable[Union[bytes, str]]) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    def __iter__(self) -> Iterator[bytes]: ...
    def __next__(self) -> bytes: ...

class Request:
    @property
    def env(self) -> Dict[str, str]: ...
    @property
    def url(self) -> URL: ...
    @property
    def get(self) -> Dict[str, _Value]: ...
    @property
    def post(self) -> Dict[str, _Field]: ...
    @property
    def files(self) -> Dict[str, Union[_File, List[_File]]]: ...
    @property
    def cookies(self) -> Dict[str, _Value]: ...
    @property
    def input(self) -> Stream: ...
    @property
    def errors(self) -> Stream: ...
    @property
    def method(self) -> Optional[str]: ...
    @property
    def referring_url(self) -> Optional[URL]: ...
    @property
    def is_active(self) -> bool: ...
    session: Any
    session_id: str
    max_multipart_size: int
    max_formdata_size: int
    def log_error(self, msg: str) -> None: ...
    def __iter__(self) -> Iterator[bytes]: ...

class Response:
    headers: List[str]
    @property
    def has_begun(self) -> bool: ...
    @property
    def out(self) -> Stream: ...
    def begin(self) -> None: ...
    def write(self, data: Union[bytes, bytearray, memoryview, str]) -> None: ...
    def writelines(self, lines: Iterable[Union[bytes, str]]) -> None: ...
    def __call__(self, *data: Union[bytes, str]) -> None: ...
    def find_header(self, prefix: str) -> int: ...
    def set_cookie(
        self,
        name: str,
        value: str,
        comment: Optional[str] = ...,
        domain: Optional[str] = ...,
        path: Optional[str] = ...,
        secure: bool = ...,
        version: int = ...,
        max_age: int = ...,
        http_only: bool = ...,
        same_site: Optional[str] = ...,
    ) -> None: ...
    def send_file(self, path: str) -> None: ...

class SessionStore:
    ttl: int
    name: str
    def read(self, session_id: str) -> Any: ...
    def write(self, session_id: str, data: Any) -> None: ...
    def refresh(self, session_id: str) -> None: ...
    def destroy(self, session_id: str) -> None: ...

class FileSessionStore(SessionStore):
    dir: str
    file_prefix: str
    gc_probability: float
    fsync: bool
    max_payload: int
    def __init__(self, dir: Optional[str] = ..., *, file_prefix: Optional[str] = ...) -> None: ...
    def gc(self) -> Dict[str, int]: ...
    def path(self, session_id: str) -> str: ...

class KeyValueSessionStore(SessionStore):
    max_payload: int
    def __init__(self, *args: Any, **kwargs: Any) -> None: ...
    def kv_get(self, session_id: str) -> Optional[bytes]: ...
    def kv_set(self, session_id: str, value: bytes, ttl: int) -> None: ...
    def kv_touch(self, session_id: str, ttl: int) -> bool: ...
    def kv_delete(self, session_id: str) -> None: ...

def session_frame(session_id: str, payload: bytes, /) -> bytes: ...
def session_unframe(session_id: str, data: bytes, /) -> bytes: ...

class Application:
    current: ClassVar[Optional["Application"]]
    request_class: Type[Request]
    response_class: Type[Response]
    sessions_class: Callable[[], SessionStore]
    sessions: SessionStore
    charset: str
    tolerant: bool
    forks: int
    max_requests: int
    show_traceback: bool
    worker_index: int
    @property
    def request(self) -> Optional[Request]: ...
    @property
    def response(self) -> Optional[Response]: ...
    def __init__(self, *args: Any, **kwargs: Any) -> None: ...
    def run(self) -> None: ...
    def exit(self) -> None: ...
    def service(self) -> None: ...
    def error(self, typ: Type[BaseException], val: BaseException, tb: Optional[TracebackType]) -> None: ...
    def application_will_start(self) -> None: ...
    def application_did_stop(self) -> None: ...

class WSGIGatewayBase(Application):
    """The per-request path of smisk.wsgi.Gateway, in C: use smisk.wsgi.Gateway."""
    HOP_BY_HOP: FrozenSet[str]
    wsgi_app: Callable[..., Any]
    _status: Optional[str]
    def __init__(
        self,
        wsgi_app: Callable[..., Any] = ...,
        *,
        environ: Dict[str, Any] = ...,
        write: Callable[[bytes], None] = ...,
        send_result: Callable[[Any], None] = ...,
    ) -> None: ...
    def environ(self) -> Dict[str, Any]: ...
    def start_response(self, status: str, headers: List[Tuple[str, str]], exc_info: Any = ...) -> Callable[[bytes], None]: ...
    @staticmethod
    def header_lines(status: str, headers: List[Tuple[str, str]]) -> Tuple[List[Union[str, bytes]], bool, int]: ...
    @staticmethod
    def _header_caches() -> Tuple[Dict[str, Any], Dict[Tuple[str, str], Any], int]: ...

def bind(
    path: str,
    backlog: int = ...,
    *,
    allow: Union[None, str, Iterable[str]] = ...,
    mode: Optional[int] = ...,
    owner: Union[None, str, int] = ...,
    group: Union[None, str, int] = ...,
) -> None:
    """Listen on a unix socket path or a TCP address.

    allow: the TCP peers served (see set_allow); it stays set after bind.
    mode, owner, group: of the unix socket file, in place before the file
    appears (default 0o660 and the process's own user and group); owner and
    group are names or numeric ids. With a TCP address they must be None.
    """
def set_allow(allow: Union[None, str, Iterable[str]]) -> None:
    """The TCP peers (web servers) served: addresses and CIDR networks
    ('10.0.0.5', '10.0.0.0/8', '::1', 'fd00::/8') or 'any'; a str is split
    at commas and white space. A connection from any other address is closed
    before a byte of it is read. None: FCGI_WEB_SERVER_ADDRS when set, else
    loopback only. ValueError for a malformed or empty list."""
def allowed() -> List[str]:
    """The allow-list that applies, in canonical form (['any'] for every
    peer). ValueError when FCGI_WEB_SERVER_ADDRS is malformed."""
def unbind() -> None: ...
def listening() -> Optional[str]: ...
def set_protocol(name: str) -> None:
    """'fastcgi' (default) or 'scgi': the protocol of a socket whose
    address names none (fd 0, bind() without a 'scgi:' prefix)."""
    ...
def object_hash(obj: object) -> int: ...

app: Application
request: Request
response: Response

__all__ = [
    "Application",
    "FileSessionStore",
    "InvalidSessionError",
    "KeyValueSessionStore",
    "MAX_FORKS",
    "Request",
    "RequestTooLargeError",
    "Response",
    "SessionStore",
    "Stream",
    "URL",
    "allowed",
    "app",
    "bind",
    "listening",
    "object_hash",
    "pack",
    "request",
    "response",
    "session_frame",
    "session_unframe",
    "set_allow",
    "uid",
    "unbind",
    "xml",
]
