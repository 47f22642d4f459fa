"""The FastCGI wire format, client side: what the development HTTP server
(smisk.util.httpd) speaks to the application. The server side is the
native core's; this module is deliberately small and blocking."""
import socket
import struct
from typing import Iterator, Optional, Tuple, Union

__all__ = [
    "FCGI_BEGIN_REQUEST", "FCGI_ABORT_REQUEST", "FCGI_END_REQUEST", "FCGI_PARAMS", "FCGI_STDIN",
    "FCGI_STDOUT", "FCGI_STDERR", "FCGI_DATA", "FCGI_GET_VALUES", "FCGI_GET_VALUES_RESULT",
    "FCGI_UNKNOWN_TYPE", "FCGI_KEEP_CONN", "FCGI_RESPONDER", "FCGI_AUTHORIZER", "FCGI_FILTER",
    "FCGI_REQUEST_COMPLETE", "FCGI_CANT_MPX_CONN", "FCGI_OVERLOADED", "FCGI_UNKNOWN_ROLE",
    "FCGI_MAX_PACKET_LEN", "FCGI_VERSION_1", "FCGI_HEADER_LEN", "FastCGIError", "Record",
    "parseNameValues", "writeNameValue", "Channel",
]

FCGI_VERSION_1 = 1
FCGI_HEADER_LEN = 8

FCGI_BEGIN_REQUEST = 1
FCGI_ABORT_REQUEST = 2
FCGI_END_REQUEST = 3
FCGI_PARAMS = 4
FCGI_STDIN = 5
FCGI_STDOUT = 6
FCGI_STDERR = 7
FCGI_DATA = 8
FCGI_GET_VALUES = 9
FCGI_GET_VALUES_RESULT = 10
FCGI_UNKNOWN_TYPE = 11

FCGI_KEEP_CONN = 1

FCGI_RESPONDER = 1
FCGI_AUTHORIZER = 2
FCGI_FILTER = 3

FCGI_REQUEST_COMPLETE = 0
FCGI_CANT_MPX_CONN = 1
FCGI_OVERLOADED = 2
FCGI_UNKNOWN_ROLE = 3

FCGI_MAX_PACKET_LEN = 0xFFFF

_HEADER = struct.Struct(">BBHHBx")


class FastCGIError(Exception):
    pass


class Record:
    """One FastCGI record: type, request id, content (at most 65535 bytes),
    padded to a multiple of 8 bytes on the wire."""

    def __init__(self, type: int, reqId: int, content: bytes = b"", version: int = FCGI_VERSION_1) -> None:
        if len(content) > FCGI_MAX_PACKET_LEN:
            raise FastCGIError(f"record content of {len(content)} bytes (at most {FCGI_MAX_PACKET_LEN})")
        self.version = version
        self.type = type
        self.reqId = reqId
        self.content = bytes(content)
        self.contentLength = len(self.content)
        self.paddingLength = -self.contentLength % 8

    @classmethod
    def fromHeaderString(cls, header: bytes) -> "Record":
        """A record with the header's fields and empty content (the caller
        reads contentLength + paddingLength more bytes)."""
        if len(header) != FCGI_HEADER_LEN:
            raise FastCGIError(f"a record header is {FCGI_HEADER_LEN} bytes, not {len(header)}")
        version, type_, req_id, length, padding = _HEADER.unpack(header)
        record = cls(type_, req_id, version=version)
        record.contentLength = length
        record.paddingLength = padding
        return record

    def toOutputString(self) -> bytes:
        return (_HEADER.pack(self.version, self.type, self.reqId, self.contentLength, self.paddingLength)
                + self.content + b"\0" * self.paddingLength)

    def totalLength(self) -> int:
        return FCGI_HEADER_LEN + self.contentLength + self.paddingLength

    def __repr__(self) -> str:
        return f"<Record type={self.type} reqId={self.reqId} length={self.contentLength}>"


def _read_length(data: bytes, pos: int) -> Tuple[int, int]:
    if pos >= len(data):
        raise FastCGIError("truncated name-value pair")
    if data[pos] < 0x80:
        return data[pos], pos + 1
    if pos + 4 > len(data):
        raise FastCGIError("truncated name-value pair length")
    return struct.unpack(">I", data[pos:pos + 4])[0] & 0x7FFFFFFF, pos + 4


def parseNameValues(data: bytes) -> Iterator[Tuple[bytes, bytes]]:
    """The (name, value) pairs of PARAMS or GET_VALUES content."""
    pos = 0
    while pos < len(data):
        name_len, pos = _read_length(data, pos)
        value_len, pos = _read_length(data, pos)
        if pos + name_len + value_len > len(data):
            raise FastCGIError("truncated name-value pair")
        name = data[pos:pos + name_len]
        pos += name_len
        value = data[pos:pos + value_len]
        pos += value_len
        yield name, value


def _length(n: int) -> bytes:
    return bytes([n]) if n < 0x80 else struct.pack(">I", n | 0x80000000)


def writeNameValue(name: bytes, value: bytes) -> bytes:
    if isinstance(name, str):
        name = name.encode("latin-1")
    if isinstance(value, str):
        value = value.encode("latin-1")
    return _length(len(name)) + _length(len(value)) + name + value


class Channel:
    """A blocking FastCGI connection to the application."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def writePacket(self, record: Record) -> None:
        self.sock.sendall(record.toOutputString())

    def writeStream(self, type: int, reqId: int, data: bytes) -> None:
        """`data` as records of at most 65535 bytes (no end-of-stream record)."""
        view = memoryview(data)
        for i in range(0, len(view), FCGI_MAX_PACKET_LEN):
            self.writePacket(Record(type, reqId, bytes(view[i:i + FCGI_MAX_PACKET_LEN])))

    def read(self, n: int) -> bytes:
        """Exactly `n` bytes; EOFError when the connection ends first."""
        chunks = []
        left = n
        while left > 0:
            chunk = self.sock.recv(min(left, 65536))
            if not chunk:
                raise EOFError(f"connection closed with {left} of {n} bytes unread")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def readPacket(self) -> Record:
        record = Record.fromHeaderString(self.read(FCGI_HEADER_LEN))
        body = self.read(record.contentLength + record.paddingLength)
        record.content = body[:record.contentLength]
        return record

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def connect(address: Union[str, Tuple[str, int]], timeout: Optional[float] = None) -> Channel:
    """A Channel to a unix socket path or (host, port)."""
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return Channel(sock)
