"""Validation of what a WSGI application passes to start_response().

The checks are the library's (one header grammar for smisk.core and
smisk.wsgi): a status is 'NNN Reason', an item a (name, value) tuple of
str with an RFC 7230 token name that is not hop-by-hop and a value without
CR, LF or NUL, both Latin-1. start_response (smisk.core.WSGIGatewayBase, in
C) runs them and keeps small bounded caches of the statuses and items that
passed; errors are raised from start_response itself (so the traceback
points at the application), never deferred to the first write.
"""
from smisk.core import WSGIGatewayBase as _Base

#: RFC 7230 §6.1 and RFC 2616 §13.5.1: meaningful for one connection only,
#: so a gateway must not let an application set them (PEP 3333).
HOP_BY_HOP = _Base.HOP_BY_HOP

#: header_lines(status, headers) -> (lines, has_length, code): lines are
#: 'Status: …' and 'Name: value' items for Response.headers (bytes, encoded
#: as Latin-1, where a value is not ASCII), has_length whether the
#: application gave a Content-Length, code the status code.
header_lines = _Base.header_lines


def _caches():
    """(statuses, items, size): copies of start_response's caches (status
    -> (code, line); (name, value) -> (line, is Content-Length)) and their
    bound."""
    return _Base._header_caches()


_CACHE_MAX = _caches()[2]
