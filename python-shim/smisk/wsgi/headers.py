"""Validation of what a WSGI application passes to start_response().

Errors are raised from start_response() itself (so the traceback points at
the application), never deferred to the first write. Statuses and
(name, value) header items that pass are remembered with their finished
lines in small bounded caches. start_response (smisk.core.WSGIGatewayBase,
in C) looks them up, for exact str only, and calls header_lines() for
anything not found there; most responses repeat the same few items
(Content-Type: text/html, Cache-Control ...), which then cost one dict
lookup each and no Python frame.
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

_good_status = {}  # status -> (code, "Status: ..." line)
_good_items = {}  # (name, value) -> ("Name: value" line, is Content-Length)


def _status_entry(status):
    """(code, status line) of a valid PEP 3333 status string."""
    if type(status) is not str:
        raise TypeError(f"status must be a str, not {type(status).__name__}: {status!r}")
    if not _STATUS.match(status) or not _latin1(status):
        raise ValueError(f"status must be 'NNN Reason' (Latin-1, no control characters): {status!r}")
    line = "Status: " + status
    if not line.isascii():
        line = line.encode("latin-1")
    entry = (int(status[:3]), line)
    if len(_good_status) < _CACHE_MAX:
        _good_status[status] = entry
    return entry


def _latin1(s):
    return s.isascii() or max(s) <= "\xff"


def _check_name(name):
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
    return lower


def _item_entry(item):
    """The header line for one validated (name, value) item, and whether it
    is a Content-Length."""
    if type(item) is not tuple or len(item) != 2:
        raise TypeError(f"each header must be a (name, value) tuple, not {item!r}")
    name, value = item
    lower = _check_name(name)
    if type(value) is not str:
        raise TypeError(f"value of header {name!r} must be a str, not {type(value).__name__}")
    if _BAD_VALUE.search(value):
        raise ValueError(f"value of header {name!r} contains CR, LF or NUL: {value!r}")
    line = name + ": " + value
    if not line.isascii():
        # Native strings carry Latin-1 bytes (PEP 3333): send those
        # bytes, not the UTF-8 form Response.headers would use for str.
        try:
            line = line.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(f"value of header {name!r} is not Latin-1: {value!r}") from None
    entry = (line, lower == "content-length")
    if len(_good_items) < _CACHE_MAX:
        _good_items[item] = entry
    return entry


def header_lines(status, headers):
    """Checks status and headers (every item, and fills the caches) and
    returns (lines, has_length, code):
    lines are 'Status: …' and 'Name: value' items for Response.headers
    (bytes, encoded as Latin-1, where a value is not ASCII), has_length
    whether the application gave a Content-Length, code the status code."""
    code, status_line = _status_entry(status)
    if type(headers) is not list:
        raise TypeError(f"response_headers must be a list, not {type(headers).__name__}")
    lines = [status_line]
    has_length = False
    for item in headers:
        entry = _item_entry(item)
        lines.append(entry[0])
        if entry[1]:
            has_length = True
    return lines, has_length, code
