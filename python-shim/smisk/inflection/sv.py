"""Swedish inflection rules: `SVInflector`, `inflection`.

Swedish plurals follow the noun's declension, which the spelling does not
always show; these rules cover the regular patterns (-ar, -or, -er, -n,
unchanged) and the common irregular nouns, not every word."""
from typing import Union

from smisk.inflection.inflector import Inflector

__all__ = ["SVInflector", "inflection"]


class SVInflector(Inflector):
    def ordinalize(self, number: Union[int, str]) -> str:
        """1 → '1:a', 2 → '2:a', 3 → '3:e', 11 → '11:e', 21 → '21:a'
        (':a' after a last digit 1 or 2, except in 11 and 12)."""
        n = int(number)
        if abs(n) % 10 in (1, 2) and abs(n) % 100 not in (11, 12):
            return f"{n}:a"
        return f"{n}:e"


inflection = SVInflector("sv", "sv_SV")

# Second declension, the most common: bil → bilar, hund → hundar.
inflection.regular(r"$", "ar", r"ar$", "")
# Third declension, by ending: katt → katter, nation → nationer, student → studenter.
inflection.regular(r"(tt|ion|het|ent|ant|ist|ör)$", r"\1er", r"(tt|ion|het|ent|ant|ist|ör)er$", r"\1")
# First declension: kvinna → kvinnor, flicka → flickor.
inflection.regular(r"a$", "or", r"or$", "a")
# Fourth declension (neuter, vowel ending): vittne → vittnen, äpple → äpplen.
inflection.regular(r"e$", "en", r"([^e])en$", r"\1e")
# Fifth declension, agent nouns and participles: lärare → lärare, studerande → studerande.
inflection.regular(r"(are|ande|ende)$", r"\1", r"(are|ande|ende)$", r"\1")

inflection.irregular("ros", "rosor")
inflection.irregular("mus", "möss")
inflection.irregular("hand", "händer")
inflection.irregular("tand", "tänder")
inflection.irregular("land", "länder")
inflection.irregular("stad", "städer")
inflection.irregular("bok", "böcker")
inflection.irregular("fot", "fötter")
inflection.irregular("gås", "gäss")
inflection.irregular("man", "män")

# Neuter nouns ending in a consonant keep their form: ett hus, två hus.
inflection.uncountable("hus", "barn", "år", "får", "djur", "namn", "ljus", "ben", "folk", "glas", "lejon")
