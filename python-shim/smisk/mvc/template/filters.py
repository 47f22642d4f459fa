"""Template filters beyond Mako's own (`h`, `u`, `x`, `n`, ...)."""
import json
from typing import Any

__all__ = ["j"]

# Characters that could end a <script> element or an HTML comment, start an
# entity, or end a JavaScript line, written as \uXXXX escapes instead.
_SCRIPT_SAFE = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
                0x2028: "\\u2028", 0x2029: "\\u2029"}


def j(value: Any) -> str:
    """`value` as a JavaScript expression (JSON) safe to put inside
    <script>: `var data = ${data|j};`."""
    from smisk.serialization.json import json_encode

    text = json_encode(value) if not isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.translate(_SCRIPT_SAFE)
