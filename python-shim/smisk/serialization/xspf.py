"""XSPF 1.0 playlists (namespace http://xspf.org/ns/0/)."""
import datetime
from typing import Any, Dict, List, Optional, Tuple

from smisk import serialization as _context
from smisk.serialization import serializers
from smisk.serialization.xmlbase import ET, XMLSerializationError, XMLSerializer, XMLUnserializationError, xml_tag
from smisk.util.DateTime import DateTime

__all__ = ["XSPFSerializer"]

NS = "http://xspf.org/ns/0/"

# Top-level elements in the order the XSPF specification gives them.
PLAYLIST_ELEMENTS = ("title", "creator", "annotation", "info", "location", "identifier", "image", "date",
                     "license", "attribution", "link", "meta", "extension")
TRACK_TEXT = ("location", "identifier", "title", "creator", "annotation", "info", "image", "album")
TRACK_INT = ("trackNum", "duration")
TRACK_ELEMENTS = TRACK_TEXT[:7] + ("album", "trackNum", "duration", "link", "meta", "extension")


def _text_of(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        return DateTime(value).as_utc().strftime("%Y-%m-%dT%H:%M:%SZ")
    return value if isinstance(value, str) else str(value)


def _add(parent: ET.Element, name: str, value: Any) -> None:
    if value is None:
        return
    if name in ("link", "meta"):
        for item in (value if isinstance(value, (list, tuple)) else [value]):
            if not isinstance(item, dict) or "rel" not in item:
                raise XMLSerializationError(f"XSPF <{name}> needs a dict with 'rel' and 'content'")
            elem = ET.SubElement(parent, name, rel=str(item["rel"]))
            elem.text = _text_of(item.get("content", ""))
    elif name == "extension" and isinstance(value, ET.Element):
        parent.append(value)
    else:
        ET.SubElement(parent, name).text = _text_of(value)


def _ordered(d: Dict[str, Any], order: Tuple[str, ...], skip: Tuple[str, ...] = ()) -> List[str]:
    known = [k for k in order if k in d]
    return known + [k for k in d if k not in order and k not in skip]


class XSPFSerializer(XMLSerializer):
    name = "XSPF"
    extensions = ("xspf",)
    media_types = ("application/xspf+xml",)
    charset = "utf-8"
    xml_default_ns = NS
    xml_root_name = "playlist"
    xml_root_attrs = {"version": "1"}

    @classmethod
    def build_document(cls, obj: Any) -> ET.Element:
        if obj is None:
            obj = {}
        if not isinstance(obj, dict):
            raise XMLSerializationError(f"an XSPF playlist is written from a dict, not {type(obj).__name__}")
        root = ET.Element(cls.xml_root_name, cls.root_attributes())
        for key in _ordered(obj, PLAYLIST_ELEMENTS, skip=("trackList",)):
            _add(root, str(key), obj[key])
        track_list = ET.SubElement(root, "trackList")
        for track in obj.get("trackList") or ():
            if not isinstance(track, dict):
                raise XMLSerializationError(f"XSPF tracks are dicts, not {type(track).__name__}")
            elem = ET.SubElement(track_list, "track")
            for key in _ordered(track, TRACK_ELEMENTS):
                _add(elem, str(key), track[key])
        return root

    @classmethod
    def parse_document(cls, elem: ET.Element) -> Any:
        local, ns = xml_tag(elem)
        if local != "playlist" or ns != NS:
            raise XMLUnserializationError(f"not an XSPF playlist: root element {elem.tag!r}")
        out: Dict[str, Any] = {}
        for child in elem:
            name, child_ns = xml_tag(child)
            if child_ns != NS:
                continue
            if name == "trackList":
                out["trackList"] = [cls._track(t) for t in child if xml_tag(t) == ("track", NS)]
            elif name == "date":
                try:
                    out["date"] = DateTime.parse_xml_schema_dateTime((child.text or "").strip())
                except ValueError as e:
                    raise XMLUnserializationError(f"bad XSPF <date>: {e}") from None
            elif name in ("link", "meta"):
                cls._collect(out, name, {"rel": child.get("rel", ""), "content": child.text or ""})
            elif name == "extension":
                cls._collect(out, name, child)
            elif name in PLAYLIST_ELEMENTS:
                out[name] = child.text or ""
            # unknown elements are skipped
        return out

    @staticmethod
    def _collect(out: Dict[str, Any], name: str, value: Any) -> None:
        """One value, or a list when the element repeats."""
        if name not in out:
            out[name] = value
        elif isinstance(out[name], list):
            out[name].append(value)
        else:
            out[name] = [out[name], value]

    @classmethod
    def _track(cls, elem: ET.Element) -> Dict[str, Any]:
        track: Dict[str, Any] = {}
        for child in elem:
            name, ns = xml_tag(child)
            if ns != NS:
                continue
            if name in TRACK_TEXT:
                track[name] = child.text or ""
            elif name in TRACK_INT:
                text = (child.text or "").strip()
                if not text.isdigit() or len(text) > 20:
                    raise XMLUnserializationError(f"XSPF <{name}> must be a non-negative integer, not {text[:32]!r}")
                track[name] = int(text)
            elif name in ("link", "meta"):
                cls._collect(track, name, {"rel": child.get("rel", ""), "content": child.text or ""})
            elif name == "extension":
                cls._collect(track, name, child)
        return track

    @classmethod
    def serialize_error(cls, status: Any, params: Any, charset: Optional[str]) -> Tuple[Optional[str], bytes]:
        code = getattr(status, "code", None) or params.get("code", 500)
        identifier = f"smisk:error:{code}"
        request = _context.current_request()
        if request is not None:
            identifier = f"{request.url}#error:{code}"
        playlist = {"title": params.get("name") or str(status), "annotation": params.get("description", ""),
                    "identifier": identifier}
        return cls.serialize(playlist, charset)


serializers.register(XSPFSerializer)
