"""Accept-style headers, URL paths and URL normalisation."""
from typing import Any, List, Optional, Tuple, Union

__all__ = ["parse_qvalue_header", "tokenize_path", "strip_filename_extension", "normalize_url"]

QValueResult = Tuple[Any, Any, Any, Any]


def _parse_q(text: str) -> int:
    """q as a percentage clamped to 0..100; malformed text gives 0 (RFC 9110
    §12.4.2: a qvalue is 0..1 with at most three decimals)."""
    try:
        q = float(text)
    except ValueError:
        return 0
    if q != q:  # NaN
        return 0
    return max(0, min(100, int(q * 100)))


def parse_qvalue_header(s: str, accept_any_equals: str = "*/*", partial_endswith: str = "/*",
                        return_true_if_accepts_charset: Optional[str] = None) -> QValueResult:
    """Parses an Accept-like header (Accept, Accept-Charset, ...).

    Returns (vqs, highqs, partials, accept_any):
      vqs      [[value, q], ...] sorted by q (0..100) descending, ties in
               header order;
      highqs   the values with an explicit q of 100;
      partials major types of 'type/*' items;
      accept_any whether the wildcard `accept_any_equals` is accepted.
    Values are lower-cased; parameters other than q are dropped
    ('text/html;level=1' is 'text/html'); a malformed q counts as 0. An item
    without q: the wildcard gets q 0 (and sets accept_any), a partial q 50,
    anything else q 100. When `return_true_if_accepts_charset` equals an
    item's value, (True, True, True, True) is returned."""
    vqs: List[List[Any]] = []
    highqs: List[str] = []
    partials: List[str] = []
    accept_any = False
    for item in s.split(","):
        value, _, params = item.partition(";")
        value = value.strip().lower()
        if not value:
            continue
        q: Optional[int] = None
        for param in params.split(";"):
            name, eq, arg = param.partition("=")
            if eq and name.strip().lower() == "q":
                q = _parse_q(arg.strip())
                break
        if return_true_if_accepts_charset is not None and value == return_true_if_accepts_charset:
            return (True, True, True, True)
        is_partial = partial_endswith and value.endswith(partial_endswith) and value != accept_any_equals
        if q is None:
            if value == accept_any_equals:
                accept_any = True
                q = 0
            elif is_partial:
                q = 50
                partials.append(value[:-len(partial_endswith)])
            else:
                q = 100
        else:
            if value == accept_any_equals:
                accept_any = accept_any or q > 0
            elif is_partial:
                partials.append(value[:-len(partial_endswith)])
            if q == 100:
                highqs.append(value)
        vqs.append([value, q])
    vqs.sort(key=lambda vq: -vq[1])  # sort() is stable: ties keep header order
    return vqs, highqs, partials, accept_any


def tokenize_path(path: str) -> List[str]:
    """The non-empty '/'-separated segments of `path`, with a '.<ext>'
    removed from the last segment only ('/user/john.doe/photos' keeps
    'john.doe'). The path is used as given: smisk.core's url.path is
    decoded already, and decoding twice would turn '%2F' into a separator."""
    segments = [segment for segment in path.split("/") if segment]
    if segments:
        last = strip_filename_extension(segments[-1])
        if last:
            segments[-1] = last
        else:
            segments.pop()  # '.hidden' alone: nothing left of the name
    return segments


def strip_filename_extension(fn: str) -> str:
    """`fn` without the text from its last dot ('a.b.c' → 'a.b'); unchanged
    without a dot."""
    dot = fn.rfind(".")
    return fn if dot == -1 else fn[:dot]


def normalize_url(url: Any, ref_base_url: Any = None) -> Any:
    """A new smisk.core.URL for `url`, completed from `ref_base_url`.

    `url`: a URL (copied), a str containing '/' (parsed), or a str without
    '/', which is a path relative to the base path. Scheme, user (with
    password), host and port (when 0) missing from `url` come from the base
    (default: the current request's URL, else an empty URL). A relative
    path is appended to the base path (given a trailing '/'); the base's
    query is not carried over."""
    from smisk.core import URL, Application

    if ref_base_url is None:
        app = Application.current
        request = app.request if app is not None else None
        ref_base_url = request.url if request is not None and request.is_active else URL()
    base = ref_base_url if isinstance(ref_base_url, URL) else URL(ref_base_url)
    relative = isinstance(url, str) and "/" not in url
    if relative:
        out = URL()
        path, qmark, query = url.partition("?")
        base_path = base.path or "/"
        if not base_path.endswith("/"):
            base_path += "/"
        out.path = base_path + path
        if qmark:
            out.query = query
    else:
        out = URL(url)
    if not out.scheme:
        out.scheme = base.scheme
    if not out.user and base.user:
        out.user = base.user
        out.password = base.password
    if not out.host:
        out.host = base.host
    if not out.port and base.port:
        out.port = base.port
    return out
