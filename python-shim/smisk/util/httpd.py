"""A development HTTP server in front of a smisk application: each HTTP
request becomes one FastCGI request on the application's socket.

For development only: it logs a warning when bound to an address other
than loopback. In production put nginx (or another real web server) in
front of the application."""
import errno
import http.server
import ipaddress
import logging
import os
import socket
import socketserver
import time
import urllib.parse
from typing import Any, Dict, Optional, Tuple, Union

from smisk.util import fcgiproto as fp

__all__ = ["Server", "RequestHandler", "is_loopback"]

log = logging.getLogger(__name__)

Address = Union[str, Tuple[str, int]]
REQUEST_ID = 1
_RETRYABLE = (errno.ECONNREFUSED, errno.ENOENT, errno.EAGAIN)


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """An HTTP server forwarding to the FastCGI application at
    `fcgi_address` (a unix socket path or (host, port))."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: Tuple[str, int], fcgi_address: Address = ("127.0.0.1", 5000),
                 request_handler: Any = None, bind_and_activate: bool = True) -> None:
        self.fcgi_address = fcgi_address
        self.document_root = os.getcwd()
        super().__init__(address, request_handler or RequestHandler, bind_and_activate)
        host, port = self.server_address[:2] if bind_and_activate else address
        self.naddr = (str(host), int(port))
        self.fqdn = socket.getfqdn(str(host)) if host not in ("", "0.0.0.0", "::") else socket.getfqdn()
        if not is_loopback(str(host)):
            log.warning("the development HTTP server listens on %s:%s, beyond this machine: "
                        "it is meant for development only", host, port)

    def get_fcgi_backend(self, addr: Optional[Address] = None, max_connect_retries: int = 10) -> fp.Channel:
        """A connection to the application, retrying a refused connect once
        a second (the application may still be starting)."""
        addr = addr or self.fcgi_address
        for attempt in range(max_connect_retries + 1):
            try:
                return fp.connect(addr, timeout=300)
            except OSError as e:
                if e.errno not in _RETRYABLE or attempt == max_connect_retries:
                    raise
                log.info("%s connecting to %s: retrying", errno.errorcode.get(e.errno or 0, e), addr)
                time.sleep(1)
        raise OSError(errno.ECONNREFUSED, "unreachable")  # not reached

    def put_fcgi_backend(self, channel: fp.Channel) -> None:
        channel.close()


def _server_version() -> str:
    from smisk.release import version

    return f"smiskhttpd/{version}"


class RequestHandler(http.server.BaseHTTPRequestHandler):
    server_version = _server_version()
    protocol_version = "HTTP/1.0"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def fcgi_params(self, body_length: Optional[int]) -> Dict[str, str]:
        target = self.path
        path, _, query = target.partition("?")
        host, port = self.server.naddr
        client = self.client_address
        params = {
            "GATEWAY_INTERFACE": "CGI/1.1",
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": urllib.parse.unquote(path),
            "QUERY_STRING": query,
            "REQUEST_URI": target,
            "SERVER_NAME": (self.headers.get("Host") or host).rsplit(":", 1)[0].strip("[]") or host,
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "SERVER_SOFTWARE": self.server_version,
            "SERVER_ADDR": host,
            "REMOTE_ADDR": str(client[0]) if client else "",
            "REMOTE_PORT": str(client[1]) if client and len(client) > 1 else "",
            "DOCUMENT_ROOT": self.server.document_root,
        }
        content_type = self.headers.get("Content-Type")
        if content_type:
            params["CONTENT_TYPE"] = content_type
        if body_length is not None:
            params["CONTENT_LENGTH"] = str(body_length)
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if key in ("PROXY", "CONTENT_TYPE", "CONTENT_LENGTH"):
                continue  # Proxy: would become HTTP_PROXY (httpoxy)
            key = "HTTP_" + key
            params[key] = f"{params[key]}, {value}" if key in params else value
        return params

    def handle_request(self) -> None:
        length_text = self.headers.get("Content-Length")
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.send_error(411, "Length Required", "chunked request bodies are not supported here")
            return
        try:
            body_length = int(length_text) if length_text is not None else None
            if body_length is not None and body_length < 0:
                raise ValueError(length_text)
        except ValueError:
            self.send_error(400, "Bad Request", "invalid Content-Length")
            return
        try:
            channel = self.server.get_fcgi_backend()
        except OSError as e:
            log.error("application unavailable at %s: %s", self.server.fcgi_address, e)
            self.send_error(503, "Service Unavailable", "the application is not running")
            return
        try:
            self._forward(channel, body_length)
        except (OSError, EOFError, fp.FastCGIError) as e:
            log.error("FastCGI exchange failed: %s", e)
            if not getattr(self, "_began", False):
                self.send_error(502, "Bad Gateway", "the application did not answer")
        finally:
            self.server.put_fcgi_backend(channel)

    def _forward(self, channel: fp.Channel, body_length: Optional[int]) -> None:
        self._began = False
        channel.writePacket(fp.Record(fp.FCGI_BEGIN_REQUEST, REQUEST_ID,
                                      bytes([0, fp.FCGI_RESPONDER, 0, 0, 0, 0, 0, 0])))
        params = b"".join(fp.writeNameValue(k.encode("latin-1", "replace"), v.encode("latin-1", "replace"))
                          for k, v in self.fcgi_params(body_length).items())
        channel.writeStream(fp.FCGI_PARAMS, REQUEST_ID, params)
        channel.writePacket(fp.Record(fp.FCGI_PARAMS, REQUEST_ID))
        left = body_length or 0
        while left > 0:  # streamed: never the whole body in memory
            chunk = self.rfile.read(min(left, fp.FCGI_MAX_PACKET_LEN))
            if not chunk:
                raise EOFError("the client sent less than its Content-Length")
            channel.writePacket(fp.Record(fp.FCGI_STDIN, REQUEST_ID, chunk))
            left -= len(chunk)
        channel.writePacket(fp.Record(fp.FCGI_STDIN, REQUEST_ID))
        head = b""
        while True:
            record = channel.readPacket()
            if record.type == fp.FCGI_STDOUT:
                if self._began:
                    if record.content:
                        self.wfile.write(record.content)
                    continue
                head += record.content
                end = head.find(b"\r\n\r\n")
                if end >= 0:
                    self._send_head(head[:end])
                    rest = head[end + 4:]
                    if rest:
                        self.wfile.write(rest)
                elif len(head) > 1 << 20:
                    raise fp.FastCGIError("response header block larger than 1 MiB")
            elif record.type == fp.FCGI_STDERR:
                if record.content:
                    log.warning("application: %s", record.content.decode("utf-8", "replace").rstrip())
            elif record.type == fp.FCGI_END_REQUEST:
                if not self._began:
                    raise fp.FastCGIError("the application ended the request without a response")
                return

    def _send_head(self, block: bytes) -> None:
        status, reason = 200, "OK"
        headers = []
        for raw in block.split(b"\r\n"):
            line = raw.decode("latin-1")
            name, sep, value = line.partition(":")
            if not sep:
                continue
            if name.strip().lower() == "status":
                code, _, text = value.strip().partition(" ")
                try:
                    status, reason = int(code), text or ""
                except ValueError:
                    pass
                continue
            headers.append((name.strip(), value.strip()))
        self.send_response(status, reason or None)  # adds Server and Date
        for name, value in headers:
            if name.lower() not in ("server", "date"):
                self.send_header(name, value)
        self.end_headers()
        self._began = True

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = handle_request
