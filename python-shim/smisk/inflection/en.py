"""English inflection rules (the classic Rails 2 set): `inflection`."""
from smisk.inflection.inflector import Inflector

__all__ = ["inflection"]

inflection = Inflector("en", "en_EN", "eng")

# General rules first: later rules are tried before earlier ones.
inflection.plural(r"$", "s")
inflection.plural(r"s$", "s")
inflection.plural(r"(ax|test)is$", r"\1es")
inflection.plural(r"(octop|vir)us$", r"\1i")
inflection.plural(r"(alias|status)$", r"\1es")
inflection.plural(r"(bu)s$", r"\1ses")
inflection.plural(r"(buffal|tomat)o$", r"\1oes")
inflection.plural(r"([ti])um$", r"\1a")
inflection.plural(r"sis$", "ses")
inflection.plural(r"(?:([^f])fe|([lr])f)$", r"\1\2ves")
inflection.plural(r"(hive)$", r"\1s")
inflection.plural(r"([^aeiouy]|qu)y$", r"\1ies")
inflection.plural(r"(x|ch|ss|sh)$", r"\1es")
inflection.plural(r"(matr|vert|ind)(?:ix|ex)$", r"\1ices")
inflection.plural(r"([ml])ouse$", r"\1ice")
inflection.plural(r"^(ox)$", r"\1en")
inflection.plural(r"(quiz)$", r"\1zes")

inflection.singular(r"s$", "")
inflection.singular(r"(n)ews$", r"\1ews")
inflection.singular(r"([ti])a$", r"\1um")
inflection.singular(r"((a)naly|(b)a|(d)iagno|(p)arenthe|(p)rogno|(s)ynop|(t)he)ses$", r"\1sis")
inflection.singular(r"(^analy)ses$", r"\1sis")
inflection.singular(r"([^f])ves$", r"\1fe")
inflection.singular(r"(hive)s$", r"\1")
inflection.singular(r"(tive)s$", r"\1")
inflection.singular(r"([lr])ves$", r"\1f")
inflection.singular(r"([^aeiouy]|qu)ies$", r"\1y")
inflection.singular(r"(s)eries$", r"\1eries")
inflection.singular(r"(m)ovies$", r"\1ovie")
inflection.singular(r"(x|ch|ss|sh)es$", r"\1")
inflection.singular(r"([ml])ice$", r"\1ouse")
inflection.singular(r"(bus)es$", r"\1")
inflection.singular(r"(o)es$", r"\1")
inflection.singular(r"(shoe)s$", r"\1")
inflection.singular(r"(cris|ax|test)es$", r"\1is")
inflection.singular(r"(octop|vir)i$", r"\1us")
inflection.singular(r"(alias|status)es$", r"\1")
inflection.singular(r"^(ox)en", r"\1")
inflection.singular(r"(vert|ind)ices$", r"\1ex")
inflection.singular(r"(matr)ices$", r"\1ix")
inflection.singular(r"(quiz)zes$", r"\1")

inflection.irregular("person", "people")
inflection.irregular("man", "men")
inflection.irregular("child", "children")
inflection.irregular("sex", "sexes")
inflection.irregular("move", "moves")

inflection.uncountable("equipment", "information", "rice", "money", "species", "series", "fish",
                       "sheep", "commotion")
