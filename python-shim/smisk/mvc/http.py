"""HTTP statuses and the exceptions that answer with them.

A `Status` is a value (`http.NotFound`); calling it makes the exception an
application raises: `raise http.NotFound('no such user')`. The application
calls the exception with itself (`exc(app)`), which sets the response status
and returns the error page's parameters (or, for 300, the complete body)."""
from typing import Any, Dict, List, Optional, Union

__all__ = [
    "STATUS", "HTTPExc", "Status", "Status3xx", "Status300", "Status404",
    "Continue", "SwitchingProtocols",
    "OK", "Created", "Accepted", "NonAuthoritativeInformation", "NoContent", "ResetContent", "PartialContent",
    "MultipleChoices", "MovedPermanently", "Found", "SeeOther", "NotModified", "UseProxy", "TemporaryRedirect",
    "PermanentRedirect",
    "BadRequest", "Unauthorized", "PaymentRequired", "Forbidden", "NotFound", "ControllerNotFound",
    "MethodNotFound", "TemplateNotFound", "MethodNotAllowed", "NotAcceptable", "ProxyAuthenticationRequired",
    "RequestTimeout", "Conflict", "Gone", "LengthRequired", "PreconditionFailed", "RequestEntityTooLarge",
    "RequestURITooLarge", "UnsupportedMediaType", "RequestedRangeNotSatisfiable", "ExpectationFailed",
    "TooManyRequests",
    "InternalServerError", "NotImplemented", "BadGateway", "ServiceUnavailable", "GatewayTimeout",
    "HTTPVersionNotSupported",
]

STATUS: Dict[int, "Status"] = {}
"""Status code → Status (a later definition of a code replaces an earlier one)."""


class HTTPExc(Exception):
    """An exception that answers with `status`. Raised by calling a Status:
    `raise http.BadRequest('the reason')`."""

    def __init__(self, status: "Status", *args: Any, **kwargs: Any) -> None:
        super().__init__(status, *args)
        self.status = status
        self.args = args
        self.kwargs = kwargs

    @property
    def code(self) -> int:
        """The HTTP status code (what error bodies and XML-RPC faults carry)."""
        return self.status.code

    def __call__(self, app: Any) -> Any:
        return self.status.service(app, *self.args, **self.kwargs)

    def __str__(self) -> str:
        return f"{self.status} {self.args} {self.kwargs}"


class Status:
    """An HTTP status. `has_body`: error pages carry a body; `uses_template`:
    an error template may render it."""

    def __init__(self, code: int, name: str, has_body: bool = True, uses_template: bool = True) -> None:
        self.code = code
        self.name = name
        self.has_body = has_body
        self.uses_template = uses_template
        STATUS[code] = self

    def __call__(self, *args: Any, **kwargs: Any) -> HTTPExc:
        return HTTPExc(self, *args, **kwargs)

    def service(self, app: Any, *args: Any, **kwargs: Any) -> Any:
        """Sets the response status; for a status with a body returns the
        error parameters {'description': ...}."""
        app.response.status = self
        if self.has_body:
            description = ", ".join(str(a) for a in args) if args else self.name
            return {"description": description}
        return None

    @property
    def is_error(self) -> bool:
        return self.code >= 500

    @property
    def is_client_error(self) -> bool:
        return 400 <= self.code < 500

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def __repr__(self) -> str:
        return f"Status({self.code!r}, {self.name!r})"


def _location(url: Any) -> str:
    """The Location header value of a redirect: `url` completed from the
    request (normalize_url) without fragment and credentials, and without
    the port when it is the scheme's default."""
    from smisk.util.string import normalize_url

    u = normalize_url(url)
    default_port = u.port == 80 and u.scheme in ("http", None, "") or u.port == 443 and u.scheme == "https"
    text: str = u.to_s(user=False, password=False, fragment=False, port=not default_port and bool(u.port))
    return text


class Status3xx(Status):
    """A redirect: service(app, url) sets Location."""

    def service(self, app: Any, url: Any = None, *args: Any, **kwargs: Any) -> Any:
        if url is None:
            raise TypeError(f"{self} needs the URL to redirect to")
        location = _location(url)
        app.response.replace_header(f"Location: {location}")
        app.response.status = self
        return {"description": f"The resource has moved to {location}"}


def _alternates_value(uri: str) -> str:
    """An alternate URI safe inside the quoted Alternates syntax (RFC 2295):
    percent-encoded, so it holds no quote, comma or control character."""
    from urllib.parse import quote

    return quote(uri, safe="/:;=?&@+$!*'()~-._%")


