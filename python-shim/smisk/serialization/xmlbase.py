"""The base of the XML serializers: ElementTree documents written once
encoded, read only through defusedxml (no DTD, no entity declarations, no
external references)."""
import logging
import xml.etree.ElementTree as ET
from typing import Any, Dict, Optional, Tuple

from smisk.serialization import Serializer, SerializationError, UnserializationError, data, read_input, serializers

__all__ = ["ET", "XMLSerializer", "XMLSerializationError", "XMLUnserializationError", "serializers", "data",
           "xml_tag", "xml_mktext", "defusedxml", "parse_xml"]

log = logging.getLogger(__name__)

try:
    import defusedxml
    import defusedxml.ElementTree as _defused_ET
except ImportError:  # reading XML needs it; writing does not
    defusedxml = None
    _defused_ET = None
    log.debug("defusedxml is not installed: XML request bodies cannot be read (pip install defusedxml)")

MISSING_DEFUSEDXML = ("reading XML needs the defusedxml package, which is not installed "
                      "(pip install defusedxml, or install smisk with its dependencies)")

# Element nesting allowed when reading; deeper documents are refused before
# any recursive walk could exhaust the stack.
MAX_DEPTH = 200


class XMLSerializationError(SerializationError):
    pass


class XMLUnserializationError(UnserializationError):
    pass


def xml_tag(elem: ET.Element) -> Tuple[str, Optional[str]]:
    """(local name, namespace or None) of an element."""
    tag = elem.tag
    if isinstance(tag, str) and tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return local, ns
    return tag, None  # type: ignore[return-value]


def xml_mktext(name: str, text: Any, **attrs: str) -> ET.Element:
    """An element `name` with text `text` (str() of it) and attributes."""
    elem = ET.Element(name, {k: str(v) for k, v in attrs.items()})
    elem.text = text if isinstance(text, str) else str(text)
    return elem


def _check_depth(root: ET.Element) -> None:
    # An explicit stack: the check itself must not recurse.
    stack = [(root, 1)]
    while stack:
        elem, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise XMLUnserializationError(f"XML nested more than {MAX_DEPTH} elements deep")
        stack.extend((child, depth + 1) for child in elem)


def parse_xml(raw: bytes) -> ET.Element:
    """The root element of the XML document `raw`, parsed by defusedxml
    with DTDs, entity declarations and external references forbidden;
    XMLUnserializationError for anything else than a plain document."""
    if _defused_ET is None:
        raise XMLUnserializationError(MISSING_DEFUSEDXML)
    try:
        root = _defused_ET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except ET.ParseError as e:
        raise XMLUnserializationError(f"malformed XML: {e}") from None
    except (defusedxml.DefusedXmlException, ValueError) as e:  # type: ignore[union-attr]
        raise XMLUnserializationError(f"refused XML ({type(e).__name__}): {e}") from None
    _check_depth(root)
    return root


class XMLSerializer(Serializer):
    """Base class: subclasses implement build_object(obj) → Element and
    parse_object(elem) → value."""

    xml_declaration = '<?xml version="1.0" encoding="%s"?>\n'
    xml_doctype: Optional[str] = None
    xml_default_ns: Optional[str] = None
    xml_root_name: Optional[str] = None
    xml_root_attrs: Dict[str, str] = {}
    charset = "utf-8"
    unicode_errors = "xmlcharrefreplace"  # any charset can carry any character as a reference
    can_serialize = True
    can_unserialize = defusedxml is not None

    @classmethod
    def build_object(cls, obj: Any) -> ET.Element:
        raise NotImplementedError

    @classmethod
    def parse_object(cls, elem: ET.Element) -> Any:
        raise NotImplementedError

    @classmethod
    def build_document(cls, obj: Any) -> ET.Element:
        """The root element: `xml_root_name` (in `xml_default_ns`, with
        `xml_root_attrs`) holding build_object(obj), or build_object(obj)."""
        if cls.xml_root_name is None:
            return cls.build_object(obj)
        root = ET.Element(cls.xml_root_name, cls.root_attributes())
        root.append(cls.build_object(obj))
        return root

    @classmethod
    def root_attributes(cls) -> Dict[str, str]:
        """`xml_root_attrs`, plus xmlns when `xml_default_ns` is set. The
        elements are built with plain names under that default namespace
        (ElementTree's default_namespace option refuses plain attributes)."""
        attrs = dict(cls.xml_root_attrs)
        if cls.xml_default_ns is not None:
            attrs["xmlns"] = cls.xml_default_ns
        return attrs

    @classmethod
    def parse_document(cls, elem: ET.Element) -> Any:
        if cls.xml_root_name is not None:
            children = list(elem)
            if not children:
                raise XMLUnserializationError(f"empty <{cls.xml_root_name}> document")
            elem = children[0]
        return cls.parse_object(elem)

    @classmethod
    def encode_document(cls, doc: ET.Element, charset: Optional[str]) -> Tuple[str, bytes]:
        """Declaration, doctype and document as text, encoded once."""
        charset = charset or cls.charset or "utf-8"
        try:
            body = ET.tostring(doc, encoding="unicode")
        except (TypeError, ValueError) as e:
            raise XMLSerializationError(f"cannot write XML: {e}") from None
        text = cls.xml_declaration % charset + (cls.xml_doctype or "") + body
        try:
            return charset, text.encode(charset, cls.unicode_errors)
        except LookupError as e:
            raise XMLSerializationError(str(e)) from None

    @classmethod
    def serialize(cls, params: Any, charset: Optional[str]) -> Tuple[Optional[str], bytes]:
        try:
            return cls.encode_document(cls.build_document(params), charset)
        except RecursionError:
            raise XMLSerializationError("data nested too deeply") from None

    @classmethod
    def unserialize(cls, file: Any, length: int = -1, charset: Optional[str] = None) -> Tuple[Any, Any]:
        root = parse_xml(read_input(file, length))
        return cls._result(cls.parse_document(root))
