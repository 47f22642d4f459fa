"""Symbols, and the Python 2 `types` names legacy code star-imports from here."""
import collections.abc
import re
import types

__all__ = [
    "Symbol", "Undefined", "None2", "RegexType", "MutableMapping",
    "StringType", "UnicodeType", "StringTypes", "BooleanType", "IntType", "LongType", "FloatType",
    "ListType", "TupleType", "DictType", "NoneType", "FunctionType", "MethodType", "LambdaType",
    "BuiltinFunctionType", "ClassType", "TypeType", "ModuleType", "GeneratorType",
]


class Symbol:
    """A named marker object whose repr is its name (e.g. `Undefined`)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


Undefined = Symbol("Undefined")
"""Stands for "no value given" where None is a valid value."""

None2 = (None, None)

RegexType = re.Pattern
MutableMapping = collections.abc.MutableMapping

# Python 2 `types` module names, mapped to their Python 3 meaning.
StringType = str
UnicodeType = str
StringTypes = (str, bytes)
BooleanType = bool
IntType = int
LongType = int
FloatType = float
ListType = list
TupleType = tuple
DictType = dict
NoneType = type(None)
FunctionType = types.FunctionType
MethodType = types.MethodType
LambdaType = types.LambdaType
BuiltinFunctionType = types.BuiltinFunctionType
ClassType = type
TypeType = type
ModuleType = types.ModuleType
GeneratorType = types.GeneratorType
