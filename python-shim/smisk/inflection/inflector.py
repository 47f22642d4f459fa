"""The Inflector: rule-based plural/singular forms and name conversions."""
import re
from typing import Dict, List, Pattern, Tuple, Union

__all__ = ["Inflector", "inflections"]

Rule = Tuple[Pattern[str], str]

inflections: Dict[str, "Inflector"] = {}
"""locale name → the Inflector registered for it."""


def _compile(rule: Union[str, Pattern[str]]) -> Pattern[str]:
    return rule if isinstance(rule, re.Pattern) else re.compile(rule, re.IGNORECASE)


class Inflector:
    """A set of inflection rules for one language. Rules added later are
    tried first, so a general rule is added before its exceptions."""

    def __init__(self, *locales: str) -> None:
        self.locales = locales
        self.plurals: List[Rule] = []
        self.singulars: List[Rule] = []
        self.uncountables: List[str] = []
        for locale in locales:
            inflections[locale] = self

    # --- rules -------------------------------------------------------------

    def plural(self, rule: Union[str, Pattern[str]], replacement: str) -> None:
        """Adds a plural rule (a regular expression, case-insensitive when
        given as text, and its re.sub replacement), tried before the
        existing ones."""
        self.plurals.insert(0, (_compile(rule), replacement))

    def singular(self, rule: Union[str, Pattern[str]], replacement: str) -> None:
        """Adds a singular rule, tried before the existing ones."""
        self.singulars.insert(0, (_compile(rule), replacement))

    def regular(self, plural_find: str, plural_replace: str, singular_find: str,
                singular_replace: str = "") -> None:
        """Adds a plural and a singular rule at once."""
        self.plural(plural_find, plural_replace)
        self.singular(singular_find, singular_replace)

    def irregular(self, singular: str, plural: str, first_letter_is_the_same: bool = True) -> None:
        """Adds a word-final rule each way for an irregular pair
        ('person', 'people'), keeping the case of the first letter; when the
        first letters differ, a capitalized variant is added too."""
        if first_letter_is_the_same and singular[:1].lower() == plural[:1].lower():
            self.plural(r"(%s)%s$" % (re.escape(singular[0]), re.escape(singular[1:])),
                        r"\g<1>" + plural[1:].replace("\\", r"\\"))
            self.singular(r"(%s)%s$" % (re.escape(plural[0]), re.escape(plural[1:])),
                          r"\g<1>" + singular[1:].replace("\\", r"\\"))
            return
        for s, p in ((singular.lower(), plural.lower()), (singular.capitalize(), plural.capitalize())):
            self.plural(re.compile(re.escape(s) + "$"), p.replace("\\", r"\\"))
            self.singular(re.compile(re.escape(p) + "$"), s.replace("\\", r"\\"))

    def uncountable(self, *words: str) -> None:
        """Words that are the same in singular and plural."""
        self.uncountables.extend(word.lower() for word in words)

    def clear(self) -> None:
        """Removes every rule and uncountable word."""
        self.plurals = []
        self.singulars = []
        self.uncountables = []

    def _apply(self, word: str, rules: List[Rule]) -> str:
        if not word or word.lower() in self.uncountables:
            return word
        for pattern, replacement in rules:
            result, count = pattern.subn(replacement, word, count=1)
            if count:
                return result
        return word

    def pluralize(self, word: str) -> str:
        """'knife' → 'knives'; unchanged when uncountable or no rule applies."""
        return self._apply(word, self.plurals)

    def singularize(self, word: str) -> str:
        """'people' → 'person'; unchanged when uncountable or no rule applies."""
        return self._apply(word, self.singulars)

    # --- names -------------------------------------------------------------

    def camelize(self, word: str, first_letter_uppercase: bool = True) -> str:
        """'active_record/errors' → 'ActiveRecord.Errors'; with
        first_letter_uppercase=False → 'activeRecord.Errors'."""
        text = re.sub(r"/(.?)", lambda m: "." + m.group(1).upper(), word)
        text = re.sub(r"(?:^|_)(.)", lambda m: m.group(1).upper(), text)
        if not first_letter_uppercase:
            text = text[:1].lower() + text[1:]
        return text

    def underscore(self, word: str) -> str:
        """'OrderItemsController' → 'order_items_controller',
        'ShopCart.LineItem' → 'shop_cart/line_item'."""
        text = word.replace(".", "/")
        text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
        text = re.sub(r"([a-z\d])([A-Z])", r"\1_\2", text)
        return text.replace("-", "_").lower()

    def humanize(self, word: str) -> str:
        """'customer_id' → 'Customer', 'unit_price' → 'Unit price'."""
        text = re.sub(r"_id$", "", word).replace("_", " ")
        return text.capitalize()

    def demodulize(self, name: str) -> str:
        """'smisk.mvc.Controller' → 'Controller'."""
        return name.rpartition(".")[2]

    def tableize(self, class_name: str) -> str:
        """'OrderLine' → 'order_lines'."""
        return self.pluralize(self.underscore(class_name))

    def classify(self, table_name: str) -> str:
        """'order_lines' → 'OrderLine'."""
        return self.camelize(self.singularize(self.demodulize(table_name)))

    def foreignKey(self, class_name: str, separate_class_name_and_id_with_underscore: bool = True) -> str:
        """'shop.OrderLine' → 'order_line_id' (or 'order_lineid')."""
        suffix = "_id" if separate_class_name_and_id_with_underscore else "id"
        return self.underscore(self.demodulize(class_name)) + suffix

    def ordinalize(self, number: Union[int, str]) -> str:
        """1 → '1st', 2 → '2nd', 112 → '112th', 2003 → '2003rd'."""
        n = int(number)
        if 11 <= abs(n) % 100 <= 13:
            return f"{n}th"
        return f"{n}" + {1: "st", 2: "nd", 3: "rd"}.get(abs(n) % 10, "th")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {', '.join(self.locales)}>"
