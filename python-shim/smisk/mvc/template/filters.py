"""Template filters beyond Mako's own (`h`, `u`, `x`, `n`, ...)."""
import json
from typing import Any

__all__ = ["j", "text"]

# Characters that could end a <script> element or an HTML comment, start an
# entity, or end a JavaScript line, written as \uXXXX escapes instead.
_SCRIPT_SAFE = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
                0x2028: "\\u2028", 0x2029: "\\u2029"}


class Rendered(str):
    """str(value) that remembers `value`: what the default filter hands on,
    so a later `|j` still sees the data and not its repr."""

    __slots__ = ("source",)
    source: Any

    def __new__(cls, value: Any) -> "Rendered":
        self = super().__new__(cls, value)
        self.source = value
        return self


def text(value: Any) -> str:
    """The default filter (the legacy `str`/`unicode`): the value as text,
    NOT escaped."""
    return value if isinstance(value, str) else Rendered(value)


def j(value: Any) -> str:
    """`value` as a JavaScript expression (JSON) safe to put inside
    <script>: `var data = ${data|j};`."""
    from smisk.serialization.json import json_encode

    if isinstance(value, Rendered):
        value = value.source
    encoded = json_encode(value) if not isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return encoded.translate(_SCRIPT_SAFE)
