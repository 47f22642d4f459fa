"""The character sets Python can encode and decode HTTP bodies with.

`charsets` maps a codec name to {'language': ..., 'alias': 'a, b, ...'}
('alias' only when Python knows aliases). Only text encodings that
codecs.lookup() finds are listed: transforms (rot_13, base64_codec, ...)
and codecs that are not character sets for bodies (unicode_escape,
raw_unicode_escape, punycode, idna) are left out. Used by the
`smisk:charsets` reflection and by charset negotiation."""
import codecs
from encodings.aliases import aliases as _python_aliases
from typing import Dict

__all__ = ["charsets"]

_WESTERN = "Western Europe"
_CEE = "Central and Eastern Europe"
_CYRILLIC = "Bulgarian, Byelorussian, Macedonian, Russian, Serbian"
_BALTIC = "Baltic languages"
_ALL = "all languages"

# (codec name, languages): the standard encodings of CPython.
_CODECS = (
    ("ascii", "English"), ("big5", "Traditional Chinese"), ("big5hkscs", "Traditional Chinese"),
    ("cp037", "English"), ("cp273", "German"), ("cp424", "Hebrew"), ("cp437", "English"),
    ("cp500", _WESTERN), ("cp720", "Arabic"), ("cp737", "Greek"), ("cp775", _BALTIC),
    ("cp850", _WESTERN), ("cp852", _CEE), ("cp855", _CYRILLIC), ("cp856", "Hebrew"),
    ("cp857", "Turkish"), ("cp858", _WESTERN), ("cp860", "Portuguese"), ("cp861", "Icelandic"),
    ("cp862", "Hebrew"), ("cp863", "Canadian"), ("cp864", "Arabic"), ("cp865", "Danish, Norwegian"),
    ("cp866", "Russian"), ("cp869", "Greek"), ("cp874", "Thai"), ("cp875", "Greek"),
    ("cp932", "Japanese"), ("cp949", "Korean"), ("cp950", "Traditional Chinese"), ("cp1006", "Urdu"),
    ("cp1026", "Turkish"), ("cp1125", "Ukrainian"), ("cp1140", _WESTERN), ("cp1250", _CEE),
    ("cp1251", _CYRILLIC), ("cp1252", _WESTERN), ("cp1253", "Greek"), ("cp1254", "Turkish"),
    ("cp1255", "Hebrew"), ("cp1256", "Arabic"), ("cp1257", _BALTIC), ("cp1258", "Vietnamese"),
    ("euc_jp", "Japanese"), ("euc_jis_2004", "Japanese"), ("euc_jisx0213", "Japanese"),
    ("euc_kr", "Korean"), ("gb2312", "Simplified Chinese"), ("gbk", "Unified Chinese"),
    ("gb18030", "Unified Chinese"), ("hz", "Simplified Chinese"), ("iso2022_jp", "Japanese"),
    ("iso2022_jp_1", "Japanese"), ("iso2022_jp_2", "Japanese, Korean, Simplified Chinese, Western Europe, Greek"),
    ("iso2022_jp_2004", "Japanese"), ("iso2022_jp_3", "Japanese"), ("iso2022_jp_ext", "Japanese"),
    ("iso2022_kr", "Korean"), ("latin_1", _WESTERN), ("iso8859_2", _CEE),
    ("iso8859_3", "Esperanto, Maltese"), ("iso8859_4", _BALTIC), ("iso8859_5", _CYRILLIC),
    ("iso8859_6", "Arabic"), ("iso8859_7", "Greek"), ("iso8859_8", "Hebrew"), ("iso8859_9", "Turkish"),
    ("iso8859_10", "Nordic languages"), ("iso8859_11", "Thai"), ("iso8859_13", _BALTIC),
    ("iso8859_14", "Celtic languages"), ("iso8859_15", _WESTERN), ("iso8859_16", "South-Eastern Europe"),
    ("johab", "Korean"), ("koi8_r", "Russian"), ("koi8_t", "Tajik"), ("koi8_u", "Ukrainian"),
    ("kz1048", "Kazakh"), ("mac_cyrillic", _CYRILLIC), ("mac_greek", "Greek"),
    ("mac_iceland", "Icelandic"), ("mac_latin2", _CEE), ("mac_roman", _WESTERN),
    ("mac_turkish", "Turkish"), ("ptcp154", "Kazakh"), ("shift_jis", "Japanese"),
    ("shift_jis_2004", "Japanese"), ("shift_jisx0213", "Japanese"), ("utf_32", _ALL),
    ("utf_32_be", _ALL), ("utf_32_le", _ALL), ("utf_16", _ALL), ("utf_16_be", _ALL),
    ("utf_16_le", _ALL), ("utf_7", _ALL), ("utf_8", _ALL), ("utf_8_sig", _ALL),
)

# Codecs that codecs.lookup() calls text encodings but that are not
# character sets a body is written in.
_NOT_BODY_CHARSETS = frozenset(("unicode_escape", "raw_unicode_escape", "punycode", "idna",
                                "unicode_internal", "undefined", "mbcs", "oem"))


def _build() -> Dict[str, Dict[str, str]]:
    by_codec: Dict[str, list] = {}
    for alias, codec in _python_aliases.items():
        by_codec.setdefault(codec, []).append(alias)
    table: Dict[str, Dict[str, str]] = {}
    for name, language in _CODECS:
        if name in _NOT_BODY_CHARSETS:
            continue
        try:
            info = codecs.lookup(name)
        except LookupError:  # not built into this Python
            continue
        if not getattr(info, "_is_text_encoding", True):
            continue
        entry = {"language": language}
        names = sorted(set(by_codec.get(name, ())) - {name})
        if names:
            entry["alias"] = ", ".join(names)
        table[name] = entry
    return table


charsets: Dict[str, Dict[str, str]] = _build()
