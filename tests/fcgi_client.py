"""A small, independent FastCGI client for tests: raw records, so tests can
send both well-formed requests and hostile byte sequences."""

import socket
import struct
import time

VERSION = 1
BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 2, 3, 4, 5, 6, 7
GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = 9, 10, 11
RESPONDER, AUTHORIZER = 1, 2
REQUEST_COMPLETE, CANT_MPX_CONN, OVERLOADED, UNKNOWN_ROLE = 0, 1, 2, 3


def record(kind, req_id, content=b"", padding=0, version=VERSION):
    return struct.pack(">BBHHBx", version, kind, req_id, len(content), padding) + content + b"\0" * padding


def stream(kind, req_id, data, chunk=65535):
    out = b"".join(record(kind, req_id, data[i:i + chunk]) for i in range(0, len(data), chunk))
    return out + record(kind, req_id)


def begin(req_id, role=RESPONDER, keep_conn=False):
    return record(BEGIN_REQUEST, req_id, struct.pack(">HB5x", role, 1 if keep_conn else 0))


def pair(name, value):
    def length(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return length(len(name)) + length(len(value)) + name + value


def encode_params(params):
    return b"".join(pair(k.encode() if isinstance(k, str) else k, v.encode() if isinstance(v, str) else v)
                    for k, v in params.items())


def default_params(script="/hello", query="", method="GET", body_len=None):
    p = {
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "fcgi-test-client",
        "REQUEST_METHOD": method, "SCRIPT_NAME": script, "QUERY_STRING": query,
        "REQUEST_URI": script + ("?" + query if query else ""), "SERVER_NAME": "localhost",
        "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
    }
    if body_len is not None:
        p["CONTENT_LENGTH"] = str(body_len)
    return p


def request_bytes(req_id=1, params=None, body=b"", keep_conn=False):
    params = default_params() if params is None else params
    return begin(req_id, keep_conn=keep_conn) + stream(PARAMS, req_id, encode_params(params)) + stream(STDIN, req_id, body)


class Response:
    def __init__(self):
        self.stdout = b""
        self.stderr = b""
        self.end = None  # (app_status, protocol_status)
        self.others = []  # (kind, req_id, content) of other records

    @property
    def headers_and_body(self):
        head, _, body = self.stdout.partition(b"\r\n\r\n")
        return head, body


class Conn:
    """One FastCGI connection (unix path or (host, port); an IPv6 host has
    a ':'). source: the local address to connect from (TCP)."""

    def __init__(self, address, timeout=10.0, source=None):
        if isinstance(address, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
            self.sock = socket.socket(family, socket.SOCK_STREAM)
        if source is not None:
            self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.sock.connect(address)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError("server closed the connection")
        self.buf += chunk

    def read_record(self):
        while len(self.buf) < 8:
            self._fill()
        version, kind, req_id, clen, plen = struct.unpack(">BBHHBx", self.buf[:8])
        assert version == 1, f"bad version {version} from server"
        while len(self.buf) < 8 + clen + plen:
            self._fill()
        content = self.buf[8:8 + clen]
        self.buf = self.buf[8 + clen + plen:]
        return kind, req_id, content

    def read_response(self, req_id=1):
        """Reads records until END_REQUEST for req_id."""
        resp = Response()
        while True:
            kind, rid, content = self.read_record()
            if rid != req_id:
                resp.others.append((kind, rid, content))
                continue
            if kind == STDOUT:
                resp.stdout += content
            elif kind == STDERR:
                resp.stderr += content
            elif kind == END_REQUEST:
                resp.end = struct.unpack(">IB3x", content)
                return resp
            else:
                resp.others.append((kind, rid, content))

    def request(self, req_id=1, params=None, body=b"", keep_conn=False):
        self.send(request_bytes(req_id, params, body, keep_conn))
        return self.read_response(req_id)

    def closed_by_peer(self, timeout=5.0):
        """True if the server closes the connection within timeout (data
        before the close is discarded)."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                if not self.sock.recv(1 << 16):
                    return True
            except socket.timeout:
                continue
            except ConnectionResetError:
                return True
        return False


def get(address, script="/hello", query="", keep_conn=False):
    c = Conn(address)
    try:
        return c.request(params=default_params(script, query), keep_conn=keep_conn)
    finally:
        c.close()
