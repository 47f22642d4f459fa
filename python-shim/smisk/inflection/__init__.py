"""Inflection: plural and singular forms, and conversions between class,
table and human-readable names.

`smisk.inflection.inflection` is the English Inflector; `inflections` maps
locale names ('en', 'sv', ...) to the registered ones. Swedish rules are in
`smisk.inflection.sv` (imported on demand)."""
from smisk.inflection.inflector import Inflector, inflections
from smisk.inflection.en import inflection

__all__ = ["Inflector", "inflections", "inflection"]
