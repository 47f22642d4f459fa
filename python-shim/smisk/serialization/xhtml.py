"""XHTML 1.0 Strict pages: the response data as nested lists, and styled
error pages. Write only."""
from typing import Any, List, Optional, Tuple

from smisk import serialization as _context
from smisk.serialization import Serializer, SerializationError, serializers

__all__ = ["XHTMLSerializer"]

DOCTYPE = ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
           '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n')

ERROR_STYLE = """body{font-family:sans-serif;margin:2em;color:#222;background:#fff}
h1{font-size:1.6em;border-bottom:1px solid #ccc;padding-bottom:.3em}
pre.traceback{background:#f6f6f6;border:1px solid #ddd;padding:1em;overflow:auto}
address{margin-top:2em;color:#888;font-size:.9em}"""


def _escape(value: Any) -> str:
    from smisk.core import xml

    return xml.escape(value if isinstance(value, str) else str(value))


def _build(value: Any, out: List[str], depth: int) -> None:
    if depth > 500:
        raise SerializationError("data nested more than 500 levels deep")
    if isinstance(value, dict):
        out.append("<ul>")
        for key in sorted(value, key=str):
            out.append(f"<li>{_escape(key)}: ")
            _build(value[key], out, depth + 1)
            out.append("</li>")
        out.append("</ul>")
    elif isinstance(value, (list, tuple)):
        out.append("<ol>")
        for item in value:
            out.append("<li>")
            _build(item, out, depth + 1)
            out.append("</li>")
        out.append("</ol>")
    elif isinstance(value, bool):
        out.append(f"<tt>{value}</tt>")
    else:
        out.append(f"<tt>{_escape(value)}</tt>")


class XHTMLSerializer(Serializer):
    name = "XHTML"
    extensions = ("html",)
    media_types = ("text/html", "application/xhtml+xml")
    charset = "utf-8"
    unicode_errors = "xmlcharrefreplace"
    can_serialize = True

    @classmethod
    def _page(cls, title: str, body: str, charset: str, style: str = "") -> bytes:
        head_style = f'<style type="text/css">{style}</style>' if style else ""
        text = (f'<?xml version="1.0" encoding="{charset}"?>\n{DOCTYPE}'
                f'<html xmlns="http://www.w3.org/1999/xhtml"><head>'
                f'<meta http-equiv="Content-Type" content="text/html; charset={charset}" />'
                f"<title>{_escape(title)}</title>{head_style}</head><body>{body}</body></html>\n")
        try:
            return text.encode(charset, cls.unicode_errors)
        except LookupError as e:
            raise SerializationError(str(e)) from None

    @classmethod
    def _address(cls, server: Optional[str] = None) -> str:
        if server is None:
            request = _context.current_request()
            server = request.env.get("SERVER_SOFTWARE", "") if request is not None else ""
        return f"<address>{_escape(server)}</address>" if server else ""

    @classmethod
    def serialize(cls, params: Any, charset: Optional[str]) -> Tuple[Optional[str], bytes]:
        charset = charset or cls.charset or "utf-8"
        title = "Response"
        destination = getattr(_context.current_application(), "destination", None)
        path = getattr(destination, "path", None)
        if path:
            title = "/" + "/".join(path) + ".html"
        out: List[str] = [f"<h1>{_escape(title)}</h1>"]
        if params is not None:
            _build(params, out, 0)
        out.append(cls._address())
        return charset, cls._page(title, "".join(out), charset)

    @classmethod
    def serialize_error(cls, status: Any, params: Any, charset: Optional[str]) -> Tuple[Optional[str], bytes]:
        charset = charset or cls.charset or "utf-8"
        name = params.get("name") or str(status)
        out = [f"<h1>{_escape(name)}</h1>"]
        if params.get("description_html"):
            out.append(str(params["description_html"]))  # the application's own markup
        elif params.get("description"):
            for paragraph in str(params["description"]).split("\n\n"):
                out.append(f"<p>{_escape(paragraph)}</p>")
        code = getattr(status, "code", None) or params.get("code") or 0
        if params.get("traceback") and isinstance(code, int) and code >= 500:
            tb = params["traceback"]
            tb = "".join(tb) if isinstance(tb, (list, tuple)) else str(tb)
            out.append(f'<pre class="traceback">{_escape(tb)}</pre>')
        out.append(cls._address(params.get("server")))
        return charset, cls._page(name, "".join(out), charset, ERROR_STYLE)


serializers.register(XHTMLSerializer)
