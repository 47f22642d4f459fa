"""The MVC Request and Response: the core's, plus what negotiation decided
for this request. The core reuses one Request and one Response object for
every request of a process; the Application resets these attributes at the
start of each request."""
import mimetypes
import os
from typing import Any, List, Optional

import smisk.core

from smisk.mvc import http
from smisk.mvc.negotiation import accepts_charset

__all__ = ["Request", "Response"]


class Request(smisk.core.Request):
    serializer: Any = None
    """The serializer that decoded the body, or None."""
    cn_url: Any = None
    """The URL routing uses: the request URL without the format extension
    (the same object as `url` when there was none)."""


def _header_name(line: str) -> str:
    return line.split(":", 1)[0].strip().lower()


class Response(smisk.core.Response):
    format: Optional[str] = None
    """The extension the client asked for in the path, or None."""
    serializer: Any = None
    """On the class: the application's default serializer (configuration
    key smisk.mvc.response.serializer). On the instance: this request's."""
    fallback_serializer: Any = None
    """Class-level: answers when nothing was negotiated (errors)."""
    charset: str = "utf-8"
    charsets: List[Any] = []
    """The parsed Accept-Charset ([[name, q], ...]); [] accepts anything."""

    @property
    def status(self) -> Optional[http.Status]:
        """The status the Status: header says (None: 200 by default)."""
        i = self.find_header("Status:")
        if i < 0:
            return None
        value = self.headers[i].split(":", 1)[1].strip()
        try:
            return http.STATUS.get(int(value.split(" ", 1)[0]))
        except ValueError:
            return None

    @status.setter
    def status(self, status: Any) -> None:
        if isinstance(status, int):
            status = http.STATUS.get(status, status)
        self.replace_header(f"Status: {status}")

    def accepts_charset(self, charset: str) -> bool:
        return accepts_charset(self.charsets, charset)

    def adjust_status(self, has_content: bool) -> None:
        """Without content: a 2xx status (or none) becomes 204 No Content;
        any other status is left alone."""
        if has_content:
            return
        i = self.find_header("Status:")
        if i >= 0:
            value = self.headers[i].split(":", 1)[1].strip()
            if not value.startswith("2"):
                return
            self.headers[i] = f"Status: {http.NoContent}"
        else:
            self.headers.append(f"Status: {http.NoContent}")
        self.remove_header("Content-Length")

    def remove_header(self, name: str) -> None:
        """Removes every header whose line starts with `name` (any case)."""
        prefix = name.lower()
        self.headers = [h for h in self.headers if not h.lower().startswith(prefix)]

    def remove_headers(self, *names: str) -> None:
        for name in names:
            self.remove_header(name)

    def replace_header(self, header: str) -> None:
        """Replaces the first header of the same name in place and removes
        any others of that name; appends when there is none."""
        name = _header_name(header)
        out: List[str] = []
        replaced = False
        for line in self.headers:
            if _header_name(line) == name:
                if not replaced:
                    out.append(header)
                    replaced = True
                continue
            out.append(line)
        if not replaced:
            out.append(header)
        self.headers = out

    def send_file(self, path: str) -> None:
        """Sends a file (an absolute path) through the web server, or
        streams it. Content-Type from the file name; a guessed encoding
        (.gz) is sent as Content-Encoding, not as a charset."""
        self.remove_headers("Content-Location:", "Vary:")
        if self.find_header("Content-Type:") < 0:
            media_type, encoding = mimetypes.guess_type(path)
            self.headers.append(f"Content-Type: {media_type or 'application/octet-stream'}")
            if encoding:
                self.replace_header(f"Content-Encoding: {encoding}")
        super().send_file(os.path.abspath(path))
        if not self.has_begun:
            self.begin()