class Status300(Status):
    """300 Multiple Choices: the list of every representation (one per
    registered serializer), as Alternates and as a small HTML page."""

    charset = "iso-8859-1"

    def service(self, app: Any, url: Any = None, *args: Any, **kwargs: Any) -> Any:
        from smisk.core import xml
        from smisk.serialization import serializers

        app.response.status = self
        if url is None:
            url = app.request.cn_url
        path = url.path or "/"
        query = f"?{url.query}" if url.query else ""
        alternates: List[str] = []
        links: List[str] = []
        for serializer in serializers:
            if not serializer.extensions or not serializer.media_types:
                continue
            alt = f"{path}.{serializer.extensions[0]}{query}"
            alternates.append(f'{{"{_alternates_value(alt)}" 1.0 {{type {serializer.media_types[0]}}}}}')
            links.append(f'<li><a href="{xml.escape(alt)}">{xml.escape(alt)}</a> '
                         f'({xml.escape(serializer.name)})</li>')
        response = app.response
        response.replace_header("TCN: list")
        response.replace_header("Alternates: " + ",".join(alternates))
        response.replace_header(f"Content-Type: text/html; charset={self.charset}")
        page = (f"<html><head><title>{self}</title></head><body><h1>{self}</h1>"
                f"<p>The resource is available in these formats:</p><ul>{''.join(links)}</ul></body></html>\n")
        return page.encode(self.charset, "xmlcharrefreplace")


class Status404(Status):
    def service(self, app: Any, description: Optional[str] = None, *args: Any, **kwargs: Any) -> Any:
        app.response.status = self
        if description is None:
            url = getattr(app.request, "cn_url", None) or app.request.url
            query = f"?{url.query}" if url.query else ""
            description = f"No resource exists at {url.path}{query}"
        return {"description": str(description)}


Continue = Status(100, "Continue")
SwitchingProtocols = Status(101, "Switching Protocols")

OK = Status(200, "OK")
Created = Status(201, "Created")
Accepted = Status(202, "Accepted")
NonAuthoritativeInformation = Status(203, "Non-Authoritative Information")
NoContent = Status(204, "No Content")
ResetContent = Status(205, "Reset Content")
PartialContent = Status(206, "Partial Content")

MultipleChoices = Status300(300, "Multiple Choices", uses_template=False)
MovedPermanently = Status3xx(301, "Moved Permanently")
Found = Status3xx(302, "Found")
SeeOther = Status3xx(303, "See Other")
NotModified = Status(304, "Not Modified", has_body=False)
UseProxy = Status3xx(305, "Use Proxy")
TemporaryRedirect = Status3xx(307, "Temporary Redirect")
PermanentRedirect = Status3xx(308, "Permanent Redirect")

BadRequest = Status(400, "Bad Request")
Unauthorized = Status(401, "Unauthorized")
PaymentRequired = Status(402, "Payment Required", has_body=False)
Forbidden = Status(403, "Forbidden")
NotFound = Status404(404, "Not Found")
ControllerNotFound = Status404(404, "Not Found")
MethodNotFound = Status404(404, "Not Found")
TemplateNotFound = Status404(404, "Not Found")
MethodNotAllowed = Status(405, "Method Not Allowed", has_body=False)
NotAcceptable = Status(406, "Not Acceptable")
ProxyAuthenticationRequired = Status(407, "Proxy Authentication Required", has_body=False)
RequestTimeout = Status(408, "Request Time-out", has_body=False)
Conflict = Status(409, "Conflict", has_body=False)
Gone = Status(410, "Gone", has_body=False)
LengthRequired = Status(411, "Length Required")
PreconditionFailed = Status(412, "Precondition Failed")
RequestEntityTooLarge = Status(413, "Request Entity Too Large")
RequestURITooLarge = Status(414, "Request-URI Too Large")
UnsupportedMediaType = Status(415, "Unsupported Media Type", has_body=False)
RequestedRangeNotSatisfiable = Status(416, "Requested range not satisfiable")
ExpectationFailed = Status(417, "Expectation Failed")
TooManyRequests = Status(429, "Too Many Requests")

InternalServerError = Status(500, "Internal Server Error")
NotImplemented = Status(501, "Not Implemented")  # noqa: A001 (the legacy name)
BadGateway = Status(502, "Bad Gateway")
ServiceUnavailable = Status(503, "Service Unavailable")
GatewayTimeout = Status(504, "Gateway Time-out")
HTTPVersionNotSupported = Status(505, "HTTP Version not supported")

# 404 is NotFound, whichever Status404 instance was defined last.
STATUS[404] = NotFound

StatusLike = Union[Status, int]
