"""Content negotiation as small pure functions: which serializer answers
(path extension, Accept), which charset (Accept-Charset), and what a
request's Content-Type says. They take header values and a serializer
registry and return a decision or raise the HTTP exception that answers
the request (406, 300); the application applies the decision to the
response. Nothing here reads the request or writes the response."""
import codecs
from typing import Any, Dict, List, Optional, Sequence, Tuple

from smisk.mvc import http
from smisk.util.string import parse_qvalue_header

__all__ = ["parse_content_type", "split_format_extension", "choose_serializer", "choose_charset",
           "codec_name", "Choice"]


def _split_params(text: str) -> List[str]:
    """`text` split at the semicolons that are outside quoted strings."""
    items, start, quoted, i = [], 0, False, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and quoted:
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == ";" and not quoted:
            items.append(text[start:i])
            start = i + 1
        i += 1
    items.append(text[start:])
    return items


def parse_content_type(value: Optional[str]) -> Tuple[str, Dict[str, str]]:
    """('type/subtype' lower-cased, {parameter: value}) of a Content-Type
    header. Parameters are split on ';' (outside quoted strings) at the
    first '=', names trimmed and lower-cased, quoted values unquoted;
    parameters without '=' are ignored. An empty or missing header is
    ('', {})."""
    if not value:
        return "", {}
    media_type, *rest = _split_params(value)
    params: Dict[str, str] = {}
    for item in rest:
        name, eq, arg = item.partition("=")
        if not eq:
            continue
        name = name.strip().lower()
        arg = arg.strip()
        if len(arg) >= 2 and arg[0] == arg[-1] == '"':
            arg = arg[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        if name:
            params[name] = arg
    return media_type.strip().lower(), params


def split_format_extension(path: str, registry: Any) -> Tuple[Optional[str], str]:
    """(extension, path without '.extension') when the last segment of
    `path` ends in the extension of a registered serializer; else
    (None, path): an unknown suffix is part of the name."""
    slash = path.rfind("/")
    last = path[slash + 1:]
    dot = last.rfind(".")
    if dot < 0:
        return None, path
    ext = last[dot + 1:].lower()
    if not ext or ext not in registry.extensions:
        return None, path
    return ext, path[:slash + 1 + dot]


class Choice:
    """A negotiated serializer, and the media type to announce when the
    client asked for one exactly (None: the serializer's own)."""

    __slots__ = ("serializer", "content_type")

    def __init__(self, serializer: Any, content_type: Optional[str] = None) -> None:
        self.serializer = serializer
        self.content_type = content_type

    def __repr__(self) -> str:
        return f"Choice({getattr(self.serializer, 'name', None)!r}, {self.content_type!r})"


def _major(media_type: str) -> str:
    return media_type.split("/", 1)[0]


def choose_serializer(accept: Optional[str], registry: Any, default: Any, fallback: Any, strict_tcn: bool = True,
                      no_http_exc: bool = False, url: Any = None) -> Choice:
    """The serializer for an Accept header (rules a–e, then 5):
    a. the default serializer when one of its types has q=1;
    b. else the first acceptable type, by q, that a serializer has exactly;
    c. else, when */* is accepted, the default (or the fallback);
    d. else the default when its major type is an accepted `type/*`, else
       the first serializer whose major type is;
    e. else 406 when `strict_tcn`, else go on to 5.
    5. No usable Accept: the default; else the fallback (with
       `no_http_exc`, or with fewer than two serializers); else 300
       Multiple Choices listing every format of `url`."""
    if accept and accept.strip():
        vqs, _, partials, accept_any = parse_qvalue_header(accept)
        refused = {v for v, q in vqs if q == 0 and "*" not in v}
        top = [v for v, q in vqs if q == 100]
        if default is not None:
            for media_type in default.media_types:
                if media_type.lower() in top:
                    return Choice(default, media_type.lower())
        for value, q in vqs:
            if q > 0 and "*" not in value:
                s = registry.media_types.get(value)
                if s is not None and s.can_serialize:
                    return Choice(s, value)

        def usable(s: Any) -> bool:
            return s is not None and not any(m.lower() in refused for m in s.media_types)

        if accept_any:
            for candidate in (default, fallback):
                if usable(candidate):
                    return Choice(candidate)
        if partials:
            if usable(default) and any(_major(m) in partials for m in default.media_types):
                return Choice(default)
            for s in registry:
                if s.can_serialize and usable(s) and any(_major(m) in partials for m in s.media_types):
                    return Choice(s)
        if strict_tcn and not no_http_exc:
            raise http.NotAcceptable(f"None of the acceptable media types ({accept.strip()[:200]}) is available")
    if default is not None:
        return Choice(default)
    if no_http_exc or len(registry) < 2:
        return Choice(fallback)
    raise http.MultipleChoices(url)


def codec_name(charset: str) -> Optional[str]:
    """Python's canonical name of a text encoding ('UTF8' → 'utf-8'), or
    None when it is unknown or not a character set (base64, rot13, ...)."""
    try:
        info = codecs.lookup(charset)
    except (LookupError, TypeError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def choose_charset(accept_charset: Optional[str], current: str,
                   strict_tcn: bool = True) -> Tuple[str, List[List[Any]]]:
    """(charset to answer in, the parsed Accept-Charset list) for the
    charset the response would use (`current`). The list is [] when any
    charset is acceptable. `current` is kept when it is listed with q > 0
    or covered by '*'; else the highest-q listed charset Python can encode;
    none → 406 with `strict_tcn`, else `current`."""
    if not accept_charset or not accept_charset.strip():
        return current, []
    vqs, _, _, accept_any = parse_qvalue_header(accept_charset, accept_any_equals="*", partial_endswith="")
    listed: Dict[str, int] = {}
    spelling: Dict[str, str] = {}  # the client's name for a codec, for the Content-Type
    for value, q in vqs:
        if value == "*":
            continue
        name = codec_name(value)
        if name is not None and name not in listed:
            listed[name] = q
            spelling[name] = value
    wildcard_q = next((q for v, q in vqs if v == "*"), None)
    any_ok = accept_any or (wildcard_q is not None and wildcard_q > 0)
    charsets: List[List[Any]] = [] if any_ok and not any(q == 0 for q in listed.values()) else \
        [[v, q] for v, q in vqs]
    current_name = codec_name(current) or current.lower()
    if current_name in listed:
        if listed[current_name] > 0:
            return current, charsets
    elif any_ok:
        return current, charsets
    for name, q in sorted(listed.items(), key=lambda item: -item[1]):
        if q > 0:
            return spelling[name], charsets
    if strict_tcn:
        raise http.NotAcceptable(f"None of the acceptable character sets ({accept_charset.strip()[:200]}) "
                                 "is available")
    return current, charsets


def accepts_charset(charsets: Sequence[Sequence[Any]], charset: str) -> bool:
    """Whether a parsed Accept-Charset list (as choose_charset returns it)
    accepts `charset`: [] accepts everything."""
    if not charsets:
        return True
    wanted = codec_name(charset) or charset.lower()
    for value, q in charsets:
        if value == "*" and q > 0:
            return True
        if (codec_name(value) or value) == wanted:
            return bool(q > 0)
    return False
