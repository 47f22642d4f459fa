"""Generic XML: any data as typed elements.

    <dict><string k="name">Ada</string><int k="age">36</int>
      <array k="tags"><string>x</string><true/></array></dict>

Element names are the value types: string, int, real, true, false, null,
date (UTC, YYYY-MM-DDTHH:MM:SSZ), data (base64), dict, array. Members of a
dict carry their key in the attribute `k`; items of an array carry none.
Entities (objects with to_dict()) are written as dicts."""
import datetime
import math
from typing import Any

from smisk.serialization import data, serializers
from smisk.serialization.jsonlike import NOT_AN_ENTITY, entity_dict
from smisk.serialization.xmlbase import ET, XMLSerializationError, XMLSerializer, XMLUnserializationError
from smisk.util.DateTime import DateTime

__all__ = ["GenericXMLSerializer", "GenericXMLUnserializationError"]


class GenericXMLUnserializationError(XMLUnserializationError):
    pass


def _build(value: Any, key: Any = None, depth: int = 0) -> ET.Element:
    if depth > 500:
        raise XMLSerializationError("data nested more than 500 levels deep")
    attrs = {} if key is None else {"k": str(key)}
    if value is None:
        return ET.Element("null", attrs)
    if value is True:
        return ET.Element("true", attrs)
    if value is False:
        return ET.Element("false", attrs)
    if isinstance(value, int):
        elem = ET.Element("int", attrs)
        elem.text = str(value)
        return elem
    if isinstance(value, float):
        elem = ET.Element("real", attrs)
        elem.text = repr(value)
        return elem
    if isinstance(value, str):
        elem = ET.Element("string", attrs)
        elem.text = value
        return elem
    if isinstance(value, (bytes, bytearray, data)):
        elem = ET.Element("data", attrs)
        elem.text = data(bytes(value)).encode()
        return elem
    if isinstance(value, datetime.datetime):
        elem = ET.Element("date", attrs)
        elem.text = DateTime(value).as_utc().strftime("%Y-%m-%dT%H:%M:%SZ")
        return elem
    if isinstance(value, dict):
        elem = ET.Element("dict", attrs)
        for k, v in value.items():
            elem.append(_build(v, k, depth + 1))
        return elem
    if isinstance(value, (list, tuple, set, frozenset)):
        elem = ET.Element("array", attrs)
        for v in value:
            elem.append(_build(v, None, depth + 1))
        return elem
    entity = entity_dict(value)
    if entity is not NOT_AN_ENTITY:
        return _build(entity, key, depth + 1)
    raise XMLSerializationError(f"cannot write a {type(value).__name__} as generic XML")


def _text(elem: ET.Element) -> str:
    return elem.text or ""  # an empty <string/> is ''


def _parse(elem: ET.Element) -> Any:
    tag = elem.tag
    try:
        if tag == "string":
            return _text(elem)
        if tag == "int":
            text = _text(elem).strip()
            if len(text) > 4300:
                raise ValueError("integer of more than 4300 digits")
            return int(text)
        if tag == "real":
            value = float(_text(elem))
            if math.isnan(value):
                raise ValueError("NaN")
            return value
        if tag == "true":
            return True
        if tag == "false":
            return False
        if tag == "null":
            return None
        if tag == "date":
            return DateTime.parse_xml_schema_dateTime(_text(elem).strip())
        if tag == "data":
            return data.decode(_text(elem))
    except ValueError as e:
        raise GenericXMLUnserializationError(f"bad <{tag}> value: {e}") from None
    if tag == "dict":
        out = {}
        for child in elem:
            key = child.get("k")
            if key is None:
                raise GenericXMLUnserializationError(f"<{child.tag}> in a <dict> has no k attribute")
            out[key] = _parse(child)
        return out
    if tag == "array":
        return [_parse(child) for child in elem]
    raise GenericXMLUnserializationError(f"unknown element <{tag}>")


class GenericXMLSerializer(XMLSerializer):
    name = "Generic XML"
    extensions = ("xml",)
    media_types = ("text/xml",)
    charset = "utf-8"

    @classmethod
    def build_object(cls, obj: Any) -> ET.Element:
        return _build({} if obj is None else obj)

    @classmethod
    def parse_object(cls, elem: ET.Element) -> Any:
        return _parse(elem)


serializers.register(GenericXMLSerializer)
