"""Validation of what a WSGI application passes to start_response().

Errors are raised from start_response() itself (so the traceback points at
the application), never deferred to the first write. Status lines and
header names that passed once are remembered in small bounded caches: a
real application uses a handful of each, and the check then costs one dict
lookup per header.
"""
import re

#: RFC 7230 §6.1 and RFC 2616 §13.5.1: meaningful for one connection only,
#: so a gateway must not let an application set them (PEP 3333).
HOP_BY_HOP = frozenset(
    ("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "trailers", "transfer-encoding", "upgrade")
)

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_STATUS = re.compile(r"[1-9][0-9][0-9] [^\x00-\x1f\x7f]*\Z")
_BAD_VALUE = re.compile(r"[\x00\r\n]")
_CACHE_MAX = 512

_good_status = {}
_good_names = {}


def check_status(status):
    """Returns the status code (int) of a valid PEP 3333 status string."""
    code = _good_status.get(status)
    if code is not None:
        return code
    if type(status) is not str:
        raise TypeError(f"status must be a str, not {type(status).__name__}: {status!r}")
    if not _STATUS.match(status) or not _latin1(status):
        raise ValueError(f"status must be 'NNN Reason' (Latin-1, no control characters): {status!r}")
    code = int(status[:3])
    if len(_good_status) < _CACHE_MAX:
        _good_status[status] = code
    return code


def _latin1(s):
    return s.isascii() or max(s) <= "\xff"


def _check_name(name):
    lower = _good_names.get(name)
    if lower is not None:
        return lower
    if type(name) is not str:
        raise TypeError(f"header names must be str, not {type(name).__name__}: {name!r}")
    if not _TOKEN.match(name):
        raise ValueError(f"invalid header name {name!r} (must be an RFC 7230 token)")
    lower = name.lower()
    if lower in HOP_BY_HOP:
        raise ValueError(
            f"hop-by-hop header {name!r} is not allowed in a WSGI response (PEP 3333): "
            "the web server manages the connection"
        )
    if len(_good_names) < _CACHE_MAX:
        _good_names[name] = lower
    return lower


def header_lines(status, headers):
    """Checks status and headers and returns (lines, has_length): lines are
    'Status: …' and 'Name: value' items for Response.headers (bytes, encoded
    as Latin-1, where a value is not ASCII), has_length whether the
    application gave a Content-Length."""
    check_status(status)
    if type(headers) is not list:
        raise TypeError(f"response_headers must be a list, not {type(headers).__name__}")
    lines = ["Status: " + status]
    has_length = False
    for item in headers:
        if type(item) is not tuple or len(item) != 2:
            raise TypeError(f"each header must be a (name, value) tuple, not {item!r}")
        name, value = item
        lower = _check_name(name)
        if type(value) is not str:
            raise TypeError(f"value of header {name!r} must be a str, not {type(value).__name__}")
        if _BAD_VALUE.search(value):
            raise ValueError(f"value of header {name!r} contains CR, LF or NUL: {value!r}")
        if lower == "content-length":
            has_length = True
        line = name + ": " + value
        if not line.isascii():
            # Native strings carry Latin-1 bytes (PEP 3333): send those
            # bytes, not the UTF-8 form Response.headers would use for str.
            try:
                line = line.encode("latin-1")
            except UnicodeEncodeError:
                raise ValueError(f"value of header {name!r} is not Latin-1: {value!r}") from None
        lines.append(line)
    if not status.isascii():
        lines[0] = lines[0].encode("latin-1")
    return lines, has_length
